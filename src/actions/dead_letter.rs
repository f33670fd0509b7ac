//! Dead letters: notifications a channel refused for good (a 5xx SMTP reply, an HTTP 4xx
//! other than 408 and 429) that had no fallback to go to. Retrying them would fail the same
//! way for ever, so the delivery worker moves them here, out of the spool, and reports each
//! once; `logwarden dead-letters` lists them and `--resend` sends them again, through the
//! channel's current config, once the operator has fixed it.
//!
//! One JSON file per notification under `state_dir/dead/`, named by id like the spool, written
//! to a temp file, fsynced and renamed (a dead letter is the only copy left). What is stored
//! was redacted where the alert entered the pipeline, and the reason was redacted by the
//! worker: a dead letter holds no secret the other outputs would not show.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::actions::notification::{unix_ms, Notification};
use crate::actions::redact::Redactor;
use crate::actions::spool::SpoolError;
use crate::config::Config;
use crate::core::logging::LogFormat;
use crate::core::state_file;

/// Version of the stored form.
pub const DEAD_VERSION: u32 = 1;

/// One undeliverable notification and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub version: u32,
    /// When the channel refused it (Unix ms).
    pub died_at_ms: u64,
    /// The channel's answer, redacted.
    pub reason: String,
    pub notification: Notification,
}

impl DeadLetter {
    /// When the channel refused it.
    pub fn died_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.died_at_ms)
    }
}

/// The dead-letter directory of one state dir.
#[derive(Debug)]
pub struct DeadLetters {
    dir: PathBuf,
}

impl DeadLetters {
    /// The store under `state_dir` (created when first written).
    pub fn new(state_dir: &Path) -> DeadLetters {
        DeadLetters {
            dir: state_dir.join("dead"),
        }
    }

    /// Where the store is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.json"))
    }

    /// Keeps `n` as dead, durably (fsynced file and directory) before it returns: the caller
    /// removes the spool's copy next.
    pub fn keep(&self, n: &Notification, reason: &str) -> Result<(), SpoolError> {
        let err = |source| SpoolError {
            dir: self.dir.display().to_string(),
            source,
        };
        let letter = DeadLetter {
            version: DEAD_VERSION,
            died_at_ms: unix_ms(SystemTime::now()),
            reason: reason.to_string(),
            notification: n.clone(),
        };
        let bytes = serde_json::to_vec(&letter).map_err(|e| err(std::io::Error::other(e)))?;
        state_file::write_atomic(&self.path_of(n.id), &bytes).map_err(err)
    }

    /// Every dead letter, oldest first. A file that cannot be read is reported and skipped
    /// (left where it is for a person to look at).
    pub fn load(&self) -> Vec<DeadLetter> {
        let records = match state_file::read_records::<DeadLetter>(&self.dir) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(dir = %self.dir.display(), error = %e, "cannot read the dead letters");
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(records.len());
        for (p, parsed) in records {
            match parsed.and_then(|d| {
                state_file::check_version(d.version, DEAD_VERSION).map_err(|e| e.to_string())?;
                Ok(d)
            }) {
                Ok(d) => out.push(d),
                Err(e) => {
                    tracing::error!(path = %p.display(), "unreadable dead letter skipped: {e}")
                }
            }
        }
        out
    }

    /// Forgets a dead letter that was delivered after all.
    pub fn remove(&self, id: u64) -> std::io::Result<()> {
        match std::fs::remove_file(self.path_of(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// What `resend` did with one dead letter.
pub struct Resent {
    pub letter: DeadLetter,
    /// `Ok` when the channel accepted it (and it was removed), the reason otherwise.
    pub result: Result<(), String>,
}

/// Sends every dead letter (of channel `only`, if given) again through its channel as
/// configured now, one at a time, and removes each one the channel accepted. A letter for a
/// channel no longer configured, or refused again, stays.
pub async fn resend(config: &Config, only: Option<&str>, format: LogFormat) -> Vec<Resent> {
    let store = DeadLetters::new(&config.daemon.state_dir);
    let redactor = Redactor::new(&config.alerts, &config.secret_values());
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build();
    let restartable = crate::actions::telegram_control::restartable_watches(config);
    let mut out = Vec::new();
    for letter in store.load() {
        let name = letter.notification.channel.clone();
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let result = match (config.channels.get(&name), &http) {
            (None, _) => Err(format!("no channel {name:?} in the config any more")),
            (_, Err(e)) => Err(format!("cannot set up the HTTP client: {e}")),
            (Some(cfg), Ok(http)) => {
                match crate::actions::build_channel(&name, cfg, format, http, None, &restartable) {
                    Err(e) => Err(e.reason),
                    Ok(ch) => {
                        let batch = std::slice::from_ref(&letter.notification);
                        match tokio::time::timeout(cfg.timeout, ch.send(batch)).await {
                        Ok(Ok(())) => store
                            .remove(letter.notification.id)
                            .map_err(|e| format!("sent, but the dead letter could not be removed (it may be sent again): {e}")),
                        Ok(Err(e)) => Err(redactor.redact(&e.reason).into_owned()),
                        Err(_) => Err(format!("no answer within {}s", cfg.timeout.as_secs())),
                    }
                    }
                }
            }
        };
        out.push(Resent { letter, result });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::notification::{next_id, sample, Kind};

    #[test]
    fn dead_letters_are_kept_in_order_with_their_reason_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let dead = DeadLetters::new(dir.path());
        let (a, b) = (
            sample(next_id(), "mail", Kind::Notice),
            sample(next_id(), "mail", Kind::Reminder),
        );
        dead.keep(&a, "SMTP 554 refused").unwrap();
        dead.keep(&b, "SMTP 535 bad login").unwrap();
        let loaded = DeadLetters::new(dir.path()).load();
        assert_eq!(
            loaded.iter().map(|d| d.notification.id).collect::<Vec<_>>(),
            vec![a.id, b.id]
        );
        assert_eq!(loaded[0].reason, "SMTP 554 refused");
        dead.remove(a.id).unwrap();
        dead.remove(a.id).unwrap();
        assert_eq!(dead.load().len(), 1);
    }
}
