//! Faults logwarden must live through: its `state_dir` full (ENOSPC) or read-only (a small tmpfs in a
//! private mount namespace). It keeps following, matching and alerting, says what is wrong,
//! and writes its state again once there is room.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{append, config_dir, Daemon};

const CONFIG: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]

  [[watch.rule]]
  name = "every-error"
  when = "match"
  pattern = "error"
  cooldown = "0s"
"#;

fn error(n: usize) -> String {
    format!("2026-11-23 09:41:42,123 - bot - ERROR - numbered {n} end")
}

/// A mount namespace (held by an idle process) where `path` is a tmpfs of `size`. Killed by
/// PID when dropped, also when the test fails; the host never sees the mount.
struct SmallDisk {
    anchor: Child,
    path: PathBuf,
}

impl SmallDisk {
    fn start(path: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(path).expect("state dir");
        let anchor = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs -o size={size} tmpfs '{}' && exec sleep infinity",
                path.display()
            ))
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (run the tests as root)");
        let disk = SmallDisk {
            anchor,
            path: path.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(format!("/proc/{}/comm", disk.pid()))
            .map_or(true, |c| c.trim() != "sleep")
        {
            assert!(Instant::now() < deadline, "the namespace did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        disk
    }

    fn pid(&self) -> u32 {
        self.anchor.id()
    }

    /// Runs a shell command inside the namespace.
    fn sh(&self, script: &str) -> bool {
        Command::new("nsenter")
            .args([
                "-t",
                &self.pid().to_string(),
                "-m",
                "--",
                "sh",
                "-c",
                script,
            ])
            .status()
            .is_ok_and(|s| s.success())
    }

    fn fill(&self) {
        let p = self.path.display();
        // dd stops at ENOSPC; that is the point.
        self.sh(&format!(
            "dd if=/dev/zero of='{p}/fill' bs=4k 2>/dev/null; true"
        ));
        assert!(
            !self.sh(&format!("echo x > '{p}/probe'")),
            "the tmpfs is not full"
        );
    }

    fn free(&self) {
        assert!(self.sh(&format!("rm -f '{}/fill'", self.path.display())));
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = self.anchor.kill();
        let _ = self.anchor.wait();
    }
}

fn numbers(d: &Daemon) -> BTreeMap<usize, usize> {
    let mut seen = BTreeMap::new();
    common::count_numbered(&d.seen, "every-error", &mut seen);
    seen
}

fn wait_number(d: &mut Daemon, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !numbers(d).contains_key(&n) {
        assert!(Instant::now() < deadline, "no alert for line {n}");
        d.collect_for(Duration::from_millis(100));
    }
}

#[test]
fn a_full_state_dir_loses_no_alert_and_state_is_written_again_when_room_returns() {
    let (dir, config) = config_dir(CONFIG);
    let state = dir.path().join("state");
    let disk = SmallDisk::start(&state, "512k");
    let log = dir.path().join("bot.log");
    append(
        &log,
        &["2026-11-23 09:41:40,000 - bot - INFO - started".into()],
    );
    let mut d = Daemon::start_in(&config, Some(disk.pid()));
    d.wait_reading(&log);
    append(&log, &[error(1)]);
    wait_number(&mut d, 1);

    disk.fill();
    append(&log, &(2..=5).map(error).collect::<Vec<_>>());
    for n in 2..=5 {
        wait_number(&mut d, n);
    }
    // It says why its state is not kept.
    d.wait_for(
        "the spool or checkpoint error",
        Duration::from_secs(10),
        |v| {
            let m = v["message"].as_str().unwrap_or("");
            v["level"] == "ERROR" || (v["level"] == "WARN" && m.contains("checkpoint"))
        },
    );

    disk.free();
    append(&log, &[error(6)]);
    wait_number(&mut d, 6);
    d.collect_for(Duration::from_millis(1500));
    let seen = numbers(&d);
    println!("state_dir full: alerts for lines 1..6: {seen:?}");
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert!(
        seen.values().all(|&c| c == 1),
        "an alert came twice: {seen:?}"
    );
    assert!(d.stop(), "clean stop");
    // Room again: the last positions were written.
    assert!(
        disk.sh(&format!(
            "grep -q offset '{}/checkpoints.json'",
            state.display()
        )),
        "no checkpoint snapshot after space returned"
    );
}

#[test]
fn a_read_only_state_dir_loses_no_alert_and_is_reported() {
    let (dir, config) = config_dir(CONFIG);
    let state = dir.path().join("state");
    let disk = SmallDisk::start(&state, "1m");
    let log = dir.path().join("bot.log");
    append(
        &log,
        &["2026-11-23 09:41:40,000 - bot - INFO - started".into()],
    );
    let mut d = Daemon::start_in(&config, Some(disk.pid()));
    d.wait_reading(&log);
    append(&log, &[error(1)]);
    wait_number(&mut d, 1);

    // A read-only bind mount on top: files logwarden opens from now on are read-only (one it
    // holds open, the checkpoint journal, stays writable, as after a real remount it would
    // have been refused).
    let s = state.display();
    assert!(disk.sh(&format!(
        "mount --bind '{s}' '{s}' && mount -o remount,bind,ro '{s}'"
    )));
    append(&log, &(2..=4).map(error).collect::<Vec<_>>());
    for n in 2..=4 {
        wait_number(&mut d, n);
    }
    d.wait_for(
        "the read-only state_dir reported",
        Duration::from_secs(10),
        |v| v["level"] == "ERROR" || v["level"] == "WARN",
    );

    assert!(disk.sh(&format!("umount '{s}'")));
    append(&log, &[error(5)]);
    wait_number(&mut d, 5);
    d.collect_for(Duration::from_millis(1500));
    let seen = numbers(&d);
    println!("state_dir read-only: alerts for lines 1..5: {seen:?}");
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=5).collect::<Vec<_>>()
    );
    assert!(
        seen.values().all(|&c| c == 1),
        "an alert came twice: {seen:?}"
    );
    assert!(d.stop(), "clean stop");
}
