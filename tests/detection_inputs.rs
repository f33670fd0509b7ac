//! Bad input never panics the detection code: arbitrary bytes as log lines (timestamps,
//! templates, a whole replay) and arbitrary text as schedules.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use proptest::prelude::*;

use logwarden::config::schedule::Schedule;
use logwarden::rules::line_template::{reduce, Templates};
use logwarden::source::timestamp::{LineClock, TimestampFormat};

/// Bytes that look a little like log lines: digits, separators, month names, quotes, junk.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"2026-11-23 09:41:42,123".to_vec()),
        Just(b"Nov  3 09:41:42".to_vec()),
        Just(b"[23/Nov/2026:09:41:42 +0000]".to_vec()),
        Just(b"2026-11-23T09:41:42.5+01:00".to_vec()),
        Just(b"ERROR".to_vec()),
        Just(b"Traceback (most recent call last):".to_vec()),
        Just(b"'quoted".to_vec()),
        Just(b"\"".to_vec()),
        prop::collection::vec(any::<u8>(), 0..12),
        "[0-9:/ .,+TZ-]{0,30}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn timestamps_of_arbitrary_lines_never_panic(l in line()) {
        let now: Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        for tz in ["UTC", "America/New_York"] {
            let mut c = LineClock::new(TimestampFormat::Auto, TimeZone::get(tz).unwrap(), now);
            let _ = c.parse(&l);
        }
        let mut c = LineClock::new(TimestampFormat::Strftime("%d.%m.%Y %H:%M:%S".into()), TimeZone::UTC, now);
        let _ = c.parse(&l);
    }

    #[test]
    fn templates_of_arbitrary_lines_never_panic(l in line()) {
        let text = String::from_utf8_lossy(&l);
        let mut t = Templates::new(3);
        let (_, i) = t.observe(reduce(&text));
        prop_assert!(t.get(i).is_some());
        t.observe(reduce(&format!("{text}\n{text}")));
        prop_assert!(t.len() <= 3);
    }

    #[test]
    fn schedules_of_arbitrary_text_never_panic(text in "[A-Za-z0-9 :;,*/_-]{0,60}") {
        if let Ok(s) = Schedule::parse(&text, Default::default()) {
            let t: Timestamp = "2026-03-08T07:00:00Z".parse().unwrap();
            let _ = s.period_at(t);
        }
    }
}

#[test]
fn a_replay_of_random_bytes_never_panics() {
    let config = logwarden::config::load_texts(vec![(
        "/etc/logwarden/t.toml".into(),
        r#"
[[watch]]
name = "bot"
files = ["/var/log/bot.log"]
patterns = ["python-logging", "trading"]

[[watch.rule]]
name = "burst"
when = "rate"
pattern = "error"
threshold = 2
window = "1m"

[[watch.rule]]
name = "frozen"
when = "stale"
after = "1m"

[[watch.rule]]
name = "new"
when = "new-kind"
pattern = "error"
learn = "1m"

[[watch.rule]]
name = "rate"
when = "anomaly"
pattern = "error"
learn = "1m"
"#
        .into(),
    )])
    .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(200));
    runner
        .run(&prop::collection::vec(line(), 0..50), |lines| {
            let mut log = Vec::new();
            for l in lines {
                log.extend_from_slice(&l);
                log.push(b'\n');
            }
            let mut r =
                logwarden::cli::replay::WatchReplay::new(&config, 0, TimeZone::UTC).unwrap();
            r.read("x", log.as_slice()).unwrap();
            let _ = r.finish();
            Ok(())
        })
        .unwrap();
}
