//! `logwarden probe`: runs every probe of the config once, without the daemon, and exits with
//! the worst level, as seed 002's `health_monitor --check` does (for cron or a Nagios-style
//! poller): 0 HEALTHY, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use crate::actions::quote::one_line;
use crate::actions::redact::Redactor;
use crate::cli::{load_or_report, runtime};
use crate::config::ProbeConfig;
use crate::core::alert::Severity;

/// A probe's result as this command reports it (Nagios' four levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Healthy,
    Warning,
    Critical,
    /// Nothing could be judged: the config does not load, or no probe was selected.
    Unknown,
}

impl Level {
    fn exit_code(self) -> u8 {
        match self {
            Level::Healthy => 0,
            Level::Warning => 1,
            Level::Critical => 2,
            Level::Unknown => 3,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Level::Healthy => "HEALTHY",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
            Level::Unknown => "UNKNOWN",
        }
    }

    /// A failed check's level: the level the check graded (disk, memory), else the
    /// probe's `severity`. An `info` probe that fails is a warning: a failing check is never
    /// healthy.
    fn of_failure(graded: Option<Severity>, probe: Severity) -> Level {
        match graded.unwrap_or(probe) {
            Severity::Critical => Level::Critical,
            Severity::Warning | Severity::Info => Level::Warning,
        }
    }
}

/// One probe's line of the report.
#[derive(Debug, Serialize)]
struct ProbeResult {
    watch: String,
    probe: String,
    level: Level,
    message: String,
    /// A `cert` probe's certificate: when it expires (RFC 3339) and the whole days left.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    days_left: Option<i64>,
}

/// The whole report (`--json`).
#[derive(Debug, Serialize)]
struct Report {
    level: Level,
    probes: Vec<ProbeResult>,
}

/// `logwarden probe [--json] [WATCH...]`.
pub fn command(config_path: &Path, json: bool, watches: &[String]) -> anyhow::Result<ExitCode> {
    let config = match load_or_report(config_path, "nothing probed", Level::Unknown.exit_code()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if let Some(unknown) = watches
        .iter()
        .find(|w| !config.watches.iter().any(|c| &c.name == *w))
    {
        eprintln!(
            "logwarden: no watch {unknown:?} in {}",
            config_path.display()
        );
        return Ok(ExitCode::from(Level::Unknown.exit_code()));
    }
    let selected: Vec<(&str, &ProbeConfig)> = config
        .watches
        .iter()
        .filter(|w| watches.is_empty() || watches.contains(&w.name))
        .flat_map(|w| w.probes.iter().map(move |p| (w.name.as_str(), p)))
        .collect();
    // What a check says may quote a URL or a server's answer: redacted like an alert.
    let redactor = Redactor::new(&config.alerts, &config.secret_values());
    let redactor = &redactor;
    let results = runtime()?.block_on(async {
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()?;
        let checks = selected.iter().map(|(watch, p)| {
            let client = client.clone();
            async move {
                let v = crate::probes::check(p, &client).await;
                let level = if v.healthy {
                    Level::Healthy
                } else {
                    Level::of_failure(v.level, p.severity)
                };
                ProbeResult {
                    watch: watch.to_string(),
                    probe: p.name.clone(),
                    level,
                    message: redactor.redact(&v.detail).into_owned(),
                    not_after: v.cert.as_ref().map(|c| c.not_after.to_string()),
                    days_left: v.cert.as_ref().map(|c| c.days_left),
                }
            }
        });
        Ok::<_, reqwest::Error>(futures_util::future::join_all(checks).await)
    })?;
    let level = if results.is_empty() {
        Level::Unknown
    } else {
        results
            .iter()
            .map(|r| r.level)
            .max()
            .unwrap_or(Level::Unknown)
    };
    let report = Report {
        level,
        probes: results,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for r in &report.probes {
            // Inert on a terminal: a server's answer may hold control sequences.
            println!(
                "{:<8} {}/{}: {}",
                r.level.word(),
                one_line(&r.watch),
                one_line(&r.probe),
                one_line(&r.message)
            );
        }
        if report.probes.is_empty() {
            println!("UNKNOWN  no probe configured for the watches asked");
        }
        println!("overall: {}", report.level.word());
    }
    Ok(ExitCode::from(report.level.exit_code()))
}
