//! Globs in `files` (`/var/log/bot/*.log`): finds the files a pattern names, now and as they
//! appear, and asks for a follower for each new one.
//!
//! Only the file name may hold wildcards (`*`, `?`, `[...]`); the directory is fixed (checked
//! when the config is loaded). The directory is watched with inotify (`file/hub.rs`) and listed
//! again when an event comes or when its stat changes (the hub looks once per poll interval). A file found at start follows the watch's `start_at`; a file that
//! appears later is read from its start. Each path gets one follower for the life of the
//! daemon, which also handles its rotation and deletion: a pattern should therefore not match
//! rotated names (`*.log`, not `*.log*`), or a rotated file would be read twice.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::core::shutdown::Shutdown;

/// Whether a configured path is a glob.
pub fn is_glob(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

/// Checks that only the file name holds wildcards and that it parses.
pub fn validate(path: &Path) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    if is_glob(dir) {
        return Err(format!(
            "{}: wildcards are allowed in the file name only, not in directories",
            path.display()
        ));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    glob::Pattern::new(&name)
        .map(|_| ())
        .map_err(|e| format!("{}: invalid glob: {e}", path.display()))
}

/// Watches `pattern`'s directory on a new thread and calls `on_new(path, found_at_start)` once
/// per matching file, until shutdown.
pub fn spawn(
    pattern: PathBuf,
    poll_interval: Duration,
    shutdown: Shutdown,
    mut on_new: impl FnMut(PathBuf, bool) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let dir = pattern.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let matcher = glob::Pattern::new(&name)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    std::thread::Builder::new()
        .name("glob-source".into())
        .spawn(move || {
            // Nudged by the hub: an event in the directory, a change of the directory's stat
            // (its timer's look every poll interval), shutdown.
            let (tx, rx) = mpsc::sync_channel::<()>(1);
            let nudge = tx.clone();
            let _registration = crate::source::file::hub::register(
                &dir,
                crate::source::file::hub::Watch::Dir,
                poll_interval,
                shutdown.clone(),
                Box::new(move || {
                    let _ = nudge.try_send(());
                }),
            );
            let mut known: HashSet<PathBuf> = HashSet::new();
            let mut first = true;
            while !shutdown.is_triggered() {
                if let Ok(entries) = std::fs::read_dir(&dir) {
                    let mut new: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok())
                        .filter(|e| e.file_type().map(|t| !t.is_dir()).unwrap_or(false))
                        .map(|e| e.path())
                        .filter(|p| {
                            p.file_name()
                                .is_some_and(|n| matcher.matches(&n.to_string_lossy()))
                        })
                        .filter(|p| !known.contains(p))
                        .collect();
                    new.sort();
                    for p in new {
                        known.insert(p.clone());
                        on_new(p, first);
                    }
                }
                first = false;
                // `tx` is alive, so this ends only by a nudge.
                let _ = rx.recv();
            }
            drop(tx);
        })
}
