//! `[channels.NAME]` and `[alerts]` as the actions read them: where alerts go and how they
//! are grouped, repeated, limited and redacted. Resolved in `channel.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::range::days;
use crate::config::raw::{severity_of, SeverityText};
use crate::config::schedule::Schedule;
use crate::config::secret::Secret;
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
pub(super) const GROUP_WAIT_MAX: Duration = Duration::from_secs(3600);
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
    /// Quiet hours: outside `active`, only the more severe alerts go through at once.
    pub quiet: Option<QuietHours>,
}

/// A channel's quiet hours: `active` is when it takes everything from `min_severity` up;
/// outside it, what is less severe than `min_severity` (of this struct) is held until the
/// next active period, or dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct QuietHours {
    /// When the channel is fully active (the rules' schedule syntax).
    pub active: std::sync::Arc<Schedule>,
    /// Outside `active`, alerts at least this severe still go through at once.
    pub min_severity: Severity,
    pub mode: QuietMode,
}

/// What quiet hours do with an alert they keep back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietMode {
    /// Kept (in the spool) and sent when the next active period starts.
    Hold,
    /// Not sent to this channel at all, nor its resolution.
    Drop,
}

impl QuietHours {
    /// Whether an alert of `severity` waits (or is dropped) at `now`.
    pub fn keeps_back(&self, severity: Severity, now: jiff::Timestamp) -> bool {
        severity < self.min_severity && !self.active.is_active(now)
    }
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
            quiet: None,
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
    Ntfy(NtfyConfig),
    Discord(DiscordConfig),
    Gotify(GotifyConfig),
    Matrix(MatrixConfig),
    Pushover(PushoverConfig),
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
            ChannelKind::Ntfy(_) => "ntfy",
            ChannelKind::Discord(_) => "discord",
            ChannelKind::Gotify(_) => "gotify",
            ChannelKind::Matrix(_) => "matrix",
            ChannelKind::Pushover(_) => "pushover",
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
    /// `control = true`: commands are taken from the chat (docs/telegram.md), from these
    /// users only; `None` without `control`.
    pub control: Option<TelegramControl>,
}

/// Who may command logwarden through a `telegram` channel with `control = true`.
#[derive(Debug, Clone, PartialEq)]
pub struct TelegramControl {
    /// Telegram's numeric user ids (never usernames, which their owners can change).
    pub users: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackStyle {
    Blocks,
    Text,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlackConfig {
    pub target: SlackTarget,
    pub style: SlackStyle,
}

/// Where a `slack` channel posts.
#[derive(Debug, Clone, PartialEq)]
pub enum SlackTarget {
    /// An incoming webhook (the URL is the secret): no message id comes back, so an
    /// incident's end is a message of its own.
    Webhook(Secret),
    /// A bot token and `chat.postMessage` to `channel`: the answer's `ts` threads the
    /// incident's end (`thread_ts`).
    Bot {
        token: Secret,
        /// A channel id (`C0123ABCD`) or name.
        channel: String,
        /// Slack's Web API base, `https://slack.com/api` unless overridden (tests).
        api_url: String,
    },
}

impl SlackTarget {
    /// The secret the target holds (the webhook URL or the bot token).
    pub fn secret(&self) -> &Secret {
        match self {
            SlackTarget::Webhook(url) => url,
            SlackTarget::Bot { token, .. } => token,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    pub url: Secret,
    /// The operator's body, with `{placeholders}` whose values are escaped for the body's
    /// type; `None`: logwarden's documented JSON of the whole batch.
    pub body: Option<WebhookBody>,
}

/// A webhook body template and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookBody {
    pub template: String,
    /// `Content-Type` of the request.
    pub content_type: String,
    /// The body is JSON: every value is escaped as the inside of a JSON string.
    pub json: bool,
}

/// An `ntfy` channel: a server (ntfy.sh or self-hosted), a topic, an optional access token.
#[derive(Debug, Clone, PartialEq)]
pub struct NtfyConfig {
    /// The server's base URL, without a trailing slash.
    pub url: Secret,
    /// Whoever knows it can read the topic on a public server: a secret like a token.
    pub topic: Secret,
    pub token: Option<Secret>,
}

/// A `discord` channel: its webhook URL (which is the credential).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscordConfig {
    pub url: Secret,
}

/// A `gotify` channel: the server's base URL and an application token.
#[derive(Debug, Clone, PartialEq)]
pub struct GotifyConfig {
    pub url: Secret,
    pub token: Secret,
}

/// A `matrix` channel: the homeserver's base URL, an access token, a room id.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixConfig {
    pub url: Secret,
    pub token: Secret,
    pub room: String,
}

/// A `pushover` channel: the application token and the user (or group) key.
#[derive(Debug, Clone, PartialEq)]
pub struct PushoverConfig {
    /// `https://api.pushover.net` unless overridden (a test server).
    pub api_url: String,
    pub token: Secret,
    pub user: Secret,
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
