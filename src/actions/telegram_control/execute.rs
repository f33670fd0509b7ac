//! Running one allowed command: its effect (the watch's control file, written with the
//! update's id so a second run changes nothing), its reply in the chat, its log line with
//! who ran it, and its announcement as an event alert to the channels.

use std::time::Duration;

use crate::actions::restart::control::{read_control, write_control, Control};
use crate::actions::telegram_control::command::{callback, inert, Command};
use crate::actions::telegram_control::run::{unix_now, who, Asked};
use crate::actions::telegram_control::{restartable, Panel, COMMAND_RULE};
use crate::config::duration::format_duration;
use crate::core::alert::{Alert, AlertState, Severity};
use crate::rules::Output;

/// How long a `/restart` confirmation button stays valid.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(120);

const HELP: &str = "logwarden commands:
/status - watches, what fires, pauses
/pause WATCH 1h - no automatic restarts for that long
/resume WATCH - restarts on again (ends a pause or a hand-over)
/restart WATCH - restart now, after a confirmation, through the usual limits
/silence WATCH[/RULE] 2h [reason] - hold its notifications
/unsilence ID - end a silence
/ack WATCH/RULE - stop the reminders of an open alert
/help - this text";

/// What a command gives back: the reply, its buttons, and what to announce (watch, text).
pub(super) struct Reply {
    pub(super) text: String,
    pub(super) buttons: Vec<Vec<(String, String)>>,
    pub(super) announce: Option<(String, String)>,
}

impl Reply {
    pub(super) fn text(text: String) -> Reply {
        Reply {
            text,
            buttons: Vec::new(),
            announce: None,
        }
    }
}

impl Panel {
    pub(super) async fn execute(&self, asked: Asked, update_id: i64, taken_unix: u64) {
        let by = who(&asked.user);
        let reply = match asked.command {
            Err(why) => Reply::text(why),
            Ok(c) => {
                tracing::info!(channel = %self.name, by = %by, command = ?c, "Telegram command");
                self.shared.telemetry.on_telegram_command(&self.name, true);
                self.effect(c, &by, update_id, taken_unix)
            }
        };
        if let Some((query, message)) = &asked.button {
            // A button is pressed once: its spinner stops, the buttons go.
            let toast: String = reply.text.chars().take(150).collect();
            if let Err(e) = self.api.answer_callback(query, &toast).await {
                tracing::debug!(channel = %self.name, error = %e, "answerCallbackQuery failed");
            }
            if let Err(e) = self.api.remove_buttons(self.chat, *message).await {
                tracing::debug!(channel = %self.name, error = %e, "editMessageReplyMarkup failed");
            }
        }
        if let Err(e) = self.api.send(self.chat, &reply.text, &reply.buttons).await {
            tracing::warn!(channel = %self.name, error = %e, "cannot answer a Telegram command");
        }
        if let Some((watch, said)) = reply.announce {
            let summary = format!("{by} {said}");
            let alert = Alert::new(
                &watch,
                COMMAND_RULE,
                Severity::Info,
                AlertState::Event,
                summary,
            );
            let _ = self.shared.outputs.send(Output::Alert(alert)).await;
        }
    }

    /// The watch named, or the reply saying it does not exist.
    fn watch(&self, name: &str) -> Result<&crate::config::WatchConfig, Reply> {
        self.shared
            .config
            .watches
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self
                    .shared
                    .config
                    .watches
                    .iter()
                    .map(|w| w.name.as_str())
                    .collect();
                Reply::text(format!(
                    "no watch {:?}; watches: {}",
                    inert(name),
                    known.join(", ")
                ))
            })
    }

    /// Writes watch `name`'s control file through `change`, unless update `id` did already.
    fn control(&self, name: &str, id: i64, change: impl FnOnce(&mut Control)) -> Result<(), Reply> {
        let mut c = read_control(&self.state_dir, name);
        if c.applied_update == Some(id) {
            return Ok(());
        }
        change(&mut c);
        c.applied_update = Some(id);
        write_control(&self.state_dir, name, &c)
            .map_err(|e| Reply::text(format!("not done: cannot write the control file: {e}")))?;
        self.shared.telemetry.restart_poke.notify_one();
        Ok(())
    }

    fn effect(&self, c: Command, by: &str, id: i64, taken: u64) -> Reply {
        let r = match c {
            Command::Help => Ok(Reply::text(HELP.to_string())),
            Command::Status => Ok(Reply::text(self.status())),
            Command::Pause { watch, for_ } => self.pause(&watch, for_, id, taken),
            Command::Resume { watch } => self.resume(&watch, id),
            Command::Restart { watch } => self.ask_restart(&watch),
            Command::ConfirmRestart { watch, expires } => self.restart(&watch, expires, by, id),
            c @ (Command::Silence { .. } | Command::Unsilence { .. } | Command::Ack { .. }) => {
                Ok(self.operator(c, by, taken))
            }
        };
        r.unwrap_or_else(|refused| refused)
    }

    fn pause(&self, name: &str, for_: Duration, id: i64, taken: u64) -> Result<Reply, Reply> {
        let w = self.watch(name)?;
        let name = w.name.clone();
        self.control(&name, id, |c| c.paused_until = Some(taken + for_.as_secs()))?;
        let d = format_duration(for_);
        Ok(Reply {
            text: format!("{name}: no automatic restarts for {d} (alerts still go out); /resume {name} ends it earlier"),
            buttons: Vec::new(),
            announce: Some((name.clone(), format!("paused restarts of {name} for {d} from Telegram"))),
        })
    }

    fn resume(&self, name: &str, id: i64) -> Result<Reply, Reply> {
        let name = self.watch(name)?.name.clone();
        self.control(&name, id, |c| {
            c.paused_until = None;
            c.resume += 1;
        })?;
        Ok(Reply {
            text: format!("{name}: automatic restarts are on again"),
            buttons: Vec::new(),
            announce: Some((
                name.clone(),
                format!("resumed restarts of {name} from Telegram"),
            )),
        })
    }

    fn ask_restart(&self, name: &str) -> Result<Reply, Reply> {
        let w = self.watch(name)?;
        if !restartable(w) {
            return Err(Reply::text(format!("{}: logwarden does not restart this watch (no [watch.restart] with a rule or probe then = [\"restart\"])", w.name)));
        }
        let expires = unix_now() + CONFIRM_WITHIN.as_secs();
        let Some(data) = callback('R', &format!("{expires}:{}", w.name)) else {
            return Err(Reply::text(format!(
                "{}: the name is too long for a button; use `logwarden` on the host",
                w.name
            )));
        };
        Ok(Reply {
            text: format!(
                "Restart {}? Confirm within {} (rate limit, backoff and pauses apply).",
                w.name,
                format_duration(CONFIRM_WITHIN)
            ),
            buttons: vec![vec![(format!("Restart {}", w.name), data)]],
            announce: None,
        })
    }

    fn restart(&self, name: &str, expires: u64, by: &str, id: i64) -> Result<Reply, Reply> {
        let w = self.watch(name)?;
        if !restartable(w) {
            return Err(Reply::text(format!(
                "{}: logwarden does not restart this watch",
                w.name
            )));
        }
        if unix_now() > expires {
            return Err(Reply::text(format!(
                "that confirmation has expired; send /restart {} again",
                w.name
            )));
        }
        let name = w.name.clone();
        self.control(&name, id, |c| {
            c.restart += 1;
            c.restart_by = Some(by.to_string());
        })?;
        Ok(Reply {
            text: format!("{name}: restart asked; its outcome follows as a restart alert"),
            buttons: Vec::new(),
            announce: Some((
                name.clone(),
                format!("asked for a restart of {name} from Telegram"),
            )),
        })
    }

    /// `/status`: each watch, what fires, a pause or a hand-over.
    fn status(&self) -> String {
        let firing = self.shared.telemetry.firing();
        let hands_off = self
            .shared
            .telemetry
            .hands_off
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default();
        let now = unix_now();
        // Unreadable: shown without silences and acks rather than not at all.
        let operator = crate::actions::operator::read(&self.shared.config.daemon.state_dir)
            .unwrap_or_default();
        let mut out = String::from("logwarden status\n");
        for w in self.shared.config.watches.iter() {
            let fires: Vec<String> = firing
                .iter()
                .filter(|(watch, ..)| *watch == w.name)
                .map(|(_, rule, severity, summary)| {
                    format!(
                        "  {} {rule}: {}",
                        severity.label(),
                        crate::actions::quote::cut_chars(summary, 120)
                    )
                })
                .collect();
            let state = if fires.is_empty() { "ok" } else { "FIRING" };
            out.push_str(&format!("\n{} - {state}\n", w.name));
            for f in fires {
                out.push_str(&f);
                out.push('\n');
            }
            if let Some(until) = read_control(&self.state_dir, &w.name)
                .paused_until
                .filter(|&u| u > now)
            {
                out.push_str(&format!(
                    "  restarts paused for {} more\n",
                    format_duration(Duration::from_secs(until - now))
                ));
            }
            if let Some(h) = hands_off.get(&w.name) {
                out.push_str(&format!("  {h}\n"));
            }
            for a in operator.acks.iter().filter(|a| a.watch == w.name) {
                out.push_str(&format!("  {} acknowledged by {}\n", a.rule, a.who));
            }
        }
        let now_ms = now * 1000;
        let silences: Vec<_> = operator
            .silences
            .iter()
            .filter(|s| s.active(now_ms))
            .collect();
        if !silences.is_empty() {
            out.push_str("\nsilences:\n");
            for s in silences {
                let left = Duration::from_millis(s.ends_ms - now_ms).as_secs().max(1);
                out.push_str(&format!(
                    "  {} {} for {} more, by {}{}\n",
                    s.id,
                    s.scope,
                    format_duration(Duration::from_secs(left)),
                    s.who,
                    if s.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", s.reason)
                    }
                ));
            }
        }
        out
    }
}
