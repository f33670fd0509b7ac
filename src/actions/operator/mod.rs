//! Operator actions: silences and acknowledgements, one command type whatever its origin
//! (`logwarden silence/unsilence/ack` today, the Telegram control later). A command is
//! checked against the config (and, for an ack, against the alerts open now), written to the
//! operator's file (`store`), and logged with who ran it; the running daemon picks the file
//! up (the router's `operator_watch`) and acts on it.

pub mod store;

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::actions::notification::unix_ms;
use crate::actions::quote;
use crate::actions::redact::Redactor;
use crate::config::Config;
use crate::core::rule_names::{HANDOVER_RULE, LINES_LOST_RULE, RESTART_RULE};
pub use store::{Ack, OperatorState, Scope, Silence, StoreError};

/// The longest silence: a year (longer is a mistake, and would overflow the clock).
pub const MAX_SILENCE: Duration = Duration::from_secs(366 * 86_400);

/// The longest reason kept, in characters (it is shown in status lines and messages).
const MAX_REASON_CHARS: usize = 300;

/// What an operator asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorCommand {
    /// Hold the notifications of `scope` until `until`.
    Silence {
        scope: Scope,
        until: SystemTime,
        reason: String,
    },
    /// End the silence `id` now.
    Unsilence { id: String },
    /// Stop the reminders of the open alert `watch/rule` until it resolves.
    Ack { watch: String, rule: String },
}

/// One alert open now, as the daemon's book of open alerts tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlert {
    pub watch: String,
    pub rule: String,
    /// Unix ms when it started firing.
    pub since_ms: u64,
    /// Who acknowledged it already.
    pub acked_by: Option<String>,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Silenced(Silence),
    Unsilenced(Silence),
    Acked(Ack),
}

/// Why a command was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("no watch {watch:?} in the config; watches: {known}")]
    UnknownWatch { watch: String, known: String },
    #[error("watch {watch} has no rule or probe {rule:?}; it has: {known}")]
    UnknownRule {
        watch: String,
        rule: String,
        known: String,
    },
    #[error("{0:?} is not WATCH or WATCH/RULE")]
    BadScope(String),
    #[error("a silence lasts between 1s and 366d")]
    BadDuration,
    #[error("{scope} is not firing, there is nothing to acknowledge; firing now: {firing}")]
    NotFiring { scope: String, firing: String },
    #[error("{scope} is already acknowledged by {who}")]
    AlreadyAcked { scope: String, who: String },
    #[error("no silence {id:?}; active silences: {known}")]
    UnknownSilence { id: String, known: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A list for an error message, or "none".
fn listed<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.into_iter().collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Parses `WATCH` or `WATCH/RULE` and checks both exist in `config` (a rule of a watch is one
/// of its rules, its probes, or an alert logwarden raises itself: restart,
/// manual-intervention, lines-lost).
pub fn parse_scope(config: &Config, text: &str) -> Result<Scope, OperatorError> {
    let (watch, rule) = match text.split_once('/') {
        Some((w, r)) => (w, Some(r)),
        None => (text, None),
    };
    if watch.is_empty() || rule.is_some_and(|r| r.is_empty() || r.contains('/')) {
        return Err(OperatorError::BadScope(text.into()));
    }
    let Some(w) = config.watches.iter().find(|w| w.name == watch) else {
        return Err(OperatorError::UnknownWatch {
            watch: watch.into(),
            known: listed(config.watches.iter().map(|w| w.name.as_str())),
        });
    };
    if let Some(rule) = rule {
        let mut known: Vec<&str> = w.rules.iter().map(|r| r.name.as_str()).collect();
        known.extend(w.probes.iter().map(|p| p.name.as_str()));
        known.extend([RESTART_RULE, HANDOVER_RULE, LINES_LOST_RULE]);
        if !known.contains(&rule) {
            return Err(OperatorError::UnknownRule {
                watch: watch.into(),
                rule: rule.into(),
                known: listed(known),
            });
        }
    }
    Ok(Scope {
        watch: watch.into(),
        rule: rule.map(str::to_string),
    })
}

/// An operator's free text made inert: secrets redacted, control characters (line breaks
/// too) written visibly, at most `MAX_REASON_CHARS`.
pub fn inert_text(redactor: &Redactor, text: &str) -> String {
    let redacted = redactor.redact(text);
    let escaped = quote::escape_controls(&redacted, false);
    quote::cut_chars(&escaped, MAX_REASON_CHARS).into_owned()
}

/// Runs `command` for `who`: checks it, writes the operator's file in `state_dir`, logs it.
/// `open` is what is firing now (the daemon's book), for an ack.
pub fn apply(
    config: &Config,
    open: &[OpenAlert],
    command: OperatorCommand,
    who: &str,
) -> Result<Done, OperatorError> {
    let state_dir = &config.daemon.state_dir;
    let now = SystemTime::now();
    let now_ms = unix_ms(now);
    let who = quote::one_line(who).into_owned();
    let done = match command {
        OperatorCommand::Silence {
            scope,
            until,
            reason,
        } => {
            let ends_ms = unix_ms(until);
            if ends_ms <= now_ms || until > now + MAX_SILENCE {
                return Err(OperatorError::BadDuration);
            }
            let redactor = Redactor::new(&config.alerts, &config.secret_values());
            let reason = inert_text(&redactor, &reason);
            store::update(state_dir, now_ms, |st| {
                let silence = Silence {
                    id: fresh_id(st),
                    scope,
                    starts_ms: now_ms,
                    ends_ms,
                    reason,
                    who: who.clone(),
                };
                st.silences.push(silence.clone());
                Ok::<_, OperatorError>(Done::Silenced(silence))
            })?
        }
        OperatorCommand::Unsilence { id } => store::update(state_dir, now_ms, |st| {
            let Some(i) = st
                .silences
                .iter()
                .position(|s| s.id == id && s.ends_ms > now_ms)
            else {
                let known = listed(
                    st.silences
                        .iter()
                        .filter(|s| s.ends_ms > now_ms)
                        .map(|s| s.id.as_str()),
                );
                return Err(OperatorError::UnknownSilence { id, known });
            };
            Ok(Done::Unsilenced(st.silences.remove(i)))
        })?,
        OperatorCommand::Ack { watch, rule } => {
            parse_scope(config, &format!("{watch}/{rule}"))?;
            let scope = format!("{watch}/{rule}");
            let Some(o) = open.iter().find(|o| o.watch == watch && o.rule == rule) else {
                return Err(OperatorError::NotFiring {
                    scope,
                    firing: listed(
                        open.iter()
                            .map(|o| format!("{}/{}", o.watch, o.rule))
                            .collect::<Vec<_>>()
                            .iter()
                            .map(String::as_str),
                    ),
                });
            };
            if let Some(by) = &o.acked_by {
                return Err(OperatorError::AlreadyAcked {
                    scope,
                    who: by.clone(),
                });
            }
            let since_ms = o.since_ms;
            store::update(state_dir, now_ms, |st| {
                if let Some(a) = st
                    .acks
                    .iter()
                    .find(|a| a.watch == watch && a.rule == rule && a.since_ms == since_ms)
                {
                    return Err(OperatorError::AlreadyAcked {
                        scope: scope.clone(),
                        who: a.who.clone(),
                    });
                }
                // Acks of earlier firings of alerts no longer open are done with.
                st.acks.retain(|a| {
                    open.iter()
                        .any(|o| o.watch == a.watch && o.rule == a.rule && o.since_ms == a.since_ms)
                });
                let ack = Ack {
                    watch: watch.clone(),
                    rule: rule.clone(),
                    since_ms,
                    who: who.clone(),
                    at_ms: now_ms,
                };
                st.acks.push(ack.clone());
                Ok(Done::Acked(ack))
            })?
        }
    };
    match &done {
        Done::Silenced(s) => tracing::info!(%who, id = %s.id, scope = %s.scope,
            until = %crate::core::timefmt::rfc3339(until_time(s.ends_ms)), reason = %s.reason,
            "operator command: silence"),
        Done::Unsilenced(s) => {
            tracing::info!(%who, id = %s.id, scope = %s.scope, "operator command: unsilence")
        }
        Done::Acked(a) => tracing::info!(%who, watch = %a.watch, rule = %a.rule,
            "operator command: acknowledge"),
    }
    Ok(done)
}

/// The wall time of unix ms `ms`.
pub fn until_time(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

/// An id of 8 hex digits no silence of `st` has.
fn fresh_id(st: &OperatorState) -> String {
    let mut seed = crate::actions::notification::next_id() ^ u64::from(std::process::id());
    loop {
        // splitmix64: spreads the bits of the time-based seed over the id.
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let id = format!("{:08x}", (z ^ (z >> 31)) as u32);
        if !st.silences.iter().any(|s| s.id == id) {
            return id;
        }
    }
}

/// The user running this process: the name of its real uid, or `uid N` when it has none;
/// as root under `sudo`, the user who ran sudo (`alice (sudo)`), since the daemon's
/// `state_dir` is root's and every operator goes through sudo.
pub fn unix_user() -> String {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    if uid == 0 {
        if let Some(u) = std::env::var("SUDO_USER").ok().filter(|u| !u.is_empty()) {
            return format!("{} (sudo)", quote::one_line(&u));
        }
    }
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: a zeroed passwd is a valid out-parameter; `buf` outlives the call and its
    // length is passed; the name read is NUL-terminated inside `buf` on success.
    let name = unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found);
        (rc == 0 && !found.is_null() && !pw.pw_name.is_null()).then(|| {
            std::ffi::CStr::from_ptr(pw.pw_name)
                .to_string_lossy()
                .into_owned()
        })
    };
    name.unwrap_or_else(|| format!("uid {uid}"))
}

/// Reads the operator's file of `state_dir` (see `store::read`).
pub fn read(state_dir: &Path) -> Result<OperatorState, StoreError> {
    store::read(state_dir)
}
