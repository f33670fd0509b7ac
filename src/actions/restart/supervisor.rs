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
//! History and backoff persist in `state_dir/restarts.json`; operator commands arrive as files
//! in `state_dir/control/`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::actions::restart::systemctl::{self, RestartReport};
use crate::config::duration::format_duration;
use crate::config::{Config, ProbeConfig, RestartConfig, RestartMethod};
use crate::core::alert::Severity;
use crate::core::alert::{Alert, AlertState};
use crate::core::shutdown::Shutdown;
use crate::rules::activity::JournalAfter;
use crate::rules::{Activity, Input, Output};

use crate::core::rule_names::{HANDOVER_RULE, RESTART_RULE};

/// How often a unit stopped by an operator is looked at again (one `systemctl show`, not
/// logged): once it runs again, restarts are on again.
const OPERATOR_STOP_RECHECK: Duration = Duration::from_secs(10);

/// What an operator asked for a watch, through `logwarden pause/resume`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Control {
    /// Unix seconds until which the watch is paused (no restarts).
    pub paused_until: Option<u64>,
    /// Bumped by each `logwarden resume`.
    #[serde(default)]
    pub resume: u64,
}

/// The control file of `watch` in `state_dir`.
pub fn control_path(state_dir: &Path, watch: &str) -> PathBuf {
    state_dir.join("control").join(format!("{watch}.json"))
}

/// Reads a watch's control file (missing: nothing asked).
pub fn read_control(state_dir: &Path, watch: &str) -> Control {
    std::fs::read(control_path(state_dir, watch))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Writes a watch's control file atomically.
pub fn write_control(state_dir: &Path, watch: &str, control: &Control) -> std::io::Result<()> {
    let path = control_path(state_dir, watch);
    crate::core::state_file::write_atomic(
        &path,
        &serde_json::to_vec_pretty(control).map_err(std::io::Error::other)?,
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Persisted per watch.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Saved {
    /// Unix seconds of each restart within the window.
    history: Vec<u64>,
    /// Consecutive restarts without a healthy stretch (drives the backoff).
    attempt: u32,
    gave_up: bool,
    /// The last `Control::resume` acted on.
    resume_seen: u64,
    /// Unix milliseconds before which the backoff allows no restart (version 2; absent in
    /// version 1 files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_allowed_unix_ms: Option<u64>,
    /// Unix milliseconds at which a restart began that has not ended yet: saved before the
    /// service is stopped, cleared when the restart task reports back. Found at start, it
    /// means logwarden died in the middle of a restart (perhaps between the stop and the
    /// start, leaving the unit stopped as if by an operator): the restart is finished then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    in_progress_unix_ms: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SavedFile {
    version: u32,
    watches: BTreeMap<String, Saved>,
}

/// The version of `restarts.json` written; every version up to it is read.
const SAVED_VERSION: u32 = 2;

impl SavedFile {
    /// A `restarts.json` of a known version, or `None`.
    fn parse(bytes: &[u8]) -> Option<SavedFile> {
        serde_json::from_slice(bytes)
            .ok()
            .filter(|f: &SavedFile| (1..=SAVED_VERSION).contains(&f.version))
    }
}

/// The `Instant` a saved backoff ends at: what was left of it when saved, counted from
/// `now`, and never more than `max` (a clock set back must not block restarts for long).
fn restore_next_allowed(
    saved_unix_ms: Option<u64>,
    now_unix_ms: u64,
    now: Instant,
    max: Duration,
) -> Instant {
    let left = saved_unix_ms.map_or(0, |t| t.saturating_sub(now_unix_ms));
    now + Duration::from_millis(left).min(max)
}

/// The outcome of one restart task.
#[derive(Debug)]
enum Outcome {
    /// Not restarted (the unit was stopped on purpose).
    Skipped(String),
    /// A unit stopped by an operator runs again (in this state).
    Running(String),
    Restarted {
        report: RestartReport,
        /// `Ok(evidence)`: verified healthy; `Err(why)`: not healthy after `verify_after`.
        verdict: Result<String, String>,
    },
    Failed(String),
}

struct Watch {
    index: usize,
    name: String,
    unit: Option<String>,
    cfg: RestartConfig,
    probes: Vec<ProbeConfig>,
    has_logs: bool,
    /// Rules and probes whose firing asks for a restart.
    restart_on: HashSet<String>,
    /// Rules and probes firing now.
    firing: HashSet<String>,
    saved: Saved,
    busy: bool,
    next_allowed: Instant,
    grace_until: Instant,
    /// When the current trouble was first seen (for detection-to-healthy times).
    detected_at: Option<Instant>,
    /// Since when it has been healthy after a restart.
    healthy_since: Option<Instant>,
    /// The last reason for not restarting, logged once.
    noted: Option<String>,
    /// A restart was in progress when the previous logwarden ended: finish it first.
    interrupted: bool,
    /// What the restart under way is for (the rules that asked), for its log line.
    reason: String,
    /// Its unit was stopped by an operator (`systemctl stop`): not restarted, looked at
    /// again at `recheck_at`, quietly, until it runs again.
    operator_stopped: bool,
    recheck_at: Instant,
}

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

/// The `action` of a watch's alerts while logwarden has handed it over to a person.
fn handed_over_action(watch: &str, unit: Option<&str>) -> String {
    format!(
        "none: logwarden keeps its hands off {} until `logwarden resume {watch}` (or until it is healthy again); manual intervention needed",
        unit.unwrap_or(watch)
    )
}

/// The `action` of a watch's alerts while its unit is stopped by an operator.
fn operator_stopped_action(unit: &str) -> String {
    format!(
        "none: {unit} was stopped by an operator; logwarden will not restart it (restarts are on again once it runs)"
    )
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
        let saved: SavedFile = std::fs::read(state_dir.join("restarts.json"))
            .ok()
            .and_then(|b| SavedFile::parse(&b))
            .unwrap_or_default();
        let now = Instant::now();
        let now_unix_ms = unix_now_ms();
        let watches = config
            .watches
            .iter()
            .enumerate()
            .filter_map(|(index, w)| {
                let cfg = w.restart.clone()?;
                let restart_on = w
                    .rules
                    .iter()
                    .filter(|r| r.then_restart)
                    .map(|r| r.name.clone())
                    .chain(
                        w.probes
                            .iter()
                            .filter(|p| p.then_restart)
                            .map(|p| p.name.clone()),
                    )
                    .collect::<HashSet<_>>();
                if restart_on.is_empty() {
                    return None;
                }
                let saved = saved.watches.get(&w.name).cloned().unwrap_or_default();
                let interrupted = saved.in_progress_unix_ms.is_some();
                // A backoff pending when logwarden stopped goes on after its restart.
                let next_allowed = restore_next_allowed(
                    saved.next_allowed_unix_ms,
                    now_unix_ms,
                    now,
                    cfg.backoff_max,
                );
                Some(Watch {
                    index,
                    name: w.name.clone(),
                    unit: w.unit.clone(),
                    grace_until: now,
                    cfg,
                    probes: w.probes.clone(),
                    has_logs: !w.files.is_empty() || w.journal.is_some(),
                    restart_on,
                    firing: HashSet::new(),
                    saved,
                    busy: false,
                    next_allowed,
                    detected_at: None,
                    healthy_since: None,
                    noted: None,
                    interrupted,
                    operator_stopped: false,
                    recheck_at: now,
                    reason: String::new(),
                })
            })
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
        let action = if w.saved.gave_up {
            Some(handed_over_action(&w.name, w.unit.as_deref()))
        } else if w.operator_stopped {
            Some(operator_stopped_action(
                w.unit.as_deref().unwrap_or(&w.name),
            ))
        } else {
            None
        };
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
        let (done_tx, mut done_rx) = mpsc::channel::<(usize, TaskKind, Outcome)>(8);
        // Backoff, grace and pauses end with time: look again every second while anything
        // asks for a restart (an idle supervisor does not wake).
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let pending = self.watches.iter().any(|w| w.busy || !w.firing.is_empty());
            tokio::select! {
                a = alerts_in.recv() => match a {
                    Some(a) => self.on_alert(&a),
                    None => return,
                },
                Some((i, kind, outcome)) = done_rx.recv() => self.on_done(i, kind, outcome).await,
                _ = tick.tick(), if pending => {}
                _ = shutdown.wait() => return,
            }
            for i in 0..self.watches.len() {
                self.decide(i, &done_tx).await;
            }
        }
    }

    fn on_alert(&mut self, a: &Alert) {
        if a.rule == RESTART_RULE || a.rule == HANDOVER_RULE {
            return;
        }
        let Some(w) = self.watches.iter_mut().find(|w| w.name == a.watch) else {
            return;
        };
        match a.state {
            AlertState::Firing => {
                w.firing.insert(a.rule.clone());
                if w.restart_on.contains(&a.rule) && w.detected_at.is_none() {
                    w.detected_at = Some(Instant::now());
                }
                w.healthy_since = None;
            }
            AlertState::Resolved => {
                w.firing.remove(&a.rule);
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
        let result = crate::core::state_file::write_atomic(
            &self.state_dir.join("restarts.json"),
            &serde_json::to_vec_pretty(&file).unwrap_or_default(),
        );
        if let Err(e) = result {
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

    async fn decide(&mut self, i: usize, done: &mpsc::Sender<(usize, TaskKind, Outcome)>) {
        let now = Instant::now();
        if self.watches[i].busy {
            return;
        }
        let control = read_control(&self.state_dir, &self.watches[i].name);
        if control.resume > self.watches[i].saved.resume_seen {
            let w = &mut self.watches[i];
            w.saved = Saved {
                resume_seen: control.resume,
                ..Saved::default()
            };
            w.next_allowed = now;
            self.save();
            self.set_hands_off(i);
            self.send(
                i,
                HANDOVER_RULE,
                AlertState::Resolved,
                Severity::Info,
                "an operator ran `logwarden resume`: automatic restarts are on again".into(),
            )
            .await;
        }
        if self.watches[i].interrupted {
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
            self.spawn_task(i, TaskKind::FinishInterrupted, done);
            return;
        }
        let w = &self.watches[i];
        let wanted: Vec<String> = w.firing.intersection(&w.restart_on).cloned().collect();
        if wanted.is_empty() {
            self.end_operator_stop(i, "its rules have cleared");
            let w = &mut self.watches[i];
            w.detected_at = None;
            w.noted = None;
            if w.saved.gave_up && w.firing.is_empty() {
                w.saved.gave_up = false;
                w.saved.attempt = 0;
                self.save();
                self.set_hands_off(i);
                self.send(
                    i,
                    HANDOVER_RULE,
                    AlertState::Resolved,
                    Severity::Info,
                    "healthy again: automatic restarts are on again".into(),
                )
                .await;
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
                self.spawn_task(i, TaskKind::Recheck, done);
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
        w.reason = wanted.join(", ");
        w.saved.history.push(unix_now());
        w.saved.attempt += 1;
        self.spawn_task(i, TaskKind::Restart, done);
    }

    /// Marks a restart in progress (saved), then runs it as its own task. (A `Recheck` only
    /// looks at the unit: nothing is saved.)
    fn spawn_task(
        &mut self,
        i: usize,
        kind: TaskKind,
        done: &mpsc::Sender<(usize, TaskKind, Outcome)>,
    ) {
        let w = &mut self.watches[i];
        w.busy = true;
        if kind != TaskKind::Recheck {
            w.saved.in_progress_unix_ms = Some(unix_now_ms());
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
        let done = done.clone();
        tokio::spawn(async move {
            let outcome = task.run().await;
            let _ = done.send((i, kind, outcome)).await;
        });
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
                    format!("{finished}restart {n} failed: {why}"),
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
                        w.detected_at = None;
                        let took = took
                            .map(|t| {
                                format!(" {:.1}s after the problem was detected", t.as_secs_f64())
                            })
                            .unwrap_or_default();
                        self.send(i, RESTART_RULE, AlertState::Event, Severity::Warning,
                            format!("{finished}restarted ({n} of at most {max} per window) and verified healthy{took}: {evidence}; {steps}")).await;
                    }
                    Err(why) => {
                        // Counted like any attempt (from its start): enough of these hand over.
                        self.send(i, RESTART_RULE, AlertState::Event, Severity::Critical,
                            format!("{finished}restarted ({n} of at most {max} per window), but the restart did not bring it back: {why} ({steps})")).await;
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

/// One restart, run as its own task.
struct RestartTask {
    watch: String,
    /// The rules that asked for it, and which attempt it is (for its log line).
    reason: String,
    attempt: u32,
    method: RestartMethod,
    unit: Option<String>,
    stop_timeout: Duration,
    verify_after: Duration,
    probes: Vec<ProbeConfig>,
    has_logs: bool,
    activity: Arc<Activity>,
    index: usize,
    client: reqwest::Client,
    inputs: mpsc::Sender<Input>,
    startup_grace: Duration,
    kind: TaskKind,
}

/// What a restart task is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskKind {
    /// A restart the rules asked for.
    Restart,
    /// Finishing a restart the previous logwarden began and did not end.
    FinishInterrupted,
    /// Only looking whether a unit stopped by an operator runs again.
    Recheck,
}

/// Opens the watch's restart mark again when a restart task ends, however it ends.
struct EndRestart<'a>(&'a Activity, usize);

impl Drop for EndRestart<'_> {
    fn drop(&mut self) {
        self.0.end_restart(self.1);
    }
}

impl RestartTask {
    async fn run(self) -> Outcome {
        if self.kind == TaskKind::Recheck {
            return self.recheck().await;
        }
        // From here until the verification is over, only output of the new process counts
        // (`rules::activity`): not what the old one writes while it is thawed and stopped.
        let epoch = self.activity.begin_restart(self.index);
        let _open_again = EndRestart(&self.activity, self.index);
        if let RestartMethod::Systemd { unit, user } = &self.method {
            match systemctl::unit_state(unit, user.as_deref()).await {
                // Stopped by our own interrupted restart, not by an operator: start it.
                Ok(s) if s.stopped_on_purpose() && self.kind == TaskKind::FinishInterrupted => {}
                Ok(s) if s.stopped_on_purpose() => {
                    return Outcome::Skipped(format!(
                        "{unit} was stopped on purpose (inactive, result success); an operator's stop is not undone"
                    ));
                }
                // Up again (the stop never came, or the start did): the rules judge it.
                Ok(s) if s.active_state == "active" && self.kind == TaskKind::FinishInterrupted => {
                    return Outcome::Skipped(format!(
                        "a restart of {unit} was cut short (logwarden ended or reloaded during it); {unit} is active again, so it is not restarted twice"
                    ));
                }
                Ok(_) => {}
                Err(e) => return Outcome::Failed(e.to_string()),
            }
        }
        tracing::info!(watch = %self.watch, reason = %self.reason, attempt = self.attempt, "restarting");
        let stopped_at_ms = std::sync::atomic::AtomicU64::new(0);
        let on_stopped = || {
            let now = unix_now_ms();
            stopped_at_ms.store(now, std::sync::atomic::Ordering::Relaxed);
            let journal = match self.method {
                // The new main PID is known once `start` returned; until then none counts.
                RestartMethod::Systemd { .. } => JournalAfter::Nothing,
                // The command has stopped and started it: entries from now on.
                RestartMethod::Command(_) => JournalAfter::Since(now * 1000),
            };
            self.activity.old_process_gone(self.index, journal);
        };
        let report = match systemctl::restart(&self.method, self.stop_timeout, &on_stopped).await {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        if let Some(pid) = report.main_pid {
            self.activity.new_main_pid(self.index, pid);
        }
        let stopped_at = UNIX_EPOCH
            + Duration::from_millis(stopped_at_ms.load(std::sync::atomic::Ordering::Relaxed));
        // The rules judge the new process afresh, after the startup grace.
        let _ = self
            .inputs
            .send(Input::Reset {
                watch: self.index,
                at: Instant::now() + self.startup_grace.min(self.verify_after),
            })
            .await;
        tokio::time::sleep(self.verify_after).await;
        let verdict = self.verify(epoch, stopped_at, report.main_pid).await;
        Outcome::Restarted { report, verdict }
    }

    /// Whether a unit stopped by an operator runs again: `Running` if it does.
    async fn recheck(&self) -> Outcome {
        let RestartMethod::Systemd { unit, user } = &self.method else {
            return Outcome::Running("no unit".into());
        };
        match systemctl::unit_state(unit, user.as_deref()).await {
            Ok(s) if s.stopped_on_purpose() => Outcome::Skipped(String::new()),
            Ok(s) => Outcome::Running(format!("{unit} is {} ({})", s.active_state, s.sub_state)),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    /// `Ok(evidence)` when the new process is healthy: the unit is active, every probe
    /// passes (a heartbeat file written since the old process was gone at `stopped_at`),
    /// and it wrote log lines of its own; else `Err(what is wrong)`.
    async fn verify(
        &self,
        epoch: u32,
        stopped_at: SystemTime,
        main_pid: Option<u32>,
    ) -> Result<String, String> {
        let mut problems = Vec::new();
        let mut evidence = Vec::new();
        if let (RestartMethod::Systemd { user, .. }, Some(unit)) = (&self.method, &self.unit) {
            match systemctl::unit_state(unit, user.as_deref()).await {
                Ok(s) if s.active_state == "active" => {}
                Ok(s) => problems.push(format!("{unit} is {} ({})", s.active_state, s.sub_state)),
                Err(e) => problems.push(e.to_string()),
            }
        }
        for p in &self.probes {
            let v = crate::probes::check_since(p, &self.client, Some(stopped_at)).await;
            if v.healthy {
                evidence.push(format!("probe {} passes", p.name));
            } else {
                problems.push(format!("probe {}: {}", p.name, v.detail));
            }
        }
        let process = match main_pid {
            Some(pid) => format!("the new process (PID {pid})"),
            None => "the new process".to_string(),
        };
        if self.has_logs {
            match self.activity.new_process_lines(self.index, epoch) {
                0 => problems.push(format!(
                    "{process} wrote no log line within {} (lines the old one wrote while it was stopped do not count)",
                    format_duration(self.verify_after)
                )),
                1 => evidence.push(format!("{process} wrote 1 log line since its start")),
                n => evidence.push(format!("{process} wrote {n} log lines since its start")),
            }
        } else if self.probes.is_empty() {
            evidence.push(format!("{process} is active"));
        }
        if problems.is_empty() {
            Ok(evidence.join(", "))
        } else {
            Err(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_restarts_file_is_still_read() {
        let v1 = br#"{"version":1,"watches":{"bot":{"history":[1764000000],"attempt":2,"gave_up":false,"resume_seen":0}}}"#;
        let f = SavedFile::parse(v1).expect("version 1 is read");
        let bot = &f.watches["bot"];
        assert_eq!(
            (bot.history.as_slice(), bot.attempt),
            (&[1764000000][..], 2)
        );
        assert_eq!(bot.next_allowed_unix_ms, None);
        assert!(SavedFile::parse(br#"{"version":99,"watches":{}}"#).is_none());
    }

    #[test]
    fn a_pending_backoff_survives_a_restart_of_logwarden() {
        let saved = SavedFile {
            version: SAVED_VERSION,
            watches: [(
                "bot".to_string(),
                Saved {
                    attempt: 2,
                    next_allowed_unix_ms: Some(1_000_040_000),
                    ..Saved::default()
                },
            )]
            .into(),
        };
        let text = serde_json::to_vec(&saved).unwrap();
        let back = SavedFile::parse(&text).expect("what is written is read");
        let at = back.watches["bot"].next_allowed_unix_ms;
        let now = Instant::now();
        let max = Duration::from_secs(300);
        // Saved with 40 s of backoff left; logwarden starts again 15 s later: 25 s left.
        assert_eq!(
            restore_next_allowed(at, 1_000_015_000, now, max),
            now + Duration::from_secs(25)
        );
        // Over already, or never saved: no wait.
        assert_eq!(restore_next_allowed(at, 1_000_050_000, now, max), now);
        assert_eq!(restore_next_allowed(None, 1_000_015_000, now, max), now);
        // A clock set far back never blocks restarts for more than backoff_max.
        assert_eq!(restore_next_allowed(at, 0, now, max), now + max);
    }
}
