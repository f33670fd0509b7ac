//! The config file schema as written by operators, one file at a time.
//!
//! Every field is optional here so that a drop-in may set only what it overrides; required
//! fields are checked after all files are merged (see `resolve` in `mod.rs`). Unknown keys are rejected
//! (`deny_unknown_fields`) so a typo never silently disables a rule.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::duration::ConfigDuration;
use crate::config::located::Located;
pub use crate::config::raw_threshold::Threshold;
use crate::config::raw_values::{AggregateText, UnitText};
use crate::core::alert::Severity;

/// One config file (`logwarden.toml` or a drop-in).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub daemon: Option<RawDaemon>,
    #[serde(default)]
    pub watch: Vec<RawWatch>,
    #[serde(default)]
    pub channels: BTreeMap<String, Located<RawChannel>>,
    pub alerts: Option<RawAlerts>,
}

/// `[daemon]`: settings of the process itself.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    pub state_dir: Option<Located<String>>,
    pub patterns_dir: Option<Located<String>>,
    /// How often file sources stat their files to catch what inotify missed.
    pub poll_interval: Option<Located<ConfigDuration>>,
    /// `127.0.0.1:9107`: serve /health, /metrics, /status there; empty or absent: off.
    pub listen: Option<Located<String>>,
    /// Names (besides the listen address and `localhost`) the endpoint answers to in `Host`.
    pub listen_hosts: Option<Located<Vec<Located<String>>>>,
    /// Bearer token every request to the endpoint must carry (a secret: prefer the file).
    pub listen_token: Option<Located<String>>,
    pub listen_token_file: Option<Located<String>>,
    pub listen_token_env: Option<Located<String>>,
    pub listen_token_credential: Option<Located<String>>,
    /// `true`: a `listen` reachable from other machines may go without a token.
    pub listen_unauthenticated: Option<Located<bool>>,
    /// Dead-man's switch: pinged while healthy (healthchecks.io style). A secret: prefer
    /// `heartbeat_url_env` or `heartbeat_url_file`.
    pub heartbeat_url: Option<Located<String>>,
    pub heartbeat_url_env: Option<Located<String>>,
    pub heartbeat_url_file: Option<Located<String>>,
    pub heartbeat_url_credential: Option<Located<String>>,
    pub heartbeat_every: Option<Located<ConfigDuration>>,
}

/// `[[watch]]`: one watched service. Drop-ins merge into the watch with the same `name`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWatch {
    pub name: Located<String>,
    pub unit: Option<Located<String>>,
    pub files: Option<Located<Vec<Located<String>>>>,
    pub patterns: Option<Located<Vec<Located<String>>>>,
    pub notify: Option<Located<Vec<Located<String>>>>,
    pub start_at: Option<Located<StartAtText>>,
    pub max_line_bytes: Option<Located<u64>>,
    /// Where the files' rotated generations go when not beside them (logrotate's `olddir`).
    pub olddir: Option<Located<String>>,
    /// How lines carry their time, for `replay`: `"auto"` or a strftime format.
    pub timestamp_format: Option<Located<String>>,
    /// How lines are written: `"plain"`, `"json"`, `"logfmt"`, `"auto"` (structured lines).
    pub format: Option<Located<String>>,
    /// The key (JSON path) of a structured line's level, instead of the usual ones.
    pub level_field: Option<Located<String>>,
    pub multiline: Option<Located<RawMultiline>>,
    pub journal: Option<Located<RawJournal>>,
    pub restart: Option<Located<RawRestart>>,
    #[serde(default)]
    pub probe: Vec<RawProbe>,
    #[serde(default)]
    pub rule: Vec<RawRule>,
}

/// `[watch.restart]`: how (and how often) logwarden may restart the watched service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRestart {
    /// A command instead of systemd (services not under systemd).
    pub command: Option<Located<Vec<String>>>,
    /// For a user unit: `systemctl --user --machine=USER@`.
    pub user: Option<Located<String>>,
    pub stop_timeout: Option<Located<ConfigDuration>>,
    pub verify_after: Option<Located<ConfigDuration>>,
    pub max_restarts: Option<Located<u64>>,
    pub window: Option<Located<ConfigDuration>>,
    pub backoff: Option<Located<ConfigDuration>>,
    pub backoff_max: Option<Located<ConfigDuration>>,
    /// Healthy this long after a restart: the backoff starts over.
    pub healthy_after: Option<Located<ConfigDuration>>,
    pub startup_grace: Option<Located<ConfigDuration>>,
    /// Rules or probes that must also be firing for a restart.
    pub confirm: Option<Vec<Located<String>>>,
}

/// `[[watch.probe]]`: an active check of the service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub name: Located<String>,
    pub kind: Located<ProbeKindText>,
    pub every: Option<Located<ConfigDuration>>,
    pub timeout: Option<Located<ConfigDuration>>,
    /// Consecutive failures before the probe counts as down.
    pub failures: Option<Located<u64>>,
    /// `http`: the URL to GET.
    pub url: Option<Located<String>>,
    /// `heartbeat`: the file; `disk`: a path on the file system.
    pub path: Option<Located<String>>,
    /// `heartbeat`: the file must be younger than this.
    pub max_age: Option<Located<ConfigDuration>>,
    /// `disk`, `memory`: used percent at which it is a warning / critical; `cert`: how long
    /// before expiry.
    pub warning: Option<Located<Threshold>>,
    pub critical: Option<Located<Threshold>>,
    /// `cert`: a PEM file of CA certificates to trust besides the web PKI's.
    pub ca_file: Option<Located<String>>,
    /// `http`: the answer must be JSON whose field at this dotted path ...
    pub json_field: Option<Located<String>>,
    /// ... equals this (a string as such, anything else as its JSON text).
    pub json_equals: Option<Located<String>>,
    /// `unit`: down when systemd restarted the unit more than this many times ...
    pub crash_loop: Option<Located<u64>>,
    /// ... within this long (default 10m).
    pub crash_window: Option<Located<ConfigDuration>>,
    pub severity: Option<Located<SeverityText>>,
    pub then: Option<Vec<Located<ActionText>>>,
    /// `"apart"`: never folded into the watch's incident (see docs/alerts.md).
    pub incident: Option<Located<IncidentText>>,
    /// When the probe's verdicts count, like a rule's `active`.
    pub active: Option<Located<String>>,
    pub holidays: Option<Vec<Located<String>>>,
    pub holidays_file: Option<Located<String>>,
}

/// `kind` of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKindText {
    Http,
    Heartbeat,
    Unit,
    Disk,
    Memory,
    Cert,
}

/// What to do when a rule or probe fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionText {
    Alert,
    Restart,
}

/// Whether a rule or probe folds into its watch's incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentText {
    Fold,
    Apart,
}

/// `[watch.journal]`: read the watch's lines from the systemd journal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJournal {
    pub units: Option<Vec<Located<String>>>,
    pub user_units: Option<Vec<Located<String>>>,
    pub identifiers: Option<Vec<Located<String>>>,
    /// `"FIELD=value"` matches, all of which must hold.
    pub matches: Option<Vec<Located<String>>>,
    /// Only entries at this priority or more severe.
    pub priority: Option<Located<String>>,
    /// Entries at this priority or more severe match the pattern `error`, whatever they say.
    pub priority_as_error: Option<Located<String>>,
    pub directory: Option<Located<String>>,
}

/// `[watch.multiline]`: how lines are grouped into events.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMultiline {
    pub kind: Located<MultilineKindText>,
    /// The regex of `continuation` and `start`.
    pub pattern: Option<Located<String>>,
    pub timeout: Option<Located<ConfigDuration>>,
    pub max_lines: Option<Located<u64>>,
}

/// `kind` of `[watch.multiline]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MultilineKindText {
    None,
    Python,
    Continuation,
    Start,
}

/// Where a file source starts on its first run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAtText {
    End,
    Beginning,
}

/// `[[watch.rule]]`: one rule. Drop-ins merge into the rule with the same `name`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: Located<String>,
    pub when: Option<Located<RuleKindText>>,
    pub pattern: Option<Located<String>>,
    pub threshold: Option<Located<u64>>,
    /// `rate`: a count (a whole number); `value`, `ratio`: a number like `above`.
    pub resolve_below: Option<Located<f64>>,
    pub window: Option<Located<ConfigDuration>>,
    pub min: Option<Located<u64>>,
    pub after: Option<Located<ConfigDuration>>,
    pub cooldown: Option<Located<ConfigDuration>>,
    /// `new-kind`, `anomaly`: how long to learn before firing.
    pub learn: Option<Located<ConfigDuration>>,
    /// `new-kind`: most line kinds kept.
    pub max_templates: Option<Located<u64>>,
    /// `new-kind`: a regex matching the header of a line (set aside before the kind).
    pub header: Option<Located<String>>,
    /// `anomaly`: z-score above which a minute is a spike.
    pub sensitivity: Option<Located<f64>>,
    /// `anomaly`: fewest matches in a minute for a spike (and mean for a drop).
    pub min_count: Option<Located<u64>>,
    /// `anomaly`: one baseline per hour of the week.
    pub seasonal: Option<Located<bool>>,
    /// When the rule is active: `"Mon-Fri 09:30-16:00 America/New_York"`, ranges `;`-separated.
    pub active: Option<Located<String>>,
    /// Dates (`2026-12-25`) on which no active range starts.
    pub holidays: Option<Vec<Located<String>>>,
    /// A file of such dates, one per line.
    pub holidays_file: Option<Located<String>>,
    pub severity: Option<Located<SeverityText>>,
    /// `false` switches a shipped rule off from a drop-in.
    pub enabled: Option<Located<bool>>,
    /// What to do when it fires: `["alert"]` (default) or `["alert", "restart"]`.
    pub then: Option<Vec<Located<ActionText>>>,
    /// `"fold"` (default): folded into the watch's incident while one is open; `"apart"`:
    /// always its own messages (see docs/alerts.md, "Incidents, silences, acks").
    pub incident: Option<Located<IncidentText>>,
    // `value` and `ratio` rules: `config/value_rules.rs`, docs/config.md.
    /// `value`: where the number is: a named group, a JSON path or a logfmt key.
    pub field: Option<Located<String>>,
    pub json: Option<Located<String>>,
    pub logfmt: Option<Located<String>>,
    pub unit: Option<Located<UnitText>>,
    pub aggregate: Option<Located<AggregateText>>,
    /// `value`, `ratio`: fires above this; `value`: or below, resolving at `resolve_above`.
    pub above: Option<Located<f64>>,
    pub below: Option<Located<f64>>,
    pub resolve_above: Option<Located<f64>>,
    /// `ratio`: the pattern whose matches are the denominator.
    pub over: Option<Located<String>>,
    /// `value`: a label (one alert per value, at most `max_labels`); histogram `buckets`.
    pub by: Option<Located<String>>,
    pub max_labels: Option<Located<u64>>,
    pub buckets: Option<Located<Vec<f64>>>,
}

/// The `when` of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKindText {
    Rate,
    Stale,
    Absent,
    Match,
    #[serde(rename = "new-kind")]
    NewKind,
    Anomaly,
    Value,
    Ratio,
}

/// Severity as written in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityText {
    Info,
    Warning,
    Critical,
}

/// `[channels.NAME]`: one alert channel. Which keys apply depends on `type`; keys of
/// another type are errors (checked in `channels.rs`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    #[serde(rename = "type")]
    pub kind: Option<Located<ChannelKindText>>,
    // For every type.
    pub min_severity: Option<Located<SeverityText>>,
    pub group_wait: Option<Located<ConfigDuration>>,
    /// `"20/1h"`: at most 20 messages an hour; more wait and go out together.
    pub rate_limit: Option<Located<String>>,
    pub fallback: Option<Located<String>>,
    pub fallback_after: Option<Located<ConfigDuration>>,
    pub timeout: Option<Located<ConfigDuration>>,
    /// The text of one alert, with `{placeholders}`.
    pub template: Option<Located<String>>,
    /// Quiet hours: when the channel takes everything from `min_severity` up (a schedule).
    pub active: Option<Located<String>>,
    /// Outside `active`, what still goes through at once (default `critical`).
    pub quiet_min_severity: Option<Located<SeverityText>>,
    /// Outside `active`, what happens to the rest: `hold` (default) or `drop`.
    pub quiet: Option<Located<QuietText>>,
    // email
    pub host: Option<Located<String>>,
    pub port: Option<Located<u64>>,
    pub tls: Option<Located<EmailTlsText>>,
    pub username: Option<Located<String>>,
    pub password: Option<Located<String>>,
    pub password_file: Option<Located<String>>,
    pub password_env: Option<Located<String>>,
    pub password_credential: Option<Located<String>>,
    pub from: Option<Located<String>>,
    pub to: Option<Located<Vec<Located<String>>>>,
    pub ca_file: Option<Located<String>>,
    pub subject: Option<Located<String>>,
    // telegram (`control`, `control_users`: docs/telegram.md)
    pub token: Option<Located<String>>,
    pub token_file: Option<Located<String>>,
    pub token_env: Option<Located<String>>,
    pub token_credential: Option<Located<String>>,
    pub chat_id: Option<Located<ChatIdText>>,
    pub api_url: Option<Located<String>>,
    pub control: Option<Located<bool>>,
    pub control_users: Option<Located<Vec<Located<i64>>>>,
    /// `ntfy`: the topic published to (anyone who knows it can read it: kept like a secret).
    pub topic: Option<Located<String>>,
    /// `matrix`: the room id (`!abc123:example.org`).
    pub room: Option<Located<String>>,
    /// `pushover`: the user (or group) key to notify.
    pub user: Option<Located<String>>,
    pub user_file: Option<Located<String>>,
    pub user_env: Option<Located<String>>,
    pub user_credential: Option<Located<String>>,
    // slack, webhook
    pub url: Option<Located<String>>,
    pub url_file: Option<Located<String>>,
    pub url_env: Option<Located<String>>,
    pub url_credential: Option<Located<String>>,
    pub style: Option<Located<SlackStyleText>>,
    /// `slack` with a bot `token`: the channel posted to (`C0123ABCD`).
    pub channel: Option<Located<String>>,
    /// `webhook`: the request body, a template.
    pub body: Option<Located<String>>,
    /// `webhook`: the body's `Content-Type` (default `application/json`).
    pub content_type: Option<Located<String>>,
    // alertmanager
    pub urls: Option<Located<Vec<Located<String>>>>,
    pub resend: Option<Located<ConfigDuration>>,
    pub labels: Option<Located<BTreeMap<String, String>>>,
}

/// `type` of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKindText {
    Console,
    Email,
    Telegram,
    Slack,
    Webhook,
    Alertmanager,
    Ntfy,
    Discord,
    Gotify,
    Matrix,
    Pushover,
}

/// `tls` of an email channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTlsText {
    Starttls,
    Tls,
    None,
}

/// `quiet` of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuietText {
    Hold,
    Drop,
}

/// `style` of a Slack channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlackStyleText {
    Blocks,
    Text,
}

/// A Telegram chat: a number, or `"@channelname"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ChatIdText {
    Number(i64),
    Text(String),
}

/// `[alerts]`: how alerts are grouped, repeated and redacted, for every channel.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    pub group_wait: Option<Located<ConfigDuration>>,
    pub repeat: Option<Located<ConfigDuration>>,
    pub retry_max: Option<Located<ConfigDuration>>,
    /// Extra regexes whose matches are replaced by `[REDACTED]` in alert texts.
    pub redact: Option<Vec<Located<String>>>,
    /// `false` turns the built-in redaction patterns off (the extra ones still apply).
    pub redact_defaults: Option<Located<bool>>,
    /// The `host` label and line of alerts (default: the machine's hostname).
    pub host: Option<Located<String>>,
    /// Most notifications waiting per channel; beyond it the oldest are dropped, counted.
    pub spool_max: Option<Located<u64>>,
}

impl RawAlerts {
    /// Applies the fields a later file sets.
    pub fn merge_from(&mut self, later: RawAlerts) {
        macro_rules! take {
            ($($f:ident),*) => { $( if later.$f.is_some() { self.$f = later.$f; } )* };
        }
        take!(
            group_wait,
            repeat,
            retry_max,
            redact,
            redact_defaults,
            host,
            spool_max
        );
    }
}

impl RawWatch {
    /// Applies the fields a later file (a drop-in) sets for the same watch.
    pub fn merge_from(&mut self, later: RawWatch) {
        macro_rules! take {
            ($($f:ident),*) => { $( if later.$f.is_some() { self.$f = later.$f; } )* };
        }
        take!(
            unit,
            files,
            patterns,
            notify,
            start_at,
            max_line_bytes,
            olddir,
            timestamp_format,
            multiline,
            journal,
            restart
        );
        for probe in later.probe {
            match self
                .probe
                .iter()
                .position(|p| p.name.value == probe.name.value)
            {
                Some(i) => self.probe[i] = probe,
                None => self.probe.push(probe),
            }
        }
        for rule in later.rule {
            match self
                .rule
                .iter_mut()
                .find(|r| r.name.value == rule.name.value)
            {
                Some(existing) => existing.merge_from(rule),
                None => self.rule.push(rule),
            }
        }
    }
}

impl RawRule {
    /// Applies the fields a later file sets for the same rule.
    pub fn merge_from(&mut self, later: RawRule) {
        macro_rules! take {
            ($($f:ident),*) => { $( if later.$f.is_some() { self.$f = later.$f; } )* };
        }
        take!(
            when,
            pattern,
            threshold,
            resolve_below,
            window,
            min,
            after,
            cooldown,
            learn,
            max_templates,
            header,
            sensitivity,
            min_count,
            seasonal,
            active,
            holidays,
            holidays_file,
            severity,
            enabled,
            then,
            incident,
            field,
            json,
            logfmt,
            unit,
            aggregate,
            above,
            below,
            resolve_above,
            over,
            by,
            max_labels,
            buckets
        );
    }
}

impl RawDaemon {
    /// Applies the fields a later file sets.
    pub fn merge_from(&mut self, later: RawDaemon) {
        macro_rules! take {
            ($($f:ident),*) => { $( if later.$f.is_some() { self.$f = later.$f; } )* };
        }
        take!(
            state_dir,
            patterns_dir,
            poll_interval,
            listen,
            listen_hosts,
            listen_token,
            listen_token_file,
            listen_token_env,
            listen_token_credential,
            listen_unauthenticated,
            heartbeat_url,
            heartbeat_url_env,
            heartbeat_url_file,
            heartbeat_url_credential,
            heartbeat_every
        );
    }
}

/// Severity as written -> severity.
pub(crate) fn severity_of(s: SeverityText) -> Severity {
    match s {
        SeverityText::Info => Severity::Info,
        SeverityText::Warning => Severity::Warning,
        SeverityText::Critical => Severity::Critical,
    }
}

/// Whether a watch or rule name is safe to use in state file names and metric labels.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}
