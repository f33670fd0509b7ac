//! The gate between a rule and its schedule, in the engine's `Instant`s.
//!
//! Rules run on monotonic `Instant`s; schedules on wall-clock time. A `WallClock` maps one to
//! the other from one anchor pair (an `Instant` and the wall time it stands for): the daemon
//! anchors at the real clock (and re-anchors when the wall clock jumps), `replay` at the first
//! timestamp of the log. A `Gate` caches where the rule is in its schedule (open until the
//! period's end, or closed until the next start), so the per-line cost is a comparison; the
//! calendar is consulted once per period boundary.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use crate::config::schedule::{Period, Schedule};

/// Maps `Instant`s to wall-clock time and back.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    /// The `Instant` that stands for `wall`.
    instant: Instant,
    wall: Timestamp,
}

impl WallClock {
    pub fn new(instant: Instant, wall: Timestamp) -> WallClock {
        WallClock { instant, wall }
    }

    /// The wall time of `i`.
    pub fn wall(&self, i: Instant) -> Timestamp {
        let d = if i >= self.instant {
            SignedDuration::try_from(i - self.instant).unwrap_or(SignedDuration::MAX)
        } else {
            -SignedDuration::try_from(self.instant - i).unwrap_or(SignedDuration::MAX)
        };
        self.wall.checked_add(d).unwrap_or(self.wall)
    }

    /// The `Instant` of wall time `w` (`None` if it cannot be represented).
    pub fn instant(&self, w: Timestamp) -> Option<Instant> {
        let d = w.duration_since(self.wall);
        let abs: Duration = d.unsigned_abs();
        if d.is_negative() {
            self.instant.checked_sub(abs).or(Some(self.instant))
        } else {
            self.instant.checked_add(abs)
        }
    }
}

/// Where the wall-clock "now" of a schedule outside the rules comes from (a channel's quiet
/// hours): the system clock, read each time (it may be stepped), or, for tests in paused
/// time, a `WallClock` read at tokio's `Instant::now()`.
#[derive(Debug, Clone, Copy)]
pub enum WallTime {
    System,
    /// Only tests in paused time build it.
    #[cfg_attr(not(test), allow(dead_code))]
    Anchored(WallClock),
}

impl WallTime {
    pub fn now(&self) -> Timestamp {
        match self {
            WallTime::System => Timestamp::now(),
            WallTime::Anchored(c) => c.wall(Instant::now()),
        }
    }

    /// The `Instant` at which the wall clock shows `w`, as far as can be told now.
    pub fn instant_of(&self, w: Timestamp) -> Option<Instant> {
        match self {
            WallTime::System => WallClock::new(Instant::now(), Timestamp::now()).instant(w),
            WallTime::Anchored(c) => c.instant(w),
        }
    }
}

/// What the gate says about a rule at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Outside the schedule: the rule neither counts nor fires nor resolves.
    Closed,
    /// Inside, in the period the rule already counts in.
    Open,
    /// Inside a period the rule has not counted in yet: it starts fresh at this instant.
    OpenedAt(Instant),
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Not computed since the clock was (re)anchored.
    Unknown,
    /// In the period that started at `start` (wall) and ends at `until`.
    Open { start: Timestamp, until: Instant },
    /// Closed until `until` (`None`: no start within the look-ahead).
    Closed { until: Option<Instant> },
}

/// A rule's schedule with the cached answer.
#[derive(Debug)]
pub struct Gate {
    schedule: Arc<Schedule>,
    state: State,
    /// Wall start of the period the rule counts in (it was reset then, or started in it).
    counted: Option<Timestamp>,
}

impl Gate {
    /// A gate for a rule that starts counting at `start`: in an open period it counts in that
    /// period from `start` without a reset.
    pub fn new(schedule: Arc<Schedule>, clock: &WallClock, start: Instant) -> Gate {
        let mut g = Gate {
            schedule,
            state: State::Unknown,
            counted: None,
        };
        g.restart(clock, start);
        g
    }

    /// The rule counts afresh from `at` (a new clock anchor at the start of a replay).
    pub fn restart(&mut self, clock: &WallClock, at: Instant) {
        self.refresh(clock, at);
        self.counted = match self.state {
            State::Open { start, .. } => Some(start),
            _ => None,
        };
    }

    /// Recomputes the cached answer at `now` (the clock moved); keeps what the rule counts in.
    pub fn refresh(&mut self, clock: &WallClock, now: Instant) {
        self.state = match self.schedule.period_at(clock.wall(now)) {
            Period::Active { start, end } => State::Open {
                start,
                until: clock
                    .instant(end)
                    .unwrap_or(now + Duration::from_secs(86_400)),
            },
            Period::Inactive { next } => State::Closed {
                until: next.and_then(|n| clock.instant(n)),
            },
        };
    }

    /// Where the rule is at `now`.
    pub fn check(&mut self, clock: &WallClock, now: Instant) -> Verdict {
        let valid = match self.state {
            State::Unknown => false,
            State::Open { until, .. } => now < until,
            State::Closed { until } => !matches!(until, Some(u) if now >= u),
        };
        if !valid {
            self.refresh(clock, now);
        }
        match self.state {
            State::Open { start, .. } if self.counted == Some(start) => Verdict::Open,
            State::Open { start, .. } => {
                self.counted = Some(start);
                Verdict::OpenedAt(clock.instant(start).unwrap_or(now).min(now))
            }
            _ => Verdict::Closed,
        }
    }

    /// The rule's deadline seen through the gate: while closed, the next start instead.
    pub fn deadline(&self, rule: Option<Instant>) -> Option<Instant> {
        match self.state {
            State::Closed { until } => until,
            _ => rule,
        }
    }
}
