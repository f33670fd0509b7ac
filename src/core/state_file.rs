//! logwarden's state files, written and read one way.
//!
//! **Writing.** A crash or power loss leaves either the old or the new content, never a torn
//! one: `NAME.tmp`, fsync, rename over `NAME`, fsync of the directory (`write_atomic`). The
//! alert spool writes many small files per batch and makes them durable together later
//! (`write_replacing` with `Sync::Deferred`, then its own fsyncs).
//!
//! **Versions.** Every state file carries `version`. A reader takes every version from 1 up to
//! the one it writes (fields added since are read with their defaults) and refuses a newer or
//! unknown one instead of guessing (`check_version`); what a refusal costs is each caller's
//! (a spool file is set aside, a checkpoint ignored and the source read from its start rule).
//!
//! Used for restart history, control files, open alerts, checkpoints, the spool, dead letters
//! and learned rule state.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// When a written file is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// Before the call returns: the file and its directory are fsynced.
    Durable,
    /// Later, by the caller (renamed into place, not fsynced).
    Deferred,
}

/// Replaces `path` with `bytes` atomically and durably, creating its directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_replacing(path, bytes, Sync::Durable)
}

/// Replaces `path` with `bytes` through `NAME.tmp` and a rename, creating its directory;
/// the temp file is removed when something fails.
pub fn write_replacing(path: &Path, bytes: &[u8], sync: Sync) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tmp_path(path);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if sync == Sync::Durable {
            f.sync_all()?;
        }
        drop(f);
        std::fs::rename(&tmp, path)?;
        if sync == Sync::Durable {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The temp file `write_atomic` writes before the rename (`NAME.tmp`): what a crash between
/// the write and the rename leaves.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// A state file of a version this logwarden does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("saved by a version {found} file format; this logwarden reads versions 1 to {current}")]
pub struct UnknownVersion {
    pub found: u32,
    pub current: u32,
}

/// Whether a file of `found` version is read by a reader that writes version `current`:
/// every version from 1 to `current` is.
pub fn check_version(found: u32, current: u32) -> Result<(), UnknownVersion> {
    debug_assert!(current >= 1, "versions start at 1");
    if (1..=current).contains(&found) {
        Ok(())
    } else {
        Err(UnknownVersion { found, current })
    }
}

/// One record of a directory: its file and its content, or why it could not be read.
pub type Record<T> = (PathBuf, Result<T, String>);

/// The `*.json` records of `dir`, in name order, each read and parsed (or why not); an absent
/// directory holds none.
pub fn read_records<T: DeserializeOwned>(dir: &Path) -> std::io::Result<Vec<Record<T>>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|p| {
            let parsed = std::fs::read(&p)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<T>(&b).map_err(|e| e.to_string()));
            (p, parsed)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_up_to_the_current_one_is_read_and_no_other() {
        assert_eq!(check_version(1, 2), Ok(()));
        assert_eq!(check_version(2, 2), Ok(()));
        assert_eq!(
            check_version(3, 2),
            Err(UnknownVersion {
                found: 3,
                current: 2
            })
        );
        assert!(check_version(0, 2).is_err());
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        write_atomic(&path, b"old").unwrap();
        // A directory where the temp file would go: its creation fails.
        std::fs::create_dir(tmp_path(&path)).unwrap();
        assert!(write_replacing(&path, b"new", Sync::Deferred).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        std::fs::remove_dir(tmp_path(&path)).unwrap();
        write_replacing(&path, b"new", Sync::Deferred).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!tmp_path(&path).exists());
    }

    #[test]
    fn records_are_read_in_name_order_and_a_bad_one_says_why() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("2.json"), b"[2]").unwrap();
        std::fs::write(dir.path().join("1.json"), b"[1]").unwrap();
        std::fs::write(dir.path().join("3.json"), b"{").unwrap();
        std::fs::write(dir.path().join("4.tmp"), b"[4]").unwrap();
        let got = read_records::<Vec<u32>>(dir.path()).unwrap();
        let names: Vec<_> = got
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["1.json", "2.json", "3.json"]);
        assert_eq!(got[0].1, Ok(vec![1]));
        assert!(got[2].1.is_err());
        assert!(read_records::<Vec<u32>>(&dir.path().join("none"))
            .unwrap()
            .is_empty());
    }
}
