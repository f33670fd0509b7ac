//! The alert: what the rules hand to the actions. The only type both sides know.

use std::time::SystemTime;

use serde::Serialize;

use crate::config::Severity;

/// Whether an alert opens, closes or is a one-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The rule's condition became true; it stays firing until it clears.
    Firing,
    /// The condition cleared.
    Resolved,
    /// A one-off event (a `match` rule): nothing to resolve.
    Event,
}

impl AlertState {
    /// Lower-case word for subjects and console lines.
    pub fn word(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
            AlertState::Event => "event",
        }
    }
}

/// One alert about one rule of one watch. `(watch, rule)` is its stable key.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub watch: String,
    pub rule: String,
    pub severity: Severity,
    pub state: AlertState,
    /// When the rule changed state (wall clock).
    #[serde(serialize_with = "serialize_time")]
    pub at: SystemTime,
    /// One sentence for a person: what happened, with the numbers behind it.
    pub summary: String,
    /// The line (or event) that triggered it, if a line did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// Where that line came from (a file path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The systemd unit of the watch, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

fn serialize_time<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::timefmt::rfc3339(*t))
}
