//! Silences and acknowledgements against the real binary: a silence set by a second process
//! (`logwarden silence`) holds a firing across a SIGTERM and a `kill -9` of the daemon, lets
//! the resolution of an alert sent before it through, and the held firing is sent exactly
//! once when the silence is lifted; a short silence that expires does the same; and the
//! commands refuse what does not exist, with exit codes.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{append, config_dir, free_port, Daemon};
use serde_json::Value;

const CONFIG: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"
listen = "127.0.0.1:@PORT@"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]

  [[watch.rule]]
  name = "error-burst"
  when = "rate"
  pattern = "error"
  threshold = 5
  resolve_below = 2
  window = "4s"

  [[watch.rule]]
  name = "log-stale"
  when = "stale"
  after = "1500ms"
"#;

fn info(n: usize) -> String {
    format!("2026-11-23 09:41:42,123 - bot - INFO - no signal {n}")
}

fn error(n: usize) -> String {
    format!("2026-11-23 09:41:42,123 - bot - ERROR - socket timeout {n}")
}

/// Runs `logwarden ARGS --config CONFIG` (a second process beside the daemon).
fn cli(config: &Path, args: &[&str]) -> Output {
    Command::new(common::bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run logwarden")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `logwarden status --json`, parsed.
fn status(config: &Path) -> Value {
    let out = cli(config, &["status", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Waits until `status --json` satisfies `pred`.
fn wait_status(config: &Path, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = status(config);
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "status never showed {what}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The status of rule `rule` of watch bot.
fn rule<'a>(v: &'a Value, rule: &str) -> &'a Value {
    &v["watches"][0]["rules"][rule]
}

/// Writes an info line every 200 ms while the flag is up: the log is not stale.
fn keep_alive(log: &Path) -> Arc<AtomicBool> {
    let on = Arc::new(AtomicBool::new(true));
    let (flag, log) = (on.clone(), log.to_path_buf());
    std::thread::spawn(move || {
        let mut i = 0;
        while flag.load(Ordering::Relaxed) {
            append(&log, &[info(i)]);
            i += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    on
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let port = free_port();
    let (dir, config) = config_dir(&CONFIG.replace("@PORT@", &port.to_string()));
    append(&dir.path().join("bot.log"), &[info(0)]);
    (dir, config)
}

#[test]
fn a_silence_holds_a_firing_across_a_sigterm_and_a_kill_9_and_it_is_sent_once_when_lifted() {
    let (dir, config) = setup();
    let log = dir.path().join("bot.log");
    let writer = keep_alive(&log);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);

    // Fired and sent before the silence.
    append(&log, &(1..=30).map(error).collect::<Vec<_>>());
    d.wait_alert("error-burst", "firing", Duration::from_secs(5));
    // Acknowledged: announced once to its channels.
    wait_status(&config, "error-burst firing", |v| {
        rule(v, "error-burst")["firing"] == true
    });
    let out = cli(&config, &["ack", "bot/error-burst"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    println!("{}", text(&out.stdout));
    let announced = d.wait_alert("acknowledged", "event", Duration::from_secs(5));
    println!("{announced}");
    let v = wait_status(&config, "the ack", |v| {
        v["acks"][0]["rule"] == "error-burst"
    });
    assert_eq!(
        rule(&v, "error-burst")["acked_by"],
        v["acks"][0]["who"],
        "{v}"
    );
    let out = cli(&config, &["ack", "bot/error-burst"]);
    assert_eq!(out.status.code(), Some(1), "acked twice");
    assert!(
        text(&out.stderr).contains("already acknowledged by"),
        "{}",
        text(&out.stderr)
    );

    let out = cli(
        &config,
        &[
            "silence",
            "bot",
            "--for",
            "1h",
            "--reason",
            "deploy \x1b]0;pwned\x07 v2",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_string();
    assert_eq!(id.len(), 8, "the id alone on stdout: {id:?}");
    let listed = cli(&config, &["silences"]);
    let listed_text = text(&listed.stdout);
    println!("{listed_text}");
    assert!(
        listed_text.contains(&id) && listed_text.contains("bot"),
        "{listed_text}"
    );
    assert!(
        !listed_text.contains('\x1b') && listed_text.contains("\\x1b]0;pwned\\x07"),
        "the reason is inert: {listed_text:?}"
    );
    let picked = Instant::now();
    let v = wait_status(&config, "the silence", |v| {
        v["silences"][0]["id"] == id.as_str()
    });
    println!("picked up by the daemon after {:?}", picked.elapsed());
    println!("{}", text(&cli(&config, &["status"]).stdout));
    assert!(
        v["silences"][0]["who"]
            .as_str()
            .is_some_and(|w| !w.is_empty()),
        "{v}"
    );
    assert!(!v.to_string().contains('\u{1b}'), "{v}");

    // The alert sent before the silence resolves during it: the resolution goes out.
    d.wait_alert("error-burst", "resolved", Duration::from_secs(10));

    // The log goes stale while silenced: held, shown as firing and silenced.
    writer.store(false, Ordering::Relaxed);
    let v = wait_status(&config, "log-stale firing and silenced", |v| {
        rule(v, "log-stale")["firing"] == true && rule(v, "log-stale")["silenced"] == id.as_str()
    });
    println!(
        "{}",
        serde_json::to_string_pretty(rule(&v, "log-stale")).unwrap()
    );
    d.collect_for(Duration::from_millis(1500));
    assert_eq!(
        d.count_alerts("log-stale", "firing"),
        0,
        "held by the silence"
    );
    let metrics = http_get(&config, "/metrics");
    let line = metrics
        .lines()
        .find(|l| l.starts_with("logwarden_notifications_silenced_total{channel=\"console\"}"))
        .unwrap_or_default()
        .to_string();
    println!("{line}");
    assert!(!line.ends_with(" 0") && !line.is_empty(), "{metrics}");
    assert!(d.stop(), "clean exit on SIGTERM");

    // Restarted while silenced: stale again, still held.
    let mut d = Daemon::start(&config);
    d.collect_for(Duration::from_secs(3));
    assert_eq!(
        d.count_alerts("log-stale", "firing"),
        0,
        "held across SIGTERM"
    );
    wait_status(&config, "log-stale held after the restart", |v| {
        rule(v, "log-stale")["firing"] == true && rule(v, "log-stale")["silenced"] == id.as_str()
    });
    let seen = d.kill9();
    assert!(!seen
        .iter()
        .any(|v| common::is_alert(v, "log-stale", "firing")));

    // After a kill -9: still held.
    let mut d = Daemon::start(&config);
    d.collect_for(Duration::from_secs(3));
    assert_eq!(
        d.count_alerts("log-stale", "firing"),
        0,
        "held across kill -9"
    );

    // Lifted while it still fires: exactly one firing.
    let out = cli(&config, &["unsilence", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    println!("{}", text(&out.stdout));
    let lifted = Instant::now();
    let fired = d.wait_alert("log-stale", "firing", Duration::from_secs(5));
    println!("sent {:?} after unsilence: {fired}", lifted.elapsed());
    d.collect_for(Duration::from_secs(2));
    assert_eq!(d.count_alerts("log-stale", "firing"), 1);
    assert_eq!(
        d.count_alerts("acknowledged", "event"),
        0,
        "announced once, in the first run"
    );
    assert!(status(&config)["silences"]
        .as_array()
        .is_some_and(|a| a.is_empty()));
    assert!(d.stop());
}

#[test]
fn a_short_silence_that_expires_sends_the_held_firing_once_and_a_resolve_before_it_ends_sends_nothing(
) {
    let (dir, config) = setup();
    let log = dir.path().join("bot.log");
    let writer = keep_alive(&log);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    let set_at = Instant::now();
    let out = cli(&config, &["silence", "bot/log-stale", "--for", "6s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_string();
    wait_status(&config, "the silence", |v| {
        v["silences"][0]["id"] == id.as_str()
    });

    // Stale and back while silenced: neither the firing nor its resolution is sent.
    writer.store(false, Ordering::Relaxed);
    wait_status(&config, "log-stale firing", |v| {
        rule(v, "log-stale")["firing"] == true
    });
    append(&log, &[info(1)]);
    wait_status(&config, "log-stale resolved", |v| {
        rule(v, "log-stale")["firing"] == false
    });
    // Stale again, still within the silence; it expires while firing.
    wait_status(&config, "log-stale firing again", |v| {
        rule(v, "log-stale")["firing"] == true
    });
    assert_eq!(d.count_alerts("log-stale", "firing"), 0);
    assert_eq!(d.count_alerts("log-stale", "resolved"), 0);
    d.wait_alert("log-stale", "firing", Duration::from_secs(10));
    let sent = set_at.elapsed();
    println!("sent {sent:?} after the 6s silence was set");
    assert!(
        sent >= Duration::from_secs(6),
        "not before its end: {sent:?}"
    );
    d.collect_for(Duration::from_secs(2));
    assert_eq!(d.count_alerts("log-stale", "firing"), 1);
    assert_eq!(d.count_alerts("log-stale", "resolved"), 0);
    let op: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state/operator.json")).unwrap())
            .unwrap();
    assert_eq!(
        op["silences"],
        serde_json::json!([]),
        "expired silences are pruned: {op}"
    );
    assert!(d.stop());
}

#[test]
fn operator_commands_refuse_unknown_scopes_durations_ids_and_alerts_not_firing() {
    let (_dir, config) = setup();
    let cases: &[(&[&str], u8, &str)] = &[
        (
            &["silence", "nope", "--for", "1h"],
            1,
            "no watch \"nope\" in the config; watches: bot",
        ),
        (
            &["silence", "bot/nope", "--for", "1h"],
            1,
            "watch bot has no rule or probe \"nope\"; it has: error-burst, log-stale, restart",
        ),
        (
            &["silence", "bot", "--for", "2x"],
            2,
            "invalid value '2x' for '--for <DURATION>'",
        ),
        (
            &["silence", "bot", "--for", "0s"],
            2,
            "a silence lasts between 1s and",
        ),
        (&["silence", "bot"], 2, "--for <DURATION>"),
        (
            &["unsilence", "deadbeef"],
            1,
            "no silence \"deadbeef\"; active silences: none",
        ),
        (
            &["ack", "bot/log-stale"],
            1,
            "bot/log-stale is not firing, there is nothing to acknowledge; firing now: none",
        ),
        (&["ack", "bot"], 1, "ack needs WATCH/RULE"),
        (
            &["ack", "bot/nope"],
            1,
            "watch bot has no rule or probe \"nope\"",
        ),
    ];
    for (args, code, says) in cases {
        let out = cli(&config, args);
        let err = text(&out.stderr);
        println!(
            "logwarden {}: exit {:?}: {err}",
            args.join(" "),
            out.status.code()
        );
        assert_eq!(out.status.code(), Some(i32::from(*code)), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = cli(&config, &["silences"]);
    assert_eq!(text(&out.stdout).trim(), "no active silence");
    // Who: as root under sudo, the user who ran sudo (made inert).
    let out = Command::new(common::bin())
        .args(["silence", "bot", "--for", "1h", "--config"])
        .arg(&config)
        .env("SUDO_USER", "alice\x1b[2J")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&cli(&config, &["silences"]).stdout);
    if runs_as_root() {
        assert!(listed.contains("alice [2J (sudo)"), "{listed:?}");
    }
    assert!(!listed.contains('\x1b'), "{listed:?}");
    // A corrupt operator file is reported, never taken for an empty one.
    let state = _dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("operator.json"), b"{ torn").unwrap();
    let out = cli(&config, &["silence", "bot", "--for", "1h"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not a valid operator file"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read(state.join("operator.json")).unwrap(),
        b"{ torn"
    );
}

/// Whether the tests run as root (the sudo rule applies to root only).
fn runs_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// GET `path` of the daemon (its `listen` from the config).
fn http_get(config: &Path, path: &str) -> String {
    use std::io::{Read, Write};
    let cfg = std::fs::read_to_string(config).unwrap();
    let addr = cfg
        .lines()
        .find_map(|l| l.strip_prefix("listen = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap()
        .to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
