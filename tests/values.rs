//! Numbers from lines, through the real binary: `value` and `ratio` rules replayed over a
//! generated nginx access log fire and resolve exactly in the windows the log was made with,
//! and the p95 an alert states is Python's (`statistics.quantiles`, inclusive method) over the
//! same numbers; the daemon's `/metrics` histogram after a known sequence of values has exact
//! bucket counts, folds labels past `max_labels` into `other`, and passes `promtool`; config
//! errors (a missing key, a capture name the pattern does not have) name file:line:column.

mod common;

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use common::{append, config_dir, free_port, http_get, Daemon};
use serde_json::Value;

/// A pack for the combined log format with `$request_time` at the end (named groups
/// `method`, `endpoint`, `status`, `request_time`).
const ACCESS_PACK: &str = include_str!("packs/access.toml");

const REPLAY_CONFIG: &str = r#"
[daemon]
state_dir = "@DIR@/state"
patterns_dir = "@DIR@/patterns"

[[watch]]
name = "web"
files = ["@DIR@/access.log"]
patterns = ["access"]

  [[watch.rule]]
  name = "slow"
  when = "value"
  pattern = "request"
  field = "request_time"
  aggregate = "p95"
  window = "1m"
  above = 2.0
  resolve_below = 1.0
  min_count = 100

  [[watch.rule]]
  name = "5xx"
  when = "ratio"
  pattern = "server-error"
  over = "request"
  above = 0.01
  resolve_below = 0.005
  window = "1m"
  min_count = 100
"#;

/// A deterministic generator (xorshift), so the log is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 5xx from 00:30:00 to 00:40:00 (5 % of requests), slow requests from 01:10:00 to 01:20:00
/// (20 % take 2.5 to 4 s).
const ERRORS: (u64, u64) = (30 * 60, 40 * 60);
const SLOW: (u64, u64) = (70 * 60, 80 * 60);

/// Two hours of an access log from 2026-11-23 00:00:00 UTC, 10 requests a second; each
/// line's second and request time, in order.
fn access_log() -> (String, Vec<(u64, f64)>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut log = String::new();
    let mut values = Vec::new();
    for sec in 0..2 * 3600u64 {
        for k in 0..10u64 {
            let id = sec * 10 + k;
            let in_errors = (ERRORS.0..ERRORS.1).contains(&sec);
            let in_slow = (SLOW.0..SLOW.1).contains(&sec);
            // A 5xx now and then outside the window: 1 in 500 (0.2 %).
            let status = if (in_errors && id % 20 == 0) || id % 500 == 7 {
                503
            } else {
                200
            };
            let t = if in_slow && rng.next() < 0.2 {
                2.5 + 1.5 * rng.next()
            } else {
                0.01 + 0.49 * rng.next()
            };
            let t = (t * 1000.0).round() / 1000.0;
            let (h, m, s) = (sec / 3600, sec / 60 % 60, sec % 60);
            writeln!(
                log,
                "10.0.0.{} - - [23/Nov/2026:{h:02}:{m:02}:{s:02} +0000] \"GET /api/item/{id} HTTP/1.1\" {status} 512 \"-\" \"curl/8\" {t:.3}",
                id % 250
            )
            .unwrap();
            values.push((sec, t));
        }
    }
    (log, values)
}

fn replay(config: &std::path::Path, log: &std::path::Path) -> Value {
    let out = Command::new(common::bin())
        .env_remove("LOGWARDEN_CONFIG")
        .arg("--config")
        .arg(config)
        .args(["replay", "--timezone", "UTC", "--json"])
        .arg(log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Seconds since 00:00 of an alert's time (`2026-11-23T00:30:12Z`).
fn second_of(alert: &Value) -> u64 {
    let at = alert["at"].as_str().unwrap();
    let hms = &at[11..19];
    let p: Vec<u64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    p[0] * 3600 + p[1] * 60 + p[2]
}

/// Python's p95 (`statistics.quantiles(n=100, method="inclusive")[94]`) of `xs`.
fn python_p95(xs: &[f64]) -> f64 {
    let data = xs
        .iter()
        .map(|x| format!("{x:.3}"))
        .collect::<Vec<_>>()
        .join(",");
    let out = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import statistics; print(repr(statistics.quantiles([{data}], n=100, method='inclusive')[94]))"
            ),
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn replay_fires_and_resolves_value_and_ratio_rules_exactly_in_the_generated_windows() {
    let (dir, cfg) = config_dir(REPLAY_CONFIG);
    std::fs::create_dir(dir.path().join("patterns")).unwrap();
    std::fs::write(dir.path().join("patterns/access.toml"), ACCESS_PACK).unwrap();
    let (log, values) = access_log();
    let path = dir.path().join("access.log");
    std::fs::write(&path, &log).unwrap();
    let report = replay(&cfg, &path);
    let alerts = report["alerts"].as_array().unwrap();
    let of = |rule: &str| -> Vec<&Value> { alerts.iter().filter(|a| a["rule"] == rule).collect() };
    let window = 60;

    // The ratio: fires once inside the error window (within a window of its start, once the
    // ratio over the last minute passed 1 %), resolves within a window after its end.
    let e = of("5xx");
    assert_eq!(e.len(), 2, "one firing, one resolution: {e:#?}");
    assert_eq!(e[0]["state"], "firing");
    assert_eq!(e[1]["state"], "resolved");
    let (fire, resolve) = (second_of(e[0]), second_of(e[1]));
    assert!(
        (ERRORS.0..ERRORS.0 + window).contains(&fire),
        "5xx fired at {fire}"
    );
    assert!(
        (ERRORS.1..ERRORS.1 + window).contains(&resolve),
        "5xx resolved at {resolve}"
    );
    assert!(
        e[0]["summary"]
            .as_str()
            .unwrap()
            .contains("matches of \"request\" also matched \"server-error\""),
        "{}",
        e[0]["summary"]
    );

    // The p95: the same, in the slow window.
    let s = of("slow");
    assert_eq!(s.len(), 2, "one firing, one resolution: {s:#?}");
    assert_eq!(s[0]["state"], "firing");
    assert_eq!(s[1]["state"], "resolved");
    let (fire, resolve) = (second_of(s[0]), second_of(s[1]));
    assert!(
        (SLOW.0..SLOW.0 + window).contains(&fire),
        "slow fired at {fire}"
    );
    assert!(
        (SLOW.1..SLOW.1 + window).contains(&resolve),
        "slow resolved at {resolve}"
    );

    // The p95 it states is Python's over the values of the minute up to the line it quotes.
    let summary = s[0]["summary"].as_str().unwrap();
    let stated: f64 = summary
        .split(" is ")
        .nth(1)
        .map(|r| r.split(|c: char| !(c.is_ascii_digit() || c == '.')).next())
        .and_then(|x| x?.parse().ok())
        .unwrap_or_else(|| panic!("no value in {summary:?}"));
    // Judged when a line brought a value (the alert quotes it: the values up to it), or when
    // time passed (before the lines of the second it fired in).
    let upto = match s[0]["line"].as_str() {
        Some(quoted) => {
            log.lines()
                .position(|l| l == quoted)
                .expect("the alert quotes a line of the log")
                + 1
        }
        None => values.partition_point(|(sec, _)| *sec < fire),
    };
    let window_values: Vec<f64> = values[..upto]
        .iter()
        .filter(|(sec, _)| *sec + window > fire)
        .map(|&(_, v)| v)
        .collect();
    assert!(
        summary.contains(&format!("({} values)", window_values.len())),
        "{summary}"
    );
    let reference = python_p95(&window_values);
    // Exact (the window holds far fewer than 65 536 values); the message rounds to 6 places.
    assert!(
        (stated - reference).abs() <= 1e-6,
        "p95 stated {stated}, Python {reference}"
    );
    let summaries = &report["rules"];
    assert_eq!(summaries["web/slow"]["firing"], 1, "{summaries}");
    assert_eq!(summaries["web/5xx"]["resolved"], 1, "{summaries}");
}

fn daemon_config(port: u16) -> String {
    format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
patterns_dir = "@DIR@/patterns"
poll_interval = "100ms"
listen = "127.0.0.1:{port}"

[[watch]]
name = "web"
files = ["@DIR@/access.log"]
patterns = ["access"]

  [[watch.rule]]
  name = "latency"
  when = "value"
  pattern = "request"
  field = "request_time"
  aggregate = "max"
  window = "10m"
  above = 100.0
  by = "endpoint"
  max_labels = 2
  buckets = [0.1, 0.5, 1, 2, 5]
"#
    )
}

fn line(endpoint: &str, t: f64) -> String {
    format!(
        "10.0.0.1 - - [23/Nov/2026:09:00:00 +0000] \"GET /{endpoint} HTTP/1.1\" 200 5 \"-\" \"curl/8\" {t:.3}"
    )
}

#[test]
fn daemon_metrics_histogram_counts_a_known_sequence_exactly_and_folds_extra_labels() {
    let port = free_port();
    let (dir, cfg) = config_dir(&daemon_config(port));
    std::fs::create_dir(dir.path().join("patterns")).unwrap();
    std::fs::write(dir.path().join("patterns/access.toml"), ACCESS_PACK).unwrap();
    let log = dir.path().join("access.log");
    append(&log, &["start".to_string()]);
    let mut d = Daemon::start(&cfg);
    d.wait_reading(&log);
    // /api: 0.05, 0.1 (on the bound: le="0.1"), 0.3, 1.5, 7 (above every bound);
    // /web: 0.2, 0.2; then /img and /css are past max_labels = 2: folded into `other`.
    let seq = [
        ("api", 0.05),
        ("api", 0.1),
        ("web", 0.2),
        ("api", 0.3),
        ("api", 1.5),
        ("web", 0.2),
        ("api", 7.0),
        ("img", 0.4),
        ("css", 3.0),
    ];
    let lines: Vec<String> = seq.iter().map(|(e, t)| line(e, *t)).collect();
    append(&log, &lines);
    append(&log, &["end".to_string()]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let want_count = "logwarden_value_count{watch=\"web\",rule=\"latency\",label=\"other\"} 2";
    let metrics = loop {
        let (code, metrics) = http_get(port, "/metrics").expect("GET");
        assert_eq!(code, 200);
        if metrics.lines().any(|l| l == want_count) {
            break metrics;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {want_count} in\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let series = |label: &str, le: &str| {
        format!("logwarden_value_bucket{{watch=\"web\",rule=\"latency\",label=\"{label}\",le=\"{le}\"}}")
    };
    let want = [
        (series("api", "0.1"), "2"),
        (series("api", "0.5"), "3"),
        (series("api", "1"), "3"),
        (series("api", "2"), "4"),
        (series("api", "5"), "4"),
        (series("api", "+Inf"), "5"),
        (series("web", "0.1"), "0"),
        (series("web", "0.5"), "2"),
        (series("web", "+Inf"), "2"),
        (series("other", "0.5"), "1"),
        (series("other", "5"), "2"),
        (
            "logwarden_value_count{watch=\"web\",rule=\"latency\",label=\"api\"}".into(),
            "5",
        ),
        (
            "logwarden_value_sum{watch=\"web\",rule=\"latency\",label=\"api\"}".into(),
            "8.95",
        ),
        (
            "logwarden_value_labels_folded_total{watch=\"web\",rule=\"latency\"}".into(),
            "2",
        ),
    ];
    for (name, value) in want {
        let got = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"));
        let got: f64 = got.parse().unwrap();
        let value: f64 = value.parse().unwrap();
        assert!((got - value).abs() < 1e-9, "{name}: {got}, want {value}");
    }
    common::promtool_check_metrics(&metrics);
    drop(d);
}

fn check(config: &str, pack: &str) -> (bool, String) {
    let (dir, cfg) = config_dir(config);
    std::fs::create_dir(dir.path().join("patterns")).unwrap();
    std::fs::write(dir.path().join("patterns/access.toml"), pack).unwrap();
    let out = Command::new(common::bin())
        .env_remove("LOGWARDEN_CONFIG")
        .arg("--config")
        .arg(&cfg)
        .arg("check")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_field_no_regex_of_the_pattern_captures_is_an_error_at_its_file_line_and_column() {
    let config = REPLAY_CONFIG.replace("field = \"request_time\"", "field = \"requesttime\"");
    let (ok, text) = check(&config, ACCESS_PACK);
    assert!(!ok, "{text}");
    // `field` is on line 15 of the file, its value at column 11.
    assert!(
        text.contains("logwarden.toml:15:11"),
        "names file:line:column: {text}"
    );
    assert!(
        text.contains("field \"requesttime\" is no named group of pattern \"request\"")
            && text.contains("endpoint, method, request_time, status"),
        "{text}"
    );
    let (ok, text) = check(REPLAY_CONFIG, ACCESS_PACK);
    assert!(ok, "the config as written is good: {text}");
}

#[test]
fn a_value_rule_without_its_field_or_threshold_is_an_error_naming_the_rule() {
    let config = REPLAY_CONFIG
        .replace("  field = \"request_time\"\n", "")
        .replace("  above = 2.0\n", "");
    let (ok, text) = check(&config, ACCESS_PACK);
    assert!(!ok, "{text}");
    assert!(
        text.contains("logwarden.toml:12:10")
            && text.contains("value rule web/slow needs `field`")
            && text.contains("value rule web/slow needs `above` or `below`"),
        "{text}"
    );
    // A key of another kind is refused, too.
    let config = REPLAY_CONFIG.replace(
        "  min_count = 100\n\n",
        "  min_count = 100\n  by = \"status\"\n  threshold = 3\n\n",
    );
    let (ok, text) = check(&config, ACCESS_PACK);
    assert!(
        !ok && text.contains("`threshold` does not apply to a value rule"),
        "{text}"
    );
}

/// A pack whose patterns find JSON lines (python-json-logger's shape) and logfmt lines (Go's
/// slog) that carry a duration.
const STRUCTURED_PACK: &str = r#"
description = "structured lines with a duration"

[[pattern]]
name = "timed"
any = ['"duration_ms"', " duration="]
"#;

fn structured_config(port: u16) -> String {
    format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
patterns_dir = "@DIR@/patterns"
poll_interval = "100ms"
listen = "127.0.0.1:{port}"

[[watch]]
name = "api"
files = ["@DIR@/api.log"]
patterns = ["structured"]

  [[watch.rule]]
  name = "slow-json"
  when = "value"
  pattern = "timed"
  json = "http.duration_ms"
  unit = "ms"
  aggregate = "max"
  window = "10m"
  above = 2.0
  by = "route"
  buckets = [0.1, 1, 10]

  [[watch.rule]]
  name = "slow-logfmt"
  when = "value"
  pattern = "timed"
  logfmt = "duration"
  aggregate = "sum"
  window = "10m"
  above = 1.0
"#
    )
}

#[test]
fn json_and_logfmt_fields_are_values_in_their_unit_and_malformed_json_is_no_value() {
    let port = free_port();
    let (dir, cfg) = config_dir(&structured_config(port));
    std::fs::create_dir(dir.path().join("patterns")).unwrap();
    std::fs::write(dir.path().join("patterns/structured.toml"), STRUCTURED_PACK).unwrap();
    let log = dir.path().join("api.log");
    append(&log, &["start".to_string()]);
    let mut d = Daemon::start(&cfg);
    d.wait_reading(&log);
    let lines = [
        // 50 ms and 3 s on /orders (ms, nested); the malformed line's 9 s is no value.
        r#"{"asctime": "2026-11-23 09:00:00", "levelname": "INFO", "route": "/orders", "http": {"status": 200, "duration_ms": 50}}"#,
        r#"{"asctime": "2026-11-23 09:00:01", "levelname": "INFO", "route": "/orders", "http": {"duration_ms": 9000}"#,
        r#"{"asctime": "2026-11-23 09:00:02", "levelname": "INFO", "route": "/orders", "http": {"status": 200, "duration_ms": "3000"}}"#,
        // logfmt: 0.4 + 0.7 seconds.
        r#"time=2026-11-23T09:00:03Z level=INFO msg="order placed" duration=0.4"#,
        r#"time=2026-11-23T09:00:04Z level=INFO msg="order placed" duration=0.7"#,
        "end",
    ];
    append(&log, &lines.map(str::to_string));
    let json = d.wait_alert("slow-json[/orders]", "firing", Duration::from_secs(10));
    assert!(
        json["summary"]
            .as_str()
            .unwrap()
            .contains("max of http.duration_ms within 10m is 3s, above 2s (2 values)"),
        "{json}"
    );
    let logfmt = d.wait_alert("slow-logfmt", "firing", Duration::from_secs(10));
    assert!(
        logfmt["summary"]
            .as_str()
            .unwrap()
            .contains("sum of duration within 10m is 1.1, above 1 (2 values)"),
        "{logfmt}"
    );
    let (_, metrics) = http_get(port, "/metrics").expect("GET");
    for want in [
        "logwarden_value_bucket{watch=\"api\",rule=\"slow-json\",label=\"/orders\",le=\"0.1\"} 1",
        "logwarden_value_bucket{watch=\"api\",rule=\"slow-json\",label=\"/orders\",le=\"1\"} 1",
        "logwarden_value_bucket{watch=\"api\",rule=\"slow-json\",label=\"/orders\",le=\"10\"} 2",
        "logwarden_value_count{watch=\"api\",rule=\"slow-logfmt\"} 2",
    ] {
        assert!(
            metrics.lines().any(|l| l == want),
            "no {want} in\n{metrics}"
        );
    }
    common::promtool_check_metrics(&metrics);
}
