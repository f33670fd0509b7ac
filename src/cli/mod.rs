//! The commands of the `logwarden` binary, one file each (the daemon itself is `daemon/`), and
//! what they share: loading the config or reporting why it does not load, and a small runtime.

pub mod check;
pub mod control;
pub mod dead_letters;
pub mod demo;
pub mod kinds;
pub mod line_blocks;
pub mod operator;
pub mod probe;
pub mod replay;
pub mod status;
pub mod test_alert;
pub mod test_patterns;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{self, Config};

/// Loads the config for a command; when it does not load, prints its problems
/// (file:line:column each) and `consequence` ("nothing started"), and gives the exit code
/// the command ends with (`failure`).
pub fn load_or_report(path: &Path, consequence: &str, failure: u8) -> Result<Config, ExitCode> {
    config::load(path).map_err(|e| {
        eprintln!("{e}");
        eprintln!("logwarden: config not valid; {consequence}");
        ExitCode::from(failure)
    })
}

/// A small runtime: the work is a few tasks; sources have their own threads.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
