//! One watch as the supervisor sees it: its restart policy, what fires now, its saved
//! history, and the state it is in (busy, backing off, in its startup grace, handed over,
//! stopped by an operator).

use std::collections::{BTreeMap, HashSet};

use tokio::time::Instant;

use crate::actions::restart::history::{restore_next_allowed, Saved, SavedFile};
use crate::config::{ProbeConfig, RestartConfig, RestartMethod, WatchConfig};

/// A watch that may be restarted.
pub(super) struct Watch {
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) unit: Option<String>,
    pub(super) cfg: RestartConfig,
    pub(super) probes: Vec<ProbeConfig>,
    pub(super) has_logs: bool,
    /// Rules and probes whose firing asks for a restart.
    pub(super) restart_on: HashSet<String>,
    /// Rules and probes firing now.
    pub(super) firing: HashSet<String>,
    /// What each firing rule or probe that asks for a restart said (its alert's summary):
    /// the cause a restart names.
    pub(super) causes: BTreeMap<String, String>,
    pub(super) saved: Saved,
    pub(super) busy: bool,
    pub(super) next_allowed: Instant,
    pub(super) grace_until: Instant,
    /// When the current trouble was first seen (for detection-to-healthy times).
    pub(super) detected_at: Option<Instant>,
    /// Since when it has been healthy after a restart.
    pub(super) healthy_since: Option<Instant>,
    /// The last reason for not restarting, logged once.
    pub(super) noted: Option<String>,
    /// A restart was in progress when the previous logwarden ended: finish it first.
    pub(super) interrupted: bool,
    /// What the restart under way is for (the rules that asked), for its log line.
    pub(super) reason: String,
    /// Its unit was stopped by an operator (`systemctl stop`): not restarted, looked at
    /// again at `recheck_at`, quietly, until it runs again.
    pub(super) operator_stopped: bool,
    pub(super) recheck_at: Instant,
}

impl Watch {
    /// Watch `index` of the config, with what `history` saved about it; `None` when nothing
    /// of it asks for a restart.
    pub(super) fn new(
        index: usize,
        w: &WatchConfig,
        history: &SavedFile,
        now: Instant,
        now_unix_ms: u64,
    ) -> Option<Watch> {
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
        if let RestartMethod::Systemd {
            user: Some(user), ..
        } = &cfg.method
        {
            if let Some(why) = crate::core::systemctl::linger_warning(user) {
                tracing::warn!(watch = %w.name, "{why}");
            }
        }
        let saved = history.watches.get(&w.name).cloned().unwrap_or_default();
        let interrupted = saved.in_progress_unix_ms.is_some();
        // An interrupted restart goes on for the cause it was begun for.
        let reason = saved.in_progress_reason.clone().unwrap_or_default();
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
            causes: BTreeMap::new(),
            saved,
            busy: false,
            next_allowed,
            detected_at: None,
            healthy_since: None,
            noted: None,
            interrupted,
            operator_stopped: false,
            recheck_at: now,
            reason,
        })
    }

    /// What logwarden does about this watch's alerts while it keeps its hands off (for their
    /// `action`); `None` while restarts are on.
    pub(super) fn hands_off_action(&self) -> Option<String> {
        if self.saved.gave_up {
            Some(handed_over_action(&self.name, self.unit.as_deref()))
        } else if self.operator_stopped {
            Some(operator_stopped_action(
                self.unit.as_deref().unwrap_or(&self.name),
            ))
        } else {
            None
        }
    }
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
