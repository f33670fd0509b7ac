"""The `peers` part of bench/harness.py: logwarden next to grep, rg, Python `re`, swatch, mtail,
SEC and fail2ban-regex on the peer corpus (`gen_corpus.py --peer`) with the 30 patterns of
bench/bench.toml, each tool counting per pattern (grep and rg count any-match: they cannot
count per pattern in one pass).

Each tool's configuration is written at run time from bench.toml into the work directory: an
mtail program with one counter per pattern, a swatch config and a SEC rules file that count
per pattern, a fail2ban filter with one failregex per pattern (fail2ban wants a failure-id
group, so each regex is wrapped in `<F-ID>...</F-ID>`; `--datepattern '{NONE}'` so that lines
without a date, tracebacks, are searched too), and a small Python script. Every per-pattern
count is checked against `LC_ALL=C grep -c -a -E` for that pattern alone.

Time: in alternating pairs with `grep -c -E -f all.txt` (any-match), the ratio of each pair,
median over the pairs. A tool that would take more than PREFIX_ABOVE seconds on the whole
corpus is timed on its first PREFIX_LINES lines, its time scaled by the size ratio and divided
by grep's on the whole corpus (grep on a prefix is mostly start-up), and the table says so.

Follow: each tool follows an empty file; an ERROR line is appended and the tool's reaction is
awaited: mtail's counter over its HTTP /metrics on loopback, swatch's `echo` and SEC's
`write -` on their stdout, and for fail2ban (fail2ban-regex cannot follow) a fail2ban-server
jail whose ban action appends to a file. Idle: VmRSS summed over the tool's processes (swatch
runs a `tail -F` child) and context switches per second, 10 s without writes, after 5 s.
"""

import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
import tomllib
import urllib.request

PREFIX_LINES = 100_000
PREFIX_ABOVE = 90.0  # seconds on the whole corpus, extrapolated from the prefix
FOLLOW_SAMPLES = 100
IDLE_SECONDS = 10

PY_RE = """import json, re, sys
pats = json.load(open(sys.argv[1]))
comp = [(n, re.compile(p.encode())) for n, p in pats]
counts = {n: 0 for n, _ in pats}
with open(sys.argv[2], "rb") as f:
    for line in f:
        for n, r in comp:
            if r.search(line):
                counts[n] += 1
print(json.dumps(counts))
"""


def translate(pack):
    """[(name, ERE for grep, regex for Perl/RE2/Python)]. Literals are escaped; a space becomes
    `\\x20` in the second form (SEC and fail2ban's config parser strip spaces at the ends)."""
    out = []
    for p in pack["pattern"]:
        extra = set(p) - {"name", "case_sensitive", "any", "regex"}
        assert not extra, f"pattern {p['name']}: {extra} not translated for the peers"
        alts = [re.sub(r"([][\\.^$|?*+(){}])", r"\\\1", x) for x in p.get("any", [])] + p.get("regex", [])
        ere = alts[0] if len(alts) == 1 else "|".join(f"({a})" for a in alts)
        other = ere.replace(" ", r"\x20").replace("/", r"\/")
        if not p.get("case_sensitive", False):
            other = "(?i)" + other
        out.append((p["name"], ere, other, not p.get("case_sensitive", False)))
    return out


def write_configs(pats, w):
    """The per-tool files in the work directory; returns their paths."""
    paths = {k: os.path.join(w, n) for k, n in [
        ("mtail", "peers-mtail"), ("swatch", "peers-swatch.conf"), ("sec", "peers-sec.conf"),
        ("f2b", "peers-fail2ban.conf"), ("py", "peers-re.py"), ("pyjson", "peers-re.json")]}
    os.makedirs(paths["mtail"], exist_ok=True)
    with open(os.path.join(paths["mtail"], "peers.mtail"), "w") as f:
        for n, _, _, _ in pats:
            f.write(f"counter {n}\n")
        for n, _, rx, _ in pats:
            f.write(f"/{rx}/ {{\n  {n}++\n}}\n")
    with open(paths["swatch"], "w") as f:
        f.write('perlcode 0 my %lwc; END { print "count $_ $lwc{$_}\\n" for sort keys %lwc; }\n')
        for n, _, rx, _ in pats:
            f.write(f"watchfor /{rx}/\n  perlcode 2 $lwc{{{n}}}++;\n  continue\n")
    with open(paths["sec"], "w") as f:
        for n, _, rx, _ in pats:
            f.write(f"type=Single\nptype=RegExp\npattern={rx}\ncontinue=TakeNext\ndesc={n}\naction=write - {n}\n\n")
    with open(paths["f2b"], "w") as f:
        f.write("[Definition]\nfailregex = " + "\n            ".join(
            f"<F-ID>{rx.replace('%', '%%')}</F-ID>" for _, _, rx, _ in pats) + "\n")
    with open(paths["py"], "w") as f:
        f.write(PY_RE)
    with open(paths["pyjson"], "w") as f:
        json.dump([[n, rx] for n, _, rx, _ in pats], f)
    return paths


def parse_counts(kind, out, names):
    text = out.decode(errors="replace")
    if kind == "json":
        return json.loads(text)
    if kind == "logwarden":
        return {p["pattern"]: p["matched"] for p in json.loads(text)["patterns"]}
    if kind == "mtail":
        return {m[0]: int(float(m[1])) for m in re.findall(r"^(\w+)\{[^}]*\} (\S+)$", text, re.M) if m[0] in names}
    if kind == "swatch":
        return {m[0]: int(m[1]) for m in re.findall(r"^count (\w+) (\d+)$", text, re.M)}
    if kind == "sec":
        c = {}
        for line in text.splitlines():
            if line in names:
                c[line] = c.get(line, 0) + 1
        return c
    if kind == "f2b":
        hits = re.findall(r"^\|\s+(\d+)\) \[(\d+)\] ", text, re.M)
        return {names[int(i) - 1]: int(h) for i, h in hits}
    raise ValueError(kind)


def reference(corpus, pats):
    out = {}
    for n, ere, _, icase in pats:
        r = subprocess.run(["grep", "-c", "-a", "-E"] + (["-i"] if icase else []) + ["-e", ere, corpus],
                           stdout=subprocess.PIPE, env=dict(os.environ, LC_ALL="C"))
        out[n] = int(r.stdout.split()[0])
    return out


def disagreements(counts, ref):
    bad = [f"{n} {counts.get(n, 0)} (grep {c})" for n, c in ref.items() if counts.get(n, 0) != c]
    return bad


def prefix_of(corpus, w):
    p = os.path.join(w, f"peer-prefix-{PREFIX_LINES}.log")
    if not os.path.exists(p):
        subprocess.run(f"head -n {PREFIX_LINES} {corpus} > {p}", shell=True, check=True)
    return p


def pairs(h, cmd, grep, n):
    """n alternating (grep, tool) runs: (median ratio, best tool s, best grep s, last output)."""
    rs, tt, tg, out = [], [], [], b""
    for _ in range(n):
        g, _ = h.timed(grep)
        t, out = h.timed(cmd)
        rs.append(t / g)
        tt.append(t)
        tg.append(g)
    return statistics.median(rs), min(tt), min(tg), out


def part_peers(args, rows, notes, h):
    corpus = args.peer_corpus
    w = args.work
    pack = tomllib.load(open(os.path.join(h.HERE, "bench.toml"), "rb"))
    pats = translate(pack)
    names = [n for n, _, _, _ in pats]
    paths = write_configs(pats, w)
    allf = os.path.join(w, "peers-all.txt")
    with open(allf, "w") as f:
        f.write("\n".join(ere for _, ere, _, _ in pats) + "\n")
    packfile = os.path.join(h.HERE, "bench.toml")
    per_pattern_grep = " ; ".join(
        f"LC_ALL=C grep -c -a -E -e {sh(ere)} {{c}}" for _, ere, _, _ in pats)
    tools = [  # (label, command with {c} for the corpus, how its output is read)
        ("`rg -c -f all.txt` (any-match)", "rg --no-config -c -a -f " + allf + " {c}", "any"),
        ("`logwarden test-patterns`", f"{args.bin} --config {w}/none.toml test-patterns --json {packfile} {{c}}", "logwarden"),
        ("`grep -c -E` once per pattern, 30 runs (the reference counts)", per_pattern_grep, "skip"),
        ("swatch (`swatchdog --examine`)", f"swatchdog --config-file={paths['swatch']} --examine={{c}}", "swatch"),
        ("Python `re` (bytes, per line)", f"python3 {paths['py']} {paths['pyjson']} {{c}}", "json"),
        ("mtail (`--one_shot`)", f"mtail --one_shot --one_shot_format=prometheus --progs {paths['mtail']} --logs {{c}} 2>/dev/null", "mtail"),
        ("fail2ban-regex", f"fail2ban-regex -d '{{NONE}}' --print-no-missed --print-no-ignored {{c}} {paths['f2b']}", "f2b"),
        ("SEC (`sec --notail`)", f"sec --conf={paths['sec']} --input={{c}} --notail --log=/dev/null", "sec"),
    ]
    grep_any = f"LC_ALL=C grep -c -a -E -f {allf} {{c}}"
    subprocess.run(f"cat {corpus} > /dev/null", shell=True, check=True)
    ref_full = reference(corpus, pats)
    any_full = int(h.timed(grep_any.replace("{c}", corpus))[1].split()[0])
    prefix = None
    ref_prefix = any_prefix = None
    table = [("grep -c -E -f all.txt (any-match, the time reference)", "1.0x", "", "reference", "", "")]
    results = {}
    missing = []
    for label, cmd, kind in tools:
        exe = cmd.split()[0]
        if kind not in ("skip", "any", "logwarden") and not shutil.which(exe):
            missing.append(f"{label}: `{exe}` not installed")
            continue
        # a first run on the prefix says whether the whole corpus is affordable
        if prefix is None:
            prefix = prefix_of(corpus, w)
        t_pre, _ = h.timed(cmd.replace("{c}", prefix))
        scale = os.path.getsize(corpus) / os.path.getsize(prefix)
        on_prefix = t_pre * scale > PREFIX_ABOVE
        c = prefix if on_prefix else corpus
        n = 1 if t_pre * scale > 5 else args.rounds
        r, t, g, out = pairs(h, cmd.replace("{c}", c), grep_any.replace("{c}", c), n)
        if on_prefix:  # grep on a prefix is mostly its start-up: compare with grep on the whole
            g, _ = h.timed(grep_any.replace("{c}", corpus))
            r = t * scale / g
        if on_prefix and ref_prefix is None:
            ref_prefix = reference(prefix, pats)
            any_prefix = int(h.timed(grep_any.replace("{c}", prefix))[1].split()[0])
        ref, anyc = (ref_prefix, any_prefix) if on_prefix else (ref_full, any_full)
        if kind == "skip":
            agree = "(reference)"
        elif kind == "any":
            got = int(out.split()[0])
            agree = "yes (any-match)" if got == anyc else f"**no**: {got} lines, grep {anyc}"
        else:
            counts = parse_counts(kind, out, names)
            bad = disagreements(counts, ref)
            agree = "yes, all 30" if not bad else f"**no**, {len(bad)} of 30: " + ", ".join(bad[:4]) + (" ..." if len(bad) > 4 else "")
            results[kind] = bad
            if kind == "mtail" and bad:
                notes.append(mtail_utf8_note(cmd, c, w, pats, names))
        where = (f"first {PREFIX_LINES // 1000}k lines, x{scale:.1f} = {t * scale:.0f} s whole; "
                 "ratio to grep on the whole corpus") if on_prefix else "whole corpus"
        table.append((label, f"{r:.2f}x", f"{t:.2f} s ({where})", f"{g:.3f} s", f"{n}", agree))
        print("   ", " | ".join(table[-1]), file=sys.stderr, flush=True)
        args.figs.setdefault("peer_ratio", {})[label] = r
    if prefix and os.path.exists(prefix):
        os.unlink(prefix)
    follow = follow_peers(args, h, paths)
    lat = args.figs.get("latency")
    md = ["| tool | time vs grep any-match (median of pairs) | tool time | grep time | pairs | per-pattern counts = `grep -c -E` each |",
          "|---|---|---|---|---|---|"]
    md += ["| " + " | ".join(r) + " |" for r in table]
    md += ["", "| tool | follow: append -> reaction, p50 / p99 | reaction | idle VmRSS | idle context switches/s |",
           "|---|---|---|---|---|"]
    lw = follow.get("logwarden", {})
    lw_lat = f"{lat[0]:.2f} / {lat[1]:.2f} ms (latency part, {lat[2]} samples)" if lat else "- (latency part not run)"
    md.append(f"| logwarden `run` | {lw_lat} | webhook POST to a local server | {lw.get('rss', '-')} | {lw.get('cs', '-')} |")
    for k, f in follow.items():
        if k == "logwarden":
            continue
        md.append(f"| {k} | {f['lat']} | {f['how']} | {f['rss']} | {f['cs']} |")
    md.append("| fail2ban-regex | - (cannot follow: fail2ban-server above does) | | - | - |")
    args.peers_md = "\n".join(md) + "\n"
    args.figs["peers_missing"] = missing + [f"{k}: follow not measured" for k, f in follow.items()
                                            if f.get("lat", "").startswith("-")]
    args.figs["peers_disagree"] = {k: v for k, v in results.items() if v}
    notes.append(f"Peers: the peer corpus is `gen_corpus.py --peer` ({os.path.getsize(corpus) / 1e6:.1f} MB, "
                 f"{sum(1 for _ in open(corpus, 'rb'))} lines); any-match lines (grep): {any_full}.")
    if missing:
        notes.append("Peers not measured: " + "; ".join(missing) + ".")
    rows.append(("peers: see the peers table", "", "", "", ""))


def mtail_utf8_note(cmd, c, w, pats, names):
    """mtail again on a copy of what it was timed on without the invalid UTF-8 bytes."""
    clean = os.path.join(w, "peer-utf8.log")
    subprocess.run(f"iconv -c -f utf-8 -t utf-8 {c} > {clean}", shell=True)
    out = subprocess.run(cmd.replace("{c}", clean), shell=True, stdout=subprocess.PIPE).stdout
    bad = disagreements(parse_counts("mtail", out, names), reference(clean, pats))
    os.unlink(clean)
    return ("Peers: mtail's counts stop growing at the corpus' first invalid UTF-8 byte (line 2,000). "
            "On a copy with the invalid bytes removed (`iconv -c`) its counts "
            + ("agree with grep on all 30 patterns." if not bad else "still differ: " + ", ".join(bad[:6])))


def sh(s):
    return "'" + s.replace("'", "'\\''") + "'"


def tree_pids(root):
    """root and every process of its session (swatch's `tail -F` child)."""
    out = [root]
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != root:
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[3]) == root:  # session id
                    out.append(int(p))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return out


def idle_figures(h, pid):
    time.sleep(3)  # settle
    pids = tree_pids(pid)
    before = sum(h.proc_cost(p)[1] for p in pids)
    time.sleep(IDLE_SECONDS)
    after = sum(h.proc_cost(p)[1] for p in pids)
    rss = sum(h.proc_status(p, "VmRSS") for p in pids)
    who = f" ({len(pids)} processes)" if len(pids) > 1 else ""
    return h.mb(rss) + who, f"{(after - before) / IDLE_SECONDS:.1f}/s"


def follow_peers(args, h, paths):
    """Per peer: p50/p99 of append -> reaction, idle VmRSS and context switches."""
    w = args.work
    res = {}
    # logwarden's idle figures with one followed file (its latency comes from the latency part)
    log = os.path.join(w, "peer-follow-logwarden.log")
    open(log, "w").close()
    d = h.Daemon(args, w, "peer-idle", [log], "")
    try:
        rss, cs = idle_figures(h, d.proc.pid)
        res["logwarden"] = {"rss": rss, "cs": cs}
    finally:
        d.stop()
    rx = r"\x20ERROR\x20"
    port = h.free_port()
    mdir = os.path.join(w, "peer-follow-mtail")
    os.makedirs(mdir, exist_ok=True)
    with open(os.path.join(mdir, "f.mtail"), "w") as f:
        f.write(f"counter l01\n/{rx}/ {{\n  l01++\n}}\n")
    sw = os.path.join(w, "peer-follow-swatch.conf")
    with open(sw, "w") as f:
        f.write(f"watchfor /{rx}/\n  echo\n")
    sec = os.path.join(w, "peer-follow-sec.conf")
    with open(sec, "w") as f:
        f.write(f"type=Single\nptype=RegExp\npattern={rx}\ndesc=l01\naction=write - $0\n")
    f2b = fail2ban_conf(w)
    setups = [
        ("mtail", "mtail", lambda f: ["mtail", "--progs", mdir, "--logs", f, "--address", "127.0.0.1", "--port", str(port),
                                      "--logtostderr"], "counter `l01` on its /metrics (defaults: 250 ms file poll)"),
        ("swatch", "swatchdog", lambda f: ["swatchdog", f"--config-file={sw}", f"--tail-file={f}"], "`echo` on its stdout"),
        ("SEC", "sec", lambda f: ["sec", f"--conf={sec}", f"--input={f}", "--log=/dev/null"], "`write -` on its stdout"),
        ("fail2ban-server", "fail2ban-server", lambda f: fail2ban_argv(f2b, f),
         "a ban (one per line: the failure id is `sample N`) whose action appends to a file"),
    ]
    for name, exe, argv, how in setups:
        if not shutil.which(exe):
            res[name] = {"lat": "- (not installed)", "how": how, "rss": "-", "cs": "-"}
            continue
        log = os.path.join(w, f"peer-follow-{exe}.log")
        open(log, "w").close()
        p = h.spawn(argv(log), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                    start_new_session=True)
        try:
            time.sleep(2)  # started, file opened
            rss, cs = idle_figures(h, p.pid)
            lat = sample_latency(name, p, log, port, os.path.join(f2b, "bans"))
            res[name] = {"lat": lat, "how": how, "rss": rss, "cs": cs}
            print(f"    {name}: follow {lat}, idle {rss}, {cs}", file=sys.stderr, flush=True)
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    return res


def mtail_count(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            m = re.search(r"^l01\{[^}]*\} (\S+)$", r.read().decode(), re.M)
            return int(float(m.group(1))) if m else 0
    except OSError:
        return -1


def fail2ban_conf(w):
    """A fail2ban-server config directory: one jail on the followed file, a failregex whose
    failure id is the sample number (so every line is a new ban), a ban action appending the
    id to DIR/bans; socket, pid file and log in DIR, database in memory."""
    d = os.path.join(w, "peer-follow-fail2ban")
    for sub in ("filter.d", "action.d"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    with open(os.path.join(d, "fail2ban.conf"), "w") as f:
        f.write(f"[Definition]\nloglevel = WARNING\nlogtarget = {d}/f2b.log\nsocket = {d}/f2b.sock\n"
                f"pidfile = {d}/f2b.pid\ndbfile = :memory:\n")
    with open(os.path.join(d, "filter.d", "bench.conf"), "w") as f:
        f.write("[Definition]\nfailregex = \\x20ERROR\\x20.*<F-ID>sample -?\\d+ end</F-ID>\ndatepattern = {NONE}\n")
    with open(os.path.join(d, "action.d", "bench.conf"), "w") as f:
        f.write(f"[Definition]\nactionstart =\nactionstop =\nactioncheck =\n"
                f"actionban = printf '%%s\\n' '<fid>' >> {d}/bans\nactionunban =\n")
    return d


def fail2ban_argv(d, log):
    with open(os.path.join(d, "jail.conf"), "w") as f:
        f.write(f"[bench]\nenabled = true\nfilter = bench\naction = bench\nlogpath = {log}\n"
                "backend = auto\nmaxretry = 1\nfindtime = 600\nbantime = 3600\n")
    open(os.path.join(d, "bans"), "w").close()
    return ["fail2ban-server", "-f", "-x", "-c", d]


def file_until(path, token, deadline):
    """Polls `path` (every 0.5 ms, until the deadline) for `token`."""
    while time.perf_counter() < deadline:
        with open(path, "rb") as f:
            if token in f.read():
                return True
        time.sleep(0.0005)
    return False


def sample_latency(name, p, log, port, bans):
    """FOLLOW_SAMPLES appends of an ERROR line, each awaited (5 s at most); "p50 / p99 ms"."""
    lat = []
    buf = [b""]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        for i in range(-5, FOLLOW_SAMPLES):  # 5 warm-up samples
            line = f"2026-11-23 09:41:43,001 - bot.broker - ERROR - order failed sample {i} end\n".encode()
            t = time.perf_counter()
            os.write(fd, line)
            deadline = t + 5
            ok = False
            if name == "mtail":
                want = i + 6
                while time.perf_counter() < deadline:
                    if mtail_count(port) >= want:
                        ok = True
                        break
                    time.sleep(0.0005)
            elif name == "fail2ban-server":
                ok = file_until(bans, f"sample {i} end\n".encode(), deadline)
            else:
                ok = read_until(p, f"sample {i} end".encode(), deadline, buf)
            if not ok:
                return f"- (sample {i} not seen within 5 s)"
            if i >= 0:
                lat.append((time.perf_counter() - t) * 1e3)
            time.sleep(0.005)
    finally:
        os.close(fd)
    return f"{h_pct(lat, 50):.2f} / {h_pct(lat, 99):.2f} ms ({len(lat)} samples)"


def read_until(p, token, deadline, buf):
    """Reads p's stdout into buf[0] until `token` is in it (then drops what precedes it and the
    token) or the deadline passes: select with a timeout, so a silent tool cannot hang us."""
    fd = p.stdout.fileno()
    while token not in buf[0]:
        left = deadline - time.perf_counter()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return False
        chunk = os.read(fd, 65536)
        if not chunk:
            return False
        buf[0] += chunk
    buf[0] = buf[0][buf[0].index(token) + len(token):]
    return True


def h_pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
