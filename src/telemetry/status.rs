//! `/status`: the report of every watch with its rules, probes, sources, recent alerts and
//! restarts, as one serde type that the daemon writes and `logwarden status` reads back.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use serde::{Deserialize, Serialize};

use crate::core::alert::{Alert, Severity};
use crate::telemetry::{RuleStatus, Telemetry};

/// What `/status` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    /// When this daemon started (RFC 3339).
    pub started_at: String,
    pub healthy: bool,
    /// Why it is not healthy (empty when it is).
    pub problems: Vec<String>,
    pub watches: Vec<WatchStatus>,
}

/// One watch in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatchStatus {
    pub name: String,
    pub state: WatchState,
    /// Rule or probe name -> its state.
    pub rules: BTreeMap<String, RuleStatus>,
    pub sources: Vec<SourceStatus>,
    /// Restarts since the daemon started.
    pub restarts: u64,
    /// The last alert of each rule, newest last.
    pub recent_alerts: Vec<Alert>,
}

/// The worst of a watch's firing rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchState {
    Ok,
    Warning,
    Critical,
}

/// One source of a watch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceStatus {
    /// A path, or `journal:WATCH`.
    pub source: String,
    pub lines: u64,
    /// For files: bytes written and not read yet.
    pub lag_bytes: Option<u64>,
    /// For the journal: age of the last entry read while catching up.
    pub lag_seconds: Option<f64>,
}

impl Telemetry {
    /// `/status`: every watch with its rules, probes, recent alerts and restarts.
    pub fn status(&self) -> StatusReport {
        let rules = self.rules.lock().map(|r| r.clone()).unwrap_or_default();
        let recent = self.recent.lock().map(|r| r.clone()).unwrap_or_default();
        let restarts = self.restarts.lock().map(|r| r.clone()).unwrap_or_default();
        let sources = self.sources.lock().map(|s| s.clone()).unwrap_or_default();
        let watches = rules
            .into_iter()
            .map(|(name, rules)| {
                let critical = rules
                    .values()
                    .any(|r| r.firing && r.severity == Severity::Critical);
                let firing = rules.values().any(|r| r.firing);
                WatchStatus {
                    state: if critical {
                        WatchState::Critical
                    } else if firing {
                        WatchState::Warning
                    } else {
                        WatchState::Ok
                    },
                    rules,
                    sources: sources
                        .iter()
                        .filter(|s| s.watch == name)
                        .map(|s| SourceStatus {
                            source: s.key.clone(),
                            lines: s.lines.load(Relaxed),
                            lag_bytes: s.file.as_ref().map(|f| f.lag_bytes.load(Relaxed)),
                            lag_seconds: s
                                .file
                                .is_none()
                                .then(|| s.journal_lag_ms.load(Relaxed) as f64 / 1000.0),
                        })
                        .collect(),
                    restarts: restarts.get(&name).copied().unwrap_or(0),
                    recent_alerts: recent.get(&name).cloned().unwrap_or_default(),
                    name,
                }
            })
            .collect();
        let problems = self.problems();
        StatusReport {
            started_at: crate::core::timefmt::rfc3339(self.started_at),
            healthy: problems.is_empty(),
            problems,
            watches,
        }
    }
}
