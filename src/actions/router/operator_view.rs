//! What the router last read of the operator's file (`actions::operator`): the silences and
//! acknowledgements in force, read again only when the file changed (inode, modification
//! time or length). A file that cannot be read keeps the silences read last (a corrupt file
//! never lifts a silence by itself); the error is logged once per change and shown in
//! `/status`. At a start with such a file there is nothing read before: no silence holds
//! anything (alerts go out) until it is fixed. The silences set or ended (by `unsilence`,
//! not by running out) since the start are kept for the router to announce once.

use std::path::Path;
use std::time::SystemTime;

use crate::actions::operator::{self, OperatorState, Silence};

/// The operator's state as the router last read it.
#[derive(Debug, Default)]
pub(super) struct OperatorView {
    /// The last content read successfully.
    pub(super) state: OperatorState,
    /// Inode, modification time and length of the file when it was read (none: absent).
    pub(super) stamp: Option<(u64, SystemTime, u64)>,
    /// Why the file could not be read at the last change (cleared by a good read).
    pub(super) error: Option<String>,
    /// Whether the start's read was done: what is in force at the start is no news.
    started: bool,
    /// The silences set or ended since the last `take_changes`, to announce.
    changes: Vec<SilenceChange>,
}

/// A silence that came or went, as read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SilenceChange {
    Set(Silence),
    /// Gone from the file: by `unsilence` if before its end (one that ran out is no news).
    Gone(Silence),
}

impl OperatorView {
    /// Reads the file at the start (a corrupt one is logged and leaves no silence: nothing
    /// read before it to keep).
    pub(super) fn load(state_dir: &Path) -> OperatorView {
        let mut v = OperatorView::default();
        v.refresh(state_dir);
        v.started = true;
        v
    }

    /// The silences set or ended since the last call, oldest first.
    pub(super) fn take_changes(&mut self) -> Vec<SilenceChange> {
        std::mem::take(&mut self.changes)
    }

    /// Reads the file again if it changed; returns whether the state changed.
    pub(super) fn refresh(&mut self, state_dir: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        // Each write renames a new file into place: a new inode even within one mtime tick.
        let stamp = std::fs::metadata(operator::store::path(state_dir))
            .ok()
            .map(|m| {
                let mtime = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                (m.ino(), mtime, m.len())
            });
        if stamp == self.stamp {
            return false;
        }
        self.stamp = stamp;
        match operator::read(state_dir) {
            Ok(state) => {
                self.error = None;
                let changed = state != self.state;
                let news = changes(&self.state, &state);
                if self.started {
                    self.changes.extend(news);
                }
                self.state = state;
                changed
            }
            Err(e) => {
                tracing::error!(error = %e, "the operator's file (silences, acknowledgements) cannot be read; the silences read before stay in force");
                self.error = Some(e.to_string());
                false
            }
        }
    }

    /// The active silence covering `watch`/`rule` at `now_ms`.
    pub(super) fn silence_of(&self, watch: &str, rule: &str, now_ms: u64) -> Option<&Silence> {
        self.state
            .silences
            .iter()
            .find(|s| s.active(now_ms) && s.scope.covers(watch, rule))
    }
}

/// Logs the silences that appeared and those that went between `before` and `after`, and
/// returns them.
fn changes(before: &OperatorState, after: &OperatorState) -> Vec<SilenceChange> {
    let mut out = Vec::new();
    for s in &after.silences {
        if !before.silences.iter().any(|b| b.id == s.id) {
            tracing::info!(id = %s.id, scope = %s.scope, who = %s.who, reason = %s.reason,
                until = %crate::core::timefmt::rfc3339(operator::until_time(s.ends_ms)),
                "silence in force");
            out.push(SilenceChange::Set(s.clone()));
        }
    }
    for s in &before.silences {
        if !after.silences.iter().any(|a| a.id == s.id) {
            tracing::info!(id = %s.id, scope = %s.scope, "silence ended");
            out.push(SilenceChange::Gone(s.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::operator::store::{self, Scope, StoreError};

    #[test]
    fn a_corrupt_file_keeps_the_silences_read_before_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        store::update::<_, StoreError>(dir.path(), 0, |st| {
            st.silences.push(Silence {
                id: "0000abcd".into(),
                scope: Scope {
                    watch: "bot".into(),
                    rule: None,
                },
                starts_ms: 0,
                ends_ms: u64::MAX,
                reason: String::new(),
                who: "root".into(),
            });
            Ok(())
        })
        .unwrap();
        let mut v = OperatorView::load(dir.path());
        assert!(v.silence_of("bot", "stale", 1).is_some());
        std::fs::write(store::path(dir.path()), b"{ torn").unwrap();
        assert!(!v.refresh(dir.path()));
        assert!(v.silence_of("bot", "stale", 1).is_some(), "still silenced");
        assert!(v
            .error
            .as_deref()
            .is_some_and(|e| e.contains("not a valid operator file")));
        // Read again once it is fixed.
        std::fs::write(store::path(dir.path()), br#"{"version": 1}"#).unwrap();
        assert!(v.refresh(dir.path()));
        assert!(v.silence_of("bot", "stale", 1).is_none());
        assert!(v.error.is_none());
        // At a start with a corrupt file there is nothing to keep: no silence, and the error.
        std::fs::write(store::path(dir.path()), b"{ torn").unwrap();
        let v = OperatorView::load(dir.path());
        assert!(v.state.silences.is_empty() && v.error.is_some());
    }
}
