#!/usr/bin/env python3
"""The benchmark of `value` and `ratio` rules (issue 19), run by `bench/run.sh` (part
`values`) or alone:

    python3 bench/values.py --bin target/release/logwarden --work DIR [--out results.md]

1. A 1,000,000-line nginx access log (`gen_access.py`) replayed with a p95 `value` rule and a
   5xx `ratio` rule (5-minute windows). At the first firing of each, `awk` (then `sort -n`)
   recomputes the same number from the same lines of the same window: both are printed and
   must agree. Then `awk` computes the p95 and the ratio of the whole file, and the time of
   each is printed beside replay's (which judges sliding windows all along the file).
2. Matching cost of value rules: the bench corpus (`gen_corpus.py`, Python-logging lines)
   with an access line after every 99th line (1 % of lines carry a value), replayed once with
   the access pattern judged by a `rate` rule only and once with a `value` and a `ratio` rule
   on it too. Best of 7 each, run in turn; the second must be within 10 % of the first. The
   same on the access log alone (every line a value) gives the cost of one value line.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

VALUE_RULES = """
  [[watch.rule]]
  name = "slow"
  when = "value"
  pattern = "request"
  field = "request_time"
  aggregate = "p95"
  window = "5m"
  above = 2.0
  resolve_below = 1.0
  min_count = 200

  [[watch.rule]]
  name = "5xx"
  when = "ratio"
  pattern = "server-error"
  over = "request"
  above = 0.01
  resolve_below = 0.005
  window = "5m"
  min_count = 1000
"""

# Fires once early and stays firing: its cost per match is then a push (a rate rule's count
# is linear in its threshold, so a huge one would measure the rate rule instead).
RATE_RULE = """
  [[watch.rule]]
  name = "requests"
  when = "rate"
  pattern = "request"
  threshold = 50
  window = "5m"
"""


def timed(cmd):
    t = time.perf_counter()
    out = subprocess.run(cmd, shell=True, check=True, stdout=subprocess.PIPE).stdout
    return time.perf_counter() - t, out


def best(cmd, n):
    times = []
    out = b""
    for _ in range(n):
        t, out = timed(cmd)
        times.append(t)
    return min(times), out


def best_pair(a, b, n):
    """Best of `n` runs of each of two commands, run in turn (a, b, a, b, ...), so a busy
    moment of the machine falls on both alike."""
    ta, tb = [], []
    for _ in range(n):
        ta.append(timed(a)[0])
        tb.append(timed(b)[0])
    return min(ta), min(tb)


def config(work, name, log, packs, rules):
    path = os.path.join(work, f"{name}.toml")
    with open(path, "w") as f:
        f.write(f"""[daemon]
state_dir = "{work}/state-{name}"
patterns_dir = "{work}/packs"

[[watch]]
name = "web"
files = ["{log}"]
patterns = {json.dumps(packs)}
{rules}""")
    return path


def seconds(ts):
    """Seconds since 2026-11-23 00:00:00 of an alert time `2026-11-23T01:00:46Z`."""
    day = int(ts[8:10]) - 23
    h, m, s = int(ts[11:13]), int(ts[14:16]), int(ts[17:19])
    return day * 86400 + h * 3600 + m * 60 + s


# The window of a judgement at second T: lines of seconds T-299..T-1 when judged as time
# passed (no quoted line), or up to the quoted line (its request id) when a line brought it.
AWK_WINDOW = r"""
function sec(ts,   d, h, m, s) {
    d = substr(ts, 2, 2) - 23; h = substr(ts, 14, 2); m = substr(ts, 17, 2); s = substr(ts, 20, 2)
    return d * 86400 + h * 3600 + m * 60 + s
}
{
    t = sec($4); split($7, p, "/"); id = p[3]
    if (t > T - 300 && (LAST >= 0 ? id <= LAST : t < T)) {
        n++; if ($9 ~ /^5/) e++
        print $NF > VALUES
    }
}
END { printf "%d %d\n", n, e }
"""

# Type-7 quantile of sorted numbers on stdin.
AWK_P95 = r"""
{ x[NR] = $1 }
END { h = (NR - 1) * 0.95; lo = int(h); f = h - lo
      v = x[lo + 1]; if (f > 0) v += f * (x[lo + 2] - x[lo + 1]); printf "%.6f %d\n", v, NR }
"""


def part_replay(args, rows, notes):
    w = args.work
    log = os.path.join(w, "access.log")
    if not os.path.exists(log):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_access.py"), log, "1000000"], check=True)
    cfg = config(w, "values", log, ["access"], VALUE_RULES)
    rcmd = f"{args.bin} --config {cfg} replay --timezone UTC --json {log}"
    t_replay, out = best(rcmd, 3)
    report = json.loads(out)
    lines = report["lines"]
    fired = {r: report["rules"][f"web/{r}"]["firing"] for r in ("slow", "5xx")}
    notes.append(f"replay: {lines} lines in {t_replay:.2f} s ({lines / t_replay / 1e6:.2f} M lines/s), "
                 f"`slow` fired {fired['slow']}x, `5xx` fired {fired['5xx']}x")
    rows.append(("replay, p95 `value` + 5xx `ratio` rules (5m windows, 1M access lines)",
                 f"{t_replay:.2f} s", f"{lines / t_replay / 1e6:.2f} M lines/s", "", ""))
    # The first firing of each, recomputed by awk.
    for rule in ("slow", "5xx"):
        a = next(a for a in report["alerts"] if a["rule"] == rule and a["state"] == "firing")
        t = seconds(a["at"])
        last = -1
        if a.get("line"):
            last = int(a["line"].split('"GET /')[1].split("/")[1].split(" ")[0])
        vals = os.path.join(w, "window-values.txt")
        awk = subprocess.run(["awk", "-v", f"T={t}", "-v", f"LAST={last}", "-v", f"VALUES={vals}",
                              AWK_WINDOW, log], check=True, stdout=subprocess.PIPE, text=True).stdout
        n, e = map(int, awk.split())
        summary = a["summary"]
        if rule == "slow":
            p95, count = subprocess.run(f"sort -n {vals} | awk '{AWK_P95}'", shell=True, check=True,
                                        stdout=subprocess.PIPE, text=True).stdout.split()
            stated = float(summary.split(" is ")[1].split(",")[0])
            ok = abs(stated - float(p95)) <= 1e-6 and f"({count} values)" in summary
            notes.append(f"`slow` at {a['at']}: logwarden p95 {stated} over {count} values, awk+sort {float(p95)}"
                         f" ({'equal' if ok else 'DIFFERENT'})")
        else:
            part, whole = summary.split(": ")[1].split(" matches")[0].split(" of ")
            ok = (int(part), int(whole)) == (e, n)
            notes.append(f"`5xx` at {a['at']}: logwarden {part}/{whole}, awk {e}/{n} ({'equal' if ok else 'DIFFERENT'})")
        if not ok:
            raise SystemExit(f"{rule}: logwarden and awk disagree: {summary} vs awk {awk}")
    # Whole-file p95 and ratio: awk's one pass beside replay's sliding windows.
    t_awk, out = best(f"awk '{{print $NF}}' {log} | sort -n | awk '{AWK_P95}'", 3)
    t_awk_ratio, ratio = best(f"awk '$9 ~ /^5/ {{e++}} END {{printf \"%.5f\", e / NR}}' {log}", 3)
    p95_all = out.decode().split()[0]
    notes.append(f"awk over the whole file: p95 {p95_all} s ({t_awk:.2f} s), 5xx ratio {ratio.decode()} "
                 f"({t_awk_ratio:.2f} s)")
    rows.append(("awk + sort: p95 of the whole file", f"{t_awk:.2f} s", f"{t_replay / t_awk:.2f}x", "", ""))
    rows.append(("awk: 5xx ratio of the whole file", f"{t_awk_ratio:.2f} s", f"{t_replay / t_awk_ratio:.2f}x", "", ""))


def part_one_percent(args, rows, notes):
    w = args.work
    corpus = args.corpus
    if not corpus:
        corpus = os.path.join(w, "corpus.log")
        if not os.path.exists(corpus):
            subprocess.run([sys.executable, os.path.join(HERE, "gen_corpus.py"), corpus, "1000000"], check=True)
    mixed = os.path.join(w, "mixed.log")
    access = os.path.join(w, "access.log")
    if not os.path.exists(access):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_access.py"), access, "1000000"], check=True)
    # An access line after every 99th corpus line: 1 % of the lines carry a value. (The two
    # logs' times interleave; replay clamps the earlier ones: the same in both runs.)
    with open(corpus, "rb") as c, open(access, "rb") as a, open(mixed, "wb") as out:
        for i, line in enumerate(c):
            out.write(line)
            if i % 99 == 98:
                out.write(a.readline())
    packs = ["bench", "access"]
    plain = config(w, "plain", mixed, packs, RATE_RULE)
    valued = config(w, "valued", mixed, packs, RATE_RULE + VALUE_RULES)
    n = sum(1 for _ in open(mixed, "rb"))
    t_plain, t_valued = best_pair(f"{args.bin} --config {plain} replay --timezone UTC {mixed} > /dev/null",
                                  f"{args.bin} --config {valued} replay --timezone UTC {mixed} > /dev/null", 7)
    ratio = t_valued / t_plain
    rows.append(("replay, 1 % value lines, rate rule only", f"{t_plain:.2f} s", f"{n / t_plain / 1e6:.2f} M lines/s", "", ""))
    rows.append(("replay, 1 % value lines, + value and ratio rules", f"{t_valued:.2f} s",
                 f"{n / t_valued / 1e6:.2f} M lines/s", f"{ratio:.3f}x", "within 10 %" if ratio <= 1.10 else "OVER 10 %"))
    if ratio > 1.10:
        notes.append(f"value rules cost {100 * (ratio - 1):.1f} % on the 1 % corpus: more than 10 %")
    # The same on the access log alone, where every line carries a value: the cost per value.
    plain = config(w, "plain-all", access, packs, RATE_RULE)
    valued = config(w, "valued-all", access, packs, RATE_RULE + VALUE_RULES)
    t_plain, t_valued = best_pair(f"{args.bin} --config {plain} replay --timezone UTC {access} > /dev/null",
                                  f"{args.bin} --config {valued} replay --timezone UTC {access} > /dev/null", 3)
    rows.append(("replay, every line a value (access log), rate rule only", f"{t_plain:.2f} s",
                 f"{1e6 / t_plain / 1e6:.2f} M lines/s", "", ""))
    rows.append(("replay, every line a value, + value and ratio rules", f"{t_valued:.2f} s",
                 f"{1e6 / t_valued / 1e6:.2f} M lines/s", f"{t_valued / t_plain:.3f}x",
                 f"{(t_valued - t_plain) / 1e6 * 1e9:.0f} ns per value line"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--corpus", default="")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    os.makedirs(os.path.join(args.work, "packs"), exist_ok=True)
    for src, name in [(os.path.join(HERE, "bench.toml"), "bench.toml"),
                      (os.path.join(REPO, "tests/packs/access.toml"), "access.toml")]:
        with open(src) as f, open(os.path.join(args.work, "packs", name), "w") as g:
            g.write(f.read())
    rows, notes = [], []
    part_replay(args, rows, notes)
    part_one_percent(args, rows, notes)
    text = "| what | time | rate or ratio | vs | |\n|---|---|---|---|---|\n"
    text += "".join(f"| {' | '.join(r)} |\n" for r in rows)
    text += "\n" + "".join(f"- {n}\n" for n in notes)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
