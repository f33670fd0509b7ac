//! A notification: one alert on its way to one channel. It is what the spool stores, what
//! a delivery worker batches, and what a channel renders.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::core::alert::{Alert, AlertState};
use crate::source::Position;

/// Version of the stored form; a spool file of another version is set aside, not guessed at.
pub const VERSION: u32 = 1;

/// Why a notification goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The alert changed state (firing, resolved) or is a one-off event.
    Notice,
    /// The alert is still firing; sent every `repeat`.
    Reminder,
    /// Re-sent so a receiver that expires alerts (Alertmanager) keeps it open; never spooled.
    Keepalive,
    /// `logwarden test-alert`; never spooled.
    Test,
}

/// A channel that kept failing handed this notification on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reroute {
    pub from: String,
    pub reason: String,
}

/// One alert for one channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notification {
    pub version: u32,
    /// Unique and increasing: the spool's file name and the delivery order.
    pub id: u64,
    pub channel: String,
    pub kind: Kind,
    pub alert: Alert,
    /// The machine the alert is about.
    pub host: String,
    /// When the rule started firing (Unix ms), for reminders, resolutions and Alertmanager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerouted: Option<Reroute>,
    /// The notifications made from one alert share this (the first one's id).
    #[serde(default)]
    pub origin: u64,
    /// The channels the alert went to (one notification each), to find one missing after a
    /// crash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub siblings: Vec<String>,
    /// The source position acknowledged with the alert: every line before it had been handed
    /// to the rules. A restart resumes there at least, so the alert's line is not read (and
    /// alerted on) again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// The incident thread it belongs to (see `router::incident`): channels that can thread
    /// messages send the incident's end as a reply to its opening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<Thread>,
}

/// A message's place in an incident's thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// The same for every message of one incident, on every channel (`incident-ID`).
    pub key: String,
    /// This message opens the thread; otherwise it replies in it.
    pub opens: bool,
}

impl Notification {
    /// Whether it is written to the spool before it is sent.
    pub fn is_durable(&self) -> bool {
        matches!(self.kind, Kind::Notice | Kind::Reminder)
    }

    /// When the alert started firing.
    pub fn since(&self) -> SystemTime {
        match self.since_ms {
            Some(ms) => UNIX_EPOCH + std::time::Duration::from_millis(ms),
            None => self.alert.at,
        }
    }

    /// One word for what this says: `firing`, `still firing`, `resolved`, `event`, `test`.
    pub fn what(&self) -> &'static str {
        match (self.kind, self.alert.state) {
            (Kind::Test, _) => "test",
            (Kind::Reminder | Kind::Keepalive, _) => "still firing",
            (Kind::Notice, AlertState::Firing) => "firing",
            (Kind::Notice, AlertState::Resolved) => "resolved",
            (Kind::Notice, AlertState::Event) => "event",
        }
    }
}

/// A notice for `channel` about a firing critical alert `bot/burst` (tests).
#[cfg(test)]
pub fn sample(id: u64, channel: &str, kind: Kind) -> Notification {
    use crate::core::alert::Severity;
    Notification {
        version: VERSION,
        id,
        channel: channel.into(),
        kind,
        alert: Alert::new(
            "bot",
            "burst",
            Severity::Critical,
            AlertState::Firing,
            "s".into(),
        ),
        host: "h".into(),
        since_ms: None,
        rerouted: None,
        origin: 0,
        siblings: Vec::new(),
        position: None,
        thread: None,
    }
}

/// Makes unique, increasing notification ids: Unix nanoseconds, bumped past the last one.
pub fn next_id() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let id = now.max(last + 1);
        match LAST.compare_exchange_weak(last, id, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return id,
            Err(seen) => last = seen,
        }
    }
}

/// Unix milliseconds of `t`.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_even_when_asked_at_once() {
        let ids: Vec<u64> = (0..1000).map(|_| next_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
