//! Incidents: the alerts of one watch that share a cause, told as one story. On a watch with
//! automatic restarts, the firing of a rule or probe that asks for a restart opens an
//! incident (unless it is already open); while the incident is open, every other alert of
//! the watch — firings, resolutions, events, the supervisor's restart events — folds into it
//! instead of being sent on its own (rules marked `incident = "apart"` and the hand-over
//! alert excepted). The incident is one message per channel when it opens (the cause's
//! firing, with what logwarden does about it) and one when it ends (the restart's outcome and
//! everything that resolved inside), the end a reply in the same thread
//! (`Notification::thread`).
//!
//! A restart that failed or did not bring the service back (a critical `restart` event) is
//! sent at once, as a reply in the thread: a person must hear it before the end.
//!
//! The incident ends when no cause fires any more and the restart it promised reported
//! (or `SETTLE` after the last cause resolved, if the supervisor never reports: restarts
//! paused, a `confirm` missing). Folded alerts are still judged, kept in the book (so
//! `/status` shows them, marked `folded`), and never lose their resolution: one that resolved
//! inside is named in the end message; one still firing when the incident ends becomes its
//! own alert (its firing sent then, its resolution later). A silence over the cause holds the
//! incident's messages like any firing (`held`); an ack of the cause stops its reminders, the
//! incident's only ones. The console is the daemon's record, not a person's phone: it still
//! gets every folded alert as it happens (`Target::record`).

use std::time::{Duration, SystemTime};

use crate::actions::notification::{next_id, unix_ms, Kind, Notification, Thread};
use crate::actions::router::book::Incident;
use crate::actions::router::book::{Key, Open};
use crate::actions::router::dispatch::Shared;
use crate::core::alert::{Alert, AlertState, Severity};

/// How long an incident whose causes all resolved waits for the restart it promised to
/// report before it ends anyway.
pub(super) const SETTLE: Duration = Duration::from_secs(30);

/// Whether `action` (what the router says logwarden does about a firing) promises a restart.
pub(super) fn promises_restart(action: Option<&str>) -> bool {
    action.is_some_and(|a| a.starts_with("logwarden restarts") || a.starts_with("logwarden runs"))
}

/// What an alert does to the incidents, decided by the router (`Router::accept`).
pub(super) enum Fold {
    /// Not about an incident: the router handles it as ever.
    Apart,
    /// Opens an incident (a cause fired, none is open).
    Opens,
    /// Folds into the watch's open incident.
    Into,
}

impl Shared {
    /// Opens the incident of `alert`'s watch: books the cause (`held` if a silence covers it)
    /// and returns the opening notifications (none while held).
    pub(super) fn open_incident(&self, alert: &Alert, held: bool) -> Vec<Notification> {
        let now_ms = unix_ms(SystemTime::now());
        let channels = self.channels_for(&alert.watch, alert.severity);
        let incident = Incident {
            id: next_id(),
            alert: alert.clone(),
            since_ms: unix_ms(alert.at),
            channels: channels.clone(),
            held,
            causes: vec![alert.rule.clone()],
            awaiting_restart: promises_restart(alert.action.as_deref()),
            story: Vec::new(),
            settle_at: None,
        };
        let thread = incident.thread(true);
        let (Ok(mut open), Ok(mut incidents)) = (self.open.lock(), self.incidents.lock()) else {
            return Vec::new();
        };
        open.insert(
            alert.key(),
            Open {
                alert: alert.clone(),
                since_ms: incident.since_ms,
                notified_ms: now_ms,
                channels: channels.clone(),
                carried: false,
                held,
                acked_by: None,
                remind_at: (!held).then(|| tokio::time::Instant::now() + self.repeat),
                incident: Some(incident.id),
                folded: false,
            },
        );
        tracing::info!(watch = %alert.watch, rule = %alert.rule, incident = incident.id, held,
            "incident opened");
        incidents.insert(alert.watch.clone(), incident);
        drop(incidents);
        drop(open);
        if held {
            self.telemetry.on_silenced(&channels);
            return Vec::new();
        }
        self.make_in(alert, Kind::Notice, None, &channels, Some(&thread))
    }

    /// Folds `alert` into its watch's open incident (`is_cause`: its rule asks for a
    /// restart). Returns what must be sent now: the end, if this ended it.
    pub(super) fn fold_into(&self, alert: &Alert, is_cause: bool) -> Vec<Notification> {
        let key = alert.key();
        let mut notes = Vec::new();
        {
            let (Ok(mut open), Ok(mut incidents)) = (self.open.lock(), self.incidents.lock())
            else {
                return Vec::new();
            };
            let Some(inc) = incidents.get_mut(&alert.watch) else {
                return Vec::new();
            };
            if !inc.held {
                // The console records every alert, folded or not.
                let since = open.get(&key).map(|o| o.since_ms);
                let records = self.records(&inc.channels);
                notes = self.make(alert, Kind::Notice, since, &records);
            }
            match alert.state {
                AlertState::Firing => {
                    if is_cause {
                        if !inc.causes.contains(&alert.rule) {
                            inc.causes.push(alert.rule.clone());
                        }
                        inc.settle_at = None;
                        inc.awaiting_restart |= promises_restart(alert.action.as_deref());
                    }
                    open.insert(
                        key,
                        Open {
                            alert: alert.clone(),
                            since_ms: unix_ms(alert.at),
                            notified_ms: unix_ms(SystemTime::now()),
                            channels: inc.channels.clone(),
                            carried: false,
                            held: inc.held,
                            acked_by: None,
                            remind_at: None,
                            incident: Some(inc.id),
                            folded: true,
                        },
                    );
                    tracing::info!(watch = %alert.watch, rule = %alert.rule, incident = inc.id,
                        "firing, folded into the open incident");
                    return notes;
                }
                AlertState::Resolved => {
                    open.remove(&key);
                    inc.causes.retain(|c| c != &alert.rule);
                    inc.story
                        .push(format!("{} resolved: {}", alert.rule, alert.summary));
                }
                AlertState::Event => {
                    if alert.rule == crate::core::rule_names::RESTART_RULE {
                        inc.awaiting_restart = false;
                        if alert.severity >= Severity::Critical && !inc.held {
                            // A restart that failed or did not help is news a person must
                            // hear now, not at the end: a reply in the thread.
                            let records = self.records(&inc.channels);
                            let people: Vec<String> = inc
                                .channels
                                .iter()
                                .filter(|c| !records.contains(c))
                                .cloned()
                                .collect();
                            let thread = inc.thread(false);
                            notes.extend(self.make_in(
                                alert,
                                Kind::Notice,
                                None,
                                &people,
                                Some(&thread),
                            ));
                        }
                    }
                    inc.story.push(alert.summary.clone());
                }
            }
            tracing::info!(watch = %alert.watch, rule = %alert.rule, incident = inc.id,
                state = ?alert.state, "folded into the open incident");
            if !inc.causes.is_empty() {
                return notes;
            }
            if inc.awaiting_restart {
                inc.settle_at = Some(tokio::time::Instant::now() + SETTLE);
                self.wake.notify_one();
                return notes;
            }
        }
        notes.extend(self.end_incident(&alert.watch));
        notes
    }

    /// Ends the incident of `watch`: its end message (a reply in its thread; none if its
    /// opening was never sent), and the folded alerts still firing become alerts of their own
    /// (their firing sent now).
    pub(super) fn end_incident(&self, watch: &str) -> Vec<Notification> {
        let (Ok(mut open), Ok(mut incidents)) = (self.open.lock(), self.incidents.lock()) else {
            return Vec::new();
        };
        let Some(inc) = incidents.remove(watch) else {
            return Vec::new();
        };
        drop(incidents);
        let mut notes = Vec::new();
        let mut end = inc.alert.clone();
        end.state = AlertState::Resolved;
        end.at = SystemTime::now();
        end.summary = if inc.story.is_empty() {
            "incident over".to_string()
        } else {
            format!("incident over: {}", inc.story.join("; "))
        };
        end.line = None;
        end.context.clear();
        end.action = None;
        if inc.held {
            tracing::info!(
                watch,
                incident = inc.id,
                "incident ended while its opening was held by a silence: neither is sent"
            );
            self.telemetry.on_silenced(&inc.channels);
        } else {
            tracing::info!(watch, incident = inc.id, "incident ended");
            notes.extend(self.make_in(
                &end,
                Kind::Notice,
                Some(inc.since_ms),
                &inc.channels,
                Some(&inc.thread(false)),
            ));
        }
        let outliving: Vec<Key> = open
            .iter()
            .filter(|(_, o)| o.incident == Some(inc.id))
            .map(|(k, _)| k.clone())
            .collect();
        for key in outliving {
            let Some(o) = open.get_mut(&key) else {
                continue;
            };
            // Its causes all resolved: what still fires is not a cause.
            o.incident = None;
            o.folded = false;
            if o.held {
                continue;
            }
            tracing::info!(watch = %key.0, rule = %key.1,
                "still firing after its incident ended: now an alert of its own");
            o.notified_ms = unix_ms(SystemTime::now());
            o.remind_at = o
                .acked_by
                .is_none()
                .then(|| tokio::time::Instant::now() + self.repeat);
            // The console recorded its firing when it folded.
            let records = self.records(&o.channels);
            let others: Vec<String> = o
                .channels
                .iter()
                .filter(|c| !records.contains(c))
                .cloned()
                .collect();
            let (alert, since) = (o.alert.clone(), o.since_ms);
            notes.extend(self.make(&alert, Kind::Notice, Some(since), &others));
        }
        notes
    }

    /// The incidents whose settle time passed (ended by the reminder task).
    pub(super) fn settled(&self, now: tokio::time::Instant) -> Vec<String> {
        self.incidents
            .lock()
            .map(|i| {
                i.iter()
                    .filter(|(_, inc)| inc.settle_at.is_some_and(|at| at <= now))
                    .map(|(w, _)| w.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The earliest settle time of an open incident.
    pub(super) fn next_settle(&self) -> Option<tokio::time::Instant> {
        self.incidents
            .lock()
            .ok()?
            .values()
            .filter_map(|i| i.settle_at)
            .min()
    }

    /// The thread of the incident `id` is in, if it is open and `alert` opened it.
    pub(super) fn opening_thread(&self, watch: &str, id: u64) -> Option<Thread> {
        let mut incidents = self.incidents.lock().ok()?;
        let inc = incidents.get_mut(watch).filter(|i| i.id == id)?;
        inc.held = false;
        Some(inc.thread(true))
    }
}
