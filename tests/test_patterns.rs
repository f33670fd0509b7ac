//! `logwarden test-patterns` against hand-counted sample logs (tests/data/*.log).
//!
//! The expected numbers below were counted by hand from the sample logs and the shipped packs
//! (patterns/*.toml); a change in either that moves a number should be a deliberate one.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

/// `logwarden` with no config of the machine it runs on: only the shipped packs.
fn logwarden(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_logwarden"));
    c.env_remove("LOGWARDEN_CONFIG")
        .args(["--config", "/nonexistent/logwarden.toml"])
        .args(args);
    c
}

fn success(out: Output) -> String {
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn json_report(log: &str) -> Value {
    let out = logwarden(&[
        "test-patterns",
        "python-logging",
        "trading",
        &data(log),
        "--json",
    ])
    .output()
    .unwrap();
    serde_json::from_str(&success(out)).expect("the report is JSON")
}

/// (pack/pattern, matched) for every pattern, in report order.
fn per_pattern(report: &Value) -> Vec<(String, u64)> {
    report["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                format!(
                    "{}/{}",
                    p["pack"].as_str().unwrap(),
                    p["pattern"].as_str().unwrap()
                ),
                p["matched"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn totals(report: &Value) -> [u64; 4] {
    ["lines", "matched", "unmatched", "only_ignored"].map(|k| report[k].as_u64().unwrap())
}

fn expected(counts: &[(&str, u64)]) -> Vec<(String, u64)> {
    counts.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

fn pattern<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            format!(
                "{}/{}",
                p["pack"].as_str().unwrap(),
                p["pattern"].as_str().unwrap()
            ) == name
        })
        .unwrap_or_else(|| panic!("no pattern {name}"))
}

#[test]
fn python_logging_sample_counts_levels_and_the_traceback_but_not_lowercase_error() {
    let r = json_report("python-logging.log");
    // 41 lines: ERROR at 13, 22, 31 + CRITICAL at 35 + the traceback header at 23 = 5 error
    // lines; WARNING at 10, 21, 34, 41; 12 VIX/Position/Update lines. The 5 INFO lines saying
    // "error"/"errors" in lower case and the 4 other traceback lines match nothing.
    assert_eq!(totals(&r), [41, 21, 20, 0]);
    assert_eq!(
        per_pattern(&r),
        expected(&[
            ("python-logging/error", 5),
            ("python-logging/critical", 1),
            ("python-logging/warning", 4),
            ("python-logging/traceback", 1),
            ("trading/activity", 12),
            ("trading/error", 0),
            ("trading/disconnect", 0),
        ])
    );
    let samples = |name: &str| -> Vec<u64> {
        pattern(&r, name)["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[0].as_u64().unwrap())
            .collect()
    };
    assert_eq!(samples("python-logging/error"), [13, 22, 23]);
    assert_eq!(samples("python-logging/critical"), [35]);
    assert_eq!(
        pattern(&r, "python-logging/traceback")["samples"][0][1],
        "Traceback (most recent call last):"
    );
    // The first lines nothing matched: the start-up lines.
    let unmatched: Vec<u64> = r["unmatched_samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_u64().unwrap())
        .collect();
    assert_eq!(unmatched, [1, 2, 3]);
}

#[test]
fn trading_sample_counts_timeouts_resets_refusals_rejections_and_disconnects() {
    let r = json_report("trading.log");
    // 28 lines. trading/error: socket timeout (8), socket.timeout (10), connection reset (11),
    // connection refused (14), order rejected (20), broken pipe (24), connection closed by
    // peer (26). Disconnects: lost connection (12), disconnected from (25). "Signal rejected"
    // (7), "Order 8811 filled" (18) and "socket not connected" (28) are not errors.
    assert_eq!(totals(&r), [28, 18, 10, 0]);
    assert_eq!(
        per_pattern(&r),
        expected(&[
            ("python-logging/error", 6),
            ("python-logging/critical", 1),
            ("python-logging/warning", 3),
            ("python-logging/traceback", 0),
            ("trading/activity", 9),
            ("trading/error", 7),
            ("trading/disconnect", 2),
        ])
    );
    let lines = |name: &str| -> Vec<u64> {
        pattern(&r, name)["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[0].as_u64().unwrap())
            .collect()
    };
    assert_eq!(lines("trading/error"), [8, 10, 11]);
    assert_eq!(lines("trading/disconnect"), [12, 25]);
}

#[test]
fn human_output_starts_with_the_line_counts() {
    let out = logwarden(&[
        "test-patterns",
        "python-logging",
        &data("python-logging.log"),
    ])
    .output()
    .unwrap();
    let text = success(out);
    // With python-logging alone: 5 error lines and 4 warning lines.
    assert!(
        text.starts_with("Lines: 41 read, 9 matched, 32 matched by nothing, 0 removed by ignore\n"),
        "{text}"
    );
    assert!(text.contains("python-logging/error"), "{text}");
    assert!(text.contains("Matched by nothing (first lines):"), "{text}");
}

#[test]
fn a_dash_reads_the_log_from_stdin() {
    let log = std::fs::read(data("trading.log")).unwrap();
    let mut child = logwarden(&["test-patterns", "python-logging", "trading", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&log).unwrap();
    let r: Value = serde_json::from_str(&success(child.wait_with_output().unwrap())).unwrap();
    assert_eq!(totals(&r), [28, 18, 10, 0]);
    assert_eq!(pattern(&r, "trading/error")["matched"], 7);
}

#[test]
fn an_unknown_pack_fails_with_the_available_ones() {
    let out = logwarden(&["test-patterns", "pyhton-logging", &data("trading.log")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "unknown pattern pack \"pyhton-logging\"; available: python-logging, trading"
        ),
        "{stderr}"
    );
}
