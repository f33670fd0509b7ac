//! The validated configuration's types: what the rest of the program reads. Built only by
//! `load` (the resolvers beside this file), so a value here has passed every check.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::channels::{AlertsConfig, ChannelConfig, ChannelKind};
use crate::config::recovery::{ProbeConfig, RestartConfig};
use crate::config::secret::Secret;
use crate::core::alert::Severity;
use crate::matcher::pack::PatternPack;
use crate::source::journal::JournalFilter;
use crate::source::multiline::MultilineRule;
use crate::source::StartAt;

/// Default quiet time after which a pending multi-line event is handed on.
pub const DEFAULT_MULTILINE_TIMEOUT: Duration = Duration::from_millis(300);
/// Default most lines in one event.
pub const DEFAULT_MULTILINE_MAX_LINES: usize = 500;

/// Default location of the main config file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/logwarden/logwarden.toml";
/// Default longest line kept whole; longer lines are cut and marked.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;

/// An ntfy topic at least this long is redacted like a secret (see `secret_values`).
pub const NTFY_TOPIC_SECRET_LEN: usize = 12;

/// A fully validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub daemon: DaemonConfig,
    pub watches: Vec<WatchConfig>,
    pub channels: BTreeMap<String, ChannelConfig>,
    /// `[alerts]`: grouping, reminders, retries and redaction for every channel.
    pub alerts: AlertsConfig,
    /// Every file that was read (config, drop-ins, pattern packs), for reload and `check`.
    pub files_read: Vec<PathBuf>,
}

impl Config {
    /// Every secret value the config holds, so alert texts can be redacted of them.
    pub fn secret_values(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if let Some((url, _)) = &self.daemon.heartbeat {
            out.push(url.expose());
        }
        if let Some(t) = &self.daemon.http.token {
            out.push(t.expose());
        }
        for c in self.channels.values() {
            match &c.kind {
                ChannelKind::Email(e) => out.extend(e.password.as_ref().map(Secret::expose)),
                ChannelKind::Telegram(t) => out.push(t.token.expose()),
                ChannelKind::Slack(s) => out.push(s.target.secret().expose()),
                ChannelKind::Webhook(w) => out.push(w.url.expose()),
                ChannelKind::Discord(d) => out.push(d.url.expose()),
                ChannelKind::Matrix(m) => out.push(m.token.expose()),
                ChannelKind::Pushover(p) => {
                    out.push(p.token.expose());
                    out.push(p.user.expose());
                }
                ChannelKind::Gotify(g) => {
                    out.push(g.url.expose());
                    out.push(g.token.expose());
                }
                ChannelKind::Ntfy(n) => {
                    // A long topic is a password on a public server; a short one ("alerts")
                    // is a word, and masking it would garble every alert that says it.
                    if n.topic.expose().len() >= NTFY_TOPIC_SECRET_LEN {
                        out.push(n.topic.expose());
                    }
                    out.extend(n.token.as_ref().map(Secret::expose));
                }
                ChannelKind::Console | ChannelKind::Alertmanager(_) => {}
            }
        }
        out
    }
}

/// `[daemon]` after defaults.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub state_dir: PathBuf,
    pub patterns_dir: PathBuf,
    /// How often file sources stat their paths to catch what inotify missed.
    pub poll_interval: Duration,
    /// Where /health, /metrics and /status are served (off when `None`).
    pub listen: Option<std::net::SocketAddr>,
    /// Who the endpoint at `listen` answers.
    pub http: HttpAccess,
    /// The dead-man's switch URL (a secret: never logged) and how often it is pinged.
    pub heartbeat: Option<(Secret, Duration)>,
}

/// Who the HTTP endpoint answers (see `http.rs`): requests naming another host in `Host`
/// are refused (DNS rebinding), and with a token every request must carry it.
#[derive(Debug, Clone, Default)]
pub struct HttpAccess {
    /// Host names accepted besides the listen address, loopback and `localhost`: lower
    /// case, without port.
    pub hosts: Vec<String>,
    /// `Authorization: Bearer` token required on every route (`/health` answers without
    /// it, but only healthy or not).
    pub token: Option<Secret>,
}

/// One watched service.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub name: String,
    pub unit: Option<String>,
    pub files: Vec<PathBuf>,
    pub packs: Vec<PatternPack>,
    pub notify: Vec<String>,
    pub start_at: StartAt,
    pub max_line_bytes: usize,
    /// Where rotated generations of `files` go when not beside them (logrotate's `olddir`).
    pub olddir: Option<PathBuf>,
    /// How lines carry their time (read by `replay`).
    pub timestamp_format: crate::source::timestamp::TimestampFormat,
    /// How lines are written (plain, JSON, logfmt) and where a structured line's level is.
    pub structure: crate::matcher::structured::LineStructure,
    /// How lines are grouped into events.
    pub multiline: MultilineRule,
    /// Lines from the systemd journal, if configured.
    pub journal: Option<JournalConfig>,
    /// How the service is restarted, if it may be.
    pub restart: Option<RestartConfig>,
    pub probes: Vec<ProbeConfig>,
    pub rules: Vec<RuleConfig>,
}

/// `[watch.journal]` after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalConfig {
    pub filter: JournalFilter,
    /// Entries at this priority or more severe match the pattern `error`.
    pub priority_as_error: Option<u8>,
}

/// One rule of a watch.
#[derive(Debug, Clone)]
pub struct RuleConfig {
    pub name: String,
    pub severity: Severity,
    pub kind: RuleKind,
    /// `then = ["alert", "restart"]`: firing asks for a restart of the watch's service.
    pub then_restart: bool,
    /// `incident = "apart"`: never folded into the watch's incident.
    pub apart: bool,
    /// When the rule is active (`active`, `holidays`); `None`: always.
    pub schedule: Option<std::sync::Arc<crate::config::schedule::Schedule>>,
}

/// What a rule looks for.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// More than `threshold` matches of `pattern` within `window`; resolved when the count falls
    /// below `resolve_below`.
    Rate {
        pattern: String,
        threshold: u64,
        resolve_below: u64,
        window: Duration,
    },
    /// No line at all from any source of the watch for `after`.
    Stale { after: Duration },
    /// Fewer than `min` matches of `pattern` within `window`.
    Absent {
        pattern: String,
        min: u64,
        window: Duration,
    },
    /// Every match of `pattern` is an event; repeats within `cooldown` are counted, not sent.
    Match { pattern: String, cooldown: Duration },
    /// A matching line of a kind (template) not seen before, after learning for `learn`.
    NewKind {
        pattern: String,
        learn: Duration,
        max_templates: usize,
        /// The operator's regex for a line's header (otherwise `rules::line_header` finds it).
        header: Option<String>,
        /// Where the known kinds are saved.
        state_file: PathBuf,
    },
    /// The per-minute rate of `pattern` far from its learned baseline.
    Anomaly {
        pattern: String,
        sensitivity: f64,
        min_count: u64,
        seasonal: bool,
        learn: Duration,
        /// Where the baseline is saved.
        state_file: PathBuf,
    },
    /// An aggregate of numbers taken from the lines `pattern` matched, above or below a bound
    /// (see `ValueRule`).
    Value(Box<ValueRule>),
    /// Matches of `pattern` over matches of `over` within `window`, above a fraction.
    Ratio {
        pattern: String,
        over: String,
        above: f64,
        /// Resolves when the ratio falls to this or below (<= `above`).
        resolve_below: f64,
        window: Duration,
        /// Fewest matches of `over` within the window for the ratio to be judged.
        min_count: u64,
    },
}

/// A `value` rule's settings (boxed in `RuleKind`: it is the largest kind).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueRule {
    pub pattern: String,
    /// Where the number is in a line: `field` names it.
    pub from: FieldFrom,
    /// The named group of the pattern's regexes, the JSON path or the logfmt key (as `from`
    /// says) whose text is the number.
    pub field: String,
    /// Factor from the field's unit to seconds (`unit = "ms"`: 0.001); 1 without a unit.
    pub scale: f64,
    pub aggregate: Aggregate,
    pub window: Duration,
    /// Fires above (or below) this, in seconds when the rule has a unit.
    pub bound: Bound,
    /// Resolves at or below (`Above`) or at or above (`Below`) this.
    pub resolve_at: f64,
    /// Fewest values within the window for the aggregate to be judged.
    pub min_count: u64,
    /// A named group (a JSON path, a logfmt key, as `from` says) whose text is a label: one
    /// alert (and metric series) per label value.
    pub by: Option<String>,
    /// Most distinct label values; later ones fold into `other`.
    pub max_labels: usize,
    /// Upper bounds of the `/metrics` histogram's buckets, increasing (`+Inf` is implied).
    pub buckets: Vec<f64>,
}

/// Where a `value` rule's number (and label) is in a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldFrom {
    /// A named group of the pattern's regexes (`field = "ms"`).
    Capture,
    /// A field of a JSON object line, by dotted path (`json = "http.duration_ms"`).
    Json,
    /// A key of a logfmt line (`logfmt = "duration"`).
    Logfmt,
}

/// What a `value` rule computes over its window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    /// The q-quantile (0.5, 0.9, 0.95, 0.99), linearly interpolated between closest ranks.
    Quantile(f64),
    Max,
    Min,
    Avg,
    Sum,
    Count,
}

/// Which side of its threshold a `value` rule fires on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Above(f64),
    Below(f64),
}

/// Default cap on the label values of a `value` rule with `by`.
pub const DEFAULT_MAX_LABELS: usize = 50;
/// Default histogram buckets of a `value` rule (Prometheus' default, in seconds).
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Default learning time of `new-kind` rules.
pub const DEFAULT_NEW_KIND_LEARN: Duration = Duration::from_secs(3600);
/// Default cap on the kinds a `new-kind` rule keeps.
pub const DEFAULT_MAX_TEMPLATES: usize = 1000;
