//! Matches per minute over the last 24 hours, per pattern slot, for the status page's charts:
//! a fixed ring of 1440 atomic buckets advanced by the wall-clock minute. No lock, no
//! allocation after it is made; the rules engine (one writer per watch) bumps it where it
//! already counts matches, and the HTTP handler reads it.
//!
//! Minutes are whole minutes since the Unix epoch, passed in by the caller (`unix_minute()`
//! in the daemon, any number in tests), so the ring itself has no clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::telemetry::Telemetry;

/// The matches per minute of one pattern of one watch over the last day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternHistory {
    pub pattern: String,
    /// [`MINUTES`] counts, oldest first; the last is the minute asked for.
    pub per_minute: Vec<u32>,
}

impl Telemetry {
    /// Per watch, the matches per minute of each of its patterns over the day ending with
    /// `minute`, in slot order (slots of the same name summed, as `/metrics` does).
    pub fn match_history(&self, minute: u64) -> BTreeMap<String, Vec<PatternHistory>> {
        let mut out: BTreeMap<String, Vec<PatternHistory>> = BTreeMap::new();
        let counters = self.matches.lock().map(|m| m.clone()).unwrap_or_default();
        for c in &counters {
            let series = out.entry(c.watch.clone()).or_default();
            for (name, ring) in c.slots.iter().zip(c.per_minute.iter()) {
                let day = ring.last_day(minute);
                match series.iter_mut().find(|s| &s.pattern == name) {
                    Some(s) => {
                        for (a, b) in s.per_minute.iter_mut().zip(day) {
                            *a = a.saturating_add(b);
                        }
                    }
                    None => series.push(PatternHistory {
                        pattern: name.clone(),
                        per_minute: day,
                    }),
                }
            }
        }
        out
    }
}

/// Minutes the ring holds: 24 hours.
pub const MINUTES: usize = 1440;

/// The current wall-clock minute since the Unix epoch (0 if the clock is before 1970).
pub fn unix_minute(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0)
}

/// Counts per minute of the last [`MINUTES`] minutes.
///
/// One writer (`add`) at a time; any number of readers (`last_day`). A reader that runs
/// while the writer moves to a new minute may see a stale bucket once; the next read is
/// right. Everything is `Relaxed`: counts for a chart, not for synchronisation.
#[derive(Debug)]
pub struct MinuteRing {
    /// `buckets[m % MINUTES]` holds the count of minute `m`, for the `MINUTES` minutes up to
    /// and including `current`; older buckets are zeroed when `current` moves past them.
    buckets: Box<[AtomicU32]>,
    /// The newest minute counted (0 before the first count).
    current: AtomicU64,
}

impl Default for MinuteRing {
    fn default() -> Self {
        MinuteRing::new()
    }
}

impl MinuteRing {
    pub fn new() -> MinuteRing {
        MinuteRing {
            buckets: (0..MINUTES).map(|_| AtomicU32::new(0)).collect(),
            current: AtomicU64::new(0),
        }
    }

    /// Counts `n` matches in `minute`. A minute before the newest one counted (the wall
    /// clock stepped back) counts in the newest one, so the ring never moves backwards.
    pub fn add(&self, minute: u64, n: u32) {
        let current = self.current.load(Relaxed);
        let minute = if minute > current {
            // Zero the minutes skipped since the last count (at most the whole ring), then
            // the new one, before it becomes current.
            let gap = (minute - current).min(MINUTES as u64);
            for m in (minute + 1 - gap)..=minute {
                self.bucket(m).store(0, Relaxed);
            }
            self.current.store(minute, Relaxed);
            minute
        } else {
            current
        };
        let b = self.bucket(minute);
        // Saturating: a flood past 4 billion a minute stays at the top of the chart.
        let _ = b.fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_add(n)));
    }

    /// The counts of the [`MINUTES`] minutes ending with `now`, oldest first. Minutes after
    /// the newest one counted are 0 (nothing matched since), so a ring left alone for hours
    /// reads as zeros without being written.
    pub fn last_day(&self, now: u64) -> Vec<u32> {
        let current = self.current.load(Relaxed);
        let first = (now + 1).saturating_sub(MINUTES as u64);
        let out: Vec<u32> = (0..MINUTES as u64)
            .map(|i| {
                let m = first + i;
                // Only minutes the ring still holds: not after `current`, not a full ring
                // before it (their buckets hold newer minutes), and not after `now` (only
                // in the first day after 1970, which no clock shows).
                let held = m <= current && m + (MINUTES as u64) > current;
                if held && m <= now {
                    self.bucket(m).load(Relaxed)
                } else {
                    0
                }
            })
            .collect();
        debug_assert_eq!(out.len(), MINUTES);
        out
    }

    fn bucket(&self, minute: u64) -> &AtomicU32 {
        &self.buckets[(minute % MINUTES as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minute far from 0, as the daemon sees them.
    const T: u64 = 29_000_000;

    #[test]
    fn counts_land_in_their_minute_and_read_oldest_first() {
        let r = MinuteRing::new();
        r.add(T, 2);
        r.add(T, 1);
        r.add(T + 1, 5);
        let day = r.last_day(T + 1);
        assert_eq!(day.len(), MINUTES);
        assert_eq!(day[MINUTES - 1], 5);
        assert_eq!(day[MINUTES - 2], 3);
        assert_eq!(day.iter().sum::<u32>(), 8);
        // Read a minute later with nothing new: everything moves one to the left.
        let later = r.last_day(T + 2);
        assert_eq!(later[MINUTES - 1], 0);
        assert_eq!(later[MINUTES - 2], 5);
        assert_eq!(later[MINUTES - 3], 3);
    }

    #[test]
    fn a_gap_of_several_minutes_reads_as_zeros_and_old_buckets_are_cleared() {
        let r = MinuteRing::new();
        for m in 0..10 {
            r.add(T + m, 1);
        }
        // Ten minutes quiet, then one match: the quiet ones are zero.
        r.add(T + 20, 7);
        let day = r.last_day(T + 20);
        assert_eq!(day[MINUTES - 1], 7);
        assert!(day[MINUTES - 11..MINUTES - 1].iter().all(|&c| c == 0));
        assert_eq!(day[MINUTES - 21..MINUTES - 11], [1; 10]);
        assert_eq!(day.iter().sum::<u32>(), 17);
    }

    #[test]
    fn after_24_hours_the_ring_wraps_and_forgets_the_old_day() {
        let r = MinuteRing::new();
        r.add(T, 4);
        r.add(T + 100, 1);
        // Exactly a day after T: T's bucket is reused for the new minute, the old count gone.
        r.add(T + MINUTES as u64, 2);
        let day = r.last_day(T + MINUTES as u64);
        assert_eq!(day[MINUTES - 1], 2);
        assert_eq!(day.iter().sum::<u32>(), 3, "T's 4 is more than a day old");
        assert_eq!(day[99], 1, "T + 100, the window starting at T + 1");
        // Read without writing long after: nothing left in the window.
        assert!(r.last_day(T + 5 * MINUTES as u64).iter().all(|&c| c == 0));
        // Read 23 hours after the last count: it is the oldest minute still shown.
        let t = T + MINUTES as u64;
        let day = r.last_day(t + MINUTES as u64 - 1);
        assert_eq!(day[0], 2);
        assert_eq!(day.iter().sum::<u32>(), 2);
    }

    #[test]
    fn a_gap_longer_than_a_day_clears_the_whole_ring() {
        let r = MinuteRing::new();
        for m in 0..MINUTES as u64 {
            r.add(T + m, 1);
        }
        r.add(T + 3 * MINUTES as u64 + 7, 1);
        let day = r.last_day(T + 3 * MINUTES as u64 + 7);
        assert_eq!(day.iter().sum::<u32>(), 1);
    }

    #[test]
    fn a_clock_stepping_back_counts_in_the_newest_minute() {
        let r = MinuteRing::new();
        r.add(T + 5, 1);
        r.add(T + 2, 1);
        let day = r.last_day(T + 5);
        assert_eq!(day[MINUTES - 1], 2);
        assert_eq!(day.iter().sum::<u32>(), 2);
        // A reader whose clock is behind the ring's sees nothing of the future.
        assert_eq!(r.last_day(T + 4).iter().sum::<u32>(), 0);
    }

    #[test]
    fn counts_saturate() {
        let r = MinuteRing::new();
        r.add(T, u32::MAX);
        r.add(T, 3);
        assert_eq!(r.last_day(T)[MINUTES - 1], u32::MAX);
    }

    #[test]
    fn the_minute_is_whole_minutes_since_the_epoch() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(3 * 60 + 59);
        assert_eq!(unix_minute(t), 3);
        assert_eq!(
            unix_minute(UNIX_EPOCH - std::time::Duration::from_secs(5)),
            0
        );
    }
}
