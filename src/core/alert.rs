//! The alert: what the rules hand to the actions. The only type both sides know.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// How urgent an alert is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// Upper-case name for subjects and console lines.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// Whether an alert opens, closes or is a one-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alert {
    pub watch: String,
    pub rule: String,
    pub severity: Severity,
    pub state: AlertState,
    /// When the rule changed state (wall clock).
    #[serde(
        serialize_with = "serialize_time",
        deserialize_with = "deserialize_time"
    )]
    pub at: SystemTime,
    /// One sentence for a person: what happened, with the numbers behind it.
    pub summary: String,
    /// The line (or event) that triggered it, if a line did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// A few lines read just before `line`, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
    /// Where that line came from (a file path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The systemd unit of the watch, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// What logwarden does about it (a restart requested, done, refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Set when the line behind it came from a backlog (read after downtime, or by a source
    /// that fell behind): it was written at this time or before, not at `at`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_written",
        deserialize_with = "deserialize_written"
    )]
    pub written: Option<SystemTime>,
}

impl Alert {
    /// An alert with only the required parts; the optional ones empty.
    pub fn new(
        watch: &str,
        rule: &str,
        severity: Severity,
        state: AlertState,
        summary: String,
    ) -> Alert {
        Alert {
            watch: watch.to_string(),
            rule: rule.to_string(),
            severity,
            state,
            at: SystemTime::now(),
            summary,
            line: None,
            context: Vec::new(),
            source: None,
            unit: None,
            action: None,
            written: None,
        }
    }

    /// The stable key of the rule it is about.
    pub fn key(&self) -> (String, String) {
        (self.watch.clone(), self.rule.clone())
    }
}

use crate::core::timefmt::rfc3339_serde::{
    deserialize as deserialize_time, serialize as serialize_time,
};

fn serialize_written<S: serde::Serializer>(
    t: &Option<SystemTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize_time(t, s),
        None => s.serialize_none(),
    }
}

fn deserialize_written<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<SystemTime>, D::Error> {
    deserialize_time(d).map(Some)
}
