//! `/status`: the report of every watch with its rules, probes, sources, recent alerts and
//! restarts, as one serde type that the daemon writes and `logwarden status` reads back.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use serde::{Deserialize, Serialize};

use crate::core::alert::{Alert, Severity};
use crate::telemetry::{history, RuleStatus, Telemetry};

/// What `/status` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    /// When this daemon started (RFC 3339).
    pub started_at: String,
    pub healthy: bool,
    /// Why it is not healthy (empty when it is).
    pub problems: Vec<String>,
    pub watches: Vec<WatchStatus>,
    /// Active silences (`logwarden silences`).
    #[serde(default)]
    pub silences: Vec<SilenceStatus>,
    /// Open alerts an operator acknowledged.
    #[serde(default)]
    pub acks: Vec<AckStatus>,
    /// Why the operator's file (silences, acknowledgements) cannot be read: the silences
    /// read before stay in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_error: Option<String>,
}

/// One active silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceStatus {
    pub id: String,
    /// `WATCH` or `WATCH/RULE`.
    pub scope: String,
    /// RFC 3339.
    pub ends_at: String,
    /// Control characters already escaped, secrets redacted.
    pub reason: String,
    pub who: String,
}

/// One acknowledged open alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckStatus {
    pub watch: String,
    pub rule: String,
    pub who: String,
}

/// What the router last read of the operator's file.
#[derive(Debug, Clone, Default)]
pub(crate) struct OperatorStatus {
    pub(crate) silences: Vec<SilenceStatus>,
    pub(crate) acks: Vec<AckStatus>,
    pub(crate) error: Option<String>,
}

impl OperatorStatus {
    /// Fills in each rule's silence and acknowledgement.
    fn mark(&self, watch: &str, rules: &mut BTreeMap<String, RuleStatus>) {
        for (name, r) in rules.iter_mut() {
            r.silenced = self
                .silences
                .iter()
                .find(|s| {
                    s.scope == watch || s.scope.split_once('/') == Some((watch, name.as_str()))
                })
                .map(|s| s.id.clone());
            r.acked_by = self
                .acks
                .iter()
                .find(|a| a.watch == watch && &a.rule == name && r.firing)
                .map(|a| a.who.clone());
        }
    }
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
    /// Matched lines per pattern, in the order of the watch's pattern slots.
    #[serde(default)]
    pub patterns: Vec<PatternStatus>,
}

/// Matched lines of one pattern of a watch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatternStatus {
    pub pattern: String,
    /// Since the daemon started.
    pub total: u64,
    /// In the last 24 hours (the status page charts them per minute).
    pub last_24h: u64,
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
    /// How long ago the source last read a line (none yet: absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_line_seconds: Option<f64>,
}

impl Telemetry {
    /// `/status`: every watch with its rules, probes, recent alerts and restarts.
    pub fn status(&self) -> StatusReport {
        let rules = self.rules.lock().map(|r| r.clone()).unwrap_or_default();
        let recent = self.recent.lock().map(|r| r.clone()).unwrap_or_default();
        let restarts = self.restarts.lock().map(|r| r.clone()).unwrap_or_default();
        let sources = self.sources.lock().map(|s| s.clone()).unwrap_or_default();
        let now_ms = self.now_ms();
        let mut patterns = self.pattern_totals();
        let operator = self.operator.lock().map(|o| o.clone()).unwrap_or_default();
        let watches = rules
            .into_iter()
            .map(|(name, mut rules)| {
                operator.mark(&name, &mut rules);
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
                            last_line_seconds: match s.last_line_ms.load(Relaxed) {
                                0 => None,
                                at => Some(now_ms.saturating_sub(at) as f64 / 1000.0),
                            },
                        })
                        .collect(),
                    restarts: restarts.get(&name).copied().unwrap_or(0),
                    recent_alerts: recent.get(&name).cloned().unwrap_or_default(),
                    patterns: patterns.remove(&name).unwrap_or_default(),
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
            silences: operator.silences,
            acks: operator.acks,
            operator_error: operator.error,
        }
    }
}

impl Telemetry {
    /// Per watch, each pattern's matches in all and in the last 24 hours (slots of the same
    /// name summed, as `/metrics` does).
    fn pattern_totals(&self) -> BTreeMap<String, Vec<PatternStatus>> {
        let now = history::unix_minute(std::time::SystemTime::now());
        let mut out: BTreeMap<String, Vec<PatternStatus>> = BTreeMap::new();
        let counters = self.matches.lock().map(|m| m.clone()).unwrap_or_default();
        for c in &counters {
            let list = out.entry(c.watch.clone()).or_default();
            for ((name, total), ring) in c.slots.iter().zip(&c.counts).zip(&c.per_minute) {
                let total = total.load(Relaxed);
                let day: u64 = ring.last_day(now).iter().map(|&n| u64::from(n)).sum();
                match list.iter_mut().find(|p| &p.pattern == name) {
                    Some(p) => {
                        p.total += total;
                        p.last_24h += day;
                    }
                    None => list.push(PatternStatus {
                        pattern: name.clone(),
                        total,
                        last_24h: day,
                    }),
                }
            }
        }
        out
    }
}
