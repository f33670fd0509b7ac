//! The `telegram` channel: the Bot API's `sendMessage` as one JSON POST through the shared
//! `reqwest` client, plain text cut to Telegram's 4096-character limit, `api_url`
//! overridable (a local Bot API server, or a test server). A 429 answer's
//! `parameters.retry_after` is handed to the delivery worker, which waits exactly that long.
//! An incident's end is sent as a reply (`reply_to_message_id`) to its opening, whose
//! `message_id` (from `sendMessage`'s answer) is kept in `state_dir` (`actions::threads`).
//!
//! Not `teloxide-core`, though it was requested: it sleeps 10 s inside every request that
//! gets a 5xx answer (a retry delay of its own we cannot turn off, against our single retry
//! queue) and reports a 502 as "invalid JSON"; see docs/decisions.md.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::actions::notification::Notification;
use crate::actions::threads::Threads;
use crate::actions::{render, Channel, SendError, SendFuture};
use crate::config::channels::TelegramConfig;
use crate::config::Secret;

/// Telegram's limit on one message, in UTF-16 code units.
pub const MESSAGE_MAX: usize = 4096;

/// Sends alerts to a Telegram chat.
pub struct Telegram {
    /// `{api_url}/bot{token}/sendMessage`: holds the token, so it is a secret.
    endpoint: Secret,
    /// A number, or `@channelname`.
    chat: serde_json::Value,
    template: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
    /// The `message_id`s of the messages that opened incident threads.
    threads: Threads,
    /// `control = true`: firing alerts carry buttons (docs/telegram.md).
    buttons: bool,
    /// The watches logwarden restarts: only their alerts carry a **Restart** button.
    restartable: BTreeSet<String>,
}

impl Telegram {
    pub fn new(
        cfg: &TelegramConfig,
        template: Option<String>,
        http: reqwest::Client,
        timeout: Duration,
        threads: Threads,
        restartable: BTreeSet<String>,
    ) -> Result<Telegram, String> {
        reqwest::Url::parse(&cfg.api_url).map_err(|e| format!("api_url is not a URL: {e}"))?;
        let chat = match cfg.chat_id.parse::<i64>() {
            Ok(id) => json!(id),
            Err(_) => json!(cfg.chat_id),
        };
        Ok(Telegram {
            endpoint: Secret(format!(
                "{}/bot{}/sendMessage",
                cfg.api_url,
                cfg.token.expose()
            )),
            chat,
            template,
            http,
            timeout,
            threads,
            buttons: cfg.control.is_some(),
            restartable,
        })
    }
}

impl Channel for Telegram {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut body = payload(&self.chat, batch, self.template.as_deref());
            let thread = batch.iter().find_map(|n| n.thread.as_ref());
            let reply_to = thread
                .filter(|t| !t.opens)
                .and_then(|t| self.threads.get(&t.key))
                .and_then(|id| id.parse::<i64>().ok());
            if let Some(id) = reply_to {
                // A reply to a message deleted meanwhile is sent as a plain message.
                body["reply_to_message_id"] = json!(id);
                body["allow_sending_without_reply"] = json!(true);
            }
            if let Some(markup) = self
                .buttons
                .then(|| buttons(batch, &self.restartable))
                .flatten()
            {
                body["reply_markup"] = markup;
            }
            let resp = self
                .http
                .post(self.endpoint.expose())
                .timeout(self.timeout)
                .json(&body)
                .send()
                .await
                .map_err(SendError::from_reqwest)?;
            let status = resp.status();
            let answer: serde_json::Value = match resp.text().await {
                Ok(t) => serde_json::from_str(&t).unwrap_or(json!({ "raw": t })),
                Err(e) => return Err(SendError::from_reqwest(e)),
            };
            if status.is_success() && answer["ok"] == true {
                if let (Some(t), Some(id)) = (
                    thread.filter(|t| t.opens),
                    answer["result"]["message_id"].as_i64(),
                ) {
                    self.threads.put(&t.key, id.to_string());
                }
                return Ok(());
            }
            Err(classify(status, &answer))
        })
    }
}

/// The `sendMessage` body for a batch: plain text (no `parse_mode`, so nothing in a log line
/// is markup), the subject line, a blank line, the body as in email (every quoted line
/// prefixed), cut to `MESSAGE_MAX`; silent (`disable_notification`) unless something fires
/// at warning or above.
pub fn payload(
    chat: &serde_json::Value,
    batch: &[Notification],
    template: Option<&str>,
) -> serde_json::Value {
    let text = format!(
        "{}\n\n{}",
        render::subject(batch, None),
        render::body(batch, template)
    );
    let text = render::cut_utf16(&text, MESSAGE_MAX);
    // Only what fires at warning or above makes the phone sound; resolutions and info come
    // silently.
    let loud = batch.iter().any(|n| {
        n.alert.state != crate::core::alert::AlertState::Resolved
            && n.alert.severity >= crate::core::alert::Severity::Warning
    });
    json!({
        "chat_id": chat,
        "text": text,
        "disable_web_page_preview": true,
        "disable_notification": !loud,
    })
}

/// The buttons of a batch sent to a control channel: for each firing alert (at most 3, one
/// row each) **Ack** and **Silence 1h** of its rule, and **Restart** when logwarden restarts
/// its watch (in `restartable`: a `[watch.restart]` and a rule or probe with `then =
/// ["restart"]`; pressed, it asks for a confirmation as `/restart WATCH` does). A button whose
/// data would not fit the Bot API's 64 bytes is left out. `None` when nothing fires.
pub fn buttons(
    batch: &[Notification],
    restartable: &BTreeSet<String>,
) -> Option<serde_json::Value> {
    use crate::actions::telegram_control::command::callback;
    let rows: Vec<serde_json::Value> = batch
        .iter()
        .filter(|n| n.alert.state == crate::core::alert::AlertState::Firing)
        .filter_map(|n| {
            let (w, r) = (&n.alert.watch, &n.alert.rule);
            let scope = format!("{w}/{r}");
            let mut row = Vec::new();
            if let Some(d) = callback('a', &scope) {
                row.push(json!({ "text": "Ack", "callback_data": d }));
            }
            if let Some(d) = callback('s', &scope) {
                row.push(json!({ "text": "Silence 1h", "callback_data": d }));
            }
            if let Some(d) = restartable.contains(w).then(|| callback('r', w)).flatten() {
                row.push(json!({ "text": format!("Restart {w}"), "callback_data": d }));
            }
            (!row.is_empty()).then_some(serde_json::Value::Array(row))
        })
        .take(3)
        .collect();
    (!rows.is_empty()).then(|| json!({ "inline_keyboard": rows }))
}

/// The Bot API says why in `description`, and how long to wait in `parameters.retry_after`.
fn classify(status: reqwest::StatusCode, answer: &serde_json::Value) -> SendError {
    let description = answer["description"]
        .as_str()
        .or_else(|| answer["raw"].as_str())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect::<String>();
    let reason = format!("Telegram answered HTTP {status}: {}", description.trim());
    if let Some(after) = answer["parameters"]["retry_after"].as_u64() {
        return SendError::rate_limited(reason, Duration::from_secs(after));
    }
    SendError::from_status(status, None, description.trim()).with_reason(reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::notification::{sample, Kind};

    #[test]
    fn a_firing_alert_gets_ack_silence_and_restart_where_logwarden_restarts_its_watch() {
        let mut n = sample(1, "phone", Kind::Notice);
        n.alert.unit = Some("bot.service".into());
        let none = BTreeSet::new();
        let b = buttons(std::slice::from_ref(&n), &none).expect("buttons");
        let row = &b["inline_keyboard"][0];
        assert_eq!(row[0]["callback_data"], "a:bot/burst");
        assert_eq!(row[1]["callback_data"], "s:bot/burst");
        assert!(
            row.get(2).is_none(),
            "a unit but no restart: no Restart: {b}"
        );
        let bot = BTreeSet::from(["bot".to_string()]);
        let b = buttons(std::slice::from_ref(&n), &bot).expect("buttons");
        assert_eq!(b["inline_keyboard"][0][2]["callback_data"], "r:bot");
        n.alert.state = crate::core::alert::AlertState::Resolved;
        assert_eq!(buttons(&[n.clone()], &bot), None, "a resolution has none");
        n.alert.state = crate::core::alert::AlertState::Firing;
        n.alert.watch = "w".repeat(100);
        assert_eq!(
            buttons(&[n], &bot),
            None,
            "too long for callback_data: none"
        );
    }
}
