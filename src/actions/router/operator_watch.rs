//! The router's side of the operator's file (`actions::operator`): a task looks at
//! `state_dir/operator.json` every `OPERATOR_POLL` (a `stat`; it is read again only when its
//! modification time or length changed) and at each silence's end, and then
//! - sends the firings a silence held that still fire, once no silence covers them any more
//!   (ended, expired or removed by `unsilence`);
//! - applies new acknowledgements to the open alerts they name (no more reminders), and
//!   announces each once to the alert's channels;
//! - announces each silence set, and each ended by `unsilence`, once to its watch's
//!   channels (whoever set it: the CLI or Telegram), past the silence itself;
//! - prunes expired silences from the file, and tells the telemetry what is active.
//!
//! A file that cannot be read keeps the silences read last (see `operator_view`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::actions::notification::{unix_ms, Kind};
use crate::actions::operator;
use crate::actions::router::dispatch::Shared;
use crate::actions::router::operator_view::SilenceChange;
use crate::core::alert::{Alert, AlertState, Severity};
use crate::core::rule_names::{ACK_RULE, SILENCE_RULE};
use crate::core::shutdown::Shutdown;
use crate::telemetry::status::{AckStatus, IncidentStatus, SilenceStatus};

/// How often the operator's file is looked at: a person who just typed `logwarden silence`
/// waits at most this long, and one `stat` a second costs nothing.
pub(super) const OPERATOR_POLL: Duration = Duration::from_secs(1);

impl Shared {
    /// Unix ms of the wall clock the silences are judged by (paused in tests).
    pub(super) fn wall_ms(&self) -> u64 {
        u64::try_from(self.wall.now().as_millisecond()).unwrap_or(0)
    }

    /// The id of the active silence covering `watch`/`rule`, if one does.
    pub(super) fn silenced(&self, watch: &str, rule: &str) -> Option<String> {
        let now_ms = self.wall_ms();
        let v = self.operator.lock().ok()?;
        v.silence_of(watch, rule, now_ms).map(|s| s.id.clone())
    }

    /// One look at the operator's file and what follows from it (see the module doc).
    pub(super) fn look_at_operator(&self, state_dir: &Path) {
        let now_ms = self.wall_ms();
        let (expired, readable) = match self.operator.lock() {
            Ok(mut v) => {
                v.refresh(state_dir);
                let expired = v.state.silences.iter().any(|s| s.ends_ms <= now_ms);
                v.state.silences.retain(|s| {
                    let on = s.ends_ms > now_ms;
                    if !on {
                        tracing::info!(id = %s.id, scope = %s.scope, "silence expired");
                    }
                    on
                });
                (expired, v.error.is_none())
            }
            Err(_) => return,
        };
        // (A file that cannot be read is left to the operator; the next good read prunes.)
        if expired && readable {
            // Pruned in the file too (under its lock, so no command's change is lost).
            if let Err(e) =
                operator::store::update::<_, operator::StoreError>(state_dir, now_ms, |_| Ok(()))
            {
                tracing::warn!(error = %e, "expired silences not pruned from the operator's file");
            }
            if let Ok(mut v) = self.operator.lock() {
                v.refresh(state_dir);
            }
        }
        self.release_unsilenced(now_ms);
        self.apply_acks();
        self.announce_silences(now_ms);
        self.publish_operator(now_ms);
    }

    /// Announces the silences set, and those ended before their time, since the last look:
    /// an event to the channels of the silence's watch, sent even though the silence covers
    /// it (the people it silences are the ones to tell).
    fn announce_silences(&self, now_ms: u64) {
        let changes = match self.operator.lock() {
            Ok(mut v) => v.take_changes(),
            Err(_) => return,
        };
        for c in changes {
            let text = match &c {
                SilenceChange::Set(s) => {
                    let d = crate::config::duration::format_duration(Duration::from_secs(
                        s.ends_ms.saturating_sub(s.starts_ms).div_ceil(1000),
                    ));
                    let mut t = format!(
                        "silenced {} for {d} by {} (id {}; `logwarden unsilence {}` ends it)",
                        s.scope, s.who, s.id, s.id
                    );
                    if !s.reason.is_empty() {
                        t.push_str(&format!(": {}", s.reason));
                    }
                    t
                }
                SilenceChange::Gone(s) if s.ends_ms > now_ms => format!(
                    "silence {} of {} ended before its time (unsilence): what it held and still fires is sent now",
                    s.id, s.scope
                ),
                SilenceChange::Gone(_) => continue,
            };
            let s = match &c {
                SilenceChange::Set(s) | SilenceChange::Gone(s) => s,
            };
            let e = Alert::new(
                &s.scope.watch,
                SILENCE_RULE,
                Severity::Info,
                AlertState::Event,
                text,
            );
            let channels = self.channels_for(&s.scope.watch, Severity::Info);
            self.notify(&e, Kind::Notice, None, &channels);
        }
    }

    /// Sends the held firings that no silence covers any more (and that were confirmed in
    /// this run: a carried one waits until the rules fire it again).
    fn release_unsilenced(&self, now_ms: u64) {
        let Ok(view) = self.operator.lock() else {
            return;
        };
        let mut released = Vec::new();
        if let Ok(mut open) = self.open.lock() {
            for o in open.values_mut() {
                if !o.held
                    || o.carried
                    || view
                        .silence_of(&o.alert.watch, &o.alert.rule, now_ms)
                        .is_some()
                {
                    continue;
                }
                o.held = false;
                if o.folded {
                    // Told by its incident's messages, never on its own.
                    continue;
                }
                o.notified_ms = unix_ms(SystemTime::now());
                o.remind_at = o
                    .acked_by
                    .is_none()
                    .then(|| tokio::time::Instant::now() + self.repeat);
                released.push(o.clone());
            }
        }
        drop(view);
        for o in &released {
            tracing::info!(watch = %o.alert.watch, rule = %o.alert.rule,
                "no silence covers this firing alert any more: notified now");
            let thread = o
                .incident
                .and_then(|id| self.opening_thread(&o.alert.watch, id));
            let notes = self.make_in(
                &o.alert,
                Kind::Notice,
                Some(o.since_ms),
                &o.channels,
                thread.as_ref(),
            );
            self.send_now(notes);
        }
        if !released.is_empty() {
            self.save_book();
        }
    }

    /// Marks the open alerts that new acknowledgements name, and announces each once.
    fn apply_acks(&self) {
        let acks = match self.operator.lock() {
            Ok(v) => v.state.acks.clone(),
            Err(_) => return,
        };
        let mut announce = Vec::new();
        let mut changed = false;
        if let Ok(mut open) = self.open.lock() {
            for a in &acks {
                let key = (a.watch.clone(), a.rule.clone());
                let Some(o) = open.get_mut(&key) else {
                    continue;
                };
                if o.since_ms != a.since_ms || o.acked_by.is_some() {
                    continue;
                }
                o.acked_by = Some(a.who.clone());
                o.remind_at = None;
                if o.held {
                    // Its channels never heard of it: nothing to announce to them.
                    tracing::info!(watch = %a.watch, rule = %a.rule, who = %a.who,
                        "acknowledged while held by a silence: no reminders once it is sent");
                    changed = true;
                    continue;
                }
                announce.push((o.alert.clone(), a.who.clone(), o.channels.clone()));
            }
        }
        if announce.is_empty() {
            if changed {
                self.save_book();
            }
            return;
        }
        // Saved first: a crash right after loses the announcement rather than repeating it.
        self.save_book();
        for (alert, who, channels) in announce {
            tracing::info!(watch = %alert.watch, rule = %alert.rule, %who,
                "acknowledged: no more reminders until it resolves");
            let mut e = Alert::new(
                &alert.watch,
                ACK_RULE,
                alert.severity,
                AlertState::Event,
                format!(
                    "acknowledged by {who}: {}/{} (no more reminders until it resolves)",
                    alert.watch, alert.rule
                ),
            );
            e.unit = alert.unit.clone();
            self.notify(&e, Kind::Notice, None, &channels);
        }
    }

    /// Tells the telemetry the active silences, the acknowledged open alerts and the alerts
    /// in incidents. Called after each look at the operator's file and each change of the
    /// book (`save_book`); takes the operator, open and incidents locks, so no caller may
    /// hold one of them.
    pub(super) fn publish_operator(&self, now_ms: u64) {
        let (silences, error) = match self.operator.lock() {
            Ok(v) => (
                v.state
                    .silences
                    .iter()
                    .filter(|s| s.active(now_ms))
                    .map(|s| SilenceStatus {
                        id: s.id.clone(),
                        scope: s.scope.to_string(),
                        ends_at: crate::core::timefmt::rfc3339(operator::until_time(s.ends_ms)),
                        reason: s.reason.clone(),
                        who: s.who.clone(),
                    })
                    .collect(),
                v.error.clone(),
            ),
            Err(_) => return,
        };
        let acks = self
            .open
            .lock()
            .map(|open| {
                open.values()
                    .filter_map(|o| {
                        Some(AckStatus {
                            watch: o.alert.watch.clone(),
                            rule: o.alert.rule.clone(),
                            who: o.acked_by.clone()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.telemetry.set_operator(silences, acks, error);
        let in_incidents = match (self.open.lock(), self.incidents.lock()) {
            (Ok(open), Ok(incidents)) => open
                .values()
                .filter_map(|o| {
                    let id = o.incident?;
                    let inc = incidents.get(&o.alert.watch).filter(|i| i.id == id)?;
                    Some(IncidentStatus {
                        watch: o.alert.watch.clone(),
                        rule: o.alert.rule.clone(),
                        opened_by: inc.alert.rule.clone(),
                    })
                })
                .collect(),
            _ => return,
        };
        self.telemetry.set_incidents(in_incidents);
    }

    /// When the next active silence ends, on this run's clock.
    fn next_silence_end(&self) -> Option<tokio::time::Instant> {
        let now_ms = self.wall_ms();
        let v = self.operator.lock().ok()?;
        let end = v
            .state
            .silences
            .iter()
            .filter(|s| s.ends_ms > now_ms)
            .map(|s| s.ends_ms)
            .min()?;
        Some(tokio::time::Instant::now() + Duration::from_millis(end - now_ms))
    }
}

/// The longest sleep between looks when no event came. In production the file hub's timer
/// stats the file every `OPERATOR_POLL` and nudges this task only when it changed (inotify
/// nudges it at once), so an idle daemon does not wake for it; the unit tests run on paused
/// time, where a real thread's nudge cannot be awaited, and look every `OPERATOR_POLL`.
const OPERATOR_FALLBACK: Duration = if cfg!(test) {
    OPERATOR_POLL
} else {
    Duration::from_secs(60)
};

/// Looks at the operator's file when it changed (at most `OPERATOR_POLL` later), at each
/// silence's end, and at least every `OPERATOR_FALLBACK`.
pub(super) async fn watch(s: Arc<Shared>, state_dir: PathBuf, mut shutdown: Shutdown) {
    let changed = Arc::new(tokio::sync::Notify::new());
    let _looks = crate::source::file::hub::register_notify(
        &operator::store::path(&state_dir),
        OPERATOR_POLL,
        shutdown.clone(),
        changed.clone(),
    );
    loop {
        s.look_at_operator(&state_dir);
        let mut wake = tokio::time::Instant::now() + OPERATOR_FALLBACK;
        if let Some(end) = s.next_silence_end() {
            wake = wake.min(end);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = changed.notified() => {}
            _ = shutdown.wait() => return,
        }
    }
}
