"""The goal table of issue 22 ("Performance near the limit"): reads the figures the parts of
bench/harness.py recorded in `args.figs` and says, per goal, the figure, the target and whether
it is met. A goal whose part did not run is "not measured", never met.
"""

import os
import subprocess


def stripped_size(binary, work):
    """(MB as built, MB after `strip`) of the release binary."""
    out = os.path.join(work, "logwarden.stripped")
    subprocess.run(["strip", "-o", out, binary], check=True)
    return os.path.getsize(binary) / 1e6, os.path.getsize(out) / 1e6


def verdict(ok):
    return "MET" if ok else "NOT MET"


def goal_rows(args):
    """[(goal, figure, target, verdict)]."""
    f = args.figs
    rows = []
    m = f.get("match_ratio")
    pm = f.get("peer_ratio", {}).get("`logwarden test-patterns`")
    if m is None and pm is None:
        rows.append(("1. per-pattern counts vs `grep -c -E -f` any-match", "not measured", "<= 1.0x on both corpora", "NOT MET"))
    else:
        fig = f"{m:.2f}x bench corpus" if m is not None else "bench corpus not measured"
        fig += f", {pm:.2f}x peer corpus" if pm is not None else ", peer corpus not measured"
        ok = m is not None and pm is not None and m <= 1.0 and pm <= 1.0
        rows.append(("1. per-pattern counts vs `grep -c -E -f` any-match", fig, "<= 1.0x on both corpora", verdict(ok)))
    fr = f.get("follow_ratio")
    rows.append(("2. following vs `test-patterns`, same bytes", f"{fr:.2f}x" if fr is not None else "not measured",
                 "<= 1.25x", verdict(fr is not None and fr <= 1.25)))
    wk, rss = f.get("idle_wakeups"), f.get("idle_rss")
    rows.append(("3a. idle wake-ups, 10 files (context switches/s, all threads)",
                 f"{wk:.1f}/s" if wk is not None else "not measured", "<= 1/s", verdict(wk is not None and wk <= 1.0)))
    rows.append(("3b. idle VmRSS, 10 files", f"{rss:.1f} MB" if rss is not None else "not measured", "<= 8 MB",
                 verdict(rss is not None and rss <= 8.0)))
    built, stripped = stripped_size(args.bin, args.work)
    rows.append(("3c. stripped binary (x86_64; arm64 not built here)", f"{stripped:.1f} MB ({built:.1f} MB as built)",
                 "<= 6 MB", verdict(stripped <= 6.0)))
    lat = f.get("latency")
    rows.append(("4. latency append -> webhook p50 / p99",
                 f"{lat[0]:.2f} / {lat[1]:.2f} ms" if lat else "not measured", "<= 0.5 / <= 2 ms",
                 verdict(bool(lat) and lat[0] <= 0.5 and lat[1] <= 2.0)))
    if "peers_missing" not in f:
        rows.append(("5. peers in the same table", "not measured", "every peer timed, counts checked, follow + RSS", "NOT MET"))
    else:
        miss = f["peers_missing"]
        dis = f.get("peers_disagree", {})
        fig = (f"{len(f.get('peer_ratio', {}))} rows timed; per-pattern counts differ: "
               + (", ".join(sorted(dis)) if dis else "none") + "; missing: " + ("; ".join(miss) if miss else "nothing"))
        rows.append(("5. peers in the same table", fig, "every peer timed, counts checked, follow + RSS", verdict(not miss)))
    return rows


def goal_markdown(args):
    rows = goal_rows(args)
    md = ["| goal (issue 22) | figure (this run) | target | |", "|---|---|---|---|"]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    return rows, "\n".join(md) + "\n"
