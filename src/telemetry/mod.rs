//! What logwarden knows about itself, for `/health`, `/metrics`, `/status` and the systemd
//! watchdog: per-source counters and heartbeats, per-rule states, deliveries per channel,
//! restarts per watch. Counters are atomics updated by their owners (a batch at a time, never
//! a lock per line); rule states change only on transitions. `/status` is `status.rs`,
//! `/metrics` is `metrics.rs` (the histograms of `value` rules `values.rs`), the status page at `/` is `page.rs` (its charts `chart.rs`,
//! fed by the per-minute rings of `history.rs`; its escaping `html.rs`).

mod chart;
pub mod history;
pub(crate) mod metrics;
pub mod page;
pub(crate) mod status;
pub(crate) mod values;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::core::clock::monotonic_ms;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::core::alert::Severity;
use crate::core::alert::{Alert, AlertState};
use crate::source::file::FileStats;

/// A source not heard from for this long is not live (sources wake at least once per poll
/// interval, and a stuck one stops).
pub const SOURCE_SILENCE_LIMIT: Duration = Duration::from_secs(15);

/// Counters of one source.
#[derive(Debug, Default)]
pub struct SourceTelemetry {
    pub watch: String,
    /// A path, or `journal:WATCH`.
    pub key: String,
    pub lines: AtomicU64,
    /// `monotonic_ms()` at the source's last wake-up; `u64::MAX` while it sleeps with
    /// nothing pending until an event wakes it (healthy: never counted as silent).
    pub heartbeat_ms: AtomicU64,
    /// For file sources: bytes, rotations, truncations.
    pub file: Option<Arc<FileStats>>,
    /// For journal sources: how old the last entry read was while it was catching up, in
    /// milliseconds (0 once it has read everything there is).
    pub journal_lag_ms: AtomicU64,
    /// `monotonic_ms()` (at least 1) when the source last read a line; 0: none yet.
    pub last_line_ms: AtomicU64,
}

/// The state of one rule or probe, as the alerts tell it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleStatus {
    pub firing: bool,
    pub severity: Severity,
    pub summary: String,
    #[serde(with = "crate::core::timefmt::rfc3339_serde")]
    pub since: SystemTime,
    /// A probe (a check logwarden runs), not a rule on the lines.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub probe: bool,
    /// The id of the active silence covering it (its notifications are held); filled in by
    /// `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced: Option<String>,
    /// Who acknowledged it while it fires (no reminders); filled in by `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_by: Option<String>,
    /// While it fires as part of an incident: the rule or probe that opened it (this one
    /// included); filled in by `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
}

/// Matched lines of one watch per pattern slot: in all, and per minute of the last day.
#[derive(Debug)]
pub struct MatchCounters {
    watch: String,
    slots: Vec<String>,
    /// One per slot (`counts.len() == slots.len()`).
    counts: Box<[AtomicU64]>,
    /// One per slot (`per_minute.len() == slots.len()`); a slot is one of the watch's
    /// patterns, at most 64 (a `u64` of bits), so the rings are bounded with them.
    per_minute: Box<[history::MinuteRing]>,
}

impl MatchCounters {
    /// Notes one matched line for each slot whose bit is set in `bits`, in `minute`.
    pub fn add_at(&self, mut bits: u64, minute: u64) {
        debug_assert_eq!(self.counts.len(), self.per_minute.len());
        while bits != 0 {
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if let Some(c) = self.counts.get(b) {
                c.fetch_add(1, Relaxed);
            }
            if let Some(r) = self.per_minute.get(b) {
                r.add(minute, 1);
            }
        }
    }
}

/// Deliveries of one channel.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct ChannelCounts {
    /// Notifications delivered.
    pub sent: u64,
    /// Notifications in tries that failed (one notification failing twice counts twice).
    pub failed: u64,
    /// Notifications waiting for delivery (spooled) now.
    pub queued: u64,
    /// Notifications dropped because too many were waiting (`spool_max`).
    pub dropped: u64,
    /// Notifications the channel refused for good, with no fallback: kept as dead letters.
    pub dead: u64,
    /// Notifications a silence held back or dropped.
    pub silenced: u64,
}

/// Everything the daemon reports about itself.
#[derive(Debug)]
pub struct Telemetry {
    started_at: SystemTime,
    pub sources: Mutex<Vec<Arc<SourceTelemetry>>>,
    /// Per watch: rule or probe name -> status.
    rules: Mutex<BTreeMap<String, BTreeMap<String, RuleStatus>>>,
    /// Per watch: the last alert of each rule (also restart alerts), newest last, at most 20.
    recent: Mutex<BTreeMap<String, Vec<Alert>>>,
    channels: Mutex<BTreeMap<String, ChannelCounts>>,
    /// `monotonic_ms()` at the engine's last loop.
    pub engine_heartbeat_ms: AtomicU64,
    /// Matched lines per watch and pattern slot name.
    /// Matched lines per watch and pattern slot: counters registered once per watch by the
    /// rules engine and bumped without a lock.
    matches: Mutex<Vec<Arc<MatchCounters>>>,
    pub restarts: Mutex<BTreeMap<String, u64>>,
    /// Per watch whose restarts are off (handed over to a person, or its unit stopped by an
    /// operator): what logwarden does about its alerts now. Set by the supervisor, read by
    /// the router for the alerts' `action`.
    pub hands_off: Mutex<BTreeMap<String, String>>,
    /// Failed writes of the alert spool (a full or read-only state_dir).
    spool_errors: AtomicU64,
    /// Per Telegram control channel: commands run, and updates refused (from another chat
    /// or user).
    telegram: Mutex<BTreeMap<String, TelegramCounts>>,
    /// Notified after an operator's command wrote a watch's control file (Telegram's
    /// `/restart`, `/pause`, `/resume`): the restart supervisor looks at once.
    pub restart_poke: tokio::sync::Notify,
    /// Active silences and acknowledgements, as the router last read them.
    operator: Mutex<status::OperatorStatus>,
    /// The histograms of `value` rules, registered once each by the rules engine.
    values: Mutex<Vec<Arc<values::ValueHistograms>>>,
}

/// Commands of one Telegram control channel.
#[derive(Debug, Default, Clone, Copy)]
pub struct TelegramCounts {
    pub run: u64,
    pub refused: u64,
}

impl Telemetry {
    pub fn new(config: &Config) -> Arc<Telemetry> {
        let started_at = SystemTime::now();
        // Every rule and probe is listed from the start (as not firing), so `/status` and
        // `/metrics` show all of them, not only those that have alerted once.
        let ok = |severity, probe| RuleStatus {
            firing: false,
            severity,
            summary: "ok".to_string(),
            since: started_at,
            probe,
            silenced: None,
            acked_by: None,
            incident: None,
        };
        let mut rules = BTreeMap::new();
        for w in &config.watches {
            let mut states = BTreeMap::new();
            for r in &w.rules {
                states.insert(r.name.clone(), ok(r.severity, false));
            }
            for p in &w.probes {
                states.insert(p.name.clone(), ok(p.severity, true));
            }
            rules.insert(w.name.clone(), states);
        }
        Arc::new(Telemetry {
            started_at,
            sources: Mutex::new(Vec::new()),
            rules: Mutex::new(rules),
            recent: Mutex::new(BTreeMap::new()),
            channels: Mutex::new(
                config
                    .channels
                    .keys()
                    .map(|c| (c.clone(), ChannelCounts::default()))
                    .collect(),
            ),
            engine_heartbeat_ms: AtomicU64::new(0),
            matches: Mutex::new(Vec::new()),
            restarts: Mutex::new(BTreeMap::new()),
            hands_off: Mutex::new(BTreeMap::new()),
            spool_errors: AtomicU64::new(0),
            restart_poke: tokio::sync::Notify::new(),
            telegram: Mutex::new(
                config
                    .channels
                    .iter()
                    .filter(|(_, c)| matches!(&c.kind, crate::config::ChannelKind::Telegram(t) if t.control.is_some()))
                    .map(|(n, _)| (n.clone(), TelegramCounts::default()))
                    .collect(),
            ),
            operator: Mutex::new(status::OperatorStatus::default()),
            values: Mutex::new(Vec::new()),
        })
    }

    /// Counts a command of Telegram control channel `channel`: run, or refused.
    pub fn on_telegram_command(&self, channel: &str, run: bool) {
        if let Ok(mut t) = self.telegram.lock() {
            let c = t.entry(channel.to_string()).or_default();
            if run {
                c.run += 1;
            } else {
                c.refused += 1;
            }
        }
    }

    /// The Telegram control channels' counts, by channel.
    pub fn telegram_counts(&self) -> BTreeMap<String, TelegramCounts> {
        self.telegram.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// What fires now: (watch, rule, severity, summary), by watch and rule.
    pub fn firing(&self) -> Vec<(String, String, Severity, String)> {
        let Ok(rules) = self.rules.lock() else {
            return Vec::new();
        };
        rules
            .iter()
            .flat_map(|(w, rs)| {
                rs.iter()
                    .filter(|(_, st)| st.firing)
                    .map(move |(r, st)| (w.clone(), r.clone(), st.severity, st.summary.clone()))
            })
            .collect()
    }

    /// The clock of heartbeats.
    pub fn now_ms(&self) -> u64 {
        monotonic_ms()
    }

    /// Registers a source; its owner updates the returned counters.
    pub fn add_source(
        &self,
        watch: &str,
        key: &str,
        file: Option<Arc<FileStats>>,
    ) -> Arc<SourceTelemetry> {
        let s = Arc::new(SourceTelemetry {
            watch: watch.to_string(),
            key: key.to_string(),
            file,
            heartbeat_ms: AtomicU64::new(self.now_ms()),
            ..SourceTelemetry::default()
        });
        if let Ok(mut v) = self.sources.lock() {
            v.push(s.clone());
        }
        s
    }

    /// Notes an alert: rule states and recent history.
    pub fn on_alert(&self, a: &Alert) {
        if a.state != AlertState::Event {
            if let Ok(mut rules) = self.rules.lock() {
                let states = rules.entry(a.watch.clone()).or_default();
                let probe = states.get(&a.rule).is_some_and(|r| r.probe);
                states.insert(
                    a.rule.clone(),
                    RuleStatus {
                        firing: a.state == AlertState::Firing,
                        severity: a.severity,
                        summary: a.summary.clone(),
                        since: a.at,
                        probe,
                        silenced: None,
                        acked_by: None,
                        incident: None,
                    },
                );
            }
        }
        if a.rule == crate::core::rule_names::RESTART_RULE {
            if let Ok(mut r) = self.restarts.lock() {
                *r.entry(a.watch.clone()).or_default() += 1;
            }
        }
        if let Ok(mut recent) = self.recent.lock() {
            let v = recent.entry(a.watch.clone()).or_default();
            v.push(a.clone());
            if v.len() > 20 {
                v.remove(0);
            }
        }
    }

    /// Notes a try to deliver `n` notifications to `channel`.
    pub fn on_delivery(&self, channel: &str, n: u64, ok: bool) {
        if let Ok(mut c) = self.channels.lock() {
            let e = c.entry(channel.to_string()).or_default();
            if ok {
                e.sent += n;
            } else {
                e.failed += n;
            }
        }
    }

    /// Notes how many notifications wait for `channel`.
    pub fn on_queue(&self, channel: &str, waiting: usize) {
        if let Ok(mut c) = self.channels.lock() {
            c.entry(channel.to_string()).or_default().queued = waiting as u64;
        }
    }

    /// Notes a notification dropped because too many were waiting.
    pub fn on_dropped(&self, channel: &str) {
        if let Ok(mut c) = self.channels.lock() {
            c.entry(channel.to_string()).or_default().dropped += 1;
        }
    }

    /// Notes a notification kept as a dead letter: refused for good, no fallback.
    pub fn on_dead(&self, channel: &str) {
        if let Ok(mut c) = self.channels.lock() {
            c.entry(channel.to_string()).or_default().dead += 1;
        }
    }

    /// Notes one notification per channel of `channels` held back or dropped by a silence.
    pub fn on_silenced(&self, channels: &[String]) {
        if let Ok(mut c) = self.channels.lock() {
            for ch in channels {
                c.entry(ch.clone()).or_default().silenced += 1;
            }
        }
    }

    /// Notes the active silences, the acknowledged open alerts, and why the operator's file
    /// could not be read (if it could not).
    pub fn set_operator(
        &self,
        silences: Vec<status::SilenceStatus>,
        acks: Vec<status::AckStatus>,
        error: Option<String>,
    ) {
        if let Ok(mut o) = self.operator.lock() {
            let incidents = std::mem::take(&mut o.incidents);
            *o = status::OperatorStatus {
                silences,
                acks,
                error,
                incidents,
            };
        }
    }

    /// Records the alerts that fire as part of an incident (shown in `status`).
    pub fn set_incidents(&self, incidents: Vec<status::IncidentStatus>) {
        if let Ok(mut o) = self.operator.lock() {
            o.incidents = incidents;
        }
    }

    /// Notes a failed write of the alert spool or the open alerts.
    pub fn on_spool_error(&self) {
        self.spool_errors.fetch_add(1, Relaxed);
    }

    /// Registers the match counters of `watch`, one per pattern slot (`slots[i]` is the name
    /// of bit `i`); the rules engine bumps them, `/metrics` reads them.
    pub fn match_counters(&self, watch: &str, slots: &[String]) -> Arc<MatchCounters> {
        let c = Arc::new(MatchCounters {
            watch: watch.to_string(),
            slots: slots.to_vec(),
            counts: slots.iter().map(|_| AtomicU64::new(0)).collect(),
            per_minute: slots.iter().map(|_| history::MinuteRing::new()).collect(),
        });
        if let Ok(mut m) = self.matches.lock() {
            m.push(c.clone());
        }
        c
    }

    /// Why the daemon is not healthy (empty: healthy).
    pub fn problems(&self) -> Vec<String> {
        let now = self.now_ms();
        let mut out = Vec::new();
        let limit = SOURCE_SILENCE_LIMIT.as_millis() as u64;
        if now.saturating_sub(self.engine_heartbeat_ms.load(Relaxed)) > limit {
            out.push("the rules engine has not moved for more than 15s".to_string());
        }
        if let Ok(sources) = self.sources.lock() {
            for s in sources.iter() {
                let silent = now.saturating_sub(s.heartbeat_ms.load(Relaxed));
                if silent > limit {
                    out.push(format!(
                        "source {} of watch {} has not woken for {}s",
                        s.key,
                        s.watch,
                        silent / 1000
                    ));
                }
            }
        }
        out
    }
}

/// Resident set size of this process, from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(0) as u64
}
