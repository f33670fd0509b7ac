//! A channel's quiet hours as its delivery worker and the router apply them: outside the
//! channel's `active` schedule, a notification less severe than `quiet_min_severity` is
//! held (kept in the spool, sent when the next active period starts) or, with
//! `quiet = "drop"`, not sent to the channel at all.
//!
//! Dropping happens where a firing picks its channels (the router), so a dropped firing's
//! resolution is never sent there either; a reminder of an alert the channel did see is
//! dropped by the worker. A resolution is never dropped: the channel saw the firing, it
//! gets the end of it (held until morning). Tests and Alertmanager keepalives ignore quiet
//! hours: an operator running `test-alert` at night wants to see it.

use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use crate::actions::notification::{Kind, Notification};
use crate::config::channels::{QuietHours, QuietMode};
use crate::config::schedule::Period;
use crate::core::alert::AlertState;
use crate::rules::gate::WallTime;

/// While holding, the worker looks at the clock at least this often: the wall clock may be
/// stepped (a Pi without a real-time clock sets it from NTP after boot).
const LOOK_AGAIN: Duration = Duration::from_secs(60);

/// What quiet hours do with a notification at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    Hold,
    Drop,
}

/// The worker's verdict on `n` at `now`.
pub fn verdict(q: &QuietHours, n: &Notification, now: Timestamp) -> Verdict {
    if matches!(n.kind, Kind::Test | Kind::Keepalive) || !q.keeps_back(n.alert.severity, now) {
        return Verdict::Send;
    }
    let resolution = n.alert.state == AlertState::Resolved;
    if q.mode == QuietMode::Drop && n.kind == Kind::Reminder && !resolution {
        Verdict::Drop
    } else {
        Verdict::Hold
    }
}

/// Whether the router leaves the channel out of a new alert of `severity` at `now`.
pub fn drops_new(q: &QuietHours, severity: crate::core::alert::Severity, now: Timestamp) -> bool {
    q.mode == QuietMode::Drop && q.keeps_back(severity, now)
}

/// When held notifications should be looked at again: the next active start, at most
/// `LOOK_AGAIN` away.
pub fn look_again_at(q: &QuietHours, wall: &WallTime) -> Instant {
    let soon = Instant::now() + LOOK_AGAIN;
    match q.active.period_at(wall.now()) {
        Period::Active { .. } => Instant::now(),
        Period::Inactive { next } => next
            .and_then(|t| wall.instant_of(t))
            .map_or(soon, |at| at.min(soon)),
    }
}
