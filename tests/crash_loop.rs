//! The `unit` probe's crash-loop check against a real systemd (PID 1 in a namespace): a unit
//! that systemd keeps restarting (`Restart=always`) fires the probe although it is `active`
//! most of the time.

mod common;
#[path = "common/systemd.rs"]
mod systemd;

use std::time::Duration;

use common::Daemon;
use systemd::{shared_tempdir, SystemdNs};

#[test]
fn a_unit_that_systemd_keeps_restarting_fires_the_crash_loop_probe() {
    let ns = SystemdNs::boot();
    let dir = shared_tempdir();
    // Up for a second, then it dies; systemd starts it again 100 ms later, without end.
    ns.install_unit(
        "crashy.service",
        "[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sh -c 'sleep 1; exit 1'\nRestart=always\nRestartSec=100ms\n",
    );
    let config = dir.path().join("logwarden.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
state_dir = "{dir}/state"
poll_interval = "100ms"

[[watch]]
name = "crashy"
unit = "crashy.service"
files = ["{dir}/crashy.log"]

  [[watch.probe]]
  name = "crash-loop"
  kind = "unit"
  every = "300ms"
  failures = 3
  crash_loop = 2
  crash_window = "1m"
"#,
            dir = dir.path().display()
        ),
    )
    .unwrap();
    ns.systemctl(&["start", "crashy.service"]);
    let mut d = Daemon::start_in_pid_ns(&config, ns.pid(), &systemd::bin());
    let fired = d.wait_alert("crash-loop", "firing", Duration::from_secs(20));
    let summary = fired["summary"].as_str().unwrap_or("");
    // 3 or more: the count may grow while the failures are debounced.
    assert!(
        summary.contains("crash loop: systemd restarted it") && summary.contains("within 1m"),
        "{fired}"
    );
}
