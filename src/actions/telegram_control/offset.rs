//! The getUpdates offset of one control channel, kept in `state_dir/telegram/NAME.json`
//! (atomically, fsynced) so that no command runs twice across a restart or a `kill -9`.
//!
//! The order, for each update from an allowed user: (1) save `next = id + 1` with the
//! update itself as `pending`; (2) run it; (3) save `pending = None`. The next `getUpdates`
//! (offset `next`) confirms it to Telegram. An update whose id is below `next` is never run
//! again, whatever Telegram resends. Killed between (1) and (3), the next start runs the
//! pending update again, once: each command's effect is written together with the update's
//! id (`Control::applied_update`, in one atomic write), so a run that already happened
//! changes nothing, and one that did not happens now. Effects are exactly once; a reply
//! (text, not an effect) may come twice after such a kill. Updates from anyone else only
//! move `next` in memory (they are refused again if resent).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::actions::telegram_control::api::Update;
use crate::core::state_file::{check_version, write_atomic};

const VERSION: u32 = 1;

/// An update taken but not known to be done.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Pending {
    pub(super) update: Update,
    /// When it was taken (Unix seconds): a pause run again ends when the first run said.
    pub(super) taken_unix: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Offset {
    pub(super) version: u32,
    /// The first update id not yet taken (0: none taken yet).
    pub(super) next: i64,
    pub(super) pending: Option<Pending>,
}

/// Where a channel's offset is kept: the name with anything but `[A-Za-z0-9_-]` as `_`.
pub(super) fn path(state_dir: &Path, channel: &str) -> PathBuf {
    let name: String = channel
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    state_dir.join("telegram").join(format!("{name}.json"))
}

impl Offset {
    /// What was saved; nothing (or unreadable: said in the log) is offset 0.
    pub(super) fn load(path: &Path) -> Offset {
        let empty = Offset {
            version: VERSION,
            next: 0,
            pending: None,
        };
        let Ok(bytes) = std::fs::read(path) else {
            return empty;
        };
        match serde_json::from_slice::<Offset>(&bytes) {
            Ok(o) if check_version(o.version, VERSION).is_ok() => o,
            _ => {
                tracing::warn!(file = %path.display(), "the Telegram offset file cannot be read; starting from what Telegram has not had confirmed");
                empty
            }
        }
    }

    pub(super) fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        write_atomic(path, &bytes)
    }
}
