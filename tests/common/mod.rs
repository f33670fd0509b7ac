//! Shared helpers for integration tests: run the real `logwarden` binary and read what it says.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Fails the test unless `promtool check metrics` (Debian's `prometheus`) accepts `metrics`,
/// a scrape of `/metrics`.
pub fn promtool_check_metrics(metrics: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    promtool
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(metrics.as_bytes())
        .expect("write to promtool");
    let out = promtool.wait_with_output().expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool rejects /metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_logwarden")
}

/// A running `logwarden run`, killed when dropped (also when a test fails).
pub struct Daemon {
    child: Child,
    lines: mpsc::Receiver<Value>,
    /// Every JSON line seen so far (alerts and logs).
    pub seen: Vec<Value>,
}

impl Daemon {
    /// Starts `logwarden --log-format json run --config CONFIG`.
    pub fn start(config: &Path) -> Daemon {
        Daemon::start_in(config, None)
    }

    /// Like `start`, inside the mount namespace of process `ns_pid` (a private journal).
    pub fn start_in(config: &Path, ns_pid: Option<u32>) -> Daemon {
        let cmd = match ns_pid {
            Some(pid) => {
                let mut c = Command::new("nsenter");
                c.args(["-t", &pid.to_string(), "-m", "--"]).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        Daemon::spawn(cmd, config)
    }

    /// Like `start`, inside the PID and mount namespaces of a booted systemd (PID 1 `pid1`).
    /// The binary is `program`: a copy the namespace can see (its `/tmp` is private).
    pub fn start_in_pid_ns(config: &Path, pid1: u32, program: &Path) -> Daemon {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &pid1.to_string(), "-p", "-m", "--"])
            .arg(program);
        Daemon::spawn(cmd, config)
    }

    fn spawn(mut cmd: Command, config: &Path) -> Daemon {
        let mut child = cmd
            .args(["--log-format", "json", "run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start logwarden");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "raw": line }));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Daemon {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the process used so far (user + system), from /proc.
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the `(comm)`, which may hold spaces: utime and stime are the 12th and
        // 13th of them, in clock ticks (100 a second on Linux).
        let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
        let f: Vec<u64> = after
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        Duration::from_millis(ticks * 10)
    }

    /// Waits until a line satisfies `pred`; panics with everything seen on timeout.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "timed out after {timeout:?} waiting for {what}; seen:\n{}",
                    self.seen
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    /// Waits for an alert of `rule` in `state` ("firing", "resolved", "event").
    pub fn wait_alert(&mut self, rule: &str, state: &str, timeout: Duration) -> Value {
        self.wait_for(&format!("alert {rule} {state}"), timeout, |v| {
            is_alert(v, rule, state)
        })
    }

    /// Waits until the follower has opened `path`.
    pub fn wait_reading(&mut self, path: &Path) {
        let p = path.display().to_string();
        self.wait_for(&format!("reading {p}"), Duration::from_secs(10), |v| {
            v["message"] == "reading file" && v["path"] == p.as_str()
        });
    }

    /// Collects lines for `d` more.
    pub fn collect_for(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Ok(v) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(v);
        }
    }

    /// Alerts of `rule` in `state` seen so far.
    pub fn count_alerts(&self, rule: &str, state: &str) -> usize {
        self.seen
            .iter()
            .filter(|v| is_alert(v, rule, state))
            .count()
    }

    /// Sends `signal` (`"HUP"`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Sends SIGTERM and waits for a clean exit; returns whether it exited 0.
    /// `stop` for a logwarden started by `start_in_pid_ns`: `nsenter` forks it and does not
    /// pass signals on, so SIGTERM goes to its child, logwarden itself; `nsenter` then ends
    /// with its status.
    pub fn stop_in_pid_ns(mut self) -> bool {
        let Some(inner) = self.forked_child() else {
            return false;
        };
        let _ = Command::new("kill").args(["-TERM", &inner]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// `kill9` for a logwarden started by `start_in_pid_ns` (see `stop_in_pid_ns`).
    pub fn kill9_in_pid_ns(self) -> Vec<Value> {
        if let Some(inner) = self.forked_child() {
            let _ = Command::new("kill").args(["-KILL", &inner]).status();
        }
        self.kill9()
    }

    /// The PID of the process `nsenter` forked (logwarden in a PID namespace).
    fn forked_child(&self) -> Option<String> {
        let me = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")).ok()?;
        children.split_whitespace().next().map(str::to_string)
    }

    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Daemon {
    /// Like `stop`, keeping the process's last lines (what it logs while stopping) in
    /// `seen`; returns whether it exited 0.
    pub fn stop_collecting(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut exited = None;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                exited = Some(status.success());
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Its stderr is closed now: the reader ends after the last line.
        while let Ok(v) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(v);
        }
        exited.unwrap_or(false)
    }

    /// Kills the process with SIGKILL (no chance to flush anything) and collects its output.
    pub fn kill9(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(v) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(v);
        }
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counts, per number, the `event` alerts of `rule` whose line holds `numbered N ` (the test
/// writers' way of making every line unique), adding to `into`.
pub fn count_numbered(
    seen: &[Value],
    rule: &str,
    into: &mut std::collections::BTreeMap<usize, usize>,
) {
    for v in seen {
        if !is_alert(v, rule, "event") {
            continue;
        }
        if let Some(n) = v["line"]
            .as_str()
            .and_then(|l| l.split("numbered ").nth(1))
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse::<usize>().ok())
        {
            *into.entry(n).or_insert(0) += 1;
        }
    }
}

pub fn is_alert(v: &Value, rule: &str, state: &str) -> bool {
    v["type"] == "alert" && v["rule"] == rule && v["state"] == state
}

/// Appends lines to a file (creating it), flushing each write.
pub fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log for append");
    for l in lines {
        writeln!(f, "{l}").expect("append");
    }
}

/// A temp dir with a config file written into it; returns (dir, config path).
pub fn config_dir(config: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("logwarden.toml");
    std::fs::write(
        &path,
        config.replace("@DIR@", &dir.path().display().to_string()),
    )
    .expect("write config");
    (dir, path)
}

/// A free loopback port (for `[daemon] listen`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local addr")
        .port()
}

/// A plain HTTP/1.1 GET of `path` on a loopback port: (status code, body).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

/// Debian's logrotate (`scripts/deps.sh --test` installs it).
pub const LOGROTATE: &str = "/usr/sbin/logrotate";

/// Runs `logrotate -s STATE -f CONF` once; panics with its output if it fails.
pub fn logrotate(conf: &Path, state: &Path) {
    let out = Command::new(LOGROTATE)
        .arg("-s")
        .arg(state)
        .arg("-f")
        .arg(conf)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {LOGROTATE} ({e}); scripts/deps.sh --test installs it")
        });
    assert!(
        out.status.success(),
        "logrotate failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The content of a log file or of a rotated generation, decompressed by the real `gzip` when
/// its name ends in `.gz` (an outside check of what logwarden decompresses itself).
pub fn read_decompressed(path: &Path) -> Vec<u8> {
    if path.extension().is_some_and(|e| e == "gz") {
        let out = Command::new("gzip").arg("-dc").arg(path).output().unwrap();
        assert!(out.status.success(), "gzip -dc {}", path.display());
        out.stdout
    } else {
        std::fs::read(path).unwrap()
    }
}
