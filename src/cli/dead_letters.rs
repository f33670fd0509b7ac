//! `logwarden dead-letters [--resend] [--channel NAME]`: lists the alerts a channel refused for
//! good, or sends them again.

use std::path::Path;
use std::process::ExitCode;

use crate::actions::dead_letter::{self, DeadLetter, DeadLetters};
use crate::cli::{load_or_report, runtime};
use crate::core::logging::LogFormat;

/// `logwarden dead-letters [--resend] [--channel NAME]`.
pub fn command(
    path: &Path,
    resend: bool,
    channel: Option<&str>,
    format: LogFormat,
) -> anyhow::Result<ExitCode> {
    let config = match load_or_report(path, "nothing listed or sent", 1) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let describe = |d: &DeadLetter| {
        let n = &d.notification;
        format!(
            "{} {} refused {}: {}/{} {} ({})",
            n.id,
            n.channel,
            crate::core::timefmt::rfc3339(d.died_at()),
            n.alert.watch,
            n.alert.rule,
            n.what(),
            crate::actions::quote::one_line(&d.reason)
        )
    };
    if !resend {
        let store = DeadLetters::new(&config.daemon.state_dir);
        let letters: Vec<DeadLetter> = store
            .load()
            .into_iter()
            .filter(|d| channel.is_none_or(|c| c == d.notification.channel))
            .collect();
        if letters.is_empty() {
            println!("no dead letters in {}", store.dir().display());
        }
        for d in &letters {
            println!("{}", describe(d));
        }
        if !letters.is_empty() {
            println!("{} dead letter(s); `logwarden dead-letters --resend` sends them again once the channel is fixed", letters.len());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let outcomes = runtime()?.block_on(dead_letter::resend(&config, channel, format));
    if outcomes.is_empty() {
        println!("no dead letters to send");
    }
    let mut failed = 0;
    for o in &outcomes {
        match &o.result {
            Ok(()) => println!("sent    {}", describe(&o.letter)),
            Err(e) => {
                failed += 1;
                println!("FAILED  {}\n        {e}", describe(&o.letter));
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
