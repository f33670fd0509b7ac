//! `[channels.NAME]` and `[alerts]`: where alerts go and how they are grouped, repeated,
//! limited and redacted, validated into types the actions can trust.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::error::Diagnostics;
use crate::config::located::resolve_path;
use crate::config::located::{Located, SourceMap};
use crate::config::range::{self, days, secs};
use crate::config::raw::severity_of;
use crate::config::raw::{
    ChannelKindText, ChatIdText, EmailTlsText, RawAlerts, RawChannel, SeverityText, SlackStyleText,
};
use crate::config::secret::{Secret, SecretSource};
use crate::core::alert::Severity;

/// Default wait before a channel sends, so alerts that fire together go out as one message.
pub const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(10);
/// Default reminder interval while an alert keeps firing (Alertmanager's default too).
pub const DEFAULT_REPEAT: Duration = Duration::from_secs(4 * 3600);
/// Default longest wait between two tries of a failing channel.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(300);
/// Default time a notification keeps failing before it goes to the fallback channel.
pub const DEFAULT_FALLBACK_AFTER: Duration = Duration::from_secs(60);
/// Default bound on one delivery (connect, TLS, send, answer).
pub const DEFAULT_CHANNEL_TIMEOUT: Duration = Duration::from_secs(30);
/// Default re-send interval of firing alerts to Alertmanager (Prometheus sends every minute;
/// alerts not re-sent are resolved by Alertmanager after their `endsAt`).
pub const DEFAULT_AM_RESEND: Duration = Duration::from_secs(60);
/// Default most notifications waiting per channel.
pub const DEFAULT_SPOOL_MAX: usize = 10_000;
/// The longest `group_wait` (of `[alerts]` and of a channel): an hour.
const GROUP_WAIT_MAX: Duration = Duration::from_secs(3600);
/// The most messages a `rate_limit` may allow per period.
const RATE_LIMIT_MAX_COUNT: u32 = 10_000;

/// `[alerts]` after defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertsConfig {
    pub group_wait: Duration,
    pub repeat: Duration,
    pub retry_max: Duration,
    /// Extra redaction regexes (validated).
    pub redact: Vec<String>,
    pub redact_defaults: bool,
    pub host: String,
    pub spool_max: usize,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            group_wait: DEFAULT_GROUP_WAIT,
            repeat: DEFAULT_REPEAT,
            retry_max: DEFAULT_RETRY_MAX,
            redact: Vec::new(),
            redact_defaults: true,
            host: hostname(),
            spool_max: DEFAULT_SPOOL_MAX,
        }
    }
}

/// One channel after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    pub kind: ChannelKind,
    /// Alerts less severe than this are not sent here.
    pub min_severity: Severity,
    pub group_wait: Duration,
    pub rate_limit: Option<RateLimit>,
    pub fallback: Option<String>,
    pub fallback_after: Duration,
    pub timeout: Duration,
    /// The text of one alert, with `{placeholders}` (see `actions::render`).
    pub template: Option<String>,
}

impl ChannelConfig {
    /// The built-in `console` channel.
    pub fn console() -> ChannelConfig {
        ChannelConfig {
            kind: ChannelKind::Console,
            min_severity: Severity::Info,
            group_wait: Duration::ZERO,
            rate_limit: None,
            fallback: None,
            fallback_after: DEFAULT_FALLBACK_AFTER,
            timeout: DEFAULT_CHANNEL_TIMEOUT,
            template: None,
        }
    }
}

/// At most `count` messages per `per`; more wait and go out together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per: Duration,
}

/// What kind of channel, with its own settings.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    Console,
    Email(EmailConfig),
    Telegram(TelegramConfig),
    Slack(SlackConfig),
    Webhook(WebhookConfig),
    Alertmanager(AlertmanagerConfig),
}

impl ChannelKind {
    /// The `type` as written in the config.
    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelKind::Console => "console",
            ChannelKind::Email(_) => "email",
            ChannelKind::Telegram(_) => "telegram",
            ChannelKind::Slack(_) => "slack",
            ChannelKind::Webhook(_) => "webhook",
            ChannelKind::Alertmanager(_) => "alertmanager",
        }
    }
}

/// How an email channel secures its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTls {
    /// Plain connection upgraded with STARTTLS, required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS: only for a relay on this machine.
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    pub tls: EmailTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
    pub to: Vec<String>,
    /// An extra trusted CA (PEM), for a server with a private certificate.
    pub ca_file: Option<PathBuf>,
    /// The subject, with `{placeholders}`.
    pub subject: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TelegramConfig {
    pub token: Secret,
    pub chat_id: String,
    pub api_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackStyle {
    Blocks,
    Text,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlackConfig {
    pub url: Secret,
    pub style: SlackStyle,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    pub url: Secret,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertmanagerConfig {
    /// Base URLs of the Alertmanagers of one cluster; each gets every alert.
    pub urls: Vec<String>,
    pub resend: Duration,
    /// Extra labels on every alert (`env = "prod"`).
    pub labels: BTreeMap<String, String>,
}

/// The machine's hostname, for the `host` of alerts.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Validates `[alerts]`.
pub fn resolve_alerts(
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
pub fn resolve_channels(
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
        ChannelKindText::Telegram => &["token", "chat_id", "api_url"],
        ChannelKindText::Slack => &["url", "style"],
        ChannelKindText::Webhook => &["url"],
        ChannelKindText::Alertmanager => &["urls", "resend", "labels"],
    }
}

/// The type-specific keys that are set, with their positions (`password_file` counts as
/// `password`).
fn present_keys(c: &RawChannel) -> Vec<(&'static str, usize, usize)> {
    fn at<T>(v: &Option<Located<T>>) -> Option<(usize, usize)> {
        v.as_ref().map(|v| (v.file, v.span.start))
    }
    let keys: [(&'static str, Option<(usize, usize)>); 25] = [
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
        ("api_url", at(&c.api_url)),
        ("url", at(&c.url)),
        ("url", at(&c.url_file)),
        ("url", at(&c.url_env)),
        ("url", at(&c.url_credential)),
        ("style", at(&c.style)),
        ("urls", at(&c.urls)),
        ("resend", at(&c.resend)),
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
                "channel {name:?} needs `type`: console, email, telegram, slack, webhook or alertmanager"
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
    let owner = format!("channel {name:?}");
    let need = |v: bool, what: &str, diags: &mut Diagnostics| {
        if !v {
            diags.at(
                sources,
                ch,
                format!("{} channel {name:?} needs `{what}`", type_word(kind.value)),
            );
        }
        v
    };
    let channel_kind = match kind.value {
        ChannelKindText::Console => ChannelKind::Console,
        ChannelKindText::Email => {
            let tls = match c.tls.as_ref().map(|t| t.value) {
                None | Some(EmailTlsText::Starttls) => EmailTls::StartTls,
                Some(EmailTlsText::Tls) => EmailTls::Implicit,
                Some(EmailTlsText::None) => EmailTls::None,
            };
            let port = match &c.port {
                Some(p) => range::number(p, "port", 1, u64::from(u16::MAX), sources, diags) as u16,
                None => match tls {
                    EmailTls::StartTls => 587,
                    EmailTls::Implicit => 465,
                    EmailTls::None => 25,
                },
            };
            let password = secret_of(
                "password",
                &owner,
                [
                    &c.password,
                    &c.password_file,
                    &c.password_env,
                    &c.password_credential,
                ],
            )
            .resolve(sources, diags);
            if password.is_some() && c.username.is_none() {
                diags.at(
                    sources,
                    ch,
                    format!("email channel {name:?} has a password but no `username`"),
                );
            }
            if tls == EmailTls::None && password.is_some() {
                diags.at(
                    sources,
                    ch,
                    format!("email channel {name:?}: refusing to send a password without TLS; use tls = \"starttls\" or \"tls\""),
                );
            }
            let host_ok = need(c.host.is_some(), "host", diags);
            let from_ok = need(c.from.is_some(), "from", diags);
            let to_ok = need(
                c.to.as_ref().is_some_and(|t| !t.value.is_empty()),
                "to (one or more addresses)",
                diags,
            );
            for addr in c
                .from
                .iter()
                .chain(c.to.iter().flat_map(|t| t.value.iter()))
            {
                if addr.value.parse::<lettre::message::Mailbox>().is_err() {
                    diags.at(
                        sources,
                        addr,
                        format!(
                            "{:?} is not an email address like \"Ops <ops@example.com>\"",
                            addr.value
                        ),
                    );
                }
            }
            let ca_file = c.ca_file.as_ref().map(|f| {
                let p = resolve_path(sources, f);
                if let Err(e) = std::fs::read(&p) {
                    diags.at(sources, f, format!("cannot read {}: {e}", p.display()));
                }
                p
            });
            if !(host_ok && from_ok && to_ok) {
                return None;
            }
            ChannelKind::Email(EmailConfig {
                host: c.host.as_ref()?.value.clone(),
                port,
                tls,
                username: c.username.as_ref().map(|u| u.value.clone()),
                password,
                from: c.from.as_ref()?.value.clone(),
                to: c
                    .to
                    .as_ref()?
                    .value
                    .iter()
                    .map(|t| t.value.clone())
                    .collect(),
                ca_file,
                subject: c.subject.as_ref().map(|s| s.value.clone()),
            })
        }
        ChannelKindText::Telegram => {
            let tk = secret_of(
                "token",
                &owner,
                [&c.token, &c.token_file, &c.token_env, &c.token_credential],
            );
            let token_given = need(
                tk.is_given(),
                "token_file, token_env or token_credential",
                diags,
            );
            let token = tk.resolve(sources, diags);
            let chat_ok = need(c.chat_id.is_some(), "chat_id", diags);
            let api_url = match &c.api_url {
                Some(u) => http_url(u, sources, diags).unwrap_or_default(),
                None => "https://api.telegram.org".to_string(),
            };
            if !(token_given && chat_ok) {
                return None;
            }
            ChannelKind::Telegram(TelegramConfig {
                token: token?,
                chat_id: match &c.chat_id.as_ref()?.value {
                    ChatIdText::Number(n) => n.to_string(),
                    ChatIdText::Text(t) => t.clone(),
                },
                api_url: api_url.trim_end_matches('/').to_string(),
            })
        }
        ChannelKindText::Slack | ChannelKindText::Webhook => {
            let u = secret_of(
                "url",
                &owner,
                [&c.url, &c.url_file, &c.url_env, &c.url_credential],
            );
            let given = need(
                u.is_given(),
                "url, url_file, url_env or url_credential",
                diags,
            );
            // A webhook URL usually is the credential (Slack's are); inline is allowed for a
            // plain local endpoint, with the usual warning.
            let url = u.resolve(sources, diags);
            if let Some(u) = &url {
                if !(u.0.starts_with("http://") || u.0.starts_with("https://")) {
                    diags.at(
                        sources,
                        ch,
                        format!("channel {name:?}: the url must start with http:// or https://"),
                    );
                }
            }
            if !given {
                return None;
            }
            if kind.value == ChannelKindText::Slack {
                ChannelKind::Slack(SlackConfig {
                    url: url?,
                    style: match c.style.as_ref().map(|s| s.value) {
                        None | Some(SlackStyleText::Blocks) => SlackStyle::Blocks,
                        Some(SlackStyleText::Text) => SlackStyle::Text,
                    },
                })
            } else {
                ChannelKind::Webhook(WebhookConfig { url: url? })
            }
        }
        ChannelKindText::Alertmanager => {
            let ok = need(
                c.urls.as_ref().is_some_and(|u| !u.value.is_empty()),
                "urls (one per Alertmanager of the cluster)",
                diags,
            );
            let urls: Vec<String> = c
                .urls
                .iter()
                .flat_map(|u| u.value.iter())
                .filter_map(|u| http_url(u, sources, diags))
                .map(|u| u.trim_end_matches('/').to_string())
                .collect();
            let resend = range::duration_or(
                &c.resend,
                "resend",
                (secs(1), days(1)),
                DEFAULT_AM_RESEND,
                sources,
                diags,
            );
            if !ok {
                return None;
            }
            ChannelKind::Alertmanager(AlertmanagerConfig {
                urls,
                resend,
                labels: c
                    .labels
                    .as_ref()
                    .map(|l| l.value.clone())
                    .unwrap_or_default(),
            })
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
    })
}

/// The four forms of one secret key: inline, `_file`, `_env`, `_credential`.
fn secret_of<'a>(
    key: &'a str,
    owner: &'a str,
    [inline, file, env, credential]: [&'a Option<Located<String>>; 4],
) -> SecretSource<'a> {
    SecretSource {
        key,
        owner,
        inline: inline.as_ref(),
        file: file.as_ref(),
        env: env.as_ref(),
        credential: credential.as_ref(),
    }
}

fn type_word(k: ChannelKindText) -> &'static str {
    match k {
        ChannelKindText::Console => "console",
        ChannelKindText::Email => "email",
        ChannelKindText::Telegram => "telegram",
        ChannelKindText::Slack => "slack",
        ChannelKindText::Webhook => "webhook",
        ChannelKindText::Alertmanager => "alertmanager",
    }
}

/// A URL that must be http(s).
fn http_url(u: &Located<String>, sources: &SourceMap, diags: &mut Diagnostics) -> Option<String> {
    if u.value.starts_with("http://") || u.value.starts_with("https://") {
        Some(u.value.clone())
    } else {
        diags.at(
            sources,
            u,
            format!("{:?} must start with http:// or https://", u.value),
        );
        None
    }
}

/// `"20/1h"` -> 20 per hour.
pub fn parse_rate_limit(text: &str) -> Result<RateLimit, String> {
    let bad = || format!("rate_limit {text:?} is not COUNT/DURATION like \"20/1h\" or \"1/10s\"");
    let (count, per) = text.split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    let per = crate::config::duration::parse_duration(per.trim()).map_err(|_| bad())?;
    if count == 0 || per.is_zero() {
        return Err(bad());
    }
    if count > RATE_LIMIT_MAX_COUNT || per > days(1) {
        return Err(format!(
            "rate_limit {text:?}: at most {RATE_LIMIT_MAX_COUNT} messages per at most 1d"
        ));
    }
    Ok(RateLimit { count, per })
}

/// Severity as written -> severity.
impl From<SeverityText> for Severity {
    fn from(s: SeverityText) -> Severity {
        severity_of(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_count_per_duration() {
        assert_eq!(
            parse_rate_limit("20/1h"),
            Ok(RateLimit {
                count: 20,
                per: Duration::from_secs(3600)
            })
        );
        assert!(parse_rate_limit("20 per hour").is_err());
        assert!(parse_rate_limit("0/1h").is_err());
    }
}
