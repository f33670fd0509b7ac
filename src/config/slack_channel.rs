//! The settings of a `slack` channel: an incoming webhook (`url`), or a bot token and a
//! channel (`token` + `channel`, posting with `chat.postMessage`, which threads an
//! incident's end under its opening).

use crate::config::channel_kinds::{channel_url, http_url, secret_of, ChannelCx};
use crate::config::channels::{ChannelKind, SlackConfig, SlackStyle, SlackTarget};
use crate::config::error::Diagnostics;
use crate::config::raw::{RawChannel, SlackStyleText};

/// Slack's Web API, where `chat.postMessage` lives.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// A `slack` channel: `url` (webhook) or `token` + `channel` (bot), never both.
pub(super) fn slack(
    c: &RawChannel,
    cx: &ChannelCx,
    diags: &mut Diagnostics,
) -> Option<ChannelKind> {
    let name = cx.name;
    let token = secret_of(
        "token",
        &cx.owner,
        [&c.token, &c.token_file, &c.token_env, &c.token_credential],
    );
    let url_given = c.url.is_some()
        || c.url_file.is_some()
        || c.url_env.is_some()
        || c.url_credential.is_some();
    let style = match c.style.as_ref().map(|s| s.value) {
        None | Some(SlackStyleText::Blocks) => SlackStyle::Blocks,
        Some(SlackStyleText::Text) => SlackStyle::Text,
    };
    if !token.is_given() && c.channel.is_none() {
        // The webhook form, as before the bot form existed.
        if let Some(a) = &c.api_url {
            diags.at(cx.sources, a, format!("channel {name:?}: api_url applies to a bot `token`; a webhook's `url` is the whole address"));
        }
        let (given, url) = channel_url(c, cx, diags);
        if !given {
            return None;
        }
        return Some(ChannelKind::Slack(SlackConfig {
            target: SlackTarget::Webhook(url?),
            style,
        }));
    }
    if url_given {
        diags.at(
            cx.sources,
            cx.at,
            format!("slack channel {name:?}: give either `url` (an incoming webhook) or `token` and `channel` (a bot, which threads an incident's end), not both"),
        );
    }
    let token_ok = cx.need(
        token.is_given(),
        "token_file, token_env or token_credential (a bot token xoxb-...) with `channel`",
        diags,
    );
    let channel_ok = cx.need(
        c.channel
            .as_ref()
            .is_some_and(|ch| !ch.value.trim().is_empty()),
        "channel (the channel id, like \"C0123ABCD\") with its bot `token`",
        diags,
    );
    let secret = token.resolve(cx.sources, diags);
    let api_url = match &c.api_url {
        Some(u) => http_url(u, cx.sources, diags).unwrap_or_default(),
        None => DEFAULT_API_URL.to_string(),
    };
    if !(token_ok && channel_ok) || url_given {
        return None;
    }
    Some(ChannelKind::Slack(SlackConfig {
        target: SlackTarget::Bot {
            token: secret?,
            channel: c.channel.as_ref()?.value.trim().to_string(),
            api_url: api_url.trim_end_matches('/').to_string(),
        },
        style,
    }))
}
