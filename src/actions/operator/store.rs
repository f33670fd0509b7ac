//! The operator's file, `state_dir/operator.json`: the silences and acknowledgements that
//! `logwarden silence/unsilence/ack` (and later the Telegram control) write and the running
//! daemon reads. Written atomically (`core::state_file`) under an advisory lock on
//! `state_dir/operator.lock`, so two commands at once never lose one another's change.
//!
//! A file that cannot be parsed is never taken for an empty one: every write refuses it (the
//! operator moves it aside), and the daemon keeps the silences it read last.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::state_file;

/// The version of `operator.json` written.
const OPERATOR_VERSION: u32 = 1;

/// What a silence covers: a whole watch, or one rule (or probe) of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub watch: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Scope {
    /// Whether an alert of `watch`/`rule` falls under it.
    pub fn covers(&self, watch: &str, rule: &str) -> bool {
        self.watch == watch && self.rule.as_deref().is_none_or(|r| r == rule)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rule {
            Some(r) => write!(f, "{}/{r}", self.watch),
            None => write!(f, "{}", self.watch),
        }
    }
}

/// One silence: notifications of its scope are held until `ends_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Short and unique among the file's silences (8 hex digits).
    pub id: String,
    pub scope: Scope,
    /// Unix ms of its start and end.
    pub starts_ms: u64,
    pub ends_ms: u64,
    /// The operator's words, control characters already escaped and secrets redacted.
    #[serde(default)]
    pub reason: String,
    /// Who set it (a unix user name; later a Telegram user).
    pub who: String,
}

impl Silence {
    /// Whether it holds notifications at `now_ms`.
    pub fn active(&self, now_ms: u64) -> bool {
        self.starts_ms <= now_ms && now_ms < self.ends_ms
    }
}

/// One acknowledgement: reminders of the open alert `watch/rule` that fired at `since_ms`
/// stop. A later firing (another `since_ms`) is not covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub watch: String,
    pub rule: String,
    /// Unix ms when the acknowledged alert started firing (its key with watch and rule).
    pub since_ms: u64,
    pub who: String,
    /// Unix ms of the acknowledgement.
    pub at_ms: u64,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorState {
    pub version: u32,
    #[serde(default)]
    pub silences: Vec<Silence>,
    #[serde(default)]
    pub acks: Vec<Ack>,
}

/// Why the operator's file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid operator file ({reason}); it is left as it is: move it aside to start afresh (its silences are lost then)")]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The operator's file in `state_dir`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("operator.json")
}

/// Reads the operator's file: absent is empty; unreadable, unparsable or of an unknown
/// version is an error (never an empty state).
pub fn read(state_dir: &Path) -> Result<OperatorState, StoreError> {
    let p = path(state_dir);
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(OperatorState {
                version: OPERATOR_VERSION,
                ..OperatorState::default()
            })
        }
        Err(source) => return Err(StoreError::Read { path: p, source }),
    };
    let state: OperatorState = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    state_file::check_version(state.version, OPERATOR_VERSION).map_err(|e| {
        StoreError::Corrupt {
            path: p.clone(),
            reason: e.to_string(),
        }
    })?;
    Ok(state)
}

/// Reads, changes and writes the operator's file under its lock; expired silences are
/// pruned on the way. Returns what `change` returned; nothing is written when it fails.
pub fn update<T, E: From<StoreError>>(
    state_dir: &Path,
    now_ms: u64,
    change: impl FnOnce(&mut OperatorState) -> Result<T, E>,
) -> Result<T, E> {
    let _lock = Lock::take(state_dir)?;
    let mut state = read(state_dir)?;
    let out = change(&mut state)?;
    state.silences.retain(|s| s.ends_ms > now_ms);
    state.version = OPERATOR_VERSION;
    let p = path(state_dir);
    let bytes = serde_json::to_vec_pretty(&state).map_err(|e| StoreError::Write {
        path: p.clone(),
        source: std::io::Error::other(e),
    })?;
    state_file::write_atomic(&p, &bytes).map_err(|source| StoreError::Write { path: p, source })?;
    Ok(out)
}

/// An exclusive `flock` on `state_dir/operator.lock`, released when dropped (and by the
/// kernel when the process dies).
struct Lock(std::fs::File);

impl Lock {
    fn take(state_dir: &Path) -> Result<Lock, StoreError> {
        use std::os::fd::AsRawFd;
        let p = state_dir.join("operator.lock");
        let write_err = |source| StoreError::Write {
            path: p.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(write_err)?;
        // Read-only is enough for flock, and works on a lock file another user created.
        let f = match std::fs::File::open(&p) {
            Ok(f) => f,
            Err(_) => std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&p)
                .map_err(write_err)?,
        };
        // SAFETY: flock on a descriptor this function owns; it blocks until the lock is free
        // (holders keep it for one read and one small write).
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(write_err(std::io::Error::last_os_error()));
        }
        Ok(Lock(f))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: unlocks the descriptor this lock owns (closing it would too).
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_file_is_an_error_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), b"{ not json").unwrap();
        assert!(matches!(read(dir.path()), Err(StoreError::Corrupt { .. })));
        let r: Result<(), StoreError> = update(dir.path(), 0, |_| Ok(()));
        assert!(matches!(r, Err(StoreError::Corrupt { .. })), "{r:?}");
        assert_eq!(std::fs::read(path(dir.path())).unwrap(), b"{ not json");
    }

    #[test]
    fn a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), br#"{"version": 9}"#).unwrap();
        assert!(matches!(read(dir.path()), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn expired_silences_are_pruned_at_each_write() {
        let dir = tempfile::tempdir().unwrap();
        let s = |id: &str, ends_ms| Silence {
            id: id.into(),
            scope: Scope {
                watch: "bot".into(),
                rule: None,
            },
            starts_ms: 0,
            ends_ms,
            reason: String::new(),
            who: "root".into(),
        };
        update::<_, StoreError>(dir.path(), 0, |st| {
            st.silences.push(s("a", 100));
            st.silences.push(s("b", 300));
            Ok(())
        })
        .unwrap();
        update::<_, StoreError>(dir.path(), 200, |_| Ok(())).unwrap();
        let ids: Vec<String> = read(dir.path())
            .unwrap()
            .silences
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, ["b"]);
    }
}
