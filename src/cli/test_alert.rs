//! `logwarden test-alert [CHANNEL]`: sends a test message through each channel and says which
//! failed and why.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{load_or_report, runtime};
use crate::core::logging::LogFormat;

/// `logwarden test-alert [CHANNEL]`.
pub fn command(path: &Path, channel: Option<&str>, format: LogFormat) -> anyhow::Result<ExitCode> {
    let config = match load_or_report(path, "nothing sent", 1) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if let Some(c) = channel {
        if !config.channels.contains_key(c) {
            eprintln!(
                "logwarden: no channel {c:?}; the config has: {}",
                config
                    .channels
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(ExitCode::from(1));
        }
    }
    let outcomes = runtime()?.block_on(crate::actions::test_alert::run(&config, channel, format));
    if outcomes.is_empty() {
        println!("no channel to test (only the console is configured)");
    }
    let mut failed = 0;
    for o in &outcomes {
        match &o.result {
            Ok(()) => println!("ok      {} ({})", o.channel, o.kind),
            Err(e) => {
                failed += 1;
                println!("FAILED  {} ({}): {e}", o.channel, o.kind);
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
