//! Saved rule state (`state_dir/rules/WATCH/RULE.json`): what `new-kind` and `anomaly` rules
//! learned, so a restart does not start learning over.
//!
//! Written like the checkpoint snapshot: to `NAME.tmp`, fsynced, renamed over `NAME`, then
//! the directory fsynced. On load the stable file is preferred; the temp file is read only
//! when the stable one is missing or unreadable (a crash between write and rename).

use std::io;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Reads the saved state at `path`: `Ok(None)` when there is none.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    let mut problem = None;
    for p in [path.to_path_buf(), crate::core::state_file::tmp_path(path)] {
        match std::fs::read(&p) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(v) => return Ok(Some(v)),
                Err(e) => problem = Some(format!("{}: not a valid state file: {e}", p.display())),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => problem = Some(format!("{}: cannot read: {e}", p.display())),
        }
    }
    problem.map_or(Ok(None), Err)
}

/// Replaces the state at `path` atomically (creating its directory).
pub fn write<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(value)?;
    bytes.push(b'\n');
    crate::core::state_file::write_atomic(path, &bytes)
}

/// Where `logwarden kinds --forget` leaves the ids a running daemon must forget.
fn forget_path(path: &Path) -> std::path::PathBuf {
    path.with_extension("forget")
}

/// Asks the daemon to forget kind `id` of the rule saved at `path` (at its next save).
pub fn request_forget(path: &Path, id: u64) -> io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(forget_path(path))?;
    writeln!(f, "{id}")?;
    f.sync_all()
}

/// The ids asked to be forgotten, removing the request (an unreadable line is skipped).
pub fn take_forget_requests(path: &Path) -> Vec<u64> {
    let p = forget_path(path);
    let Ok(text) = std::fs::read_to_string(&p) else {
        return Vec::new();
    };
    let _ = std::fs::remove_file(&p);
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_state_reads_back_and_a_torn_file_falls_back_to_the_temp_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules/bot/new.json");
        assert_eq!(read::<Vec<u32>>(&path), Ok(None));
        write(&path, &vec![1u32, 2]).unwrap();
        assert_eq!(read::<Vec<u32>>(&path), Ok(Some(vec![1, 2])));
        std::fs::write(&path, b"{torn").unwrap();
        assert!(read::<Vec<u32>>(&path).is_err());
        std::fs::write(crate::core::state_file::tmp_path(&path), b"[3]").unwrap();
        assert_eq!(read::<Vec<u32>>(&path), Ok(Some(vec![3])));
    }
}
