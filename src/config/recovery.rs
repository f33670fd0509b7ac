//! The recovery part of a watch's config: `[watch.restart]` and `[[watch.probe]]`, with the
//! defaults the seeds' operators expect (3 failures, 60 s checks, 10 s..300 s backoff,
//! 3 restarts an hour, 5-minute staleness).

use std::path::PathBuf;
use std::time::Duration;

use crate::config::error::Diagnostics;
use crate::config::located::resolve_path;
use crate::config::located::{Located, SourceMap};
use crate::config::range::{self, days, ms, secs};
use crate::config::raw::{
    ActionText, IncidentText, ProbeKindText, RawProbe, RawRestart, SeverityText, Threshold,
};
use crate::core::alert::Severity;

/// How a watch's service is restarted, and how often it may be.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartConfig {
    pub method: RestartMethod,
    /// After the graceful stop request, how long to wait before killing what is left.
    pub stop_timeout: Duration,
    /// After the start, how long to wait before checking that the restart worked.
    pub verify_after: Duration,
    /// At most this many restarts within `window`; then a person is asked to step in.
    pub max_restarts: u32,
    pub window: Duration,
    /// Wait between attempts: `backoff`, doubled each time, at most `backoff_max`.
    pub backoff: Duration,
    pub backoff_max: Duration,
    /// Healthy this long after a restart: the backoff starts over.
    pub healthy_after: Duration,
    /// After a start, rules of the watch do not judge it for this long.
    pub startup_grace: Duration,
    /// Rules or probes that must also be firing for a restart (independent signals).
    pub confirm: Vec<String>,
}

/// What restarts the service.
#[derive(Debug, Clone, PartialEq)]
pub enum RestartMethod {
    /// `systemctl` (with `--user --machine=USER@` for a user unit).
    Systemd { unit: String, user: Option<String> },
    /// A command run without a shell: `["/usr/local/bin/restart-bot", "--hard"]`.
    Command(Vec<String>),
}

/// One active check.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeConfig {
    pub name: String,
    pub kind: ProbeKind,
    pub every: Duration,
    pub timeout: Duration,
    /// Consecutive failures before it counts as down.
    pub failures: u32,
    pub severity: Severity,
    pub then_restart: bool,
    /// `incident = "apart"`: never folded into the watch's incident.
    pub apart: bool,
    /// When its verdicts count (`active`, `holidays`); `None`: always.
    pub schedule: Option<std::sync::Arc<crate::config::schedule::Schedule>>,
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeKind {
    /// GET `url`; healthy on 2xx (and, with `json`, when the answer holds that value).
    Http {
        url: String,
        json: Option<JsonCheck>,
    },
    /// `path`'s modification time is younger than `max_age`.
    Heartbeat { path: PathBuf, max_age: Duration },
    /// The unit is active (and, with `crash_loop`, not restarted by systemd too often).
    Unit {
        unit: String,
        user: Option<String>,
        crash_loop: Option<CrashLoopLimit>,
    },
    /// Used space of the file system holding `path`, in percent.
    Disk {
        path: PathBuf,
        warning: f64,
        critical: f64,
    },
    /// Used memory (100 - MemAvailable/MemTotal), in percent.
    Memory { warning: f64, critical: f64 },
    /// A TLS certificate, served or in a file: down `warning` (a warning) or `critical`
    /// before it expires, and when it is expired, not yet valid, for another host name, not
    /// trusted, or cannot be had.
    Cert {
        target: CertTarget,
        warning: Duration,
        critical: Duration,
        /// CA certificates to trust besides the web PKI's (a private CA).
        ca_file: Option<PathBuf>,
    },
}

/// Where a `cert` probe's certificate is.
#[derive(Debug, Clone, PartialEq)]
pub enum CertTarget {
    /// Served at `host:port` (`url = "https://host:port"`); SNI and the name checked are `host`.
    Served { host: String, port: u16 },
    /// The first certificate of a PEM file (`path`, e.g. `fullchain.pem`).
    File(PathBuf),
}

/// Default `warning` of a `cert` probe: 30 days before expiry.
pub const CERT_WARNING: Duration = Duration::from_secs(30 * 86_400);
/// Default `critical` of a `cert` probe: 7 days before expiry.
pub const CERT_CRITICAL: Duration = Duration::from_secs(7 * 86_400);

/// `json_field` / `json_equals` of an http probe.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonCheck {
    /// Dotted path into the answer's JSON object: `"status"`, `"checks.db"`.
    pub field: String,
    pub equals: String,
}

/// `crash_loop` / `crash_window` of a unit probe: more than `restarts` restarts by systemd
/// (its `NRestarts` counter) within `window` is a crash loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrashLoopLimit {
    pub restarts: u64,
    pub window: Duration,
}

/// Whether an action list asks for a restart.
pub fn wants_restart(then: &Option<Vec<Located<ActionText>>>) -> bool {
    then.iter()
        .flatten()
        .any(|a| a.value == ActionText::Restart)
}

/// `[watch.restart]`, or the default one when the watch has a `unit`.
pub fn resolve_restart(
    watch: &str,
    unit: Option<&str>,
    raw: Option<&Located<RawRestart>>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<RestartConfig> {
    let r = raw.map(|r| &r.value);
    let method = match (r.and_then(|r| r.command.as_ref()), unit) {
        (Some(c), _) if c.value.is_empty() => {
            diags.at(sources, c, "restart command is empty".into());
            return None;
        }
        (Some(c), _) => RestartMethod::Command(c.value.clone()),
        (None, Some(u)) => RestartMethod::Systemd {
            unit: u.to_string(),
            user: r.and_then(|r| r.user.as_ref()).map(|u| u.value.clone()),
        },
        (None, None) => {
            if let Some(raw) = raw {
                diags.at(
                    sources,
                    raw,
                    format!("watch {watch:?} has [watch.restart] but neither a `unit` nor a restart `command`"),
                );
            }
            return None;
        }
    };
    // Each duration and number in its range (docs/config.md), else its default.
    let d = |v: Option<&Option<Located<crate::config::duration::ConfigDuration>>>,
             key: &str,
             bounds: (Duration, Duration),
             default: Duration,
             diags: &mut Diagnostics| {
        range::duration_or(v.unwrap_or(&None), key, bounds, default, sources, diags)
    };
    let max_restarts = range::number_or(
        r.map_or(&None, |r| &r.max_restarts),
        "max_restarts",
        (1, 100),
        3,
        sources,
        diags,
    ) as u32;
    let backoff = d(
        r.map(|r| &r.backoff),
        "backoff",
        (secs(1), days(1)),
        secs(10),
        diags,
    );
    let backoff_max = d(
        r.map(|r| &r.backoff_max),
        "backoff_max",
        (secs(1), days(7)),
        secs(300),
        diags,
    );
    if backoff_max < backoff {
        if let Some(b) = r.and_then(|r| r.backoff_max.as_ref()) {
            diags.at(
                sources,
                b,
                "backoff_max must not be shorter than backoff".into(),
            );
        }
    }
    Some(RestartConfig {
        method,
        stop_timeout: d(
            r.map(|r| &r.stop_timeout),
            "stop_timeout",
            (ms(100), secs(600)),
            secs(2),
            diags,
        ),
        verify_after: d(
            r.map(|r| &r.verify_after),
            "verify_after",
            (ms(100), secs(3600)),
            secs(10),
            diags,
        ),
        max_restarts,
        window: d(
            r.map(|r| &r.window),
            "window",
            (secs(1), days(30)),
            secs(3600),
            diags,
        ),
        backoff,
        backoff_max,
        healthy_after: d(
            r.map(|r| &r.healthy_after),
            "healthy_after",
            (secs(1), days(30)),
            secs(600),
            diags,
        ),
        startup_grace: d(
            r.map(|r| &r.startup_grace),
            "startup_grace",
            (Duration::ZERO, secs(3600)),
            secs(30),
            diags,
        ),
        confirm: r
            .and_then(|r| r.confirm.as_ref())
            .map(|c| c.iter().map(|n| n.value.clone()).collect())
            .unwrap_or_default(),
    })
}

/// A problem when `key` is set on a probe of another kind than `kind`.
fn only_for<T>(
    p: &RawProbe,
    kind: ProbeKindText,
    key: &str,
    value: &Option<Located<T>>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) {
    if let Some(v) = value.as_ref().filter(|_| p.kind.value != kind) {
        diags.at(
            sources,
            v,
            format!(
                "`{key}` applies only to probes of kind = \"{}\"",
                format!("{kind:?}").to_lowercase()
            ),
        );
    }
}

/// One `[[watch.probe]]`.
pub fn resolve_probe(
    watch: &str,
    unit: Option<&str>,
    user: Option<&str>,
    p: &RawProbe,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<ProbeConfig> {
    let name = p.name.value.clone();
    let kind = probe_kind(watch, &name, unit, user, p, sources, diags)?;
    let failures = range::number_or(&p.failures, "failures", (1, 1000), 3, sources, diags);
    let every = range::duration_or(
        &p.every,
        "every",
        (ms(100), days(1)),
        secs(60),
        sources,
        diags,
    );
    let timeout = range::duration_or(
        &p.timeout,
        "timeout",
        (ms(100), secs(600)),
        secs(10),
        sources,
        diags,
    );
    Some(ProbeConfig {
        name,
        kind,
        every,
        timeout,
        failures: failures as u32,
        severity: match p.severity.as_ref().map(|s| s.value) {
            Some(SeverityText::Info) => Severity::Info,
            Some(SeverityText::Warning) => Severity::Warning,
            _ => Severity::Critical,
        },
        then_restart: wants_restart(&p.then),
        apart: p.incident.as_ref().map(|i| i.value) == Some(IncidentText::Apart),
        schedule: crate::config::schedule::resolve_schedule(
            &p.name.value,
            p.active.as_ref(),
            p.holidays.as_ref(),
            p.holidays_file.as_ref(),
            sources,
            diags,
        )
        .map(std::sync::Arc::new),
    })
}

/// What a probe checks, by its `kind`.
fn probe_kind(
    watch: &str,
    name: &str,
    unit: Option<&str>,
    user: Option<&str>,
    p: &RawProbe,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<ProbeKind> {
    let need_path = |diags: &mut Diagnostics| -> Option<PathBuf> {
        match &p.path {
            Some(path) => Some(resolve_path(sources, path)),
            None => {
                diags.at(
                    sources,
                    &p.name,
                    format!("probe {watch}/{name} needs `path`"),
                );
                None
            }
        }
    };
    let percent = |t: &Option<Located<Threshold>>, default: f64, diags: &mut Diagnostics| match t {
        None => default,
        Some(v) => match v.value {
            Threshold::Percent(x) => x,
            Threshold::Before(_) => {
                diags.at(sources, v, format!("probe {watch}/{name}: a percent here, like 80 (a duration is for kind = \"cert\")"));
                default
            }
        },
    };
    let levels = |diags: &mut Diagnostics| -> (f64, f64) {
        let w = percent(&p.warning, 80.0, diags);
        let c = percent(&p.critical, 90.0, diags);
        if !(0.0..=100.0).contains(&w) || !(0.0..=100.0).contains(&c) || w > c {
            diags.at(
                sources,
                &p.name,
                format!("probe {watch}/{name}: warning and critical are percents with warning <= critical"),
            );
        }
        (w, c)
    };
    let (json, crash_loop) = kind_extras(watch, name, p, sources, diags);
    let kind = match p.kind.value {
        ProbeKindText::Http => match &p.url {
            Some(u) if u.value.starts_with("http://") || u.value.starts_with("https://") => {
                ProbeKind::Http {
                    url: u.value.clone(),
                    json,
                }
            }
            Some(u) => {
                diags.at(
                    sources,
                    u,
                    "probe url must start with http:// or https://".into(),
                );
                return None;
            }
            None => {
                diags.at(
                    sources,
                    &p.name,
                    format!("http probe {watch}/{name} needs `url`"),
                );
                return None;
            }
        },
        ProbeKindText::Heartbeat => ProbeKind::Heartbeat {
            path: need_path(diags)?,
            max_age: range::duration_or(
                &p.max_age,
                "max_age",
                (secs(1), days(30)),
                secs(300),
                sources,
                diags,
            ),
        },
        ProbeKindText::Unit => match unit {
            Some(u) => ProbeKind::Unit {
                unit: u.to_string(),
                user: user.map(str::to_string),
                crash_loop,
            },
            None => {
                diags.at(
                    sources,
                    &p.name,
                    format!("unit probe {watch}/{name} needs the watch's `unit`"),
                );
                return None;
            }
        },
        ProbeKindText::Disk => {
            let path = need_path(diags)?;
            let (warning, critical) = levels(diags);
            ProbeKind::Disk {
                path,
                warning,
                critical,
            }
        }
        ProbeKindText::Cert => cert_kind(watch, name, p, sources, diags)?,
        ProbeKindText::Memory => {
            let (warning, critical) = levels(diags);
            ProbeKind::Memory { warning, critical }
        }
    };
    Some(kind)
}

/// The keys of one kind only (refused on others), and the `json_*` and `crash_*` checks.
fn kind_extras(
    watch: &str,
    name: &str,
    p: &RawProbe,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> (Option<JsonCheck>, Option<CrashLoopLimit>) {
    // Keys that belong to one kind only.
    only_for(
        p,
        ProbeKindText::Http,
        "json_field",
        &p.json_field,
        sources,
        diags,
    );
    only_for(
        p,
        ProbeKindText::Http,
        "json_equals",
        &p.json_equals,
        sources,
        diags,
    );
    only_for(
        p,
        ProbeKindText::Unit,
        "crash_loop",
        &p.crash_loop,
        sources,
        diags,
    );
    only_for(
        p,
        ProbeKindText::Unit,
        "crash_window",
        &p.crash_window,
        sources,
        diags,
    );
    only_for(
        p,
        ProbeKindText::Cert,
        "ca_file",
        &p.ca_file,
        sources,
        diags,
    );
    let json = match (&p.json_field, &p.json_equals) {
        (Some(f), Some(e)) => Some(JsonCheck {
            field: f.value.clone(),
            equals: e.value.clone(),
        }),
        (None, None) => None,
        (Some(at), None) | (None, Some(at)) => {
            diags.at(
                sources,
                at,
                format!("probe {watch}/{name}: set both json_field and json_equals, or neither"),
            );
            None
        }
    };
    let crash_window = range::duration_or(
        &p.crash_window,
        "crash_window",
        (secs(10), days(7)),
        secs(600),
        sources,
        diags,
    );
    let crash_loop = p.crash_loop.as_ref().map(|n| CrashLoopLimit {
        restarts: range::number(n, "crash_loop", 1, 1000, sources, diags),
        window: crash_window,
    });
    (json, crash_loop)
}

/// A `cert` probe: `url = "https://host[:port]"` or `path`, `warning`/`critical` before
/// expiry (30d, 7d), `ca_file`.
fn cert_kind(
    watch: &str,
    name: &str,
    p: &RawProbe,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<ProbeKind> {
    let before = |t: &Option<Located<Threshold>>, default: Duration, diags: &mut Diagnostics| {
        match t {
            None => default,
            Some(v) => match v.value {
                Threshold::Before(d) if d > Duration::ZERO && d <= days(3650) => d,
                _ => {
                    diags.at(sources, v, format!("probe {watch}/{name}: a time before expiry here, like \"30d\" (more than 0, at most 3650d)"));
                    default
                }
            },
        }
    };
    let warning = before(&p.warning, CERT_WARNING, diags);
    let critical = before(&p.critical, CERT_CRITICAL, diags);
    if critical > warning {
        diags.at(sources, &p.name, format!("probe {watch}/{name}: critical must be at most warning (it comes later, nearer the expiry)"));
    }
    let target = match (&p.url, &p.path) {
        (Some(u), None) => match served(&u.value) {
            Some((host, port)) => CertTarget::Served { host, port },
            None => {
                diags.at(
                    sources,
                    u,
                    format!("probe {watch}/{name}: url must be https://HOST or https://HOST:PORT"),
                );
                return None;
            }
        },
        (None, Some(path)) => CertTarget::File(resolve_path(sources, path)),
        _ => {
            diags.at(sources, &p.name, format!("cert probe {watch}/{name} needs either `url` (https://host:port) or `path` (a PEM file)"));
            return None;
        }
    };
    let ca_file = p.ca_file.as_ref().map(|f| {
        let path = resolve_path(sources, f);
        if let Err(e) = std::fs::read(&path) {
            diags.at(sources, f, format!("cannot read {}: {e}", path.display()));
        }
        path
    });
    Some(ProbeKind::Cert {
        target,
        warning,
        critical,
        ca_file,
    })
}

/// `https://host[:port][/]` -> (host, port): a host name or an IP address (IPv6 in brackets).
fn served(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("https://")?.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p))
            if !h.ends_with(':')
                && (h.starts_with('[') == h.ends_with(']'))
                && !p.contains(']') =>
        {
            (h, p.parse().ok()?)
        }
        _ => (rest, 443),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty() && port > 0).then(|| (host.to_string(), port))
}
