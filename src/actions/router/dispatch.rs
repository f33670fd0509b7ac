//! The channels' side of the router: which channels take an alert, one notification per
//! channel, the spool write and sync, and the queue to each channel's delivery worker. Shared
//! by the router and its reminder task.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::actions::notification::{next_id, Kind, Notification, Thread, VERSION};
use crate::actions::quiet_hours;
use crate::actions::router::book::{self, Incidents, Key, Open};
use crate::actions::router::operator_view::OperatorView;
use crate::actions::spool::Spool;
use crate::config::channels::QuietHours;
use crate::core::alert::{Alert, Severity};
use crate::core::rule_names::SELF_WATCH;
use crate::rules::gate::WallTime;
use crate::telemetry::Telemetry;

#[derive(Clone)]
pub(super) struct Target {
    pub(super) tx: mpsc::UnboundedSender<Notification>,
    pub(super) min_severity: Severity,
    /// The channel's quiet hours (`quiet = "drop"` leaves it out of new alerts here).
    pub(super) quiet: Option<QuietHours>,
    /// Alertmanager's re-send interval.
    pub(super) keepalive: Option<Duration>,
    /// The console: the daemon's own record, which gets every alert, also those folded into
    /// an incident.
    pub(super) record: bool,
}

pub(super) struct Shared {
    pub(super) open: Mutex<BTreeMap<Key, Open>>,
    pub(super) targets: HashMap<String, Target>,
    pub(super) routes: HashMap<String, Vec<String>>,
    pub(super) spool: Arc<Spool>,
    pub(super) book_path: PathBuf,
    pub(super) host: String,
    pub(super) repeat: Duration,
    pub(super) telemetry: Arc<Telemetry>,
    /// The wall clock of the channels' quiet hours and of silences.
    pub(super) wall: WallTime,
    /// The silences and acknowledgements last read from the operator's file.
    pub(super) operator: Mutex<OperatorView>,
    /// The open incidents by watch (locked after `open` when both are).
    pub(super) incidents: Mutex<Incidents>,
    /// Wakes the reminder task when an incident's settle time was set.
    pub(super) wake: tokio::sync::Notify,
}

impl Shared {
    /// The channels of `watch` that take alerts of `severity` now (not those whose quiet
    /// hours drop it). Alerts about logwarden itself (watch [`SELF_WATCH`], unless a watch
    /// has that name) go to every watch's channels.
    pub(super) fn channels_for(&self, watch: &str, severity: Severity) -> Vec<String> {
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
        let now = self.wall.now();
        names
            .into_iter()
            .filter(|n| {
                self.targets.get(*n).is_some_and(|t| {
                    severity >= t.min_severity
                        && !t
                            .quiet
                            .as_ref()
                            .is_some_and(|q| quiet_hours::drops_new(q, severity, now))
                })
            })
            .cloned()
            .collect()
    }

    /// Those of `channels` that are records (the console; see `Target::record`).
    pub(super) fn records(&self, channels: &[String]) -> Vec<String> {
        channels
            .iter()
            .filter(|c| self.targets.get(*c).is_some_and(|t| t.record))
            .cloned()
            .collect()
    }

    /// One notification per channel (all of `channels` that still exist) for `alert`.
    pub(super) fn make(
        &self,
        alert: &Alert,
        kind: Kind,
        since_ms: Option<u64>,
        channels: &[String],
    ) -> Vec<Notification> {
        self.make_in(alert, kind, since_ms, channels, None)
    }

    /// `make`, the notifications in an incident's `thread`.
    pub(super) fn make_in(
        &self,
        alert: &Alert,
        kind: Kind,
        since_ms: Option<u64>,
        channels: &[String],
        thread: Option<&Thread>,
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
                    thread: thread.cloned(),
                }
            })
            .collect()
    }

    /// Writes one notification to the spool (durable after the next sync).
    pub(super) fn write(&self, n: &Notification) {
        if let Err(e) = self.spool.write(n) {
            // Deliver anyway: a full disk must not silence alerts.
            tracing::error!(error = %e, "alert not spooled; sending it without a durable copy");
            self.telemetry.on_spool_error();
        }
    }

    /// Queues notifications to their channels' workers.
    pub(super) fn dispatch(&self, notes: Vec<Notification>) {
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
    pub(super) fn notify(
        &self,
        alert: &Alert,
        kind: Kind,
        since_ms: Option<u64>,
        channels: &[String],
    ) {
        let notes = self.make(alert, kind, since_ms, channels);
        self.send_now(notes);
    }

    /// Spools, syncs and queues notifications made outside an alert.
    pub(super) fn send_now(&self, notes: Vec<Notification>) {
        for n in &notes {
            self.write(n);
        }
        self.sync_spool(&notes.iter().map(|n| n.id).collect::<Vec<_>>());
        self.dispatch(notes);
    }

    /// Fsyncs the spool files of `ids`.
    pub(super) fn sync_spool(&self, ids: &[u64]) {
        if let Err(e) = self.spool.sync(ids) {
            tracing::error!(error = %e, "alert spool not synced to disk");
            self.telemetry.on_spool_error();
        }
    }

    /// Saves the open alerts (see `book`), then shows what changed in `/status` at once (the
    /// incidents and acknowledgements; the operator's task no longer looks every second).
    pub(super) fn save_book(&self) {
        {
            let (Ok(open), Ok(incidents)) = (self.open.lock(), self.incidents.lock()) else {
                return;
            };
            if let Err(e) = book::save(&self.book_path, &open, &incidents) {
                tracing::warn!(error = %e, path = %self.book_path.display(), "cannot save the open alerts");
                self.telemetry.on_spool_error();
            }
        }
        self.publish_operator(self.wall_ms());
    }
}
