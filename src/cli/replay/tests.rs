//! Replay tests: a generated week of a bot's log, with known incidents, gives exactly the
//! alerts those incidents should cause, at the times written in the log.

use std::fmt::Write as _;
use std::path::PathBuf;

use jiff::tz::TimeZone;

use super::*;

const CONFIG: &str = r#"
[[watch]]
name = "bot"
files = ["/var/log/bot.log"]
patterns = ["python-logging", "trading"]

[[watch.rule]]
name = "error-burst"
when = "rate"
pattern = "error"
threshold = 5
window = "1m"

[[watch.rule]]
name = "frozen"
when = "stale"
after = "10m"

[[watch.rule]]
name = "no-updates"
when = "absent"
pattern = "activity"
window = "30m"

[[watch.rule]]
name = "disconnects"
when = "match"
pattern = "disconnect"
cooldown = "5m"
"#;

fn config() -> Config {
    config_of(CONFIG)
}

fn config_of(text: &str) -> Config {
    crate::config::load_texts(vec![(PathBuf::from("/etc/logwarden/t.toml"), text.into())])
        .expect("the test config loads")
}

/// Seven days from Monday 2026-11-16 00:00 UTC: an `Update` line every 2 minutes, an info
/// line every 30 s, and these incidents:
/// - Tue 10:00:00-10:00:09: 10 ERROR lines (a burst), each with a 3-line traceback;
/// - Wed 03:00 - 03:20: no line at all (frozen), Updates resume at 03:20;
/// - Thu 12:00 - 13:00: info lines go on, but no Update (absent);
/// - Fri 15:00:00, 15:01:00, 15:10:00: "lost connection" (match, 5 m cooldown).
fn week() -> String {
    let mut log = String::new();
    let start: Timestamp = "2026-11-16T00:00:00Z".parse().unwrap();
    let day = |d: i64, h: i64, m: i64| start.as_second() + d * 86_400 + h * 3600 + m * 60;
    let frozen = day(2, 3, 0)..day(2, 3, 20);
    let no_updates = day(3, 12, 0)..day(3, 13, 0);
    let mut t = start.as_second();
    let end = start.as_second() + 7 * 86_400;
    let stamp = |s: i64| {
        Timestamp::from_second(s)
            .unwrap()
            .strftime("%Y-%m-%d %H:%M:%S,000")
            .to_string()
    };
    while t < end {
        if !frozen.contains(&t) {
            if t % 120 == 0 && !no_updates.contains(&t) {
                writeln!(log, "{} - bot.market - INFO - Update SPY 601.2", stamp(t)).unwrap();
            }
            writeln!(log, "{} - bot.main - INFO - heartbeat ok", stamp(t)).unwrap();
        }
        if t == day(1, 10, 0) {
            for i in 0..10 {
                writeln!(
                    log,
                    "{} - bot.broker - ERROR - order {i} failed",
                    stamp(t + i)
                )
                .unwrap();
                log.push_str("Traceback (most recent call last):\n  File \"bot.py\", line 9\nValueError: boom\n");
            }
        }
        if [day(4, 15, 0), day(4, 15, 1), day(4, 15, 10)].contains(&t) {
            writeln!(
                log,
                "{} - bot.broker - WARNING - lost connection to TWS",
                stamp(t)
            )
            .unwrap();
        }
        t += 30;
    }
    log
}

fn replay(log: &str) -> ReplayReport {
    replay_with(CONFIG, log)
}

fn replay_with(config: &str, log: &str) -> ReplayReport {
    let config = config_of(config);
    let mut r = WatchReplay::new(&config, 0, TimeZone::UTC).unwrap();
    r.read("bot.log", log.as_bytes()).unwrap();
    r.finish()
}

fn brief(r: &ReplayReport) -> Vec<String> {
    r.alerts
        .iter()
        .map(|a| {
            format!(
                "{} {} {}",
                a.at.strftime("%a %H:%M:%S"),
                a.alert.rule,
                a.alert.state.word()
            )
        })
        .collect()
}

#[test]
fn a_generated_week_gives_the_expected_alerts_at_line_time() {
    let log = week();
    let r = replay(&log);
    assert_eq!(
        brief(&r),
        [
            // The 6th ERROR within a minute fires; it resolves when fewer than 6 are left
            // in the window (the one of 10:00:04 leaves it at 10:01:04).
            "Tue 10:00:05 error-burst firing",
            "Tue 10:01:04 error-burst resolved",
            // Last line 02:59:30, silence reaches 10 m at 03:09:30; lines resume at 03:20.
            "Wed 03:09:30 frozen firing",
            "Wed 03:20:00 frozen resolved",
            // Last Update 11:58; 30 m without one at 12:28; back at 13:00.
            "Thu 12:28:00 no-updates firing",
            "Thu 13:00:00 no-updates resolved",
            // The first disconnect is sent, the second held back and sent at the cooldown's
            // end, the third (after it) is sent at once.
            "Fri 15:00:00 disconnects event",
            "Fri 15:05:00 disconnects event",
            "Fri 15:10:00 disconnects event",
        ]
    );
    assert_eq!(r.lines as usize, log.lines().count());
    assert_eq!(r.out_of_order, 0);
    // The 30 traceback lines are joined to their ERROR lines: no event without a time.
    assert_eq!(r.without_timestamp, 0);
    let burst = &r.rules["bot/error-burst"];
    assert_eq!((burst.firing, burst.resolved), (1, 1));
    assert_eq!(burst.firing_for, Duration::from_secs(59));
    assert_eq!(r.rules["bot/disconnects"].events, 3);
    assert_eq!(r.first.unwrap().to_string(), "2026-11-16T00:00:00Z");
    // The lines before it are quoted too, as the daemon does.
    assert_eq!(r.alerts[0].alert.context.len(), 3);
    assert!(r.alerts[0].alert.context[2].contains("order 4 failed"));
    let quoted = r.alerts[0].alert.line.as_deref().unwrap();
    assert!(
        quoted.contains("order 5 failed") && quoted.contains("ValueError"),
        "{quoted}"
    );
}

#[test]
fn lines_without_time_take_the_last_one_and_going_back_in_time_is_clamped() {
    let log = "\
2026-11-16 10:00:00,000 - x - INFO - start
no time here
2026-11-16 09:00:00,000 - x - INFO - an hour earlier
2026-11-16 10:20:00,000 - x - INFO - later
";
    let r = replay(log);
    assert_eq!(r.without_timestamp, 1);
    assert_eq!(r.out_of_order, 1);
    // 20 minutes without a line after 10:00: stale fires at 10:10, resolves at 10:20. The
    // Updates never came (absent at 10:30 is after the last line: the end is not silence).
    assert_eq!(
        brief(&r),
        ["Mon 10:10:00 frozen firing", "Mon 10:20:00 frozen resolved"]
    );
}

#[test]
fn garbage_and_invalid_utf8_never_panic() {
    let mut log = Vec::new();
    log.extend_from_slice(b"\xff\xfe\x00 ERROR \x80\n");
    log.extend_from_slice(&[b'2'; 200_000]);
    log.extend_from_slice(b"\n2026-11-16 10:00:00,000 ERROR [\xff\n[\n<\n");
    let config = config();
    let mut r = WatchReplay::new(&config, 0, TimeZone::UTC).unwrap();
    r.read("x", log.as_slice()).unwrap();
    let report = r.finish();
    assert_eq!(report.lines, 5);
}

const MARKET: &str = r#"
[[watch]]
name = "bot"
files = ["/var/log/bot.log"]
patterns = ["trading"]

[[watch.rule]]
name = "frozen"
when = "stale"
after = "10m"
active = "Mon-Fri 09:30-16:00 America/New_York"
holidays = ["2026-11-26"]

[[watch.rule]]
name = "no-updates"
when = "absent"
pattern = "activity"
window = "30m"
active = "Mon-Fri 09:30-16:00 America/New_York"
holidays = ["2026-11-26"]
"#;

/// An `Update` line every 2 minutes from `open` to `close` (UTC seconds), except in `gaps`
/// (`[from, to)`).
fn session(log: &mut String, open: i64, close: i64, gaps: &[(i64, i64)]) {
    let mut t = open;
    while t < close {
        if !gaps.iter().any(|&(from, to)| (from..to).contains(&t)) {
            let at = Timestamp::from_second(t).unwrap();
            writeln!(
                log,
                "{} Update SPY 601.2",
                at.strftime("%Y-%m-%dT%H:%M:%SZ")
            )
            .unwrap();
        }
        t += 120;
    }
}

fn at(s: &str) -> i64 {
    s.parse::<Timestamp>().unwrap().as_second()
}

#[test]
fn a_quiet_night_weekend_and_holiday_raise_nothing_and_windows_start_at_the_open() {
    let mut log = String::new();
    // Mon 2026-11-23 .. Fri 11-27, EST: 09:30-16:00 is 14:30Z-21:00Z. Thursday is a
    // holiday (no line at all). Tuesday: no Update 11:00-12:00 local. Wednesday: the bot
    // starts at 09:45, not 09:30. Friday: it stops at 15:55, before the close.
    session(
        &mut log,
        at("2026-11-23T14:30:00Z"),
        at("2026-11-23T21:00:00Z"),
        &[],
    );
    session(
        &mut log,
        at("2026-11-24T14:30:00Z"),
        at("2026-11-24T21:00:00Z"),
        &[(at("2026-11-24T16:00:00Z"), at("2026-11-24T17:00:00Z"))],
    );
    session(
        &mut log,
        at("2026-11-25T14:46:00Z"),
        at("2026-11-25T21:00:00Z"),
        &[],
    );
    session(
        &mut log,
        at("2026-11-27T14:30:00Z"),
        at("2026-11-27T20:56:00Z"),
        &[],
    );
    // The next Monday's open ends the replay.
    session(
        &mut log,
        at("2026-11-30T14:30:00Z"),
        at("2026-11-30T14:40:00Z"),
        &[],
    );
    let r = replay_with(MARKET, &log);
    assert_eq!(
        brief(&r),
        [
            // Tuesday: the last Update 10:58 local, 30 minutes later (and the lines of the
            // stale rule's watch stopped too, 10 minutes after the last line).
            "Tue 16:08:00 frozen firing",
            "Tue 16:28:00 no-updates firing",
            "Tue 17:00:00 frozen resolved",
            "Tue 17:00:00 no-updates resolved",
            // Wednesday: counted from the open (09:30), not from Tuesday's close.
            "Wed 14:40:00 frozen firing",
            "Wed 14:46:00 frozen resolved",
        ]
    );
}

#[test]
fn the_schedule_follows_new_york_dst_in_replayed_time() {
    let mut log = String::new();
    // Friday 2026-03-06 (EST) 09:30-16:00 local is 14:30Z-21:00Z; Monday 03-09 (EDT, after
    // the change on Sunday) it is 13:30Z-20:00Z. A schedule stuck at UTC-5 would see Monday
    // 20:00Z-21:00Z as open and silent, and Monday 13:30Z as before the open.
    session(
        &mut log,
        at("2026-03-06T14:30:00Z"),
        at("2026-03-06T21:00:00Z"),
        &[],
    );
    session(
        &mut log,
        at("2026-03-09T13:30:00Z"),
        at("2026-03-09T20:00:00Z"),
        &[],
    );
    session(
        &mut log,
        at("2026-03-10T13:30:00Z"),
        at("2026-03-10T13:32:00Z"),
        &[],
    );
    let r = replay_with(MARKET, &log);
    assert_eq!(brief(&r), Vec::<String>::new());
}

const LEARNING: &str = r#"
[[watch]]
name = "bot"
files = ["/var/log/bot.log"]
patterns = ["python-logging"]

[[watch.rule]]
name = "new-errors"
when = "new-kind"
pattern = "error"
learn = "1h"

[[watch.rule]]
name = "error-rate"
when = "anomaly"
pattern = "error"
learn = "1h"
min_count = 5
"#;

#[test]
fn learning_rules_learn_on_line_time() {
    let mut log = String::new();
    let start = at("2026-11-23T00:00:00Z");
    // Three hours, two ValueErrors a minute (other numbers each time); at 02:30 a KeyError
    // appears; at 02:40 a minute with 30 errors.
    for m in 0..180 {
        let t = start + m * 60;
        let n = if m == 160 { 30 } else { 2 };
        for k in 0..n {
            let stamp = Timestamp::from_second(t + k).unwrap();
            let exception = if m == 150 && k == 0 {
                "KeyError"
            } else {
                "ValueError"
            };
            writeln!(
                log,
                "{} - bot - ERROR - order {} failed\nTraceback (most recent call last):\n  File \"bot.py\", line {k}\n{exception}: bad price {m}.{k}",
                stamp.strftime("%Y-%m-%d %H:%M:%S,000"),
                m * 100 + k
            )
            .unwrap();
        }
    }
    let r = replay_with(LEARNING, &log);
    assert_eq!(
        brief(&r),
        [
            "Mon 02:30:00 new-errors event",
            // Usually 2 a minute (spread: the Poisson floor, sqrt 2): the 8th match of the
            // minute is z = 4.2 > 4.
            "Mon 02:40:07 error-rate firing",
            // The first quiet minute after the burst ends it.
            "Mon 02:42:00 error-rate resolved",
        ]
    );
}

#[test]
fn replayed_alerts_are_redacted_like_the_daemons() {
    let log = "2026-11-17 10:00:00,000 - bot - INFO - login password=hunter2 ok\n\
               2026-11-17 10:00:01,000 - bot - WARNING - lost connection token=tk-9Qz7Lm2\n";
    let r = replay(log);
    let a = &r.alerts.first().expect("the disconnect is an event").alert;
    let text = format!("{:?} {:?}", a.line, a.context);
    assert!(text.contains("token=[REDACTED]"), "{text}");
    assert!(text.contains("password=[REDACTED]"), "the context: {text}");
    assert!(text.contains("lost connection"), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("tk-9Qz7Lm2"),
        "{text}"
    );
}
