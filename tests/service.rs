//! logwarden as a service: `/health`, `/metrics` (accepted by the real `promtool`),
//! `/status` and `logwarden status`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{append, config_dir, free_port, http_get, Daemon};

fn config(port: u16) -> String {
    format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"
listen = "127.0.0.1:{port}"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging", "trading"]

  [[watch.rule]]
  name = "errors"
  when = "rate"
  pattern = "error"
  threshold = 2
  window = "1m"
  severity = "critical"

  [[watch.probe]]
  name = "heartbeat"
  kind = "heartbeat"
  path = "@DIR@/bot.log"
  max_age = "1h"
"#
    )
}

fn status(config: &std::path::Path) -> (i32, String) {
    let out = Command::new(common::bin())
        .arg("--config")
        .arg(config)
        .arg("status")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn metrics_pass_promtool_and_health_and_status_tell_the_state() {
    let port = free_port();
    let (dir, cfg) = config_dir(&config(port));
    let log = dir.path().join("bot.log");
    append(&log, &["start".to_string()]);
    let mut d = Daemon::start(&cfg);
    d.wait_reading(&log);
    let (code, body) = http_get(port, "/health").expect("GET");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"healthy\":true"), "{body}");
    assert_eq!(status(&cfg).0, 0, "nothing fires: exit 0");
    // Before any alert, every rule and probe is listed as not firing, and no restart counted.
    let (_, metrics) = http_get(port, "/metrics").expect("GET");
    for line in [
        "logwarden_rule_firing{watch=\"bot\",rule=\"errors\"} 0",
        "logwarden_rule_firing{watch=\"bot\",rule=\"heartbeat\"} 0",
        "logwarden_restarts_total{watch=\"bot\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    let (_, body) = http_get(port, "/status").expect("GET");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["watches"][0]["rules"]["errors"]["firing"], false, "{v}");
    assert_eq!(
        v["watches"][0]["rules"]["heartbeat"]["firing"], false,
        "{v}"
    );
    append(
        &log,
        &(0..5)
            .map(|i| format!("2026-11-23 09:41:42,123 - bot - ERROR - socket timeout {i}"))
            .collect::<Vec<_>>(),
    );
    d.wait_alert("errors", "firing", Duration::from_secs(5));
    // The last line waits out the multi-line quiet time before it is counted.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let (code, metrics) = loop {
        let (code, metrics) = http_get(port, "/metrics").expect("GET");
        if metrics.contains("pattern=\"error\"} 5") || std::time::Instant::now() > deadline {
            break (code, metrics);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, 200);
    assert!(
        metrics.contains("logwarden_rule_firing{watch=\"bot\",rule=\"errors\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("logwarden_matches_total{watch=\"bot\",pattern=\"error\"} 5"),
        "{metrics}"
    );
    assert!(metrics.contains("logwarden_lines_read_total"), "{metrics}");
    common::promtool_check_metrics(&metrics);
    let (code, text) = status(&cfg);
    assert_eq!(code, 2, "a critical rule fires: exit 2\n{text}");
    assert!(text.contains("FIRING errors [critical]"), "{text}");
    let (code, body) = http_get(port, "/status").expect("GET");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["watches"][0]["state"], "critical", "{v}");
}

/// A source that stops waking makes `/health` answer 503 with the reason, once it has been
/// silent for `SOURCE_SILENCE_LIMIT` (15 s). Here the source is stuck opening a FIFO that no
/// writer opens (`open` blocks until one does).
#[test]
fn health_is_503_with_the_reason_when_a_source_stops_waking() {
    let port = free_port();
    let (dir, cfg) = config_dir(&config(port));
    let log = dir.path().join("bot.log");
    let status = Command::new("mkfifo").arg(&log).status().expect("mkfifo");
    assert!(status.success());
    let _d = Daemon::start(&cfg);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (code, body) = loop {
        let (code, body) = match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(_) => http_get(port, "/health").expect("GET"),
            Err(_) => (0, String::new()),
        };
        if code == 503 || std::time::Instant::now() > deadline {
            break (code, body);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(code, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["healthy"], false, "{v}");
    let problem = v["problems"][0].as_str().unwrap_or("");
    assert!(
        problem.contains(&log.display().to_string()) && problem.contains("has not woken"),
        "{v}"
    );
}

#[test]
fn the_dead_mans_switch_is_pinged_while_healthy_and_its_url_never_logged() {
    use std::io::{Read, Write};
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let hits = hits.clone();
        std::thread::spawn(move || {
            for conn in server.incoming().flatten() {
                let mut conn = conn;
                let mut buf = [0u8; 1024];
                let n = conn.read(&mut buf).unwrap_or(0);
                if String::from_utf8_lossy(&buf[..n]).starts_with("GET /ping/s3cr3t-uuid ") {
                    hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
                );
            }
        });
    }
    let cfg = CONFIG_HB.replace("@PORT@", &port.to_string());
    let (dir, config) = config_dir(&cfg);
    std::fs::write(
        dir.path().join("hb-url"),
        format!("http://127.0.0.1:{port}/ping/s3cr3t-uuid\n"),
    )
    .unwrap();
    let log = dir.path().join("bot.log");
    append(&log, &["start".to_string()]);
    let mut d = Daemon::start(&config);
    d.collect_for(Duration::from_secs(2));
    let n = hits.load(std::sync::atomic::Ordering::SeqCst);
    assert!(n >= 2, "pinged {n} times in 2 s");
    assert!(
        !d.seen.iter().any(|v| v.to_string().contains("s3cr3t")),
        "the URL's token appeared in logwarden's output"
    );
}

const CONFIG_HB: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"
heartbeat_url_file = "hb-url"
heartbeat_every = "300ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
"#;

/// One raw HTTP/1.1 request (`head` is everything before the blank line, without it) to a
/// loopback port: (status code, body).
fn raw_request(port: u16, head: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(s, "{head}\r\nConnection: close\r\n\r\n").expect("send");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

const TOKEN: &str = "tok-5f1c2e9a7b3d4c6e8f0a";

#[test]
fn the_endpoint_refuses_other_hosts_and_requests_without_the_token() {
    let port = free_port();
    let cfg = config(port).replace(
        "listen = ",
        "listen_token_file = \"@DIR@/http-token\"\nlisten_hosts = [\"bot.internal\"]\nlisten = ",
    );
    let (dir, cfg) = config_dir(&cfg);
    std::fs::write(dir.path().join("http-token"), format!("{TOKEN}\n")).expect("token");
    let _ = Command::new("chmod")
        .arg("600")
        .arg(dir.path().join("http-token"))
        .status();
    let log = dir.path().join("bot.log");
    append(&log, &["start".to_string()]);
    let mut d = Daemon::start(&cfg);
    d.wait_reading(&log);
    let auth = format!("Authorization: Bearer {TOKEN}");
    for path in ["/status", "/metrics", "/health"] {
        // A page on evil.example whose name now resolves to 127.0.0.1 (DNS rebinding): its
        // requests name its own host, with the right port or without, even with the token.
        for host in ["evil.example", &format!("evil.example:{port}")] {
            let (code, body) = raw_request(port, &format!("GET {path} HTTP/1.1\r\nHost: {host}"));
            assert_eq!(code, 421, "{path} Host {host}: {body}");
            let (code, _) = raw_request(
                port,
                &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}"),
            );
            assert_eq!(code, 421, "{path} Host {host} with the token");
        }
        // No Host at all, and an absolute URI naming another host.
        let (code, _) = raw_request(port, &format!("GET {path} HTTP/1.1\r\n{auth}"));
        assert_eq!(code, 421, "{path} without Host");
        let (code, _) = raw_request(
            port,
            &format!("GET http://evil.example{path} HTTP/1.1\r\nHost: localhost\r\n{auth}"),
        );
        assert_eq!(code, 421, "{path} with an absolute URI for evil.example");
    }
    // The right host, no token or a wrong one: 401 on every route but /health.
    for path in ["/status", "/metrics"] {
        for extra in [
            String::new(),
            "\r\nAuthorization: Bearer tok-wrong-wrong-wrong-wr".to_string(),
            format!("\r\nAuthorization: Bearer {TOKEN}x"),
            format!("\r\nAuthorization: Basic {TOKEN}"),
        ] {
            let (code, body) = raw_request(
                port,
                &format!("GET {path} HTTP/1.1\r\nHost: localhost:{port}{extra}"),
            );
            assert_eq!(code, 401, "{path} with {extra:?}: {body}");
            assert!(
                !body.contains("watches") && !body.contains("logwarden_"),
                "{body}"
            );
        }
    }
    // /health stays open for load balancers: whether, not why.
    let (code, body) = raw_request(
        port,
        &format!("GET /health HTTP/1.1\r\nHost: localhost:{port}"),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body.trim(), "{\"healthy\":true}");
    // With the token, under every name of the endpoint, everything answers.
    for host in [
        format!("localhost:{port}"),
        "localhost".to_string(),
        format!("127.0.0.1:{port}"),
        "[::1]".to_string(),
        "bot.internal".to_string(),
        format!("BOT.internal:{port}"),
    ] {
        let (code, body) = raw_request(
            port,
            &format!("GET /status HTTP/1.1\r\nHost: {host}\r\n{auth}"),
        );
        assert_eq!(code, 200, "Host {host}: {body}");
        assert!(body.contains("\"watches\""), "{body}");
        let (code, body) = raw_request(
            port,
            &format!("GET /health HTTP/1.1\r\nHost: {host}\r\n{auth}"),
        );
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("\"problems\""), "{body}");
    }
    // `logwarden status` reads the token from the same config.
    let (code, text) = status(&cfg);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("healthy"), "{text}");
    // A config whose token differs is told so, not shown a parse error.
    let other = dir.path().join("other.toml");
    std::fs::write(
        dir.path().join("other-token"),
        "tok-0000000000000000000000\n",
    )
    .expect("token");
    std::fs::write(
        &other,
        std::fs::read_to_string(&cfg)
            .expect("config")
            .replace("http-token", "other-token"),
    )
    .expect("config");
    let out = Command::new(common::bin())
        .arg("--config")
        .arg(&other)
        .arg("status")
        .output()
        .expect("status");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_refuses_a_zero_heartbeat_and_an_open_listen_without_a_token() {
    for (key, bad, words) in [
        (
            "heartbeat_every = \"300ms\"",
            "heartbeat_every = \"0s\"",
            "heartbeat_every must be between 100ms and 1d",
        ),
        (
            "heartbeat_every = \"300ms\"",
            "heartbeat_every = \"1000000000d\"",
            "heartbeat_every must be between 100ms and 1d",
        ),
        (
            "poll_interval = \"100ms\"",
            "poll_interval = \"100ms\"\nlisten = \"0.0.0.0:9107\"",
            "listen_token_file",
        ),
    ] {
        let text = CONFIG_HB.replace(key, bad);
        let (dir, cfg) = config_dir(&text);
        std::fs::write(dir.path().join("hb-url"), "http://127.0.0.1:9/ping\n").expect("url");
        let line = text
            .lines()
            .position(|l| bad.lines().last() == Some(l))
            .expect("line")
            + 1;
        let out = Command::new(common::bin())
            .arg("check")
            .arg("--config")
            .arg(&cfg)
            .output()
            .expect("check");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        assert!(
            err.contains(&format!("logwarden.toml:{line}:")) && err.contains(words),
            "{bad}: {err}"
        );
        // `run` refuses it the same way instead of starting without a heartbeat.
        let out = Command::new(common::bin())
            .arg("run")
            .arg("--config")
            .arg(&cfg)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{bad}");
    }
    // The opt-in, said in so many words, is accepted.
    let text = CONFIG_HB.replace(
        "poll_interval = \"100ms\"",
        "poll_interval = \"100ms\"\nlisten = \"0.0.0.0:9107\"\nlisten_unauthenticated = true",
    );
    let (dir, cfg) = config_dir(&text);
    std::fs::write(dir.path().join("hb-url"), "http://127.0.0.1:9/ping\n").expect("url");
    let out = Command::new(common::bin())
        .arg("check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pause_says_nothing_is_paused_when_it_cannot_write_the_control_file() {
    // state_dir under a regular file: no one, root included, can create it.
    let text = CONFIG_HB.replace("@DIR@/state", "@DIR@/not-a-dir/state");
    let (dir, cfg) = config_dir(&text);
    std::fs::write(dir.path().join("hb-url"), "http://127.0.0.1:9/ping\n").expect("url");
    std::fs::write(dir.path().join("not-a-dir"), "a file").expect("file");
    for args in [
        &["pause", "bot", "--for", "30m"][..],
        &["resume", "bot"][..],
    ] {
        let out = Command::new(common::bin())
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .output()
            .expect("pause");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded: {stdout}");
        assert!(
            stdout.trim().is_empty(),
            "{args:?} claimed success: {stdout}"
        );
        assert!(stderr.contains("cannot write the control file"), "{stderr}");
    }
    // A pause too long for the clock is refused before anything is written.
    let out = Command::new(common::bin())
        .arg("--config")
        .arg(&cfg)
        .args(["pause", "bot", "--for", "1000000000d"])
        .output()
        .expect("pause");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}
