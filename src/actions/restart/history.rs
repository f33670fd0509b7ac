//! The restart history each watch keeps across restarts of logwarden: restarts within the
//! window, the attempt count behind the backoff, the hand-over, and a restart in progress
//! (`state_dir/restarts.json`, every version up to `SAVED_VERSION` read).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Seconds since the Unix epoch, now.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Milliseconds since the Unix epoch, now.
pub(super) fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Persisted per watch.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(super) struct Saved {
    /// Unix seconds of each restart within the window.
    pub(super) history: Vec<u64>,
    /// Consecutive restarts without a healthy stretch (drives the backoff).
    pub(super) attempt: u32,
    pub(super) gave_up: bool,
    /// The last `Control::resume` acted on.
    pub(super) resume_seen: u64,
    /// The last `Control::restart` (an operator's request) taken.
    #[serde(default)]
    pub(super) restart_seen: u64,
    /// Unix milliseconds before which the backoff allows no restart (version 2; absent in
    /// version 1 files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) next_allowed_unix_ms: Option<u64>,
    /// Unix milliseconds at which a restart began that has not ended yet: saved before the
    /// service is stopped, cleared when the restart task reports back. Found at start, it
    /// means logwarden died in the middle of a restart (perhaps between the stop and the
    /// start, leaving the unit stopped as if by an operator): the restart is finished then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) in_progress_unix_ms: Option<u64>,
    /// What the restart in progress is for (the rules and probes that asked, with what they
    /// said), so the logwarden that finishes it names the cause too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) in_progress_reason: Option<String>,
}

/// `state_dir/restarts.json`: each watch's restart history.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct SavedFile {
    pub(super) version: u32,
    pub(super) watches: BTreeMap<String, Saved>,
}

/// The version of `restarts.json` written; every version up to it is read.
pub(super) const SAVED_VERSION: u32 = 2;

impl SavedFile {
    /// A `restarts.json` of a known version, or `None`.
    pub(super) fn parse(bytes: &[u8]) -> Option<SavedFile> {
        serde_json::from_slice(bytes).ok().filter(|f: &SavedFile| {
            crate::core::state_file::check_version(f.version, SAVED_VERSION).is_ok()
        })
    }
}

/// The `Instant` a saved backoff ends at: what was left of it when saved, counted from
/// `now`, and never more than `max` (a clock set back must not block restarts for long).
pub(super) fn restore_next_allowed(
    saved_unix_ms: Option<u64>,
    now_unix_ms: u64,
    now: Instant,
    max: Duration,
) -> Instant {
    let left = saved_unix_ms.map_or(0, |t| t.saturating_sub(now_unix_ms));
    now + Duration::from_millis(left).min(max)
}

impl SavedFile {
    /// What `state_dir` holds (nothing saved, unreadable or of an unknown version: empty).
    pub(super) fn load(state_dir: &Path) -> SavedFile {
        std::fs::read(state_dir.join("restarts.json"))
            .ok()
            .and_then(|b| SavedFile::parse(&b))
            .unwrap_or_default()
    }

    /// Writes it to `state_dir` (atomically).
    pub(super) fn save(&self, state_dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::core::state_file::write_atomic(&state_dir.join("restarts.json"), &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_restarts_file_is_still_read() {
        let v1 = br#"{"version":1,"watches":{"bot":{"history":[1764000000],"attempt":2,"gave_up":false,"resume_seen":0}}}"#;
        let f = SavedFile::parse(v1).expect("version 1 is read");
        let bot = &f.watches["bot"];
        assert_eq!(
            (bot.history.as_slice(), bot.attempt),
            (&[1764000000][..], 2)
        );
        assert_eq!(bot.next_allowed_unix_ms, None);
        assert!(SavedFile::parse(br#"{"version":99,"watches":{}}"#).is_none());
    }

    #[test]
    fn a_pending_backoff_survives_a_restart_of_logwarden() {
        let saved = SavedFile {
            version: SAVED_VERSION,
            watches: [(
                "bot".to_string(),
                Saved {
                    attempt: 2,
                    next_allowed_unix_ms: Some(1_000_040_000),
                    ..Saved::default()
                },
            )]
            .into(),
        };
        let text = serde_json::to_vec(&saved).unwrap();
        let back = SavedFile::parse(&text).expect("what is written is read");
        let at = back.watches["bot"].next_allowed_unix_ms;
        let now = Instant::now();
        let max = Duration::from_secs(300);
        // Saved with 40 s of backoff left; logwarden starts again 15 s later: 25 s left.
        assert_eq!(
            restore_next_allowed(at, 1_000_015_000, now, max),
            now + Duration::from_secs(25)
        );
        // Over already, or never saved: no wait.
        assert_eq!(restore_next_allowed(at, 1_000_050_000, now, max), now);
        assert_eq!(restore_next_allowed(None, 1_000_015_000, now, max), now);
        // A clock set far back never blocks restarts for more than backoff_max.
        assert_eq!(restore_next_allowed(at, 0, now, max), now + max);
    }
}
