//! Schedules: when a rule is active, in the wall-clock time of a named zone.
//!
//! `active = "Mon-Fri 09:30-16:00 America/New_York"`; several ranges are separated by `;`
//! (`"Mon-Fri 04:00-09:30 America/New_York; Mon-Fri 16:00-20:00 America/New_York"`). A range
//! whose end is not after its start runs past midnight (`Sun-Thu 22:00-06:00`), `24:00` is the
//! end of the day, and the zone (an IANA name from the system tz database) defaults to the
//! system's. A holiday is a date on which no range *starts*. Times are civil: 09:30 New York is
//! 14:30 UTC in winter and 13:30 UTC in summer; a start inside a DST gap (02:30 on the spring
//! day) moves forward with the clock, as `jiff`'s "compatible" rule says.
//!
//! The schedule answers in `Timestamp`s; mapping to the engine's `Instant`s is `gate.rs`'s job.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::config::error::Diagnostics;
use crate::config::located::{resolve_path, Located, SourceMap};

/// When a rule is active.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The ranges as written, for messages.
    pub text: String,
    ranges: Vec<Range>,
    /// Dates on which no range starts.
    holidays: BTreeSet<Date>,
}

/// Two schedules are equal when written the same with the same holidays (the zones named
/// in the text are the same zones).
impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.text == other.text && self.holidays == other.holidays
    }
}

/// One `DAYS HH:MM-HH:MM [ZONE]` range.
#[derive(Debug, Clone)]
struct Range {
    /// Bit `i` set: the range starts on weekday `i` (Monday = 0).
    days: u8,
    start: Time,
    /// `None`: midnight at the end of the day (`24:00`).
    end: Option<Time>,
    tz: TimeZone,
}

/// Where a time falls in a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Inside an active period that started at `start` and ends at `end`.
    Active { start: Timestamp, end: Timestamp },
    /// Outside; the next period starts at `next` (`None`: never, within a year).
    Inactive { next: Option<Timestamp> },
}

/// How far ahead the next start is looked for.
const LOOKAHEAD_DAYS: i64 = 400;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Schedule {
    /// Parses `;`-separated ranges. Errors say what is wrong and with which part; the `usize`
    /// is the byte offset of that part in `text`.
    pub fn parse(text: &str, holidays: BTreeSet<Date>) -> Result<Schedule, (usize, String)> {
        let mut ranges = Vec::new();
        let mut offset = 0;
        for part in text.split(';') {
            let lead = part.len() - part.trim_start().len();
            if part.trim().is_empty() {
                return Err((
                    offset,
                    "empty range (two `;` in a row, or a trailing `;`)".into(),
                ));
            }
            ranges.push(parse_range(part.trim()).map_err(|e| (offset + lead, e))?);
            offset += part.len() + 1;
        }
        Ok(Schedule {
            text: text.to_string(),
            ranges,
            holidays,
        })
    }

    /// Where `t` falls: in which active period (merged with periods that touch or overlap
    /// it), or when the next one starts.
    pub fn period_at(&self, t: Timestamp) -> Period {
        let Some((mut start, mut end)) = self.raw_active(t) else {
            return Period::Inactive {
                next: self.next_start(t),
            };
        };
        // Periods that touch or overlap are one: no fresh start at 12:00 between
        // `09:30-12:00` and `12:00-16:00`. Bounded, as a calendar can only chain so far.
        for _ in 0..16 {
            match self.raw_active(end) {
                Some((_, e)) if e > end => end = e,
                _ => break,
            }
        }
        for _ in 0..16 {
            match self.raw_active(start - SignedDuration::from_nanos(1)) {
                Some((s, _)) if s < start => start = s,
                _ => break,
            }
        }
        Period::Active { start, end }
    }

    /// Whether `t` is inside the schedule.
    pub fn is_active(&self, t: Timestamp) -> bool {
        self.raw_active(t).is_some()
    }

    /// The union of the periods of single ranges that contain `t`.
    fn raw_active(&self, t: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let mut found: Option<(Timestamp, Timestamp)> = None;
        for r in &self.ranges {
            let today = r.tz.to_datetime(t).date();
            // A range that started yesterday may still run (past midnight).
            for day in [today.yesterday().ok(), Some(today)].into_iter().flatten() {
                let Some((s, e)) = self.occurrence(r, day) else {
                    continue;
                };
                if s <= t && t < e {
                    found = Some(match found {
                        Some((fs, fe)) => (fs.min(s), fe.max(e)),
                        None => (s, e),
                    });
                }
            }
        }
        found
    }

    /// The period of range `r` starting on `day`, unless it does not start that day.
    fn occurrence(&self, r: &Range, day: Date) -> Option<(Timestamp, Timestamp)> {
        if r.days & (1 << day.weekday().to_monday_zero_offset()) == 0
            || self.holidays.contains(&day)
        {
            return None;
        }
        let at = |d: Date, time: Time| {
            r.tz.to_ambiguous_timestamp(d.to_datetime(time))
                .compatible()
                .ok()
        };
        let start = at(day, r.start)?;
        let end = match r.end {
            Some(end) if end > r.start => at(day, end)?,
            Some(end) => at(day.tomorrow().ok()?, end)?,
            None => at(day.tomorrow().ok()?, Time::midnight())?,
        };
        Some((start, end))
    }

    /// The first period start after `t`.
    fn next_start(&self, t: Timestamp) -> Option<Timestamp> {
        let mut best: Option<Timestamp> = None;
        for r in &self.ranges {
            let mut day = r.tz.to_datetime(t).date();
            for _ in 0..LOOKAHEAD_DAYS {
                if let Some((s, _)) = self.occurrence(r, day) {
                    if s > t {
                        best = Some(best.map_or(s, |b| b.min(s)));
                        break;
                    }
                }
                let Ok(next) = day.tomorrow() else { break };
                day = next;
            }
        }
        best
    }
}

/// `Mon-Fri 09:30-16:00 America/New_York`.
fn parse_range(text: &str) -> Result<Range, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (days, times, zone) = match words.as_slice() {
        [d, t] => (*d, *t, None),
        [d, t, z] => (*d, *t, Some(*z)),
        _ => {
            return Err(format!(
                "{text:?} is not a range like \"Mon-Fri 09:30-16:00 America/New_York\" (days, times, optional time zone)"
            ))
        }
    };
    let days = parse_days(days)?;
    let (start, end) = times
        .split_once('-')
        .ok_or_else(|| format!("{times:?} is not a time range like 09:30-16:00"))?;
    let start = parse_time(start)?.ok_or_else(|| "a range cannot start at 24:00".to_string())?;
    let end = parse_time(end)?;
    if end == Some(start) {
        return Err(format!("{times:?} is empty (it starts where it ends)"));
    }
    let tz = match zone {
        Some(z) => TimeZone::get(z).map_err(|e| {
            format!("unknown time zone {z:?} (use an IANA name like America/New_York): {e}")
        })?,
        None => TimeZone::system(),
    };
    Ok(Range {
        days,
        start,
        end,
        tz,
    })
}

/// `Mon-Fri`, `Sat,Sun`, `Mon-Wed,Fri`, `Fri-Mon` (wraps), `daily`.
fn parse_days(text: &str) -> Result<u8, String> {
    if text.eq_ignore_ascii_case("daily") || text == "*" {
        return Ok(0x7f);
    }
    let day = |name: &str| {
        DAY_NAMES
            .iter()
            .position(|d| d.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!("unknown day {name:?}; use Mon, Tue, Wed, Thu, Fri, Sat, Sun (or daily)")
            })
    };
    let mut mask = 0u8;
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    mask |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => mask |= 1 << day(part)?,
        }
    }
    Ok(mask)
}

/// `09:30` (or `24:00`, as `None`: the end of the day).
fn parse_time(text: &str) -> Result<Option<Time>, String> {
    let bad = || format!("{text:?} is not a time like 09:30");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    if (h, m) == (24, 0) {
        return Ok(None);
    }
    Time::new(h, m, 0, 0).map(Some).map_err(|_| bad())
}

/// Parses a holiday date `2026-12-25`.
pub fn parse_holiday(text: &str) -> Result<Date, String> {
    let bad = || format!("{text:?} is not a date like 2026-12-25");
    if text.len() != 10 {
        return Err(bad());
    }
    text.parse::<Date>().map_err(|_| bad())
}

/// Reads a holidays file: one date per line; `#` starts a comment. Errors carry the line
/// number (1-based).
pub fn parse_holidays_file(text: &str) -> Result<BTreeSet<Date>, (usize, String)> {
    let mut out = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.insert(parse_holiday(line).map_err(|e| (i + 1, e))?);
    }
    Ok(out)
}

/// `active`, `holidays` and `holidays_file` of the rule or probe `name`.
pub(crate) fn resolve_schedule(
    name: &str,
    active: Option<&Located<String>>,
    holidays_list: Option<&Vec<Located<String>>>,
    holidays_file: Option<&Located<String>>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<Schedule> {
    let mut holidays = std::collections::BTreeSet::new();
    for h in holidays_list.into_iter().flatten() {
        match parse_holiday(&h.value) {
            Ok(d) => {
                holidays.insert(d);
            }
            Err(e) => diags.at(sources, h, e),
        }
    }
    if let Some(f) = holidays_file {
        let path = resolve_path(sources, f);
        match std::fs::read_to_string(&path) {
            Ok(text) => match parse_holidays_file(&text) {
                Ok(d) => holidays.extend(d),
                Err((line, e)) => diags.push(format!("{}:{line}:1: {e}", path.display())),
            },
            Err(e) => diags.at(
                sources,
                f,
                format!("cannot read holidays file {}: {e}", path.display()),
            ),
        }
    }
    let Some(active) = active else {
        let stray = holidays_list.and_then(|h| h.first().map(|h| (h.file, h.span.start)));
        let stray = stray.or(holidays_file.map(|f| (f.file, f.span.start)));
        if let Some((file, offset)) = stray {
            diags.push(format!(
                "{}: holidays apply to a schedule; set `active = \"Mon-Fri 09:30-16:00 America/New_York\"` on {name:?}",
                sources.position(file, offset),
            ));
        }
        return None;
    };
    match Schedule::parse(&active.value, holidays) {
        Ok(s) => Some(s),
        Err((offset, e)) => {
            // +1 skips the opening quote (exact for strings without escapes).
            diags.push(format!(
                "{}: active: {e}",
                sources.position(active.file, active.span.start + 1 + offset)
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn market(holidays: &[&str]) -> Schedule {
        let h = holidays.iter().map(|d| parse_holiday(d).unwrap()).collect();
        Schedule::parse("Mon-Fri 09:30-16:00 America/New_York", h).unwrap()
    }

    fn active(start: &str, end: &str) -> Period {
        Period::Active {
            start: ts(start),
            end: ts(end),
        }
    }

    #[test]
    fn market_hours_follow_new_york_dst() {
        let s = market(&[]);
        // Friday 2026-03-06 (EST, UTC-5): 09:30 is 14:30Z.
        assert_eq!(
            s.period_at(ts("2026-03-06T15:00:00Z")),
            active("2026-03-06T14:30:00Z", "2026-03-06T21:00:00Z")
        );
        // DST starts Sunday 2026-03-08: Monday 09:30 EDT is 13:30Z.
        assert_eq!(
            s.period_at(ts("2026-03-09T14:00:00Z")),
            active("2026-03-09T13:30:00Z", "2026-03-09T20:00:00Z")
        );
        assert!(!s.is_active(ts("2026-03-09T13:29:59Z")));
        // DST ends Sunday 2026-11-01: Monday 09:30 EST is 14:30Z again.
        assert!(!s.is_active(ts("2026-11-02T14:00:00Z")));
        assert!(s.is_active(ts("2026-11-02T14:30:00Z")));
    }

    #[test]
    fn the_weekend_is_inactive_until_monday_open() {
        let s = market(&[]);
        assert_eq!(
            s.period_at(ts("2026-11-21T15:00:00Z")), // Saturday
            Period::Inactive {
                next: Some(ts("2026-11-23T14:30:00Z"))
            }
        );
        // Friday after the close: next is Monday.
        assert_eq!(
            s.period_at(ts("2026-11-20T21:00:00Z")),
            Period::Inactive {
                next: Some(ts("2026-11-23T14:30:00Z"))
            }
        );
    }

    #[test]
    fn a_holiday_is_skipped() {
        let s = market(&["2026-12-25"]);
        assert!(!s.is_active(ts("2026-12-25T15:00:00Z")));
        assert_eq!(
            s.period_at(ts("2026-12-24T22:00:00Z")),
            Period::Inactive {
                next: Some(ts("2026-12-28T14:30:00Z")) // Monday
            }
        );
    }

    #[test]
    fn ranges_past_midnight_and_touching_ranges() {
        let s = Schedule::parse("Sun-Thu 22:00-06:00 UTC", BTreeSet::new()).unwrap();
        // Thursday 23:00 to Friday 06:00 is Thursday's range.
        assert!(s.is_active(ts("2026-11-27T05:59:00Z")));
        assert!(!s.is_active(ts("2026-11-27T06:00:00Z")));
        assert!(!s.is_active(ts("2026-11-27T23:00:00Z"))); // Friday night
        let s = Schedule::parse(
            "Mon-Fri 09:30-12:00 UTC; Mon-Fri 12:00-16:00 UTC",
            BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(
            s.period_at(ts("2026-11-23T13:00:00Z")),
            active("2026-11-23T09:30:00Z", "2026-11-23T16:00:00Z")
        );
        let s = Schedule::parse("daily 00:00-24:00 UTC", BTreeSet::new()).unwrap();
        assert!(s.is_active(ts("2026-11-28T23:59:59Z")));
    }

    #[test]
    fn bad_ranges_say_what_is_wrong_and_where() {
        let e = |t: &str| Schedule::parse(t, BTreeSet::new()).unwrap_err();
        assert!(e("Mon-Fry 09:30-16:00").1.contains("unknown day \"Fry\""));
        assert!(e("Mon-Fri 9.30-16:00").1.contains("not a time"));
        assert!(e("Mon-Fri 09:30-16:00 Mars/Olympus")
            .1
            .contains("unknown time zone"));
        assert!(e("Mon-Fri 09:30-09:30 UTC").1.contains("empty"));
        assert!(e("Mon-Fri").1.contains("not a range"));
        let (at, msg) = e("Mon-Fri 09:30-16:00 UTC; Sat 25:00-26:00 UTC");
        assert_eq!(at, 25, "{msg}");
        assert!(parse_holiday("2026-02-30").is_err());
        assert_eq!(
            parse_holidays_file("# NYSE\n2026-12-25\n\nxmas\n"),
            Err((4, "\"xmas\" is not a date like 2026-12-25".into()))
        );
    }
}
