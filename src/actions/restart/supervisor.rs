//! The supervisor: decides when a watched service is restarted, and when to stop trying.
//!
//! It sees every alert. A rule or probe with `then = ["restart"]` firing asks for a restart;
//! the policy then decides: not while the operator paused the watch, not during the startup
//! grace after a start, not unless every `confirm` signal also fires, not before the backoff
//! (10 s, 20 s, 40 s ... 300 s) has passed, and at most `max_restarts` per `window`. Past that
//! limit it sends one "manual intervention needed" alert and keeps its hands off until the
//! service is healthy again or an operator runs `logwarden resume WATCH`. A unit stopped on
//! purpose (`systemctl stop`) is never restarted; logwarden looks again every
//! `OPERATOR_STOP_RECHECK` (quietly) until it runs again. Both states are logged once when
//! they begin and once when they end, and while they last the `action` of the watch's
//! alerts says that logwarden keeps its hands off. Each restart is verified after
//! `verify_after`: the unit is active, its probes pass, and it logs again.
//! History and backoff persist in `state_dir/restarts.json` (`history.rs`); operator commands
//! arrive as files in `state_dir/control/` (`control.rs`); each restart runs as a task
//! (`task.rs`, `verify.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::actions::restart::control::{read_control, Control};
use crate::actions::restart::history::{unix_now, unix_now_ms, Saved, SavedFile, SAVED_VERSION};
use crate::actions::restart::task::{Outcome, RestartTask, TaskKind};
use crate::actions::restart::watch::Watch;
use crate::config::duration::format_duration;
use crate::config::Config;
use crate::core::alert::{Alert, AlertState, Severity};
use crate::core::rule_names::{HANDOVER_RULE, RESTART_REFUSED_RULE, RESTART_RULE};
use crate::core::shutdown::Shutdown;
use crate::rules::{Activity, Input, Output};

mod manual;

/// How often a unit stopped by an operator is looked at again (one `systemctl show`, not
/// logged): once it runs again, restarts are on again.
const OPERATOR_STOP_RECHECK: Duration = Duration::from_secs(10);
/// At shutdown, restarts under way get this long to end (the pipeline waits 5 s for all).
const FINISH_WITHIN: Duration = Duration::from_secs(3);

/// The restart tasks under way, each giving its watch and outcome.
pub(super) type Tasks = JoinSet<(usize, TaskKind, Outcome)>;

/// Decides and runs restarts for every watch that may be restarted.
pub struct Supervisor {
    watches: Vec<Watch>,
    state_dir: PathBuf,
    inputs: mpsc::Sender<Input>,
    alerts: mpsc::Sender<Output>,
    activity: Arc<Activity>,
    client: reqwest::Client,
    telemetry: Arc<crate::telemetry::Telemetry>,
    /// For the log line each of its alerts gets: the alert itself is redacted where it
    /// enters the pipeline, but this line is written before that, and a summary may name a
    /// probe's URL (which can hold a token).
    redactor: crate::actions::redact::Redactor,
}

impl Supervisor {
    /// A supervisor for the watches of `config` that have a restart method. `inputs` reaches
    /// the rules engine (to reset a watch's rules after a start); `alerts` the actions.
    pub fn new(
        config: &Config,
        inputs: mpsc::Sender<Input>,
        alerts: mpsc::Sender<Output>,
        activity: Arc<Activity>,
        client: reqwest::Client,
        telemetry: Arc<crate::telemetry::Telemetry>,
    ) -> Supervisor {
        let state_dir = config.daemon.state_dir.clone();
        let saved = SavedFile::load(&state_dir);
        let now = Instant::now();
        let now_unix_ms = unix_now_ms();
        let watches = config
            .watches
            .iter()
            .enumerate()
            .filter_map(|(index, w)| Watch::new(index, w, &saved, now, now_unix_ms))
            .collect();
        let supervisor = Supervisor {
            watches,
            state_dir,
            inputs,
            alerts,
            activity,
            client,
            telemetry,
            redactor: crate::actions::redact::Redactor::new(
                &config.alerts,
                &config.secret_values(),
            ),
        };
        for i in 0..supervisor.watches.len() {
            if supervisor.watches[i].saved.gave_up {
                supervisor.set_hands_off(i);
            }
        }
        supervisor
    }

    /// Publishes what logwarden does about watch `i`'s alerts now (for their `action`).
    fn set_hands_off(&self, i: usize) {
        let w = &self.watches[i];
        let action = w.hands_off_action();
        if let Ok(mut h) = self.telemetry.hands_off.lock() {
            match action {
                Some(a) => h.insert(w.name.clone(), a),
                None => h.remove(&w.name),
            };
        }
    }

    /// Ends the operator-stop state of watch `i` (logged once), if it was in it.
    fn end_operator_stop(&mut self, i: usize, why: &str) {
        let w = &mut self.watches[i];
        if !w.operator_stopped {
            return;
        }
        w.operator_stopped = false;
        tracing::info!(watch = %w.name, "{why}: no longer stopped by an operator; automatic restarts are on again");
        self.set_hands_off(i);
    }

    /// Whether any watch may be restarted at all.
    pub fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    /// Runs until shutdown: alerts in, restarts and their alerts out.
    pub async fn run(
        mut self,
        mut alerts_in: mpsc::UnboundedReceiver<Alert>,
        mut shutdown: Shutdown,
    ) {
        // Every restart under way is a task owned here.
        let mut tasks: Tasks = JoinSet::new();
        // Backoff, grace and pauses end with time: look again every second while anything
        // asks for a restart (an idle supervisor does not wake).
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let pending = self.watches.iter().any(|w| w.busy || !w.firing.is_empty());
            tokio::select! {
                a = alerts_in.recv() => match a {
                    Some(a) => self.on_alert(&a),
                    None => break,
                },
                Some(joined) = tasks.join_next() => match joined {
                    Ok((i, kind, outcome)) => self.on_done(i, kind, outcome).await,
                    Err(e) => tracing::error!(error = %e, "a restart task ended without an outcome"),
                },
                _ = tick.tick(), if pending => {}
                // An operator's request was written to a control file: look now.
                _ = self.telemetry.restart_poke.notified() => {}
                _ = shutdown.wait() => break,
            }
            for i in 0..self.watches.len() {
                self.decide(i, &mut tasks).await;
            }
        }
        self.finish(&mut tasks).await;
    }

    /// At shutdown (or reload): the restarts under way get `FINISH_WITHIN` to end, their
    /// outcome handled as usual; the rest are cancelled, and the "in progress" mark they
    /// saved makes the next supervisor finish them (no two supervisors act on one unit).
    async fn finish(&mut self, tasks: &mut Tasks) {
        let deadline = tokio::time::sleep(FINISH_WITHIN);
        tokio::pin!(deadline);
        while !tasks.is_empty() {
            tokio::select! {
                Some(joined) = tasks.join_next() => {
                    if let Ok((i, kind, outcome)) = joined {
                        self.on_done(i, kind, outcome).await;
                    }
                }
                _ = &mut deadline => break,
            }
        }
        if !tasks.is_empty() {
            tracing::warn!(
                restarts = tasks.len(),
                "stopping in the middle of a restart; the next start of logwarden finishes it"
            );
            tasks.abort_all();
        }
    }

    fn on_alert(&mut self, a: &Alert) {
        if a.rule == RESTART_RULE || a.rule == HANDOVER_RULE || a.rule == RESTART_REFUSED_RULE {
            return;
        }
        let Some(w) = self.watches.iter_mut().find(|w| w.name == a.watch) else {
            return;
        };
        match a.state {
            AlertState::Firing => {
                w.firing.insert(a.rule.clone());
                if w.restart_on.contains(&a.rule) {
                    w.causes.insert(a.rule.clone(), a.summary.clone());
                }
                if w.restart_on.contains(&a.rule) && w.detected_at.is_none() {
                    w.detected_at = Some(Instant::now());
                }
                w.healthy_since = None;
            }
            AlertState::Resolved => {
                w.firing.remove(&a.rule);
                w.causes.remove(&a.rule);
            }
            AlertState::Event => {}
        }
    }

    async fn send(
        &self,
        w: usize,
        rule: &str,
        state: AlertState,
        severity: Severity,
        summary: String,
    ) {
        let watch = &self.watches[w];
        tracing::info!(watch = %watch.name, "{}", self.redactor.redact(&summary));
        let mut alert = Alert::new(&watch.name, rule, severity, state, summary);
        alert.unit = watch.unit.clone();
        let _ = self.alerts.send(Output::Alert(alert)).await;
    }

    fn save(&self) {
        let file = SavedFile {
            version: SAVED_VERSION,
            watches: self
                .watches
                .iter()
                .map(|w| (w.name.clone(), w.saved.clone()))
                .collect(),
        };
        if let Err(e) = file.save(&self.state_dir) {
            tracing::warn!(error = %e, "cannot save restart history");
        }
    }

    /// Logs a reason for not restarting, once per reason.
    fn note(&mut self, i: usize, why: String) {
        let w = &mut self.watches[i];
        if w.noted.as_deref() != Some(why.as_str()) {
            tracing::info!(watch = %w.name, "not restarting: {why}");
            w.noted = Some(why);
        }
    }

    /// Looks at watch `i`: restarts it when its rules ask and the policy allows (see the
    /// module doc), or notes (once) why not.
    async fn decide(&mut self, i: usize, tasks: &mut Tasks) {
        let now = Instant::now();
        if self.watches[i].busy {
            return;
        }
        let control = read_control(&self.state_dir, &self.watches[i].name);
        self.take_resume(i, &control, now).await;
        if self.watches[i].interrupted {
            self.finish_interrupted(i, &control, tasks);
            return;
        }
        if control.restart > self.watches[i].saved.restart_seen {
            self.take_manual(i, &control, now, tasks).await;
            return;
        }
        let w = &self.watches[i];
        let mut wanted: Vec<String> = w.firing.intersection(&w.restart_on).cloned().collect();
        wanted.sort_unstable();
        if wanted.is_empty() {
            self.calm(i, now).await;
            return;
        }
        if let Some(until) = control.paused_until.filter(|&u| u > unix_now()) {
            self.note(
                i,
                format!(
                    "paused by an operator for {} more",
                    format_duration(Duration::from_secs(until - unix_now()))
                ),
            );
            return;
        }
        let w = &self.watches[i];
        if now < w.grace_until {
            return;
        }
        let missing: Vec<&String> = w
            .cfg
            .confirm
            .iter()
            .filter(|c| !w.firing.contains(*c))
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "{} fired, but confirm also needs {:?}",
                wanted.join(", "),
                missing
            );
            self.note(i, why);
            return;
        }
        if w.saved.gave_up {
            return;
        }
        if w.operator_stopped {
            // Quiet: a look now and then (no log line, no saved state) until it runs again.
            if now >= w.recheck_at {
                self.spawn_task(i, TaskKind::Recheck, tasks);
            }
            return;
        }
        let window = w.cfg.window.as_secs();
        let cutoff = unix_now().saturating_sub(window);
        self.watches[i].saved.history.retain(|&t| t > cutoff);
        let w = &self.watches[i];
        if w.saved.history.len() as u32 >= w.cfg.max_restarts {
            let summary = format!(
                "MANUAL INTERVENTION NEEDED: restarted {} times within {} and it is still failing ({}); not restarting again until it is healthy or an operator runs `logwarden resume {}`",
                w.saved.history.len(),
                format_duration(w.cfg.window),
                wanted.join(", "),
                w.name
            );
            self.watches[i].saved.gave_up = true;
            self.save();
            self.set_hands_off(i);
            self.send(
                i,
                HANDOVER_RULE,
                AlertState::Firing,
                Severity::Critical,
                summary,
            )
            .await;
            return;
        }
        if now < w.next_allowed {
            // The same text at every look (the saved time, not a countdown): logged once.
            let why = match w.saved.next_allowed_unix_ms {
                Some(ms) => format!(
                    "backing off until the next attempt at {}",
                    crate::core::timefmt::rfc3339(UNIX_EPOCH + Duration::from_secs(ms / 1000))
                ),
                None => "backing off until the next attempt".to_string(),
            };
            self.note(i, why);
            return;
        }
        // Go: the task stops/starts the service and verifies it, then reports back. The
        // attempt counts from here, and is saved before anything is stopped: a logwarden that
        // dies during restarts still meets the hourly limit, and the next one finishes it.
        let w = &mut self.watches[i];
        w.noted = None;
        w.reason = wanted
            .iter()
            .map(|r| match w.causes.get(r) {
                Some(said) => format!("{r}: {said}"),
                None => r.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        w.saved.history.push(unix_now());
        w.saved.attempt += 1;
        self.spawn_task(i, TaskKind::Restart, tasks);
    }

    /// Acts on a `logwarden resume` not seen yet: the history is cleared, a hand-over ends.
    async fn take_resume(&mut self, i: usize, control: &Control, now: Instant) {
        if control.resume <= self.watches[i].saved.resume_seen {
            return;
        }
        let w = &mut self.watches[i];
        w.saved = Saved {
            resume_seen: control.resume,
            restart_seen: w.saved.restart_seen,
            ..Saved::default()
        };
        w.next_allowed = now;
        self.end_hand_over(i, "an operator ran `logwarden resume`")
            .await;
    }

    /// Saves watch `i`, ends what it says logwarden keeps its hands off, and resolves the
    /// hand-over alert (`why` says what ended it).
    async fn end_hand_over(&mut self, i: usize, why: &str) {
        self.save();
        self.set_hands_off(i);
        self.send(
            i,
            HANDOVER_RULE,
            AlertState::Resolved,
            Severity::Info,
            format!("{why}: automatic restarts are on again"),
        )
        .await;
    }

    /// Finishes the restart the previous logwarden began (unless the watch is paused).
    fn finish_interrupted(&mut self, i: usize, control: &Control, tasks: &mut Tasks) {
        if let Some(until) = control.paused_until.filter(|&u| u > unix_now()) {
            let why = format!(
                "paused by an operator for {} more (a restart was interrupted)",
                format_duration(Duration::from_secs(until - unix_now()))
            );
            self.note(i, why);
            return;
        }
        self.watches[i].interrupted = false;
        tracing::warn!(watch = %self.watches[i].name, "logwarden ended in the middle of a restart; finishing it");
        self.spawn_task(i, TaskKind::FinishInterrupted, tasks);
    }

    /// Nothing asks for a restart of watch `i`: an operator stop or a hand-over ends, and
    /// a healthy stretch of `healthy_after` resets the backoff.
    async fn calm(&mut self, i: usize, now: Instant) {
        self.end_operator_stop(i, "its rules have cleared");
        let w = &mut self.watches[i];
        w.detected_at = None;
        w.noted = None;
        if w.saved.gave_up && w.firing.is_empty() {
            w.saved.gave_up = false;
            w.saved.attempt = 0;
            self.end_hand_over(i, "healthy again").await;
            return;
        }
        let w = &mut self.watches[i];
        if w.saved.attempt > 0 {
            let since = *w.healthy_since.get_or_insert(now);
            if now.duration_since(since) >= w.cfg.healthy_after {
                w.saved.attempt = 0;
                self.save();
            }
        }
    }

    /// Marks a restart in progress (saved), then runs it as its own task. (A `Recheck` only
    /// looks at the unit: nothing is saved.)
    fn spawn_task(&mut self, i: usize, kind: TaskKind, tasks: &mut Tasks) {
        let w = &mut self.watches[i];
        w.busy = true;
        if kind != TaskKind::Recheck {
            w.saved.in_progress_unix_ms = Some(unix_now_ms());
            w.saved.in_progress_reason = Some(w.reason.clone()).filter(|r| !r.is_empty());
            self.save();
        }
        let w = &self.watches[i];
        let task = RestartTask {
            watch: w.name.clone(),
            reason: w.reason.clone(),
            attempt: w.saved.attempt,
            method: w.cfg.method.clone(),
            unit: w.unit.clone(),
            stop_timeout: w.cfg.stop_timeout,
            verify_after: w.cfg.verify_after,
            probes: w.probes.clone(),
            has_logs: w.has_logs,
            activity: self.activity.clone(),
            index: w.index,
            client: self.client.clone(),
            inputs: self.inputs.clone(),
            startup_grace: w.cfg.startup_grace,
            kind,
        };
        tasks.spawn(async move { (i, kind, task.run().await) });
    }

    async fn on_done(&mut self, i: usize, kind: TaskKind, outcome: Outcome) {
        let now = Instant::now();
        let w = &mut self.watches[i];
        w.busy = false;
        if kind == TaskKind::Recheck {
            match outcome {
                Outcome::Running(state) => {
                    // Started by a person just now: judged after the startup grace.
                    let w = &mut self.watches[i];
                    w.grace_until = now + w.cfg.startup_grace;
                    self.end_operator_stop(i, &state);
                }
                // Still stopped, or systemctl did not answer: look again later, quietly.
                _ => self.watches[i].recheck_at = now + OPERATOR_STOP_RECHECK,
            }
            return;
        }
        w.saved.in_progress_unix_ms = None;
        w.saved.in_progress_reason = None;
        let because = because(&w.reason);
        let finished = match kind {
            TaskKind::Restart | TaskKind::Recheck => "",
            TaskKind::FinishInterrupted => {
                "logwarden ended in the middle of a restart; the next one finished it: "
            }
        };
        match outcome {
            Outcome::Running(_) => {}
            Outcome::Skipped(why) => {
                match kind {
                    TaskKind::Restart | TaskKind::Recheck => {
                        // Not an attempt after all; the stop is not fought (logged once).
                        w.saved.history.pop();
                        w.saved.attempt = w.saved.attempt.saturating_sub(1);
                        w.operator_stopped = true;
                        w.recheck_at = now + OPERATOR_STOP_RECHECK;
                        tracing::warn!(watch = %w.name, "not restarting: {why}; logwarden will not restart it until it runs again");
                        self.save();
                        self.set_hands_off(i);
                    }
                    // The restart happened (it counted), but its alert was lost with the
                    // logwarden that began it: say so now.
                    TaskKind::FinishInterrupted => {
                        self.hold_off(i, now, Duration::from_secs(10));
                        self.save();
                        self.send(i, RESTART_RULE, AlertState::Event, Severity::Warning, why)
                            .await;
                    }
                }
            }
            Outcome::Failed(why) => {
                self.back_off(i, now);
                let n = self.watches[i].saved.history.len();
                self.send(
                    i,
                    RESTART_RULE,
                    AlertState::Event,
                    Severity::Critical,
                    format!("{finished}restart {n}{because} failed: {why}"),
                )
                .await;
            }
            Outcome::Restarted { report, verdict } => {
                self.back_off(i, now);
                let w = &mut self.watches[i];
                w.grace_until = now + w.cfg.startup_grace;
                let n = w.saved.history.len();
                let max = w.cfg.max_restarts;
                let steps = report.steps.join("; ");
                match verdict {
                    Ok(evidence) => {
                        let took = w.detected_at.map(|d| now.duration_since(d));
                        w.healthy_since = Some(now);
                        // The trouble that caused it is over: the rules were reset.
                        w.firing.retain(|r| !w.restart_on.contains(r));
                        w.causes.clear();
                        w.detected_at = None;
                        let took = took
                            .map(|t| {
                                format!(" {:.1}s after the problem was detected", t.as_secs_f64())
                            })
                            .unwrap_or_default();
                        self.send(i, RESTART_RULE, AlertState::Event, Severity::Warning,
                            format!("{finished}restarted ({n} of at most {max} per window){because}; verified healthy{took}: {evidence}; {steps}")).await;
                    }
                    Err(why) => {
                        // Counted like any attempt (from its start): enough of these hand over.
                        self.send(i, RESTART_RULE, AlertState::Event, Severity::Critical,
                            format!("{finished}restarted ({n} of at most {max} per window){because}; but the restart did not bring it back: {why} ({steps})")).await;
                    }
                }
            }
        }
    }

    /// No restart of watch `i` for `d` from `now` (the saved time too, so what is logged
    /// about it is true).
    fn hold_off(&mut self, i: usize, now: Instant, d: Duration) {
        let w = &mut self.watches[i];
        w.next_allowed = now + d;
        w.saved.next_allowed_unix_ms = Some(unix_now_ms() + d.as_millis() as u64);
    }

    /// Sets the backoff after an attempt (counted when it began) and saves.
    fn back_off(&mut self, i: usize, now: Instant) {
        let w = &mut self.watches[i];
        let factor = 1u32 << w.saved.attempt.saturating_sub(1).min(16);
        let backoff = (w.cfg.backoff * factor).min(w.cfg.backoff_max);
        w.next_allowed = now + backoff;
        w.saved.next_allowed_unix_ms = Some(unix_now_ms() + backoff.as_millis() as u64);
        self.save();
    }
}

/// ` because CAUSE` for a restart's alert, or nothing when the cause is not known.
fn because(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" because {reason}")
    }
}
