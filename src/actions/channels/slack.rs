//! The `slack` channel: Block Kit sections or plain text, posted to an incoming webhook or,
//! with a bot token, by `chat.postMessage` (`slack_api`), whose answer's `ts` is kept in
//! `state_dir` (`actions::threads`) so that an incident's end is posted in the thread its
//! opening started (`thread_ts`), broadcast to the channel too (`reply_broadcast`).

use std::time::Duration;

use serde_json::json;

use crate::actions::channels::slack_api;
use crate::actions::channels::webhook::post_json;
use crate::actions::notification::Notification;
use crate::actions::threads::Threads;
use crate::actions::{render, Channel, SendFuture};
use crate::config::channels::{SlackConfig, SlackStyle, SlackTarget};
use crate::config::Secret;

/// Slack's limit on the text of one section block.
const SECTION_MAX: usize = 3000;
/// Slack cuts messages longer than this.
const TEXT_MAX: usize = 39_000;

/// Posts alerts to Slack.
pub struct Slack {
    target: Target,
    style: SlackStyle,
    template: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
}

/// Where the messages go.
enum Target {
    /// The incoming webhook's URL (a secret).
    Webhook(Secret),
    Bot {
        /// `{api_url}/chat.postMessage`.
        endpoint: String,
        token: Secret,
        channel: String,
        /// The `ts` of the messages that opened incident threads.
        threads: Threads,
    },
}

impl Slack {
    /// `threads` is used by the bot form only.
    pub fn new(
        cfg: &SlackConfig,
        template: Option<String>,
        http: reqwest::Client,
        timeout: Duration,
        threads: Threads,
    ) -> Result<Slack, String> {
        let target = match &cfg.target {
            SlackTarget::Webhook(url) => Target::Webhook(url.clone()),
            SlackTarget::Bot {
                token,
                channel,
                api_url,
            } => {
                let endpoint = format!("{api_url}/chat.postMessage");
                reqwest::Url::parse(&endpoint).map_err(|e| format!("api_url is not a URL: {e}"))?;
                Target::Bot {
                    endpoint,
                    token: token.clone(),
                    channel: channel.clone(),
                    threads,
                }
            }
        };
        Ok(Slack {
            target,
            style: cfg.style,
            template,
            http,
            timeout,
        })
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
            let mut body = payload(batch, self.style, self.template.as_deref());
            let (endpoint, token, channel, threads) = match &self.target {
                Target::Webhook(url) => {
                    return post_json(&self.http, url.expose(), &body, self.timeout)
                        .await
                        .map(|_| ());
                }
                Target::Bot {
                    endpoint,
                    token,
                    channel,
                    threads,
                } => (endpoint, token, channel, threads),
            };
            body["channel"] = json!(channel);
            // A link in a quoted log line stays a link, never a preview fetched from it.
            body["unfurl_links"] = json!(false);
            body["unfurl_media"] = json!(false);
            let thread = batch.iter().find_map(|n| n.thread.as_ref());
            if let Some(ts) = thread
                .filter(|t| !t.opens)
                .and_then(|t| threads.get(&t.key))
            {
                // The end of an incident: in its thread, and shown in the channel too, as a
                // Telegram reply or a mail reply is (docs/alerts.md).
                body["thread_ts"] = json!(ts);
                body["reply_broadcast"] = json!(true);
            }
            let ts =
                slack_api::post_message(&self.http, endpoint, token, &body, self.timeout).await?;
            if let (Some(t), Some(ts)) = (thread.filter(|t| t.opens), ts) {
                threads.put(&t.key, ts);
            }
            Ok(())
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
