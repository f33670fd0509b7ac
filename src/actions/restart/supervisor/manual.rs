//! A restart an operator asked for (Telegram's confirmed `/restart`, written to the watch's
//! control file as a bumped `restart`): taken once, at once, through the policy of
//! automatic restarts. It starts now, or it is refused with the reason, said as a `restart-refused`
//! event to every channel: not while the watch is paused, handed over to a person, or its
//! unit stopped by an operator; not before the backoff has passed; not past `max_restarts`
//! per `window`. A refused request is not kept for later (a restart hours after the ask
//! would surprise the person who asked). The request counts as taken once it is saved in
//! the history (before anything is stopped), so a logwarden killed during it does not take
//! it twice.

use std::time::Duration;

use tokio::time::Instant;

use crate::actions::restart::control::Control;
use crate::actions::restart::history::unix_now;
use crate::actions::restart::supervisor::{Supervisor, Tasks};
use crate::actions::restart::task::TaskKind;
use crate::config::duration::format_duration;
use crate::core::alert::{AlertState, Severity};
use crate::core::rule_names::RESTART_REFUSED_RULE;

impl Supervisor {
    /// Takes the operator's restart request of watch `i` (newer than the last taken).
    pub(super) async fn take_manual(
        &mut self,
        i: usize,
        control: &Control,
        now: Instant,
        tasks: &mut Tasks,
    ) {
        debug_assert!(control.restart > self.watches[i].saved.restart_seen);
        let by = control
            .restart_by
            .clone()
            .unwrap_or_else(|| "an operator".to_string());
        self.watches[i].saved.restart_seen = control.restart;
        if let Some(why) = self.manual_refusal(i, control, now) {
            self.save();
            let summary = format!("restart asked by {by} refused: {why}");
            self.send(
                i,
                RESTART_REFUSED_RULE,
                AlertState::Event,
                Severity::Warning,
                summary,
            )
            .await;
            return;
        }
        let w = &mut self.watches[i];
        w.noted = None;
        w.reason = format!("{by} asked for it");
        w.saved.history.push(unix_now());
        w.saved.attempt += 1;
        // Saves the history and the request taken before anything is stopped.
        self.spawn_task(i, TaskKind::Restart, tasks);
    }

    /// Why the policy refuses a restart of watch `i` now, if it does.
    fn manual_refusal(&mut self, i: usize, control: &Control, now: Instant) -> Option<String> {
        let unix = unix_now();
        if let Some(until) = control.paused_until.filter(|&u| u > unix) {
            return Some(format!(
                "the watch is paused for {} more (`/resume {}` or `logwarden resume {}` ends the pause)",
                format_duration(Duration::from_secs(until - unix)),
                self.watches[i].name,
                self.watches[i].name
            ));
        }
        let w = &mut self.watches[i];
        if w.saved.gave_up {
            return Some(format!(
                "logwarden handed the watch over to a person after {} restarts; `logwarden resume {}` (or `/resume`) hands it back",
                w.saved.history.len(),
                w.name
            ));
        }
        if w.operator_stopped {
            return Some(
                "its unit was stopped by an operator (systemctl stop); start it with systemctl"
                    .into(),
            );
        }
        let cutoff = unix.saturating_sub(w.cfg.window.as_secs());
        w.saved.history.retain(|&t| t > cutoff);
        if w.saved.history.len() as u32 >= w.cfg.max_restarts {
            return Some(format!(
                "already restarted {} times within {} (max_restarts)",
                w.saved.history.len(),
                format_duration(w.cfg.window)
            ));
        }
        if now < w.next_allowed {
            return Some(format!(
                "backing off for {} more after the last restart",
                format_duration(Duration::from_secs(
                    w.next_allowed.duration_since(now).as_secs().max(1)
                ))
            ));
        }
        None
    }
}
