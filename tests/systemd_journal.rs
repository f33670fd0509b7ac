//! A real unit under a real systemd (PID 1 in a namespace) logs to the journal; logwarden
//! follows it by `_SYSTEMD_UNIT` and also sees PID 1's own messages about the unit.

mod common;
#[path = "common/systemd.rs"]
mod systemd;

use std::time::Duration;

use common::Daemon;
use systemd::{shared_tempdir, SystemdNs};

#[test]
fn a_real_unit_is_followed_by_its_systemd_unit_field() {
    let ns = SystemdNs::boot();
    let dir = shared_tempdir();
    let bot = SystemdNs::script(
        &dir.path().join("bot.sh"),
        "#!/bin/sh\ni=0\nwhile true; do\n  i=$((i+1))\n  echo \"2026-11-23 09:41:42,123 - bot - INFO - Update VIX=17.$i\"\n  if [ $((i % 5)) = 0 ]; then echo \"2026-11-23 09:41:42,123 - bot - ERROR - socket timeout $i\"; fi\n  sleep 0.1\ndone\n",
    );
    ns.install_unit(
        "bot.service",
        &format!("[Service]\nExecStart={}\n", bot.display()),
    );
    let config = dir.path().join("logwarden.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
state_dir = "{state}"
poll_interval = "100ms"

[[watch]]
name = "bot"
unit = "bot.service"
patterns = ["python-logging", "trading"]
[watch.journal]

  [[watch.rule]]
  name = "errors"
  when = "match"
  pattern = "error"
  cooldown = "0s"

  [[watch.rule]]
  name = "activity"
  when = "match"
  pattern = "activity"
  cooldown = "1h"
"#,
            state = dir.path().join("state").display()
        ),
    )
    .unwrap();
    let mut d = Daemon::start_in_pid_ns(&config, ns.pid(), &systemd::bin());
    d.wait_for("journal source", Duration::from_secs(10), |v| {
        v["message"] == "reading the journal"
    });
    ns.systemctl(&["start", "bot.service"]);
    let ev = d.wait_alert("errors", "event", Duration::from_secs(15));
    let source = ev["source"].as_str().unwrap_or("");
    assert!(source.contains("unit=bot.service"), "{ev}");
    assert!(
        ev["line"].as_str().unwrap_or("").contains("socket timeout"),
        "{ev}"
    );
    d.wait_alert("activity", "event", Duration::from_secs(5));
}
