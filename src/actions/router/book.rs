//! The book of open alerts: what fired and was notified, persisted in
//! `state_dir/alerts.json` so a restart of logwarden neither notifies a still-firing alert
//! twice nor forgets to resolve it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::actions::notification::unix_ms;
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
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Book {
    version: u32,
    open: Vec<Open>,
}

/// Writes the open alerts to `path` (atomically).
pub(super) fn save(path: &Path, open: &BTreeMap<Key, Open>) -> std::io::Result<()> {
    let book = Book {
        version: BOOK_VERSION,
        open: open.values().cloned().collect(),
    };
    let bytes = serde_json::to_vec_pretty(&book).map_err(std::io::Error::other)?;
    state_file::write_atomic(path, &bytes)
}

/// Reads what an earlier run left open: each alert carried (see the router's module doc),
/// its next reminder due `repeat` after its last notice.
pub(super) fn load(path: &Path, repeat: Duration) -> BTreeMap<Key, Open> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "cannot read the open alerts");
            return BTreeMap::new();
        }
    };
    match serde_json::from_slice::<Book>(&bytes) {
        Ok(b) if state_file::check_version(b.version, BOOK_VERSION).is_ok() => b
            .open
            .into_iter()
            .map(|mut o| {
                o.carried = true;
                let ago = unix_ms(SystemTime::now()).saturating_sub(o.notified_ms);
                o.remind_at = (!o.held && o.acked_by.is_none()).then(|| {
                    tokio::time::Instant::now() + repeat.saturating_sub(Duration::from_millis(ago))
                });
                (o.alert.key(), o)
            })
            .collect(),
        Ok(b) => {
            let e = state_file::check_version(b.version, BOOK_VERSION).err();
            tracing::warn!(path = %path.display(), "open alerts file ignored: {}", e.map(|e| e.to_string()).unwrap_or_default());
            BTreeMap::new()
        }
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "open alerts file unreadable; ignored");
            BTreeMap::new()
        }
    }
}

/// The alerts open in `state_dir` as the daemon last saved them (none if it saved none or
/// the file cannot be read), for commands run beside the daemon (`logwarden ack`).
pub fn open_alerts(state_dir: &Path) -> Vec<OpenAlert> {
    load(&state_dir.join(BOOK_FILE), Duration::ZERO)
        .into_values()
        .map(|o| OpenAlert {
            watch: o.alert.watch,
            rule: o.alert.rule,
            since_ms: o.since_ms,
            acked_by: o.acked_by,
        })
        .collect()
}
