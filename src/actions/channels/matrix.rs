//! The `matrix` channel: one `m.room.message` per batch, sent with the client-server API
//! (`PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}`, the access token as a
//! bearer token). An `m.notice` (bots' messages; clients do not answer them): `body` plain
//! text, `formatted_body` the same text HTML-escaped inside `<pre>`, so nothing quoted from a
//! log line is markup or a mention pill. The transaction id is a hash of the batch's
//! notification ids, so a retried send is the same event, never a second message. A 429
//! (`M_LIMIT_EXCEEDED`) waits its `retry_after_ms`.

use std::time::Duration;

use serde_json::json;

use crate::actions::notification::Notification;
use crate::actions::{render, send_request, Answer, Channel, SendError, SendFuture};
use crate::config::channels::MatrixConfig;
use crate::config::Secret;

/// Sends alerts to a Matrix room.
pub struct Matrix {
    /// `{url}/_matrix/client/v3/rooms/{room}/send/m.room.message/` (the txn id follows).
    endpoint: String,
    token: Secret,
    template: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
}

impl Matrix {
    pub fn new(
        cfg: &MatrixConfig,
        template: Option<String>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Result<Matrix, String> {
        let mut url =
            reqwest::Url::parse(cfg.url.expose()).map_err(|e| format!("url is not a URL: {e}"))?;
        url.path_segments_mut()
            .map_err(|()| "url cannot take a path".to_string())?
            .pop_if_empty()
            .extend(["_matrix", "client", "v3", "rooms", &cfg.room])
            .extend(["send", "m.room.message", ""]);
        Ok(Matrix {
            endpoint: url.to_string(),
            token: cfg.token.clone(),
            template,
            http,
            timeout,
        })
    }
}

/// The event content for a batch.
pub fn payload(batch: &[Notification], template: Option<&str>) -> serde_json::Value {
    let text = format!(
        "{}\n\n{}",
        render::subject(batch, None),
        render::body(batch, template)
    );
    let text = crate::actions::quote::escape_controls(&text, true);
    json!({
        "msgtype": "m.notice",
        "body": text,
        "format": "org.matrix.custom.html",
        "formatted_body": format!("<pre>{}</pre>", crate::core::html::escape(&text)),
    })
}

impl Channel for Matrix {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            // The same batch retried is the same transaction (the homeserver keeps one
            // event); a batch that grew since is another, so no notification is taken
            // for one already sent.
            let ids: Vec<u8> = batch.iter().flat_map(|n| n.id.to_le_bytes()).collect();
            let txn = crate::source::identity::fnv1a(&ids);
            let body = payload(batch, self.template.as_deref());
            let req = self
                .http
                .put(format!("{}logwarden-{txn:016x}", self.endpoint))
                .bearer_auth(self.token.expose())
                .timeout(self.timeout)
                .json(&body);
            let Answer {
                status,
                retry_after: header,
                text,
            } = send_request(req).await?;
            if status.is_success() {
                return Ok(());
            }
            // {"errcode": "M_LIMIT_EXCEEDED", "error": "...", "retry_after_ms": 2000}
            let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let retry = answer["retry_after_ms"]
                .as_u64()
                .map(|ms| Duration::from_millis(ms.min(3_600_000)))
                .or(header);
            let why = format!(
                "{} {}",
                answer["errcode"].as_str().unwrap_or(""),
                answer["error"].as_str().unwrap_or(&text)
            );
            Err(SendError::from_status(status, retry, &why)
                .with_reason(format!("Matrix answered HTTP {status}: {}", why.trim())))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_id_is_one_escaped_path_segment() {
        let cfg = MatrixConfig {
            url: Secret("https://matrix.example.org/".into()),
            token: Secret("syt_x".into()),
            room: "!abc/def:example.org".into(),
        };
        let m = Matrix::new(&cfg, None, reqwest::Client::new(), Duration::from_secs(1)).unwrap();
        assert_eq!(
            m.endpoint,
            "https://matrix.example.org/_matrix/client/v3/rooms/!abc%2Fdef:example.org/send/m.room.message/"
        );
        assert_eq!(
            crate::core::html::escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
