//! The alert router: the one place between the rules and the channels. For each alert it
//! deduplicates by (watch, rule) against what was already notified (persisted, so a restart
//! of logwarden does not notify a still-firing alert twice), redacts its texts, says what
//! logwarden will do about it, and hands one notification per channel to the spool and then
//! to that channel's delivery worker. While an alert keeps firing it sends a reminder every
//! `repeat`, and Alertmanager channels get a keepalive every `resend`.
//!
//! An alert a previous run notified as firing is "carried": if the rules do not confirm it
//! (fire it again) within its rule's horizon after the start, it is resolved with a note,
//! so nothing stays open forever because logwarden restarted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::delivery::Worker;
use super::notification::{next_id, unix_ms, Kind, Notification, VERSION};
use super::redact::Redactor;
use super::spool::Spool;
use super::supervisor::{HANDOVER_RULE, RESTART_RULE};
use crate::alert::{Alert, AlertState};
use crate::config::{ChannelKind, Config, ProbeConfig, RuleKind, Severity};
use crate::logging::LogFormat;
use crate::pipeline::AlertHandler;
use crate::shutdown::Shutdown;
use crate::telemetry::Telemetry;

/// Extra time a carried alert is given beyond its rule's horizon to fire again.
const CARRY_MARGIN: Duration = Duration::from_secs(120);
/// The longest the reminder task sleeps (it also re-checks carried alerts).
const MAX_NAP: Duration = Duration::from_secs(60);
/// At shutdown, delivery workers get this long to make their last try.
const FINISH_WITHIN: Duration = Duration::from_secs(8);

/// One alert that is firing and was notified.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Open {
    alert: Alert,
    /// Unix ms of the firing.
    since_ms: u64,
    /// Unix ms of the last notice or reminder.
    notified_ms: u64,
    /// The channels it went to: its resolution goes to the same ones.
    channels: Vec<String>,
    /// From an earlier run and not fired again in this one yet.
    #[serde(skip)]
    carried: bool,
}

/// What is open, persisted in `state_dir/alerts.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Book {
    version: u32,
    open: Vec<Open>,
}

/// Where one channel's notifications go and which it takes.
#[derive(Clone)]
struct Target {
    tx: mpsc::UnboundedSender<Notification>,
    min_severity: Severity,
    /// Alertmanager's re-send interval.
    keepalive: Option<Duration>,
}

/// Shared between the router and its reminder task.
struct Shared {
    open: Mutex<BTreeMap<(String, String), Open>>,
    targets: HashMap<String, Target>,
    routes: HashMap<String, Vec<String>>,
    spool: Arc<Spool>,
    book_path: PathBuf,
    host: String,
    repeat: Duration,
    telemetry: Arc<Telemetry>,
}

/// Routes alerts to channels; see the module doc.
pub struct Router {
    shared: Arc<Shared>,
    redactor: Arc<Redactor>,
    /// Per watch: its unit and the rules whose firing asks for a restart.
    restarts: HashMap<String, (Option<String>, HashSet<String>)>,
    /// Per (watch, rule): how long the rules may take to fire again after a start.
    horizons: HashMap<(String, String), Duration>,
    started: tokio::time::Instant,
    tasks: Vec<JoinHandle<()>>,
    /// Spool files written since the last sync.
    unsynced: bool,
}

/// Why the router could not start.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error(transparent)]
    Channel(#[from] super::BuildError),
    #[error("cannot set up the HTTP client for channels: {0}")]
    Http(String),
}

impl Router {
    /// Builds every channel and its worker, reloads the spool and the open alerts of the
    /// previous run, and starts reminders.
    pub fn start(
        config: &Config,
        format: LogFormat,
        telemetry: Arc<Telemetry>,
        shutdown: Shutdown,
    ) -> Result<Router, RouterError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| RouterError::Http(e.to_string()))?;
        let redactor = Arc::new(Redactor::new(&config.alerts, &config.secret_values()));
        let spool = Arc::new(Spool::new(&config.daemon.state_dir));
        let mut senders = HashMap::new();
        let mut receivers = HashMap::new();
        for name in config.channels.keys() {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.insert(name.clone(), tx);
            receivers.insert(name.clone(), rx);
        }
        let mut tasks = Vec::new();
        let mut targets = HashMap::new();
        for (name, cfg) in &config.channels {
            let channel = super::build_channel(name, cfg, format, &http)?;
            let (Some(tx), Some(rx)) = (senders.get(name), receivers.remove(name)) else {
                continue;
            };
            let worker = Worker {
                name: name.clone(),
                channel,
                cfg: cfg.clone(),
                rx,
                fallback: cfg.fallback.as_ref().and_then(|f| senders.get(f).cloned()),
                spool: spool.clone(),
                redactor: redactor.clone(),
                telemetry: telemetry.clone(),
                retry_max: config.alerts.retry_max,
                spool_max: config.alerts.spool_max,
            };
            tasks.push(tokio::spawn(worker.run(shutdown.clone())));
            targets.insert(
                name.clone(),
                Target {
                    tx: tx.clone(),
                    min_severity: cfg.min_severity,
                    keepalive: match &cfg.kind {
                        ChannelKind::Alertmanager(a) => Some(a.resend),
                        _ => None,
                    },
                },
            );
        }
        drop(senders);
        // What an earlier run left: undelivered notifications, and alerts still open.
        let mut resumed = 0;
        for n in spool.load() {
            match targets.get(&n.channel) {
                Some(t) => {
                    resumed += 1;
                    let _ = t.tx.send(n);
                }
                None => tracing::warn!(channel = %n.channel, rule = %n.alert.rule,
                    "a spooled notification is for a channel no longer configured; it stays in the spool"),
            }
        }
        if resumed > 0 {
            tracing::info!(
                notifications = resumed,
                "resuming alert delivery from the spool"
            );
        }
        let book_path = config.daemon.state_dir.join("alerts.json");
        let open = load_book(&book_path);
        let shared = Arc::new(Shared {
            open: Mutex::new(open),
            targets,
            routes: config
                .watches
                .iter()
                .map(|w| (w.name.clone(), w.notify.clone()))
                .collect(),
            spool,
            book_path,
            host: config.alerts.host.clone(),
            repeat: config.alerts.repeat,
            telemetry,
        });
        let mut router = Router {
            shared: shared.clone(),
            redactor,
            restarts: config
                .watches
                .iter()
                .map(|w| {
                    let mut on: HashSet<String> = w
                        .rules
                        .iter()
                        .filter(|r| r.then_restart)
                        .map(|r| r.name.clone())
                        .collect();
                    on.extend(
                        w.probes
                            .iter()
                            .filter(|p| p.then_restart)
                            .map(|p| p.name.clone()),
                    );
                    let on = if w.restart.is_some() {
                        on
                    } else {
                        HashSet::new()
                    };
                    (w.name.clone(), (w.unit.clone(), on))
                })
                .collect(),
            horizons: horizons(config),
            started: tokio::time::Instant::now(),
            tasks,
            unsynced: false,
        };
        router.tasks.push(tokio::spawn(remind(
            shared,
            router.carry_deadlines(),
            shutdown,
        )));
        Ok(router)
    }

    /// When each carried alert must have fired again, from the start of this run.
    fn carry_deadlines(&self) -> Vec<((String, String), tokio::time::Instant)> {
        let open = self
            .shared
            .open
            .lock()
            .map(|o| o.keys().cloned().collect::<Vec<_>>());
        open.unwrap_or_default()
            .into_iter()
            .filter_map(|key| {
                let supervised = key.1 == HANDOVER_RULE;
                if supervised {
                    // The supervisor keeps its hand-over state itself and resolves it.
                    return None;
                }
                let horizon = self.horizons.get(&key).copied().unwrap_or(Duration::ZERO);
                Some((key, self.started + horizon + CARRY_MARGIN))
            })
            .collect()
    }

    /// Handles one alert from the rules or the supervisor (durable after `sync`).
    pub fn accept(&mut self, mut alert: Alert) {
        self.unsynced = true;
        self.redactor.redact_alert(&mut alert);
        if alert.state == AlertState::Firing && alert.action.is_none() {
            if let Some((unit, on)) = self.restarts.get(&alert.watch) {
                if on.contains(&alert.rule) {
                    alert.action = Some(match unit {
                        Some(u) => format!("logwarden restarts {u} (when its restart policy allows)"),
                        None => "logwarden runs the watch's restart command (when its restart policy allows)".into(),
                    });
                }
            }
        }
        let s = &self.shared;
        let key = alert.key();
        let now_ms = unix_ms(SystemTime::now());
        let (channels, since_ms) = match alert.state {
            AlertState::Firing => {
                let Ok(mut open) = s.open.lock() else { return };
                if let Some(o) = open.get_mut(&key) {
                    if o.carried {
                        o.carried = false;
                        tracing::info!(watch = %key.0, rule = %key.1,
                            "still firing after the restart of logwarden; not notified again");
                    }
                    return;
                }
                let channels = s.channels_for(&alert.watch, alert.severity);
                open.insert(
                    key,
                    Open {
                        alert: alert.clone(),
                        since_ms: unix_ms(alert.at),
                        notified_ms: now_ms,
                        channels: channels.clone(),
                        carried: false,
                    },
                );
                (channels, None)
            }
            AlertState::Resolved => {
                let Ok(mut open) = s.open.lock() else { return };
                match open.remove(&key) {
                    Some(o) => (o.channels, Some(o.since_ms)),
                    None => (s.channels_for(&alert.watch, alert.severity), None),
                }
            }
            AlertState::Event => (s.channels_for(&alert.watch, alert.severity), None),
        };
        s.notify(&alert, Kind::Notice, since_ms, &channels);
        if alert.state != AlertState::Event {
            s.save_book();
        }
    }

    /// Waits (bounded) for the delivery workers' last tries after shutdown began.
    pub async fn finish(&mut self) {
        let mut tasks = std::mem::take(&mut self.tasks);
        let all = futures_util::future::join_all(tasks.iter_mut());
        if tokio::time::timeout(FINISH_WITHIN, all).await.is_err() {
            tracing::warn!(
                "alert delivery did not finish in time; what is left stays in the spool"
            );
        }
        for t in &tasks {
            t.abort();
        }
        self.shared.save_book();
    }
}

impl AlertHandler for Router {
    async fn handle(&mut self, alert: Alert) {
        // Spooling writes files: keep it off the async workers.
        tokio::task::block_in_place(|| self.accept(alert));
    }

    async fn flush(&mut self) {
        if std::mem::take(&mut self.unsynced) {
            let shared = self.shared.clone();
            tokio::task::block_in_place(|| shared.sync_spool());
        }
    }

    async fn finish(&mut self) {
        Router::finish(self).await;
    }
}

impl Shared {
    /// The channels of `watch` that take alerts of `severity`.
    fn channels_for(&self, watch: &str, severity: Severity) -> Vec<String> {
        self.routes
            .get(watch)
            .map(|names| {
                names
                    .iter()
                    .filter(|n| {
                        self.targets
                            .get(*n)
                            .is_some_and(|t| severity >= t.min_severity)
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Spools one notification per channel, then queues it.
    fn notify(&self, alert: &Alert, kind: Kind, since_ms: Option<u64>, channels: &[String]) {
        for name in channels {
            let Some(t) = self.targets.get(name) else {
                continue;
            };
            let n = Notification {
                version: VERSION,
                id: next_id(),
                channel: name.clone(),
                kind,
                alert: alert.clone(),
                host: self.host.clone(),
                since_ms,
                rerouted: None,
            };
            if let Err(e) = self.spool.write(&n) {
                // Deliver anyway: a full disk must not silence alerts.
                tracing::error!(error = %e, "alert not spooled; sending it without a durable copy");
                self.telemetry.on_spool_error();
            }
            let _ = t.tx.send(n);
        }
    }

    fn sync_spool(&self) {
        if let Err(e) = self.spool.sync() {
            tracing::error!(error = %e, "alert spool not synced to disk");
            self.telemetry.on_spool_error();
        }
    }

    fn save_book(&self) {
        let Ok(open) = self.open.lock() else { return };
        let book = Book {
            version: 1,
            open: open.values().cloned().collect(),
        };
        drop(open);
        let bytes = serde_json::to_vec_pretty(&book).unwrap_or_default();
        if let Err(e) = crate::state_file::write_atomic(&self.book_path, &bytes) {
            tracing::warn!(error = %e, path = %self.book_path.display(), "cannot save the open alerts");
            self.telemetry.on_spool_error();
        }
    }
}

fn load_book(path: &std::path::Path) -> BTreeMap<(String, String), Open> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "cannot read the open alerts");
            return BTreeMap::new();
        }
    };
    match serde_json::from_slice::<Book>(&bytes) {
        Ok(b) if b.version == 1 => b
            .open
            .into_iter()
            .map(|mut o| {
                o.carried = true;
                (o.alert.key(), o)
            })
            .collect(),
        Ok(b) => {
            tracing::warn!(
                version = b.version,
                "open alerts file of an unknown version ignored"
            );
            BTreeMap::new()
        }
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "open alerts file unreadable; ignored");
            BTreeMap::new()
        }
    }
}

/// How long after a start each rule may take to fire again if its condition still holds.
fn horizons(config: &Config) -> HashMap<(String, String), Duration> {
    let mut out = HashMap::new();
    for w in &config.watches {
        for r in &w.rules {
            let h = match &r.kind {
                RuleKind::Rate { window, .. } => *window,
                RuleKind::Stale { after } => *after,
                RuleKind::Absent { window, .. } => *window,
                RuleKind::Match { .. } => Duration::ZERO,
            };
            out.insert((w.name.clone(), r.name.clone()), h);
        }
        for p in &w.probes {
            out.insert((w.name.clone(), p.name.clone()), probe_horizon(p));
        }
        // Restarts are events; a hand-over is the supervisor's (see `carry_deadlines`).
        out.insert((w.name.clone(), RESTART_RULE.to_string()), Duration::ZERO);
    }
    out
}

fn probe_horizon(p: &ProbeConfig) -> Duration {
    (p.every + p.timeout).saturating_mul(p.failures.max(1))
}

/// Sends reminders and keepalives, and resolves carried alerts that did not fire again.
async fn remind(
    s: Arc<Shared>,
    mut carry: Vec<((String, String), tokio::time::Instant)>,
    mut shutdown: Shutdown,
) {
    let mut next_keepalive: HashMap<String, tokio::time::Instant> = s
        .targets
        .iter()
        .filter_map(|(n, t)| {
            t.keepalive
                .map(|k| (n.clone(), tokio::time::Instant::now() + k))
        })
        .collect();
    loop {
        let now = tokio::time::Instant::now();
        let mut wake = now + MAX_NAP;
        for (_, at) in &carry {
            wake = wake.min(*at);
        }
        for at in next_keepalive.values() {
            wake = wake.min(*at);
        }
        if let Ok(open) = s.open.lock() {
            let now_ms = unix_ms(SystemTime::now());
            for o in open.values() {
                let due_ms = o.notified_ms + s.repeat.as_millis() as u64;
                let left = Duration::from_millis(due_ms.saturating_sub(now_ms));
                wake = wake.min(now + left);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = shutdown.wait() => return,
        }
        let now = tokio::time::Instant::now();
        // Carried alerts the rules did not confirm: resolved, with a note.
        let (due, later): (Vec<_>, Vec<_>) = carry.into_iter().partition(|(_, at)| *at <= now);
        carry = later;
        for (key, _) in due {
            let closed = s.open.lock().ok().and_then(|mut open| {
                let carried = open.get(&key).is_some_and(|o| o.carried);
                if carried {
                    open.remove(&key)
                } else {
                    None
                }
            });
            if let Some(o) = closed {
                let mut a = o.alert.clone();
                a.state = AlertState::Resolved;
                a.at = SystemTime::now();
                a.summary = format!(
                    "no longer detected since logwarden restarted (it was: {})",
                    o.alert.summary
                );
                a.line = None;
                a.context.clear();
                a.action = None;
                tracing::info!(watch = %key.0, rule = %key.1, "an alert open before the restart did not fire again: resolved");
                s.notify(&a, Kind::Notice, Some(o.since_ms), &o.channels);
                s.sync_spool();
                s.save_book();
            }
        }
        // Reminders for what keeps firing.
        let now_ms = unix_ms(SystemTime::now());
        let mut reminders = Vec::new();
        if let Ok(mut open) = s.open.lock() {
            for o in open.values_mut() {
                if now_ms >= o.notified_ms + s.repeat.as_millis() as u64 {
                    o.notified_ms = now_ms;
                    reminders.push((o.alert.clone(), o.since_ms, o.channels.clone()));
                }
            }
        }
        if !reminders.is_empty() {
            for (a, since, channels) in &reminders {
                s.notify(a, Kind::Reminder, Some(*since), channels);
            }
            s.sync_spool();
            s.save_book();
        }
        // Keepalives for receivers that expire alerts (Alertmanager).
        for (name, at) in next_keepalive.iter_mut() {
            if *at > now {
                continue;
            }
            let Some(t) = s.targets.get(name) else {
                continue;
            };
            *at = now + t.keepalive.unwrap_or(MAX_NAP);
            let open: Vec<Open> = s
                .open
                .lock()
                .map(|o| {
                    o.values()
                        .filter(|o| o.channels.contains(name))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for o in open {
                let n = Notification {
                    version: VERSION,
                    id: next_id(),
                    channel: name.clone(),
                    kind: Kind::Keepalive,
                    alert: o.alert,
                    host: s.host.clone(),
                    since_ms: Some(o.since_ms),
                    rerouted: None,
                };
                let _ = t.tx.send(n);
            }
        }
    }
}
