//! The Bot API calls the control panel makes (`getUpdates`, `sendMessage` with buttons,
//! `answerCallbackQuery`, `editMessageReplyMarkup`) as JSON POSTs on the shared `reqwest`
//! client, and the updates they return, read leniently: an update this code cannot read is
//! skipped (its id still moves the offset), never an error for the rest. The token is in
//! every URL: errors carry no URL (`without_url`), and Telegram's own descriptions are cut
//! and scrubbed of the token before anyone sees them.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::Secret;

/// Longer than the long poll's `timeout`: the request may take that long plus the network.
const POLL_SLACK: Duration = Duration::from_secs(10);
/// A short call (a reply, a button answered).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Telegram's limit on one message, in UTF-16 code units.
const MESSAGE_MAX: usize = 4096;

/// A user as an update names them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct User {
    pub(super) id: i64,
    #[serde(default)]
    pub(super) username: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Chat {
    pub(super) id: i64,
}

/// A message of the chat (a command, or the bot's own message a button belongs to).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Message {
    pub(super) message_id: i64,
    #[serde(default)]
    pub(super) from: Option<User>,
    pub(super) chat: Chat,
    #[serde(default)]
    pub(super) text: Option<String>,
}

/// A press of an inline button.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CallbackQuery {
    pub(super) id: String,
    pub(super) from: User,
    #[serde(default)]
    pub(super) message: Option<Message>,
    #[serde(default)]
    pub(super) data: Option<String>,
}

/// One update of the kinds asked for (`allowed_updates`); other kinds have neither.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Update {
    pub(super) update_id: i64,
    #[serde(default)]
    pub(super) message: Option<Message>,
    #[serde(default)]
    pub(super) callback_query: Option<CallbackQuery>,
}

/// Why a call failed; its text names no URL and no token.
#[derive(Debug, thiserror::Error)]
pub(super) enum ApiError {
    #[error("cannot reach the Telegram Bot API: {0}")]
    Network(String),
    #[error("the Telegram Bot API answered {method} with HTTP {status}: {description}")]
    Refused {
        method: &'static str,
        status: u16,
        description: String,
        /// `parameters.retry_after` of a 429.
        retry_after: Option<Duration>,
    },
}

impl ApiError {
    /// How long to wait before the next poll, at least `backoff`.
    pub(super) fn wait(&self, backoff: Duration) -> Duration {
        match self {
            ApiError::Refused {
                retry_after: Some(r),
                ..
            } => (*r).max(backoff),
            _ => backoff,
        }
    }
}

/// The Bot API of one bot.
pub(super) struct BotApi {
    /// `{api_url}/bot{token}/`: holds the token.
    base: Secret,
    token: Secret,
    http: reqwest::Client,
}

impl BotApi {
    pub(super) fn new(api_url: &str, token: &Secret, http: reqwest::Client) -> BotApi {
        BotApi {
            base: Secret(format!("{api_url}/bot{}/", token.expose())),
            token: token.clone(),
            http,
        }
    }

    /// Text of Telegram's (or a proxy's) making, fit for a log line: one line, cut, no token.
    fn scrub(&self, text: &str) -> String {
        let text = text.replace(self.token.expose(), "<token>");
        let text = crate::actions::quote::one_line(&text);
        crate::actions::quote::cut_chars(&text, 200).into_owned()
    }

    async fn call(
        &self,
        method: &'static str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Value, ApiError> {
        let url = format!("{}{method}", self.base.expose());
        let net = |e: reqwest::Error| ApiError::Network(self.scrub(&e.without_url().to_string()));
        let resp = self
            .http
            .post(url)
            .timeout(timeout)
            .json(body)
            .send()
            .await
            .map_err(net)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(net)?;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) && answer["ok"] == true {
            return Ok(answer["result"].clone());
        }
        let description = answer["description"].as_str().unwrap_or(&text);
        Err(ApiError::Refused {
            method,
            status,
            description: self.scrub(description),
            retry_after: answer["parameters"]["retry_after"]
                .as_u64()
                .map(|s| Duration::from_secs(s.min(3600))),
        })
    }

    /// Long-polls for the updates from `offset` on (which confirms all before it), waiting
    /// up to `wait` for one. Returns every update read, in order, and the highest id seen
    /// (updates that could not be read included).
    pub(super) async fn get_updates(
        &self,
        offset: i64,
        wait: Duration,
    ) -> Result<(Vec<Update>, Option<i64>), ApiError> {
        let body = json!({
            "offset": offset,
            "timeout": wait.as_secs(),
            "allowed_updates": ["message", "callback_query"],
        });
        let result = self.call("getUpdates", &body, wait + POLL_SLACK).await?;
        let mut out = Vec::new();
        let mut highest = None;
        for u in result.as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let Some(id) = u["update_id"].as_i64() else {
                continue;
            };
            highest = highest.max(Some(id));
            match serde_json::from_value::<Update>(u.clone()) {
                Ok(update) => out.push(update),
                Err(e) => tracing::debug!(update = id, error = %e, "a Telegram update not read"),
            }
        }
        Ok((out, highest))
    }

    /// Sends `text` (plain, no parse mode: nothing in it is markup) to `chat`, with
    /// `buttons` (rows of (label, callback data)) when there are any.
    pub(super) async fn send(
        &self,
        chat: i64,
        text: &str,
        buttons: &[Vec<(String, String)>],
    ) -> Result<(), ApiError> {
        let text = crate::actions::render::cut_utf16(text, MESSAGE_MAX);
        let mut body = json!({
            "chat_id": chat,
            "text": text,
            "disable_web_page_preview": true,
        });
        if !buttons.is_empty() {
            body["reply_markup"] = keyboard(buttons);
        }
        self.call("sendMessage", &body, CALL_TIMEOUT)
            .await
            .map(drop)
    }

    /// Answers a button press (the client stops its spinner; `text` shows as a toast).
    pub(super) async fn answer_callback(&self, id: &str, text: &str) -> Result<(), ApiError> {
        let body =
            json!({ "callback_query_id": id, "text": crate::actions::quote::cut_chars(text, 190) });
        self.call("answerCallbackQuery", &body, CALL_TIMEOUT)
            .await
            .map(drop)
    }

    /// Removes the buttons of the bot's message `message_id` (a confirmation is pressed once).
    pub(super) async fn remove_buttons(&self, chat: i64, message_id: i64) -> Result<(), ApiError> {
        let body = json!({
            "chat_id": chat,
            "message_id": message_id,
            "reply_markup": { "inline_keyboard": [] },
        });
        self.call("editMessageReplyMarkup", &body, CALL_TIMEOUT)
            .await
            .map(drop)
    }
}

/// An `InlineKeyboardMarkup` of rows of (label, callback data).
fn keyboard(rows: &[Vec<(String, String)>]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            Value::Array(
                row.iter()
                    .map(|(label, data)| {
                        debug_assert!(data.len() <= super::command::CALLBACK_MAX);
                        json!({ "text": label, "callback_data": data })
                    })
                    .collect(),
            )
        })
        .collect();
    json!({ "inline_keyboard": rows })
}
