//! The `pushover` channel: one message per batch through Pushover's API (`POST
//! /1/messages.json` with the application `token` and the `user` key). The severity sets the
//! priority: a critical alert that starts firing is an emergency (priority 2: repeated every
//! `EMERGENCY_RETRY` until acknowledged, for at most `EMERGENCY_EXPIRE`), a warning is high
//! (1), the rest normal (0). When an alert that went out as an emergency resolves, its
//! receipt is cancelled (`POST /1/receipts/RECEIPT/cancel.json`), so the phone stops
//! ringing. Receipts are kept in memory: after a restart of logwarden, an emergency still
//! ringing expires by itself. Plain text (no `html`), so nothing in a log line is markup.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use crate::actions::notification::{Kind, Notification};
use crate::actions::{render, send_request, Answer, Channel, SendError, SendFuture};
use crate::config::channels::PushoverConfig;
use crate::config::Secret;
use crate::core::alert::{AlertState, Severity};

/// An emergency is repeated this often until acknowledged (Pushover's minimum is 30 s).
pub const EMERGENCY_RETRY: Duration = Duration::from_secs(60);
/// ... for at most this long (Pushover's maximum is 3 hours).
pub const EMERGENCY_EXPIRE: Duration = Duration::from_secs(3600);
/// Pushover's limits on a message and its title, in characters.
const MESSAGE_MAX: usize = 1024;
const TITLE_MAX: usize = 250;

/// Sends alerts through Pushover.
pub struct Pushover {
    api_url: String,
    token: Secret,
    user: Secret,
    template: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
    /// The receipt of each alert (watch, rule) sent as an emergency and not resolved yet.
    receipts: Mutex<HashMap<(String, String), String>>,
}

impl Pushover {
    pub fn new(
        cfg: &PushoverConfig,
        template: Option<String>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Pushover {
        Pushover {
            api_url: cfg.api_url.clone(),
            token: cfg.token.clone(),
            user: cfg.user.clone(),
            template,
            http,
            timeout,
            receipts: Mutex::new(HashMap::new()),
        }
    }

    /// Cancels the emergencies of the alerts that resolve in `batch` (logged, never failing
    /// the send: the emergency expires anyway).
    async fn cancel_resolved(&self, batch: &[Notification]) {
        for n in batch
            .iter()
            .filter(|n| n.alert.state == AlertState::Resolved)
        {
            let receipt = self
                .receipts
                .lock()
                .ok()
                .and_then(|mut r| r.remove(&n.alert.key()));
            let Some(receipt) = receipt else { continue };
            let url = format!("{}/1/receipts/{receipt}/cancel.json", self.api_url);
            let sent = self
                .http
                .post(url)
                .timeout(self.timeout)
                .json(&json!({ "token": self.token.expose() }))
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(rule = %n.alert.rule, "pushover emergency cancelled: the alert resolved")
                }
                Ok(r) => {
                    tracing::warn!(rule = %n.alert.rule, status = %r.status(), "pushover did not cancel the emergency; it expires by itself")
                }
                Err(e) => {
                    tracing::warn!(rule = %n.alert.rule, error = %e.without_url(), "cannot cancel the pushover emergency; it expires by itself")
                }
            }
        }
    }
}

/// Whether `n` starts a critical alert (an emergency).
fn is_emergency(n: &Notification) -> bool {
    n.kind == Kind::Notice
        && n.alert.state == AlertState::Firing
        && n.alert.severity == Severity::Critical
}

/// The message for a batch (without the token and user, added when sent).
pub fn payload(batch: &[Notification], template: Option<&str>) -> serde_json::Value {
    let firing = batch
        .iter()
        .filter(|n| n.alert.state != AlertState::Resolved)
        .map(|n| n.alert.severity)
        .max();
    // A critical alert that keeps firing (a reminder) is high, not another emergency.
    let priority = match firing {
        Some(Severity::Critical | Severity::Warning) => 1,
        _ => 0,
    };
    let mut body = json!({
        "title": render::subject(batch, None).chars().take(TITLE_MAX).collect::<String>(),
        "message": render::body(batch, template).chars().take(MESSAGE_MAX).collect::<String>(),
        "priority": priority,
    });
    if batch.iter().any(is_emergency) {
        body["priority"] = json!(2);
        body["retry"] = json!(EMERGENCY_RETRY.as_secs());
        body["expire"] = json!(EMERGENCY_EXPIRE.as_secs());
    }
    body
}

impl Channel for Pushover {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut body = payload(batch, self.template.as_deref());
            body["token"] = json!(self.token.expose());
            body["user"] = json!(self.user.expose());
            let req = self
                .http
                .post(format!("{}/1/messages.json", self.api_url))
                .timeout(self.timeout)
                .json(&body);
            let Answer {
                status,
                retry_after: retry,
                text,
            } = send_request(req).await?;
            let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if status.is_success() && answer["status"] == 1 {
                if let (Some(receipt), Ok(mut r)) =
                    (answer["receipt"].as_str(), self.receipts.lock())
                {
                    for n in batch.iter().filter(|n| is_emergency(n)) {
                        r.insert(n.alert.key(), receipt.to_string());
                    }
                }
                self.cancel_resolved(batch).await;
                return Ok(());
            }
            // {"status": 0, "errors": ["application token is invalid"], "request": "..."}
            let why = answer["errors"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .filter(|w| !w.is_empty())
                .unwrap_or(text);
            Err(SendError::from_status(status, retry, &why)
                .with_reason(format!("Pushover answered HTTP {status}: {}", why.trim())))
        })
    }
}
