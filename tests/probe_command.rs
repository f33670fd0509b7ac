//! `logwarden probe`: every probe run once without the daemon, for cron or a Nagios-style
//! poller. Against a real HTTP endpoint that answers 200, then 503, then nothing at all, and a
//! disk probe over its warning level: the level printed and the exit code follow.

mod common;
#[path = "common/fake_http.rs"]
mod fake_http;

use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use common::config_dir;
use fake_http::{FakeHttp, Response};
use serde_json::Value;

fn config(url: &str) -> String {
    format!(
        r#"
[daemon]
state_dir = "@DIR@/state"

[[watch]]
name = "web"
files = ["@DIR@/web.log"]

  [[watch.probe]]
  name = "health"
  kind = "http"
  url = "{url}/health"
  timeout = "500ms"

[[watch]]
name = "box"
files = ["@DIR@/box.log"]

  [[watch.probe]]
  name = "disk"
  kind = "disk"
  path = "/"
  warning = 0
  critical = 100
"#
    )
}

/// Runs `logwarden probe ARGS`: (exit code, stdout).
fn probe(config: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(common::bin())
        .arg("--config")
        .arg(config)
        .arg("probe")
        .args(args)
        .output()
        .expect("run logwarden probe");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn json(config: &std::path::Path, watch: &str) -> (i32, Value) {
    let (code, out) = probe(config, &["--json", watch]);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    (code, v)
}

#[test]
fn probe_json_follows_an_endpoint_that_answers_200_then_503_then_nothing() {
    let status = Arc::new(AtomicU16::new(200));
    let server = {
        let status = status.clone();
        FakeHttp::start(move |_| {
            Response::text(status.load(Ordering::SeqCst), "{\"status\": \"...\"}")
        })
    };
    let (dir, cfg) = config_dir(&config(&server.url()));
    for f in ["web.log", "box.log"] {
        std::fs::write(dir.path().join(f), b"").unwrap();
    }

    let (code, v) = json(&cfg, "web");
    assert_eq!((code, v["level"].as_str()), (0, Some("HEALTHY")), "{v}");
    assert_eq!(v["probes"][0]["watch"], "web", "{v}");
    assert_eq!(v["probes"][0]["probe"], "health", "{v}");

    status.store(503, Ordering::SeqCst);
    let (code, v) = json(&cfg, "web");
    assert_eq!((code, v["level"].as_str()), (2, Some("CRITICAL")), "{v}");
    let message = v["probes"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("503"), "{v}");

    // Nothing at all: a port that takes the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    std::fs::write(
        &cfg,
        config(&url).replace("@DIR@", &dir.path().display().to_string()),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, v) = json(&cfg, "web");
    assert_eq!((code, v["level"].as_str()), (2, Some("CRITICAL")), "{v}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "bounded by the probe's timeout"
    );
    println!("no answer: {v}");

    // A disk over its warning level: WARNING, exit 1; both watches: the worst, CRITICAL.
    let (code, out) = probe(&cfg, &["box"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("WARNING  box/disk: ") && out.contains("overall: WARNING"),
        "{out}"
    );
    let (code, out) = probe(&cfg, &["nosuchwatch"]);
    assert_eq!(code, 3, "a watch that is not configured: UNKNOWN, {out}");
    let (code, out) = probe(&cfg, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("overall: CRITICAL"), "{out}");
    // A config that does not load: nothing judged, UNKNOWN.
    std::fs::write(&cfg, "[[watch]]\nname = 3\n").unwrap();
    let (code, out) = probe(&cfg, &[]);
    assert_eq!(code, 3, "{out}");
}
