//! A restart of logwarden does not give a failing service a fresh start: what was known about
//! each watch survives it (issue 23). A probe's failure streak goes on across a SIGTERM and a
//! `kill -9` of logwarden: two failures in two runs, then one more is the third in a row,
//! and the restart it asks for names it as its cause. A burst going on across a restart is
//! notified once and resolved once. And the restart mail of each kind of cause names it.

mod common;
#[path = "common/fake_http.rs"]
mod fake_http;
#[path = "common/smtp.rs"]
mod smtp;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{config_dir, Daemon};
use fake_http::{FakeHttp, Response};
use smtp::{decode_quoted_printable, SmtpOptions, SmtpServer};

const CONFIG: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]

  [watch.restart]
  command = ["/usr/bin/touch", "@DIR@/restarted"]
  verify_after = "500ms"
  startup_grace = "0s"

  [[watch.probe]]
  name = "health"
  kind = "http"
  url = "@URL@/health"
  every = "1s"
  timeout = "300ms"
  failures = 3
  then = ["alert", "restart"]
"#;

/// The failures in a row `probes.json` holds for bot/health (0: none saved).
fn saved_failures(state: &Path) -> u64 {
    std::fs::read(state.join("probes.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["probes"]["bot/health"]["failures"].as_u64())
        .unwrap_or(0)
}

/// Waits until the saved streak reaches `n`.
fn wait_saved(state: &Path, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while saved_failures(state) < n {
        assert!(Instant::now() < deadline, "streak {n} never saved");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_probe_failing_across_a_sigterm_and_a_kill_9_of_logwarden_fails_three_times_in_a_row() {
    let server = FakeHttp::start(|_| Response::text(500, "Internal Server Error"));
    let (dir, config) = config_dir(CONFIG);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("@URL@", &server.url())).unwrap();
    std::fs::write(dir.path().join("bot.log"), b"").unwrap();
    let state = dir.path().join("state");

    // First run: one failure, then SIGTERM.
    let mut first = Daemon::start(&config);
    wait_saved(&state, 1);
    first.collect_for(Duration::from_millis(50));
    assert_eq!(
        first.count_alerts("health", "firing"),
        0,
        "one failure is not down"
    );
    assert!(first.stop(), "logwarden stops cleanly");
    assert_eq!(
        saved_failures(&state),
        1,
        "one failure kept over the SIGTERM"
    );

    // Second run: it counts on (2), then kill -9.
    let mut second = Daemon::start(&config);
    wait_saved(&state, 2);
    second.collect_for(Duration::from_millis(50));
    assert_eq!(
        second.count_alerts("health", "firing"),
        0,
        "two are not down"
    );
    let seen = second.kill9();
    assert!(
        !seen.iter().any(|v| common::is_alert(v, "health", "firing")),
        "two failures are not down"
    );

    // Third run: its first check is the third failure in a row.
    let start = Instant::now();
    let mut third = Daemon::start(&config);
    let fired = third.wait_alert("health", "firing", Duration::from_secs(10));
    let after = start.elapsed();
    println!("third failure in a row: fired {after:?} after the start: {fired}");
    let summary = fired["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("failed 3 times in a row"), "{fired}");
    // Counting from 0 would take three checks, 1 s apart.
    assert!(
        after < Duration::from_millis(1500),
        "fired {after:?} after the start"
    );
    // The restart it asks for names the probe and its evidence.
    let restart = third.wait_alert("restart", "event", Duration::from_secs(10));
    let said = restart["summary"].as_str().unwrap_or_default();
    assert!(
        said.contains("because health: probe health failed 3 times in a row"),
        "{restart}"
    );
    assert!(
        dir.path().join("restarted").exists(),
        "the restart command ran"
    );
}

const RATE: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]

  [[watch.rule]]
  name = "error-burst"
  when = "rate"
  pattern = "error"
  threshold = 3
  window = "3s"
"#;

fn errors(from: usize, to: usize) -> Vec<String> {
    (from..to)
        .map(|n| format!("2026-11-23 09:41:42,123 - bot - ERROR - socket timeout {n}"))
        .collect()
}

/// A burst still going on across a restart of logwarden: its rate window starts empty again,
/// but the alert the earlier run sent is not sent a second time, and it resolves once.
#[test]
fn a_burst_across_a_restart_of_logwarden_fires_once_and_resolves_once() {
    let (dir, config) = config_dir(RATE);
    let log = dir.path().join("bot.log");
    common::append(&log, &[]);
    let mut first = Daemon::start(&config);
    first.wait_reading(&log);
    common::append(&log, &errors(0, 6));
    first.wait_alert("error-burst", "firing", Duration::from_secs(10));
    assert!(first.stop(), "logwarden stops cleanly");

    let mut second = Daemon::start(&config);
    second.wait_reading(&log);
    common::append(&log, &errors(6, 12));
    // The burst goes on: the rule fires again in this run, and is not notified again.
    second.wait_for("still firing", Duration::from_secs(10), |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("still firing after the restart of logwarden"))
    });
    // Then it stops: one resolution, for the alert the first run sent.
    second.wait_alert("error-burst", "resolved", Duration::from_secs(15));
    second.collect_for(Duration::from_millis(500));
    for v in second
        .seen
        .iter()
        .filter(|v| v["type"] == "alert" || v["rule"].is_string())
    {
        println!("{v}");
    }
    assert_eq!(
        second.count_alerts("error-burst", "firing"),
        0,
        "not sent twice"
    );
    assert_eq!(
        second.count_alerts("error-burst", "resolved"),
        1,
        "resolved once"
    );
}

/// Four watches, each restarted by another kind of cause (`stale`, `absent`, a probe,
/// `rate`): the mail of each restart names its cause and what that rule or probe saw.
#[test]
fn the_restart_mail_of_each_cause_names_it() {
    let smtp = SmtpServer::start(SmtpOptions::default());
    let probe = FakeHttp::start(|_| Response::text(500, "Internal Server Error"));
    let mut cfg = format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[channels.mail]
type = "email"
host = "127.0.0.1"
port = {port}
tls = "none"
from = "logwarden@example.org"
to = ["ops@example.org"]
group_wait = "0s"
min_severity = "info"
"#,
        port = smtp.port()
    );
    let watch = |name: &str, patterns: &str, rule: &str| {
        format!(
            r#"
[[watch]]
name = "{name}"
files = ["@DIR@/{name}.log"]
patterns = [{patterns}]
notify = ["mail"]

  [watch.restart]
  command = ["/usr/bin/touch", "@DIR@/{name}.restarted"]
  verify_after = "300ms"
  startup_grace = "0s"
{rule}
"#
        )
    };
    cfg += &watch(
        "stale",
        "",
        "  [[watch.rule]]\n  name = \"log-stale\"\n  when = \"stale\"\n  after = \"1s\"\n  then = [\"restart\"]\n",
    );
    cfg += &watch(
        "absent",
        r#""trading""#,
        "  [[watch.rule]]\n  name = \"no-activity\"\n  when = \"absent\"\n  pattern = \"activity\"\n  window = \"1s\"\n  then = [\"restart\"]\n",
    );
    cfg += &watch(
        "probe",
        "",
        &format!(
            "  [[watch.probe]]\n  name = \"health\"\n  kind = \"http\"\n  url = \"{}/health\"\n  every = \"500ms\"\n  timeout = \"300ms\"\n  failures = 1\n  then = [\"restart\"]\n",
            probe.url()
        ),
    );
    cfg += &watch(
        "rate",
        r#""python-logging""#,
        "  [[watch.rule]]\n  name = \"error-burst\"\n  when = \"rate\"\n  pattern = \"error\"\n  threshold = 0\n  window = \"1m\"\n  then = [\"restart\"]\n",
    );
    let (dir, config) = config_dir(&cfg);
    for name in ["stale", "absent", "probe", "rate"] {
        std::fs::write(dir.path().join(format!("{name}.log")), b"").unwrap();
    }
    let mut d = Daemon::start(&config);
    d.wait_reading(&dir.path().join("rate.log"));
    common::append(&dir.path().join("rate.log"), &errors(0, 1));
    let expected = [
        ("stale", "because log-stale: no line at all in the"),
        (
            "absent",
            "because no-activity: 0 matches of \"activity\" within 1s",
        ),
        (
            "probe",
            "because health: probe health failed 1 times in a row: GET",
        ),
        (
            "rate",
            "because error-burst: 1 matches of \"error\" within 1m (threshold 0)",
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut missing: Vec<_> = expected.to_vec();
    let mut mails = Vec::new();
    while !missing.is_empty() && Instant::now() < deadline {
        mails = smtp
            .messages()
            .iter()
            .map(|m| decode_quoted_printable(m).replace("\r\n", "\n"))
            .collect::<Vec<_>>();
        missing.retain(|(watch, cause)| {
            !mails
                .iter()
                .any(|m| m.contains(&format!("{watch} / restart")) && m.contains(cause))
        });
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        missing.is_empty(),
        "no restart mail naming {missing:?}; mails:\n{}",
        mails.join("\n-----\n")
    );
    for name in ["stale", "absent", "probe", "rate"] {
        assert!(
            dir.path().join(format!("{name}.restarted")).exists(),
            "{name} not restarted"
        );
    }
}
