//! A small HTTP/1.1 server inside the test process, on 127.0.0.1 and a free port, that records
//! every request and answers from a script (a closure); plus ready-made scripts that speak the
//! Telegram Bot API ([`telegram_api`]) and a Slack incoming webhook ([`slack_webhook`]) the way
//! the real services answer, including their 429s; plus [`request`], a blocking client for
//! tests.
//!
//! One thread accepts, one thread serves each connection; every answer closes the connection
//! (`Connection: close`). A script may sleep to imitate a slow server. The accepting thread is
//! stopped and joined when the value is dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The request target as sent: path and query, still percent-encoded.
    pub path: String,
    /// In the order received; names as sent (compare case-insensitively, see [`Recorded::header`]).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if it came chunked.
    pub body: Vec<u8>,
    /// When the request was read.
    pub at: Instant,
}

impl Recorded {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// An answer. `Content-Length` and `Connection: close` are added when written.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The first `n` requests get `status` with a plain-text page (a reverse proxy in front of a
/// service that is restarting); the rest go to `then`.
pub fn failing_first(
    n: usize,
    status: u16,
    then: impl Fn(&Recorded) -> Response + Send + Sync + 'static,
) -> impl Fn(&Recorded) -> Response + Send + Sync + 'static {
    let seen = std::sync::atomic::AtomicUsize::new(0);
    move |req: &Recorded| {
        if seen.fetch_add(1, Ordering::SeqCst) < n {
            Response::text(
                status,
                "<html><body>503 Service Temporarily Unavailable</body></html>",
            )
        } else {
            then(req)
        }
    }
}

/// The first request gets 429 with `Retry-After: secs` (a proxy's or the service's rate
/// limit); the rest go to `then`.
pub fn rate_limited_first(
    secs: u32,
    then: impl Fn(&Recorded) -> Response + Send + Sync + 'static,
) -> impl Fn(&Recorded) -> Response + Send + Sync + 'static {
    let limited = AtomicBool::new(false);
    move |req: &Recorded| {
        if !limited.swap(true, Ordering::SeqCst) {
            Response::text(429, "Too Many Requests").with_header("Retry-After", &secs.to_string())
        } else {
            then(req)
        }
    }
}

type Responder = dyn Fn(&Recorded) -> Response + Send + Sync;

pub struct FakeHttp {
    port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl FakeHttp {
    /// Starts serving; every request is recorded, then answered by `responder`.
    pub fn start(responder: impl Fn(&Recorded) -> Response + Send + Sync + 'static) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let responder: Arc<Responder> = Arc::new(responder);
        let acceptor = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (requests, responder) = (requests.clone(), responder.clone());
                    std::thread::spawn(move || serve(conn, &requests, &*responder));
                }
            })
        };
        FakeHttp {
            port,
            requests,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until at least `n` requests arrived; panics on timeout, listing those seen.
    pub fn wait_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.requests();
            if r.len() >= n {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {n} requests; got {}: {:?}",
                r.len(),
                r.iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request, records it, answers, closes.
fn serve(conn: TcpStream, requests: &Mutex<Vec<Recorded>>, responder: &Responder) {
    // A client that stalls must not keep the thread forever.
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut out = match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut r = BufReader::new(conn);
    let Some((start, headers)) = read_head(&mut r) else {
        return;
    };
    let mut parts = start.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    if get("Expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        let _ = out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let chunked =
        get("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        match read_chunked(&mut r) {
            Some(b) => b,
            None => return,
        }
    } else {
        let len = get("Content-Length")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut b = vec![0; len];
        if r.read_exact(&mut b).is_err() {
            return;
        }
        b
    };
    let rec = Recorded {
        at: Instant::now(),
        method,
        path,
        headers,
        body,
    };
    requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(rec.clone());
    let resp = responder(&rec);
    let _ = out.write_all(&encode_response(&resp));
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
}

fn encode_response(resp: &Response) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (n, v) in &resp.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        resp.body.len()
    ));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&resp.body);
    bytes
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// The start line and the headers of a request or response; `None` on EOF or garbage.
fn read_head(r: &mut impl BufRead) -> Option<(String, Vec<(String, String)>)> {
    let mut start = String::new();
    if r.read_line(&mut start).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
        if headers.len() > 200 {
            return None;
        }
    }
    Some((start.trim_end().to_string(), headers))
}

fn read_chunked(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).ok()? == 0 || l.trim().is_empty() {
                    return Some(body);
                }
            }
        }
        let at = body.len();
        body.resize(at + size, 0);
        r.read_exact(&mut body[at..]).ok()?;
        let mut crlf = [0; 2];
        r.read_exact(&mut crlf).ok()?;
    }
}

/// A blocking HTTP/1.1 request for tests (`http://` only): returns status, headers and body.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut conn = TcpStream::connect(authority).unwrap_or_else(|e| panic!("connect {url}: {e}"));
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes()).expect("send request");
    conn.write_all(body).expect("send body");
    let mut r = BufReader::new(conn);
    let (start, headers) = read_head(&mut r).expect("a response head");
    let status = start
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {start:?}"));
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body =
        if get("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            read_chunked(&mut r).expect("a chunked body")
        } else if let Some(len) = get("Content-Length").and_then(|v| v.parse::<usize>().ok()) {
            let mut b = vec![0; len];
            r.read_exact(&mut b).expect("the body");
            b
        } else {
            let mut b = Vec::new();
            r.read_to_end(&mut b).expect("the body");
            b
        };
    (status, headers, body)
}

/// Decodes `application/x-www-form-urlencoded`.
fn form_decode(body: &[u8]) -> Vec<(String, String)> {
    fn unescape(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(v) => {
                            out.push(v);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (unescape(k), unescape(v))
        })
        .collect()
}

/// The parameters of a Bot API call: a JSON object, or a form turned into one (all strings).
fn bot_params(req: &Recorded) -> Option<serde_json::Map<String, Value>> {
    let form = req
        .header("Content-Type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        return Some(
            form_decode(&req.body)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        );
    }
    if req.body.is_empty() {
        return Some(serde_json::Map::new());
    }
    match serde_json::from_slice(&req.body).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn tg_error(status: u16, description: &str) -> Response {
    Response::json(
        status,
        json!({ "ok": false, "error_code": status, "description": description }),
    )
}

/// Telegram's limit on a message's text, in UTF-16 code units (as Telegram counts).
pub const TELEGRAM_TEXT_LIMIT: usize = 4096;

/// Speaks the Bot API as teloxide-core calls it: `POST {api_url}/bot{TOKEN}/{method}` with a
/// JSON body (a form body is accepted too). Only `sendMessage` (any letter case: teloxide-core
/// sends `SendMessage`) and `getMe` are known.
///
/// - a wrong token: 401 `{"ok":false,"error_code":401,"description":"Unauthorized"}`;
/// - an unknown method: 404 `Not Found`;
/// - `sendMessage` without `chat_id` or `text`, or `parse_mode` `HTML` with a `<` or `&` that
///   is not markup Telegram knows (e.g. a traceback's `<module>`), or a text over 4096 UTF-16
///   units (in HTML mode as shown, tags not counted; Markdown modes with their markup,
///   stricter than Telegram): 400 with Telegram's description;
/// - with `rate_limit_first = Some(s)`, the first `sendMessage` gets 429
///   `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after s",
///   "parameters":{"retry_after":s}}`;
/// - otherwise 200 with a complete `Message` (id counting from 1, `chat` private for a numeric
///   `chat_id`, a channel for `@name`, `text` as sent) that teloxide-core deserializes.
pub fn telegram_api(
    token: &str,
    rate_limit_first: Option<u32>,
) -> impl Fn(&Recorded) -> Response + Send + Sync + 'static {
    let token = token.to_string();
    let limited = AtomicBool::new(rate_limit_first.is_none());
    let next_id = std::sync::atomic::AtomicI64::new(1);
    move |req: &Recorded| {
        let path = req.path.split('?').next().unwrap_or("");
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (Some(bot), Some(method)) = (segs.iter().rev().nth(1), segs.last()) else {
            return tg_error(404, "Not Found");
        };
        let Some(got) = bot.strip_prefix("bot") else {
            return tg_error(404, "Not Found");
        };
        let got = got.replace("%3A", ":").replace("%3a", ":");
        if got != token {
            return tg_error(401, "Unauthorized");
        }
        let Some(params) = bot_params(req) else {
            return tg_error(400, "Bad Request: can't parse JSON object");
        };
        if method.eq_ignore_ascii_case("getMe") {
            return Response::json(200, json!({ "ok": true, "result": bot_user() }));
        }
        if !method.eq_ignore_ascii_case("sendMessage") {
            return tg_error(404, "Not Found");
        }
        let chat = match params.get("chat_id") {
            Some(Value::Number(n)) => n.as_i64().map(private_chat),
            Some(Value::String(s)) if s.starts_with('@') => Some(json!({
                "id": -1001234567890_i64, "type": "channel", "title": "Alerts",
                "username": s.trim_start_matches('@'),
            })),
            Some(Value::String(s)) => s.parse::<i64>().ok().map(private_chat),
            _ => None,
        };
        let Some(chat) = chat else {
            return tg_error(400, "Bad Request: chat_id is empty");
        };
        let text = params.get("text").and_then(|t| t.as_str()).unwrap_or("");
        if text.trim().is_empty() {
            return tg_error(400, "Bad Request: message text is empty");
        }
        let mode = params
            .get("parse_mode")
            .and_then(|m| m.as_str())
            .unwrap_or("");
        let html = mode.eq_ignore_ascii_case("html");
        if html {
            if let Err(e) = check_telegram_html(text) {
                return tg_error(400, &format!("Bad Request: can't parse entities: {e}"));
            }
        }
        if telegram_length(text, html) > TELEGRAM_TEXT_LIMIT {
            return tg_error(400, "Bad Request: message is too long");
        }
        if !limited.swap(true, Ordering::SeqCst) {
            let s = rate_limit_first.unwrap_or(0);
            return Response::json(
                429,
                json!({
                    "ok": false, "error_code": 429,
                    "description": format!("Too Many Requests: retry after {s}"),
                    "parameters": { "retry_after": s },
                }),
            );
        }
        let id = next_id.fetch_add(1, Ordering::SeqCst);
        let date = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Response::json(
            200,
            json!({ "ok": true, "result": {
                "message_id": id,
                "from": bot_user(),
                "chat": chat,
                "date": date,
                "text": text,
            }}),
        )
    }
}

fn bot_user() -> Value {
    json!({ "id": 7000000001_i64, "is_bot": true, "first_name": "logwarden test bot",
            "username": "logwarden_test_bot" })
}

fn private_chat(id: i64) -> Value {
    json!({ "id": id, "type": "private", "first_name": "Operator", "username": "operator" })
}

/// The length Telegram checks against its limit: UTF-16 code units of the text as shown, so
/// in HTML mode without tags and with each entity as one character. Markdown modes are counted
/// with their markup (stricter than Telegram).
fn telegram_length(text: &str, html: bool) -> usize {
    if !html {
        return text.encode_utf16().count();
    }
    let mut n = 0;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let skip = match c {
            '<' => rest.find('>').map_or(rest.len(), |i| i + 1),
            '&' => {
                n += 1;
                rest.find(';').map_or(rest.len(), |i| i + 1)
            }
            c => {
                n += c.len_utf16();
                c.len_utf8()
            }
        };
        rest = &rest[skip..];
    }
    n
}

/// Telegram's HTML mode: `<` must open or close a known tag, `&` must start an entity.
fn check_telegram_html(text: &str) -> Result<(), String> {
    const TAGS: &[&str] = &[
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    ];
    for (at, c) in text.char_indices() {
        let rest = &text[at + 1..];
        if c == '<' {
            let inner = rest.split('>').next().unwrap_or("");
            let name: String = inner
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !rest.contains('>') || !TAGS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "Unsupported start tag \"{name}\" at byte offset {at}"
                ));
            }
        } else if c == '&' {
            let ent = rest.split(';').next().unwrap_or("");
            let ok = rest.contains(';')
                && (["lt", "gt", "amp", "quot"].contains(&ent)
                    || ent.strip_prefix('#').is_some_and(|n| {
                        n.parse::<u32>().is_ok()
                            || n.strip_prefix('x')
                                .is_some_and(|h| u32::from_str_radix(h, 16).is_ok())
                    }));
            if !ok {
                return Err(format!(
                    "Can't find end of the entity starting at byte offset {at}"
                ));
            }
        }
    }
    Ok(())
}

/// Answers like a Slack incoming webhook: 200 `ok` for a JSON object with a non-empty `text`
/// or `blocks`; 400 `invalid_payload` for a body that is not a JSON object; 400 `no_text` for
/// one with neither; with `rate_limit_first = Some(s)`, the first request gets 429
/// `rate_limited` with a `Retry-After: s` header. Any path is accepted (the URL is the secret).
pub fn slack_webhook(
    rate_limit_first: Option<u32>,
) -> impl Fn(&Recorded) -> Response + Send + Sync + 'static {
    let limited = AtomicBool::new(rate_limit_first.is_none());
    move |req: &Recorded| {
        if !limited.swap(true, Ordering::SeqCst) {
            return Response::text(429, "rate_limited")
                .with_header("Retry-After", &rate_limit_first.unwrap_or(0).to_string());
        }
        if req.method != "POST" {
            return Response::text(405, "invalid_method");
        }
        let Some(Value::Object(m)) = req.json() else {
            return Response::text(400, "invalid_payload");
        };
        let text = m
            .get("text")
            .and_then(|t| t.as_str())
            .is_some_and(|t| !t.is_empty());
        let blocks = m
            .get("blocks")
            .and_then(|b| b.as_array())
            .is_some_and(|b| !b.is_empty());
        if !text && !blocks {
            return Response::text(400, "no_text");
        }
        Response::text(200, "ok")
    }
}

/// Answers like an ntfy server's JSON publishing (`POST /` with `topic` and `message`, as
/// ntfy's docs describe it): 200 with the message event; 400 `{"code":40024,...}` for a body
/// without a valid topic; with `token`, 401 `{"code":40101,...}` unless `Authorization:
/// Bearer TOKEN`; with `rate_limit_first = Some(s)`, the first request gets 429
/// `{"code":42901,...}` with `Retry-After: s`.
pub fn ntfy_server(
    token: Option<&'static str>,
    rate_limit_first: Option<u32>,
) -> impl Fn(&Recorded) -> Response + Send + Sync + 'static {
    let limited = AtomicBool::new(rate_limit_first.is_none());
    let error = |code: u32, http: u16, error: &str| {
        Response::json(
            http,
            serde_json::json!({ "code": code, "http": http, "error": error }),
        )
    };
    move |req: &Recorded| {
        if !limited.swap(true, Ordering::SeqCst) {
            return error(42901, 429, "limit reached: too many requests")
                .with_header("Retry-After", &rate_limit_first.unwrap_or(0).to_string());
        }
        if let Some(t) = token {
            if req.header("authorization") != Some(&format!("Bearer {t}")) {
                return error(40101, 401, "unauthorized");
            }
        }
        if req.method != "POST" || req.path != "/" {
            return error(40401, 404, "page not found");
        }
        let Some(Value::Object(m)) = req.json() else {
            return error(40024, 400, "invalid request: body must be JSON");
        };
        let topic = m.get("topic").and_then(|t| t.as_str()).unwrap_or("");
        let valid = !topic.is_empty()
            && topic.len() <= 64
            && topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return error(40024, 400, "invalid request: topic invalid");
        }
        Response::json(
            200,
            serde_json::json!({ "id": "hwQ2YpKdmg", "time": 1_700_000_000, "event": "message",
                "topic": topic, "message": m.get("message").cloned().unwrap_or_default() }),
        )
    }
}

/// Answers like Discord's execute-webhook endpoint (`POST /api/webhooks/ID/TOKEN`): 204 for a
/// JSON object with a `content` of 1 to 2,000 characters; 400 with Discord's error JSON for an
/// empty or longer one; with `rate_limit_first = Some(s)`, the first request gets 429
/// `{"message": "You are being rate limited.", "retry_after": s, "global": false}`.
pub fn discord_webhook(
    rate_limit_first: Option<f64>,
) -> impl Fn(&Recorded) -> Response + Send + Sync + 'static {
    let limited = AtomicBool::new(rate_limit_first.is_none());
    move |req: &Recorded| {
        if !limited.swap(true, Ordering::SeqCst) {
            let after = rate_limit_first.unwrap_or(0.0);
            return Response::json(
                429,
                serde_json::json!({ "message": "You are being rate limited.",
                    "retry_after": after, "global": false }),
            )
            .with_header("Retry-After", &(after.ceil() as u64).to_string());
        }
        if req.method != "POST" || !req.path.starts_with("/api/webhooks/") {
            return Response::json(
                404,
                serde_json::json!({ "message": "404: Not Found", "code": 0 }),
            );
        }
        let Some(Value::Object(m)) = req.json() else {
            return Response::json(
                400,
                serde_json::json!({ "message": "Cannot send an empty message", "code": 50006 }),
            );
        };
        let len = m
            .get("content")
            .and_then(|c| c.as_str())
            .map_or(0, |c| c.chars().count());
        if len == 0 {
            return Response::json(
                400,
                serde_json::json!({ "message": "Cannot send an empty message", "code": 50006 }),
            );
        }
        if len > 2000 {
            return Response::json(
                400,
                serde_json::json!({ "code": 50035, "message": "Invalid Form Body",
                    "errors": { "content": { "_errors": [{ "code": "BASE_TYPE_MAX_LENGTH",
                    "message": "Must be 2000 or fewer in length." }] } } }),
            );
        }
        Response::text(204, "")
    }
}

/// Answers like a Gotify server's `POST /message`: 200 with the message for a JSON body with
/// a `message` and the application token in `X-Gotify-Key` (or `?token=`); 401 with Gotify's
/// error JSON otherwise; 400 without a `message`.
pub fn gotify_server(
    token: &'static str,
) -> impl Fn(&Recorded) -> Response + Send + Sync + 'static {
    move |req: &Recorded| {
        let given = req.header("x-gotify-key") == Some(token)
            || req.path.ends_with(&format!("?token={token}"));
        if !given {
            return Response::json(
                401,
                serde_json::json!({ "error": "Unauthorized", "errorCode": 401,
                    "errorDescription": "you need to provide a valid access token or user credentials to access this api" }),
            );
        }
        if req.method != "POST" || !req.path.starts_with("/message") {
            return Response::json(
                404,
                serde_json::json!({ "error": "Not Found", "errorCode": 404 }),
            );
        }
        let Some(Value::Object(m)) = req.json() else {
            return Response::json(
                400,
                serde_json::json!({ "error": "Bad Request", "errorCode": 400 }),
            );
        };
        if m.get("message")
            .and_then(|v| v.as_str())
            .is_none_or(str::is_empty)
        {
            return Response::json(
                400,
                serde_json::json!({ "error": "Bad Request", "errorCode": 400,
                    "errorDescription": "Field 'message' is required" }),
            );
        }
        Response::json(
            200,
            serde_json::json!({ "id": 1, "appid": 1, "message": m["message"] }),
        )
    }
}

/// Answers like a Matrix homeserver's `PUT /_matrix/client/v3/rooms/ROOM/send/m.room.message/TXN`:
/// 200 `{"event_id": ...}` for a JSON object with `msgtype` and `body` and `Authorization:
/// Bearer TOKEN` (the same event id again for a transaction id seen before, as the spec
/// says); 401 `M_UNKNOWN_TOKEN` otherwise; with `rate_limit_first = Some(ms)`, the first
/// request gets 429 `M_LIMIT_EXCEEDED` with `retry_after_ms`.
pub fn matrix_homeserver(
    token: &'static str,
    room: &'static str,
    rate_limit_first: Option<u64>,
) -> impl Fn(&Recorded) -> Response + Send + Sync + 'static {
    let limited = AtomicBool::new(rate_limit_first.is_none());
    let events: Mutex<Vec<String>> = Mutex::new(Vec::new());
    move |req: &Recorded| {
        if !limited.swap(true, Ordering::SeqCst) {
            return Response::json(
                429,
                serde_json::json!({ "errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests",
                    "retry_after_ms": rate_limit_first.unwrap_or(0) }),
            );
        }
        if req.header("authorization") != Some(&format!("Bearer {token}")) {
            return Response::json(
                401,
                serde_json::json!({ "errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed." }),
            );
        }
        let prefix = format!("/_matrix/client/v3/rooms/{room}/send/m.room.message/");
        let Some(txn) = req.path.strip_prefix(&prefix).filter(|t| !t.is_empty()) else {
            return Response::json(
                404,
                serde_json::json!({ "errcode": "M_UNRECOGNIZED", "error": "Unrecognized request" }),
            );
        };
        if req.method != "PUT" {
            return Response::json(405, serde_json::json!({ "errcode": "M_UNRECOGNIZED" }));
        }
        let ok = matches!(req.json(), Some(Value::Object(m))
            if m.get("msgtype").and_then(|v| v.as_str()).is_some()
                && m.get("body").and_then(|v| v.as_str()).is_some());
        if !ok {
            return Response::json(
                400,
                serde_json::json!({ "errcode": "M_BAD_JSON", "error": "msgtype and body required" }),
            );
        }
        let mut seen = events.lock().unwrap();
        let n = match seen.iter().position(|t| t == txn) {
            Some(n) => n,
            None => {
                seen.push(txn.to_string());
                seen.len() - 1
            }
        };
        Response::json(200, serde_json::json!({ "event_id": format!("$event{n}") }))
    }
}

/// Answers like Pushover's API: `POST /1/messages.json` with the app `token` and `user` key
/// (JSON or form) is 200 `{"status": 1, "request": ...}`, plus a `receipt` for priority 2
/// (which needs `retry` >= 30 and `expire` <= 10800); a wrong token or user is 400
/// `{"status": 0, "errors": [...]}`; `POST /1/receipts/R/cancel.json` with the token is
/// `{"status": 1}` for a receipt it gave.
pub fn pushover_api(
    token: &'static str,
    user: &'static str,
) -> impl Fn(&Recorded) -> Response + Send + Sync + 'static {
    let receipts: Mutex<Vec<String>> = Mutex::new(Vec::new());
    move |req: &Recorded| {
        let fail = |why: &str| {
            Response::json(
                400,
                serde_json::json!({ "status": 0, "errors": [why], "request": "r1" }),
            )
        };
        let Some(Value::Object(m)) = req.json() else {
            return fail("invalid request");
        };
        let field = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        if field("token") != token {
            return fail("application token is invalid");
        }
        if let Some(r) = req
            .path
            .strip_prefix("/1/receipts/")
            .and_then(|p| p.strip_suffix("/cancel.json"))
        {
            let known = receipts.lock().unwrap().iter().any(|x| x == r);
            return if known {
                Response::json(200, serde_json::json!({ "status": 1, "request": "r3" }))
            } else {
                fail("receipt not found")
            };
        }
        if req.path != "/1/messages.json" {
            return Response::json(
                404,
                serde_json::json!({ "status": 0, "errors": ["not found"] }),
            );
        }
        if field("user") != user {
            return fail("user identifier is not a valid user, group, or subscribed user key");
        }
        if field("message").is_empty() {
            return fail("message cannot be blank");
        }
        let priority = m.get("priority").and_then(|p| p.as_i64()).unwrap_or(0);
        if priority == 2 {
            let retry = m.get("retry").and_then(|v| v.as_u64()).unwrap_or(0);
            let expire = m.get("expire").and_then(|v| v.as_u64()).unwrap_or(u64::MAX);
            if retry < 30 || expire > 10_800 {
                return fail("retry must be at least 30 and expire at most 10800");
            }
            let mut r = receipts.lock().unwrap();
            let receipt = format!("rcpt{}", r.len());
            r.push(receipt.clone());
            return Response::json(
                200,
                serde_json::json!({ "status": 1, "request": "r2", "receipt": receipt }),
            );
        }
        Response::json(200, serde_json::json!({ "status": 1, "request": "r2" }))
    }
}
