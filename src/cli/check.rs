//! `logwarden check`: validates the config and every pattern pack it uses, one
//! file:line:column line per problem.

use std::path::Path;
use std::process::ExitCode;

use crate::config;

/// Exit 0 when the config is valid, 1 with its problems.
pub fn command(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(c) => {
            let rules: usize = c.watches.iter().map(|w| w.rules.len()).sum();
            println!(
                "{}: ok ({} watches, {} rules, {} files read)",
                path.display(),
                c.watches.len(),
                rules,
                c.files_read.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            for p in &e.problems {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s) found", e.problems.len());
            ExitCode::from(1)
        }
    }
}
