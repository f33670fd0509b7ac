//! What logwarden knows about itself, for `/health`, `/metrics`, `/status` and the systemd
//! watchdog: per-source counters and heartbeats, per-rule states, deliveries per channel,
//! restarts per watch. Counters are atomics updated by their owners (a batch at a time, never
//! a lock per line); rule states change only on transitions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::core::clock::monotonic_ms;

use serde::Serialize;

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
    /// `monotonic_ms()` at the source's last wake-up.
    pub heartbeat_ms: AtomicU64,
    /// For file sources: bytes, rotations, truncations.
    pub file: Option<Arc<FileStats>>,
    /// For journal sources: how old the last entry read was while it was catching up, in
    /// milliseconds (0 once it has read everything there is).
    pub journal_lag_ms: AtomicU64,
}

/// The state of one rule or probe, as the alerts tell it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleStatus {
    pub firing: bool,
    pub severity: Severity,
    pub summary: String,
    #[serde(serialize_with = "time")]
    pub since: SystemTime,
}

fn time<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::core::timefmt::rfc3339(*t))
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
    matches: Mutex<BTreeMap<(String, String), u64>>,
    pub restarts: Mutex<BTreeMap<String, u64>>,
    /// Per watch whose restarts are off (handed over to a person, or its unit stopped by an
    /// operator): what logwarden does about its alerts now. Set by the supervisor, read by
    /// the router for the alerts' `action`.
    pub hands_off: Mutex<BTreeMap<String, String>>,
    /// Failed writes of the alert spool (a full or read-only state_dir).
    spool_errors: AtomicU64,
}

impl Telemetry {
    pub fn new(config: &Config) -> Arc<Telemetry> {
        let started_at = SystemTime::now();
        // Every rule and probe is listed from the start (as not firing), so `/status` and
        // `/metrics` show all of them, not only those that have alerted once.
        let ok = |severity| RuleStatus {
            firing: false,
            severity,
            summary: "ok".to_string(),
            since: started_at,
        };
        let mut rules = BTreeMap::new();
        for w in &config.watches {
            let mut states = BTreeMap::new();
            for r in &w.rules {
                states.insert(r.name.clone(), ok(r.severity));
            }
            for p in &w.probes {
                states.insert(p.name.clone(), ok(p.severity));
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
            matches: Mutex::new(BTreeMap::new()),
            restarts: Mutex::new(BTreeMap::new()),
            hands_off: Mutex::new(BTreeMap::new()),
            spool_errors: AtomicU64::new(0),
        })
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
                rules.entry(a.watch.clone()).or_default().insert(
                    a.rule.clone(),
                    RuleStatus {
                        firing: a.state == AlertState::Firing,
                        severity: a.severity,
                        summary: a.summary.clone(),
                        since: a.at,
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

    /// Notes a failed write of the alert spool or the open alerts.
    pub fn on_spool_error(&self) {
        self.spool_errors.fetch_add(1, Relaxed);
    }

    /// Notes `n` matched lines of `slot` in `watch`.
    pub fn on_matches(&self, watch: &str, slot: &str, n: u64) {
        if let Ok(mut m) = self.matches.lock() {
            *m.entry((watch.to_string(), slot.to_string())).or_default() += n;
        }
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

    /// `/status`: every watch with its rules, probes, recent alerts and restarts.
    pub fn status(&self) -> serde_json::Value {
        let rules = self.rules.lock().map(|r| r.clone()).unwrap_or_default();
        let recent = self.recent.lock().map(|r| r.clone()).unwrap_or_default();
        let restarts = self.restarts.lock().map(|r| r.clone()).unwrap_or_default();
        let sources = self.sources.lock().map(|s| s.clone()).unwrap_or_default();
        let watches: Vec<serde_json::Value> = rules
            .iter()
            .map(|(name, rules)| {
                let critical = rules
                    .values()
                    .any(|r| r.firing && r.severity == Severity::Critical);
                let firing = rules.values().any(|r| r.firing);
                serde_json::json!({
                    "name": name,
                    "state": if critical { "critical" } else if firing { "warning" } else { "ok" },
                    "rules": rules,
                    "sources": sources.iter().filter(|s| &s.watch == name).map(|s| serde_json::json!({
                        "source": s.key,
                        "lines": s.lines.load(Relaxed),
                        "lag_bytes": s.file.as_ref().map(|f| f.lag_bytes.load(Relaxed)),
                        "lag_seconds": s.file.is_none().then(|| s.journal_lag_ms.load(Relaxed) as f64 / 1000.0),
                    })).collect::<Vec<_>>(),
                    "restarts": restarts.get(name).copied().unwrap_or(0),
                    "recent_alerts": recent.get(name).cloned().unwrap_or_default(),
                })
            })
            .collect();
        serde_json::json!({
            "started_at": crate::core::timefmt::rfc3339(self.started_at),
            "healthy": self.problems().is_empty(),
            "problems": self.problems(),
            "watches": watches,
        })
    }

    /// `/metrics` in the Prometheus text format (0.0.4), checked with `promtool check metrics`.
    pub fn render_metrics(&self) -> String {
        let mut m = Metrics::default();
        let sources = self.sources.lock().map(|s| s.clone()).unwrap_or_default();
        m.family(
            "logwarden_lines_read_total",
            "counter",
            "Lines read per source.",
        );
        for s in &sources {
            m.sample(
                "logwarden_lines_read_total",
                &[("watch", &s.watch), ("source", &s.key)],
                s.lines.load(Relaxed) as f64,
            );
        }
        m.family(
            "logwarden_read_lag_bytes",
            "gauge",
            "Bytes written to a followed file and not read yet.",
        );
        for s in &sources {
            if let Some(f) = &s.file {
                m.sample(
                    "logwarden_read_lag_bytes",
                    &[("watch", &s.watch), ("source", &s.key)],
                    f.lag_bytes.load(Relaxed) as f64,
                );
            }
        }
        m.family(
            "logwarden_journal_lag_seconds",
            "gauge",
            "Age of the last journal entry read while catching up; 0 when all is read.",
        );
        // Journal sources are the ones without file stats (pipeline.rs registers them so).
        for s in sources.iter().filter(|s| s.file.is_none()) {
            m.sample(
                "logwarden_journal_lag_seconds",
                &[("watch", &s.watch), ("source", &s.key)],
                s.journal_lag_ms.load(Relaxed) as f64 / 1000.0,
            );
        }
        m.family(
            "logwarden_file_rotations_total",
            "counter",
            "Rotations followed per file.",
        );
        m.family(
            "logwarden_file_truncations_total",
            "counter",
            "Truncations (copytruncate included) per file.",
        );
        m.family(
            "logwarden_file_unrecovered_truncations_total",
            "counter",
            "Truncations after which unread lines could not be found in a rotated copy.",
        );
        m.family(
            "logwarden_lines_lost_bytes_total",
            "counter",
            "Bytes gone before they could be read (a rotated generation deleted unread, a copytruncate gap), at least.",
        );
        m.family(
            "logwarden_file_caught_up_bytes_total",
            "counter",
            "Bytes read from rotated generations in catch-ups (after downtime, or after falling behind).",
        );
        for s in &sources {
            if let Some(f) = &s.file {
                let l = [("watch", s.watch.as_str()), ("source", s.key.as_str())];
                m.sample(
                    "logwarden_file_rotations_total",
                    &l,
                    f.rotations.load(Relaxed) as f64,
                );
                m.sample(
                    "logwarden_file_truncations_total",
                    &l,
                    f.truncations.load(Relaxed) as f64,
                );
                m.sample(
                    "logwarden_file_unrecovered_truncations_total",
                    &l,
                    f.unrecovered_truncations.load(Relaxed) as f64,
                );
                m.sample(
                    "logwarden_lines_lost_bytes_total",
                    &l,
                    f.lost_bytes.load(Relaxed) as f64,
                );
                m.sample(
                    "logwarden_file_caught_up_bytes_total",
                    &l,
                    f.caught_up_bytes.load(Relaxed) as f64,
                );
            }
        }
        m.family(
            "logwarden_matches_total",
            "counter",
            "Matched lines per watch and pattern.",
        );
        if let Ok(matches) = self.matches.lock() {
            for ((w, p), n) in matches.iter() {
                m.sample(
                    "logwarden_matches_total",
                    &[("watch", w), ("pattern", p)],
                    *n as f64,
                );
            }
        }
        m.family(
            "logwarden_rule_firing",
            "gauge",
            "1 while a rule or probe fires.",
        );
        if let Ok(rules) = self.rules.lock() {
            for (w, rs) in rules.iter() {
                for (r, st) in rs {
                    m.sample(
                        "logwarden_rule_firing",
                        &[("watch", w), ("rule", r)],
                        if st.firing { 1.0 } else { 0.0 },
                    );
                }
            }
        }
        m.family(
            "logwarden_alerts_sent_total",
            "counter",
            "Alerts delivered per channel.",
        );
        m.family(
            "logwarden_alerts_failed_total",
            "counter",
            "Alert notifications in delivery tries that failed, per channel.",
        );
        m.family(
            "logwarden_alerts_spooled",
            "gauge",
            "Alert notifications waiting in the spool for delivery, per channel.",
        );
        m.family(
            "logwarden_alerts_dropped_total",
            "counter",
            "Alert notifications dropped because more than spool_max waited, per channel.",
        );
        if let Ok(ch) = self.channels.lock() {
            for (c, n) in ch.iter() {
                let l = [("channel", c.as_str())];
                m.sample("logwarden_alerts_sent_total", &l, n.sent as f64);
                m.sample("logwarden_alerts_failed_total", &l, n.failed as f64);
                m.sample("logwarden_alerts_spooled", &l, n.queued as f64);
                m.sample("logwarden_alerts_dropped_total", &l, n.dropped as f64);
            }
        }
        m.family(
            "logwarden_notifications_dead_total",
            "counter",
            "Alert notifications a channel refused for good, with no fallback, kept as dead letters in state_dir/dead (`logwarden dead-letters`), per channel.",
        );
        if let Ok(ch) = self.channels.lock() {
            for (c, n) in ch.iter() {
                let l = [("channel", c.as_str())];
                m.sample("logwarden_notifications_dead_total", &l, n.dead as f64);
            }
        }
        m.family(
            "logwarden_spool_write_errors_total",
            "counter",
            "Failed writes of the alert spool or the open alerts (state_dir full or read-only).",
        );
        m.sample(
            "logwarden_spool_write_errors_total",
            &[],
            self.spool_errors.load(Relaxed) as f64,
        );
        m.family(
            "logwarden_restarts_total",
            "counter",
            "Restarts of watched services.",
        );
        // Every watch, 0 before its first restart (a counter that appears late is missed by
        // `increase()`).
        let watches: Vec<String> = self
            .rules
            .lock()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default();
        if let Ok(r) = self.restarts.lock() {
            for w in &watches {
                let n = r.get(w).copied().unwrap_or(0);
                m.sample("logwarden_restarts_total", &[("watch", w)], n as f64);
            }
        }
        m.family(
            "logwarden_resident_memory_bytes",
            "gauge",
            "Resident memory of logwarden.",
        );
        m.sample("logwarden_resident_memory_bytes", &[], rss_bytes() as f64);
        m.family(
            "logwarden_healthy",
            "gauge",
            "1 when every source is live and the pipeline moves.",
        );
        m.sample(
            "logwarden_healthy",
            &[],
            if self.problems().is_empty() { 1.0 } else { 0.0 },
        );
        m.out
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

/// A tiny writer of the Prometheus text format.
#[derive(Default)]
struct Metrics {
    out: String,
}

impl Metrics {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.out
            .push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                self.out.push_str(&format!("{k}=\"{v}\""));
            }
            self.out.push('}');
        }
        self.out.push_str(&format!(" {value}\n"));
    }
}
