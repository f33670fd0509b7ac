//! Old alerts stay old: lines a restarted logwarden reads from a file it was following were
//! written while it was down. A burst among them is marked as from the backlog, with the time
//! it was written, and resolves without waiting a window of real time; a log that went silent
//! long ago is stale as soon as the catch-up is over, not `after` later.
//!
//! The file follower tells its sink about the backlog (`LineSink::backlog` before the rest of
//! a saved file and before each rotated generation, `caught_up` at the end of the live one).

mod common;

use std::path::Path;
use std::process::Command;
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
  name = "error-burst"
  when = "rate"
  pattern = "error"
  threshold = 20
  window = "1m"

  [[watch.rule]]
  name = "log-stale"
  when = "stale"
  after = "5m"
"#;

fn info(n: usize) -> String {
    format!(
        "2026-11-23 09:41:{:02},000 - bot - INFO - Update numbered {n} end",
        n % 60
    )
}

/// Sets the file's modification time (`touch -d`, e.g. "yesterday").
fn touch(path: &Path, when: &str) {
    let ok = Command::new("touch")
        .args(["-d", when])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "touch -d {when}");
}

/// Runs logwarden once over the log so that its position is saved at the log's end.
fn save_position_at_the_end(config: &Path, log: &Path) {
    append(log, &(0..3).map(info).collect::<Vec<_>>());
    let mut d = Daemon::start(config);
    d.wait_reading(log);
    d.collect_for(Duration::from_millis(500));
    assert!(d.stop(), "logwarden stops cleanly");
}

fn time(v: &serde_json::Value, k: &str) -> jiff::Timestamp {
    v[k].as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no {k} time in {v}"))
}

#[test]
fn a_burst_written_yesterday_is_marked_as_from_the_backlog_with_its_time() {
    let (dir, config) = config_dir(CONFIG);
    let log = dir.path().join("bot.log");
    save_position_at_the_end(&config, &log);
    // While logwarden is down: 50 errors within a minute, yesterday.
    let errors: Vec<String> = (0..50)
        .map(|n| {
            format!(
                "2026-11-23 09:41:{:02},000 - bot - ERROR - order rejected numbered {n} end",
                n
            )
        })
        .collect();
    append(&log, &errors);
    touch(&log, "yesterday");
    let mut d = Daemon::start(&config);
    let fired = d.wait_alert("error-burst", "firing", Duration::from_secs(10));
    let age = time(&fired, "at").duration_since(time(&fired, "written"));
    assert!(
        age >= jiff::SignedDuration::from_hours(23),
        "written yesterday, not now: {fired}"
    );
    let t = Instant::now();
    d.wait_alert("error-burst", "resolved", Duration::from_secs(10));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "not a minute of real time later"
    );
}

#[test]
fn a_log_silent_for_two_hours_is_stale_as_soon_as_the_catch_up_is_over() {
    let (dir, config) = config_dir(CONFIG);
    let log = dir.path().join("bot.log");
    save_position_at_the_end(&config, &log);
    append(&log, &(3..10).map(info).collect::<Vec<_>>());
    touch(&log, "2 hours ago");
    let start = Instant::now();
    let mut d = Daemon::start(&config);
    let fired = d.wait_alert("log-stale", "firing", Duration::from_secs(20));
    println!(
        "stale after a catch-up: fired {:?} after start: {fired}",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "not 5 minutes later"
    );
    assert!(
        fired["summary"].as_str().unwrap_or("").contains("2h"),
        "counts the silence from the last line written: {fired}"
    );
}

const FIVE_SECONDS_STALE: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]

  [[watch.rule]]
  name = "log-stale"
  when = "stale"
  after = "5s"
"#;

/// A bot silent for 4 of its 5 stale seconds when logwarden (re)starts: the silence counts
/// from the file's last write, so the alert fires about 1 s after the start, not 5 s.
fn stale_counts_from_the_last_write(resume_at_the_end: bool) -> Duration {
    let (dir, config) = config_dir(FIVE_SECONDS_STALE);
    let log = dir.path().join("bot.log");
    if resume_at_the_end {
        save_position_at_the_end(&config, &log);
    } else {
        append(&log, &(0..3).map(info).collect::<Vec<_>>());
    }
    touch(&log, "4 seconds ago");
    let start = Instant::now();
    let mut d = Daemon::start(&config);
    let fired = d.wait_alert("log-stale", "firing", Duration::from_secs(20));
    let after = start.elapsed();
    println!("stale 4 s into a 5 s silence: fired {after:?} after start: {fired}");
    assert!(
        fired["summary"]
            .as_str()
            .unwrap_or("")
            .contains("no new line for"),
        "{fired}"
    );
    after
}

#[test]
fn a_restart_of_logwarden_gives_a_silent_bot_no_fresh_stale_window() {
    for resume in [false, true] {
        let after = stale_counts_from_the_last_write(resume);
        assert!(
            after < Duration::from_millis(3500),
            "resume at the end {resume}: fired {after:?} after the start, not about 1 s"
        );
    }
}

const ABSENT_SIX_SECONDS: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging", "trading"]

  [[watch.rule]]
  name = "no-update"
  when = "absent"
  pattern = "activity"
  window = "6s"
"#;

/// A python-logging line with the local time `ago` before now.
fn update_written(ago: Duration, n: usize) -> String {
    let at = jiff::Zoned::now()
        .checked_sub(jiff::SignedDuration::try_from(ago).unwrap())
        .unwrap();
    format!(
        "{} - bot - INFO - Update numbered {n} end",
        at.strftime("%Y-%m-%d %H:%M:%S,000")
    )
}

/// The bot's last `Update` was written 4 s before logwarden (re)starts, read in its catch-up:
/// the 6 s window counts from the lines the catch-up vouches for, so `absent` fires about
/// 2 s after the start, not 6 s.
#[test]
fn an_absent_window_counts_from_what_the_catch_up_read_not_from_the_start() {
    let (dir, config) = config_dir(ABSENT_SIX_SECONDS);
    let log = dir.path().join("bot.log");
    save_position_at_the_end(&config, &log);
    append(&log, &[update_written(Duration::from_secs(4), 1)]);
    touch(&log, "4 seconds ago");
    let start = Instant::now();
    let mut d = Daemon::start(&config);
    let fired = d.wait_alert("no-update", "firing", Duration::from_secs(20));
    let after = start.elapsed();
    println!("last Update 4 s before the start, window 6 s: fired {after:?} after it: {fired}");
    assert!(
        after < Duration::from_millis(4500),
        "fired {after:?} after the start, not about 2 s"
    );
}
