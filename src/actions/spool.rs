//! The durable spool: every notification is written here before it is sent and removed
//! only once its channel accepted it, so neither a down channel nor a restart of logwarden
//! loses one. One small JSON file per notification under `state_dir/spool/`, written to a
//! temp file and renamed, named by id so a listing is the delivery order.
//!
//! Durability is a group commit: `write` does not fsync (a crash of logwarden leaves the page
//! cache, and so the file, intact); `sync` fsyncs the files written since and then the
//! directory once, and runs before every checkpoint snapshot, so the one position that
//! survives a power loss never passes a spooled alert that would not. (Not `syncfs`: on a
//! Raspberry Pi the state dir usually shares the SD card with the bot's logs, and syncfs would
//! flush those too.)
//!
//! The one window left: a crash after a channel accepted a notification and before its file
//! is removed sends it again after the restart (at-least-once, documented in decisions.md).

use std::path::{Path, PathBuf};

use crate::actions::notification::{Notification, VERSION};
use crate::core::state_file;

/// The spool directory of one state dir.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
}

/// Why a notification could not be spooled.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the alert spool in {dir}: {source}")]
pub struct SpoolError {
    pub dir: String,
    #[source]
    pub source: std::io::Error,
}

impl Spool {
    /// The spool under `state_dir` (created when first written).
    pub fn new(state_dir: &Path) -> Spool {
        Spool {
            dir: state_dir.join("spool"),
        }
    }

    fn path_of(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.json"))
    }

    /// Writes `n` (durable after the next `sync`). Only notifications meant to be durable
    /// are written.
    pub fn write(&self, n: &Notification) -> Result<(), SpoolError> {
        if !n.is_durable() {
            return Ok(());
        }
        let err = |source| SpoolError {
            dir: self.dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        let bytes = serde_json::to_vec(n).map_err(|e| err(std::io::Error::other(e)))?;
        // Made durable with the others of its batch (`sync`).
        state_file::write_replacing(&self.path_of(n.id), &bytes, state_file::Sync::Deferred)
            .map_err(err)
    }

    /// Makes the files of `ids` (written by `write`) and their names durable.
    pub fn sync(&self, ids: &[u64]) -> Result<(), SpoolError> {
        if ids.is_empty() {
            return Ok(());
        }
        let err = |source| SpoolError {
            dir: self.dir.display().to_string(),
            source,
        };
        for id in ids {
            match std::fs::File::open(self.path_of(*id)) {
                Ok(f) => f.sync_data().map_err(err)?,
                // Delivered and removed already, or never written (non-durable kinds).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(err(e)),
            }
        }
        match std::fs::File::open(&self.dir) {
            Ok(d) => d.sync_all().map_err(err),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    /// Forgets a delivered (or dropped) notification.
    pub fn remove(&self, n: &Notification) {
        if !n.is_durable() {
            return;
        }
        match std::fs::remove_file(self.path_of(n.id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(error = %e, id = n.id, "cannot remove a delivered notification from the spool; it may be sent again after a restart")
            }
        }
    }

    /// Every notification left by an earlier run, oldest first. A file that cannot be read
    /// is renamed to `*.bad` and reported, never silently dropped.
    pub fn load(&self) -> Vec<Notification> {
        let records = match state_file::read_records::<Notification>(&self.dir) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(dir = %self.dir.display(), error = %e, "cannot read the alert spool");
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(records.len());
        for (p, parsed) in records {
            match parsed {
                Ok(n) => match state_file::check_version(n.version, VERSION) {
                    Ok(()) => out.push(n),
                    Err(e) => set_aside(&p, &e.to_string()),
                },
                Err(e) => set_aside(&p, &e),
            }
        }
        out
    }
}

fn set_aside(path: &Path, why: &str) {
    let bad = path.with_extension("bad");
    tracing::error!(path = %path.display(), aside = %bad.display(), "unreadable spooled notification set aside: {why}");
    let _ = std::fs::rename(path, bad);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::notification::{next_id, sample, Kind};

    fn note(channel: &str, kind: Kind) -> Notification {
        sample(next_id(), channel, kind)
    }

    #[test]
    fn spooled_notifications_survive_until_removed_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path());
        let (a, b) = (note("mail", Kind::Notice), note("phone", Kind::Reminder));
        spool.write(&a).unwrap();
        spool.write(&b).unwrap();
        spool.write(&note("am", Kind::Keepalive)).unwrap();
        let loaded = Spool::new(dir.path()).load();
        assert_eq!(
            loaded.iter().map(|n| n.id).collect::<Vec<_>>(),
            vec![a.id, b.id]
        );
        spool.remove(&a);
        assert_eq!(spool.load().len(), 1);
    }

    #[test]
    fn a_corrupt_spool_file_is_set_aside_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path());
        spool.write(&note("mail", Kind::Notice)).unwrap();
        std::fs::write(
            dir.path().join("spool/00000000000000000001.json"),
            b"{garbage",
        )
        .unwrap();
        assert_eq!(spool.load().len(), 1);
        assert!(dir.path().join("spool/00000000000000000001.bad").exists());
    }
}
