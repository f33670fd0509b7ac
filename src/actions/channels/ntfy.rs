//! The `ntfy` channel: one JSON publish per batch to an ntfy server (ntfy.sh or
//! self-hosted), as its documented API takes it (`POST /` with `topic`, `title`, `message`,
//! `priority`, `tags`), with a bearer token for a protected topic. The message is plain text
//! (no `markdown`), so nothing in a log line is markup; the severity sets the phone's
//! priority: critical 5 (urgent), warning 4 (high), the rest 3. A 429 answer is waited out
//! (its `Retry-After`, else the delivery worker's default).

use std::time::Duration;

use serde_json::json;

use crate::actions::notification::Notification;
use crate::actions::{render, send_request, Answer, Channel, SendError, SendFuture};
use crate::config::channels::NtfyConfig;
use crate::config::Secret;
use crate::core::alert::{AlertState, Severity};

/// ntfy turns a longer message into an attachment: keep under its 4,096 bytes.
pub const MESSAGE_MAX_BYTES: usize = 4000;

/// Publishes alerts to an ntfy topic.
pub struct Ntfy {
    url: Secret,
    topic: Secret,
    token: Option<Secret>,
    template: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
}

impl Ntfy {
    pub fn new(
        cfg: &NtfyConfig,
        template: Option<String>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Result<Ntfy, String> {
        reqwest::Url::parse(cfg.url.expose()).map_err(|e| format!("url is not a URL: {e}"))?;
        Ok(Ntfy {
            url: cfg.url.clone(),
            topic: cfg.topic.clone(),
            token: cfg.token.clone(),
            template,
            http,
            timeout,
        })
    }
}

/// The publish body for a batch.
pub fn payload(topic: &str, batch: &[Notification], template: Option<&str>) -> serde_json::Value {
    let firing = batch
        .iter()
        .filter(|n| n.alert.state != AlertState::Resolved)
        .map(|n| n.alert.severity)
        .max();
    let (priority, tag) = match firing {
        Some(Severity::Critical) => (5, "rotating_light"),
        Some(Severity::Warning) => (4, "warning"),
        Some(Severity::Info) => (3, "information_source"),
        None => (3, "white_check_mark"),
    };
    let message = render::body(batch, template);
    json!({
        "topic": topic,
        "title": render::subject(batch, None),
        "message": cut_bytes(&message, MESSAGE_MAX_BYTES),
        "priority": priority,
        "tags": [tag],
    })
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn cut_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Channel for Ntfy {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let body = payload(self.topic.expose(), batch, self.template.as_deref());
            let mut req = self
                .http
                .post(self.url.expose())
                .timeout(self.timeout)
                .json(&body);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t.expose());
            }
            let Answer {
                status,
                retry_after: retry,
                text,
            } = send_request(req).await?;
            if status.is_success() {
                return Ok(());
            }
            // ntfy explains in JSON: {"code": 42901, "http": 429, "error": "..."}.
            let why = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or(text);
            Err(SendError::from_status(status, retry, &why)
                .with_reason(format!("ntfy answered HTTP {status}: {}", why.trim())))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_cut_at_a_character_boundary() {
        let text = "é".repeat(3000);
        let cut = cut_bytes(&text, MESSAGE_MAX_BYTES);
        assert!(cut.len() <= MESSAGE_MAX_BYTES && cut.len() >= MESSAGE_MAX_BYTES - 1);
        assert_eq!(cut_bytes("short", 10), "short");
    }
}
