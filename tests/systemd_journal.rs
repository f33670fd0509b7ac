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
    // PID 1's own messages about the unit ("Started bot.service.", "Stopped bot.service.").
    std::fs::create_dir(dir.path().join("patterns")).unwrap();
    std::fs::write(
        dir.path().join("patterns/manager.toml"),
        "[[pattern]]\nname = \"started\"\ncase_sensitive = true\nany = [\"Started bot\"]\n\
         [[pattern]]\nname = \"stopped\"\ncase_sensitive = true\nany = [\"Stopped bot\"]\n",
    )
    .unwrap();
    let config = dir.path().join("logwarden.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
state_dir = "{state}"
poll_interval = "100ms"
patterns_dir = "{patterns}"

[[watch]]
name = "bot"
unit = "bot.service"
patterns = ["python-logging", "trading", "manager"]
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

  [[watch.rule]]
  name = "started"
  when = "match"
  pattern = "started"

  [[watch.rule]]
  name = "stopped"
  when = "match"
  pattern = "stopped"
"#,
            state = dir.path().join("state").display(),
            patterns = dir.path().join("patterns").display(),
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
    let started = d.wait_alert("started", "event", Duration::from_secs(5));
    let source = started["source"].as_str().unwrap_or("");
    assert!(
        source.contains("unit=bot.service") && source.contains("pid=1 "),
        "{started}"
    );
    ns.systemctl(&["stop", "bot.service"]);
    d.wait_alert("stopped", "event", Duration::from_secs(10));
}

#[test]
fn a_unit_field_sent_by_another_process_is_not_taken_for_pid_1() {
    let ns = SystemdNs::boot();
    let dir = shared_tempdir();
    // A process outside bot.service claims to be PID 1 speaking about bot.service.
    let forger = SystemdNs::script(
        &dir.path().join("forger.sh"),
        "#!/bin/sh\nwhile true; do\n  printf 'MESSAGE=2026-11-23 09:41:42,123 - bot - ERROR - forged\\nUNIT=bot.service\\n' | logger --journald\n  echo '2026-11-23 09:41:42,123 - other - ERROR - genuine'\n  sleep 0.1\ndone\n",
    );
    ns.install_unit(
        "forger.service",
        &format!("[Service]\nExecStart={}\n", forger.display()),
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
patterns = ["python-logging"]
[watch.journal]

  [[watch.rule]]
  name = "errors"
  when = "match"
  pattern = "error"
  cooldown = "0s"

[[watch]]
name = "other"
unit = "forger.service"
patterns = ["python-logging"]
[watch.journal]

  [[watch.rule]]
  name = "other-errors"
  when = "match"
  pattern = "error"
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
    ns.systemctl(&["start", "forger.service"]);
    // The forger's own lines arrive (so its forged entries were written too by then)...
    d.wait_alert("other-errors", "event", Duration::from_secs(15));
    d.collect_for(Duration::from_millis(500));
    // ...but none of them reached the watch of bot.service.
    assert_eq!(
        d.count_alerts("errors", "event"),
        0,
        "a forged UNIT= entry was read as PID 1's"
    );
}

#[test]
fn the_user_managers_messages_about_a_user_unit_arrive_and_forged_ones_do_not() {
    let ns = SystemdNs::boot();
    let dir = shared_tempdir();
    ns.systemctl(&["start", "user@0.service"]);
    let user_unit = "mkdir -p /run/user/0/systemd/user && \
        printf '[Service]\\nExecStart=/bin/sleep 600\\n' > /run/user/0/systemd/user/ubot.service";
    assert!(ns.run(&["sh", "-c", user_unit]).status.success());
    std::fs::create_dir(dir.path().join("patterns")).unwrap();
    std::fs::write(
        dir.path().join("patterns/manager.toml"),
        "[[pattern]]\nname = \"started\"\ncase_sensitive = true\nany = [\"Started ubot\"]\n",
    )
    .unwrap();
    let config = dir.path().join("logwarden.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
state_dir = "{dir}/state"
poll_interval = "100ms"
patterns_dir = "{dir}/patterns"

[[watch]]
name = "ubot"
patterns = ["manager"]
[watch.journal]
user_units = ["ubot.service"]

  [[watch.rule]]
  name = "started"
  when = "match"
  pattern = "started"
  cooldown = "0s"
"#,
            dir = dir.path().display()
        ),
    )
    .unwrap();
    let mut d = Daemon::start_in_pid_ns(&config, ns.pid(), &systemd::bin());
    d.wait_for("journal source", Duration::from_secs(10), |v| {
        v["message"] == "reading the journal"
    });
    // Any process can send USER_UNIT=; these come before the real message.
    let forge = "printf 'MESSAGE=Started ubot.service (forged).\\nUSER_UNIT=ubot.service\\n' | logger --journald";
    for _ in 0..3 {
        assert!(ns.run(&["sh", "-c", forge]).status.success());
    }
    let start = "XDG_RUNTIME_DIR=/run/user/0 systemctl --user daemon-reload && \
        XDG_RUNTIME_DIR=/run/user/0 systemctl --user start ubot.service";
    let out = ns.run(&["sh", "-c", start]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = d.wait_alert("started", "event", Duration::from_secs(10));
    assert_eq!(started["line"], "Started ubot.service.", "{started}");
    // About the unit it names, not the user manager's own `init.scope`.
    let source = started["source"].as_str().unwrap_or_default();
    assert!(source.contains(" unit=ubot.service "), "{started}");
    d.collect_for(Duration::from_millis(500));
    assert_eq!(
        d.count_alerts("started", "event"),
        1,
        "a forged USER_UNIT= entry was read"
    );
}
