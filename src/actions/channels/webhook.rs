//! The `webhook` channel: a JSON POST of the batch to any URL (schema in docs/alerts.md).

use std::time::Duration;

use serde_json::json;

use crate::actions::notification::Notification;
use crate::actions::{retry_after_header, Channel, SendError, SendFuture};
use crate::config::channels::WebhookConfig;
use crate::config::Secret;
use crate::core::timefmt::rfc3339;

/// Version of the JSON a webhook receives.
pub const SCHEMA_VERSION: u32 = 1;

/// POSTs alerts as JSON.
pub struct Webhook {
    url: Secret,
    http: reqwest::Client,
    timeout: Duration,
}

impl Webhook {
    pub fn new(cfg: &WebhookConfig, http: reqwest::Client, timeout: Duration) -> Webhook {
        Webhook {
            url: cfg.url.clone(),
            http,
            timeout,
        }
    }
}

/// The documented body: `{"version": 1, "alerts": [...]}`.
pub fn payload(batch: &[Notification]) -> serde_json::Value {
    let alerts: Vec<serde_json::Value> = batch
        .iter()
        .map(|n| {
            let mut a = serde_json::to_value(&n.alert).unwrap_or_default();
            if let Some(o) = a.as_object_mut() {
                o.insert("id".into(), n.id.to_string().into());
                o.insert("notification".into(), n.what().into());
                o.insert("host".into(), n.host.clone().into());
                o.insert("since".into(), rfc3339(n.since()).into());
                if let Some(r) = &n.rerouted {
                    o.insert("rerouted_from".into(), r.from.clone().into());
                }
            }
            a
        })
        .collect();
    json!({ "version": SCHEMA_VERSION, "alerts": alerts })
}

/// POSTs `body` as JSON and classifies the answer.
pub async fn post_json(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<String, SendError> {
    let resp = http
        .post(url)
        .timeout(timeout)
        .json(body)
        .send()
        .await
        .map_err(SendError::from_reqwest)?;
    let status = resp.status();
    let retry = retry_after_header(&resp);
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        Ok(text)
    } else {
        Err(SendError::from_status(status, retry, &text))
    }
}

impl Channel for Webhook {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            post_json(&self.http, self.url.expose(), &payload(batch), self.timeout)
                .await
                .map(|_| ())
        })
    }
}
