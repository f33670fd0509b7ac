//! The real binary against real files: bursts, silence and missing activity become exactly the
//! alerts they should, once each.

mod common;

use std::time::Duration;

use common::{append, config_dir, Daemon};

const CONFIG: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging", "trading"]

  [[watch.rule]]
  name = "error-burst"
  when = "rate"
  pattern = "error"
  threshold = 5
  resolve_below = 2
  window = "2s"
  severity = "critical"

  [[watch.rule]]
  name = "log-stale"
  when = "stale"
  # 15 times the writers' 200 ms gap: a test process starved under a loaded CI machine (load
  # average 9 seen) must not look like a stale log. 1.5 s once fired while a writer wrote.
  after = "3s"

  [[watch.rule]]
  name = "no-activity"
  when = "absent"
  pattern = "activity"
  window = "2500ms"
"#;

fn info(n: usize) -> String {
    format!("2026-11-23 09:41:42,123 - bot - INFO - no signal {n}")
}

fn error(n: usize) -> String {
    format!("2026-11-23 09:41:42,123 - bot - ERROR - socket timeout {n}")
}

#[test]
fn error_burst_fires_exactly_one_rate_alert_then_one_resolved() {
    let (dir, config) = config_dir(CONFIG);
    let log = dir.path().join("bot.log");
    append(
        &log,
        &[error(0), error(0), error(0), error(0), error(0), error(0)],
    );
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    // Lines present before start are skipped (start_at = "end"): no alert yet.
    append(&log, &(1..=30).map(error).collect::<Vec<_>>());
    let firing = d.wait_alert("error-burst", "firing", Duration::from_secs(5));
    assert!(
        firing["summary"].as_str().unwrap().contains("6 matches"),
        "{firing}"
    );
    assert!(
        firing["line"].as_str().unwrap().contains("ERROR"),
        "{firing}"
    );
    // Keep the log alive with quiet lines while the window drains.
    for i in 0..15 {
        append(&log, &[info(i)]);
        std::thread::sleep(Duration::from_millis(200));
    }
    d.wait_alert("error-burst", "resolved", Duration::from_secs(5));
    d.collect_for(Duration::from_millis(500));
    assert_eq!(d.count_alerts("error-burst", "firing"), 1);
    assert_eq!(d.count_alerts("error-burst", "resolved"), 1);
    assert!(d.stop(), "clean exit on SIGTERM");
}

#[test]
fn a_file_that_stops_growing_fires_stale_and_resolves_when_lines_resume() {
    let (dir, config) = config_dir(CONFIG);
    let log = dir.path().join("bot.log");
    append(&log, &[info(0)]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    for i in 0..8 {
        append(&log, &[info(i)]);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        d.count_alerts("log-stale", "firing"),
        0,
        "not stale while writing"
    );
    let fired = d.wait_alert("log-stale", "firing", Duration::from_secs(8));
    assert!(
        fired["summary"].as_str().unwrap().contains("no new line"),
        "{fired}"
    );
    append(&log, &[info(99)]);
    d.wait_alert("log-stale", "resolved", Duration::from_secs(5));
    d.collect_for(Duration::from_millis(300));
    assert_eq!(d.count_alerts("log-stale", "firing"), 1);
}

#[test]
fn a_log_that_never_writes_is_stale_counted_from_start() {
    let (dir, config) = config_dir(CONFIG);
    let log = dir.path().join("bot.log");
    let mut d = Daemon::start(&config);
    let fired = d.wait_alert("log-stale", "firing", Duration::from_secs(9));
    assert!(
        fired["summary"]
            .as_str()
            .unwrap()
            .contains("since logwarden started"),
        "{fired}"
    );
    // The file appears later: it is read from its start.
    append(&log, &[info(1)]);
    d.wait_alert("log-stale", "resolved", Duration::from_secs(5));
}

#[test]
fn missing_activity_fires_absent_and_resolves_when_it_returns() {
    let (dir, config) = config_dir(CONFIG);
    let log = dir.path().join("bot.log");
    append(&log, &[info(0)]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    // The bot keeps logging, but nothing that shows it trades.
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for i in 0..20 {
                append(&log, &[info(i)]);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let fired = d.wait_alert("no-activity", "firing", Duration::from_secs(6));
    assert!(
        fired["summary"].as_str().unwrap().contains("activity"),
        "{fired}"
    );
    writer.join().unwrap();
    append(
        &log,
        &["2026-11-23 09:41:43,000 - bot - INFO - Update VIX=17.2".to_string()],
    );
    d.wait_alert("no-activity", "resolved", Duration::from_secs(5));
    assert_eq!(
        d.count_alerts("log-stale", "firing"),
        0,
        "the log was never stale"
    );
}
