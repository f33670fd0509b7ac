//! `logwarden test-alert [CHANNEL]`: sends one test message through each channel, right
//! away (no spool, no grouping, no retry), and reports which worked and why not (the seed's
//! `mail_admins('Test Alert', ...)`).

use std::time::SystemTime;

use crate::actions::notification::{next_id, Kind, Notification, VERSION};
use crate::actions::redact::Redactor;
use crate::config::Config;
use crate::core::alert::Severity;
use crate::core::alert::{Alert, AlertState};
use crate::core::logging::LogFormat;

/// The outcome for one channel: its name, its type, and the error if it failed.
pub struct Outcome {
    pub channel: String,
    pub kind: &'static str,
    pub result: Result<(), String>,
}

/// Sends a test through `only` (or every channel but the console) and reports each.
pub async fn run(config: &Config, only: Option<&str>, format: LogFormat) -> Vec<Outcome> {
    let redactor = Redactor::new(&config.alerts, &config.secret_values());
    let http = match reqwest::Client::builder().build() {
        Ok(c) => c,
        Err(e) => {
            return vec![Outcome {
                channel: "*".into(),
                kind: "",
                result: Err(format!("cannot set up the HTTP client: {e}")),
            }]
        }
    };
    let restartable = crate::actions::telegram_control::restartable_watches(config);
    let mut out = Vec::new();
    for (name, cfg) in &config.channels {
        let wanted = match only {
            Some(o) => o == name,
            None => name != "console",
        };
        if !wanted {
            continue;
        }
        let kind = cfg.kind.type_name();
        let result =
            match crate::actions::build_channel(name, cfg, format, &http, None, &restartable) {
                Err(e) => Err(e.reason),
                Ok(ch) => {
                    let mut alert = Alert::new(
                        "logwarden",
                        "test-alert",
                        Severity::Info,
                        AlertState::Event,
                        format!(
                            "Test alert from logwarden on {}: channel {name:?} works.",
                            config.alerts.host
                        ),
                    );
                    alert.at = SystemTime::now();
                    let n = Notification {
                        version: VERSION,
                        id: next_id(),
                        channel: name.clone(),
                        kind: Kind::Test,
                        alert,
                        host: config.alerts.host.clone(),
                        since_ms: None,
                        rerouted: None,
                        origin: 0,
                        siblings: Vec::new(),
                        position: None,
                        thread: None,
                    };
                    match tokio::time::timeout(cfg.timeout, ch.send(std::slice::from_ref(&n))).await
                    {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(redactor.redact(&e.reason).into_owned()),
                        Err(_) => Err(format!("no answer within {}s", cfg.timeout.as_secs())),
                    }
                }
            };
        out.push(Outcome {
            channel: name.clone(),
            kind,
            result,
        });
    }
    out
}
