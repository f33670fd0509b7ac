//! Timestamps in log lines, read straight from the line's bytes without allocating.
//!
//! `replay` needs the time of every line (a `stale` rule judges the gaps between all lines,
//! not only matching ones), so this runs once per line: formats are recognised by their
//! shape, digits are read in place, and the civil time is turned into seconds by arithmetic.
//! Only the time zone offset of a timestamp written without one needs the tz database; it is
//! looked up once per local hour and cached.
//!
//! Recognised (`auto`), at the start of the line (after an optional `[` or syslog `<PRI>`):
//! - Python logging and ISO 8601 / RFC 3339: `2026-11-23 09:41:42,123`,
//!   `2026-11-23T09:41:42.123456Z`, `2026-11-23T09:41:42+01:00`; nginx error log
//!   `2026/11/23 09:41:42`;
//! - syslog `Nov 23 09:41:42` (no year: the year that puts it at most a day in the future);
//! - nginx access log `[23/Nov/2026:09:41:42 +0000]`, also after the client address.
//!
//! Timestamps without an offset are read in the configured time zone (the system's by default).

use jiff::civil::DateTime;
use jiff::fmt::strtime::BrokenDownTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// How a watch's lines carry their time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TimestampFormat {
    /// Recognise the common formats (see the module documentation).
    #[default]
    Auto,
    /// A strftime-style format (`%d.%m.%Y %H:%M:%S`) the line starts with.
    Strftime(String),
}

/// How far into a line an nginx access log's `[` is looked for.
const BRACKET_SEARCH: usize = 96;

/// Reads line timestamps for one source. Keeps caches, so one per source.
#[derive(Debug)]
pub struct LineClock {
    format: TimestampFormat,
    tz: TimeZone,
    /// Now, for inferring the year of syslog timestamps.
    now: Timestamp,
    /// The year syslog timestamps get when that is not in the future.
    this_year: i16,
    /// (local hour since the epoch, offset in seconds) of the last offset looked up.
    offset_cache: Option<(i64, i64)>,
}

/// A timestamp as written: local civil seconds, sub-second nanos and the offset if written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Written {
    /// Seconds since 1970-01-01T00:00:00 of the civil time as written (not yet UTC).
    local: i64,
    nanos: u32,
    /// The UTC offset in seconds, when the line says it.
    offset: Option<i64>,
    /// Whether the year was inferred (syslog).
    no_year: bool,
}

impl LineClock {
    /// A clock reading `format`, interpreting times without an offset in `tz`.
    pub fn new(format: TimestampFormat, tz: TimeZone, now: Timestamp) -> LineClock {
        let this_year = tz.to_datetime(now).year();
        LineClock {
            format,
            tz,
            now,
            this_year,
            offset_cache: None,
        }
    }

    /// The time the line was written, if it starts with (or, for nginx, holds) a timestamp.
    pub fn parse(&mut self, line: &[u8]) -> Option<Timestamp> {
        let written = match &self.format {
            TimestampFormat::Auto => auto(line, self.this_year)?,
            TimestampFormat::Strftime(f) => return self.strftime(f.as_bytes(), line),
        };
        let mut w = written;
        let mut ts = self.utc_of(w)?;
        if w.no_year && ts.as_second() > self.now.as_second() + 86_400 {
            // Syslog has no year: a date more than a day ahead is from last year.
            w.local = shift_year(w.local, -1)?;
            ts = self.utc_of(w)?;
        }
        Some(ts)
    }

    fn utc_of(&mut self, w: Written) -> Option<Timestamp> {
        let offset = match w.offset {
            Some(o) => o,
            None => self.offset_of_local(w.local)?,
        };
        Timestamp::new(w.local - offset, w.nanos as i32).ok()
    }

    /// The offset of the time zone at local time `local` (cached per local hour).
    fn offset_of_local(&mut self, local: i64) -> Option<i64> {
        let hour = local.div_euclid(3600);
        if let Some((h, o)) = self.offset_cache {
            if h == hour {
                return Some(o);
            }
        }
        let start = hour * 3600;
        let dt = datetime_of_local(start)?;
        let ts = self.tz.to_ambiguous_timestamp(dt).compatible().ok()?;
        let offset = start - ts.as_second();
        self.offset_cache = Some((hour, offset));
        Some(offset)
    }

    fn strftime(&self, format: &[u8], line: &[u8]) -> Option<Timestamp> {
        let (tm, _) = BrokenDownTime::parse_prefix(format, line).ok()?;
        if let Ok(ts) = tm.to_timestamp() {
            return Some(ts);
        }
        let dt = tm.to_datetime().ok()?;
        self.tz.to_ambiguous_timestamp(dt).compatible().ok()
    }
}

/// Tries the known formats at the places they are found.
fn auto(line: &[u8], this_year: i16) -> Option<Written> {
    let mut at = 0;
    match line.first() {
        Some(b'[') => at = 1,
        Some(b'<') => {
            // syslog priority `<34>`
            let close = line.iter().take(6).position(|&b| b == b'>')?;
            at = close + 1;
        }
        _ => {}
    }
    let rest = line.get(at..)?;
    if let Some(w) = iso(rest).or_else(|| syslog(rest, this_year)) {
        return Some(w);
    }
    if let Some(w) = nginx(rest) {
        return Some(w);
    }
    // nginx access log: `1.2.3.4 - - [23/Nov/2026:09:41:42 +0000] "GET ..."`.
    let head = &line[..line.len().min(BRACKET_SEARCH)];
    let open = memchr::memchr(b'[', head)?;
    nginx(&line[open + 1..])
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.,frac][Z|±HH[:MM]]`, also with `/` in the date.
fn iso(b: &[u8]) -> Option<Written> {
    let year = digits(b, 0, 4)? as i64;
    let sep = *b.get(4)?;
    if sep != b'-' && sep != b'/' {
        return None;
    }
    let month = digits(b, 5, 2)?;
    if *b.get(7)? != sep || !matches!(b.get(10)?, b'T' | b't' | b' ') {
        return None;
    }
    let day = digits(b, 8, 2)?;
    let (h, m, s) = clock(b, 11)?;
    let (nanos, mut i) = fraction(b, 19);
    if b.get(i) == Some(&b' ') && matches!(b.get(i + 1), Some(b'+' | b'-')) {
        i += 1;
    }
    let offset = offset(b, i);
    Some(Written {
        local: civil_seconds(year, month, day, h, m, s)?,
        nanos,
        offset,
        no_year: false,
    })
}

/// `Nov 23 09:41:42` (day may be space-padded: `Nov  3`).
fn syslog(b: &[u8], this_year: i16) -> Option<Written> {
    let month = month_of(b.get(0..3)?)?;
    if *b.get(3)? != b' ' {
        return None;
    }
    let day = match (b.get(4)?, b.get(5)?) {
        (b' ', d) if d.is_ascii_digit() => (d - b'0') as u32,
        _ => digits(b, 4, 2)?,
    };
    if *b.get(6)? != b' ' {
        return None;
    }
    let (h, m, s) = clock(b, 7)?;
    let (nanos, _) = fraction(b, 15);
    Some(Written {
        local: civil_seconds(this_year as i64, month, day, h, m, s)?,
        nanos,
        offset: None,
        no_year: true,
    })
}

/// `23/Nov/2026:09:41:42 +0000`.
fn nginx(b: &[u8]) -> Option<Written> {
    let day = digits(b, 0, 2)?;
    if *b.get(2)? != b'/' || *b.get(6)? != b'/' || *b.get(11)? != b':' {
        return None;
    }
    let month = month_of(b.get(3..6)?)?;
    let year = digits(b, 7, 4)? as i64;
    let (h, m, s) = clock(b, 12)?;
    let mut i = 20;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    Some(Written {
        local: civil_seconds(year, month, day, h, m, s)?,
        nanos: 0,
        offset: offset(b, i),
        no_year: false,
    })
}

/// `HH:MM:SS` at `at`.
fn clock(b: &[u8], at: usize) -> Option<(u32, u32, u32)> {
    let h = digits(b, at, 2)?;
    let m = digits(b, at + 3, 2)?;
    let s = digits(b, at + 6, 2)?;
    if *b.get(at + 2)? != b':' || *b.get(at + 5)? != b':' || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((h, m, s.min(59)))
}

/// `.123` or `,123456` at `at`: (nanoseconds, index after it).
fn fraction(b: &[u8], at: usize) -> (u32, usize) {
    if !matches!(b.get(at), Some(b'.' | b',')) {
        return (0, at);
    }
    let mut nanos = 0u32;
    let mut scale = 100_000_000u32;
    let mut i = at + 1;
    while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        nanos += (d - b'0') as u32 * scale;
        scale /= 10;
        i += 1;
    }
    if i == at + 1 {
        return (0, at);
    }
    (nanos, i)
}

/// `Z`, `+HH:MM`, `+HHMM` or `+HH` at `at`, in seconds east of UTC.
fn offset(b: &[u8], at: usize) -> Option<i64> {
    let sign = match b.get(at)? {
        b'Z' | b'z' => return Some(0),
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h = digits(b, at + 1, 2)? as i64;
    let m = match b.get(at + 3) {
        Some(b':') => digits(b, at + 4, 2)? as i64,
        Some(d) if d.is_ascii_digit() => digits(b, at + 3, 2)? as i64,
        _ => 0,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// `n` ASCII digits at `at` as a number.
fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &d in s {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (d - b'0') as u32;
    }
    Some(v)
}

fn month_of(name: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    MONTHS
        .iter()
        .position(|m| m.as_slice() == name)
        .map(|i| i as u32 + 1)
}

/// Seconds since 1970-01-01T00:00:00 of a civil date and time; `None` if it does not exist.
fn civil_seconds(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || !(1..=9999).contains(&y) {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (inverse of `timefmt`'s conversion).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date-time of local seconds (for the tz database lookup).
fn datetime_of_local(local: i64) -> Option<DateTime> {
    let ts = Timestamp::from_second(local).ok()?;
    Some(TimeZone::UTC.to_datetime(ts))
}

/// The same civil time `years` years earlier or later (Feb 29 becomes Feb 28).
fn shift_year(local: i64, years: i16) -> Option<i64> {
    let dt = datetime_of_local(local)?;
    let year = dt.year().checked_add(years)?;
    let day = (dt.day() as u32).min(days_in_month(year as i64, dt.month() as u32));
    civil_seconds(
        year as i64,
        dt.month() as u32,
        day,
        dt.hour() as u32,
        dt.minute() as u32,
        dt.second() as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock_in(tz: &str) -> LineClock {
        let tz = TimeZone::get(tz).unwrap();
        let now: Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        LineClock::new(TimestampFormat::Auto, tz, now)
    }

    fn utc(line: &str) -> Option<String> {
        clock_in("UTC")
            .parse(line.as_bytes())
            .map(|t| t.to_string())
    }

    #[test]
    fn python_iso_syslog_and_nginx_timestamps_are_recognised() {
        assert_eq!(
            utc("2026-11-23 09:41:42,123 - bot - ERROR - boom").as_deref(),
            Some("2026-11-23T09:41:42.123Z")
        );
        assert_eq!(
            utc("2026-11-23T09:41:42.5+01:00 host bot[1]: x").as_deref(),
            Some("2026-11-23T08:41:42.5Z")
        );
        assert_eq!(
            utc("[2026-11-23T09:41:42Z] x").as_deref(),
            Some("2026-11-23T09:41:42Z")
        );
        assert_eq!(
            utc("Nov  3 09:41:42 host cron[12]: x").as_deref(),
            Some("2026-11-03T09:41:42Z")
        );
        assert_eq!(
            utc("10.0.0.1 - - [23/Nov/2026:09:41:42 -0500] \"GET / HTTP/1.1\" 502").as_deref(),
            Some("2026-11-23T14:41:42Z")
        );
        assert_eq!(
            utc("2026/11/23 09:41:42 [error] 12#12: *1 upstream timed out").as_deref(),
            Some("2026-11-23T09:41:42Z")
        );
    }

    #[test]
    fn a_syslog_date_in_the_future_is_from_last_year() {
        assert_eq!(
            utc("Dec 30 23:59:59 host x").as_deref(),
            Some("2025-12-30T23:59:59Z")
        );
    }

    #[test]
    fn local_times_follow_dst_of_the_zone() {
        let mut c = clock_in("America/New_York");
        let t = |c: &mut LineClock, l: &str| c.parse(l.as_bytes()).map(|t| t.to_string());
        assert_eq!(
            t(&mut c, "2026-03-07 09:30:00,000 x").as_deref(),
            Some("2026-03-07T14:30:00Z")
        );
        assert_eq!(
            t(&mut c, "2026-03-09 09:30:00,000 x").as_deref(),
            Some("2026-03-09T13:30:00Z")
        );
    }

    #[test]
    fn lines_without_a_timestamp_and_garbage_give_none() {
        for l in [
            "",
            "  File \"bot.py\", line 3",
            "Traceback (most recent call last):",
            "2026-13-01 00:00:00 bad month",
            "2026-02-30 00:00:00 no such day",
            "Nov 99 09:41:42",
            "\u{fffd}\u{fffd}[",
            "<999999",
        ] {
            assert_eq!(utc(l), None, "{l:?}");
        }
        let mut c = clock_in("UTC");
        assert_eq!(c.parse(b"\xff\xfe[\xff"), None);
        assert_eq!(c.parse(&[b'9'; 100_000]), None);
    }

    #[test]
    fn a_strftime_format_overrides_detection() {
        let mut c = LineClock::new(
            TimestampFormat::Strftime("%d.%m.%Y %H:%M:%S".into()),
            TimeZone::UTC,
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(
            c.parse(b"23.11.2026 09:41:42 ERROR x")
                .map(|t| t.to_string()),
            Some("2026-11-23T09:41:42Z".into())
        );
        assert_eq!(c.parse(b"2026-11-23 09:41:42 x"), None);
    }
}
