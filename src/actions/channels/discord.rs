//! The `discord` channel: an execute-webhook POST per batch. The whole text stands in one code
//! block, so nothing in a log line is markdown, a link or a mention: every backtick becomes
//! a lookalike (no fence can close the block) and `allowed_mentions` is empty, so even an
//! `@everyone` pings no one. Cut to Discord's 2,000 characters. A 429 answer's
//! `retry_after` (seconds, in its JSON) is waited.

use std::time::Duration;

use serde_json::json;

use crate::actions::notification::Notification;
use crate::actions::{render, send_request, Answer, Channel, SendError, SendFuture};
use crate::config::channels::DiscordConfig;
use crate::config::Secret;

/// Discord's limit on `content`, in characters.
pub const CONTENT_MAX: usize = 2000;

/// Stands for a backtick inside the code block (U+02CB looks like one and is no fence).
const BACKTICK_LOOKALIKE: char = '\u{2cb}';

/// Posts alerts to a Discord webhook.
pub struct Discord {
    url: Secret,
    template: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
}

impl Discord {
    pub fn new(
        cfg: &DiscordConfig,
        template: Option<String>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Discord {
        Discord {
            url: cfg.url.clone(),
            template,
            http,
            timeout,
        }
    }
}

/// The webhook body for a batch: the subject and the body in one code block.
pub fn payload(batch: &[Notification], template: Option<&str>) -> serde_json::Value {
    let text = format!(
        "{}\n\n{}",
        render::subject(batch, None),
        render::body(batch, template)
    );
    let inert: String = crate::actions::quote::escape_controls(&text, true)
        .chars()
        .map(|c| if c == '`' { BACKTICK_LOOKALIKE } else { c })
        .collect();
    // The fences and their newlines take 8 characters of the limit.
    let inner: String = inert.chars().take(CONTENT_MAX - 8).collect();
    json!({
        "content": format!("```\n{inner}\n```"),
        "allowed_mentions": { "parse": [] },
    })
}

impl Channel for Discord {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let body = payload(batch, self.template.as_deref());
            let req = self
                .http
                .post(self.url.expose())
                .timeout(self.timeout)
                .json(&body);
            let Answer {
                status,
                retry_after: header,
                text,
            } = send_request(req).await?;
            if status.is_success() {
                return Ok(());
            }
            let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            // `retry_after` is in seconds with a fraction; the header in whole seconds.
            let retry = answer["retry_after"]
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Duration::from_secs_f64(s.min(3600.0)))
                .or(header);
            let why = answer["message"].as_str().unwrap_or(&text).to_string();
            Err(SendError::from_status(status, retry, &why)
                .with_reason(format!("Discord answered HTTP {status}: {}", why.trim())))
        })
    }
}
