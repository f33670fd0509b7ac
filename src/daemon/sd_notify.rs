//! systemd integration: `READY=1` once the pipeline runs, and `WATCHDOG=1` pings while it is
//! really moving (every source woke recently and the rules engine loops): a stuck source or
//! engine stops the pings and systemd restarts logwarden (`WatchdogSec=` in the unit).
//! Without `NOTIFY_SOCKET` (not started by systemd) all of this does nothing.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::task::JoinSet;

use crate::core::shutdown::Shutdown;
use crate::telemetry::Telemetry;

/// Tells systemd logwarden is ready, and pings its watchdog while healthy: a task in
/// `tasks`, which ends at shutdown.
pub fn start(telemetry: Arc<Telemetry>, mut shutdown: Shutdown, tasks: &mut JoinSet<()>) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let watchdog = sd_notify::watchdog_enabled();
    tasks.spawn(async move {
        // Give sources a moment to open their files before saying "ready".
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = sd_notify::notify(&[NotifyState::Ready]);
        let Some(period) = watchdog.filter(|p| !p.is_zero()) else {
            return;
        };
        let every = period / 2;
        let mut tick = tokio::time::interval(every);
        let mut warned = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.wait() => {
                    let _ = sd_notify::notify(&[NotifyState::Stopping]);
                    return;
                }
            }
            let problems = telemetry.problems();
            if problems.is_empty() {
                let _ = sd_notify::notify(&[NotifyState::Watchdog]);
                warned = false;
            } else if !warned {
                tracing::error!(problems = ?problems, "not pinging the systemd watchdog: the pipeline is stuck");
                warned = true;
            }
        }
    });
}

/// The dead-man's switch: GETs `url` every `every` while logwarden is healthy, so a service
/// like healthchecks.io tells a person when logwarden itself is down (seed 001). The URL
/// holds a token: it is never logged.
pub async fn dead_mans_switch(
    url: crate::config::Secret,
    every: Duration,
    telemetry: Arc<Telemetry>,
    mut shutdown: Shutdown,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "dead-man's switch disabled: no HTTP client");
            return;
        }
    };
    // `heartbeat_every` is at least 100ms (config/range.rs); a zero would panic here.
    debug_assert!(!every.is_zero(), "heartbeat_every is checked at load");
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait() => return,
        }
        if !telemetry.problems().is_empty() {
            continue;
        }
        let ok = match client.get(&url.0).send().await {
            Ok(r) if r.status().is_success() => true,
            Ok(r) => {
                if !failing {
                    tracing::warn!(status = %r.status(), "dead-man's switch ping refused");
                }
                false
            }
            Err(e) => {
                if !failing {
                    let kind = if e.is_timeout() {
                        "timed out"
                    } else if e.is_connect() {
                        "connection failed"
                    } else {
                        "request failed"
                    };
                    tracing::warn!(error = kind, "dead-man's switch ping failed");
                }
                false
            }
        };
        failing = !ok;
    }
}
