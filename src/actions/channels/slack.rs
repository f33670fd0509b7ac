//! The `slack` channel: an incoming webhook, as Block Kit sections or plain text.

use std::time::Duration;

use serde_json::json;

use crate::actions::channels::webhook::post_json;
use crate::actions::notification::Notification;
use crate::actions::{render, Channel, SendFuture};
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

/// What stands for a backtick inside a code block: U+02CB MODIFIER LETTER GRAVE ACCENT looks
/// like one and is no fence.
const BACKTICK_LOOKALIKE: char = '\u{2cb}';

/// Text for mrkdwn: `&`, `<` and `>` escaped as Slack documents (so `<!here>`, `<@U123>` and
/// `<http://x|y>` are text, not a mention or a link), every backtick replaced by a lookalike
/// (so no run of them can open or close a code block, whatever its length or count), and
/// control characters other than tab and newline made visible.
fn escape(s: &str) -> String {
    let s = crate::actions::quote::escape_controls(s, true);
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push(BACKTICK_LOOKALIKE),
            c => out.push(c),
        }
    }
    debug_assert!(!out.contains(['`', '<', '>']));
    out
}

/// `body` (escaped) as one code block, cut inside it so that a cut text still closes it.
/// Inside a code block Slack applies no `*bold*`, `_italic_` or `~strike~`; with every
/// backtick replaced, the block's own fences are the only ones in the text.
fn code_block(body: &str, max: usize) -> String {
    let body = escape(body);
    format!("```{}```", render::cut_utf16(&body, max - 6))
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
            let text = format!(
                "*{}*\n{}",
                escape(&subject).replace('*', "\u{2217}"),
                code_block(&render::body(batch, template), TEXT_MAX - 1000)
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
                let text = code_block(&body, SECTION_MAX);
                blocks.push(json!({
                    "type": "section",
                    "text": { "type": "mrkdwn", "text": text }
                }));
            }
            // The notification text shown outside Slack (a phone's banner) is mrkdwn too.
            json!({ "text": escape(&subject), "blocks": blocks })
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
