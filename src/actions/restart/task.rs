//! One restart, run as its own task: it stops and starts the service (or only looks whether
//! a unit an operator stopped runs again), then verifies the new process (`verify.rs`), and
//! reports an `Outcome` to the supervisor.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::actions::restart::history::unix_now_ms;
use crate::actions::restart::systemctl::{self, RestartReport};
use crate::config::{ProbeConfig, RestartMethod};
use crate::rules::activity::JournalAfter;
use crate::rules::{Activity, Input};

/// The outcome of one restart task.
#[derive(Debug)]
pub(super) enum Outcome {
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

/// One restart, run as its own task.
pub(super) struct RestartTask {
    pub(super) watch: String,
    /// The rules that asked for it, and which attempt it is (for its log line).
    pub(super) reason: String,
    pub(super) attempt: u32,
    pub(super) method: RestartMethod,
    pub(super) unit: Option<String>,
    pub(super) stop_timeout: Duration,
    pub(super) verify_after: Duration,
    pub(super) probes: Vec<ProbeConfig>,
    pub(super) has_logs: bool,
    pub(super) activity: Arc<Activity>,
    pub(super) index: usize,
    pub(super) client: reqwest::Client,
    pub(super) inputs: mpsc::Sender<Input>,
    pub(super) startup_grace: Duration,
    pub(super) kind: TaskKind,
}

/// What a restart task is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TaskKind {
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
    pub(super) async fn run(self) -> Outcome {
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
}
