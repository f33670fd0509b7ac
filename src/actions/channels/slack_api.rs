//! Slack's Web API method `chat.postMessage` for the `slack` channel's bot form: one JSON POST
//! with `Authorization: Bearer TOKEN`, and the answer read the way Slack documents it — HTTP
//! 200 with `{"ok":true,"ts":...}` is a success; HTTP 200 with `{"ok":false,"error":...}` is
//! a failure (permanent for a bad token, a missing channel or scope, a refused message;
//! otherwise retried); HTTP 429 (`ratelimited`) waits its `Retry-After`.

use std::time::Duration;

use crate::actions::{send_request, SendError};
use crate::config::Secret;

/// Errors that will not pass by themselves: the token, the channel, the scopes or the
/// message itself are wrong. Every other error (`internal_error`, `fatal_error`,
/// `service_unavailable`, `request_timeout`, one Slack adds later) is retried.
const PERMANENT: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
    "not_allowed_token_type",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "restricted_action",
    "msg_too_long",
    "no_text",
    "invalid_blocks",
    "invalid_arguments",
    "invalid_arg_name",
    "invalid_charset",
    "invalid_form_data",
    "invalid_post_type",
    "missing_post_type",
    "team_access_not_granted",
    "ekm_access_denied",
];

/// How long to wait when Slack rate limits without saying how long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Posts `body` (which names the channel) with `chat.postMessage` at `endpoint`; returns the
/// new message's `ts`, its id within the channel (`None` if the answer had none).
pub async fn post_message(
    http: &reqwest::Client,
    endpoint: &str,
    token: &Secret,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<Option<String>, SendError> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| SendError::permanent(format!("cannot encode the message: {e}")))?;
    let req = http
        .post(endpoint)
        .timeout(timeout)
        .bearer_auth(token.expose())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .body(bytes);
    let a = send_request(req).await?;
    let answer: serde_json::Value = serde_json::from_str(&a.text).unwrap_or_default();
    if a.status.is_success() && answer["ok"] == true {
        return Ok(answer["ts"].as_str().map(str::to_string));
    }
    Err(classify(a.status, a.retry_after, &answer, &a.text))
}

/// A failed answer as a `SendError`: `error` (Slack's code) decides, then the HTTP status.
fn classify(
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    answer: &serde_json::Value,
    text: &str,
) -> SendError {
    let error = answer["error"].as_str().unwrap_or("");
    let shown: String = if error.is_empty() { text } else { error }
        .chars()
        .take(200)
        .collect();
    let reason = format!(
        "Slack chat.postMessage answered HTTP {status}: {}",
        shown.trim()
    );
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS || error == "ratelimited" {
        return SendError::rate_limited(reason, retry_after.unwrap_or(DEFAULT_RETRY_AFTER));
    }
    if PERMANENT.contains(&error) {
        return SendError::permanent(reason);
    }
    if !error.is_empty() {
        return SendError::transient(reason);
    }
    SendError::from_status(status, retry_after, text).with_reason(reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ok_false_is_a_failure_permanent_or_not_by_its_error() {
        let ok = reqwest::StatusCode::OK;
        let e = classify(
            ok,
            None,
            &json!({"ok": false, "error": "channel_not_found"}),
            "",
        );
        assert!(e.permanent, "{}", e.reason);
        assert!(e.reason.contains("channel_not_found"));
        let e = classify(
            ok,
            None,
            &json!({"ok": false, "error": "internal_error"}),
            "",
        );
        assert!(
            !e.permanent && e.retry_after.is_none(),
            "retried: {}",
            e.reason
        );
        let e = classify(
            reqwest::StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(7)),
            &json!({"ok": false, "error": "ratelimited"}),
            "",
        );
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        let e = classify(
            reqwest::StatusCode::BAD_GATEWAY,
            None,
            &json!(null),
            "<html>",
        );
        assert!(!e.permanent, "a proxy's 502 is retried");
        let e = classify(ok, None, &json!(null), "not json");
        assert!(!e.permanent, "an unreadable 200 is retried, not a success");
    }
}
