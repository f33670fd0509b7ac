#!/usr/bin/env python3
"""Soak test of the logwarden daemon (not run in CI; see docs/soak.md).

Runs the release binary for hours against a writer of numbered log lines, real logrotate
rotations (create and copytruncate, alternating) and faults: kill -9 and SIGTERM of logwarden
followed by a restart, SIGHUP reloads, a webhook that answers 503 for a while, and (with a
private systemd) a bot unit frozen with SIGSTOP that logwarden must restart. Every few
minutes, and at the end, it prints lines written and seen, alerts, restarts, lost and
repeated lines, and logwarden's memory (VmRSS) trend. Exits 1 when a line was lost outside
copytruncate's known gap, a line was alerted twice, the daemon died on its own, or a frozen
unit was not restarted. Standard library only.
"""

import argparse
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.request

LOGROTATE = "/usr/sbin/logrotate"
SYSTEMD = "/lib/systemd/systemd"
# Named per run: every namespaced systemd shares the host's cgroup tree, so two runs (or a
# test's bot.service) must not manage a unit of the same name.
BOT_UNIT = f"logwarden-soak-bot-{os.getpid()}.service"

# An ERROR line (the only lines the `error` pattern matches) carries its error number and a
# check value, so a cut or garbled line in an alert is never taken for another number.
ERROR_RE = re.compile(r" - ERROR - numbered (\d+) crc (\d+) end \[s(\d+)\]")
# Every line the writer makes carries its sequence number.
SEQ_RE = re.compile(rb"\[s(\d+)\]")


def crc(n):
    return (n * 7919 + 13) % 10007


def now_ts():
    t = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + ",%03d" % int(t % 1 * 1000)


def fmt_dur(s):
    s = int(round(s))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else f"{m}m{sec:02d}s"


def fmt_kb(kb):
    return f"{kb / 1024:.1f} MB" if kb is not None else "n/a"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def slope_per_hour(samples):
    """Least-squares slope of (seconds, value) samples, per hour; None with too few."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mx = sum(t for t, _ in samples) / n
    my = sum(v for _, v in samples) / n
    den = sum((t - mx) ** 2 for t, _ in samples)
    if den == 0:
        return None
    return sum((t - mx) * (v - my) for t, v in samples) / den * 3600


class Soak:
    """The whole run: its settings, the processes it started and what it counted."""

    def __init__(self, args):
        self.a = args
        self.dir = os.path.abspath(args.dir)
        self.lock = threading.Lock()
        self.stop_writer = threading.Event()
        self.stop_rotator = threading.Event()
        self.rng = random.Random(args.seed)
        self.t0 = time.monotonic()
        self.events = open(os.path.join(self.dir, "soak.log"), "a", buffering=1)
        # Writer.
        self.seq = 0
        self.err_seq = []  # error number -> line sequence number
        self.err_time = []  # error number -> monotonic time written
        self.err_tb = set()  # error numbers written with a traceback
        self.lines_written = 0
        self.bytes_written = 0
        # Console alerts of the numbered lines: number -> [life of each copy].
        self.console = {}
        self.console_cut_tb = set()  # alerted with an incomplete traceback
        self.malformed = []  # every-error alerts whose line did not parse
        self.latency = []  # seconds from write to console alert
        # Webhook deliveries: number -> [(id, life at receipt)].
        self.hook = {}
        self.hook_posts_ok = 0
        self.hook_posts_refused = 0
        self.hook_down = False
        self.hook_down_total = 0.0
        self.hook_down_since = None
        self.hook_outages = 0
        # Rotations.
        self.rotations = {"create": 0, "copytruncate": 0}
        self.rotate_failures = []
        self.gaps = []  # (first seq, last seq) in no file after a copytruncate
        self.gap_seqs = set()
        # logwarden's lives (one per process).
        self.lives = []
        self.proc = None
        self.lw_pid = None
        self.life = -1
        self.unexpected_deaths = []
        self.term_exits = []  # exit status of each SIGTERM
        self.faults = {"kill9": 0, "term": 0, "hup": 0}
        self.own_problems = []  # logwarden's own ERROR/WARN log lines
        self.hook_failures_logged = 0  # its log lines about the webhook's 503s
        self.other_alerts = {}
        # Restarts of the frozen bot.
        self.freezes = 0
        self.freezes_skipped = 0
        self.restarts = {"verified": 0, "unhealthy": 0, "failed": 0, "other": 0}
        self.restart_alerts = []
        self.restarts_begun = []  # elapsed s of each "restarting" logwarden logged
        self.fault_times = []  # elapsed s of each SIGHUP, SIGTERM and kill -9
        self.handovers = 0
        self.stale_firing = 0
        # Samples: (elapsed s, life, pid, VmRSS KB, fds, metrics dict).
        self.samples = []
        self.metrics_last = {}  # the last /metrics of the running pipeline
        # Lines read (logwarden_lines_read_total of the soak watch) by pipelines that ended:
        # a reload or a restart starts the count again.
        self.lines_read_closed = 0.0
        self.state_samples = []  # (files, bytes) in logwarden's state_dir, at each sample
        self.reading_seen = threading.Event()
        # systemd.
        self.unshare = None
        self.pid1 = None

    # ---- small helpers ----

    def elapsed(self):
        return time.monotonic() - self.t0

    def note(self, text):
        line = f"[{fmt_dur(self.elapsed())}] {text}"
        self.events.write(line + "\n")
        if self.a.verbose:
            print(line, flush=True)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    # ---- systemd in a private PID and mount namespace ----

    def ns(self, *argv, **kw):
        """Runs a command inside the namespace."""
        cmd = ["nsenter", "-t", str(self.pid1), "-p", "-m", "--", *argv]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)

    def boot_systemd(self):
        # /tmp, /var/tmp, /run and the journal are private tmpfs, so this systemd's
        # tmpfiles and journald never touch the host's. The && chain means systemd is
        # never started if one of those mounts failed.
        boot = (
            "mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /var/tmp && "
            "mount -t tmpfs tmpfs /run && mkdir -p /var/log/journal && "
            "mount -t tmpfs tmpfs /var/log/journal && "
            f"exec {SYSTEMD} --system --unit=basic.target"
        )
        self.unshare = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount", "--mount-proc",
             "--propagation", "private", "sh", "-c", boot],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while self.pid1 is None:
            kids = children(self.unshare.pid)
            if kids:
                self.pid1 = kids[0]
                break
            if time.monotonic() > deadline or self.unshare.poll() is not None:
                raise RuntimeError("unshare started no PID 1 (is this run as root?)")
            time.sleep(0.02)
        with open(self.path("systemd.pid"), "w") as f:
            f.write(f"{self.pid1}\n")
        deadline = time.monotonic() + 60
        while True:
            state = self.ns("systemctl", "is-system-running").stdout.strip()
            if state in ("running", "degraded"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the private systemd did not finish booting: {state}")
            time.sleep(0.2)
        self.note(f"systemd booted as PID 1 of a private namespace (host PID {self.pid1})")

    def stop_systemd(self):
        if self.pid1 is not None:
            # Killing PID 1 of the namespace ends every process in it.
            try:
                os.kill(self.pid1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.note(f"killed the private systemd (PID {self.pid1})")
            self.pid1 = None
        if self.unshare is not None:
            try:
                self.unshare.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.unshare.kill()
                self.unshare.wait()
            self.unshare = None
        try:
            os.remove(self.path("systemd.pid"))
        except FileNotFoundError:
            pass

    def install_bot(self):
        bot = self.path("bot.py")
        with open(bot, "w") as f:
            f.write(BOT)
        os.chmod(bot, 0o755)
        unit = (
            "[Unit]\nDescription=logwarden soak: a bot that logs, frozen now and then\n"
            "[Service]\n"
            f"ExecStart=/usr/bin/python3 {bot} {self.path('bot.log')}\n"
            "TimeoutStopSec=1s\n"
        )
        r = self.ns("sh", "-c", f"cat > /run/systemd/system/{BOT_UNIT}", input=unit)
        if r.returncode != 0:
            raise RuntimeError(f"cannot install the bot unit: {r.stderr}")
        self.ns("systemctl", "daemon-reload")
        r = self.ns("systemctl", "start", BOT_UNIT)
        if r.returncode != 0:
            raise RuntimeError(f"cannot start {BOT_UNIT}: {r.stderr}")

    def bot_starts(self):
        """How many times the bot unit started, from its own log."""
        try:
            with open(self.path("bot.log"), "rb") as f:
                return f.read().count(b" - bot started pid=")
        except FileNotFoundError:
            return 0

    def freeze_bot(self):
        """SIGSTOPs the bot if it runs and logs; returns whether it did."""
        active = self.ns("systemctl", "is-active", BOT_UNIT).stdout.strip()
        try:
            age = time.time() - os.stat(self.path("bot.log")).st_mtime
        except FileNotFoundError:
            age = 999
        if active != "active" or age > 1.0:
            return False
        r = self.ns("systemctl", "kill", "--kill-whom=main", "--signal=SIGSTOP", BOT_UNIT)
        return r.returncode == 0

    # ---- the webhook receiver ----

    def start_webhook(self):
        soak = self

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if soak.hook_down:
                    with soak.lock:
                        soak.hook_posts_refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                try:
                    alerts = json.loads(body).get("alerts", [])
                except ValueError:
                    alerts = []
                with soak.lock:
                    soak.hook_posts_ok += 1
                    for a in alerts:
                        if a.get("rule") != "every-error" or a.get("notification") != "event":
                            continue
                        m = ERROR_RE.search((a.get("line") or "").split("\n", 1)[0])
                        if m and int(m.group(2)) == crc(int(m.group(1))):
                            soak.hook.setdefault(int(m.group(1)), []).append(
                                (a.get("id"), soak.life))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.hook_port = free_port()
        self.hook_server = http.server.ThreadingHTTPServer(("127.0.0.1", self.hook_port), Hook)
        threading.Thread(target=self.hook_server.serve_forever, daemon=True).start()

    def set_hook_down(self, down):
        with self.lock:
            if down and not self.hook_down:
                self.hook_down_since = time.monotonic()
                self.hook_outages += 1
            if not down and self.hook_down:
                self.hook_down_total += time.monotonic() - self.hook_down_since
            self.hook_down = down
        self.note("webhook answers 503 from now on" if down else "webhook answers 200 again")

    # ---- configuration files ----

    def write_configs(self):
        os.makedirs(self.path("logs"), exist_ok=True)
        os.makedirs(self.path("state"), exist_ok=True)
        self.log = self.path("logs", "app.log")
        open(self.log, "a").close()
        self.metrics_port = free_port()
        url_file = self.path("hook-url")
        with open(url_file, "w") as f:
            f.write(f"http://127.0.0.1:{self.hook_port}/hook\n")
        os.chmod(url_file, 0o600)
        bot_watch = ""
        if self.a.systemd:
            bot_watch = f"""
# The frozen-service part: a unit SIGSTOPped now and then; logwarden restarts it.
[[watch]]
name = "soak-bot"
unit = "{BOT_UNIT}"
files = ["{self.path('bot.log')}"]
patterns = ["trading"]

  [watch.restart]
  stop_timeout = "1s"
  verify_after = "2s"
  backoff = "1s"
  backoff_max = "4s"
  max_restarts = 100
  window = "1h"
  healthy_after = "20s"
  startup_grace = "1s"

  [[watch.rule]]
  name = "log-stale"
  when = "stale"
  after = "3s"
  severity = "critical"
  then = ["alert", "restart"]
"""
        config = f"""# Written by scripts/soak.py for one soak run.
[daemon]
state_dir = "{self.path('state')}"
poll_interval = "500ms"
listen = "127.0.0.1:{self.metrics_port}"

[alerts]
retry_max = "10s"

[channels.hook]
type = "webhook"
url_file = "{url_file}"
group_wait = "1s"

# Every numbered ERROR line (a traceback included) is one event alert, on the console and
# on the webhook.
[[watch]]
name = "soak"
files = ["{self.log}"]
patterns = ["python-logging"]
start_at = "beginning"
max_line_bytes = 16384
notify = ["console", "hook"]

  [[watch.rule]]
  name = "every-error"
  when = "match"
  pattern = "error"
  cooldown = "0s"
{bot_watch}"""
        self.config = self.path("logwarden.toml")
        with open(self.config, "w") as f:
            f.write(config)
        self.rotate_conf = {}
        for mode, directives in (
            ("create", "create\n    compress\n    delaycompress"),
            ("copytruncate", "nocreate\n    copytruncate\n    compress\n    delaycompress"),
        ):
            conf = self.path(f"logrotate-{mode}.conf")
            with open(conf, "w") as f:
                f.write(f"{self.log} {{\n    missingok\n    ifempty\n    rotate 10\n"
                        f"    {directives}\n}}\n")
            self.rotate_conf[mode] = conf

    # ---- logwarden ----

    def start_daemon(self):
        self.life += 1
        argv = [self.bin, "--log-format", "json", "run", "--config", self.config]
        if self.a.systemd:
            argv = ["nsenter", "-t", str(self.pid1), "-p", "-m", "--", *argv]
        env = dict(os.environ, RUST_LOG="info")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env, start_new_session=True)
        pid = proc.pid
        if self.a.systemd:
            # nsenter forks logwarden into the namespace; signals go to logwarden itself.
            deadline = time.monotonic() + 10
            while True:
                kids = children(proc.pid)
                if kids:
                    pid = kids[0]
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("logwarden did not start inside the namespace")
                time.sleep(0.01)
        # `ready`: it follows the log, so its signal handlers are in place (a SIGHUP or
        # SIGTERM before that kills it, as it would any program that has not started yet).
        life = {"index": self.life, "pid": pid, "start": self.elapsed(), "end": None,
                "how": None, "status": None, "ready": False}
        with self.lock:
            self.lives.append(life)
            self.proc, self.lw_pid = proc, pid
        threading.Thread(target=self.read_stderr, args=(proc, life), daemon=True).start()
        self.note(f"logwarden life {self.life} started (PID {pid})")

    def read_stderr(self, proc, life):
        out = open(self.path("logwarden.stderr"), "a", buffering=1)
        out.write(json.dumps({"soak": "life", "life": life["index"], "pid": life["pid"]}) + "\n")
        for raw in proc.stderr:
            text = raw.decode("utf-8", "replace").rstrip("\n")
            try:
                v = json.loads(text)
            except ValueError:
                v = {"raw": text}
            if not isinstance(v, dict):
                v = {"raw": text}
            if v.get("type") == "alert" and v.get("rule") == "every-error" \
                    and v.get("state") == "event":
                self.on_error_alert(v, life["index"])
                continue
            out.write(text + "\n")
            if v.get("type") == "alert":
                self.on_other_alert(v)
            elif v.get("message") == "restarting" and v.get("watch") == "soak-bot":
                with self.lock:
                    self.restarts_begun.append(self.elapsed())
            elif v.get("message") == "reading file" and v.get("path") == self.log:
                life["ready"] = True
                self.reading_seen.set()
            elif "alert delivery failed" in str(v.get("message")) and v.get("channel") == "hook":
                with self.lock:
                    self.hook_failures_logged += 1
            elif v.get("level") in ("ERROR", "WARN") or "raw" in v:
                with self.lock:
                    self.own_problems.append((life["index"], text[:400]))
        out.close()

    def on_error_alert(self, v, life):
        line = v.get("line") or ""
        first = line.split("\n", 1)[0]
        m = ERROR_RE.search(first)
        if not m or int(m.group(2)) != crc(int(m.group(1))):
            with self.lock:
                self.malformed.append(first[:200])
            return
        n = int(m.group(1))
        with self.lock:
            self.console.setdefault(n, []).append(life)
            if n < len(self.err_time) and len(self.console[n]) == 1:
                self.latency.append(time.monotonic() - self.err_time[n])
            if n in self.err_tb and f"ValueError: soak error {n}\n" not in line + "\n":
                self.console_cut_tb.add(n)

    def on_other_alert(self, v):
        rule, state = v.get("rule"), v.get("state")
        with self.lock:
            if rule == "restart" and state == "event":
                s = v.get("summary", "")
                if "verified healthy" in s:
                    self.restarts["verified"] += 1
                elif "did not bring it back" in s or "not healthy" in s:
                    self.restarts["unhealthy"] += 1
                elif "failed" in s:
                    self.restarts["failed"] += 1
                else:
                    self.restarts["other"] += 1
                self.restart_alerts.append(s[:300])
            elif rule == "manual-intervention" and state == "firing":
                self.handovers += 1
            elif rule == "log-stale":
                self.stale_firing += state == "firing"
            else:
                key = f"{v.get('watch')}/{rule} {state}"
                self.other_alerts[key] = self.other_alerts.get(key, 0) + 1

    def daemon_alive(self):
        return self.proc is not None and self.proc.poll() is None

    def end_life(self, how, status):
        with self.lock:
            life = self.lives[-1]
            life["end"], life["how"], life["status"] = self.elapsed(), how, status

    def sample_now(self):
        """Takes a memory sample of the running logwarden, with its /metrics."""
        pid = self.lw_pid
        rss = fds = None
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
        m = scrape(self.metrics_port)
        if m:
            self.metrics_last = m
        self.state_samples.append(dir_usage(self.path("state")))
        if rss is not None:
            self.samples.append((self.elapsed(), self.life, pid, rss, fds, m))

    def close_epoch(self):
        """Before a reload or a stop: counts the lines this pipeline read."""
        self.sample_now()
        self.lines_read_closed += lines_read(self.metrics_last)
        self.metrics_last = {}

    def kill9(self):
        self.close_epoch()
        os.kill(self.lw_pid, signal.SIGKILL)
        status = self.proc.wait(timeout=30)
        self.end_life("kill -9", status)
        self.faults["kill9"] += 1
        self.fault_times.append(self.elapsed())
        self.note(f"kill -9 of logwarden (PID {self.lw_pid})")

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while not self.lives[-1]["ready"] and time.monotonic() < deadline \
                and self.daemon_alive():
            time.sleep(0.05)

    def term(self, final=False):
        self.wait_ready()
        self.close_epoch()
        os.kill(self.lw_pid, signal.SIGTERM)
        try:
            status = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.lw_pid, signal.SIGKILL)
            self.proc.wait()
            status = "did not stop within 30 s after SIGTERM"
        self.end_life("SIGTERM (end)" if final else "SIGTERM", status)
        self.term_exits.append(status)
        if not final:
            self.faults["term"] += 1
            self.fault_times.append(self.elapsed())
        self.note(f"SIGTERM to logwarden (PID {self.lw_pid}): exit status {status}")

    def hup(self):
        self.close_epoch()
        os.kill(self.lw_pid, signal.SIGHUP)
        self.faults["hup"] += 1
        self.fault_times.append(self.elapsed())
        self.note("SIGHUP to logwarden")

    # ---- the writer ----

    def writer(self):
        """Appends numbered lines at `rate` a second, like an application with a
        WatchedFileHandler: it keeps its file open and reopens the path when logrotate put a
        new file there (it never creates it: logrotate's `create` does)."""
        a = self.a
        f = open(self.log, "ab", buffering=0)
        ino = os.fstat(f.fileno()).st_ino
        tick = 0.05
        per_tick = a.rate * tick
        carry = 0.0
        next_t = time.monotonic()
        while not self.stop_writer.is_set():
            try:
                st = os.stat(self.log)
                if st.st_ino != ino:
                    nf = open(self.log, "ab", buffering=0)
                    f.close()
                    f, ino = nf, os.fstat(nf.fileno()).st_ino
            except FileNotFoundError:
                pass  # between logrotate's rename and its create: keep the old file
            carry += per_tick
            count, carry = int(carry), carry - int(carry)
            buf, lines = [], 0
            with self.lock:
                for _ in range(count):
                    lines += self.make_line(buf)
                    self.seq += 1
            data = b"".join(buf)
            f.write(data)
            with self.lock:
                self.lines_written += lines
                self.bytes_written += len(data)
            next_t += tick
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_t = time.monotonic()
        f.close()

    def make_line(self, buf):
        """Appends one event (one line, or an ERROR line with its traceback) to buf; returns
        the number of lines. Called with the lock held."""
        a, s, ts = self.a, self.seq, now_ts()
        r = self.rng.random()
        if r < 1.0 / a.error_every:
            n = len(self.err_seq)
            self.err_seq.append(s)
            self.err_time.append(time.monotonic())
            text = f"{ts} - bot.orders - ERROR - numbered {n} crc {crc(n)} end [s{s}]\n"
            lines = 1
            if n % a.traceback_every == a.traceback_every - 1:
                self.err_tb.add(n)
                text += (
                    "Traceback (most recent call last):\n"
                    '  File "/opt/bot/orders.py", line 42, in place_order\n'
                    "    resp = self.session.post(url, json=order)\n"
                    '  File "/opt/bot/broker.py", line 97, in post\n'
                    "    raise ValueError(msg)\n"
                    f"ValueError: soak error {n}\n"
                )
                lines += 6
            buf.append(text.encode())
            return lines
        kind = self.rng.randrange(100)
        if kind < 50:
            msg = f"INFO - Update VIX={15 + s % 1000 / 100:.2f} SPY={590 + s % 97}.10"
        elif kind < 75:
            msg = f"INFO - Position AAPL qty={s % 50} avg=187.{s % 100:02d}"
        elif kind < 88:
            msg = f"WARNING - slow answer from broker: {200 + s % 800} ms (retrying after error)"
        elif kind < 98:
            msg = "DEBUG - heartbeat ok; " + "payload=" + "x" * self.rng.randrange(10, 400)
        elif kind < 99:
            msg = "INFO - order book snapshot " + "0123456789abcdef" * 1200  # cut at 16 KiB
        else:
            msg = "INFO - quote feed reconnected (café Zürich)"
        buf.append(f"{ts} - bot.market - {msg} [s{s}]\n".encode())
        return 1

    # ---- rotations ----

    def rotator(self):
        mode = "create"
        while not self.stop_rotator.wait(self.a.rotate_every * self.rng.uniform(0.7, 1.3)):
            r = subprocess.run([LOGROTATE, "-s", self.path("logrotate.state"), "-f",
                                self.rotate_conf[mode]], capture_output=True, text=True)
            if r.returncode != 0:
                self.rotate_failures.append(r.stderr.strip()[:300])
            else:
                with self.lock:
                    self.rotations[mode] += 1
                if mode == "copytruncate":
                    self.find_copytruncate_gap()
            mode = "copytruncate" if mode == "create" else "create"

    def find_copytruncate_gap(self):
        """Lines written after logrotate's copy ended and before the truncate are in no
        file: the copy's last line and the truncated file's first line bound them."""
        last = None
        try:
            with open(self.log + ".1", "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 65536))
                tail = f.read()
            complete = tail[: tail.rfind(b"\n") + 1]
            found = SEQ_RE.findall(complete)
            last = int(found[-1]) if found else None
        except FileNotFoundError:
            pass
        first = None
        deadline = time.monotonic() + 10
        while first is None and time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                with open(self.log, "rb") as f:
                    head = f.read(65536)
            except FileNotFoundError:
                continue
            nl = head.find(b"\n")
            if nl >= 0:
                m = SEQ_RE.search(head[:nl])
                if m:
                    first = int(m.group(1))
        if last is None or first is None:
            self.note(f"copytruncate gap not measured (copy's last {last}, next first {first})")
            return
        if first > last + 1:
            with self.lock:
                self.gaps.append((last + 1, first - 1))
                self.gap_seqs.update(range(last + 1, first))
            self.note(f"copytruncate: lines s{last + 1}..s{first - 1} are in no file")

    def cut_by_copytruncate(self, text):
        m = re.search(r"numbered (\d+) ", text)
        n = int(m.group(1)) if m else None
        return n is not None and n < len(self.err_seq) and self.in_gap(self.err_seq[n])

    def in_gap(self, seq):
        return seq in self.gap_seqs

    # ---- counting ----

    def tally(self, settle=None):
        """Counts so far. Errors younger than `settle` seconds are pending, not lost."""
        with self.lock:
            now = time.monotonic()
            written = len(self.err_seq)
            c = dict(written=written, lines=self.lines_written, bytes=self.bytes_written)
            lost, lost_gap, pending, hook_lost, hook_pending = [], [], 0, [], 0
            for n in range(written):
                young = settle is not None and now - self.err_time[n] < settle
                in_gap = self.in_gap(self.err_seq[n])
                if n not in self.console:
                    if in_gap:
                        lost_gap.append(n)
                    elif young:
                        pending += 1
                    else:
                        lost.append(n)
                if n not in self.hook and not in_gap:
                    if young or self.hook_down:
                        hook_pending += 1
                    else:
                        hook_lost.append(n)
            c["console_seen"] = len(self.console)
            c["lost"], c["lost_gap"], c["pending"] = lost, lost_gap, pending
            c["hook_seen"] = len(self.hook)
            c["hook_lost"], c["hook_pending"] = hook_lost, hook_pending
            c["repeated"] = self.repeats()
            c["hook_redelivered"], c["hook_repeated"] = self.hook_repeats()
            c["gap_lines"] = sum(hi - lo + 1 for lo, hi in self.gaps)
        return c

    def repeats(self):
        """Numbers alerted more than once on the console: (number, lives of the copies, and
        whether the documented kill -9 window explains it: the earlier copy came from a life
        that ended with kill -9 and the repeat from the next one)."""
        out = []
        for n, lives in self.console.items():
            if len(lives) > 1:
                explained = len(lives) == 2 and lives[1] == lives[0] + 1 \
                    and lives[0] < len(self.lives) and self.lives[lives[0]]["how"] == "kill -9"
                out.append((n, lives, explained))
        return out

    def hook_repeats(self):
        """Webhook repeats: the same notification id twice (redelivery, allowed after a
        kill -9 between the receiver's 200 and the spool file's removal), and a number under
        two different ids (the line was alerted twice: never allowed)."""
        redelivered, repeated = [], []
        for n, got in self.hook.items():
            if len(got) < 2:
                continue
            ids = {i for i, _ in got}
            if len(ids) > 1:
                repeated.append((n, [lf for _, lf in got]))
            else:
                lives = [lf for _, lf in got]
                explained = all(lf < len(self.lives) and self.lives[lf]["how"] == "kill -9"
                                for lf in lives[:-1])
                redelivered.append((n, lives, explained))
        return redelivered, repeated

    def rss_summary(self, since=0.0):
        rows = [s for s in self.samples if s[0] >= since]
        if not rows:
            return None
        rss = [s[3] for s in rows]
        return dict(first=rss[0], min=min(rss), max=max(rss), last=rss[-1],
                    fds_first=rows[0][4], fds_max=max(s[4] or 0 for s in rows),
                    fds_last=rows[-1][4])

    def rss_slopes(self):
        """Per life: the VmRSS slope in KB/hour over samples taken after a warm-up."""
        out = []
        for life in self.lives:
            start = life["start"] + self.a.warmup
            pts = [(t, kb) for t, lf, _, kb, _, _ in self.samples
                   if lf == life["index"] and t >= start]
            if len(pts) >= 3:
                out.append((life["index"], pts[-1][0] - pts[0][0], slope_per_hour(pts)))
        return out

    def rss_slope_between_faults(self):
        """The VmRSS slope in KB/hour between one fault (SIGHUP, SIGTERM, kill -9) and the
        next, 10 s after each, weighted by the length of each stretch: growth that is not the
        step a reload or a new process makes."""
        cuts = sorted(self.fault_times + [life["start"] for life in self.lives])
        stretches = []
        for lo, hi in zip(cuts, cuts[1:] + [float("inf")]):
            pts = [(t, kb) for t, _, _, kb, _, _ in self.samples if lo + 10 <= t < hi]
            s = slope_per_hour(pts)
            if s is not None:
                stretches.append((pts[-1][0] - pts[0][0], s))
        total = sum(d for d, _ in stretches)
        return (sum(d * s for d, s in stretches) / total, len(stretches)) if total else None

    def progress(self, since):
        c = self.tally(settle=self.a.settle)
        r = self.rss_summary(since)
        lag = sum(v for k, v in self.metrics_last.items()
                  if k.startswith("logwarden_read_lag_bytes"))
        rss = (f"RSS first {fmt_kb(r['first'])} min {fmt_kb(r['min'])} "
               f"max {fmt_kb(r['max'])} last {fmt_kb(r['last'])}, fds {r['fds_last']}"
               if r else "RSS n/a")
        print(
            f"[{fmt_dur(self.elapsed())}] lines {c['lines']} | errors {c['written']} "
            f"console {c['console_seen']} webhook {c['hook_seen']} | "
            f"lost {len(c['lost'])} (+{len(c['lost_gap'])} copytruncate gap) "
            f"pending {c['pending']} | repeated {len(c['repeated'])} | "
            f"rotations {self.rotations['create']}+{self.rotations['copytruncate']} | "
            f"kill9 {self.faults['kill9']} term {self.faults['term']} hup {self.faults['hup']} "
            f"| freezes {self.freezes} restarts {self.restarts['verified']} | "
            f"{rss}, lag {int(lag)} B", flush=True)

    # ---- the run ----

    def run(self):
        a = self.a
        self.bin = self.path("logwarden")
        shutil.copy2(a.bin, self.bin)  # a rebuild during the run must not change it
        self.start_webhook()
        self.write_configs()
        if a.systemd:
            self.boot_systemd()
            self.install_bot()
        check = subprocess.run([self.bin, "check", "--config", self.config],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"logwarden check refused the soak config:\n{check.stdout}"
                               f"{check.stderr}")
        self.start_daemon()
        if not self.reading_seen.wait(20):
            raise RuntimeError("logwarden did not start reading the log within 20 s")
        self.t0 = time.monotonic()
        self.lives[0]["start"] = 0.0
        writer = threading.Thread(target=self.writer, daemon=True)
        rotator = threading.Thread(target=self.rotator, daemon=True)
        writer.start()
        rotator.start()
        end = a.seconds
        rng = self.rng

        def jitter(every):
            return every * rng.uniform(0.8, 1.2)

        due = {
            "sample": a.rss_every,
            "progress": a.progress_every,
            "restart": jitter(a.restart_every),
            "hup": jitter(a.hup_every),
            "hook": jitter(a.hook_down_every),
            "freeze": jitter(a.freeze_every),
        }
        next_restart_kill = True
        hook_up_at = None
        progress_since = 0.0
        print(f"soak: {fmt_dur(end)} of load in {self.dir}; {a.rate} lines/s, "
              f"1 in {a.error_every} an ERROR; rotations every ~{a.rotate_every:g} s; "
              f"kill -9/SIGTERM every ~{a.restart_every:g} s, SIGHUP every ~{a.hup_every:g} s, "
              f"webhook down {a.hook_down_for:g} s every ~{a.hook_down_every:g} s"
              + (f", bot frozen every ~{a.freeze_every:g} s" if a.systemd else
                 "; no systemd (no frozen-service restarts)"), flush=True)
        while True:
            t = self.elapsed()
            if t >= end:
                break
            if not self.daemon_alive():
                status = self.proc.poll()
                self.end_life("died", status)
                self.unexpected_deaths.append((round(t), status))
                self.note(f"logwarden died on its own (exit status {status}); starting it again")
                self.start_daemon()
            if t >= due["sample"]:
                self.sample_now()
                due["sample"] = t + a.rss_every
            if t >= due["progress"]:
                self.progress(progress_since)
                progress_since = t
                due["progress"] = t + a.progress_every
            # No new fault in the last 20 s of load: the drain below starts clean.
            quiet = t > end - 20
            if t >= due["restart"] and not quiet:
                if next_restart_kill:
                    self.kill9()
                else:
                    self.term()
                next_restart_kill = not next_restart_kill
                time.sleep(a.down_for)  # lines keep coming while logwarden is down
                self.start_daemon()
                due["restart"] = self.elapsed() + jitter(a.restart_every)
            if t >= due["hup"] and not quiet and self.lives[-1]["ready"]:
                self.hup()
                due["hup"] = t + jitter(a.hup_every)
            if hook_up_at is None and t >= due["hook"] and not quiet:
                self.set_hook_down(True)
                hook_up_at = t + a.hook_down_for
            if hook_up_at is not None and t >= hook_up_at:
                self.set_hook_down(False)
                hook_up_at = None
                due["hook"] = t + jitter(a.hook_down_every)
            if a.systemd and t >= due["freeze"] and not quiet:
                if self.freeze_bot():
                    self.freezes += 1
                    self.note("froze the bot (SIGSTOP)")
                else:
                    self.freezes_skipped += 1
                    self.note("bot not running and logging: freeze postponed")
                due["freeze"] = t + jitter(a.freeze_every)
            time.sleep(0.2)
        self.drain(writer, rotator)

    def drain(self, writer, rotator):
        """Stops the load, lets logwarden catch up, stops it cleanly."""
        if self.hook_down:
            self.set_hook_down(False)
        self.stop_rotator.set()
        rotator.join()
        self.stop_writer.set()
        writer.join()
        load_end = self.elapsed()
        self.note("load stopped; waiting for logwarden to catch up")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not self.daemon_alive():
                status = self.proc.poll()
                self.end_life("died", status)
                self.unexpected_deaths.append((round(self.elapsed()), status))
                self.start_daemon()
            c = self.tally(settle=0)
            done = not c["lost"] and not c["hook_lost"]
            if self.a.systemd:
                done = done and self.bot_starts() - 1 >= self.freezes \
                    and self.elapsed() - max(self.restarts_begun or [0]) > 15
            if done:
                break
            time.sleep(1)
        time.sleep(3)  # anything late (a repeat) shows up now
        self.drain_s = self.elapsed() - load_end
        self.ns_state_at_end = None
        if self.a.systemd:
            self.ns_state_at_end = self.ns("systemctl", "is-active", BOT_UNIT).stdout.strip()
        self.sample_now()
        self.term(final=True)
        self.load_s = load_end

    def report(self):
        c = self.tally(settle=0)
        a = self.a
        r_all = self.rss_summary()
        slopes = self.rss_slopes()
        long_lives = [s for s in slopes if s[1] >= a.min_life_for_slope]
        weighted = None
        if long_lives:
            total = sum(d for _, d, _ in long_lives)
            weighted = sum(d * s for _, d, s in long_lives) / total if total else None
        longest = max(slopes, key=lambda s: s[1]) if slopes else None
        if longest and longest[1] < 60:
            longest = None
        redelivered, hook_repeated = c["hook_redelivered"], c["hook_repeated"]
        repeats = c["repeated"]
        unexplained = [r for r in repeats if not r[2]]
        bad_redelivery = [r for r in redelivered if not r[2]]
        read_total = self.lines_read_closed + lines_read(self.metrics_last)
        lat = self.latency
        failures = []
        if c["lost"]:
            failures.append(f"{len(c['lost'])} ERROR line(s) never alerted on the console "
                            f"(not in a copytruncate gap): {c['lost'][:10]}")
        if c["hook_lost"]:
            failures.append(f"{len(c['hook_lost'])} ERROR line(s) never reached the webhook: "
                            f"{c['hook_lost'][:10]}")
        if unexplained or (a.strict and repeats):
            failures.append(f"{len(repeats)} line(s) alerted twice on the console: "
                            f"{[(n, lv) for n, lv, _ in repeats[:10]]}")
        if hook_repeated:
            failures.append(f"{len(hook_repeated)} line(s) sent to the webhook under two ids: "
                            f"{hook_repeated[:10]}")
        if bad_redelivery or (a.strict and redelivered):
            failures.append(f"{len(redelivered)} webhook notification(s) delivered twice: "
                            f"{redelivered[:10]}")
        # A line cut by copytruncate's copy (its end in no file) may be alerted as it is.
        garbled = [t for t in self.malformed if not self.cut_by_copytruncate(t)]
        if garbled:
            failures.append(f"{len(garbled)} alert(s) with a garbled line: {garbled[:3]}")
        if self.unexpected_deaths:
            failures.append(f"logwarden died on its own: {self.unexpected_deaths}")
        bad_terms = [s for s in self.term_exits if s != 0]
        if bad_terms:
            failures.append(f"SIGTERM did not end logwarden with status 0: {bad_terms}")
        if self.rotate_failures:
            failures.append(f"logrotate failed: {self.rotate_failures[:3]}")
        restarted = sum(self.restarts.values())
        warnings = []
        if a.systemd:
            bot_restarts = self.bot_starts() - 1
            if bot_restarts != self.freezes or self.ns_state_at_end != "active":
                failures.append(f"{self.freezes} freezes injected, but the bot unit was started "
                                f"again {bot_restarts} times (at the end it is "
                                f"{self.ns_state_at_end})")
            if self.restarts["verified"] != restarted:
                failures.append(f"restarts not verified healthy: {self.restarts}")
            # A restart whose outcome never came: logwarden logged "restarting", then a
            # reload, SIGTERM or kill -9 came before its verification ended (the supervisor
            # ends with the pipeline; see docs/soak.md). Any other is a failure.
            window = 15
            unreported = len(self.restarts_begun) - restarted
            explained = sum(1 for t in self.restarts_begun
                            if any(t <= f <= t + window for f in self.fault_times))
            if unreported > explained:
                failures.append(f"{unreported} restart(s) begun and never reported, only "
                                f"{explained} with a reload/stop/kill within {window} s")
            elif unreported > 0:
                warnings.append(f"{unreported} restart(s) done but never alerted: a SIGHUP, "
                                f"SIGTERM or kill -9 came during their verification (a known "
                                f"daemon limitation, docs/soak.md)")
            if self.handovers:
                failures.append(f"{self.handovers} manual-intervention hand-over(s)")
        cut_tb_expected = {n for n in self.console_cut_tb
                           if any(self.err_seq[n] == lo - 1 for lo, _ in self.gaps)}
        if self.console_cut_tb - cut_tb_expected:
            failures.append(f"{len(self.console_cut_tb - cut_tb_expected)} traceback(s) "
                            f"alerted without their last line: "
                            f"{sorted(self.console_cut_tb - cut_tb_expected)[:10]}")

        lives_by = {}
        for life in self.lives:
            lives_by[life["how"]] = lives_by.get(life["how"], 0) + 1
        p = print
        p("")
        p(f"=== logwarden soak: {fmt_dur(self.load_s)} of load "
          f"(+{fmt_dur(self.drain_s)} to drain), {self.dir}")
        p(f"lines written      {self.lines_written} ({self.bytes_written / 1e6:.1f} MB), "
          f"{c['written']} of them numbered ERROR events "
          f"({len(self.err_tb)} with a 6-line traceback)")
        events = self.lines_written - 6 * len(self.err_tb)
        p(f"events read        about {int(read_total)} by logwarden's count (/metrics "
          f"logwarden_lines_read_total, summed over its {len(self.lives)} processes and their "
          f"reloads; it counts a traceback with its line as one): {events} written, "
          f"a line re-read after a kill -9 counts twice")
        p(f"alerts (console)   {c['console_seen']} distinct numbered ERROR events; "
          f"write-to-alert latency p50 {percentile(lat, 50) * 1000:.0f} ms, "
          f"p99 {percentile(lat, 99) * 1000:.0f} ms, max {max(lat or [0]) * 1000:.0f} ms")
        p(f"alerts (webhook)   {c['hook_seen']} distinct; {self.hook_posts_ok} POSTs accepted, "
          f"{self.hook_posts_refused} answered 503 during {self.hook_outages} outage(s) "
          f"({fmt_dur(self.hook_down_total)} down)")
        p(f"lost               {len(c['lost'])} unexpected (console), "
          f"{len(c['hook_lost'])} unexpected (webhook); "
          f"{len(c['lost_gap'])} ERROR event(s) in copytruncate gaps (expected: written "
          f"between logrotate's copy and its truncate, in no file; {c['gap_lines']} lines "
          f"of all kinds in {len(self.gaps)} gap(s))")
        p(f"repeated           {len(repeats)} on the console "
          f"({len(repeats) - len(unexplained)} within the documented kill -9 window), "
          f"{len(hook_repeated)} on the webhook under two ids, {len(redelivered)} webhook "
          f"notification(s) redelivered with the same id")
        p(f"rotations          {self.rotations['create']} create+compress+delaycompress, "
          f"{self.rotations['copytruncate']} copytruncate+compress+delaycompress "
          f"(real {LOGROTATE} -f)")
        p(f"faults             kill -9 x{self.faults['kill9']}, SIGTERM x{self.faults['term']} "
          f"(+1 at the end; exit statuses {self.term_exits}), SIGHUP x{self.faults['hup']}, "
          f"webhook down x{self.hook_outages}; logwarden processes: "
          + ", ".join(f"{k} {v}" for k, v in lives_by.items()))
        if a.systemd:
            p(f"restarts           {self.freezes} freezes injected (SIGSTOP of {BOT_UNIT}, "
              f"{self.freezes_skipped} postponed); logwarden began {len(self.restarts_begun)} "
              f"restarts, the unit started again {self.bot_starts() - 1} times; restart alerts "
              f"{restarted} ({self.restarts['verified']} verified healthy, "
              f"{self.restarts['unhealthy']} unhealthy, {self.restarts['failed']} failed); "
              f"{self.handovers} hand-overs; log-stale fired {self.stale_firing}x")
        else:
            p("restarts           not exercised (--no-systemd)")
        if r_all:
            p(f"RSS (VmRSS)        first {fmt_kb(r_all['first'])}, min {fmt_kb(r_all['min'])}, "
              f"max {fmt_kb(r_all['max'])}, last {fmt_kb(r_all['last'])}; "
              f"{len(self.samples)} samples every {a.rss_every:g} s")
            sl = (f"{weighted:+.0f} KB/h (duration-weighted over {len(long_lives)} process(es) "
                  f"that lived >= {fmt_dur(a.min_life_for_slope)})" if weighted is not None
                  else "n/a (no process lived long enough)")
            lg = (f"; longest-lived process: {longest[2]:+.0f} KB/h over {fmt_dur(longest[1])}"
                  if longest else "")
            p(f"RSS slope          {sl}{lg} (each after a {a.warmup:g} s warm-up)")
            between = self.rss_slope_between_faults()
            if between:
                p(f"RSS slope between  {between[0]:+.0f} KB/h, weighted over {between[1]} stretches "
                  f"from one fault to the next (a reload's or a start's step left out)")
            p(f"open fds           first {r_all['fds_first']}, max {r_all['fds_max']}, "
              f"last {r_all['fds_last']}")
        if self.state_samples:
            st = self.state_samples
            p(f"state_dir          first {st[0][0]} files / {st[0][1] // 1024} KB, max "
              f"{max(f for f, _ in st)} files / {max(b for _, b in st) // 1024} KB, last "
              f"{st[-1][0]} files / {st[-1][1] // 1024} KB (spool, checkpoints, alerts)")
        if self.other_alerts:
            p(f"other alerts       {self.other_alerts}")
        p(f"logwarden's own log: {self.hook_failures_logged} lines about the webhook's 503s "
          f"(expected), {len(self.own_problems)} other warnings/errors "
          f"(all in {self.path('logwarden.stderr')})")
        for life, text in self.own_problems[:5]:
            p(f"    life {life}: {text}")
        p("RESULT: " + ("PASS" if not failures else "FAIL"))
        for f in failures:
            p(f"  - {f}")
        for w in warnings:
            p(f"  note: {w}")
        summary = dict(
            load_seconds=round(self.load_s), lines_written=self.lines_written,
            errors_written=c["written"], console_seen=c["console_seen"],
            webhook_seen=c["hook_seen"], lost=len(c["lost"]), webhook_lost=len(c["hook_lost"]),
            lost_in_copytruncate_gap=len(c["lost_gap"]), gap_lines=c["gap_lines"],
            repeated=len(repeats), repeated_in_kill9_window=len(repeats) - len(unexplained),
            webhook_repeated=len(hook_repeated), webhook_redelivered=len(redelivered),
            rotations=self.rotations, faults=self.faults, freezes=self.freezes,
            restarts=self.restarts, handovers=self.handovers, lives=self.lives,
            rss_kb=r_all, rss_slopes_kb_per_hour=slopes, rss_slope_weighted=weighted,
            rss_slope_between_faults=self.rss_slope_between_faults(),
            state_dir_files_bytes_first_last=(self.state_samples[:1] + self.state_samples[-1:]),
            latency_ms_p50=percentile(lat, 50) * 1000, latency_ms_p99=percentile(lat, 99) * 1000,
            restarts_begun=len(self.restarts_begun),
            bot_restarts=self.bot_starts() - 1 if a.systemd else None,
            failures=failures, warnings=warnings)
        with open(self.path("summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
        with open(self.path("rss.csv"), "w") as f:
            f.write("elapsed_s,life,pid,vmrss_kb,fds,metrics_rss_kb,read_lag_bytes\n")
            for t, lf, pid, kb, fds, m in self.samples:
                mr = (m or {}).get("logwarden_resident_memory_bytes", 0) / 1024
                lag = sum(v for k, v in (m or {}).items()
                          if k.startswith("logwarden_read_lag_bytes"))
                f.write(f"{t:.1f},{lf},{pid},{kb},{fds},{mr:.0f},{lag:.0f}\n")
        return not failures

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.lw_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.stop_systemd()
        if getattr(self, "hook_server", None):
            self.hook_server.shutdown()


def dir_usage(path):
    """(files, bytes) under path."""
    files = size = 0
    for root, _, names in os.walk(path):
        for n in names:
            try:
                size += os.stat(os.path.join(root, n)).st_size
                files += 1
            except FileNotFoundError:
                pass
    return files, size


def children(pid):
    """Child PIDs of `pid`, from /proc."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(p) for p in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def lines_read(metrics):
    return sum(v for k, v in metrics.items()
               if k.startswith("logwarden_lines_read_total") and 'watch="soak"' in k)


def scrape(port):
    """logwarden's /metrics as {name{labels}: value}; {} when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


# The unit that is frozen: logs `Update VIX=...` every 200 ms (the `trading` pack's activity).
BOT = r"""#!/usr/bin/python3
# logwarden soak: a bot unit that logs every 200 ms until it is frozen (SIGSTOP).
import os, sys, time
with open(sys.argv[1], "a") as f:
    f.write("%s - bot - INFO - bot started pid=%d\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), os.getpid()))
i = 0
while True:
    i += 1
    with open(sys.argv[1], "a") as f:
        f.write("%s - bot - INFO - Update VIX=17.%d\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), i))
    time.sleep(0.2)
"""


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Soak test of logwarden: hours of writes, rotations and faults, with "
                    "counts of lost and repeated lines and the memory trend.")
    d = p.add_mutually_exclusive_group(required=True)
    d.add_argument("--hours", type=float, help="how long to load it")
    d.add_argument("--minutes", type=float, help="how long to load it")
    p.add_argument("--dir", help="work dir (default: a new one under /var/lib/logwarden-soak)")
    p.add_argument("--bin", default="target/release/logwarden", help="the logwarden binary")
    p.add_argument("--no-systemd", dest="systemd", action="store_false",
                   help="no private systemd, so no frozen unit to restart")
    p.add_argument("--rate", type=float, default=200, help="lines a second (default 200)")
    p.add_argument("--error-every", type=int, default=20,
                   help="one line in this many is a numbered ERROR event (default 20)")
    p.add_argument("--traceback-every", type=int, default=10,
                   help="one ERROR event in this many has a traceback (default 10)")
    p.add_argument("--rotate-every", type=float, default=20, help="seconds (default 20)")
    p.add_argument("--restart-every", type=float,
                   help="seconds between kill -9 / SIGTERM (alternating) and a restart "
                        "(default: a fifth of the run, at least 60 s, at most 40 min)")
    p.add_argument("--down-for", type=float, default=1.0,
                   help="seconds logwarden stays down after a kill or SIGTERM (default 1)")
    p.add_argument("--hup-every", type=float, help="seconds (default 45; 300 past 1 h)")
    p.add_argument("--hook-down-every", type=float, help="seconds (default 150; 1200 past 1 h)")
    p.add_argument("--hook-down-for", type=float, help="seconds (default 30; 120 past 1 h)")
    p.add_argument("--freeze-every", type=float, help="seconds (default 60; 300 past 1 h)")
    p.add_argument("--progress-every", type=float, help="seconds (default 60; 300 past 1 h)")
    p.add_argument("--rss-every", type=float, default=10, help="seconds (default 10)")
    p.add_argument("--warmup", type=float, default=30,
                   help="seconds after a start left out of the RSS slope (default 30)")
    p.add_argument("--settle", type=float, default=60,
                   help="an ERROR line not alerted after this many seconds counts as lost in "
                        "progress lines (default 60)")
    p.add_argument("--strict", action="store_true",
                   help="fail on any repeat, also those within the documented kill -9 window")
    p.add_argument("--seed", type=int, default=None, help="seed of the random choices")
    p.add_argument("--keep-logs", action="store_true",
                   help="keep the written logs after a passing run (kept anyway on failure)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every fault as it happens")
    a = p.parse_args(argv)
    a.seconds = (a.hours or 0) * 3600 + (a.minutes or 0) * 60
    long = a.seconds > 3600
    if a.restart_every is None:
        a.restart_every = min(2400.0, max(60.0, a.seconds / 5))
    defaults = dict(hup_every=(45, 300), hook_down_every=(150, 1200),
                    hook_down_for=(30, 120), freeze_every=(60, 300), progress_every=(60, 300))
    for k, (short_v, long_v) in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, long_v if long else short_v)
    a.min_life_for_slope = 600 if long else 60
    if a.systemd and a.freeze_every < 40:
        p.error("--freeze-every must be at least 40 s (logwarden allows 100 restarts an hour "
                "here; more is a hand-over, not a soak)")
    if a.seed is None:
        a.seed = random.randrange(1 << 30)
    if a.dir is None:
        a.dir = os.path.join("/var/lib/logwarden-soak", time.strftime("%Y%m%d-%H%M%S"))
    return a


def main(argv):
    a = parse_args(argv)
    if a.systemd:
        real = os.path.realpath(a.dir)
        for private in ("/tmp", "/var/tmp", "/run"):
            if real == private or real.startswith(private + "/"):
                sys.exit(f"soak: --dir {a.dir} is under {private}, which is private inside the "
                         "systemd namespace; use another dir, or --no-systemd")
        if os.geteuid() != 0:
            sys.exit("soak: the private systemd needs root; run as root, or with --no-systemd")
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"soak: no logwarden binary at {a.bin}; run cargo build --release first")
    os.makedirs(a.dir, exist_ok=True)
    soak = Soak(a)
    print(f"soak: seed {a.seed}; details in {soak.path('soak.log')}", flush=True)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ok = False
    try:
        soak.run()
        ok = soak.report()
    except KeyboardInterrupt:
        print("soak: interrupted; cleaning up", file=sys.stderr)
    except Exception:  # noqa: BLE001 - any failure is reported, then cleaned up
        traceback.print_exc()
    finally:
        soak.cleanup()
    if ok and not a.keep_logs:
        shutil.rmtree(soak.path("logs"), ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
