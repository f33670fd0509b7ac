//! `anomaly`: the per-minute rate of a pattern against its own learned baseline.
//!
//! Each minute's count `x` updates an exponentially weighted mean and variance (one baseline,
//! or one per UTC hour of the week with `seasonal = true`):
//! `d = x - mean; mean += a*d; var = (1 - a)*(var + a*d*d)`, with `a = 1/60` (about the last
//! hour) or, seasonal, `a = 1/30` per bucket (each bucket sees 60 minutes a week). The spread
//! used is `max(sqrt(var), sqrt(max(mean, 1)))`: a Poisson floor, so a stream that was exactly
//! 2 a minute for hours does not call 3 a spike.
//!
//! - **Spike**: `z = (x - mean) / spread > sensitivity` and `x >= min_count`, checked as
//!   matches arrive (the alert comes within the minute); resolved at the end of a minute
//!   with `z` below half the sensitivity.
//! - **Drop**: a normally busy stream (`mean >= min_count` a minute) below 10 % of its mean
//!   for 3 minutes in a row; resolved by a minute back above half of it.
//!
//! Nothing fires during the learning period (`learn`) nor before a baseline has 10 minutes.
//! The baseline and the end of learning are saved in `state_dir`, so a restart keeps them.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::core::alert::AlertState;
use crate::rules::gate::WallClock;
use crate::rules::input::Outcome;

const MINUTE: Duration = Duration::from_secs(60);
/// Minutes a baseline needs before it may judge.
const MIN_SAMPLES: u64 = 10;
/// Consecutive near-zero minutes that make a drop.
const DROP_MINUTES: u32 = 3;
/// Most minutes closed at once after a long gap (a week); older ones are skipped.
const MAX_CATCH_UP: u32 = 7 * 24 * 60;
const HOURS_PER_WEEK: usize = 168;
const VERSION: u32 = 1;

/// An exponentially weighted mean and variance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    pub mean: f64,
    pub var: f64,
    pub samples: u64,
}

impl Ewma {
    fn update(&mut self, x: f64, alpha: f64) {
        if self.samples == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let d = x - self.mean;
            self.mean += alpha * d;
            self.var = (1.0 - alpha) * (self.var + alpha * d * d);
        }
        self.samples += 1;
    }

    /// The spread a count is judged against (never below the Poisson floor).
    fn spread(&self) -> f64 {
        self.var.max(0.0).sqrt().max(self.mean.max(1.0).sqrt())
    }

    fn z(&self, x: f64) -> f64 {
        (x - self.mean) / self.spread()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Firing {
    Spike,
    Drop,
}

#[derive(Debug)]
pub struct Anomaly {
    pattern: String,
    sensitivity: f64,
    min_count: u64,
    seasonal: bool,
    /// No alert before this.
    learn_until: Instant,
    /// Start of the minute being counted.
    minute_start: Instant,
    /// Matches in that minute.
    count: u64,
    /// One baseline, or one per hour of the week.
    baselines: Vec<Ewma>,
    firing: Option<Firing>,
    /// Consecutive minutes below 10 % of the mean.
    quiet: u32,
    /// State changes found while closing several minutes at once, sent one per call.
    pending: VecDeque<Outcome>,
    dirty: bool,
}

/// What is saved in `state_dir`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Saved {
    pub version: u32,
    pub learn_until_ms: i64,
    pub seasonal: bool,
    pub baselines: Vec<Ewma>,
}

impl Anomaly {
    pub fn new(
        pattern: &str,
        sensitivity: f64,
        min_count: u64,
        seasonal: bool,
        learn: Duration,
        start: Instant,
    ) -> Anomaly {
        Anomaly {
            pattern: pattern.to_string(),
            sensitivity,
            min_count,
            seasonal,
            learn_until: start + learn,
            minute_start: start,
            count: 0,
            baselines: vec![Ewma::default(); if seasonal { HOURS_PER_WEEK } else { 1 }],
            firing: None,
            quiet: 0,
            pending: VecDeque::new(),
            dirty: false,
        }
    }

    pub fn on_match(&mut self, at: Instant, clock: &WallClock) -> Option<Outcome> {
        self.roll(at, clock);
        self.count += 1;
        if self.firing.is_none() && at >= self.learn_until {
            let b = self.baselines[self.bucket(self.minute_start, clock)];
            let x = self.count as f64;
            if b.samples >= MIN_SAMPLES && self.count >= self.min_count && b.z(x) > self.sensitivity
            {
                self.firing = Some(Firing::Spike);
                self.pending.push_back(Outcome {
                    state: AlertState::Firing,
                    summary: format!(
                        "{} matches of {:?} in this minute; usually {:.1} ± {:.1} (z = {:.1} > {})",
                        self.count,
                        self.pattern,
                        b.mean,
                        b.spread(),
                        b.z(x),
                        self.sensitivity
                    ),
                    line: None,
                    source: None,
                });
            }
        }
        self.pending.pop_front()
    }

    pub fn on_time(&mut self, now: Instant, clock: &WallClock) -> Option<Outcome> {
        self.roll(now, clock);
        self.pending.pop_front()
    }

    pub fn deadline(&self) -> Option<Instant> {
        if !self.pending.is_empty() {
            return Some(self.minute_start);
        }
        Some(self.minute_start + MINUTE)
    }

    /// Starts a fresh minute at `at` (a schedule's start): the baseline is kept.
    pub fn reset(&mut self, at: Instant) {
        self.minute_start = at;
        self.count = 0;
        self.quiet = 0;
    }

    /// Closes every minute that ended by `now`.
    fn roll(&mut self, now: Instant, clock: &WallClock) {
        let mut closed = 0;
        while now >= self.minute_start + MINUTE {
            if closed == MAX_CATCH_UP {
                // A gap of more than a week: start over at the current minute.
                let behind = now.saturating_duration_since(self.minute_start);
                let whole = behind.as_secs() / 60;
                self.minute_start += Duration::from_secs(whole.saturating_mul(60));
                self.count = 0;
                break;
            }
            self.close_minute(clock);
            self.minute_start += MINUTE;
            self.count = 0;
            closed += 1;
        }
    }

    fn close_minute(&mut self, clock: &WallClock) {
        let i = self.bucket(self.minute_start, clock);
        let b = self.baselines[i];
        let x = self.count as f64;
        let judging = self.minute_start >= self.learn_until && b.samples >= MIN_SAMPLES;
        self.quiet = if x < 0.1 * b.mean { self.quiet + 1 } else { 0 };
        match self.firing {
            Some(Firing::Spike) if b.z(x) < self.sensitivity / 2.0 => {
                self.firing = None;
                self.pending.push_back(Outcome {
                    state: AlertState::Resolved,
                    summary: format!(
                        "{} matches of {:?} in the last minute, back near the usual {:.1}",
                        self.count, self.pattern, b.mean
                    ),
                    line: None,
                    source: None,
                });
            }
            Some(Firing::Drop) if x >= 0.5 * b.mean => {
                self.firing = None;
                self.pending.push_back(Outcome {
                    state: AlertState::Resolved,
                    summary: format!(
                        "{} matches of {:?} in the last minute: the stream is back (usually {:.1})",
                        self.count, self.pattern, b.mean
                    ),
                    line: None,
                    source: None,
                });
            }
            None if judging
                && self.quiet >= DROP_MINUTES
                && b.mean >= self.min_count.max(1) as f64 =>
            {
                self.firing = Some(Firing::Drop);
                self.pending.push_back(Outcome {
                    state: AlertState::Firing,
                    summary: format!(
                        "{:?} nearly stopped: {} minutes in a row below 10% of the usual {:.1} a minute",
                        self.pattern, self.quiet, b.mean
                    ),
                    line: None,
                    source: None,
                });
            }
            _ => {}
        }
        let alpha = if self.seasonal {
            1.0 / 30.0
        } else {
            1.0 / 60.0
        };
        self.baselines[i].update(x, alpha);
        self.dirty = true;
    }

    /// The baseline of the minute starting at `at`: 0, or its UTC hour of the week (Monday
    /// 00:00 = 0).
    fn bucket(&self, at: Instant, clock: &WallClock) -> usize {
        if !self.seasonal {
            return 0;
        }
        let hours = clock.wall(at).as_second().div_euclid(3600);
        // 1970-01-01 was a Thursday: 72 hours after a Monday 00:00.
        (hours + 72).rem_euclid(HOURS_PER_WEEK as i64) as usize
    }

    /// The state to save, if it changed since the last call.
    pub fn take_changes(&mut self, clock: &WallClock) -> Option<Saved> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        Some(Saved {
            version: VERSION,
            learn_until_ms: clock.wall(self.learn_until).as_millisecond(),
            seasonal: self.seasonal,
            baselines: self.baselines.clone(),
        })
    }

    /// Continues from a saved baseline.
    pub fn restore(&mut self, saved: Saved, clock: &WallClock) -> Result<(), String> {
        crate::core::state_file::check_version(saved.version, VERSION)
            .map_err(|e| e.to_string())?;
        if saved.seasonal != self.seasonal || saved.baselines.len() != self.baselines.len() {
            return Err("`seasonal` changed since it was saved; learning again".into());
        }
        if saved
            .baselines
            .iter()
            .any(|b| !b.mean.is_finite() || !b.var.is_finite())
        {
            return Err("the saved baseline is not finite; learning again".into());
        }
        if let Some(until) = jiff::Timestamp::from_millisecond(saved.learn_until_ms)
            .ok()
            .and_then(|t| clock.instant(t))
        {
            self.learn_until = until;
        }
        self.baselines = saved.baselines;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    struct Run {
        rule: Anomaly,
        clock: WallClock,
        t0: Instant,
        alerts: Vec<(u64, AlertState)>,
    }

    impl Run {
        fn new(seasonal: bool, learn: Duration) -> Run {
            let t0 = Instant::now();
            Run {
                rule: Anomaly::new("error", 4.0, 10, seasonal, learn, t0),
                clock: WallClock::new(t0, "2026-11-23T00:00:00Z".parse().unwrap()),
                t0,
                alerts: Vec::new(),
            }
        }

        /// Minute `m` with `n` matches spread over it, then its end.
        fn minute(&mut self, m: u64, n: u64) {
            let start = self.t0 + MINUTE * m as u32;
            for k in 0..n {
                let at = start + Duration::from_millis(k * 59_000 / n.max(1));
                if let Some(o) = self.rule.on_match(at, &self.clock) {
                    self.alerts.push((m, o.state));
                }
                while let Some(o) = self.rule.on_time(at, &self.clock) {
                    self.alerts.push((m, o.state));
                }
            }
            let end = start + MINUTE;
            while let Some(o) = self.rule.on_time(end, &self.clock) {
                self.alerts.push((m, o.state));
            }
        }
    }

    /// A noisy steady stream: 4..=8 a minute (mean 6), deterministic.
    fn noise(m: u64) -> u64 {
        4 + (m * 7 + m / 3) % 5
    }

    #[test]
    fn steady_rate_and_one_spike_fires_once_and_resolves() {
        let mut r = Run::new(false, Duration::from_secs(3600));
        for m in 0..180 {
            r.minute(m, noise(m));
        }
        r.minute(180, 40);
        for m in 181..200 {
            r.minute(m, noise(m));
        }
        assert_eq!(
            r.alerts,
            [(180, AlertState::Firing), (181, AlertState::Resolved)]
        );
    }

    #[test]
    fn steady_noise_fires_nothing_for_days() {
        let mut r = Run::new(false, Duration::from_secs(3600));
        for m in 0..3 * 24 * 60 {
            r.minute(m, noise(m));
        }
        assert_eq!(r.alerts, []);
    }

    #[test]
    fn nothing_fires_while_learning() {
        let mut r = Run::new(false, DAY);
        for m in 0..120 {
            r.minute(m, noise(m));
        }
        r.minute(120, 60);
        assert_eq!(r.alerts, []);
    }

    #[test]
    fn a_busy_stream_that_stops_fires_a_drop_and_resolves_when_back() {
        let mut r = Run::new(false, Duration::from_secs(3600));
        for m in 0..120 {
            r.minute(m, 20);
        }
        for m in 120..130 {
            r.minute(m, 0);
        }
        r.minute(130, 20);
        assert_eq!(
            r.alerts,
            [(122, AlertState::Firing), (130, AlertState::Resolved)]
        );
    }

    #[test]
    fn a_seasonal_baseline_knows_a_busy_hour_from_a_quiet_one() {
        // Two weeks: 09:00-10:00 UTC each day has 30 a minute, every other hour 2.
        let mut r = Run::new(true, 7 * DAY);
        let per_minute = |m: u64| if (m / 60) % 24 == 9 { 30 } else { 2 };
        let m = 14 * 24 * 60 + 15 * 60;
        for m in 0..m {
            r.minute(m, per_minute(m));
        }
        assert_eq!(r.alerts, [], "the busy hour is normal");
        // 30 a minute at 15:00 on day 14 is a spike for that hour.
        r.minute(m, 30);
        assert_eq!(r.alerts, [(m, AlertState::Firing)]);
    }

    #[test]
    fn the_baseline_survives_a_restart_and_a_mismatch_is_refused() {
        let mut r = Run::new(false, Duration::from_secs(3600));
        for m in 0..120 {
            r.minute(m, 6);
        }
        let saved = r.rule.take_changes(&r.clock).unwrap();
        let text = serde_json::to_string(&saved).unwrap();
        let t1 = r.t0 + MINUTE * 200;
        let mut again = Anomaly::new("error", 4.0, 10, false, Duration::from_secs(3600), t1);
        again
            .restore(serde_json::from_str(&text).unwrap(), &r.clock)
            .unwrap();
        // Learned already: 40 in the first minute after the restart is a spike.
        let mut fired = None;
        for k in 0..40 {
            fired = fired.or(again.on_match(t1 + Duration::from_secs(k), &r.clock));
        }
        assert_eq!(fired.map(|o| o.state), Some(AlertState::Firing));
        let mut seasonal = Anomaly::new("error", 4.0, 10, true, DAY, t1);
        assert!(seasonal
            .restore(serde_json::from_str(&text).unwrap(), &r.clock)
            .is_err());
    }
}
