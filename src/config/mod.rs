//! The validated configuration: what to watch, how to match, which rules, where to alert.
//!
//! `load` reads the main file and its drop-ins (`logwarden.d/*.toml` beside it, merged in name
//! order), reads the pattern packs, and checks everything, returning either a `Config` the rest
//! of the program can trust or every problem found, each with file:line:column.

pub mod channels;
pub mod duration;
pub mod error;
pub mod located;
pub mod packs;
pub mod permissions;
pub mod range;
pub mod raw;
pub mod recovery;
pub mod schedule;
pub mod secret;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use channels::{AlertsConfig, ChannelConfig, ChannelKind};
pub use error::{ConfigError, Diagnostics};
pub use packs::PackSet;
pub use recovery::{ProbeConfig, ProbeKind, RestartConfig, RestartMethod};
pub use secret::Secret;

use crate::core::alert::Severity;
use crate::matcher::pack::PatternPack;
use crate::source::journal::{parse_priority, JournalFilter};
use crate::source::multiline::{Grouping, MultilineRule};
use crate::source::StartAt;

/// Default quiet time after which a pending multi-line event is handed on.
pub const DEFAULT_MULTILINE_TIMEOUT: Duration = Duration::from_millis(300);
/// Default most lines in one event.
pub const DEFAULT_MULTILINE_MAX_LINES: usize = 500;

use crate::config::schedule::resolve_schedule;
use located::{resolve_path, Located, SourceMap};
use range::{days, ms, secs};
use raw::{severity_of, valid_name, RawDaemon, RawFile, RawRule, RawWatch, RuleKindText};

/// Default location of the main config file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/logwarden/logwarden.toml";
/// Default longest line kept whole; longer lines are cut and marked.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;

/// A fully validated configuration.
#[derive(Debug)]
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
                ChannelKind::Slack(s) => out.push(s.url.expose()),
                ChannelKind::Webhook(w) => out.push(w.url.expose()),
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
}

/// Default learning time of `new-kind` rules.
pub const DEFAULT_NEW_KIND_LEARN: Duration = Duration::from_secs(3600);
/// How long `new-kind` and `anomaly` rules may learn: up to a quarter.
const LEARN_RANGE: (Duration, Duration) = (Duration::ZERO, days(90));
/// Default cap on the kinds a `new-kind` rule keeps.
pub const DEFAULT_MAX_TEMPLATES: usize = 1000;

/// Loads the config at `path` with its drop-ins and pattern packs.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let mut files = Vec::new();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        problems: vec![format!("{}: cannot read config file: {e}", path.display())],
    })?;
    let mut problems: Vec<String> = permissions::world_writable(path, "config file")
        .into_iter()
        .collect();
    files.push((path.to_path_buf(), text));
    let dropin_dir = path.parent().unwrap_or(Path::new(".")).join("logwarden.d");
    match std::fs::read_dir(&dropin_dir) {
        Ok(entries) => {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for p in paths {
                problems.extend(permissions::world_writable(&p, "drop-in"));
                match std::fs::read_to_string(&p) {
                    Ok(t) => files.push((p, t)),
                    Err(e) => problems.push(format!("{}: cannot read drop-in: {e}", p.display())),
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => problems.push(format!("{}: cannot read: {e}", dropin_dir.display())),
    }
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    load_texts(files)
}

/// Loads a config from texts already read: the main file first, then drop-ins in order.
pub fn load_texts(files: Vec<(PathBuf, String)>) -> Result<Config, ConfigError> {
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let mut merged = RawFile::default();
    for (path, text) in files {
        let index = sources.add(&path, text);
        let parsed: Result<RawFile, _> =
            located::with_current_file(index, || toml::from_str(sources.text(index)));
        match parsed {
            Ok(file) => {
                check_duplicates(&file, &sources, &mut diags);
                merge(&mut merged, file)
            }
            Err(e) => diags.toml_error(&sources, index, &e),
        }
    }
    if !diags.is_empty() {
        return Err(ConfigError {
            problems: diags.messages().to_vec(),
        });
    }
    let config = resolve(merged, &mut sources, &mut diags);
    if !diags.is_empty() {
        return Err(ConfigError {
            problems: diags.messages().to_vec(),
        });
    }
    Ok(config)
}

/// Within one file a watch, and a rule of a watch, is defined once: merging by name is for
/// drop-ins, and two rules of one name would share one alert key.
fn check_duplicates(file: &RawFile, sources: &SourceMap, diags: &mut Diagnostics) {
    for (i, w) in file.watch.iter().enumerate() {
        if file.watch[..i].iter().any(|o| o.name.value == w.name.value) {
            diags.at(
                sources,
                &w.name,
                format!("watch {:?} is defined twice in this file", w.name.value),
            );
        }
        for (j, r) in w.rule.iter().enumerate() {
            if w.rule[..j].iter().any(|o| o.name.value == r.name.value) {
                diags.at(
                    sources,
                    &r.name,
                    format!(
                        "rule {:?} is defined twice in watch {:?}",
                        r.name.value, w.name.value
                    ),
                );
            }
        }
    }
}

/// Merges a later file into what the earlier files set.
fn merge(into: &mut RawFile, later: RawFile) {
    if let Some(d) = later.daemon {
        into.daemon
            .get_or_insert_with(RawDaemon::default)
            .merge_from(d);
    }
    for w in later.watch {
        match into
            .watch
            .iter_mut()
            .find(|existing| existing.name.value == w.name.value)
        {
            Some(existing) => existing.merge_from(w),
            None => into.watch.push(w),
        }
    }
    into.channels.extend(later.channels);
    if let Some(a) = later.alerts {
        into.alerts
            .get_or_insert_with(raw::RawAlerts::default)
            .merge_from(a);
    }
}

fn resolve(raw: RawFile, sources: &mut SourceMap, diags: &mut Diagnostics) -> Config {
    let d = raw.daemon.unwrap_or_default();
    let daemon = DaemonConfig {
        state_dir: d
            .state_dir
            .as_ref()
            .map(|v| resolve_path(sources, v))
            .unwrap_or_else(|| PathBuf::from("/var/lib/logwarden")),
        patterns_dir: d
            .patterns_dir
            .as_ref()
            .map(|v| resolve_path(sources, v))
            .unwrap_or_else(|| PathBuf::from("/etc/logwarden/patterns")),
        poll_interval: range::duration_or(
            &d.poll_interval,
            "poll_interval",
            (ms(50), secs(60)),
            secs(1),
            sources,
            diags,
        ),
        listen: match &d.listen {
            Some(l) if l.value.trim().is_empty() => None,
            Some(l) => match l.value.parse() {
                Ok(a) => Some(a),
                Err(_) => {
                    diags.at(
                        sources,
                        l,
                        format!(
                            "listen {:?} is not an address:port like \"127.0.0.1:9107\"",
                            l.value
                        ),
                    );
                    None
                }
            },
            None => None,
        },
        http: HttpAccess::default(),
        heartbeat: None,
    };
    let mut daemon = daemon;
    daemon.http = resolve_http(&d, daemon.listen, sources, diags);
    daemon.heartbeat = resolve_heartbeat(&d, sources, diags);
    let packs = PackSet::load(Some(&daemon.patterns_dir), sources, diags);

    let alerts = channels::resolve_alerts(raw.alerts.as_ref(), sources, diags);
    let channels = channels::resolve_channels(&raw.channels, &alerts, sources, diags);

    let mut watches: Vec<WatchConfig> = raw
        .watch
        .into_iter()
        .filter_map(|w| resolve_watch(w, &packs, &channels, sources, diags))
        .collect();
    // Learning rules keep what they learned in state_dir/rules/WATCH/RULE.json.
    for w in &mut watches {
        for r in &mut w.rules {
            if let RuleKind::NewKind { state_file, .. } | RuleKind::Anomaly { state_file, .. } =
                &mut r.kind
            {
                *state_file = daemon
                    .state_dir
                    .join("rules")
                    .join(&w.name)
                    .join(format!("{}.json", r.name));
            }
        }
    }
    Config {
        daemon,
        watches,
        channels,
        alerts,
        files_read: sources.paths().map(Path::to_path_buf).collect(),
    }
}

/// `listen_hosts`, `listen_token*` and `listen_unauthenticated`: a `listen` other machines
/// can reach needs a token unless the operator opts out in so many words.
fn resolve_http(
    d: &RawDaemon,
    listen: Option<std::net::SocketAddr>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> HttpAccess {
    let mut hosts = Vec::new();
    for h in d.listen_hosts.iter().flat_map(|h| h.value.iter()) {
        let name = h.value.trim().trim_end_matches('.').to_ascii_lowercase();
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if plain {
            hosts.push(name);
        } else {
            diags.at(
                sources,
                h,
                format!(
                    "listen_hosts entry {:?} is not a host name like \"bot.example.org\" (no port, no scheme)",
                    h.value
                ),
            );
        }
    }
    let token = secret::SecretSource {
        key: "listen_token",
        owner: "[daemon]",
        inline: d.listen_token.as_ref(),
        file: d.listen_token_file.as_ref(),
        env: d.listen_token_env.as_ref(),
        credential: d.listen_token_credential.as_ref(),
    };
    let given = token.is_given();
    let token = token.resolve(sources, diags);
    if let Some(t) = &token {
        if t.expose().len() < 16 || t.expose().chars().any(|c| c.is_whitespace()) {
            diags.plain("[daemon]: `listen_token` must be at least 16 characters without spaces (e.g. `openssl rand -hex 32`)".into());
        }
    }
    let open = d.listen_unauthenticated.as_ref().is_some_and(|o| o.value);
    match (listen, &d.listen) {
        (Some(addr), Some(at)) if !addr.ip().is_loopback() && !given && !open => diags.at(
            sources,
            at,
            format!(
                "listen {:?} is reachable from other machines, and /status and /metrics would answer anyone: set `listen_token_file` (a bearer token), bind to 127.0.0.1, or set `listen_unauthenticated = true` to serve them without authentication",
                at.value
            ),
        ),
        (None, _) => {
            let stray = d
                .listen_token_file
                .as_ref()
                .or(d.listen_token.as_ref())
                .or(d.listen_token_env.as_ref())
                .or(d.listen_token_credential.as_ref());
            if let Some(s) = stray {
                diags.at(sources, s, "a listen token is set but `listen` is not: there is no endpoint to protect".into());
            }
        }
        _ => {}
    }
    HttpAccess { hosts, token }
}

/// `heartbeat_url` (inline, with a warning), `heartbeat_url_env` or `heartbeat_url_file`.
fn resolve_heartbeat(
    d: &RawDaemon,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<(Secret, Duration)> {
    // Checked whether or not a URL is set: a drop-in may add the URL later.
    let every = range::duration_or(
        &d.heartbeat_every,
        "heartbeat_every",
        (ms(100), days(1)),
        secs(300),
        sources,
        diags,
    );
    let url = secret::SecretSource {
        key: "heartbeat_url",
        owner: "[daemon]",
        inline: d.heartbeat_url.as_ref(),
        file: d.heartbeat_url_file.as_ref(),
        env: d.heartbeat_url_env.as_ref(),
        credential: d.heartbeat_url_credential.as_ref(),
    }
    .resolve(sources, diags)?
    .0;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        diags.plain("heartbeat URL must start with http:// or https://".into());
        return None;
    }
    Some((Secret(url), every))
}

fn resolve_watch(
    w: RawWatch,
    packs: &PackSet,
    channels: &BTreeMap<String, ChannelConfig>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<WatchConfig> {
    let errors_before = diags.len();
    let name = w.name.value.clone();
    if !valid_name(&name) {
        diags.at(
            sources,
            &w.name,
            format!("watch name {name:?} may use only letters, digits, '-', '_', '.', '@'"),
        );
    }
    let files: Vec<PathBuf> = w
        .files
        .as_ref()
        .map(|f| f.value.iter().map(|p| resolve_path(sources, p)).collect())
        .unwrap_or_default();
    if let Some(f) = &w.files {
        for (p, resolved) in f.value.iter().zip(&files) {
            if crate::source::glob::is_glob(resolved) {
                if let Err(e) = crate::source::glob::validate(resolved) {
                    diags.at(sources, p, e);
                }
            }
        }
    }
    let journal = w
        .journal
        .as_ref()
        .and_then(|j| resolve_journal(&name, &w, &j.value, &j_at(j), sources, diags));
    if files.is_empty() && w.journal.is_none() {
        diags.at(
            sources,
            &w.name,
            format!(
                "watch {name:?} has no source: set files = [\"/path/to/bot.log\"] or a [watch.journal] table"
            ),
        );
    }
    let mut watch_packs = Vec::new();
    for p in w.patterns.iter().flat_map(|p| p.value.iter()) {
        match packs.get(&p.value) {
            Some(pack) => watch_packs.push(pack.clone()),
            None => diags.at(
                sources,
                p,
                format!(
                    "unknown pattern pack {:?}; available: {}",
                    p.value,
                    packs.names().collect::<Vec<_>>().join(", ")
                ),
            ),
        }
    }
    let notify: Vec<String> = match &w.notify {
        Some(n) => {
            for c in &n.value {
                if !channels.contains_key(&c.value) {
                    diags.at(
                        sources,
                        c,
                        format!(
                            "unknown channel {:?}; define it under [channels.{}] or use one of: {}",
                            c.value,
                            c.value,
                            channels.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
            n.value.iter().map(|c| c.value.clone()).collect()
        }
        None => vec!["console".to_string()],
    };
    let max_line_bytes = range::number_or(
        &w.max_line_bytes,
        "max_line_bytes",
        (256, 16 * 1024 * 1024),
        DEFAULT_MAX_LINE_BYTES as u64,
        sources,
        diags,
    ) as usize;
    let start_at = match w.start_at.as_ref().map(|s| s.value) {
        Some(raw::StartAtText::Beginning) => StartAt::Beginning,
        _ => StartAt::End,
    };
    let pattern_names: Vec<&str> = {
        let mut v: Vec<&str> = watch_packs
            .iter()
            .flat_map(|p| p.patterns.iter().map(|d| d.name.as_str()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    if pattern_names.len() > crate::matcher::MAX_SLOTS {
        diags.at(
            sources,
            &w.name,
            format!(
                "watch {name:?} uses {} distinct pattern names; at most {} are supported",
                pattern_names.len(),
                crate::matcher::MAX_SLOTS
            ),
        );
    }
    if let (Some(j), Some(raw_j)) = (&journal, &w.journal) {
        if j.priority_as_error.is_some() && !pattern_names.contains(&"error") {
            diags.at(
                sources,
                raw_j,
                format!(
                    "priority_as_error in watch {name:?} marks entries as pattern \"error\", which none of its packs defines; add a pack with an \"error\" pattern (python-logging, trading)"
                ),
            );
        }
    }
    let multiline = resolve_multiline(&w, &watch_packs, max_line_bytes, sources, diags);
    let timestamp_format = resolve_timestamp_format(w.timestamp_format.as_ref(), sources, diags);
    let mut rules = Vec::new();
    for r in w.rule {
        if let Some(rule) = resolve_rule(&name, r, &pattern_names, sources, diags) {
            rules.push(rule);
        }
    }
    let restart = recovery::resolve_restart(
        &name,
        w.unit.as_ref().map(|u| u.value.as_str()),
        w.restart.as_ref(),
        sources,
        diags,
    );
    let user = w
        .restart
        .as_ref()
        .and_then(|r| r.value.user.as_ref())
        .map(|u| u.value.as_str());
    let mut probes: Vec<ProbeConfig> = Vec::new();
    for p in &w.probe {
        if probes.iter().any(|q| q.name == p.name.value)
            || rules.iter().any(|r: &RuleConfig| r.name == p.name.value)
        {
            diags.at(
                sources,
                &p.name,
                format!(
                    "probe name {:?} is already used by a rule or probe of this watch",
                    p.name.value
                ),
            );
        }
        if let Some(probe) = recovery::resolve_probe(
            &name,
            w.unit.as_ref().map(|u| u.value.as_str()),
            user,
            p,
            sources,
            diags,
        ) {
            probes.push(probe);
        }
    }
    let wants_restart =
        rules.iter().any(|r| r.then_restart) || probes.iter().any(|p| p.then_restart);
    if wants_restart && restart.is_none() {
        diags.at(
            sources,
            &w.name,
            format!("watch {name:?} has a rule or probe with then = [\"restart\"] but nothing to restart: set `unit` or [watch.restart] command"),
        );
    }
    if let (Some(r), Some(raw)) = (&restart, &w.restart) {
        for c in raw.value.confirm.iter().flatten() {
            if !rules.iter().any(|x| x.name == c.value) && !probes.iter().any(|x| x.name == c.value)
            {
                diags.at(
                    sources,
                    c,
                    format!(
                        "confirm names {:?}, which is no rule or probe of watch {name:?}",
                        c.value
                    ),
                );
            }
        }
        let _ = r;
    }
    if diags.len() > errors_before {
        return None;
    }
    Some(WatchConfig {
        name,
        unit: w.unit.map(|u| u.value),
        files,
        packs: watch_packs,
        notify,
        start_at,
        max_line_bytes,
        olddir: w.olddir.as_ref().map(|d| resolve_path(sources, d)),
        timestamp_format,
        multiline,
        journal,
        restart,
        probes,
        rules,
    })
}

/// `timestamp_format`: `"auto"` (or absent) or a strftime format, which must have a `%`.
fn resolve_timestamp_format(
    f: Option<&Located<String>>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> crate::source::timestamp::TimestampFormat {
    use crate::source::timestamp::TimestampFormat;
    match f {
        None => TimestampFormat::Auto,
        Some(f) if f.value == "auto" => TimestampFormat::Auto,
        Some(f) if f.value.contains('%') => TimestampFormat::Strftime(f.value.clone()),
        Some(f) => {
            diags.at(
                sources,
                f,
                format!(
                    "timestamp_format {:?} is neither \"auto\" nor a strftime format like \"%d.%m.%Y %H:%M:%S\"",
                    f.value
                ),
            );
            TimestampFormat::Auto
        }
    }
}

/// The location of a located table, for messages about the table as a whole.
fn j_at<T>(j: &Located<T>) -> Located<()> {
    Located {
        value: (),
        file: j.file,
        span: j.span.clone(),
    }
}

fn resolve_journal(
    watch: &str,
    w: &RawWatch,
    j: &raw::RawJournal,
    at: &Located<()>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<JournalConfig> {
    let strings = |v: &Option<Vec<Located<String>>>| -> Vec<String> {
        v.iter().flatten().map(|s| s.value.clone()).collect()
    };
    let mut filter = JournalFilter {
        units: strings(&j.units),
        user_units: strings(&j.user_units),
        identifiers: strings(&j.identifiers),
        matches: Vec::new(),
        max_priority: None,
        directory: j.directory.as_ref().map(|d| resolve_path(sources, d)),
    };
    for m in j.matches.iter().flatten() {
        match m.value.split_once('=') {
            Some((field, value))
                if !field.is_empty()
                    && field
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
            {
                filter.matches.push((field.to_string(), value.to_string()));
            }
            _ => diags.at(
                sources,
                m,
                format!(
                    "journal match {:?} is not FIELD=value (FIELD in upper case, like _COMM=python3)",
                    m.value
                ),
            ),
        }
    }
    let priority = |p: &Option<Located<String>>, diags: &mut Diagnostics| {
        p.as_ref().and_then(|p| {
            let parsed = parse_priority(&p.value);
            if parsed.is_none() {
                diags.at(
                    sources,
                    p,
                    format!(
                        "unknown priority {:?}; use one of emerg, alert, crit, err, warning, notice, info, debug (or 0-7)",
                        p.value
                    ),
                );
            }
            parsed
        })
    };
    filter.max_priority = priority(&j.priority, diags);
    let priority_as_error = priority(&j.priority_as_error, diags);
    if filter.units.is_empty()
        && filter.user_units.is_empty()
        && filter.identifiers.is_empty()
        && filter.matches.is_empty()
    {
        // A unit restarted with `systemctl --user` (`[watch.restart] user = ...`) is a
        // user unit, and its entries carry `_SYSTEMD_USER_UNIT`, not `_SYSTEMD_UNIT`.
        let user_unit = w.restart.as_ref().is_some_and(|r| r.value.user.is_some());
        match &w.unit {
            // The watch's unit is what to read when nothing else is named.
            Some(u) if user_unit => filter.user_units.push(u.value.clone()),
            Some(u) => filter.units.push(u.value.clone()),
            None => {
                diags.at(
                    sources,
                    at,
                    format!(
                        "journal of watch {watch:?} names nothing to read: set units, user_units, identifiers or matches (or the watch's unit)"
                    ),
                );
                return None;
            }
        }
    }
    Some(JournalConfig {
        filter,
        priority_as_error,
    })
}

/// The watch's multi-line rule: as configured, else `python` when it uses the
/// `python-logging` pack, else none.
fn resolve_multiline(
    w: &RawWatch,
    packs: &[PatternPack],
    max_line_bytes: usize,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> MultilineRule {
    let mut rule = MultilineRule {
        grouping: if packs.iter().any(|p| p.name == "python-logging") {
            Grouping::Python
        } else {
            Grouping::None
        },
        timeout: DEFAULT_MULTILINE_TIMEOUT,
        max_lines: DEFAULT_MULTILINE_MAX_LINES,
        max_bytes: max_line_bytes.saturating_mul(4),
    };
    let Some(m) = &w.multiline else {
        return rule;
    };
    let m = &m.value;
    use raw::MultilineKindText as K;
    let needs_pattern = matches!(m.kind.value, K::Continuation | K::Start);
    let regex = match (&m.pattern, needs_pattern) {
        (Some(p), true) => match packs::build_regex(&p.value, true) {
            Ok(re) => Some(re),
            Err(e) => {
                diags.at(
                    sources,
                    p,
                    format!("multiline pattern does not compile: {e}"),
                );
                None
            }
        },
        (None, true) => {
            diags.at(
                sources,
                &m.kind,
                "this multiline kind needs `pattern = '<regex>'`".into(),
            );
            None
        }
        (Some(p), false) => {
            diags.at(
                sources,
                p,
                "`pattern` applies only to kind \"continuation\" or \"start\"".into(),
            );
            None
        }
        (None, false) => None,
    };
    rule.grouping = match (m.kind.value, regex) {
        (K::None, _) => Grouping::None,
        (K::Python, _) => Grouping::Python,
        (K::Continuation, Some(re)) => Grouping::Continuation(re),
        (K::Start, Some(re)) => Grouping::Start(re),
        _ => Grouping::None,
    };
    if let Some(t) = &m.timeout {
        rule.timeout = range::duration(t, "multiline timeout", ms(10), secs(60), sources, diags);
    }
    if let Some(n) = &m.max_lines {
        rule.max_lines = range::number(n, "max_lines", 1, 100_000, sources, diags) as usize;
    }
    rule
}

fn resolve_rule(
    watch: &str,
    r: RawRule,
    pattern_names: &[&str],
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<RuleConfig> {
    if let Some(e) = r.enabled.as_ref().filter(|e| !e.value) {
        // `enabled = false` alone (no `when` from any file) names a rule that does not exist:
        // most likely a typo, which would leave the rule the operator meant switched on.
        if r.when.is_none() {
            diags.at(
                sources,
                e,
                format!(
                    "`enabled = false` for rule {watch}/{}, but no file defines that rule; check its name",
                    r.name.value
                ),
            );
        }
        return None;
    }
    let rule = r.name.value.clone();
    if rule == "restart" || rule == "manual-intervention" {
        diags.at(
            sources,
            &r.name,
            format!("rule name {rule:?} is reserved for logwarden's own alerts about restarts"),
        );
    }
    if !valid_name(&rule) {
        diags.at(
            sources,
            &r.name,
            format!("rule name {rule:?} may use only letters, digits, '-', '_', '.', '@'"),
        );
    }
    let Some(when) = &r.when else {
        diags.at(
            sources,
            &r.name,
            format!(
                "rule {watch}/{rule} has no `when`; use one of \"rate\", \"stale\", \"absent\", \"match\", \"new-kind\", \"anomaly\""
            ),
        );
        return None;
    };
    let kind_name = match when.value {
        RuleKindText::Rate => "rate",
        RuleKindText::Stale => "stale",
        RuleKindText::Absent => "absent",
        RuleKindText::Match => "match",
        RuleKindText::NewKind => "new-kind",
        RuleKindText::Anomaly => "anomaly",
    };
    // Settings that do not apply to this kind are errors: a `window` on a stale rule is a
    // misunderstanding the operator should hear about, not a silent no-op.
    let allowed: &[&str] = match when.value {
        RuleKindText::Rate => &["pattern", "threshold", "resolve_below", "window"],
        RuleKindText::Stale => &["after"],
        RuleKindText::Absent => &["pattern", "min", "window"],
        RuleKindText::Match => &["pattern", "cooldown"],
        RuleKindText::NewKind => &["pattern", "learn", "max_templates"],
        RuleKindText::Anomaly => &["pattern", "sensitivity", "min_count", "seasonal", "learn"],
    };
    let present: [(&str, Option<(usize, usize)>); 12] = [
        ("learn", r.learn.as_ref().map(|v| (v.file, v.span.start))),
        (
            "max_templates",
            r.max_templates.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "sensitivity",
            r.sensitivity.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "min_count",
            r.min_count.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "seasonal",
            r.seasonal.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "pattern",
            r.pattern.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "threshold",
            r.threshold.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "resolve_below",
            r.resolve_below.as_ref().map(|v| (v.file, v.span.start)),
        ),
        ("window", r.window.as_ref().map(|v| (v.file, v.span.start))),
        ("min", r.min.as_ref().map(|v| (v.file, v.span.start))),
        ("after", r.after.as_ref().map(|v| (v.file, v.span.start))),
        (
            "cooldown",
            r.cooldown.as_ref().map(|v| (v.file, v.span.start)),
        ),
    ];
    for (key, at) in present {
        if let Some((file, offset)) = at {
            if !allowed.contains(&key) {
                diags.push(format!(
                    "{}: `{key}` does not apply to a {kind_name} rule (rule {watch}/{rule}); it takes: {}",
                    sources.position(file, offset),
                    allowed.join(", ")
                ));
            }
        }
    }
    let name_at = &r.name;
    let need = |present: bool, what: &str, diags: &mut Diagnostics| {
        if !present {
            diags.at(
                sources,
                name_at,
                format!("{kind_name} rule {watch}/{rule} needs `{what}`"),
            );
        }
        present
    };
    let kind = match when.value {
        RuleKindText::Rate => {
            let ok = need(r.pattern.is_some(), "pattern", diags)
                & need(r.threshold.is_some(), "threshold", diags)
                & need(r.window.is_some(), "window", diags);
            let (Some(pattern), Some(threshold), Some(window), true) =
                (&r.pattern, &r.threshold, &r.window, ok)
            else {
                return None;
            };
            let resolve_below = r
                .resolve_below
                .as_ref()
                .map(|v| v.value)
                .unwrap_or(threshold.value.saturating_add(1));
            let threshold = range::number(threshold, "threshold", 0, 1_000_000, sources, diags);
            if let Some(rb) = &r.resolve_below {
                if rb.value == 0 || rb.value > threshold + 1 {
                    diags.at(
                        sources,
                        rb,
                        format!(
                            "resolve_below must be between 1 and threshold + 1 ({})",
                            threshold + 1
                        ),
                    );
                }
            }
            RuleKind::Rate {
                pattern: pattern.value.clone(),
                threshold,
                resolve_below,
                window: range::duration(window, "window", ms(100), days(30), sources, diags),
            }
        }
        RuleKindText::Stale => {
            let Some(after) = &r.after else {
                need(false, "after", diags);
                return None;
            };
            RuleKind::Stale {
                after: range::duration(after, "after", ms(100), days(30), sources, diags),
            }
        }
        RuleKindText::Absent => {
            let ok = need(r.pattern.is_some(), "pattern", diags)
                & need(r.window.is_some(), "window", diags);
            let (Some(pattern), Some(window), true) = (&r.pattern, &r.window, ok) else {
                return None;
            };
            let min = range::number_or(&r.min, "min", (1, 1_000_000), 1, sources, diags);
            RuleKind::Absent {
                pattern: pattern.value.clone(),
                min,
                window: range::duration(window, "window", ms(100), days(30), sources, diags),
            }
        }
        RuleKindText::Match => {
            let Some(pattern) = &r.pattern else {
                need(false, "pattern", diags);
                return None;
            };
            RuleKind::Match {
                pattern: pattern.value.clone(),
                cooldown: range::duration_or(
                    &r.cooldown,
                    "cooldown",
                    (Duration::ZERO, days(7)),
                    secs(60),
                    sources,
                    diags,
                ),
            }
        }
        RuleKindText::NewKind => {
            let Some(pattern) = &r.pattern else {
                need(false, "pattern", diags);
                return None;
            };
            let max_templates = range::number_or(
                &r.max_templates,
                "max_templates",
                (1, 100_000),
                DEFAULT_MAX_TEMPLATES as u64,
                sources,
                diags,
            ) as usize;
            RuleKind::NewKind {
                pattern: pattern.value.clone(),
                learn: range::duration_or(
                    &r.learn,
                    "learn",
                    LEARN_RANGE,
                    DEFAULT_NEW_KIND_LEARN,
                    sources,
                    diags,
                ),
                max_templates,
                state_file: PathBuf::new(),
            }
        }
        RuleKindText::Anomaly => {
            let Some(pattern) = &r.pattern else {
                need(false, "pattern", diags);
                return None;
            };
            let seasonal = r.seasonal.as_ref().is_some_and(|s| s.value);
            let sensitivity = r.sensitivity.as_ref().map(|s| s.value).unwrap_or(4.0);
            if let Some(s) = &r.sensitivity {
                if !(s.value.is_finite() && s.value > 0.0 && s.value <= 100.0) {
                    diags.at(
                        sources,
                        s,
                        "sensitivity must be a z-score above 0 and at most 100 (3 to 5 is usual)"
                            .into(),
                    );
                }
            }
            let min_count = range::number_or(
                &r.min_count,
                "min_count",
                (1, 1_000_000),
                10,
                sources,
                diags,
            );
            // A seasonal baseline needs a week to have seen every hour of it once.
            let default_learn = if seasonal {
                Duration::from_secs(7 * 86_400)
            } else {
                Duration::from_secs(86_400)
            };
            RuleKind::Anomaly {
                pattern: pattern.value.clone(),
                sensitivity,
                min_count,
                seasonal,
                learn: range::duration_or(
                    &r.learn,
                    "learn",
                    LEARN_RANGE,
                    default_learn,
                    sources,
                    diags,
                ),
                state_file: PathBuf::new(),
            }
        }
    };
    if let Some(p) = &r.pattern {
        if !pattern_names.contains(&p.value.as_str()) {
            diags.at(
                sources,
                p,
                format!(
                    "rule {watch}/{rule} uses pattern {:?}, which no pack of this watch defines; defined: {}",
                    p.value,
                    if pattern_names.is_empty() {
                        "none (add packs with `patterns = [...]`)".to_string()
                    } else {
                        pattern_names.join(", ")
                    }
                ),
            );
        }
    }
    let severity = r
        .severity
        .as_ref()
        .map(|s| severity_of(s.value))
        .unwrap_or(Severity::Warning);
    let schedule = resolve_schedule(
        &r.name.value,
        r.active.as_ref(),
        r.holidays.as_ref(),
        r.holidays_file.as_ref(),
        sources,
        diags,
    )
    .map(std::sync::Arc::new);
    Some(RuleConfig {
        name: rule,
        severity,
        kind,
        then_restart: recovery::wants_restart(&r.then),
        schedule,
    })
}

#[cfg(test)]
mod tests;
