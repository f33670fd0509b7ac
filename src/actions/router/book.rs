//! The book of open alerts: what fired and was notified, persisted in
//! `state_dir/alerts.json` so a restart of logwarden neither notifies a still-firing alert
//! twice nor forgets to resolve it, and the open incidents with them (so their end replies
//! in their thread after a restart of logwarden).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::actions::notification::unix_ms;
use crate::actions::notification::Thread;
use crate::actions::operator::OpenAlert;
use crate::core::alert::Alert;
use crate::core::state_file;

/// The version of `alerts.json` written (see `core::state_file`).
const BOOK_VERSION: u32 = 1;

/// The book's file in `state_dir`.
pub(super) const BOOK_FILE: &str = "alerts.json";

/// An open alert's key: (watch, rule).
pub(super) type Key = (String, String);

/// One alert that is firing and was notified.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Open {
    pub(super) alert: Alert,
    /// Unix ms of the firing.
    pub(super) since_ms: u64,
    /// Unix ms of the last notice or reminder.
    pub(super) notified_ms: u64,
    /// The channels it went to: its resolution goes to the same ones.
    pub(super) channels: Vec<String>,
    /// From an earlier run and not fired again in this one yet.
    #[serde(skip)]
    pub(super) carried: bool,
    /// Fired while a silence covered it: not notified yet (sent when no silence covers it
    /// any more, if it still fires; dropped without a word if it resolves first).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) held: bool,
    /// Who acknowledged it: no reminders until it resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) acked_by: Option<String>,
    /// When the next reminder is due (this run's clock; `notified_ms` carries it over a
    /// restart).
    #[serde(skip)]
    pub(super) remind_at: Option<tokio::time::Instant>,
    /// The incident it belongs to (see `incident`): the one it opened, or folded into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) incident: Option<u64>,
    /// Folded into its incident: none of its own messages or reminders while that is open.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) folded: bool,
}

/// One open incident of a watch; saved with the book.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Incident {
    /// Unique: the thread's key in every channel.
    pub(super) id: u64,
    /// The firing that opened it, as notified.
    pub(super) alert: Alert,
    /// Unix ms of the opening.
    pub(super) since_ms: u64,
    /// Where its messages go: those of its opening.
    pub(super) channels: Vec<String>,
    /// Opened while a silence covered the cause: its messages are not sent until the
    /// silence ends (the end is dropped if the opening never was sent).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) held: bool,
    /// Rules asking for a restart that fire now.
    pub(super) causes: Vec<String>,
    /// A cause asked for a restart and the supervisor has not reported one since.
    pub(super) awaiting_restart: bool,
    /// What happened inside, in order (restart events, resolutions, folded events), for the
    /// end message.
    pub(super) story: Vec<String>,
    /// When it ends although no restart reported (all causes resolved).
    #[serde(skip)]
    pub(super) settle_at: Option<tokio::time::Instant>,
}

impl Incident {
    /// The thread tag of its messages: `opens` for the opening.
    pub(super) fn thread(&self, opens: bool) -> Thread {
        Thread {
            key: format!("incident-{}", self.id),
            opens,
        }
    }
}

/// The incidents of a book, by watch.
pub(super) type Incidents = BTreeMap<String, Incident>;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Book {
    version: u32,
    open: Vec<Open>,
    /// The open incidents (see `incident`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    incidents: Vec<Incident>,
}

/// Writes the open alerts and incidents to `path` (atomically).
pub(super) fn save(
    path: &Path,
    open: &BTreeMap<Key, Open>,
    incidents: &Incidents,
) -> std::io::Result<()> {
    let book = Book {
        version: BOOK_VERSION,
        open: open.values().cloned().collect(),
        incidents: incidents.values().cloned().collect(),
    };
    let bytes = serde_json::to_vec_pretty(&book).map_err(std::io::Error::other)?;
    state_file::write_atomic(path, &bytes)
}

/// Reads what an earlier run left open: each alert carried (see the router's module doc),
/// its next reminder due `repeat` after its last notice; and the open incidents.
pub(super) fn load(path: &Path, repeat: Duration) -> (BTreeMap<Key, Open>, Incidents) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Default::default(),
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "cannot read the open alerts");
            return Default::default();
        }
    };
    match serde_json::from_slice::<Book>(&bytes) {
        Ok(b) if state_file::check_version(b.version, BOOK_VERSION).is_ok() => {
            let open = b
                .open
                .into_iter()
                .map(|mut o| {
                    o.carried = true;
                    let ago = unix_ms(SystemTime::now()).saturating_sub(o.notified_ms);
                    o.remind_at = (!o.held && o.acked_by.is_none() && !o.folded).then(|| {
                        tokio::time::Instant::now()
                            + repeat.saturating_sub(Duration::from_millis(ago))
                    });
                    (o.alert.key(), o)
                })
                .collect();
            let incidents = b
                .incidents
                .into_iter()
                .map(|i| (i.alert.watch.clone(), i))
                .collect();
            (open, incidents)
        }
        Ok(b) => {
            let e = state_file::check_version(b.version, BOOK_VERSION).err();
            tracing::warn!(path = %path.display(), "open alerts file ignored: {}", e.map(|e| e.to_string()).unwrap_or_default());
            Default::default()
        }
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "open alerts file unreadable; ignored");
            Default::default()
        }
    }
}

/// The alerts open in `state_dir` as the daemon last saved them (none if it saved none or
/// the file cannot be read), for commands run beside the daemon (`logwarden ack`).
pub fn open_alerts(state_dir: &Path) -> Vec<OpenAlert> {
    load(&state_dir.join(BOOK_FILE), Duration::ZERO)
        .0
        .into_values()
        .map(|o| OpenAlert {
            watch: o.alert.watch,
            rule: o.alert.rule,
            since_ms: o.since_ms,
            acked_by: o.acked_by,
        })
        .collect()
}
