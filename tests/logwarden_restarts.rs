//! A restart of logwarden does not give a failing service a fresh start: what was known about
//! each watch survives it (issue 23). A probe's failure streak goes on across a SIGTERM and a
//! `kill -9` of logwarden: two failures in two runs, then one more is the third in a row,
//! and the restart it asks for names it as its cause.

mod common;
#[path = "common/fake_http.rs"]
mod fake_http;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{config_dir, Daemon};
use fake_http::{FakeHttp, Response};

const CONFIG: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]

  [watch.restart]
  command = ["/usr/bin/touch", "@DIR@/restarted"]
  verify_after = "500ms"
  startup_grace = "0s"

  [[watch.probe]]
  name = "health"
  kind = "http"
  url = "@URL@/health"
  every = "1s"
  timeout = "300ms"
  failures = 3
  then = ["alert", "restart"]
"#;

/// The failures in a row `probes.json` holds for bot/health (0: none saved).
fn saved_failures(state: &Path) -> u64 {
    std::fs::read(state.join("probes.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["probes"]["bot/health"]["failures"].as_u64())
        .unwrap_or(0)
}

/// Waits until the saved streak reaches `n`.
fn wait_saved(state: &Path, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while saved_failures(state) < n {
        assert!(Instant::now() < deadline, "streak {n} never saved");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_probe_failing_across_a_sigterm_and_a_kill_9_of_logwarden_fails_three_times_in_a_row() {
    let server = FakeHttp::start(|_| Response::text(500, "Internal Server Error"));
    let (dir, config) = config_dir(CONFIG);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("@URL@", &server.url())).unwrap();
    std::fs::write(dir.path().join("bot.log"), b"").unwrap();
    let state = dir.path().join("state");

    // First run: one failure, then SIGTERM.
    let mut first = Daemon::start(&config);
    wait_saved(&state, 1);
    first.collect_for(Duration::from_millis(50));
    assert_eq!(
        first.count_alerts("health", "firing"),
        0,
        "one failure is not down"
    );
    assert!(first.stop(), "logwarden stops cleanly");
    assert_eq!(
        saved_failures(&state),
        1,
        "one failure kept over the SIGTERM"
    );

    // Second run: it counts on (2), then kill -9.
    let mut second = Daemon::start(&config);
    wait_saved(&state, 2);
    second.collect_for(Duration::from_millis(50));
    assert_eq!(
        second.count_alerts("health", "firing"),
        0,
        "two are not down"
    );
    let seen = second.kill9();
    assert!(
        !seen.iter().any(|v| common::is_alert(v, "health", "firing")),
        "two failures are not down"
    );

    // Third run: its first check is the third failure in a row.
    let start = Instant::now();
    let mut third = Daemon::start(&config);
    let fired = third.wait_alert("health", "firing", Duration::from_secs(10));
    let after = start.elapsed();
    println!("third failure in a row: fired {after:?} after the start: {fired}");
    let summary = fired["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("failed 3 times in a row"), "{fired}");
    // Counting from 0 would take three checks, 1 s apart.
    assert!(
        after < Duration::from_millis(1500),
        "fired {after:?} after the start"
    );
    // The restart it asks for names the probe and its evidence.
    let restart = third.wait_alert("restart", "event", Duration::from_secs(10));
    let said = restart["summary"].as_str().unwrap_or_default();
    assert!(
        said.contains("because health: probe health failed 3 times in a row"),
        "{restart}"
    );
    assert!(
        dir.path().join("restarted").exists(),
        "the restart command ran"
    );
}

const RATE: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]

  [[watch.rule]]
  name = "error-burst"
  when = "rate"
  pattern = "error"
  threshold = 3
  window = "3s"
"#;

fn errors(from: usize, to: usize) -> Vec<String> {
    (from..to)
        .map(|n| format!("2026-11-23 09:41:42,123 - bot - ERROR - socket timeout {n}"))
        .collect()
}

/// A burst still going on across a restart of logwarden: its rate window starts empty again,
/// but the alert the earlier run sent is not sent a second time, and it resolves once.
#[test]
fn a_burst_across_a_restart_of_logwarden_fires_once_and_resolves_once() {
    let (dir, config) = config_dir(RATE);
    let log = dir.path().join("bot.log");
    common::append(&log, &[]);
    let mut first = Daemon::start(&config);
    first.wait_reading(&log);
    common::append(&log, &errors(0, 6));
    first.wait_alert("error-burst", "firing", Duration::from_secs(10));
    assert!(first.stop(), "logwarden stops cleanly");

    let mut second = Daemon::start(&config);
    second.wait_reading(&log);
    common::append(&log, &errors(6, 12));
    // The burst goes on: the rule fires again in this run, and is not notified again.
    second.wait_for("still firing", Duration::from_secs(10), |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("still firing after the restart of logwarden"))
    });
    // Then it stops: one resolution, for the alert the first run sent.
    second.wait_alert("error-burst", "resolved", Duration::from_secs(15));
    second.collect_for(Duration::from_millis(500));
    for v in second
        .seen
        .iter()
        .filter(|v| v["type"] == "alert" || v["rule"].is_string())
    {
        println!("{v}");
    }
    assert_eq!(
        second.count_alerts("error-burst", "firing"),
        0,
        "not sent twice"
    );
    assert_eq!(
        second.count_alerts("error-burst", "resolved"),
        1,
        "resolved once"
    );
}
