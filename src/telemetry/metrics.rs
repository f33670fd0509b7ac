//! `/metrics`: the Prometheus text format (0.0.4), checked with `promtool check metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::telemetry::{rss_bytes, SourceTelemetry, Telemetry};

impl Telemetry {
    /// `/metrics` in the Prometheus text format (0.0.4), checked with `promtool check metrics`.
    pub fn render_metrics(&self) -> String {
        let mut m = Metrics::default();
        let sources = self.sources.lock().map(|s| s.clone()).unwrap_or_default();
        metrics_of_sources(&mut m, &sources);
        metrics_of_files(&mut m, &sources);
        self.metrics_of_rules(&mut m);
        self.metrics_of_values(&mut m);
        self.metrics_of_channels(&mut m);
        self.metrics_of_telegram(&mut m);
        self.metrics_of_process(&mut m);
        m.out
    }

    /// Matches per pattern and the rules that fire.
    fn metrics_of_rules(&self, m: &mut Metrics) {
        m.family(
            "logwarden_matches_total",
            "counter",
            "Matched lines per watch and pattern.",
        );
        // Sorted by watch and pattern, and only patterns that matched, as before counters
        // were registered up front.
        let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
        if let Ok(matches) = self.matches.lock() {
            for c in matches.iter() {
                for (p, n) in c.slots.iter().zip(c.counts.iter()) {
                    let n = n.load(Relaxed);
                    if n > 0 {
                        *counts.entry((c.watch.clone(), p.clone())).or_default() += n;
                    }
                }
            }
        }
        for ((w, p), n) in &counts {
            m.sample(
                "logwarden_matches_total",
                &[("watch", w), ("pattern", p)],
                *n as f64,
            );
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
    }

    /// Commands of Telegram control channels (docs/telegram.md).
    fn metrics_of_telegram(&self, m: &mut Metrics) {
        let counts = self.telegram_counts();
        if counts.is_empty() {
            return;
        }
        m.family(
            "logwarden_telegram_commands_total",
            "counter",
            "Commands run from a Telegram control channel.",
        );
        for (c, n) in &counts {
            m.sample(
                "logwarden_telegram_commands_total",
                &[("channel", c)],
                n.run as f64,
            );
        }
        m.family(
            "logwarden_telegram_commands_refused_total",
            "counter",
            "Telegram updates refused (not from the channel's chat and control_users), never answered.",
        );
        for (c, n) in &counts {
            m.sample(
                "logwarden_telegram_commands_refused_total",
                &[("channel", c)],
                n.refused as f64,
            );
        }
    }

    /// Deliveries per channel, the spool, dead letters.
    fn metrics_of_channels(&self, m: &mut Metrics) {
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
            "logwarden_notifications_silenced_total",
            "counter",
            "Alert notifications a silence held back or dropped (firings held, events and resolutions of held firings dropped), per channel.",
        );
        if let Ok(ch) = self.channels.lock() {
            for (c, n) in ch.iter() {
                let l = [("channel", c.as_str())];
                m.sample(
                    "logwarden_notifications_silenced_total",
                    &l,
                    n.silenced as f64,
                );
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
    }

    /// Restarts per watch, and logwarden itself: memory, health.
    fn metrics_of_process(&self, m: &mut Metrics) {
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
    }
}

/// Per source: lines read, read lag, journal lag.
fn metrics_of_sources(m: &mut Metrics, sources: &[Arc<SourceTelemetry>]) {
    m.family(
        "logwarden_lines_read_total",
        "counter",
        "Lines read per source.",
    );
    for s in sources {
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
    for s in sources {
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
}

/// Per followed file: rotations, truncations, bytes lost and caught up.
fn metrics_of_files(m: &mut Metrics, sources: &[Arc<SourceTelemetry>]) {
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
    for s in sources {
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
}

/// A tiny writer of the Prometheus text format.
#[derive(Default)]
pub(super) struct Metrics {
    out: String,
}

impl Metrics {
    pub(super) fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.out
            .push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    }

    pub(super) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
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
