//! The `slack` channel: an incoming webhook, as Block Kit sections or plain text.

use std::time::Duration;

use serde_json::json;

use super::notification::Notification;
use super::webhook::post_json;
use super::{render, Channel, SendFuture};
use crate::config::channels::{SlackConfig, SlackStyle};
use crate::config::Secret;

/// Slack's limit on the text of one section block.
const SECTION_MAX: usize = 3000;
/// Slack cuts messages longer than this.
const TEXT_MAX: usize = 39_000;

/// Posts alerts to a Slack incoming webhook.
pub struct Slack {
    url: Secret,
    style: SlackStyle,
    template: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
}

impl Slack {
    pub fn new(
        cfg: &SlackConfig,
        template: Option<String>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Slack {
        Slack {
            url: cfg.url.clone(),
            style: cfg.style,
            template,
            http,
            timeout,
        }
    }
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The webhook body for a batch.
pub fn payload(
    batch: &[Notification],
    style: SlackStyle,
    template: Option<&str>,
) -> serde_json::Value {
    let subject = render::subject(batch, None);
    match style {
        SlackStyle::Text => {
            // The subject is one line; the body is cut inside its code block.
            let body = escape(&render::body(batch, template));
            let text = format!(
                "*{}*\n```{}```",
                escape(&subject),
                render::cut_utf16(&body, TEXT_MAX - 1000)
            );
            json!({ "text": text })
        }
        SlackStyle::Blocks => {
            let mut blocks = vec![json!({
                "type": "header",
                "text": { "type": "plain_text", "text": render::cut_utf16(&subject, 150) }
            })];
            for n in batch.iter().take(20) {
                let body = match template {
                    Some(t) => render::fill(t, n),
                    None => render::text(n),
                };
                // Cut inside the code block, so that a cut text still closes it.
                let body = escape(&body);
                let text = format!("```{}```", render::cut_utf16(&body, SECTION_MAX - 6));
                blocks.push(json!({
                    "type": "section",
                    "text": { "type": "mrkdwn", "text": text }
                }));
            }
            json!({ "text": subject, "blocks": blocks })
        }
    }
}

impl Channel for Slack {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let body = payload(batch, self.style, self.template.as_deref());
            post_json(&self.http, self.url.expose(), &body, self.timeout)
                .await
                .map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::notification::{sample, Kind};

    #[test]
    fn a_long_alert_is_cut_inside_its_code_block() {
        let mut n = sample(1, "team", Kind::Notice);
        n.alert.line = Some("x<y ".repeat(5000));
        for style in [SlackStyle::Blocks, SlackStyle::Text] {
            let v = payload(std::slice::from_ref(&n), style, None);
            let texts: Vec<&str> = match style {
                SlackStyle::Blocks => vec![v["blocks"][1]["text"]["text"].as_str().unwrap()],
                SlackStyle::Text => vec![v["text"].as_str().unwrap()],
            };
            for t in texts {
                assert!(t.ends_with("```"), "the code block is closed");
                assert!(t.contains("&lt;"), "mrkdwn control characters escaped");
                let max = if style == SlackStyle::Blocks {
                    SECTION_MAX
                } else {
                    TEXT_MAX
                };
                assert!(t.encode_utf16().count() <= max);
            }
        }
    }
}
