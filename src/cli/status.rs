//! `logwarden status`: asks the running daemon's `/status` and prints it for a person (or as
//! JSON), exiting with the worst state.

use std::path::Path;
use std::process::ExitCode;

use crate::actions::quote::escape_controls;
use crate::cli::{load_or_report, runtime};
use crate::telemetry::status::{StatusReport, WatchState};

/// `logwarden status`: asks the daemon's `/status` and prints it for a person.
pub fn command(config_path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let config = match load_or_report(config_path, "no status asked", 3) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let Some(addr) = config.daemon.listen else {
        eprintln!(
            "status needs `[daemon] listen = \"127.0.0.1:9107\"` in {}",
            config_path.display()
        );
        return Ok(ExitCode::from(3));
    };
    let url = format!("http://{addr}/status");
    let fetched = runtime()?.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?;
        let mut req = client.get(&url);
        if let Some(t) = &config.daemon.http.token {
            req = req.bearer_auth(t.expose());
        }
        let resp = req.send().await?;
        let code = resp.status();
        Ok::<_, reqwest::Error>((code, resp.text().await?))
    });
    let v: StatusReport = match fetched {
        Ok((code, body)) if code.is_success() => match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("logwarden at {url} answered something that is not its status: {e}");
                return Ok(ExitCode::from(3));
            }
        },
        Ok((code, _)) => {
            eprintln!(
                "logwarden at {url} refused the request: {code} (does this config's listen_token match the daemon's?)"
            );
            return Ok(ExitCode::from(3));
        }
        Err(e) => {
            eprintln!("cannot reach logwarden at {url}: {}", without_url(&e));
            return Ok(ExitCode::from(3));
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_human(&v);
    }
    let worst = v.watches.iter().map(|w| w.state).max();
    Ok(ExitCode::from(match worst {
        Some(WatchState::Critical) => 2,
        Some(WatchState::Warning) => 1,
        _ => 0,
    }))
}

/// The report for a person: health, then each watch with its sources and firing rules.
fn print_human(v: &StatusReport) {
    println!(
        "logwarden since {}: {}",
        v.started_at,
        if v.healthy { "healthy" } else { "NOT HEALTHY" }
    );
    for p in &v.problems {
        println!("  ! {p}");
    }
    if let Some(e) = &v.operator_error {
        println!("  ! {}", escape_controls(e, false));
    }
    for s in &v.silences {
        println!(
            "  silence {} on {} until {} by {}: {}",
            s.id,
            escape_controls(&s.scope, false),
            s.ends_at,
            escape_controls(&s.who, false),
            escape_controls(&s.reason, false)
        );
    }
    for w in &v.watches {
        let state = match w.state {
            WatchState::Ok => "OK",
            WatchState::Warning => "WARNING",
            WatchState::Critical => "CRITICAL",
        };
        println!("\n{} [{state}] restarts: {}", w.name, w.restarts);
        for s in &w.sources {
            println!("  source {} lines={}", s.source, s.lines);
        }
        for (name, r) in w.rules.iter().filter(|(_, r)| r.firing) {
            let mut marks = String::new();
            if let Some(id) = &r.silenced {
                marks.push_str(&format!(" (silenced by {id})"));
            }
            if let Some(who) = &r.acked_by {
                marks.push_str(&format!(" (acked by {})", escape_controls(who, false)));
            }
            println!(
                "  FIRING {} [{}]{marks} since {}: {}",
                name,
                r.severity.label().to_lowercase(),
                crate::core::timefmt::rfc3339(r.since),
                r.summary
            );
        }
    }
}

/// A request error without its URL (the message names the URL already).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(u) = e.url() {
        text = text.replace(&format!(" for url ({u})"), "");
    }
    text
}
