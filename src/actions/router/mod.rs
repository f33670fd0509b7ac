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
//!
//! While a silence (`actions::operator`) covers an alert, the rules go on judging it, but
//! its firing is held (kept open, marked `held`), its events dropped, and its resolution
//! dropped if its firing was held; a firing notified before the silence always gets its
//! resolution. A held firing is sent once no silence covers it and it still fires. An
//! acknowledged alert gets no more reminders until it resolves.
//!
//! Its parts: `book` (the open alerts and their file), `dispatch` (channels, spool,
//! queues), `horizons` (when a carried alert must have fired again), `reminders` (the task
//! that reminds, keeps alive and resolves carried alerts), `operator_view` (the silences and
//! acknowledgements read) and `operator_watch` (the task that reads and applies them).

mod book;
mod dispatch;
mod horizons;
mod incident;
mod operator_view;
mod operator_watch;
mod reminders;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::actions::dead_letter::DeadLetters;
use crate::actions::delivery::Worker;
use crate::actions::notification::{next_id, unix_ms, Kind, Notification};
use crate::actions::redact::Redactor;
use crate::actions::router::book::{Key, Open};
use crate::actions::router::dispatch::{Shared, Target};
use crate::actions::router::incident::Fold;
use crate::actions::router::operator_view::OperatorView;

use crate::actions::spool::Spool;
use crate::actions::AlertHandler;
use crate::config::{ChannelKind, Config};
use crate::core::alert::{Alert, AlertState};
use crate::core::logging::LogFormat;
use crate::core::shutdown::Shutdown;
use crate::rules::gate::WallTime;
use crate::source::Position;
use crate::telemetry::Telemetry;
pub use book::open_alerts;

/// At shutdown, delivery workers get this long to make their last try.
const FINISH_WITHIN: Duration = Duration::from_secs(8);

fn hands_off_action(telemetry: &Telemetry, watch: &str) -> Option<String> {
    telemetry.hands_off.lock().ok()?.get(watch).cloned()
}

/// The (watch, rule)s marked `incident = "apart"`.
fn apart_rules(config: &Config) -> HashSet<Key> {
    let mut apart = HashSet::new();
    for w in &config.watches {
        let rules = w.rules.iter().filter(|r| r.apart).map(|r| &r.name);
        let probes = w.probes.iter().filter(|p| p.apart).map(|p| &p.name);
        apart.extend(rules.chain(probes).map(|r| (w.name.clone(), r.clone())));
    }
    apart
}

/// Routes alerts to channels; see the module doc.
pub struct Router {
    shared: Arc<Shared>,
    /// Per watch: its unit and the rules whose firing asks for a restart.
    restarts: HashMap<String, (Option<String>, HashSet<String>)>,
    /// The (watch, rule)s marked `incident = "apart"`: never folded into an incident.
    apart: HashSet<Key>,
    /// Per (watch, rule): how long the rules may take to fire again after a start.
    horizons: HashMap<Key, Duration>,
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
        Router::start_with_wall(config, format, telemetry, shutdown, WallTime::System)
    }

    /// `start`, with the wall clock of the channels' quiet hours given (tests in paused time).
    pub fn start_with_wall(
        config: &Config,
        format: LogFormat,
        telemetry: Arc<Telemetry>,
        shutdown: Shutdown,
        wall: WallTime,
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
            let channel = crate::actions::build_channel(
                name,
                cfg,
                format,
                &http,
                Some(&config.daemon.state_dir),
                &crate::actions::telegram_control::restartable_watches(config),
            )?;
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
                wall,
            };
            tasks.push(tokio::spawn(worker.run(shutdown.clone())));
            targets.insert(
                name.clone(),
                Target {
                    tx: tx.clone(),
                    min_severity: cfg.min_severity,
                    quiet: cfg.quiet.clone(),
                    keepalive: match &cfg.kind {
                        ChannelKind::Alertmanager(a) => Some(a.resend),
                        _ => None,
                    },
                    record: matches!(cfg.kind, ChannelKind::Console),
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
        let book_path = config.daemon.state_dir.join(book::BOOK_FILE);
        let (open, incidents) = book::load(&book_path, config.alerts.repeat);
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
            wall,
            operator: Mutex::new(OperatorView::load(&config.daemon.state_dir)),
            incidents: Mutex::new(incidents),
            wake: tokio::sync::Notify::new(),
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
            apart: apart_rules(config),
            horizons: horizons::horizons(config),
            started: tokio::time::Instant::now(),
            tasks,
            pending: Vec::new(),
            written: Vec::new(),
            unsynced: Vec::new(),
            loaded,
        };
        router.tasks.push(tokio::spawn(reminders::remind(
            shared.clone(),
            router.carry_deadlines(),
            shutdown.clone(),
        )));
        router.tasks.push(tokio::spawn(operator_watch::watch(
            shared,
            config.daemon.state_dir.clone(),
            shutdown,
        )));
        Ok(router)
    }

    /// When each carried alert must have fired again, from the start of this run.
    fn carry_deadlines(&self) -> Vec<(Key, tokio::time::Instant)> {
        let open = self
            .shared
            .open
            .lock()
            .map(|o| o.keys().cloned().collect::<Vec<_>>());
        horizons::carry_deadlines(open.unwrap_or_default(), &self.horizons, self.started)
    }

    /// Whether `alert`'s rule asks for a restart of its watch.
    fn is_cause(&self, alert: &Alert) -> bool {
        self.restarts
            .get(&alert.watch)
            .is_some_and(|(_, on)| on.contains(&alert.rule))
    }

    /// What `alert` does to its watch's incident (see `incident`): only watches with
    /// automatic restarts have incidents; the hand-over, acknowledgements and rules marked
    /// `incident = "apart"` stay apart, and so does a firing already in the book (carried
    /// over a restart of logwarden: the router's usual path knows it).
    fn fold_of(&self, alert: &Alert) -> Fold {
        use crate::core::rule_names::{ACK_RULE, HANDOVER_RULE};
        let Some((_, on)) = self.restarts.get(&alert.watch) else {
            return Fold::Apart;
        };
        if on.is_empty()
            || alert.rule == HANDOVER_RULE
            || alert.rule == ACK_RULE
            || self.apart.contains(&alert.key())
        {
            return Fold::Apart;
        }
        let s = &self.shared;
        let (Ok(open), Ok(incidents)) = (s.open.lock(), s.incidents.lock()) else {
            return Fold::Apart;
        };
        let booked = open.get(&alert.key());
        match (incidents.get(&alert.watch), alert.state) {
            (Some(_), AlertState::Firing) if booked.is_none() => Fold::Into,
            (Some(inc), AlertState::Resolved)
                if booked.is_some_and(|o| o.incident == Some(inc.id)) =>
            {
                Fold::Into
            }
            (Some(_), AlertState::Event) => Fold::Into,
            (None, AlertState::Firing) if booked.is_none() && on.contains(&alert.rule) => {
                Fold::Opens
            }
            _ => Fold::Apart,
        }
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
        match self.fold_of(&alert) {
            Fold::Apart => {}
            Fold::Opens => {
                let held = s.silenced(&alert.watch, &alert.rule).is_some();
                self.pending.extend(s.open_incident(&alert, held));
                s.save_book();
                return;
            }
            Fold::Into => {
                let is_cause = self.is_cause(&alert);
                self.pending.extend(s.fold_into(&alert, is_cause));
                s.save_book();
                return;
            }
        }
        let key = alert.key();
        let now_ms = unix_ms(SystemTime::now());
        let silence = s.silenced(&alert.watch, &alert.rule);
        let (channels, since_ms) = match alert.state {
            AlertState::Firing => {
                let Ok(mut open) = s.open.lock() else { return };
                if let Some(o) = open.get_mut(&key) {
                    if !o.carried {
                        return;
                    }
                    o.carried = false;
                    tracing::info!(watch = %key.0, rule = %key.1,
                        "still firing after the restart of logwarden; not notified again");
                    if !o.held || silence.is_some() {
                        return;
                    }
                    // Held before the restart, confirmed now, and no silence covers it any
                    // more: notified now.
                    o.held = false;
                    o.notified_ms = now_ms;
                    o.remind_at = o
                        .acked_by
                        .is_none()
                        .then(|| tokio::time::Instant::now() + s.repeat);
                    let (channels, since) = (o.channels.clone(), o.since_ms);
                    drop(open);
                    self.pending
                        .extend(s.make(&alert, Kind::Notice, Some(since), &channels));
                    s.save_book();
                    return;
                }
                let channels = s.channels_for(&alert.watch, alert.severity);
                let held = silence.is_some();
                open.insert(
                    key,
                    Open {
                        alert: alert.clone(),
                        since_ms: unix_ms(alert.at),
                        notified_ms: now_ms,
                        channels: channels.clone(),
                        carried: false,
                        held,
                        acked_by: None,
                        remind_at: (!held).then(|| tokio::time::Instant::now() + s.repeat),
                        incident: None,
                        folded: false,
                    },
                );
                if let Some(id) = &silence {
                    drop(open);
                    tracing::info!(watch = %alert.watch, rule = %alert.rule, silence = %id,
                        "firing, held by a silence");
                    s.telemetry.on_silenced(&channels);
                    s.save_book();
                    return;
                }
                (channels, None)
            }
            AlertState::Resolved => {
                let Ok(mut open) = s.open.lock() else { return };
                match open.remove(&key) {
                    Some(o) if o.held => {
                        drop(open);
                        tracing::info!(watch = %key.0, rule = %key.1,
                            "resolved while its firing was held by a silence: neither is sent");
                        s.telemetry.on_silenced(&o.channels);
                        s.save_book();
                        return;
                    }
                    Some(o) => (o.channels, Some(o.since_ms)),
                    None if silence.is_some() => {
                        s.telemetry
                            .on_silenced(&s.channels_for(&alert.watch, alert.severity));
                        return;
                    }
                    None => (s.channels_for(&alert.watch, alert.severity), None),
                }
            }
            AlertState::Event => {
                let channels = s.channels_for(&alert.watch, alert.severity);
                if silence.is_some() {
                    s.telemetry.on_silenced(&channels);
                    return;
                }
                (channels, None)
            }
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
            if !p.is_past(saved.get(p.key())) {
                continue;
            }
            match ahead.iter_mut().find(|a| a.key() == p.key()) {
                Some(a) if p.is_past(Some(a)) => *a = p.clone(),
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
