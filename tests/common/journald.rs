//! A private, real `systemd-journald` for a test: its own mount namespace with tmpfs on
//! `/run` and `/var/log/journal`, so tests running in parallel never share a journal and
//! nothing touches the host's.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The namespace (held by an idle process) and the journald running in it. Both are killed
/// by PID when dropped, also when the test fails.
pub struct PrivateJournal {
    anchor: Child,
    journald: Option<Child>,
}

impl PrivateJournal {
    pub fn start() -> PrivateJournal {
        let anchor = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount -t tmpfs tmpfs /run && mkdir -p /var/log/journal && \
                 mount -t tmpfs tmpfs /var/log/journal && exec sleep infinity",
            )
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (run the tests as root)");
        let mut j = PrivateJournal {
            anchor,
            journald: None,
        };
        // The shell execs `sleep` once the mounts are in place.
        wait_until("the namespace", || {
            std::fs::read_to_string(format!("/proc/{}/comm", j.pid()))
                .is_ok_and(|c| c.trim() == "sleep")
        });
        j.start_journald();
        j
    }

    /// The PID whose mount namespace holds the journal (for `nsenter -t`).
    pub fn pid(&self) -> u32 {
        self.anchor.id()
    }

    fn socket(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/root/run/systemd/journal/socket",
            self.pid()
        ))
    }

    /// Starts journald (again) in the namespace and waits for its socket.
    pub fn start_journald(&mut self) {
        let _ = std::fs::remove_file(self.socket());
        let child = Command::new("nsenter")
            .args([
                "-t",
                &self.pid().to_string(),
                "-m",
                "--",
                "/lib/systemd/systemd-journald",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start systemd-journald");
        self.journald = Some(child);
        let socket = self.socket();
        wait_until("journald's socket", || socket.exists());
    }

    /// Kills journald (SIGKILL), like a crash.
    pub fn kill_journald(&mut self) {
        if let Some(mut c) = self.journald.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Writes lines to the journal with `systemd-cat -t IDENT -p PRIORITY`, one entry each.
    pub fn write(&self, ident: &str, priority: &str, lines: &[String]) {
        let mut child = Command::new("nsenter")
            .args([
                "-t",
                &self.pid().to_string(),
                "-m",
                "--",
                "systemd-cat",
                "-t",
                ident,
                "-p",
                priority,
            ])
            .stdin(Stdio::piped())
            .spawn()
            .expect("systemd-cat");
        {
            let mut stdin = child.stdin.take().expect("stdin");
            for l in lines {
                writeln!(stdin, "{l}").expect("write to systemd-cat");
            }
        }
        assert!(child.wait().expect("systemd-cat").success());
    }
}

impl PrivateJournal {
    /// Runs `journalctl ARGS...` in the namespace (on the private journal), asserting success.
    pub fn journalctl(&self, args: &[&str]) {
        let out = Command::new("nsenter")
            .args(["-t", &self.pid().to_string(), "-m", "--", "journalctl"])
            .args(args)
            .output()
            .expect("journalctl");
        assert!(
            out.status.success(),
            "journalctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Archived journal files (`NAME@...journal`, made by rotation) in the private journal.
    pub fn archived_files(&self) -> usize {
        // journald writes to /run/log/journal until asked to flush to /var/log/journal.
        ["run/log/journal", "var/log/journal"]
            .iter()
            .map(|d| PathBuf::from(format!("/proc/{}/root/{d}", self.pid())))
            .filter_map(|root| std::fs::read_dir(root).ok())
            .flatten()
            .flatten()
            .filter_map(|machine| std::fs::read_dir(machine.path()).ok())
            .flatten()
            .flatten()
            .filter(|f| {
                let name = f.file_name().to_string_lossy().into_owned();
                name.contains('@') && name.ends_with(".journal")
            })
            .count()
    }

    /// Waits until the journal holds at least `n` entries of `ident` (journald has written
    /// them, not just received them: killing it earlier would lose them before any reader
    /// could see them).
    pub fn wait_stored(&self, ident: &str, n: usize) {
        wait_until("entries stored by journald", || {
            Command::new("nsenter")
                .args([
                    "-t",
                    &self.pid().to_string(),
                    "-m",
                    "--",
                    "journalctl",
                    "-q",
                    "-t",
                    ident,
                    "-o",
                    "cat",
                ])
                .output()
                .map(|o| {
                    o.stdout
                        .split(|&b| b == b'\n')
                        .filter(|l| !l.is_empty())
                        .count()
                        >= n
                })
                .unwrap_or(false)
        });
    }
}

impl Drop for PrivateJournal {
    fn drop(&mut self) {
        self.kill_journald();
        let _ = self.anchor.kill();
        let _ = self.anchor.wait();
    }
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
