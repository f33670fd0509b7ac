//! Multi-line events with the real binary: a Python traceback written in pieces (partial
//! writes, lines without their newline yet) reaches the rules and the alert as one event.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{config_dir, Daemon};

const CONFIG: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]

  [[watch.rule]]
  name = "errors"
  when = "match"
  pattern = "error"
  cooldown = "0s"
"#;

#[test]
fn a_traceback_written_in_pieces_arrives_as_one_event() {
    let (dir, config) = config_dir(CONFIG);
    let log = dir.path().join("bot.log");
    std::fs::write(&log, b"").unwrap();
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let pieces: [&[u8]; 5] = [
        b"2026-11-23 09:41:42,002 - bot - ERROR - order failed\nTraceback (most rec",
        b"ent call last):\n  File \"/opt/bot/broker.py\", line 88, in send\n",
        b"    sock.send(data)\nConnectionResetError: [Errno 104] Connection re",
        b"set by peer\n",
        b"2026-11-23 09:41:43,000 - bot - INFO - Update VIX=17.2\n",
    ];
    for p in pieces {
        f.write_all(p).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(120));
    }
    let event = d.wait_alert("errors", "event", Duration::from_secs(5));
    let text = event["line"].as_str().unwrap();
    assert!(
        text.starts_with("2026-11-23 09:41:42,002 - bot - ERROR - order failed\n"),
        "{text}"
    );
    assert!(
        text.ends_with("ConnectionResetError: [Errno 104] Connection reset by peer"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 5, "{text}");
    d.collect_for(Duration::from_millis(800));
    assert_eq!(
        d.count_alerts("errors", "event"),
        1,
        "one event, not one per line"
    );
}

#[test]
fn a_lone_error_line_is_handed_on_after_the_quiet_time() {
    let (dir, config) = config_dir(CONFIG);
    let log = dir.path().join("bot.log");
    std::fs::write(&log, b"").unwrap();
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    common::append(
        &log,
        &["2026-11-23 09:41:42,002 - bot - ERROR - lone".to_string()],
    );
    let started = std::time::Instant::now();
    let event = d.wait_alert("errors", "event", Duration::from_secs(5));
    assert_eq!(
        event["line"],
        "2026-11-23 09:41:42,002 - bot - ERROR - lone"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
