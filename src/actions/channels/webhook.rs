//! The `webhook` channel: a JSON POST of the batch to any URL (schema in docs/alerts.md),
//! or, with a `body` template, one POST per notification of the operator's own body, every
//! substituted value escaped for it (inside a JSON string for a JSON body), so a log line
//! can neither end the string it stands in nor add a field.

use std::time::Duration;

use serde_json::json;

use crate::actions::notification::Notification;
use crate::actions::render;
use crate::actions::{retry_after_header, Channel, SendError, SendFuture};
use crate::config::channels::{WebhookBody, WebhookConfig};
use crate::config::Secret;
use crate::core::timefmt::rfc3339;

/// Version of the JSON a webhook receives.
pub const SCHEMA_VERSION: u32 = 1;

/// POSTs alerts as JSON.
pub struct Webhook {
    url: Secret,
    body: Option<WebhookBody>,
    http: reqwest::Client,
    timeout: Duration,
}

impl Webhook {
    pub fn new(cfg: &WebhookConfig, http: reqwest::Client, timeout: Duration) -> Webhook {
        Webhook {
            url: cfg.url.clone(),
            body: cfg.body.clone(),
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

/// The operator's body for one notification: the template filled with values whose control
/// characters (but the line break and the tab) are written visibly, so no terminal escape
/// reaches the receiver, then escaped for the body's type (JSON: the inside of a string).
pub fn templated(body: &WebhookBody, n: &Notification) -> String {
    let filled = |text: &str| {
        let visible = crate::actions::quote::escape_controls(text, true);
        if body.json {
            crate::core::text_template::json_string_inside(&visible)
        } else {
            visible.into_owned()
        }
    };
    crate::core::text_template::render_body(&body.template, |k| {
        std::borrow::Cow::Owned(filled(&render::placeholder(k, n)))
    })
}

impl Channel for Webhook {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let Some(body) = &self.body else {
                return post_json(&self.http, self.url.expose(), &payload(batch), self.timeout)
                    .await
                    .map(|_| ());
            };
            // One request per notification: the delivery worker hands this channel one
            // at a time, so a failure never repeats one that was accepted.
            debug_assert!(batch.len() <= 1, "a templated webhook sends one at a time");
            for n in batch {
                let req = self
                    .http
                    .post(self.url.expose())
                    .timeout(self.timeout)
                    .header(reqwest::header::CONTENT_TYPE, body.content_type.as_str())
                    .body(templated(body, n));
                let a = crate::actions::send_request(req).await?;
                if !a.status.is_success() {
                    return Err(SendError::from_status(a.status, a.retry_after, &a.text));
                }
            }
            Ok(())
        })
    }
}
