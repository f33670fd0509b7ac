//! How a service is restarted: through `systemctl` (system or user units) or a command.
//!
//! `systemctl` rather than D-Bus (`zbus`): it is on every systemd machine, its behaviour and
//! errors are what operators know, it handles `--user --machine=USER@` for user units, and
//! it needs no extra crate; every call runs with a timeout. The sequence, as the seeds'
//! watchdogs do it: thaw (SIGCONT, a SIGSTOPped process cannot act on SIGTERM), a graceful
//! stop, wait `stop_timeout` (or the unit's own `TimeoutStopSec` when longer), SIGKILL what
//! is left of the unit's cgroup, `reset-failed` when the unit hit its start limit, start.
//! The caller is told the moment the old process is gone (before the start; after the
//! command for a restart command), so it can tell the new process's output from the old's.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::config::RestartMethod;
use crate::core::systemctl;

/// No `systemctl` call may take longer than this (a hung D-Bus must not hang logwarden).
const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(60);

/// A restart that could not be done.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RestartError(pub String);

/// A unit's state as `systemctl show` tells it.
#[derive(Debug, Clone, Default)]
pub struct UnitState {
    pub active_state: String,
    pub sub_state: String,
    pub result: String,
    pub timeout_stop: Option<Duration>,
}

impl UnitState {
    /// Stopped cleanly: by an operator (`systemctl stop`) or a normal exit.
    pub fn stopped_on_purpose(&self) -> bool {
        self.active_state == "inactive" && self.result == "success"
    }
}

/// Runs `systemctl ARGS` (for `user`'s manager, see `core::systemctl`) and returns its stdout.
async fn run(user: Option<&str>, args: &[&str]) -> Result<String, RestartError> {
    let out = tokio::time::timeout(
        SYSTEMCTL_TIMEOUT,
        systemctl::command(user).args(args).output(),
    )
    .await
    .map_err(|_| RestartError(format!("systemctl {} timed out", args.join(" "))))?
    .map_err(|e| RestartError(format!("cannot run systemctl: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let hint = systemctl::hint(user)
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        Err(RestartError(format!(
            "systemctl {} failed: {}{hint}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// `systemctl show` of the properties the restart needs.
pub async fn unit_state(unit: &str, user: Option<&str>) -> Result<UnitState, RestartError> {
    let text = run(
        user,
        &[
            "show",
            "-p",
            "ActiveState,SubState,Result,TimeoutStopUSec",
            "--",
            unit,
        ],
    )
    .await?;
    let props: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    Ok(UnitState {
        active_state: props.get("ActiveState").unwrap_or(&"").to_string(),
        sub_state: props.get("SubState").unwrap_or(&"").to_string(),
        result: props.get("Result").unwrap_or(&"").to_string(),
        timeout_stop: props
            .get("TimeoutStopUSec")
            .and_then(|t| parse_systemd_span(t)),
    })
}

/// Parses systemd's time spans as `show` prints them (`1min 30s`, `90s`, `500ms`, `infinity`).
fn parse_systemd_span(text: &str) -> Option<Duration> {
    if text == "infinity" {
        return None;
    }
    let mut total = Duration::ZERO;
    for part in text.split_whitespace() {
        let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
        let unit = &part[digits.len()..];
        let n: u64 = digits.parse().ok()?;
        total += match unit {
            "us" => Duration::from_micros(n),
            "ms" => Duration::from_millis(n),
            "s" | "" => Duration::from_secs(n),
            "min" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return None,
        };
    }
    Some(total)
}

/// What a restart did, step by step, for the alert.
#[derive(Debug, Default)]
pub struct RestartReport {
    pub steps: Vec<String>,
    /// The unit's main PID after the start (`None`: not known, e.g. a restart command).
    pub main_pid: Option<u32>,
}

/// Called once when every process of the old instance has ended, before the new one starts
/// (with a restart command, which does both: when it has returned).
pub type OnStopped<'a> = &'a (dyn Fn() + Send + Sync);

/// Restarts the service. Returns what was done, or why it failed.
pub async fn restart(
    method: &RestartMethod,
    stop_timeout: Duration,
    on_stopped: OnStopped<'_>,
) -> Result<RestartReport, RestartError> {
    match method {
        RestartMethod::Command(argv) => {
            let mut report = RestartReport::default();
            let (program, args) = argv
                .split_first()
                .ok_or_else(|| RestartError("empty restart command".into()))?;
            let out = tokio::time::timeout(
                SYSTEMCTL_TIMEOUT,
                Command::new(program).args(args).kill_on_drop(true).output(),
            )
            .await
            .map_err(|_| RestartError(format!("restart command {program} timed out")))?
            .map_err(|e| RestartError(format!("cannot run restart command {program}: {e}")))?;
            if !out.status.success() {
                return Err(RestartError(format!(
                    "restart command {program} failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            on_stopped();
            report.steps.push(format!("ran {program}"));
            Ok(report)
        }
        RestartMethod::Systemd { unit, user } => {
            restart_unit(unit, user.as_deref(), stop_timeout, on_stopped).await
        }
    }
}

async fn restart_unit(
    unit: &str,
    user: Option<&str>,
    stop_timeout: Duration,
    on_stopped: OnStopped<'_>,
) -> Result<RestartReport, RestartError> {
    let mut report = RestartReport::default();
    let state = unit_state(unit, user).await?;
    if matches!(
        state.active_state.as_str(),
        "active" | "activating" | "reloading"
    ) {
        // A frozen (SIGSTOPped) process cannot act on SIGTERM: thaw it first.
        let _ = run(user, &["kill", "--signal=SIGCONT", "--", unit]).await;
        run(user, &["stop", "--no-block", "--", unit]).await?;
        let wait = state
            .timeout_stop
            .map(|t| t.max(stop_timeout))
            .unwrap_or(stop_timeout);
        report.steps.push(format!(
            "asked {unit} to stop (waiting up to {})",
            fmt(wait)
        ));
        if !wait_inactive(unit, user, wait).await? {
            run(
                user,
                &["kill", "--kill-whom=all", "--signal=SIGKILL", "--", unit],
            )
            .await?;
            report
                .steps
                .push("still running: sent SIGKILL to every process of the unit".into());
            if !wait_inactive(unit, user, Duration::from_secs(10)).await? {
                return Err(RestartError(format!(
                    "{unit} did not stop even after SIGKILL"
                )));
            }
        }
    }
    let state = unit_state(unit, user).await?;
    if state.active_state == "failed" {
        // Our own restarts count against StartLimitBurst (systemd 252 has no RestartSteps=).
        run(user, &["reset-failed", "--", unit]).await?;
        report.steps.push(format!(
            "{unit} was in the failed state ({}); ran reset-failed",
            state.result
        ));
    }
    // Inactive or failed: with the default KillMode the whole cgroup has ended.
    on_stopped();
    if let Err(e) = run(user, &["start", "--", unit]).await {
        // A start limit hit by this very start: reset once and try again.
        let _ = run(user, &["reset-failed", "--", unit]).await;
        run(user, &["start", "--", unit])
            .await
            .map_err(|e2| RestartError(format!("{e}; after reset-failed: {e2}")))?;
        report
            .steps
            .push("start hit the unit's start limit; ran reset-failed and started again".into());
    }
    report.main_pid = main_pid(unit, user).await;
    match report.main_pid {
        Some(pid) => report.steps.push(format!("started {unit} (PID {pid})")),
        None => report.steps.push(format!("started {unit}")),
    }
    Ok(report)
}

/// The unit's main PID (`None` when it has none or it cannot be read).
async fn main_pid(unit: &str, user: Option<&str>) -> Option<u32> {
    let text = run(user, &["show", "-p", "MainPID", "--value", "--", unit])
        .await
        .ok()?;
    text.trim().parse().ok().filter(|&p| p != 0)
}

/// Waits until the unit is inactive or failed; `false` if it still runs after `limit`.
async fn wait_inactive(
    unit: &str,
    user: Option<&str>,
    limit: Duration,
) -> Result<bool, RestartError> {
    let until = Instant::now() + limit;
    loop {
        let s = unit_state(unit, user).await?;
        if matches!(s.active_state.as_str(), "inactive" | "failed") {
            return Ok(true);
        }
        if Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn fmt(d: Duration) -> String {
    crate::config::duration::format_duration(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_spans_parse() {
        assert_eq!(
            parse_systemd_span("1min 30s"),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_systemd_span("500ms"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_systemd_span("infinity"), None);
    }
}
