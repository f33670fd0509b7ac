//! The `cert` probe against real TLS: a Python server (the standard `ssl` module) presenting
//! certificates made in the test (Debian's python3-cryptography, `tests/fixtures/tls_certs.py`):
//! valid 40 days, 10 days, expired, not valid yet, for another host name, from an unknown CA;
//! an unreachable port and a server that speaks no TLS; PEM files. Judged one-shot through
//! `logwarden probe --json`, and by the daemon, whose alert says when renewal seems to fail.

mod common;
#[path = "common/fake_http.rs"]
mod fake_http;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{config_dir, Daemon};
use fake_http::{FakeHttp, Response};
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls_certs.py");

/// A TLS server presenting one certificate; killed when dropped.
struct TlsServer {
    child: Child,
    port: u16,
}

impl TlsServer {
    fn start(certs: &Path, name: &str) -> TlsServer {
        let mut child = Command::new("/usr/bin/python3")
            .arg(FIXTURE)
            .arg("serve")
            .arg(certs.join(format!("{name}.pem")))
            .arg(certs.join(format!("{name}.key")))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the TLS server (python3-cryptography: bash scripts/deps.sh --test)");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the TLS server did not start: {line:?}"));
        TlsServer { child, port }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn make_certs(dir: &Path) -> PathBuf {
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let ok = Command::new("/usr/bin/python3")
        .arg(FIXTURE)
        .arg("make")
        .arg(&certs)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "making the test certificates failed");
    certs
}

/// A watch `name` with one cert probe whose target line is `target`.
fn watch(name: &str, target: &str, ca: Option<&Path>) -> String {
    let ca = ca
        .map(|c| format!("  ca_file = \"{}\"\n", c.display()))
        .unwrap_or_default();
    format!(
        r#"
[[watch]]
name = "{name}"
files = ["@DIR@/bot.log"]

  [[watch.probe]]
  name = "cert"
  kind = "cert"
  {target}
  timeout = "2s"
{ca}"#
    )
}

fn by_watch<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["probes"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["watch"] == name))
        .unwrap_or_else(|| panic!("no result for {name}: {report}"))
}

#[test]
fn each_kind_of_certificate_trouble_is_reported_as_itself() {
    let (dir, _) = config_dir("");
    let certs = make_certs(dir.path());
    let ca = certs.join("ca.pem");
    let servers: Vec<(&str, TlsServer)> = ["days40", "days10", "expired", "future", "otherhost"]
        .into_iter()
        .map(|n| (n, TlsServer::start(&certs, n)))
        .collect();
    let port = |n: &str| servers.iter().find(|(m, _)| *m == n).unwrap().1.port;
    let closed = common::free_port();
    let plain = FakeHttp::start(|_| Response::text(200, "not TLS"));
    let mut cfg = String::from("[daemon]\nstate_dir = \"@DIR@/state\"\n");
    for n in ["days40", "days10", "expired", "future", "otherhost"] {
        let url = format!("url = \"https://127.0.0.1:{}\"", port(n));
        cfg += &watch(n, &url, Some(&ca));
    }
    cfg += &watch(
        "untrusted",
        &format!("url = \"https://127.0.0.1:{}\"", port("days40")),
        None,
    );
    cfg += &watch(
        "closed",
        &format!("url = \"https://127.0.0.1:{closed}\""),
        Some(&ca),
    );
    cfg += &watch(
        "no-tls",
        &format!("url = \"https://127.0.0.1:{}\"", plain.port()),
        Some(&ca),
    );
    cfg += &watch(
        "file10",
        &format!("path = \"{}\"", certs.join("days10.pem").display()),
        None,
    );
    cfg += &watch(
        "file-expired",
        &format!("path = \"{}\"", certs.join("expired.pem").display()),
        None,
    );
    let config = dir.path().join("logwarden.toml");
    std::fs::write(
        &config,
        cfg.replace("@DIR@", &dir.path().display().to_string()),
    )
    .unwrap();
    std::fs::write(dir.path().join("bot.log"), b"").unwrap();

    let out = Command::new(common::bin())
        .arg("--config")
        .arg(&config)
        .args(["probe", "--json"])
        .output()
        .expect("run logwarden probe");
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert_eq!(out.status.code(), Some(2), "the worst is critical");
    let expect = [
        (
            "days40",
            "HEALTHY",
            "CN=days40.test (issuer CN=logwarden test CA, O=logwarden tests): expires on",
        ),
        ("days10", "WARNING", " left"),
        ("expired", "CRITICAL", "expired on"),
        ("future", "CRITICAL", "not valid yet"),
        (
            "otherhost",
            "CRITICAL",
            "not valid for the host name 127.0.0.1",
        ),
        (
            "untrusted",
            "CRITICAL",
            "not trusted: its issuer is not a known CA",
        ),
        ("closed", "CRITICAL", "cannot connect to 127.0.0.1"),
        ("no-tls", "CRITICAL", "TLS handshake with 127.0.0.1"),
        ("file10", "WARNING", "CN=days10.test"),
        ("file-expired", "CRITICAL", "expired on"),
    ];
    for (name, level, says) in expect {
        let p = by_watch(&report, name);
        assert_eq!(p["level"], level, "{name}: {p}");
        let message = p["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{name}: {p}");
    }
    // The days left, from the certificate's own date.
    let left = |n: &str| by_watch(&report, n)["days_left"].as_i64();
    assert!(matches!(left("days40"), Some(39 | 40)), "{report}");
    assert!(matches!(left("days10"), Some(9 | 10)), "{report}");
    assert!(matches!(left("expired"), Some(-2 | -1)), "{report}");
    assert!(
        by_watch(&report, "days40")["not_after"].is_string(),
        "{report}"
    );
}

/// In the daemon, a certificate inside its warning window that is the same at the next check
/// says that renewal seems to have failed.
#[test]
fn a_certificate_unchanged_near_its_expiry_says_renewal_seems_to_have_failed() {
    let (dir, _) = config_dir("");
    let certs = make_certs(dir.path());
    let cfg = format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "site"
files = ["@DIR@/bot.log"]

  [[watch.probe]]
  name = "cert"
  kind = "cert"
  path = "{}"
  every = "300ms"
  failures = 2
"#,
        certs.join("days10.pem").display()
    );
    let config = dir.path().join("logwarden.toml");
    std::fs::write(
        &config,
        cfg.replace("@DIR@", &dir.path().display().to_string()),
    )
    .unwrap();
    std::fs::write(dir.path().join("bot.log"), b"").unwrap();
    let mut d = Daemon::start(&config);
    let fired = d.wait_alert("cert", "firing", Duration::from_secs(10));
    let summary = fired["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("CN=days10.test"), "{fired}");
    assert!(summary.contains("renewal seems to have failed"), "{fired}");
    assert_eq!(fired["severity"], "warning", "{fired}");
}
