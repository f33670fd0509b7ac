//! Resolving `[alerts]` and every `[channels.NAME]`: names, types, the keys each type takes,
//! fallbacks that exist and form no loop, and the keys common to every channel.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::channel_kinds::{self, type_word, ChannelCx};
use crate::config::channels::{
    parse_rate_limit, AlertsConfig, ChannelConfig, ChannelKind, QuietHours, QuietMode,
    DEFAULT_CHANNEL_TIMEOUT, DEFAULT_FALLBACK_AFTER, GROUP_WAIT_MAX,
};
use crate::config::error::Diagnostics;
use crate::config::located::{Located, SourceMap};
use crate::config::range::{self, days, secs};
use crate::config::raw::{severity_of, ChannelKindText, QuietText, RawAlerts, RawChannel};
use crate::config::schedule::resolve_schedule;
use crate::config::slack_channel;
use crate::core::alert::Severity;

/// Validates `[alerts]`.
pub(super) fn resolve_alerts(
    raw: Option<&RawAlerts>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> AlertsConfig {
    let mut out = AlertsConfig::default();
    let Some(a) = raw else { return out };
    if let Some(v) = &a.group_wait {
        out.group_wait = range::duration(
            v,
            "group_wait",
            Duration::ZERO,
            GROUP_WAIT_MAX,
            sources,
            diags,
        );
    }
    if let Some(v) = &a.repeat {
        out.repeat = range::duration(v, "repeat", secs(60), days(30), sources, diags);
    }
    if let Some(v) = &a.retry_max {
        out.retry_max = range::duration(v, "retry_max", secs(1), days(1), sources, diags);
    }
    for r in a.redact.iter().flatten() {
        match regex::Regex::new(&r.value) {
            Ok(_) => out.redact.push(r.value.clone()),
            Err(e) => diags.at(
                sources,
                r,
                format!(
                    "redact regex does not compile: {}",
                    e.to_string().replace('\n', " ")
                ),
            ),
        }
    }
    if let Some(v) = &a.redact_defaults {
        out.redact_defaults = v.value;
    }
    if let Some(v) = &a.host {
        out.host = v.value.clone();
    }
    if let Some(v) = &a.spool_max {
        out.spool_max = range::number(v, "spool_max", 1, 1_000_000, sources, diags) as usize;
    }
    out
}

/// Validates every `[channels.NAME]`; the built-in `console` is always there.
pub(super) fn resolve_channels(
    raw: &BTreeMap<String, Located<RawChannel>>,
    alerts: &AlertsConfig,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> BTreeMap<String, ChannelConfig> {
    let mut out = BTreeMap::new();
    out.insert("console".to_string(), ChannelConfig::console());
    for (name, ch) in raw {
        if let Some(c) = resolve_channel(name, ch, alerts, sources, diags) {
            out.insert(name.clone(), c);
        }
    }
    // Fallbacks name a channel, not themselves, and never form a loop.
    for (name, ch) in raw {
        let Some(fb) = &ch.value.fallback else {
            continue;
        };
        if !out.contains_key(&fb.value) {
            diags.at(
                sources,
                fb,
                format!(
                    "channel {name:?}: fallback {:?} is not a channel; define it under [channels.{}]",
                    fb.value, fb.value
                ),
            );
            continue;
        }
        let mut seen = vec![name.as_str()];
        let mut next = Some(fb.value.as_str());
        while let Some(n) = next {
            if seen.contains(&n) {
                diags.at(
                    sources,
                    fb,
                    format!(
                        "channel {name:?}: fallbacks form a loop ({} -> {n})",
                        seen.join(" -> ")
                    ),
                );
                break;
            }
            seen.push(n);
            next = out.get(n).and_then(|c| c.fallback.as_deref());
        }
    }
    out
}

/// Keys each type takes, beyond the ones every channel takes.
fn keys_of(kind: ChannelKindText) -> &'static [&'static str] {
    match kind {
        ChannelKindText::Console => &[],
        ChannelKindText::Email => &[
            "host", "port", "tls", "username", "password", "from", "to", "ca_file", "subject",
        ],
        ChannelKindText::Telegram => &["token", "chat_id", "api_url", "control", "control_users"],
        ChannelKindText::Slack => &["url", "style", "token", "channel", "api_url"],
        ChannelKindText::Webhook => &["url", "body", "content_type"],
        ChannelKindText::Alertmanager => &["urls", "resend", "labels"],
        ChannelKindText::Ntfy => &["url", "topic", "token"],
        ChannelKindText::Discord => &["url"],
        ChannelKindText::Gotify => &["url", "token"],
        ChannelKindText::Matrix => &["url", "token", "room"],
        ChannelKindText::Pushover => &["token", "user", "api_url"],
    }
}

/// The type-specific keys that are set, with their positions (`password_file` counts as
/// `password`).
fn present_keys(c: &RawChannel) -> Vec<(&'static str, usize, usize)> {
    fn at<T>(v: &Option<Located<T>>) -> Option<(usize, usize)> {
        v.as_ref().map(|v| (v.file, v.span.start))
    }
    let keys: [(&'static str, Option<(usize, usize)>); 36] = [
        ("host", at(&c.host)),
        ("port", at(&c.port)),
        ("tls", at(&c.tls)),
        ("username", at(&c.username)),
        ("password", at(&c.password)),
        ("password", at(&c.password_file)),
        ("password", at(&c.password_env)),
        ("password", at(&c.password_credential)),
        ("from", at(&c.from)),
        ("to", at(&c.to)),
        ("ca_file", at(&c.ca_file)),
        ("subject", at(&c.subject)),
        ("token", at(&c.token)),
        ("token", at(&c.token_file)),
        ("token", at(&c.token_env)),
        ("token", at(&c.token_credential)),
        ("chat_id", at(&c.chat_id)),
        ("channel", at(&c.channel)),
        ("api_url", at(&c.api_url)),
        ("control", at(&c.control)),
        ("control_users", at(&c.control_users)),
        ("url", at(&c.url)),
        ("url", at(&c.url_file)),
        ("url", at(&c.url_env)),
        ("url", at(&c.url_credential)),
        ("style", at(&c.style)),
        ("body", at(&c.body)),
        ("content_type", at(&c.content_type)),
        ("urls", at(&c.urls)),
        ("resend", at(&c.resend)),
        ("topic", at(&c.topic)),
        ("room", at(&c.room)),
        ("user", at(&c.user)),
        ("user", at(&c.user_file)),
        ("user", at(&c.user_env)),
        ("user", at(&c.user_credential)),
    ];
    let mut out: Vec<_> = keys
        .into_iter()
        .filter_map(|(k, p)| p.map(|(f, o)| (k, f, o)))
        .collect();
    if let Some(l) = &c.labels {
        out.push(("labels", l.file, l.span.start));
    }
    out
}

/// One `[channels.NAME]`: its type's settings and the keys every channel takes.
fn resolve_channel(
    name: &str,
    ch: &Located<RawChannel>,
    alerts: &AlertsConfig,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<ChannelConfig> {
    let c = &ch.value;
    let errors_before = diags.len();
    if name == "console" {
        diags.at(
            sources,
            ch,
            "[channels.console] is built in; give your channel another name".into(),
        );
        return None;
    }
    if !crate::config::raw::valid_name(name) {
        diags.at(
            sources,
            ch,
            format!("channel name {name:?} may hold only letters, digits, '-', '_', '.' and '@'"),
        );
        return None;
    }
    let Some(kind) = &c.kind else {
        diags.at(
            sources,
            ch,
            format!(
                "channel {name:?} needs `type`: console, email, telegram, slack, webhook, alertmanager, ntfy, discord, gotify, matrix or pushover"
            ),
        );
        return None;
    };
    let allowed = keys_of(kind.value);
    for (key, file, offset) in present_keys(c) {
        if !allowed.contains(&key) {
            diags.push(format!(
                "{}: `{key}` does not apply to a {} channel (channel {name}); it takes: {}",
                sources.position(file, offset),
                type_word(kind.value),
                if allowed.is_empty() {
                    "only the common keys".to_string()
                } else {
                    allowed.join(", ")
                }
            ));
        }
    }
    let cx = ChannelCx {
        sources,
        at: ch,
        name,
        owner: format!("channel {name:?}"),
        kind: kind.value,
    };
    let channel_kind = match kind.value {
        ChannelKindText::Console => ChannelKind::Console,
        ChannelKindText::Email => channel_kinds::email(c, &cx, diags)?,
        ChannelKindText::Telegram => channel_kinds::telegram(c, &cx, diags)?,
        ChannelKindText::Slack => slack_channel::slack(c, &cx, diags)?,
        ChannelKindText::Webhook => channel_kinds::webhook(c, &cx, diags)?,
        ChannelKindText::Alertmanager => channel_kinds::alertmanager(c, &cx, diags)?,
        ChannelKindText::Ntfy => channel_kinds::ntfy(c, &cx, diags)?,
        ChannelKindText::Pushover => channel_kinds::pushover(c, &cx, diags)?,
        ChannelKindText::Discord | ChannelKindText::Gotify | ChannelKindText::Matrix => {
            channel_kinds::discord_or_gotify(c, &cx, diags)?
        }
    };
    let rate_limit = c
        .rate_limit
        .as_ref()
        .and_then(|r| match parse_rate_limit(&r.value) {
            Ok(l) => Some(l),
            Err(e) => {
                diags.at(sources, r, e);
                None
            }
        });
    for t in [&c.template, &c.subject].into_iter().flatten() {
        if let Err(e) = crate::core::text_template::check(&t.value) {
            diags.at(sources, t, format!("channel {name:?}: template: {e}"));
        }
    }
    if diags.len() > errors_before {
        return None;
    }
    let is_console = matches!(channel_kind, ChannelKind::Console);
    let group_wait = range::duration_or(
        &c.group_wait,
        "group_wait",
        (Duration::ZERO, GROUP_WAIT_MAX),
        if is_console {
            Duration::ZERO
        } else {
            alerts.group_wait
        },
        sources,
        diags,
    );
    let fallback_after = range::duration_or(
        &c.fallback_after,
        "fallback_after",
        (Duration::ZERO, days(1)),
        DEFAULT_FALLBACK_AFTER,
        sources,
        diags,
    );
    let timeout = range::duration_or(
        &c.timeout,
        "timeout",
        (range::ms(100), secs(600)),
        DEFAULT_CHANNEL_TIMEOUT,
        sources,
        diags,
    );
    let quiet = quiet_hours(name, c, sources, diags);
    if diags.len() > errors_before {
        return None;
    }
    Some(ChannelConfig {
        kind: channel_kind,
        min_severity: c
            .min_severity
            .as_ref()
            .map(|s| severity_of(s.value))
            .unwrap_or(Severity::Info),
        group_wait,
        rate_limit,
        fallback: c.fallback.as_ref().map(|f| f.value.clone()),
        fallback_after,
        timeout,
        template: c.template.as_ref().map(|t| t.value.clone()),
        quiet,
    })
}

/// `active`, `quiet_min_severity` and `quiet`: the channel's quiet hours. The last two
/// without `active` are an error (they would never apply).
fn quiet_hours(
    name: &str,
    c: &RawChannel,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<QuietHours> {
    let owner = format!("channel {name:?}");
    let Some(active) = &c.active else {
        let stray = c
            .quiet_min_severity
            .as_ref()
            .map(|q| (q.file, q.span.start))
            .or(c.quiet.as_ref().map(|q| (q.file, q.span.start)));
        if let Some((file, offset)) = stray {
            diags.push(format!(
                "{}: quiet_min_severity and quiet apply outside `active`; set `active = \"Mon-Sun 07:00-22:00 Europe/Berlin\"` on {owner}",
                sources.position(file, offset)
            ));
        }
        return None;
    };
    let schedule = resolve_schedule(&owner, Some(active), None, None, sources, diags)?;
    Some(QuietHours {
        active: std::sync::Arc::new(schedule),
        min_severity: c
            .quiet_min_severity
            .as_ref()
            .map(|s| severity_of(s.value))
            .unwrap_or(Severity::Critical),
        mode: match c.quiet.as_ref().map(|q| q.value) {
            None | Some(QuietText::Hold) => QuietMode::Hold,
            Some(QuietText::Drop) => QuietMode::Drop,
        },
    })
}
