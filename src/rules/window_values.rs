//! The numbers a `value` rule saw within its sliding window, and their aggregates: exact.
//!
//! Every value is kept (time and number, 16 bytes) until it leaves the window, up to
//! `MAX_WINDOW_VALUES` per series; past that the oldest go first, so every aggregate is then
//! over the newest `MAX_WINDOW_VALUES` values of the window (a 5-minute window holds that many
//! at 218 values a second; `docs/decisions.md` says why exact over a sketch). Quantiles are
//! computed by selection (`select_nth_unstable`, O(n)) when asked, which the rule does at most
//! once per second of line time (`value.rs`), not per line.
//!
//! A value is within the window at `now` when it came less than `window` before `now`.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Aggregate;

/// Most values one series keeps; older ones past this leave the window early.
pub const MAX_WINDOW_VALUES: usize = 65_536;

/// The values of one series within a sliding window.
#[derive(Debug)]
pub struct WindowValues {
    window: Duration,
    /// (time, value), times non-decreasing; at most `MAX_WINDOW_VALUES`.
    values: VecDeque<(Instant, f64)>,
    /// Reused for selection, so computing a quantile allocates only while the window grows.
    scratch: Vec<f64>,
    /// Values dropped before leaving the window because the series was full.
    overflowed: u64,
}

impl WindowValues {
    pub fn new(window: Duration) -> WindowValues {
        WindowValues {
            window,
            values: VecDeque::new(),
            scratch: Vec::new(),
            overflowed: 0,
        }
    }

    /// Adds a value at `at` (an earlier time than the newest is taken as the newest: rule
    /// time never goes backwards).
    pub fn push(&mut self, at: Instant, v: f64) {
        debug_assert!(v.is_finite(), "only finite values are taken");
        let at = match self.values.back() {
            Some(&(last, _)) if at < last => last,
            _ => at,
        };
        if self.values.len() == MAX_WINDOW_VALUES {
            self.values.pop_front();
            self.overflowed += 1;
        }
        self.values.push_back((at, v));
    }

    /// Lets values older than the window at `now` go.
    pub fn expire(&mut self, now: Instant) {
        while let Some(&(t, _)) = self.values.front() {
            if now.saturating_duration_since(t) < self.window {
                break;
            }
            self.values.pop_front();
        }
    }

    /// Values within the window (as of the last `expire`).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value is within the window.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Values dropped early because the series held `MAX_WINDOW_VALUES`.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// When the oldest value leaves the window.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.values.front().map(|&(t, _)| t + self.window)
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        self.values.clear();
    }

    /// The aggregate over the values within the window; `None` when there are none.
    pub fn aggregate(&mut self, a: Aggregate) -> Option<f64> {
        if self.values.is_empty() {
            return None;
        }
        let vals = || self.values.iter().map(|&(_, v)| v);
        Some(match a {
            Aggregate::Count => self.values.len() as f64,
            Aggregate::Sum => vals().sum(),
            Aggregate::Avg => vals().sum::<f64>() / self.values.len() as f64,
            Aggregate::Max => vals().fold(f64::NEG_INFINITY, f64::max),
            Aggregate::Min => vals().fold(f64::INFINITY, f64::min),
            Aggregate::Quantile(q) => {
                self.scratch.clear();
                self.scratch.extend(self.values.iter().map(|&(_, v)| v));
                quantile(&mut self.scratch, q)
            }
        })
    }
}

/// The q-quantile of `xs` (reordered), interpolated linearly between the closest ranks: with
/// the values sorted, position `h = (n - 1) q`, `x[⌊h⌋] + (h - ⌊h⌋)(x[⌊h⌋+1] - x[⌊h⌋])`. This is
/// the usual definition (R's type 7, numpy's default, Python's `statistics.quantiles` with
/// `method="inclusive"`). `xs` must not be empty.
pub fn quantile(xs: &mut [f64], q: f64) -> f64 {
    debug_assert!(!xs.is_empty() && (0.0..=1.0).contains(&q));
    let h = (xs.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let (_, &mut x_lo, above) = xs.select_nth_unstable_by(lo, f64::total_cmp);
    let frac = h - lo as f64;
    if frac == 0.0 || above.is_empty() {
        return x_lo;
    }
    let x_hi = above.iter().copied().fold(f64::INFINITY, f64::min);
    x_lo + frac * (x_hi - x_lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook computation: sort, then interpolate.
    fn naive_quantile(xs: &[f64], q: f64) -> f64 {
        let mut s = xs.to_vec();
        s.sort_by(f64::total_cmp);
        let h = (s.len() - 1) as f64 * q;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(s.len() - 1);
        s[lo] + (h - lo as f64) * (s[hi] - s[lo])
    }

    #[test]
    fn quantiles_of_one_to_hundred_are_the_textbook_ones() {
        let mut xs: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(quantile(&mut xs, 0.5), 50.5);
        assert!((quantile(&mut xs, 0.95) - 95.05).abs() < 1e-9);
        assert_eq!(quantile(&mut xs, 1.0), 100.0);
        assert_eq!(quantile(&mut xs, 0.0), 1.0);
        assert_eq!(quantile(&mut [7.0], 0.99), 7.0);
    }

    #[test]
    fn a_full_series_drops_its_oldest_and_counts_them() {
        let t0 = Instant::now();
        let mut w = WindowValues::new(Duration::from_secs(3600));
        for i in 0..MAX_WINDOW_VALUES + 10 {
            w.push(t0, i as f64);
        }
        assert_eq!(w.len(), MAX_WINDOW_VALUES);
        assert_eq!(w.overflowed(), 10);
        assert_eq!(w.aggregate(Aggregate::Min), Some(10.0));
    }

    proptest! {
        /// Against a naive reference: values at random times, the window's aggregates are
        /// exactly those of the values less than `window` old.
        #[test]
        fn aggregates_match_a_naive_window(
            steps in proptest::collection::vec((0u64..3000, -1000.0f64..1000.0), 1..400),
            window_ms in 1u64..5000,
            q in 0.0f64..=1.0,
        ) {
            let t0 = Instant::now();
            let window = Duration::from_millis(window_ms);
            let mut w = WindowValues::new(window);
            let mut all: Vec<(u64, f64)> = Vec::new();
            let mut now_ms = 0;
            for (gap, v) in steps {
                now_ms += gap;
                let now = t0 + Duration::from_millis(now_ms);
                w.push(now, v);
                all.push((now_ms, v));
                w.expire(now);
                let inside: Vec<f64> = all
                    .iter()
                    .filter(|(t, _)| now_ms - t < window_ms)
                    .map(|&(_, v)| v)
                    .collect();
                prop_assert_eq!(w.len(), inside.len());
                let sum: f64 = inside.iter().sum();
                let got_sum = w.aggregate(Aggregate::Sum).unwrap();
                prop_assert!((got_sum - sum).abs() < 1e-6);
                let max = inside.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                prop_assert_eq!(w.aggregate(Aggregate::Max), Some(max));
                let got = w.aggregate(Aggregate::Quantile(q)).unwrap();
                let want = naive_quantile(&inside, q);
                prop_assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0),
                    "q {} got {} want {}", q, got, want);
            }
        }
    }
}
