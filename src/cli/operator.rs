//! `logwarden silence`, `silences`, `unsilence` and `ack`: operator commands run beside the
//! daemon. Each goes through `actions::operator` (the same path the Telegram control takes)
//! as the unix user running it; the daemon picks the change up from `state_dir` within
//! `OPERATOR_POLL` (1 s).
//!
//! Exit codes: 0 done; 1 refused (the config does not load, an unknown watch, rule or
//! silence id, nothing firing to acknowledge), nothing changed; 2 the operator's file could
//! not be read or written.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use crate::actions::operator::{self, Done, OperatorCommand, OperatorError};
use crate::actions::quote::escape_controls;
use crate::cli::load_or_report;
use crate::config::duration::format_duration;
use crate::core::timefmt::rfc3339;

pub use crate::actions::operator::MAX_SILENCE;

/// What to run.
pub enum Args<'a> {
    /// `silence SCOPE --for D [--reason R]`.
    Silence {
        scope: &'a str,
        duration: Duration,
        reason: &'a str,
    },
    /// `silences [--json]`.
    List { json: bool },
    /// `unsilence ID`.
    Unsilence { id: &'a str },
    /// `ack WATCH/RULE`.
    Ack { scope: &'a str },
}

/// Runs one operator command against the config at `config_path`.
pub fn command(config_path: &Path, args: Args<'_>) -> anyhow::Result<ExitCode> {
    let config = match load_or_report(config_path, "nothing changed", 1) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let state_dir = &config.daemon.state_dir;
    let who = operator::unix_user();
    let cmd = match args {
        Args::List { json } => return list(state_dir, json),
        Args::Silence {
            scope,
            duration,
            reason,
        } => match operator::parse_scope(&config, scope) {
            Ok(scope) => OperatorCommand::Silence {
                scope,
                until: SystemTime::now() + duration,
                reason: reason.to_string(),
            },
            Err(e) => return Ok(refused(&e)),
        },
        Args::Unsilence { id } => OperatorCommand::Unsilence { id: id.to_string() },
        Args::Ack { scope } => match operator::parse_scope(&config, scope) {
            Ok(operator::Scope {
                watch,
                rule: Some(rule),
            }) => OperatorCommand::Ack { watch, rule },
            Ok(s) => {
                eprintln!("logwarden: ack needs WATCH/RULE (one alert), not {s}; nothing changed");
                return Ok(ExitCode::from(1));
            }
            Err(e) => return Ok(refused(&e)),
        },
    };
    let open = crate::actions::router::open_alerts(state_dir);
    match operator::apply(&config, &open, cmd, &who) {
        Ok(Done::Silenced(s)) => {
            // The id alone on stdout, for scripts; the sentence for a person on stderr.
            println!("{}", s.id);
            eprintln!(
                "silenced {} for {} (until {}) by {who}: its alerts are held, rules keep running; `logwarden unsilence {}` ends it",
                s.scope,
                format_duration(Duration::from_secs(
                    s.ends_ms.saturating_sub(s.starts_ms).div_ceil(1000)
                )),
                rfc3339(operator::until_time(s.ends_ms)),
                s.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(Done::Unsilenced(s)) => {
            println!(
                "silence {} ({}) ended: alerts it held that still fire are sent within a second",
                s.id, s.scope
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(Done::Acked(a)) => {
            println!(
                "{}/{} acknowledged by {who}: no more reminders until it resolves",
                a.watch, a.rule
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ OperatorError::Store(_)) => {
            eprintln!("logwarden: {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Ok(refused(&e)),
    }
}

/// Prints why a command was refused; exit code 1.
fn refused(e: &OperatorError) -> ExitCode {
    eprintln!("logwarden: {e}; nothing changed");
    ExitCode::from(1)
}

/// `logwarden silences`: the active silences, one a line (or JSON).
fn list(state_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let state = match operator::read(state_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("logwarden: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let now_ms = crate::actions::notification::unix_ms(SystemTime::now());
    let active: Vec<_> = state
        .silences
        .into_iter()
        .filter(|s| s.active(now_ms))
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&active)?);
        return Ok(ExitCode::SUCCESS);
    }
    if active.is_empty() {
        println!("no active silence");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<8}  {:<24}  {:<24}  {:<10}  REASON",
        "ID", "SCOPE", "ENDS", "WHO"
    );
    for s in &active {
        // Reasons are stored inert; escaped again in case the file was edited by hand.
        println!(
            "{:<8}  {:<24}  {:<24}  {:<10}  {}",
            s.id,
            escape_controls(&s.scope.to_string(), false),
            rfc3339(operator::until_time(s.ends_ms)),
            escape_controls(&s.who, false),
            escape_controls(&s.reason, false)
        );
    }
    Ok(ExitCode::SUCCESS)
}
