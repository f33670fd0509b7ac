//! A fake Telegram Bot API that talks back: `getUpdates` with long polling (held up to 1 s
//! while nothing is queued) and offsets (an offset confirms every update before it, as
//! Telegram does, unless `forget_confirmations` makes it resend them all, as a Telegram that
//! never got the confirming request would), `sendMessage` with `reply_markup`,
//! `answerCallbackQuery`, `editMessageReplyMarkup`. Method names match in any letter case.
//! Tests push messages and button presses and read what the bot sent.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fake_http::{FakeHttp, Recorded, Response};

/// A call the bot made, with its JSON parameters.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub params: Value,
}

#[derive(Default)]
struct State {
    updates: Vec<Value>,
    /// Updates with an id below this are confirmed (gone).
    confirmed: i64,
    calls: Vec<Call>,
}

pub struct FakeBot {
    pub http: FakeHttp,
    state: Arc<Mutex<State>>,
    next_update: Arc<AtomicI64>,
    next_message: Arc<AtomicI64>,
    pub forget_confirmations: Arc<AtomicBool>,
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeBot {
    pub fn start(token: &str) -> FakeBot {
        let state = Arc::new(Mutex::new(State::default()));
        let next_message = Arc::new(AtomicI64::new(1));
        let forget = Arc::new(AtomicBool::new(false));
        let (s, m, f, token) = (
            state.clone(),
            next_message.clone(),
            forget.clone(),
            token.to_string(),
        );
        let http = FakeHttp::start(move |req| answer(req, &token, &s, &m, &f));
        FakeBot {
            http,
            state,
            next_update: Arc::new(AtomicI64::new(1)),
            next_message,
            forget_confirmations: forget,
        }
    }

    pub fn url(&self) -> String {
        self.http.url()
    }

    fn push(&self, mut update: Value) -> i64 {
        let id = self.next_update.fetch_add(1, Ordering::SeqCst);
        update["update_id"] = json!(id);
        lock(&self.state).updates.push(update);
        id
    }

    /// A text message from `user` (with a username) in `chat`; returns its update id.
    pub fn message(&self, chat: i64, user: i64, text: &str) -> i64 {
        let mid = self.next_message.fetch_add(1, Ordering::SeqCst);
        self.push(json!({ "message": {
            "message_id": mid, "date": 1_700_000_000,
            "from": { "id": user, "is_bot": false, "first_name": "Op", "username": format!("user{user}") },
            "chat": { "id": chat, "type": "private" },
            "text": text,
        }}))
    }

    /// A press by `user` of the button with `data` on the bot's message `message_id` in `chat`.
    pub fn press(&self, chat: i64, user: i64, message_id: i64, data: &str) -> i64 {
        self.push(json!({ "callback_query": {
            "id": format!("q{message_id}"),
            "from": { "id": user, "is_bot": false, "first_name": "Op", "username": format!("user{user}") },
            "chat_instance": "1",
            "message": { "message_id": message_id, "date": 1_700_000_000,
                         "chat": { "id": chat, "type": "private" }, "text": "Restart?" },
            "data": data,
        }}))
    }

    /// Every call but `getUpdates`, in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| c.method != "getupdates")
            .cloned()
            .collect()
    }

    /// Every `getUpdates` offset asked, in order.
    pub fn offsets(&self) -> Vec<i64> {
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| c.method == "getupdates")
            .map(|c| c.params["offset"].as_i64().unwrap_or(0))
            .collect()
    }

    /// The texts sent, in order.
    pub fn sent(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == "sendmessage")
            .collect()
    }

    /// Waits until a sent message's text contains `needle`; returns it and its message id.
    pub fn wait_sent(&self, needle: &str, timeout: Duration) -> (Call, i64) {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = lock(&self.state).calls.clone();
            let mut sent = 0;
            for c in calls.iter() {
                if c.method == "sendmessage" {
                    sent += 1;
                    if c.params["text"].as_str().unwrap_or("").contains(needle) {
                        return (c.clone(), c.params["_message_id"].as_i64().unwrap_or(0));
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "no message with {needle:?} within {timeout:?}; sent {sent}: {:?}",
                self.sent()
                    .iter()
                    .map(|c| c.params["text"].clone())
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn ok(result: Value) -> Response {
    Response::json(200, json!({ "ok": true, "result": result }))
}

fn answer(
    req: &Recorded,
    token: &str,
    state: &Mutex<State>,
    next_message: &AtomicI64,
    forget: &AtomicBool,
) -> Response {
    let path = req.path.split('?').next().unwrap_or("");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (Some(bot), Some(method)) = (segs.iter().rev().nth(1), segs.last()) else {
        return Response::json(
            404,
            json!({ "ok": false, "error_code": 404, "description": "Not Found" }),
        );
    };
    if bot.strip_prefix("bot") != Some(token) {
        return Response::json(
            401,
            json!({ "ok": false, "error_code": 401, "description": "Unauthorized" }),
        );
    }
    let mut params: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
    let method = method.to_ascii_lowercase();
    match method.as_str() {
        "getupdates" => {
            let offset = params["offset"].as_i64().unwrap_or(0);
            lock(state).calls.push(Call {
                method: method.clone(),
                params: params.clone(),
            });
            let hold = Duration::from_secs(params["timeout"].as_u64().unwrap_or(0).min(1));
            let deadline = Instant::now() + hold;
            loop {
                {
                    let mut s = lock(state);
                    if !forget.load(Ordering::SeqCst) {
                        s.confirmed = s.confirmed.max(offset);
                    }
                    let from = if forget.load(Ordering::SeqCst) {
                        0
                    } else {
                        s.confirmed
                    };
                    let out: Vec<Value> = s
                        .updates
                        .iter()
                        .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= from)
                        .cloned()
                        .collect();
                    if !out.is_empty() || Instant::now() >= deadline {
                        return ok(Value::Array(out));
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        "sendmessage" => {
            if params["chat_id"].as_i64().is_none()
                || params["text"].as_str().is_none_or(|t| t.trim().is_empty())
            {
                return Response::json(
                    400,
                    json!({ "ok": false, "error_code": 400, "description": "Bad Request: message text is empty" }),
                );
            }
            let id = next_message.fetch_add(1, Ordering::SeqCst);
            params["_message_id"] = json!(id);
            lock(state).calls.push(Call {
                method,
                params: params.clone(),
            });
            ok(
                json!({ "message_id": id, "date": 1_700_000_000, "chat": { "id": params["chat_id"], "type": "private" }, "text": params["text"] }),
            )
        }
        "answercallbackquery" | "editmessagereplymarkup" => {
            lock(state).calls.push(Call { method, params });
            ok(json!(true))
        }
        _ => Response::json(
            404,
            json!({ "ok": false, "error_code": 404, "description": "Not Found" }),
        ),
    }
}
