//! Probe failure streaks kept across restarts of logwarden (`state_dir/probes.json`): two
//! failures, a restart of logwarden, one more failure is three in a row, as seed 000's
//! `failures.txt` counts them.
//!
//! Written only when a streak changes, so a healthy system writes nothing and a failing
//! probe writes once per check (every `every`, 60 s by default). A streak is resumed only
//! if its last failure is recent: within `(every + timeout) * failures` of the start, the
//! time the streak itself may take. Older, it says nothing about now, and the count starts
//! again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::ProbeConfig;
use crate::core::state_file;

/// The version of `probes.json` written (see `core::state_file`).
const VERSION: u32 = 1;

/// One probe's consecutive failures and when the last one was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Streak {
    failures: u32,
    last_failure_unix_ms: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StreakFile {
    version: u32,
    /// By `WATCH/PROBE`.
    probes: BTreeMap<String, Streak>,
}

/// Every probe's streak, shared by the probe tasks of one pipeline.
#[derive(Debug)]
pub struct Streaks {
    path: PathBuf,
    /// What the file holds (the last write that succeeded or was tried).
    saved: Mutex<BTreeMap<String, Streak>>,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

impl Streaks {
    /// The streaks saved in `state_dir` (none: no file, unreadable, or a newer version).
    pub fn load(state_dir: &std::path::Path) -> Arc<Streaks> {
        let path = state_dir.join("probes.json");
        let saved = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<StreakFile>(&b).ok())
            .filter(|f| state_file::check_version(f.version, VERSION).is_ok())
            .map(|f| f.probes)
            .unwrap_or_default();
        Arc::new(Streaks {
            path,
            saved: Mutex::new(saved),
        })
    }

    /// The failures in a row `key` (`WATCH/PROBE`) had when logwarden stopped, if the last
    /// of them was recent enough to go on counting (see the module doc); else 0.
    pub fn resume(&self, key: &str, probe: &ProbeConfig, now: SystemTime) -> u32 {
        let horizon = (probe.every + probe.timeout).saturating_mul(probe.failures.max(1));
        let Ok(saved) = self.saved.lock() else {
            return 0;
        };
        match saved.get(key) {
            Some(s)
                if unix_ms(now).saturating_sub(s.last_failure_unix_ms)
                    <= horizon.as_millis() as u64 =>
            {
                s.failures
            }
            _ => 0,
        }
    }

    /// Records that `key` has `failures` in a row now (0: it passed). Writes the file when
    /// that changed it, off the async workers.
    pub async fn set(self: &Arc<Self>, key: &str, failures: u32) {
        let changed = match self.saved.lock() {
            Ok(saved) => match saved.get(key) {
                Some(s) => s.failures != failures,
                None => failures > 0,
            },
            Err(_) => false,
        };
        if !changed {
            return;
        }
        let me = self.clone();
        let key = key.to_string();
        let _ = tokio::task::spawn_blocking(move || me.write(&key, failures)).await;
    }

    fn write(&self, key: &str, failures: u32) {
        let Ok(mut saved) = self.saved.lock() else {
            return;
        };
        if failures == 0 {
            saved.remove(key);
        } else {
            saved.insert(
                key.to_string(),
                Streak {
                    failures,
                    last_failure_unix_ms: unix_ms(SystemTime::now()),
                },
            );
        }
        let file = StreakFile {
            version: VERSION,
            probes: saved.clone(),
        };
        let result = serde_json::to_vec_pretty(&file)
            .map_err(std::io::Error::other)
            .and_then(|b| state_file::write_atomic(&self.path, &b));
        if let Err(e) = result {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot save probe failure streaks; a restart of logwarden would count them again from 0");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeKind;
    use std::time::Duration;

    fn probe(every: Duration, failures: u32) -> ProbeConfig {
        ProbeConfig {
            name: "health".into(),
            kind: ProbeKind::Memory {
                warning: 80.0,
                critical: 90.0,
            },
            every,
            timeout: Duration::from_secs(1),
            failures,
            severity: crate::core::alert::Severity::Critical,
            then_restart: false,
            apart: false,
            schedule: None,
        }
    }

    #[tokio::test]
    async fn a_streak_survives_a_new_load_while_recent_and_a_pass_clears_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = probe(Duration::from_secs(60), 3);
        let s = Streaks::load(dir.path());
        s.set("bot/health", 1).await;
        s.set("bot/health", 2).await;
        let now = SystemTime::now();
        let again = Streaks::load(dir.path());
        assert_eq!(again.resume("bot/health", &p, now), 2);
        assert_eq!(again.resume("bot/other", &p, now), 0);
        // Later than the streak could take ((60 s + 1 s) * 3): it starts again.
        let later = now + Duration::from_secs(184);
        assert_eq!(again.resume("bot/health", &p, later), 0);
        again.set("bot/health", 0).await;
        assert_eq!(Streaks::load(dir.path()).resume("bot/health", &p, now), 0);
    }

    #[tokio::test]
    async fn an_unchanged_streak_is_not_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let s = Streaks::load(dir.path());
        s.set("bot/health", 0).await;
        assert!(!dir.path().join("probes.json").exists(), "nothing to save");
        s.set("bot/health", 1).await;
        let first = std::fs::metadata(dir.path().join("probes.json")).unwrap();
        std::fs::remove_file(dir.path().join("probes.json")).unwrap();
        s.set("bot/health", 1).await;
        assert!(!dir.path().join("probes.json").exists(), "{first:?}");
    }
}
