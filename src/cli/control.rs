//! `logwarden pause WATCH --for D` and `logwarden resume WATCH`: write the watch's control
//! file, which the running daemon reads before each restart decision.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::actions::restart::control::{read_control, write_control};
use crate::cli::load_or_report;
use crate::config;

/// `pause` (with a duration) or `resume` (without): writes the watch's control file, which
/// the running daemon reads before each restart decision.
pub fn command(
    config_path: &Path,
    watch: &str,
    pause: Option<std::time::Duration>,
) -> anyhow::Result<ExitCode> {
    let config = match load_or_report(config_path, "nothing changed", 1) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if !config.watches.iter().any(|w| w.name == watch) {
        anyhow::bail!(
            "no watch {watch:?} in {}; watches: {}",
            config_path.display(),
            config
                .watches
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let dir = &config.daemon.state_dir;
    let mut c = read_control(dir, watch);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // Said only once it is true: the control file is what the daemon reads.
    let done = match pause {
        Some(d) => {
            c.paused_until = Some((now + d).as_secs());
            format!(
                "{watch}: no restarts for {} (alerts still go out); `logwarden resume {watch}` ends it earlier",
                config::duration::format_duration(d)
            )
        }
        None => {
            c.paused_until = None;
            c.resume += 1;
            format!("{watch}: automatic restarts are on again")
        }
    };
    write_control(dir, watch, &c)
        .with_context(|| format!("cannot write the control file in {}", dir.display()))?;
    println!("{done}");
    Ok(ExitCode::SUCCESS)
}
