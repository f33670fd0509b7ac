//! Operator commands to the supervisor: `logwarden pause/resume WATCH` write a control
//! file per watch in `state_dir/control/`, which the supervisor reads at each look.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What an operator asked for a watch, through `logwarden pause/resume`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Control {
    /// The file's version (see `core::state_file`); files written before it had one are
    /// version 1.
    #[serde(default = "first_version")]
    pub version: u32,
    /// Unix seconds until which the watch is paused (no restarts).
    pub paused_until: Option<u64>,
    /// Bumped by each `logwarden resume`.
    #[serde(default)]
    pub resume: u64,
    /// Bumped by each restart an operator asked for (Telegram's confirmed `/restart`); the
    /// supervisor takes each once, through its usual policy.
    #[serde(default)]
    pub restart: u64,
    /// Who asked for the last one, for its alert and log line.
    #[serde(default)]
    pub restart_by: Option<String>,
    /// The Telegram update whose command last wrote this file: a command run again after a
    /// crash finds it here and changes nothing (its effect and this mark land in one
    /// atomic write).
    #[serde(default)]
    pub applied_update: Option<i64>,
}

/// The version of control files written.
const CONTROL_VERSION: u32 = 1;

fn first_version() -> u32 {
    1
}

/// The control file of `watch` in `state_dir`.
pub fn control_path(state_dir: &Path, watch: &str) -> PathBuf {
    state_dir.join("control").join(format!("{watch}.json"))
}

/// Reads a watch's control file (missing, unreadable or of an unknown version: nothing
/// asked).
pub fn read_control(state_dir: &Path, watch: &str) -> Control {
    std::fs::read(control_path(state_dir, watch))
        .ok()
        .and_then(|b| serde_json::from_slice::<Control>(&b).ok())
        .filter(|c| crate::core::state_file::check_version(c.version, CONTROL_VERSION).is_ok())
        .unwrap_or_default()
}

/// Writes a watch's control file atomically.
pub fn write_control(state_dir: &Path, watch: &str, control: &Control) -> std::io::Result<()> {
    let path = control_path(state_dir, watch);
    let control = Control {
        version: CONTROL_VERSION,
        ..control.clone()
    };
    crate::core::state_file::write_atomic(
        &path,
        &serde_json::to_vec_pretty(&control).map_err(std::io::Error::other)?,
    )
}
