//! The `gotify` channel: `POST /message` to a Gotify server with the application token in
//! `X-Gotify-Key`, plain text (`client::display` `text/plain`, so nothing in a log line is
//! markdown). The severity sets the priority the Gotify apps act on: critical 8 (a pop-up
//! and sound), warning 5, info and resolutions 2.

use std::time::Duration;

use serde_json::json;

use crate::actions::notification::Notification;
use crate::actions::{render, send_request, Answer, Channel, SendError, SendFuture};
use crate::config::channels::GotifyConfig;
use crate::config::Secret;
use crate::core::alert::{AlertState, Severity};

/// Sends alerts to a Gotify server.
pub struct Gotify {
    /// `{url}/message`.
    endpoint: Secret,
    token: Secret,
    template: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
}

impl Gotify {
    pub fn new(
        cfg: &GotifyConfig,
        template: Option<String>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Gotify {
        Gotify {
            endpoint: Secret(format!("{}/message", cfg.url.expose())),
            token: cfg.token.clone(),
            template,
            http,
            timeout,
        }
    }
}

/// The message body for a batch.
pub fn payload(batch: &[Notification], template: Option<&str>) -> serde_json::Value {
    let firing = batch
        .iter()
        .filter(|n| n.alert.state != AlertState::Resolved)
        .map(|n| n.alert.severity)
        .max();
    let priority = match firing {
        Some(Severity::Critical) => 8,
        Some(Severity::Warning) => 5,
        _ => 2,
    };
    json!({
        "title": render::subject(batch, None),
        "message": render::body(batch, template),
        "priority": priority,
        "extras": { "client::display": { "contentType": "text/plain" } },
    })
}

impl Channel for Gotify {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let body = payload(batch, self.template.as_deref());
            let req = self
                .http
                .post(self.endpoint.expose())
                .header("X-Gotify-Key", self.token.expose())
                .timeout(self.timeout)
                .json(&body);
            let Answer {
                status,
                retry_after: retry,
                text,
            } = send_request(req).await?;
            if status.is_success() {
                return Ok(());
            }
            // Gotify explains in JSON: {"error": "Unauthorized", "errorCode": 401, ...}.
            let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let why = answer["errorDescription"]
                .as_str()
                .or(answer["error"].as_str())
                .unwrap_or(&text)
                .to_string();
            Err(SendError::from_status(status, retry, &why)
                .with_reason(format!("Gotify answered HTTP {status}: {}", why.trim())))
        })
    }
}
