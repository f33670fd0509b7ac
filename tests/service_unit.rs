//! The shipped unit file under a real systemd (PID 1 in a namespace): logwarden reaches
//! `active` (Type=notify), keeps the watchdog fed while it works, and is killed and restarted
//! by systemd when it is frozen with SIGSTOP.

mod common;
#[path = "common/systemd.rs"]
mod systemd;

use std::time::{Duration, Instant};

use systemd::{shared_tempdir, SystemdNs};

fn prop(ns: &SystemdNs, name: &str) -> String {
    let out = ns.run(&[
        "systemctl",
        "show",
        "-p",
        name,
        "--value",
        "logwarden.service",
    ]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_shipped_unit_becomes_active_feeds_the_watchdog_and_is_restarted_when_frozen() {
    let ns = SystemdNs::boot();
    let dir = shared_tempdir();
    let log = dir.path().join("bot.log");
    std::fs::write(
        &log,
        "2026-11-23 09:41:42,123 - bot - INFO - Update VIX=17\n",
    )
    .unwrap();
    let config = dir.path().join("logwarden.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nstate_dir = \"{}\"\npoll_interval = \"200ms\"\n\n[[watch]]\nname = \"bot\"\nfiles = [\"{}\"]\npatterns = [\"trading\"]\n",
            dir.path().join("state").display(),
            log.display()
        ),
    )
    .unwrap();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/logwarden.service"
    ))
    .expect("the shipped unit");
    // The shipped unit with this test's binary, config and state, and short timings.
    let bin = systemd::bin();
    let unit = shipped
        .replace("/usr/bin/logwarden", &bin.display().to_string())
        .replace(
            "/etc/logwarden/logwarden.toml",
            &config.display().to_string(),
        )
        .replace("WatchdogSec=60s", "WatchdogSec=2s")
        .replace("RestartSec=10s", "RestartSec=500ms")
        .replace("TimeoutStopSec=15s", "TimeoutStopSec=2s")
        .replace(
            "StateDirectory=logwarden\n",
            &format!("ReadWritePaths={}\n", dir.path().display()),
        )
        .replace("StateDirectoryMode=0700\n", "")
        .replace("ConfigurationDirectory=logwarden\n", "");
    ns.install_unit("logwarden.service", &unit);
    ns.systemctl(&["start", "logwarden.service"]);
    assert_eq!(prop(&ns, "ActiveState"), "active");
    // Three watchdog periods: still running, never restarted, so the pings arrive.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(prop(&ns, "ActiveState"), "active");
    assert_eq!(
        prop(&ns, "NRestarts"),
        "0",
        "killed by the watchdog while healthy?"
    );
    ns.systemctl(&[
        "kill",
        "--kill-whom=main",
        "--signal=SIGSTOP",
        "logwarden.service",
    ]);
    let frozen = Instant::now();
    let deadline = frozen + Duration::from_secs(30);
    loop {
        if prop(&ns, "NRestarts") != "0" && prop(&ns, "ActiveState") == "active" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "systemd did not restart the frozen logwarden"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "frozen logwarden restarted by the watchdog after {:.1}s",
        frozen.elapsed().as_secs_f64()
    );
}

#[test]
fn the_hardened_unit_can_still_restart_a_watched_unit() {
    let ns = SystemdNs::boot();
    let dir = shared_tempdir();
    let log = dir.path().join("bot.log");
    let bot = SystemdNs::script(
        &dir.path().join("bot.sh"),
        &format!(
            "#!/bin/sh\nwhile true; do echo \"2026-11-23 - bot - INFO - Update VIX=17\" >> {}; sleep 0.2; done\n",
            log.display()
        ),
    );
    ns.install_unit(
        "bot.service",
        &format!("[Service]\nExecStart={}\n", bot.display()),
    );
    ns.systemctl(&["start", "bot.service"]);
    let config = dir.path().join("logwarden.toml");
    std::fs::write(
        &config,
        format!(
            r#"[daemon]
state_dir = "{state}"
poll_interval = "200ms"

[[watch]]
name = "bot"
unit = "bot.service"
files = ["{log}"]
patterns = ["trading"]
  [watch.restart]
  verify_after = "1s"
  startup_grace = "1s"
  [[watch.rule]]
  name = "log-stale"
  when = "stale"
  after = "2s"
  then = ["alert", "restart"]
"#,
            state = dir.path().join("state").display(),
            log = log.display()
        ),
    )
    .unwrap();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/logwarden.service"
    ))
    .expect("the shipped unit");
    let unit = shipped
        .replace("/usr/bin/logwarden", &systemd::bin().display().to_string())
        .replace(
            "/etc/logwarden/logwarden.toml",
            &config.display().to_string(),
        )
        .replace(
            "StateDirectory=logwarden\n",
            &format!("ReadWritePaths={}\n", dir.path().display()),
        )
        .replace("StateDirectoryMode=0700\n", "")
        .replace("ConfigurationDirectory=logwarden\n", "");
    ns.install_unit("logwarden.service", &unit);
    ns.systemctl(&["start", "logwarden.service"]);
    std::thread::sleep(Duration::from_secs(2));
    ns.systemctl(&[
        "kill",
        "--kill-whom=main",
        "--signal=SIGSTOP",
        "bot.service",
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = ns.run(&[
            "systemctl",
            "show",
            "-p",
            "ExecMainStartTimestampMonotonic,ActiveState",
            "bot.service",
        ]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let journal = ns.run(&[
            "journalctl",
            "-u",
            "logwarden.service",
            "-o",
            "cat",
            "--no-pager",
        ]);
        let jtext = String::from_utf8_lossy(&journal.stdout).to_string();
        if jtext.contains("verified healthy") {
            assert!(text.contains("ActiveState=active"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hardened logwarden did not restart bot.service; its journal:\n{jtext}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
