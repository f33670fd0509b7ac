//! The `telegram` channel: `sendMessage` through `teloxide-core` (the send side of teloxide),
//! plain text cut to Telegram's 4096-character limit, `api_url` overridable (a local Bot API
//! server, or a test server). A 429 answer's `retry_after` is handed to the delivery worker,
//! which waits exactly that long.

use std::time::Duration;

use teloxide_core::requests::{Request, Requester};
use teloxide_core::types::{ChatId, Recipient};
use teloxide_core::{ApiError, Bot, RequestError};

use super::notification::Notification;
use super::{render, Channel, SendError, SendFuture};
use crate::config::channels::TelegramConfig;

/// Telegram's limit on one message, in UTF-16 code units.
pub const MESSAGE_MAX: usize = 4096;

/// Sends alerts to a Telegram chat.
pub struct Telegram {
    bot: Bot,
    chat: Recipient,
    template: Option<String>,
    timeout: Duration,
}

impl Telegram {
    pub fn new(
        cfg: &TelegramConfig,
        template: Option<String>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Result<Telegram, String> {
        let url =
            reqwest::Url::parse(&cfg.api_url).map_err(|e| format!("api_url is not a URL: {e}"))?;
        let bot = Bot::with_client(cfg.token.expose(), http).set_api_url(url);
        let chat = match cfg.chat_id.parse::<i64>() {
            Ok(id) => Recipient::Id(ChatId(id)),
            Err(_) => Recipient::ChannelUsername(cfg.chat_id.clone()),
        };
        Ok(Telegram {
            bot,
            chat,
            template,
            timeout,
        })
    }
}

impl Channel for Telegram {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let text = format!(
                "{}\n\n{}",
                render::subject(batch, None),
                render::body(batch, self.template.as_deref())
            );
            let text = render::cut_utf16(&text, MESSAGE_MAX);
            let request = self
                .bot
                .send_message(self.chat.clone(), text.as_ref())
                .send();
            match tokio::time::timeout(self.timeout, request).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(classify(e)),
                Err(_) => Err(SendError::transient(format!(
                    "Telegram did not answer within {}s",
                    self.timeout.as_secs()
                ))),
            }
        })
    }
}

/// Network errors pass; Telegram's own refusals (bad token, unknown chat) do not. A network
/// error's text is built without its URL, which holds the bot token.
fn classify(e: RequestError) -> SendError {
    match e {
        RequestError::RetryAfter(s) => {
            SendError::rate_limited("Telegram: too many requests (429)", s.duration())
        }
        RequestError::Network(e) => {
            let mut reason = "Telegram: network error".to_string();
            let mut source = std::error::Error::source(e.as_ref());
            while let Some(s) = source {
                reason.push_str(": ");
                reason.push_str(&s.to_string());
                source = s.source();
            }
            if e.is_timeout() {
                reason.push_str(" (timeout)");
            }
            SendError::transient(reason)
        }
        RequestError::Api(ApiError::Unknown(text)) => {
            SendError::transient(format!("Telegram API error: {text}"))
        }
        RequestError::Api(api) => SendError::permanent(format!("Telegram API error: {api}")),
        RequestError::MigrateToChatId(id) => SendError::permanent(format!(
            "Telegram: the group moved to supergroup {id}; set chat_id = {id}"
        )),
        RequestError::InvalidJson { .. } => {
            SendError::transient("Telegram: the answer was not the expected JSON")
        }
        RequestError::Io(e) => SendError::transient(format!("Telegram: I/O error: {e}")),
    }
}
