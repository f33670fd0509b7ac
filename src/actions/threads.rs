//! The ids a channel gave the messages that opened incident threads, so the incident's end
//! can reply to them (Telegram's `message_id`). Kept per channel in
//! `state_dir/threads/CHANNEL.json`, written atomically on every new id, so a restart (or a
//! `kill -9`) of logwarden still replies in the same thread. Only the newest `KEEP` are kept:
//! an incident's end follows its opening within hours, not hundreds of incidents later.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::core::state_file;

/// How many thread ids a channel remembers.
const KEEP: usize = 256;
/// The version of the file written (see `core::state_file`).
const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    /// (thread key, the channel's id of its first message), oldest first.
    ids: VecDeque<(String, String)>,
}

/// One channel's thread ids.
pub struct Threads {
    /// `None`: not kept (a channel built outside the daemon: `test-alert`, dead letters).
    path: Option<PathBuf>,
    ids: Mutex<VecDeque<(String, String)>>,
}

impl Threads {
    /// The ids of `channel` under `state_dir` (none kept if `state_dir` is `None`).
    pub fn load(state_dir: Option<&Path>, channel: &str) -> Threads {
        let path = state_dir.map(|d| d.join("threads").join(format!("{channel}.json")));
        let ids = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<File>(&b).ok())
            .filter(|f| state_file::check_version(f.version, VERSION).is_ok())
            .map(|f| f.ids)
            .unwrap_or_default();
        Threads {
            path,
            ids: Mutex::new(ids),
        }
    }

    /// The id of the message that opened thread `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        let ids = self.ids.lock().ok()?;
        ids.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// Remembers that thread `key` opened with message `id`, and saves.
    pub fn put(&self, key: &str, id: String) {
        let Ok(mut ids) = self.ids.lock() else { return };
        ids.push_back((key.to_string(), id));
        while ids.len() > KEEP {
            ids.pop_front();
        }
        let Some(path) = &self.path else { return };
        let file = File {
            version: VERSION,
            ids: ids.clone(),
        };
        drop(ids);
        let saved = serde_json::to_vec(&file)
            .map_err(std::io::Error::other)
            .and_then(|b| {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                state_file::write_atomic(path, &b)
            });
        if let Err(e) = saved {
            tracing::warn!(error = %e, path = %path.display(),
                "cannot save a thread id; the incident's end may not reply in its thread after a restart");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_survive_a_reload_and_only_the_newest_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let t = Threads::load(Some(dir.path()), "phone");
        for i in 0..KEEP + 3 {
            t.put(&format!("incident-{i}"), i.to_string());
        }
        let again = Threads::load(Some(dir.path()), "phone");
        assert_eq!(again.get("incident-5").as_deref(), Some("5"));
        assert_eq!(
            again.get(&format!("incident-{}", KEEP + 2)).as_deref(),
            Some("258")
        );
        assert_eq!(again.get("incident-0"), None, "the oldest are forgotten");
        assert_eq!(
            Threads::load(Some(dir.path()), "mail").get("incident-5"),
            None
        );
    }
}
