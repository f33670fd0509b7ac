//! logwarden as a service: `/health`, `/metrics` (accepted by the real `promtool`),
//! `/status` and `logwarden status`.

mod common;

use std::process::{Command, Stdio};
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
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool rejects /metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
