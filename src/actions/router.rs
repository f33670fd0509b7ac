//! The alert router: the one place between the rules and the channels. For each alert it
//! deduplicates by (watch, rule) against what was already notified (persisted, so a restart
//! of logwarden does not notify a still-firing alert twice), says what logwarden will do
//! about it, and hands one notification per channel to the spool and then
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

use crate::actions::dead_letter::DeadLetters;
use crate::actions::delivery::Worker;
use crate::actions::notification::{next_id, unix_ms, Kind, Notification, VERSION};
use crate::actions::redact::Redactor;
use crate::actions::spool::Spool;
use crate::actions::AlertHandler;
use crate::config::{ChannelKind, Config, ProbeConfig, RuleKind};
use crate::core::alert::Severity;
use crate::core::alert::{Alert, AlertState};
use crate::core::logging::LogFormat;
use crate::core::rule_names::{HANDOVER_RULE, RESTART_RULE};
use crate::core::shutdown::Shutdown;
use crate::source::Position;
use crate::telemetry::Telemetry;

/// The watch name of alerts about logwarden itself (a refused reload).
pub const SELF_WATCH: &str = "logwarden";
pub use crate::core::rule_names::CONFIG_RULE;

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
    /// When the next reminder is due (this run's clock; `notified_ms` carries it over a
    /// restart).
    #[serde(skip)]
    remind_at: Option<tokio::time::Instant>,
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

/// What logwarden does about `watch`'s alerts while its restarts are off (see `Supervisor`).
fn hands_off_action(telemetry: &Telemetry, watch: &str) -> Option<String> {
    telemetry.hands_off.lock().ok()?.get(watch).cloned()
}

/// Routes alerts to channels; see the module doc.
pub struct Router {
    shared: Arc<Shared>,
    /// Per watch: its unit and the rules whose firing asks for a restart.
    restarts: HashMap<String, (Option<String>, HashSet<String>)>,
    /// Per (watch, rule): how long the rules may take to fire again after a start.
    horizons: HashMap<(String, String), Duration>,
    started: tokio::time::Instant,
    tasks: Vec<JoinHandle<()>>,
    /// Notifications of alerts handled since the last flush: written to the spool at the
    /// flush (with the position acknowledged after them), queued to workers at the release.
    pending: Vec<Notification>,
    /// Written to the spool, waiting for the release (after the checkpoint is recorded).
    written: Vec<Notification>,
    /// Spool files written but not fsynced yet (see `sync_durable`).
    unsynced: Vec<u64>,
    /// What the previous run left in the spool, queued once `reconcile` has looked at it.
    loaded: Vec<Notification>,
}

/// Why the router could not start.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error(transparent)]
    Channel(#[from] crate::actions::BuildError),
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
        // Alert texts arrive redacted (`pipeline::take_alert`); the workers redact the error
        // reasons channels give, which quote URLs and server answers.
        let redactor = Arc::new(Redactor::new(&config.alerts, &config.secret_values()));
        let spool = Arc::new(Spool::new(&config.daemon.state_dir));
        let dead = Arc::new(DeadLetters::new(&config.daemon.state_dir));
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
            let channel = crate::actions::build_channel(name, cfg, format, &http)?;
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
                dead: dead.clone(),
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
        // What an earlier run left: undelivered notifications (queued after `reconcile`).
        let loaded = spool.load();
        if !loaded.is_empty() {
            tracing::info!(
                notifications = loaded.len(),
                "resuming alert delivery from the spool"
            );
        }
        let waiting_dead = dead.load().len();
        if waiting_dead > 0 {
            tracing::warn!(
                notifications = waiting_dead,
                dir = %dead.dir().display(),
                "undeliverable alerts wait as dead letters: `logwarden dead-letters` lists them, `--resend` sends them"
            );
        }
        let book_path = config.daemon.state_dir.join("alerts.json");
        let open = load_book(&book_path, config.alerts.repeat);
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
            pending: Vec::new(),
            written: Vec::new(),
            unsynced: Vec::new(),
            loaded,
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

    /// Handles one alert from the rules or the supervisor, already redacted where it entered
    /// the pipeline (`pipeline::take_alert`): its notifications wait for the next `flush`
    /// (spooled) and `release` (queued to the channels).
    pub fn accept(&mut self, mut alert: Alert) {
        if alert.state == AlertState::Firing && alert.action.is_none() {
            if let Some((unit, on)) = self.restarts.get(&alert.watch) {
                if on.contains(&alert.rule) {
                    // What logwarden really does now: nothing while its restarts are off.
                    let off = hands_off_action(&self.shared.telemetry, &alert.watch);
                    alert.action = Some(match (off, unit) {
                        (Some(off), _) => off,
                        (None, Some(u)) => format!("logwarden restarts {u} (when its restart policy allows)"),
                        (None, None) => "logwarden runs the watch's restart command (when its restart policy allows)".into(),
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
                        remind_at: Some(tokio::time::Instant::now() + s.repeat),
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
        let notes = s.make(&alert, Kind::Notice, since_ms, &channels);
        self.pending.extend(notes);
        if alert.state != AlertState::Event {
            s.save_book();
        }
    }

    /// Spools what `accept` made, each with `position`. Written, not yet fsynced: that is
    /// enough against a crash of logwarden (the page cache survives it), and `sync_durable`
    /// makes them durable before the checkpoint snapshot, the only position that survives a
    /// power loss, can pass them.
    pub fn flush_pending(&mut self, position: Option<&Position>) {
        for mut n in self.pending.drain(..) {
            n.position = position.cloned();
            self.shared.write(&n);
            self.unsynced.push(n.id);
            self.written.push(n);
        }
    }

    /// Fsyncs the spool files written since the last call.
    pub fn sync_durable(&mut self) {
        let ids = std::mem::take(&mut self.unsynced);
        self.shared.sync_spool(&ids);
    }

    /// Queues spooled notifications to their channels.
    pub fn release_written(&mut self) {
        if !self.loaded.is_empty() {
            let loaded = std::mem::take(&mut self.loaded);
            self.shared.dispatch(loaded);
        }
        let written = std::mem::take(&mut self.written);
        self.shared.dispatch(written);
    }

    /// Compares what the spool holds with the saved source positions: an alert spooled but
    /// whose acknowledgement did not reach the checkpoint (a crash in between) moves the
    /// resume position past its line, so the line is not alerted on twice; and if the crash
    /// came between the spool files of one alert, the missing channels' copies are made again.
    /// Returns the positions to resume from instead of the saved ones.
    pub fn reconcile_spool(&mut self, saved: &BTreeMap<String, Position>) -> Vec<Position> {
        let mut ahead: Vec<Position> = Vec::new();
        let mut groups: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (i, n) in self.loaded.iter().enumerate() {
            if n.position.is_some() {
                groups.entry(n.origin).or_default().push(i);
            }
        }
        let mut recreated = Vec::new();
        for members in groups.values() {
            let first = &self.loaded[members[0]];
            let Some(p) = &first.position else { continue };
            if !is_ahead(p, saved.get(p.key())) {
                continue;
            }
            match ahead.iter_mut().find(|a| a.key() == p.key()) {
                Some(a) if is_ahead(p, Some(a)) => *a = p.clone(),
                Some(_) => {}
                None => ahead.push(p.clone()),
            }
            for ch in &first.siblings {
                let present = members.iter().any(|&i| &self.loaded[i].channel == ch);
                if present || !self.shared.targets.contains_key(ch) {
                    continue;
                }
                let mut n = first.clone();
                n.id = next_id();
                n.channel = ch.clone();
                tracing::warn!(channel = %ch, rule = %n.alert.rule,
                    "a notification lost in a crash is made again from its sibling");
                self.shared.write(&n);
                recreated.push(n);
            }
        }
        if !recreated.is_empty() {
            let ids: Vec<u64> = recreated.iter().map(|n| n.id).collect();
            self.shared.sync_spool(&ids);
            self.loaded.extend(recreated);
        }
        for p in &ahead {
            tracing::info!(source = %p.key(), "an alert was spooled but its line not checkpointed: resuming past it");
        }
        let loaded = std::mem::take(&mut self.loaded);
        self.shared.dispatch(loaded);
        ahead
    }

    /// Waits (bounded) for the delivery workers' last tries after shutdown began.
    pub async fn finish(&mut self) {
        tokio::task::block_in_place(|| {
            self.flush_pending(None);
            self.sync_durable();
        });
        self.release_written();
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
        self.accept(alert);
    }

    async fn flush(&mut self, position: Option<&Position>) {
        // Spooling writes files: keep it off the async workers.
        tokio::task::block_in_place(|| self.flush_pending(position));
    }

    async fn release(&mut self) {
        self.release_written();
    }

    fn sync(&mut self) {
        self.sync_durable();
    }

    fn reconcile(&mut self, saved: &BTreeMap<String, Position>) -> Vec<Position> {
        tokio::task::block_in_place(|| self.reconcile_spool(saved))
    }

    async fn finish(&mut self) {
        Router::finish(self).await;
    }
}

/// Whether `p` is past `saved` (same file, further on; or a later entry of the same journal).
/// Positions that cannot be compared (another file since) are not.
fn is_ahead(p: &Position, saved: Option<&Position>) -> bool {
    match (p, saved) {
        (_, None) => true,
        // The whole identity, not only device and inode: after a copytruncate the same inode
        // holds new content, and an offset into the old content (an alert still spooled for a
        // channel that was down) says nothing about the new one. An identity widened since
        // (a file opened while shorter than its fingerprint) does not compare either: at
        // worst that alert's line is read and alerted again, never skipped.
        (Position::File(a), Some(Position::File(b))) => a.id == b.id && a.offset > b.offset,
        (Position::Journal(a), Some(Position::Journal(b))) => {
            match (cursor_seq(&a.cursor), cursor_seq(&b.cursor)) {
                (Some((sa, ia)), Some((sb, ib))) => sa == sb && ia > ib,
                _ => false,
            }
        }
        _ => false,
    }
}

/// The sequence number id and number of a journal cursor (`s=...;i=...;...`).
fn cursor_seq(cursor: &str) -> Option<(&str, u64)> {
    let mut s = None;
    let mut i = None;
    for part in cursor.split(';') {
        if let Some(v) = part.strip_prefix("s=") {
            s = Some(v);
        } else if let Some(v) = part.strip_prefix("i=") {
            i = u64::from_str_radix(v, 16).ok();
        }
    }
    Some((s?, i?))
}

impl Shared {
    /// The channels of `watch` that take alerts of `severity`. Alerts about logwarden itself
    /// (watch [`SELF_WATCH`], unless a watch has that name) go to every watch's channels.
    fn channels_for(&self, watch: &str, severity: Severity) -> Vec<String> {
        let names: Vec<&String> = match self.routes.get(watch) {
            Some(names) => names.iter().collect(),
            None if watch == SELF_WATCH => {
                let mut all: Vec<&String> = self.routes.values().flatten().collect();
                all.sort();
                all.dedup();
                all
            }
            None => Vec::new(),
        };
        names
            .into_iter()
            .filter(|n| {
                self.targets
                    .get(*n)
                    .is_some_and(|t| severity >= t.min_severity)
            })
            .cloned()
            .collect()
    }

    /// One notification per channel (all of `channels` that still exist) for `alert`.
    fn make(
        &self,
        alert: &Alert,
        kind: Kind,
        since_ms: Option<u64>,
        channels: &[String],
    ) -> Vec<Notification> {
        let channels: Vec<String> = channels
            .iter()
            .filter(|c| self.targets.contains_key(*c))
            .cloned()
            .collect();
        let mut origin = 0;
        channels
            .iter()
            .map(|name| {
                let id = next_id();
                if origin == 0 {
                    origin = id;
                }
                Notification {
                    version: VERSION,
                    id,
                    channel: name.clone(),
                    kind,
                    alert: alert.clone(),
                    host: self.host.clone(),
                    since_ms,
                    rerouted: None,
                    origin,
                    siblings: channels.clone(),
                    position: None,
                }
            })
            .collect()
    }

    /// Writes one notification to the spool (durable after the next sync).
    fn write(&self, n: &Notification) {
        if let Err(e) = self.spool.write(n) {
            // Deliver anyway: a full disk must not silence alerts.
            tracing::error!(error = %e, "alert not spooled; sending it without a durable copy");
            self.telemetry.on_spool_error();
        }
    }

    /// Queues notifications to their channels' workers.
    fn dispatch(&self, notes: Vec<Notification>) {
        for n in notes {
            match self.targets.get(&n.channel) {
                Some(t) => {
                    let _ = t.tx.send(n);
                }
                None => tracing::warn!(channel = %n.channel, rule = %n.alert.rule,
                    "a spooled notification is for a channel no longer configured; it stays in the spool"),
            }
        }
    }

    /// Spools, syncs and queues notifications made outside an alert (reminders, carried
    /// resolutions): they stand for no line, so they need no position.
    fn notify(&self, alert: &Alert, kind: Kind, since_ms: Option<u64>, channels: &[String]) {
        let notes = self.make(alert, kind, since_ms, channels);
        for n in &notes {
            self.write(n);
        }
        self.sync_spool(&notes.iter().map(|n| n.id).collect::<Vec<_>>());
        self.dispatch(notes);
    }

    fn sync_spool(&self, ids: &[u64]) {
        if let Err(e) = self.spool.sync(ids) {
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
        if let Err(e) = crate::core::state_file::write_atomic(&self.book_path, &bytes) {
            tracing::warn!(error = %e, path = %self.book_path.display(), "cannot save the open alerts");
            self.telemetry.on_spool_error();
        }
    }
}

fn load_book(path: &std::path::Path, repeat: Duration) -> BTreeMap<(String, String), Open> {
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
                let ago = unix_ms(SystemTime::now()).saturating_sub(o.notified_ms);
                o.remind_at = Some(
                    tokio::time::Instant::now() + repeat.saturating_sub(Duration::from_millis(ago)),
                );
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
                RuleKind::Match { .. } | RuleKind::NewKind { .. } => Duration::ZERO,
                // A spike shows within its minute, a drop after 3 quiet minutes.
                RuleKind::Anomaly { .. } => Duration::from_secs(4 * 60),
            };
            out.insert((w.name.clone(), r.name.clone()), h);
        }
        for p in &w.probes {
            out.insert((w.name.clone(), p.name.clone()), probe_horizon(p));
        }
        // Restarts are events; a hand-over is the supervisor's (see `carry_deadlines`).
        out.insert((w.name.clone(), RESTART_RULE.to_string()), Duration::ZERO);
        out.insert(
            (
                w.name.clone(),
                crate::core::rule_names::LINES_LOST_RULE.to_string(),
            ),
            Duration::ZERO,
        );
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
            for o in open.values() {
                wake = wake.min(o.remind_at.unwrap_or(now + s.repeat));
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
                s.save_book();
            }
        }
        // Reminders for what keeps firing.
        let now_ms = unix_ms(SystemTime::now());
        let mut reminders = Vec::new();
        if let Ok(mut open) = s.open.lock() {
            for o in open.values_mut() {
                if o.remind_at.is_none_or(|at| at <= now) {
                    o.notified_ms = now_ms;
                    o.remind_at = Some(now + s.repeat);
                    reminders.push((o.alert.clone(), o.since_ms, o.channels.clone()));
                }
            }
        }
        if !reminders.is_empty() {
            for (a, since, channels) in &reminders {
                s.notify(a, Kind::Reminder, Some(*since), channels);
            }
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
                    origin: 0,
                    siblings: Vec::new(),
                    position: None,
                };
                let _ = t.tx.send(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChannelConfig;
    use crate::source::{FileIdentity, FilePosition};

    fn config(dir: &std::path::Path) -> Config {
        // Channels that hold what they get for a minute: the spool can be looked at.
        let holding = ChannelConfig {
            group_wait: Duration::from_secs(60),
            ..ChannelConfig::console()
        };
        let mut channels = BTreeMap::new();
        channels.insert("console".to_string(), holding.clone());
        channels.insert("second".to_string(), holding);
        Config {
            daemon: crate::config::DaemonConfig {
                state_dir: dir.into(),
                patterns_dir: dir.into(),
                poll_interval: Duration::from_secs(1),
                listen: None,
                http: Default::default(),
                heartbeat: None,
            },
            watches: Vec::new(),
            channels,
            alerts: Default::default(),
            files_read: Vec::new(),
        }
    }

    fn at(offset: u64) -> Position {
        Position::File(FilePosition {
            path: "/var/log/bot.log".into(),
            id: FileIdentity {
                dev: 1,
                ino: 2,
                head_len: 10,
                checksum: 3,
            },
            offset,
            len: 0,
            mtime_ns: 0,
            born_ns: 0,
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_crash_between_spool_and_checkpoint_resumes_past_the_line_and_repairs_siblings() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        // What a crash left: the alert's console copy spooled with its position, the copy for
        // "second" not yet renamed into place, the checkpoint still before the line.
        let spool = Spool::new(dir.path());
        let n = Notification {
            version: VERSION,
            id: next_id(),
            channel: "console".into(),
            kind: Kind::Notice,
            alert: Alert::new(
                "bot",
                "burst",
                Severity::Critical,
                AlertState::Event,
                "s".into(),
            ),
            host: "h".into(),
            since_ms: None,
            rerouted: None,
            origin: 7,
            siblings: vec!["console".into(), "second".into()],
            position: Some(at(100)),
        };
        spool.write(&n).unwrap();
        let (_trigger, shutdown) = crate::core::shutdown::channel();
        let telemetry = Telemetry::new(&cfg);
        let mut router = Router::start(&cfg, LogFormat::Json, telemetry, shutdown).unwrap();
        let mut saved = BTreeMap::new();
        saved.insert("/var/log/bot.log".to_string(), at(50));
        let ahead = router.reconcile_spool(&saved);
        assert_eq!(ahead, vec![at(100)]);
        let channels: Vec<String> = spool.load().into_iter().map(|n| n.channel).collect();
        assert!(channels.contains(&"second".to_string()), "{channels:?}");

        // A checkpoint at or past the line: nothing to do (the sibling was delivered).
        saved.insert("/var/log/bot.log".to_string(), at(100));
        assert!(!is_ahead(&at(100), saved.get("/var/log/bot.log")));
    }

    /// An alert spooled for a channel that is down, then a copytruncate: the same inode now
    /// holds new content, read and checkpointed up to a smaller offset. The old offset must
    /// not move the resume position (it pointed past the end of the new content, so the
    /// whole file was read and alerted again; or into it, skipping lines).
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_notification_spooled_before_a_copytruncate_does_not_move_the_resume_position() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let before_truncation = Position::File(FilePosition {
            path: "/var/log/bot.log".into(),
            id: FileIdentity {
                dev: 1,
                ino: 2,
                head_len: 256,
                checksum: 3,
            },
            offset: 900_000,
            len: 0,
            mtime_ns: 0,
            born_ns: 0,
        });
        let after_truncation = |offset| {
            Position::File(FilePosition {
                path: "/var/log/bot.log".into(),
                id: FileIdentity {
                    dev: 1,
                    ino: 2,
                    head_len: 256,
                    checksum: 4,
                },
                offset,
                len: 0,
                mtime_ns: 0,
                born_ns: 0,
            })
        };
        let spool = Spool::new(dir.path());
        spool
            .write(&Notification {
                version: VERSION,
                id: next_id(),
                channel: "console".into(),
                kind: Kind::Notice,
                alert: Alert::new(
                    "bot",
                    "every-error",
                    Severity::Warning,
                    AlertState::Event,
                    "s".into(),
                ),
                host: "h".into(),
                since_ms: None,
                rerouted: None,
                origin: 7,
                siblings: vec!["console".into()],
                position: Some(before_truncation.clone()),
            })
            .unwrap();
        let (_trigger, shutdown) = crate::core::shutdown::channel();
        let telemetry = Telemetry::new(&cfg);
        let mut router = Router::start(&cfg, LogFormat::Json, telemetry, shutdown).unwrap();
        let mut saved = BTreeMap::new();
        saved.insert("/var/log/bot.log".to_string(), after_truncation(40_000));
        assert!(router.reconcile_spool(&saved).is_empty());
        // Within one content, a further offset is still ahead.
        assert!(is_ahead(
            &after_truncation(50_000),
            Some(&after_truncation(40_000))
        ));
        assert!(!is_ahead(
            &before_truncation,
            Some(&after_truncation(40_000))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_firing_alert_is_reminded_every_repeat_and_a_repeat_firing_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        cfg.alerts.repeat = Duration::from_secs(4 * 3600);
        // Nothing is delivered within the test: the spool shows every notification made.
        if let Some(c) = cfg.channels.get_mut("second") {
            c.group_wait = Duration::from_secs(100 * 86_400);
        }
        cfg.watches = vec![crate::config::WatchConfig {
            name: "bot".into(),
            unit: None,
            files: Vec::new(),
            packs: Vec::new(),
            notify: vec!["second".into()],
            start_at: crate::source::StartAt::End,
            max_line_bytes: 1024,
            olddir: None,
            timestamp_format: Default::default(),
            multiline: crate::source::multiline::MultilineRule {
                grouping: crate::source::multiline::Grouping::None,
                timeout: Duration::from_millis(300),
                max_lines: 10,
                max_bytes: 1024,
            },
            journal: None,
            restart: None,
            probes: Vec::new(),
            rules: Vec::new(),
        }];
        let (_trigger, shutdown) = crate::core::shutdown::channel();
        let telemetry = Telemetry::new(&cfg);
        let mut router = Router::start(&cfg, LogFormat::Json, telemetry, shutdown).unwrap();
        let firing = Alert::new(
            "bot",
            "burst",
            Severity::Critical,
            AlertState::Firing,
            "s".into(),
        );
        router.accept(firing.clone());
        router.accept(firing);
        router.flush_pending(None);
        router.release_written();
        let kinds = |spool: &Spool| {
            let mut k: Vec<Kind> = spool.load().into_iter().map(|n| n.kind).collect();
            k.sort_by_key(|k| *k as u8);
            k
        };
        let spool = Spool::new(dir.path());
        assert_eq!(
            kinds(&spool),
            vec![Kind::Notice],
            "the repeat firing is dropped"
        );
        tokio::time::sleep(Duration::from_secs(4 * 3600 + 1)).await;
        assert_eq!(kinds(&spool), vec![Kind::Notice, Kind::Reminder]);
        tokio::time::sleep(Duration::from_secs(4 * 3600)).await;
        assert_eq!(
            kinds(&spool),
            vec![Kind::Notice, Kind::Reminder, Kind::Reminder]
        );
        router.accept(Alert::new(
            "bot",
            "burst",
            Severity::Critical,
            AlertState::Resolved,
            "ok".into(),
        ));
        router.flush_pending(None);
        tokio::time::sleep(Duration::from_secs(5 * 3600)).await;
        assert_eq!(kinds(&spool).len(), 4, "resolved: no more reminders");
    }

    #[test]
    fn journal_cursors_compare_by_sequence_number_of_the_same_journal() {
        let a = "s=abc;i=1f;b=x;m=1;t=2;x=3";
        let b = "s=abc;i=20;b=x;m=1;t=2;x=3";
        let other = "s=def;i=99;b=x;m=1;t=2;x=3";
        let j = |c: &str| {
            Position::Journal(crate::source::JournalCursor {
                key: "journal:bot".into(),
                cursor: c.into(),
            })
        };
        assert!(is_ahead(&j(b), Some(&j(a))));
        assert!(!is_ahead(&j(a), Some(&j(b))));
        assert!(
            !is_ahead(&j(other), Some(&j(a))),
            "another journal: not comparable"
        );
        assert!(is_ahead(&j(a), None));
        assert_eq!(cursor_seq("garbage"), None);
    }
}
