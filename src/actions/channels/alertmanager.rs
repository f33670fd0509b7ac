//! The `alertmanager` channel: POSTs to `/api/v2/alerts` of every Alertmanager of a cluster.
//! Firing alerts are re-sent every `resend` (the router's keepalives) with an `endsAt` a few
//! intervals ahead, as Prometheus does, so Alertmanager keeps them open while logwarden lives
//! and closes them by itself if it dies; a resolution sets `endsAt` to when it resolved.
//! Delivered means at least one peer accepted it (the peers share it by gossip).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::actions::channels::webhook::post_json;
use crate::actions::notification::{Kind, Notification};
use crate::actions::{quote, render, Channel, SendError, SendFuture};
use crate::config::channels::AlertmanagerConfig;
use crate::core::alert::AlertState;
use crate::core::timefmt::rfc3339;

/// Posts alerts to Alertmanager.
pub struct Alertmanager {
    urls: Vec<String>,
    /// `endsAt` of a firing alert is this far ahead (4 resend intervals).
    horizon: Duration,
    labels: BTreeMap<String, String>,
    http: reqwest::Client,
    timeout: Duration,
}

impl Alertmanager {
    pub fn new(cfg: &AlertmanagerConfig, http: reqwest::Client, timeout: Duration) -> Alertmanager {
        Alertmanager {
            urls: cfg.urls.clone(),
            horizon: cfg.resend * 4,
            labels: cfg.labels.clone(),
            http,
            timeout,
        }
    }

    /// The API body for a batch.
    pub fn payload(&self, batch: &[Notification]) -> serde_json::Value {
        let now = std::time::SystemTime::now();
        let alerts: Vec<serde_json::Value> = batch
            .iter()
            .map(|n| {
                let a = &n.alert;
                let mut labels = self.labels.clone();
                labels.insert("alertname".into(), a.rule.clone());
                labels.insert("watch".into(), a.watch.clone());
                labels.insert("rule".into(), a.rule.clone());
                labels.insert("severity".into(), a.severity.label().to_lowercase());
                labels.insert("host".into(), n.host.clone());
                if let Some(u) = &a.unit {
                    labels.insert("unit".into(), u.clone());
                }
                let (starts, ends) = match (n.kind, a.state) {
                    (Kind::Notice, AlertState::Resolved) => (n.since(), a.at.max(n.since())),
                    (_, AlertState::Event) | (Kind::Test, _) => (a.at, a.at + self.horizon),
                    _ => (n.since(), now + self.horizon),
                };
                json!({
                    "labels": labels,
                    // Texts for people (Alertmanager passes them to mail, chat, amtool):
                    // no control character from a log line, as every channel's.
                    "annotations": {
                        "summary": quote::one_line(&a.summary),
                        "description": render::body(std::slice::from_ref(n), None),
                    },
                    "startsAt": rfc3339(starts),
                    "endsAt": rfc3339(ends),
                })
            })
            .collect();
        serde_json::Value::Array(alerts)
    }
}

impl Channel for Alertmanager {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let body = self.payload(batch);
            let sends = self.urls.iter().map(|u| {
                let url = format!("{u}/api/v2/alerts");
                let body = &body;
                async move { (u, post_json(&self.http, &url, body, self.timeout).await) }
            });
            let results = futures_util::future::join_all(sends).await;
            let mut failures = Vec::new();
            let mut any_ok = false;
            for (u, r) in results {
                match r {
                    Ok(_) => any_ok = true,
                    Err(e) => {
                        tracing::warn!(alertmanager = %u, error = %e, "an Alertmanager did not take the alerts");
                        failures.push(format!("{u}: {e}"));
                    }
                }
            }
            if any_ok {
                Ok(())
            } else {
                Err(SendError::transient(format!(
                    "no Alertmanager took the alerts: {}",
                    failures.join("; ")
                )))
            }
        })
    }
}
