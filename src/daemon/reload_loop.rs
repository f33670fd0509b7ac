//! The daemon's outer loop: runs the pipeline until SIGTERM/SIGINT and replaces it when the
//! config is reloaded (SIGHUP, or a config or pattern file changed), refusing a bad config
//! with an alert while the old one keeps running.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::core::alert::{Alert, AlertState, Severity};
use crate::core::logging::LogFormat;
use crate::core::rule_names::CONFIG_RULE;
use crate::core::rule_names::SELF_WATCH;
use crate::core::shutdown;
use crate::source::file::hub;

/// How long after a (re)start the memory freed by start-up is given back.
const TRIM_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// Gives the free pages of every malloc arena back to the system. Compiling patterns and
/// loading the config free several MB that glibc would otherwise keep resident (measured:
/// 17.8 MB anonymous before, 11.4 MB after; docs/decisions.md "Idle cost").
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How often config and pattern files are looked at.
const CONFIG_LOOK: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs the pipeline until SIGTERM/SIGINT, reloading on SIGHUP or when a config or pattern
/// file changes. A new config is validated whole first; a bad one is refused with its
/// file:line:column problems and the running pipeline goes on untouched. A good one replaces
/// the pipeline: the old one stops (its positions are saved), the new one resumes from them.
pub async fn run(path: PathBuf, mut config: Config, format: LogFormat) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    // Whether the last reload was refused (an alert about it is open).
    let mut refused = false;
    loop {
        let mut stamps = file_stamps(&config.files_read);
        let (trigger, shutdown) = shutdown::channel();
        let files = config.files_read.clone();
        // Unbounded, and bounded in practice: one alert per reload refused or fixed, at the
        // pace of SIGHUPs and config edits; the pipeline reads it as it comes. A bounded
        // queue could only block this loop, which must stay free to answer SIGTERM.
        let (about_logwarden, about_rx) = tokio::sync::mpsc::unbounded_channel();
        if std::mem::take(&mut refused) {
            let _ = about_logwarden.send(config_alert(
                AlertState::Resolved,
                "the config was fixed and reloaded".into(),
                None,
            ));
        }
        // Config files are looked at every 2 s by the file hub's one timer (a stat each; this
        // loop wakes only when one changed) and at once on an inotify event.
        let changed = std::sync::Arc::new(tokio::sync::Notify::new());
        let _looks: Vec<_> = files
            .iter()
            .map(|f| hub::register_notify(f, CONFIG_LOOK, shutdown.clone(), changed.clone()))
            .collect();
        let mut pipeline = tokio::spawn(crate::daemon::pipeline::run(
            config, format, shutdown, about_rx,
        ));
        // Once the pipeline has started (patterns compiled, sources open), what start-up
        // freed goes back to the system: a one-shot timer, not a periodic one.
        let trim = tokio::time::sleep(TRIM_AFTER);
        tokio::pin!(trim);
        let mut trimmed = false;
        let next = loop {
            tokio::select! {
                _ = &mut trim, if !trimmed => {
                    trimmed = true;
                    release_freed_memory();
                }
                r = &mut pipeline => {
                    return match r {
                        Ok(r) => r.map_err(anyhow::Error::from),
                        Err(e) => Err(anyhow::anyhow!("the pipeline task failed: {e}")),
                    };
                }
                _ = term.recv() => break None,
                _ = tokio::signal::ctrl_c() => break None,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the config");
                    match reload(&path) {
                        Ok(c) => break Some(c),
                        Err(a) => { refused = true; let _ = about_logwarden.send(*a); }
                    }
                }
                _ = changed.notified() => {
                    let now = file_stamps(&files);
                    if now != stamps {
                        // Tried once per change: a broken file is not reported every 2 s.
                        stamps = now;
                        tracing::info!("a config or pattern file changed: reloading");
                        match reload(&path) {
                            Ok(c) => break Some(c),
                            Err(a) => { refused = true; let _ = about_logwarden.send(*a); }
                        }
                    }
                }
            }
        };
        trigger.trigger();
        // A bounded stop: positions and the alert queue are flushed within this time.
        match tokio::time::timeout(std::time::Duration::from_secs(10), &mut pipeline).await {
            Ok(_) => {}
            Err(_) => tracing::error!("the pipeline did not stop within 10s"),
        }
        match next {
            Some(c) => {
                tracing::info!("config reloaded");
                config = c;
            }
            None => {
                tracing::info!("stopped");
                return Ok(());
            }
        }
    }
}

/// Loads the config for a reload; if it has problems, the alert that says so (the old config
/// keeps running).
fn reload(path: &Path) -> Result<Config, Box<Alert>> {
    match crate::config::load(path) {
        Ok(c) => Ok(c),
        Err(e) => {
            for p in &e.problems {
                tracing::error!(problem = %p, "config not reloaded");
            }
            tracing::error!(
                "the new config has {} problem(s); the old config keeps running",
                e.problems.len()
            );
            Err(Box::new(config_alert(
                AlertState::Firing,
                format!(
                    "the changed config was refused ({} problem(s)); the old config keeps running",
                    e.problems.len()
                ),
                Some(e.problems.join("\n")),
            )))
        }
    }
}

/// The alert about a refused (or, resolved, a fixed) config.
fn config_alert(state: AlertState, summary: String, problems: Option<String>) -> Alert {
    let mut a = Alert::new(SELF_WATCH, CONFIG_RULE, Severity::Warning, state, summary);
    a.line = problems;
    a
}

/// Modification time and size of each file, to notice edits.
fn file_stamps(files: &[PathBuf]) -> Vec<Option<(std::time::SystemTime, u64)>> {
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}
