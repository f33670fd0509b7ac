//! Timestamp detection against arbitrary lines, formats and time zones.
//!
//! Two checks. Arbitrary bytes: detection never panics, and a clock that has read earlier
//! lines (with its cached zone offset) gives the same answer as a fresh one. Generated
//! timestamps: a Python-logging or ISO 8601 line built from arbitrary date and time fields
//! reads back as the instant jiff computes for the same fields, and an impossible date
//! (February 30th) reads as no timestamp.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;
use logwarden::source::timestamp::{LineClock, TimestampFormat};

use super::input::Input;

fn zone(input: &mut Input) -> TimeZone {
    match input.byte() % 4 {
        0 => TimeZone::UTC,
        1 => TimeZone::get("America/New_York").unwrap_or(TimeZone::UTC),
        2 => TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC),
        _ => {
            let secs = i32::from(input.u16() as i16) * 3;
            Offset::from_seconds(secs)
                .map(TimeZone::fixed)
                .unwrap_or(TimeZone::UTC)
        }
    }
}

/// "Now", for the year of syslog lines.
fn now() -> Timestamp {
    Timestamp::from_second(1_795_000_000).expect("in range")
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    match input.byte() % 2 {
        0 => arbitrary_lines(&mut input),
        _ => generated(&mut input),
    }
}

fn arbitrary_lines(input: &mut Input) {
    let tz = zone(input);
    let format = match input.byte() % 2 {
        0 => TimestampFormat::Auto,
        _ => TimestampFormat::Strftime(String::from_utf8_lossy(input.short()).into_owned()),
    };
    let mut clock = LineClock::new(format.clone(), tz.clone(), now());
    while !input.is_empty() {
        let line = input.until(b'\n');
        let got = clock.parse(line);
        let fresh = LineClock::new(format.clone(), tz.clone(), now()).parse(line);
        assert_eq!(
            got, fresh,
            "a clock's caches changed its answer for {line:?}"
        );
    }
}

fn generated(input: &mut Input) {
    let tz = zone(input);
    let year = 1 + input.u16() % 9999;
    let month = input.byte() % 13;
    let day = input.byte() % 32;
    let (hour, minute, second) = (input.byte() % 24, input.byte() % 60, input.byte() % 60);
    let millis = input.u16() % 1000;
    let iso = input.byte() % 2 == 1;
    let line = if iso {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z x")
    } else {
        format!(
            "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02},{millis:03} - bot - ERROR - x"
        )
    };
    let civil = DateTime::new(
        year as i16,
        month as i8,
        day as i8,
        hour as i8,
        minute as i8,
        second as i8,
        i32::from(millis) * 1_000_000,
    );
    let expected = civil.ok().and_then(|dt| {
        if iso {
            dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
        } else {
            tz.to_ambiguous_timestamp(dt).compatible().ok()
        }
    });
    let got = LineClock::new(TimestampFormat::Auto, tz, now()).parse(line.as_bytes());
    assert_eq!(got, expected, "{line}");
}
