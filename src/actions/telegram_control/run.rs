//! The panel's loop: long-poll, tell allowed updates from the rest, take each allowed one
//! durably before running it (`offset.rs`), and back off when Telegram cannot be reached.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::actions::telegram_control::api::{Update, User};
use crate::actions::telegram_control::command::{self, inert, Command};
use crate::actions::telegram_control::offset::{Offset, Pending};
use crate::actions::telegram_control::Panel;
use crate::core::shutdown::Shutdown;

/// The long poll's `timeout`: Telegram holds the request this long when nothing comes.
const POLL_WAIT: Duration = Duration::from_secs(50);
/// Backoff between failed polls: from 1 s, doubled, up to a minute.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Refused updates are logged at most this often (a stranger can send many).
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// `user 123 (@name)`, the name inert.
pub(super) fn who(user: &User) -> String {
    match &user.username {
        Some(n) => format!("Telegram user {} (@{})", user.id, inert(n)),
        None => format!("Telegram user {}", user.id),
    }
}

/// What an update asks, from whom, and where the answer goes.
pub(super) struct Asked {
    pub(super) user: User,
    pub(super) command: Result<Command, String>,
    /// A button's press: its query id and the message it sits on.
    pub(super) button: Option<(String, i64)>,
}

impl Panel {
    pub(super) async fn run(self, mut shutdown: Shutdown) {
        let mut offset = Offset::load(&self.offset_path);
        if let Some(p) = offset.pending.take() {
            tracing::warn!(channel = %self.name, update = p.update.update_id, "logwarden ended while running a Telegram command; running it again (its effect happens once)");
            self.take(&p).await;
            self.save(&offset);
        }
        let mut backoff = BACKOFF_MIN;
        let mut refusals = Refusals::default();
        // Whether the last save failed: said once, not at every poll.
        let mut save_failed = false;
        loop {
            let polled = tokio::select! {
                r = self.api.get_updates(offset.next, POLL_WAIT) => r,
                _ = shutdown.wait() => break,
            };
            let (updates, highest) = match polled {
                Ok(u) => u,
                Err(e) => {
                    let wait = e.wait(backoff);
                    tracing::warn!(channel = %self.name, error = %e, "Telegram getUpdates failed; polling again in {}s", wait.as_secs());
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => continue,
                        _ = shutdown.wait() => break,
                    }
                }
            };
            backoff = BACKOFF_MIN;
            let resent = !updates.is_empty() && updates.iter().all(|u| u.update_id < offset.next);
            let mut stalled = false;
            for u in updates {
                if u.update_id < offset.next {
                    // Sent again by a Telegram that did not get the confirmation: taken already.
                    continue;
                }
                if !self.allowed(&u) {
                    offset.next = u.update_id + 1;
                    refusals.count(&self, &u);
                    continue;
                }
                let pending = Pending {
                    update: u,
                    taken_unix: unix_now(),
                };
                let mut taken = Offset {
                    next: pending.update.update_id + 1,
                    pending: Some(pending.clone()),
                    ..offset.clone()
                };
                if let Err(e) = taken.save(&self.offset_path) {
                    // Not run: it stays unconfirmed and comes again with the next poll.
                    if !std::mem::replace(&mut save_failed, true) {
                        tracing::error!(channel = %self.name, error = %e, "cannot save the Telegram offset; the command is not run until it can be");
                    }
                    stalled = true;
                    break;
                }
                save_failed = false;
                self.take(&pending).await;
                taken.pending = None;
                self.save(&taken);
                offset = taken;
            }
            // Past what could not be read, but never past an update not taken.
            if let Some(h) = highest.filter(|_| !stalled) {
                offset.next = offset.next.max(h + 1);
            }
            if resent || stalled {
                // Only updates taken already: a server ignoring the offset would make this
                // loop spin; a pause keeps it to one poll a second.
                tokio::select! {
                    _ = tokio::time::sleep(BACKOFF_MIN) => {}
                    _ = shutdown.wait() => break,
                }
            }
        }
    }

    fn save(&self, offset: &Offset) {
        if let Err(e) = offset.save(&self.offset_path) {
            tracing::warn!(channel = %self.name, error = %e, "cannot save the Telegram offset");
        }
    }

    /// From the channel's chat and an allowed user (a message, or a press of a button on a
    /// message in that chat).
    fn allowed(&self, u: &Update) -> bool {
        let (from, chat) = match (&u.message, &u.callback_query) {
            (Some(m), _) => (m.from.as_ref().map(|f| f.id), Some(m.chat.id)),
            (None, Some(q)) => (Some(q.from.id), q.message.as_ref().map(|m| m.chat.id)),
            (None, None) => return false,
        };
        chat == Some(self.chat) && from.is_some_and(|f| self.users.contains(&f))
    }

    /// Reads and runs one allowed update.
    async fn take(&self, p: &Pending) {
        let u = &p.update;
        let asked = match (&u.message, &u.callback_query) {
            (Some(m), _) => {
                let Some(user) = m.from.clone() else { return };
                match command::parse(m.text.as_deref().unwrap_or("")) {
                    Ok(None) => return,
                    Ok(Some(c)) => Asked {
                        user,
                        command: Ok(c),
                        button: None,
                    },
                    Err(e) => Asked {
                        user,
                        command: Err(e),
                        button: None,
                    },
                }
            }
            (None, Some(q)) => Asked {
                user: q.from.clone(),
                command: command::parse_callback(q.data.as_deref().unwrap_or("")),
                button: Some((q.id.clone(), q.message.as_ref().map_or(0, |m| m.message_id))),
            },
            (None, None) => return,
        };
        self.execute(asked, u.update_id, p.taken_unix).await;
    }
}

/// Counts refused updates; logs them at most once per `REFUSAL_LOG_EVERY`.
#[derive(Default)]
struct Refusals {
    last_log: Option<Instant>,
    since_log: u64,
}

impl Refusals {
    fn count(&mut self, panel: &Panel, u: &Update) {
        panel
            .shared
            .telemetry
            .on_telegram_command(&panel.name, false);
        self.since_log += 1;
        if self
            .last_log
            .is_some_and(|t| t.elapsed() < REFUSAL_LOG_EVERY)
        {
            return;
        }
        let (from, chat) = match (&u.message, &u.callback_query) {
            (Some(m), _) => (m.from.as_ref().map(who), Some(m.chat.id)),
            (None, Some(q)) => (Some(who(&q.from)), q.message.as_ref().map(|m| m.chat.id)),
            (None, None) => (None, None),
        };
        tracing::warn!(
            channel = %panel.name,
            from = from.as_deref().unwrap_or("nobody"),
            chat = chat.unwrap_or(0),
            refused = self.since_log,
            "refused Telegram updates from outside the channel's chat or control_users (no answer given; logged at most once a minute)"
        );
        self.last_log = Some(Instant::now());
        self.since_log = 0;
    }
}
