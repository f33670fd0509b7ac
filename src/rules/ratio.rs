//! `ratio`: matches of one pattern over matches of another (5xx responses over all requests)
//! within a sliding window, above a fraction, judged only once the denominator has
//! `min_count` matches; resolved at or below `resolve_below` (default: the threshold), or when
//! too few matches of `over` are left to judge.
//!
//! Counts are kept in buckets of `RESOLUTION` (a 5-minute window is at most 3 000 of them,
//! whatever the traffic), so a match leaves the window up to `RESOLUTION` early. A line that
//! matches both patterns counts in both. Backlog lines count at their written time.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::duration::format_duration;
use crate::core::alert::AlertState;
use crate::matcher::SlotSet;
use crate::rules::input::Outcome;

/// Width of one bucket of counts.
pub const RESOLUTION: Duration = Duration::from_millis(100);

/// State of one ratio rule.
#[derive(Debug)]
pub struct Ratio {
    pattern: String,
    over: String,
    /// The slot bits of `pattern` and `over`.
    part_bit: SlotSet,
    whole_bit: SlotSet,
    above: f64,
    resolve_below: f64,
    window: Duration,
    min_count: u64,
    /// (start of bucket, matches of `pattern`, matches of `over`), starts increasing, each
    /// less than `window` before the newest time seen.
    buckets: VecDeque<(Instant, u64, u64)>,
    /// Sums over `buckets`.
    part: u64,
    whole: u64,
    firing_since: Option<Instant>,
}

impl Ratio {
    /// Matches of `pattern` (with its slot bit) over those of `over`, firing above `above`
    /// and resolving at or below `resolve_below`.
    pub fn new(
        (pattern, part_bit): (&str, SlotSet),
        (over, whole_bit): (&str, SlotSet),
        (above, resolve_below): (f64, f64),
        window: Duration,
        min_count: u64,
    ) -> Ratio {
        debug_assert!(resolve_below <= above, "checked by config");
        Ratio {
            pattern: pattern.to_string(),
            over: over.to_string(),
            part_bit,
            whole_bit,
            above,
            resolve_below,
            window,
            min_count,
            buckets: VecDeque::new(),
            part: 0,
            whole: 0,
            firing_since: None,
        }
    }

    /// A line matched `slots` (`pattern`, `over` or both) at `at`.
    pub fn on_match(
        &mut self,
        at: Instant,
        slots: SlotSet,
        line: &str,
        source: &str,
    ) -> Option<Outcome> {
        let p = u64::from(slots & self.part_bit != 0);
        let w = u64::from(slots & self.whole_bit != 0);
        match self.buckets.back_mut() {
            Some((start, bp, bw)) if at < *start + RESOLUTION => {
                *bp += p;
                *bw += w;
            }
            _ => self.buckets.push_back((at, p, w)),
        }
        self.part += p;
        self.whole += w;
        self.expire(at);
        if self.firing_since.is_none() && self.whole >= self.min_count {
            let ratio = self.part as f64 / self.whole as f64;
            if ratio > self.above {
                self.firing_since = Some(at);
                return Some(Outcome {
                    state: AlertState::Firing,
                    summary: format!(
                        "{} of {} within {}: {} of {} matches of {:?} also matched {:?} (above {})",
                        percent(ratio),
                        self.over,
                        format_duration(self.window),
                        self.part,
                        self.whole,
                        self.over,
                        self.pattern,
                        percent(self.above)
                    ),
                    line: Some(line.to_string()),
                    source: Some(source.to_string()),
                });
            }
        }
        self.resolve(at)
    }

    /// Drops buckets that left the window at `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(&(start, p, w)) = self.buckets.front() {
            if now.saturating_duration_since(start) < self.window {
                break;
            }
            self.buckets.pop_front();
            self.part -= p;
            self.whole -= w;
        }
    }

    /// Time passed: resolves when the ratio fell (or too few matches are left to judge).
    pub fn on_time(&mut self, now: Instant) -> Option<Outcome> {
        self.expire(now);
        self.resolve(now)
    }

    fn resolve(&mut self, now: Instant) -> Option<Outcome> {
        let since = self.firing_since?;
        let enough = self.whole >= self.min_count;
        let ratio = self.part as f64 / self.whole.max(1) as f64;
        if enough && ratio > self.resolve_below {
            return None;
        }
        self.firing_since = None;
        let now_is = if enough {
            format!("{} now", percent(ratio))
        } else {
            format!(
                "too few matches of {:?} to judge now ({}, min_count {})",
                self.over, self.whole, self.min_count
            )
        };
        Some(Outcome {
            state: AlertState::Resolved,
            summary: format!(
                "{:?} over {:?} within {}: {now_is} (resolves at {}); fired for {}",
                self.pattern,
                self.over,
                format_duration(self.window),
                percent(self.resolve_below),
                format_duration(crate::rules::rate::round_secs(
                    now.saturating_duration_since(since)
                ))
            ),
            line: None,
            source: None,
        })
    }

    /// When the counts next change without a match (only matters while firing).
    pub fn deadline(&self) -> Option<Instant> {
        let since = self.firing_since?;
        // Nothing left (after a reset): it resolves at once.
        Some(
            self.buckets
                .front()
                .map_or(since, |&(start, _, _)| start + self.window),
        )
    }

    /// Starts counting afresh; a firing rule resolves at the next `on_time`.
    pub fn reset(&mut self) {
        self.buckets.clear();
        self.part = 0;
        self.whole = 0;
    }
}

/// A fraction as a percentage for messages (`0.0123` is `1.23%`).
fn percent(f: f64) -> String {
    let s = format!("{:.3}", f * 100.0);
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PART: SlotSet = 1;
    const WHOLE: SlotSet = 2;

    #[test]
    fn fires_above_the_fraction_once_min_count_is_reached_and_resolves_with_hysteresis() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut r = Ratio::new(
            ("err", PART),
            ("req", WHOLE),
            (0.1, 0.05),
            Duration::from_secs(10),
            10,
        );
        // 3 errors in the first 5 requests: 60 %, but too few requests to judge.
        for i in 0..5 {
            let slots = if i < 3 { PART | WHOLE } else { WHOLE };
            assert!(r.on_match(ms(i * 10), slots, "l", "f").is_none());
        }
        for i in 5..9 {
            assert!(r.on_match(ms(i * 100), WHOLE, "l", "f").is_none());
        }
        let fired = r
            .on_match(ms(900), WHOLE, "l", "f")
            .expect("3 of 10 > 10 %");
        assert!(
            fired.summary.contains("30% of req within 10s: 3 of 10"),
            "{}",
            fired.summary
        );
        // 8 % after 28 more good requests (3 of 38): between 5 % and 10 %, still firing.
        for i in 0..28 {
            assert!(r.on_match(ms(1000 + i * 100), WHOLE, "l", "f").is_none());
        }
        assert!(r.on_time(ms(4000)).is_none());
        // The errors leave the window at 10 s (their bucket at 0 s): 0 of 35.
        let d = r.deadline().expect("firing");
        assert_eq!(d, ms(10_000));
        let resolved = r.on_time(d).expect("resolves");
        assert_eq!(resolved.state, AlertState::Resolved);
        assert!(resolved.summary.contains("0% now"), "{}", resolved.summary);
    }
}
