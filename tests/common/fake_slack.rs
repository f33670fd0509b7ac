//! A fake Slack Web API speaking `chat.postMessage` as Slack documents it: `POST
//! .../chat.postMessage` with a JSON body and `Authorization: Bearer TOKEN`; the answer is
//! always HTTP 200 with `{"ok":false,"error":...}` on failure (`not_authed` without a token,
//! `invalid_auth` for another, `channel_not_found` for another channel, `no_text` with neither
//! `text` nor `blocks`) and
//! `{"ok":true,"channel":...,"ts":...,"message":{...}}` on success, `ts` counting up
//! (`1700000000.000001`, `...002`, ...). Scripted failures come first: each entry of
//! `fail_first` is answered `{"ok":false,"error":ENTRY}` (`ratelimited` as HTTP 429 with
//! `Retry-After: 1`, as Slack rate limits).
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::fake_http::{FakeHttp, Recorded, Response};

pub struct FakeSlack {
    pub http: FakeHttp,
    /// The bodies of the messages it accepted, in order, with the `ts` given to each.
    posted: Arc<Mutex<Vec<(String, Value)>>>,
}

/// The `ts` of the `n`th accepted message (from 1).
pub fn ts(n: u64) -> String {
    format!("1700000000.{n:06}")
}

impl FakeSlack {
    pub fn start(token: &str, channel: &str, fail_first: &[&str]) -> FakeSlack {
        let posted: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let failures = Mutex::new(
            fail_first
                .iter()
                .map(|s| s.to_string())
                .collect::<std::collections::VecDeque<_>>(),
        );
        let (token, channel, p) = (token.to_string(), channel.to_string(), posted.clone());
        let next = AtomicU64::new(1);
        let http = FakeHttp::start(move |req: &Recorded| {
            answer(req, &token, &channel, &failures, &next, &p)
        });
        FakeSlack { http, posted }
    }

    pub fn url(&self) -> String {
        self.http.url()
    }

    /// The accepted messages: (`ts` given, body).
    pub fn posted(&self) -> Vec<(String, Value)> {
        self.posted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn fail(error: &str) -> Response {
    Response::json(200, json!({ "ok": false, "error": error }))
}

fn answer(
    req: &Recorded,
    token: &str,
    channel: &str,
    failures: &Mutex<std::collections::VecDeque<String>>,
    next: &AtomicU64,
    posted: &Mutex<Vec<(String, Value)>>,
) -> Response {
    if !req.path.ends_with("/chat.postMessage") {
        return fail("unknown_method");
    }
    if req.method != "POST" {
        return fail("invalid_request");
    }
    if let Some(e) = failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop_front()
    {
        if e == "ratelimited" {
            return Response::json(429, json!({ "ok": false, "error": e }))
                .with_header("Retry-After", "1");
        }
        return fail(&e);
    }
    match req.header("authorization").map(str::trim) {
        None => return fail("not_authed"),
        Some(a) if a != format!("Bearer {token}") => return fail("invalid_auth"),
        Some(_) => {}
    }
    let Some(Value::Object(body)) = req.json() else {
        return fail("invalid_json");
    };
    if body.get("channel").and_then(Value::as_str) != Some(channel) {
        return fail("channel_not_found");
    }
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let blocks = body
        .get("blocks")
        .and_then(Value::as_array)
        .is_some_and(|b| !b.is_empty());
    if !text && !blocks {
        return fail("no_text");
    }
    let mut posted = posted.lock().unwrap_or_else(|e| e.into_inner());
    let ts = ts(next.fetch_add(1, Ordering::SeqCst));
    posted.push((ts.clone(), Value::Object(body.clone())));
    Response::json(
        200,
        json!({
            "ok": true,
            "channel": channel,
            "ts": ts,
            "message": { "type": "message", "subtype": "bot_message", "text": body.get("text"), "ts": ts },
        }),
    )
}
