#!/usr/bin/env python3
"""The measuring half of bench/run.sh: runs each benchmark part against a reference taken in
the same run and prints the results as markdown (bench/README.md's results section).

    python3 bench/harness.py --bin target/release/logwarden --work DIR --corpus FILE \
        [--parts matching,follow,latency,idle,burst,peers] [--out results.md] \
        [--peer-corpus FILE]

`peers` (bench/peers.py) times the peer tools on the peer corpus; at the end, the goal table
of issue 22 (bench/goals.py) says per goal its figure and whether it is met.

Every process it starts is killed in a `finally`, also when a part fails. Only loopback
addresses are used. Each part returns rows (what, figure, reference, ratio, target).
"""

import argparse
import http.server
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CHILDREN = []  # every Popen started, killed at exit


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    CHILDREN.append(p)
    return p


def kill_all():
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            p.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd, **kw):
    """Wall seconds of one run of `cmd` (shell string), and its stdout."""
    t = time.perf_counter()
    out = subprocess.run(cmd, shell=True, check=True, stdout=subprocess.PIPE, **kw).stdout
    return time.perf_counter() - t, out


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM) in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def proc_cost(pid):
    """(CPU seconds from schedstat over every thread, context switches, wake-ups counted as
    timeslices) of a process so far."""
    cpu_ns = slices = switches = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run_ns, _wait, n = f.read().split()
            cpu_ns += int(run_ns)
            slices += int(n)
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if "ctxt_switches" in line:
                        switches += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return cpu_ns / 1e9, switches, slices


def wakeups_by_thread(pid):
    """Context switches so far per thread name (threads of one name summed)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                n = sum(int(l.split()[1]) for l in f if "ctxt_switches" in l)
        except FileNotFoundError:
            continue
        c, k = out.get(name, (0, 0))
        out[name] = (c + n, k + 1)
    return out


def stat_cpu(pid):
    """utime+stime of /proc/PID/stat in seconds (clock-tick granularity)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Daemon:
    """`logwarden run` with a generated config; its stderr (JSON log) goes to a file."""

    def __init__(self, args, work, name, files, rules, multiline="none", notify="[]",
                 channels="", extra_watch=""):
        self.port = free_port()
        self.dir = os.path.join(work, name)
        shutil.rmtree(self.dir, ignore_errors=True)  # no state (spool, positions) from a last run
        os.makedirs(os.path.join(self.dir, "patterns"), exist_ok=True)
        shutil.copy(os.path.join(HERE, "bench.toml"), os.path.join(self.dir, "patterns"))
        self.config = os.path.join(self.dir, "logwarden.toml")
        with open(self.config, "w") as f:
            f.write(f"""[daemon]
listen = "127.0.0.1:{self.port}"
state_dir = "{self.dir}/state"
patterns_dir = "{self.dir}/patterns"

{channels}

[[watch]]
name = "bot"
files = {json.dumps(files)}
patterns = ["bench"]
notify = {notify}
{extra_watch}
[watch.multiline]
kind = "{multiline}"

{rules}
""")
        self.log = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.proc = spawn([args.bin, "--log-format", "json", "run", "--config", self.config],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"logwarden exited: see {self.log.name}")
            try:
                if self.lines() is not None:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit(f"logwarden did not serve /metrics: see {self.log.name}")
            time.sleep(0.05)

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def lines(self):
        """Sum of logwarden_lines_read_total, or None before any source reports."""
        found = re.findall(r"^logwarden_lines_read_total\{[^}]*\} (\S+)$", self.metrics(), re.M)
        return sum(int(float(x)) for x in found) if found else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


RATE_RULE = """[[watch.rule]]
name = "error-burst"
when = "rate"
pattern = "l01"
threshold = 10
window = "5m"
"""


def mb(x):
    return f"{x:.1f} MB"


def ratio(a, b, floor):
    """a/b as "N.Nx", or a dash when the reference is below `floor` (a ratio to ~0 says nothing)."""
    return f"{a / b:.1f}x" if b >= floor else "- (reference ~0)"


# ---------------------------------------------------------------- matching throughput


def part_matching(args, rows, notes):
    pack = tomllib.load(open(os.path.join(HERE, "bench.toml"), "rb"))
    lits = [lit for p in pack["pattern"] for lit in p.get("any", [])]
    res = [r for p in pack["pattern"] for r in p.get("regex", [])]
    assert len(lits) == 20 and len(res) == 10, (len(lits), len(res))
    w = args.work
    for name, pats in [("literals.txt", lits), ("regexes.txt", res),
                       ("all.txt", [re.sub(r"([][\\.^$|?*+(){}])", r"\\\1", x) for x in lits] + res)]:
        with open(os.path.join(w, name), "w") as f:
            f.write("\n".join(pats) + "\n")
    c = args.corpus
    packfile = os.path.join(HERE, "bench.toml")
    # replay: the same pack (patterns_dir = bench/, pack "bench") judged by a rate rule and a
    # stale rule on the lines' own times.
    with open(os.path.join(w, "replay.toml"), "w") as f:
        f.write(f"""[daemon]
state_dir = "{w}/replay-state"
patterns_dir = "{HERE}"

[[watch]]
name = "bench"
files = ["{c}"]
patterns = ["bench"]

  [[watch.rule]]
  name = "error-burst"
  when = "rate"
  pattern = "l01"
  threshold = 50
  window = "5m"

  [[watch.rule]]
  name = "stale"
  when = "stale"
  after = "5m"
""")
    cmds = {
        "logwarden": f"{args.bin} --config {w}/none.toml test-patterns {packfile} {c}",
        "replay": f"{args.bin} --config {w}/replay.toml replay --watch bench {c} > /dev/null",
        "grep -F lit": f"LC_ALL=C grep -c -a -F -f {w}/literals.txt {c}",
        "grep -E re": f"LC_ALL=C grep -c -a -E -f {w}/regexes.txt {c}",
        "grep -E all": f"LC_ALL=C grep -c -a -E -f {w}/all.txt {c}",
        "rg all": f"rg --no-config -c -a -f {w}/all.txt {c}",
        "rg -F lit": f"rg --no-config -c -a -F -f {w}/literals.txt {c}",
    }
    subprocess.run(f"cat {c} > /dev/null", shell=True, check=True)  # page cache warm
    best = {k: float("inf") for k in cmds}
    outs = {}
    for _ in range(args.rounds):  # round-robin: each tool sees the same load, back to back
        for k, cmd in cmds.items():
            t, out = timed(cmd)
            best[k] = min(best[k], t)
            outs[k] = out
    report = json.loads(subprocess.run(
        f"{args.bin} --config {w}/none.toml test-patterns --json {packfile} {c}",
        shell=True, check=True, stdout=subprocess.PIPE).stdout)
    lines = report["lines"]
    any_count = report["matched"]
    counts = {k: int(v.split()[-1]) for k, v in outs.items() if k not in ("logwarden", "replay")}
    if counts["grep -E all"] != any_count or counts["rg all"] != any_count:
        notes.append(f"**count mismatch**: logwarden matched {any_count} lines, grep -E {counts['grep -E all']}, rg {counts['rg all']}")
    else:
        notes.append(f"Matching: logwarden, grep -E and rg agree: {any_count} of {lines} lines match a pattern "
                     f"(literals {counts['grep -F lit']}, regexes {counts['grep -E re']}).")
    size = os.path.getsize(c) / 1e6
    lw = best["logwarden"]
    args.figs["match_ratio"] = lw / best["grep -E all"]
    rows.append(("matching: `logwarden test-patterns` (30 per-pattern counts)",
                 f"{lw:.2f} s ({lines / lw / 1e6:.2f} M lines/s, {size / lw:.0f} MB/s)", "", "", ""))
    rp = best["replay"]
    rows.append(("replay: `logwarden replay` (a rate and a stale rule on line times)",
                 f"{rp:.2f} s ({lines / rp / 1e6:.2f} M lines/s)", f"{best['grep -E all']:.2f} s (`grep -c -E -f all.txt`)",
                 f"{rp / best['grep -E all']:.2f}x", ""))
    for k, label in [("grep -E all", "`grep -c -E -f all.txt` (any-pattern)"),
                     ("rg all", "`rg -c -f all.txt` (any-pattern)"),
                     ("grep -F lit", "`grep -c -F -f literals.txt` (20 literals)"),
                     ("grep -E re", "`grep -c -E -f regexes.txt` (10 regexes)"),
                     ("rg -F lit", "`rg -c -F -f literals.txt` (20 literals)")]:
        target = "<= 1.0x" if k == "grep -E all" else ""
        rows.append((f"matching vs {label}", f"{lw:.2f} s", f"{best[k]:.2f} s", f"{lw / best[k]:.2f}x", target))


def part_microbench(args, rows, notes):
    out = subprocess.run(["cargo", "bench", "--locked", "--bench", "matcher"],
                         cwd=os.path.dirname(HERE), check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=dict(os.environ, BENCH_CORPUS=args.corpus)).stdout.decode()
    notes.append("Matcher micro-benchmark (`cargo bench --bench matcher`):\n\n```\n" + out.strip() + "\n```")


# ---------------------------------------------------------------- follow throughput


def wait_lines(d, want, timeout, sample_rss=None):
    """Polls /metrics until `want` lines were read; gives up after `timeout` s, or 20 s without
    progress. Returns (when, lines, peak VmRSS sampled)."""
    deadline = time.time() + timeout
    peak = 0.0
    last, last_change = -1, time.time()
    while True:
        n = d.lines() or 0
        if sample_rss:
            peak = max(peak, proc_status(d.proc.pid, "VmRSS"))
        if n >= want:
            return time.perf_counter(), n, peak
        if n != last:
            last, last_change = n, time.time()
        if time.time() > deadline or time.time() - last_change > 20:
            return None, n, peak
        time.sleep(0.02)


def events_in(corpus):
    """(lines, events): with `multiline = "python"` the lines counter counts events, and every
    corpus line that does not start with a date continues a traceback."""
    def count(cmd):
        return int(subprocess.run(cmd, shell=True, stdout=subprocess.PIPE).stdout.split()[0])
    return count(f"wc -l < {corpus}"), count(f"LC_ALL=C grep -c -a -v '^2026' {corpus}")


def part_follow(args, rows, notes):
    lines, cont = events_in(args.corpus)
    total = lines - cont  # events: what logwarden_lines_read_total counts with multiline
    log = os.path.join(args.work, "follow.log")
    open(log, "w").close()
    d = Daemon(args, args.work, "follow", [log], RATE_RULE, multiline="python")
    try:
        rss0 = proc_status(d.proc.pid, "VmRSS")
        sw0 = wakeups_by_thread(d.proc.pid)
        t0 = time.perf_counter()
        writer = spawn(f"cat {args.corpus} >> {log}", shell=True)
        writer_done = []
        waiter = threading.Thread(target=lambda: (writer.wait(), writer_done.append(time.perf_counter())))
        waiter.start()
        t1, n, _ = wait_lines(d, total, 600)
        waiter.join()
        tw = writer_done[0] - t0
        sw1 = wakeups_by_thread(d.proc.pid)
        hwm = proc_status(d.proc.pid, "VmHWM")
    finally:
        d.stop()
    if t1 is None:
        notes.append(f"**follow: only {n} of {total} events read (stalled or > 600 s)**")
        return
    t_wc, _ = timed(f"wc -l {args.corpus}")
    t_cat, _ = timed(f"cat {args.corpus} > /dev/null")
    t_tp, _ = timed(f"{args.bin} --config {args.work}/none.toml test-patterns {HERE}/bench.toml {args.corpus} > /dev/null")
    el = t1 - t0
    per = [f"`{k}` x{n}: {c - sw0.get(k, (0, 0))[0]}" for k, (c, n) in sorted(sw1.items(), key=lambda x: -x[1][0])
           if c - sw0.get(k, (0, 0))[0] > 0]
    notes.append(f"Follow: context switches while following {lines} lines, by thread: " + ", ".join(per) + ".")
    rows.append(("follow: `run` reads+matches the appended corpus", f"{lines / el / 1e6:.2f} M lines/s ({el:.2f} s)", "", "", ""))
    rows.append(("follow vs the writer (`cat corpus >> file`, same run)", f"{el:.2f} s", f"{tw:.2f} s", f"{el / tw:.1f}x", ""))
    rows.append(("follow vs `wc -l corpus`", f"{el:.2f} s", f"{t_wc:.2f} s", f"{el / t_wc:.1f}x", ""))
    rows.append(("follow vs `cat corpus > /dev/null`", f"{el:.2f} s", f"{t_cat:.2f} s", f"{el / t_cat:.1f}x", ""))
    args.figs["follow_ratio"] = el / t_tp
    rows.append(("follow vs `test-patterns` (same matching, no daemon)", f"{el:.2f} s", f"{t_tp:.2f} s", f"{el / t_tp:.2f}x", "<= 1.25x"))
    rows.append(("follow: peak RSS (VmHWM)", mb(hwm), f"{mb(rss0)} at start", "", "<= 64 MB"))


# ---------------------------------------------------------------- latency


class Hook(http.server.BaseHTTPRequestHandler):
    """Webhook receiver: notes when each `sample N` alert arrives."""

    arrivals = {}
    cond = threading.Condition()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.perf_counter()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with Hook.cond:
            for a in json.loads(body).get("alerts", []):
                m = re.search(r"sample (-?\d+)", a.get("line", ""))
                if m:
                    Hook.arrivals.setdefault(int(m.group(1)), now)
            Hook.cond.notify_all()

    def log_message(self, *a):
        pass


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def part_latency(args, rows, notes):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log = os.path.join(args.work, "latency.log")
    open(log, "w").close()
    rule = """[[watch.rule]]
name = "sample"
when = "match"
pattern = "l01"
cooldown = "0s"
"""
    channels = f"""[channels.hook]
type = "webhook"
url = "http://127.0.0.1:{server.server_address[1]}/x"
group_wait = "0s"
"""
    d = Daemon(args, args.work, "latency", [log], rule, notify='["hook"]', channels=channels)
    lat = []
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        time.sleep(1)
        for i in range(-20, args.samples):  # 20 warm-up samples, not counted
            line = f"2026-11-23 09:41:43,001 - bot.broker - ERROR - order failed sample {i}\n".encode()
            t = time.perf_counter()
            os.write(fd, line)
            with Hook.cond:
                ok = Hook.cond.wait_for(lambda: i in Hook.arrivals, timeout=10)
            if not ok:
                notes.append(f"**latency: sample {i} not received within 10 s**")
                break
            if i >= 0:
                lat.append((Hook.arrivals[i] - t) * 1e3)
            time.sleep(0.005 + (i % 6) * 0.001)  # 5-10 ms apart
    finally:
        os.close(fd)
        d.stop()
        server.shutdown()
    # Reference: `tail -F FILE | grep --line-buffered` seeing the same kind of append.
    ref = []
    rlog = os.path.join(args.work, "latency-ref.log")
    open(rlog, "w").close()
    tail = spawn(f"tail -n 0 -F {rlog} | grep --line-buffered ERROR", shell=True,
                 stdout=subprocess.PIPE, start_new_session=True)
    try:
        time.sleep(1)
        fd = os.open(rlog, os.O_WRONLY | os.O_APPEND)
        for i in range(min(args.samples, 300)):
            t = time.perf_counter()
            os.write(fd, f"2026-11-23 09:41:43,001 - bot.broker - ERROR - sample {i}\n".encode())
            tail.stdout.readline()
            ref.append((time.perf_counter() - t) * 1e3)
            time.sleep(0.005)
        os.close(fd)
    finally:
        os.killpg(tail.pid, signal.SIGKILL)
        tail.wait()
    if lat:
        p50, p99, r50, r99 = pct(lat, 50), pct(lat, 99), pct(ref, 50), pct(ref, 99)
        args.figs["latency"] = (p50, p99, len(lat))
        rows.append((f"latency append -> webhook, p50 ({len(lat)} samples)", f"{p50:.2f} ms",
                     f"{r50:.2f} ms (`tail -F \\| grep`)", f"{p50 / r50:.1f}x", "<= 0.5 ms"))
        rows.append(("latency append -> webhook, p99", f"{p99:.2f} ms", f"{r99:.2f} ms", f"{p99 / r99:.1f}x", "<= 2 ms"))
        rows.append(("latency max / mean", f"{max(lat):.1f} / {statistics.mean(lat):.2f} ms", "", "", ""))


# ---------------------------------------------------------------- idle cost


def part_idle(args, rows, notes):
    files = [os.path.join(args.work, f"idle-{i}.log") for i in range(10)]
    for f in files:
        with open(f, "w") as fh:
            fh.write("2026-11-23 09:41:42,123 - bot.broker - INFO - Update VIX=17.25\n")
    d = Daemon(args, args.work, "idle", files, RATE_RULE + """
[[watch.rule]]
name = "quiet"
when = "stale"
after = "10m"
""")
    tail = spawn(["tail", "-n", "0", "-F"] + files, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)  # settle: start-up work is not idle cost
        pids = {"logwarden": d.proc.pid, "tail -F": tail.pid}
        before = {k: (proc_cost(p), stat_cpu(p)) for k, p in pids.items()}
        by_thread0 = wakeups_by_thread(d.proc.pid)
        time.sleep(args.idle)
        after = {k: (proc_cost(p), stat_cpu(p)) for k, p in pids.items()}
        by_thread1 = wakeups_by_thread(d.proc.pid)
        rss = {k: proc_status(p, "VmRSS") for k, p in pids.items()}
        threads = len(os.listdir(f"/proc/{d.proc.pid}/task"))
        split = {k: proc_status(d.proc.pid, k) for k in ("RssAnon", "RssFile")}
    finally:
        d.stop()
    res = {}
    for k in pids:
        (c0, s0, w0), st0 = before[k]
        (c1, s1, w1), st1 = after[k]
        res[k] = (c1 - c0, (s1 - s0) / args.idle, (w1 - w0) / args.idle, st1 - st0)
    lw, tf = res["logwarden"], res["tail -F"]
    per = []
    for name, (n1, k) in sorted(by_thread1.items(), key=lambda x: -x[1][0]):
        n0 = by_thread0.get(name, (0, 0))[0]
        if n1 > n0:
            per.append(f"`{name}` x{k}: {(n1 - n0) / args.idle:.1f}/s")
    notes.append(f"Idle RSS of logwarden: {mb(split['RssAnon'])} anonymous (heap, stacks), "
                 f"{mb(split['RssFile'])} file-backed (the binary's pages, shared).")
    notes.append("Idle wake-ups (context switches/s) by thread name: " + ", ".join(per) + ".")
    rows.append((f"idle {args.idle} s, 10 files: CPU (schedstat)", f"{lw[0] * 1e3:.1f} ms ({lw[0] / args.idle * 100:.3f} % of a core)",
                 f"{tf[0] * 1e3:.2f} ms (`tail -F` 10 files)", ratio(lw[0], tf[0], 1e-3), "~0"))
    rows.append(("idle: CPU, utime+stime", f"{lw[3]:.2f} s", f"{tf[3]:.2f} s", "", ""))
    args.figs["idle_wakeups"] = lw[1]
    args.figs["idle_rss"] = rss["logwarden"]
    rows.append((f"idle: wake-ups/s (context switches, {threads} threads)", f"{lw[1]:.1f}/s",
                 f"{tf[1]:.1f}/s", ratio(lw[1], tf[1], 0.5), "<= 1/s in total"))
    rows.append(("idle: RSS (VmRSS)", mb(rss["logwarden"]), mb(rss["tail -F"]), f"{rss['logwarden'] / rss['tail -F']:.1f}x", "<= 8 MB"))


# ---------------------------------------------------------------- burst memory


def part_burst(args, rows, notes):
    lines, cont = events_in(args.corpus)
    total = lines - cont
    size = os.path.getsize(args.corpus)
    reps = max(1, -(-args.burst_mb * 1_000_000 // size))
    log = os.path.join(args.work, "burst.log")
    open(log, "w").close()
    d = Daemon(args, args.work, "burst", [log], RATE_RULE, multiline="python")
    try:
        rss0 = proc_status(d.proc.pid, "VmRSS")
        # The whole burst is in the file before logwarden may read any of it: it is stopped
        # (SIGSTOP) while the writer appends, then continued with 1 GB waiting.
        d.proc.send_signal(signal.SIGSTOP)
        tw0 = time.perf_counter()
        subprocess.run(f"for i in $(seq {reps}); do cat {args.corpus}; done >> {log}", shell=True, check=True)
        tw = time.perf_counter() - tw0
        t0 = time.perf_counter()
        d.proc.send_signal(signal.SIGCONT)
        t1, n, peak = wait_lines(d, total * reps, 1200, sample_rss=True)
        hwm = proc_status(d.proc.pid, "VmHWM")
        time.sleep(1)
        n = d.lines()
    finally:
        d.stop()
        os.unlink(log)
    written = total * reps  # events; lines * reps lines
    gb = size * reps / 1e9
    if t1 is None:
        notes.append(f"**burst: only {n} of {written} events read (stalled or > 1200 s)**")
        return
    rows.append((f"burst {gb:.2f} GB ({lines * reps / 1e6:.0f} M lines) appended while stopped: events read",
                 f"{n}", f"{written} written", "none dropped" if n == written else f"**{written - n} missing**", "= written"))
    rows.append(("burst: peak RSS (VmHWM)", mb(hwm), f"{mb(rss0)} at start", f"{hwm / rss0:.1f}x", "<= 64 MB"))
    t_tp, _ = timed(f"{args.bin} --config {args.work}/none.toml test-patterns {HERE}/bench.toml {args.corpus} > /dev/null")
    rows.append(("burst: time to read the 1 GB backlog", f"{t1 - t0:.1f} s ({lines * reps / (t1 - t0) / 1e6:.2f} M lines/s)",
                 f"{t_tp * reps:.1f} s ({reps} x `test-patterns`)", f"{(t1 - t0) / (t_tp * reps):.2f}x", ""))
    notes.append(f"Burst: the writer took {tw:.1f} s to append {gb:.2f} GB while logwarden was stopped.")


def part_peers(args, rows, notes):
    import peers  # bench/peers.py; gets this module so that what it spawns is killed here

    if not args.peer_corpus:
        notes.append("**peers: no --peer-corpus given**")
        return
    peers.part_peers(args, rows, notes, sys.modules[__name__])


PARTS = {"matching": part_matching, "micro": part_microbench, "follow": part_follow,
         "latency": part_latency, "idle": part_idle, "burst": part_burst, "peers": part_peers}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--out")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--idle", type=int, default=60)
    ap.add_argument("--burst-mb", type=int, default=1000)
    ap.add_argument("--peer-corpus")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.figs = {}  # what the goal table reads (bench/goals.py)
    args.peers_md = ""
    rows, notes = [], []
    try:
        for p in args.parts.split(","):
            print(f"== {p}", file=sys.stderr, flush=True)
            start = len(rows)
            try:
                PARTS[p](args, rows, notes)
            except Exception as e:  # one failed part must not lose the others' figures
                notes.append(f"**part {p} failed: {type(e).__name__}: {e}**")
                print(f"    part {p} failed: {e!r}", file=sys.stderr, flush=True)
                kill_all()
            for r in rows[start:]:
                print("   ", " | ".join(r), file=sys.stderr, flush=True)
    finally:
        kill_all()
    import goals  # bench/goals.py

    goal_rows, goal_md = goals.goal_markdown(args)
    print("== goals (issue 22)", file=sys.stderr)
    for g in goal_rows:
        print(f"   goal {g[0]}: {g[1]}, target {g[2]}, {g[3]}", file=sys.stderr)
    md = ["| what | figure | reference (same run) | ratio | target |", "|---|---|---|---|---|"]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    text = "### Goals\n\n" + goal_md + "\n### All figures\n\n" + "\n".join(md) + "\n\n"
    if args.peers_md:
        text += "### Peers (peer corpus, the same 30 patterns)\n\n" + args.peers_md + "\n"
    text += "\n\n".join(notes) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
