//! `/silence`, `/unsilence` and `/ack` (and the alerts' Ack and Silence 1h buttons): the
//! operator module's commands (`actions::operator`), run for a Telegram user. Their effect is
//! once across a kill, like the others': a silence run again ends at the same second (from
//! the update's taken time) and, found already set by the same user for the same scope, is
//! not set twice; a second unsilence or ack is refused by the module and changes nothing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::actions::operator::{self, Done, OperatorCommand};
use crate::actions::telegram_control::command::{inert, Command};
use crate::actions::telegram_control::execute::Reply;
use crate::actions::telegram_control::Panel;
use crate::config::duration::format_duration;

impl Panel {
    /// Runs an operator command for `by`, taken at Unix second `taken`.
    pub(super) fn operator(&self, c: Command, by: &str, taken: u64) -> Reply {
        let config = &*self.shared.config;
        let said = |e: operator::OperatorError| {
            Reply::text(format!("not done: {}", inert_long(&e.to_string())))
        };
        let cmd = match c {
            Command::Silence {
                scope,
                for_,
                reason,
            } => {
                let scope = match operator::parse_scope(config, &scope) {
                    Ok(s) => s,
                    Err(e) => return said(e),
                };
                let until = UNIX_EPOCH + Duration::from_secs(taken) + for_;
                if let Some(s) = self.same_silence(&scope, until, by) {
                    return silenced(&s);
                }
                OperatorCommand::Silence {
                    scope,
                    until,
                    reason,
                }
            }
            Command::Unsilence { id } => OperatorCommand::Unsilence { id },
            Command::Ack { scope } => match operator::parse_scope(config, &scope) {
                Ok(operator::Scope {
                    watch,
                    rule: Some(rule),
                }) => OperatorCommand::Ack { watch, rule },
                Ok(s) => {
                    return Reply::text(format!(
                        "/ack needs WATCH/RULE (one alert), not {}",
                        inert(&s.to_string())
                    ))
                }
                Err(e) => return said(e),
            },
            _ => return Reply::text("not an operator command".into()),
        };
        let open = crate::actions::router::open_alerts(&config.daemon.state_dir);
        match operator::apply(config, &open, cmd, by) {
            Ok(Done::Silenced(s)) => silenced(&s),
            Ok(Done::Unsilenced(s)) => Reply {
                text: format!("silence {} ({}) ended: alerts it held that still fire are sent within a second", s.id, s.scope),
                buttons: Vec::new(),
                // The router announces a silence set or ended itself, whoever did it.
                announce: None,
            },
            // The router announces an ack once to the alert's channels itself.
            Ok(Done::Acked(a)) => Reply::text(format!("{}/{} acknowledged: no more reminders until it resolves", a.watch, a.rule)),
            Err(e) => said(e),
        }
    }

    /// A silence this user set already for `scope` ending at `until` (this update, run
    /// again after a kill).
    fn same_silence(
        &self,
        scope: &operator::Scope,
        until: SystemTime,
        by: &str,
    ) -> Option<operator::Silence> {
        let ends_ms = until.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64;
        let st = operator::read(&self.shared.config.daemon.state_dir).ok()?;
        st.silences
            .into_iter()
            .find(|s| s.scope == *scope && s.ends_ms == ends_ms && s.who == by)
    }
}

/// Text from the operator module (it names watches and rules of the config, and may quote
/// what was typed): control characters visible, at most 300 characters.
fn inert_long(text: &str) -> String {
    let escaped = crate::actions::quote::escape_controls(text, false);
    crate::actions::quote::cut_chars(&escaped, 300).into_owned()
}

fn silenced(s: &operator::Silence) -> Reply {
    let d = format_duration(Duration::from_secs(
        s.ends_ms.saturating_sub(s.starts_ms).div_ceil(1000),
    ));
    Reply {
        text: format!("silenced {} for {d} (id {}): its alerts are held, rules keep running; /unsilence {} ends it", s.scope, s.id, s.id),
        buttons: Vec::new(),
        // The router announces a silence set or ended itself, whoever did it.
        announce: None,
    }
}
