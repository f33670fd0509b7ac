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
            ("trading/reconnect", 0),
            ("trading/order-rejected", 0),
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
            ("trading/reconnect", 0),
            ("trading/order-rejected", 1),
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
            "unknown pattern pack \"pyhton-logging\"; available: celery, django, gunicorn, nginx, postgresql, python-logging, systemd, trading"
        ),
        "{stderr}"
    );
}

/// The report of `pack` alone over `tests/data/LOG`.
fn pack_report(pack: &str, log: &str) -> Value {
    let out = logwarden(&["test-patterns", pack, &data(log), "--json"])
        .output()
        .unwrap();
    serde_json::from_str(&success(out)).expect("the report is JSON")
}

/// Line numbers of the samples (the first three matches) of `name`.
fn sample_lines(report: &Value, name: &str) -> Vec<u64> {
    pattern(report, name)["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_u64().unwrap())
        .collect()
}

#[test]
fn ibkr_sample_counts_disconnects_by_code_and_text_restores_and_rejections() {
    let r = pack_report("trading", "trading-ibkr.log");
    // 16 lines. disconnect: 1100 as ib_insync writes it (5), 2110 (6), 1100 as ibapi writes
    // it (10), "Not connected" (12), "API connection failed" (13). reconnect: 1102 (7), 1101
    // (11; "restored- data lost" is not a loss). order-rejected and error: error 201 (9).
    // activity: VIX (4), Position (14), Update (15); "reqPositions failed" (12) is not
    // activity, "none rejected" and lower-case "not connected" (16) are nothing.
    assert_eq!(totals(&r), [16, 11, 5, 0]);
    assert_eq!(
        per_pattern(&r),
        expected(&[
            ("trading/activity", 3),
            ("trading/error", 1),
            ("trading/disconnect", 5),
            ("trading/reconnect", 2),
            ("trading/order-rejected", 1),
        ])
    );
    assert_eq!(sample_lines(&r, "trading/activity"), [4, 14, 15]);
    assert_eq!(sample_lines(&r, "trading/disconnect"), [5, 6, 10]);
    assert_eq!(sample_lines(&r, "trading/reconnect"), [7, 11]);
}

#[test]
fn django_sample_counts_request_errors_5xx_database_bad_requests_and_queries() {
    let r = pack_report("django", "django.log");
    // 21 lines. error: Internal Server Error (4, 15), IntegrityError (8), OperationalError
    // (16). 5xx access lines: 9, 17, 18 ("/static/500.html ... 200" at 20 is not one).
    // database: 16. bad-request: DisallowedHost (10), CSRF (12). "the previous error" (14)
    // and the traceback frames match nothing in this pack. query: the django.db.backends line
    // (21), whose duration the pattern captures.
    assert_eq!(totals(&r), [21, 10, 11, 0]);
    assert_eq!(
        per_pattern(&r),
        expected(&[
            ("django/error", 4),
            ("django/server-error", 3),
            ("django/database", 1),
            ("django/bad-request", 2),
            ("django/query", 1),
        ])
    );
    assert_eq!(sample_lines(&r, "django/server-error"), [9, 17, 18]);
    assert_eq!(sample_lines(&r, "django/query"), [21]);
}

#[test]
fn celery_sample_counts_failed_retried_and_succeeded_tasks_and_broker_loss() {
    let r = pack_report("celery", "celery.log");
    // 19 lines. error: raised unexpected (7), WorkerLostError (13), hard time limit (14);
    // "the task that raised unexpected errors" (19) names no task id. retry: 6. activity
    // (succeeded): 4, 11, 18. broker: connection lost (15), cannot connect (16).
    assert_eq!(totals(&r), [19, 9, 10, 0]);
    assert_eq!(
        per_pattern(&r),
        expected(&[
            ("celery/error", 3),
            ("celery/retry", 1),
            ("celery/activity", 3),
            ("celery/broker", 2),
        ])
    );
    assert_eq!(sample_lines(&r, "celery/error"), [7, 13, 14]);
}

#[test]
fn nginx_sample_counts_error_levels_upstream_failures_and_status_classes() {
    let r = pack_report("nginx", "nginx.log");
    // 15 lines. error: [error] (5, 7, 10), [crit] (12), [emerg] (13); [warn] (9) is not.
    // upstream: timed out (5), connection refused (7), no live upstreams (10). 5xx: 504 (6),
    // 502 (8, 11); "?code=500 ... 200" (14) is a 200. 4xx: 404 (3), 401 (4). request:
    // every access line (1-4, 6, 8, 11, 14, 15), none of the error log's.
    assert_eq!(totals(&r), [15, 14, 1, 0]);
    assert_eq!(
        per_pattern(&r),
        expected(&[
            ("nginx/error", 5),
            ("nginx/upstream", 3),
            ("nginx/request", 9),
            ("nginx/server-error", 3),
            ("nginx/client-error", 2),
        ])
    );
    assert_eq!(sample_lines(&r, "nginx/server-error"), [6, 8, 11]);
    assert_eq!(sample_lines(&r, "nginx/request"), [1, 2, 3]);
}

#[test]
fn gunicorn_sample_counts_requests_of_both_formats_and_runserver_status_classes_and_workers() {
    let r = pack_report("gunicorn", "gunicorn.log");
    // 20 lines. request: gunicorn with %(L)s (4-7, 10, 20), without (11), runserver (12, 13),
    // runserver through a LOGGING formatter (14). 5xx: 500 (6), 502 (10), 503 (13);
    // "?code=500 ... 200" (20) is a 200. 4xx: 404 (7). error: [CRITICAL] WORKER TIMEOUT (8),
    // [ERROR] (9, 15, 17, 18). worker: timeout (8), SIGKILL (9), failed to boot (18), killed by
    // signal 9 (19, a WARNING). The [INFO] lines (1-3, 16) are nothing.
    assert_eq!(totals(&r), [20, 16, 4, 0]);
    assert_eq!(
        per_pattern(&r),
        expected(&[
            ("gunicorn/request", 10),
            ("gunicorn/server-error", 3),
            ("gunicorn/client-error", 1),
            ("gunicorn/error", 5),
            ("gunicorn/worker", 4),
        ])
    );
    assert_eq!(sample_lines(&r, "gunicorn/server-error"), [6, 10, 13]);
    assert_eq!(sample_lines(&r, "gunicorn/error"), [8, 9, 15]);
    assert_eq!(sample_lines(&r, "gunicorn/worker"), [8, 9, 18]);
}

#[test]
fn postgresql_sample_counts_levels_deadlocks_connection_limits_and_slow_statements() {
    let r = pack_report("postgresql", "postgresql.log");
    // 14 lines. error: ERROR (3, 6), FATAL (9, 10, 11), PANIC (14); "'ERROR: not an error'"
    // (13, one space) is not. fatal: 9, 10, 11, 14. deadlock: 6. connections: 9, 10, 11.
    // slow: 2412 ms (8); 12 ms (2) is not.
    assert_eq!(totals(&r), [14, 7, 7, 0]);
    assert_eq!(
        per_pattern(&r),
        expected(&[
            ("postgresql/error", 6),
            ("postgresql/fatal", 4),
            ("postgresql/deadlock", 1),
            ("postgresql/connections", 3),
            ("postgresql/slow", 1),
        ])
    );
    assert_eq!(sample_lines(&r, "postgresql/slow"), [8]);
}

#[test]
fn systemd_sample_counts_unit_failures_restarts_and_oom_kills() {
    let r = pack_report("systemd", "systemd.log");
    // 20 lines. error: OOM kill (4), killed by the OOM killer (5), Failed with result (7,
    // 12, 16), Failed to start (13, 17). unit-failed: code=killed (6; code=exited at 11 is
    // not), 7, 12, 13, 16, 17. oom: oom-killer invoked (3), 4, 5, systemd-oomd (18).
    // restart: 9, 14. start-limit: 15. "no process was killed" (20) is nothing.
    assert_eq!(totals(&r), [20, 13, 7, 0]);
    assert_eq!(
        per_pattern(&r),
        expected(&[
            ("systemd/error", 7),
            ("systemd/unit-failed", 6),
            ("systemd/oom", 4),
            ("systemd/restart", 2),
            ("systemd/start-limit", 1),
        ])
    );
    assert_eq!(sample_lines(&r, "systemd/oom"), [3, 4, 5]);
}

/// `tests/data/python-levels.log`, line by line: which of python-logging's `error` (E),
/// `critical` (C), `warning` (W) and `traceback` (T) each line must match. The layouts are
/// those of real programs (see the comments); the last 14 lines say "error", "ERROR" or
/// "CRITICAL" inside an ordinary message and must match nothing.
const PYTHON_LEVELS: &[&str] = &[
    "E",  // 1  ERROR trader: ... (a journal message: the app dropped the time)
    "EC", // 2  CRITICAL bot died
    "EC", // 3  CRITICAL: ...
    "E",  // 4  ERROR - ...
    "E",  // 5  ERROR:root: (logging.basicConfig)
    "W",  // 6  WARNING:urllib3...
    "E",  // 7  [ERROR]
    "E",  // 8  level=error (logfmt)
    "E",  // 9  level=ERROR (Go slog text handler)
    "EC", // 10 level=fatal (logrus)
    "W",  // 11 level=WARN
    "E",  // 12 Django's "verbose" format: {levelname} {asctime} {module} ...
    "W",  // 13 the same at WARNING
    "E",  // 14 [04/Dec/2026 10:00:00] ERROR (Django runserver)
    "",   // 15 a runserver access line: no level
    "E",  // 16 Celery [time: ERROR/MainProcess]
    "W",  // 17 Celery WARNING/ForkPoolWorker-1
    "EC", // 18 Celery CRITICAL
    "E",  // 19 loguru | ERROR    |
    "EC", // 20 loguru | CRITICAL |
    "W",  // 21 loguru | WARNING  |
    "E",  // 22 %(asctime)s - %(name)s - %(levelname)s - %(message)s
    "EC", // 23 the same at CRITICAL
    "W",  // 24 the same at WARNING
    "E",  // 25 gunicorn error log [time] [pid] [ERROR]
    "EC", // 26 gunicorn [CRITICAL] WORKER TIMEOUT
    "W",  // 27 gunicorn [WARNING]
    "E",  // 28 journalctl's short output: Dec 04 10:00:00 host tag[pid]: ERROR
    "EC", // 29 journalctl -o short-iso: ... CRITICAL
    "E",  // 30 %(asctime)s %(levelname)s %(name)s: %(message)s
    "W",  // 31 %(asctime)s %(name)s %(levelname)s %(message)s
    "E",  // 32 ISO time with Z, then the level
    "E",  // 33 %(asctime)s [%(levelname)s] %(name)s: ...
    "ET", // 34 Traceback (most recent call last):
    "",   // 35 a traceback frame
    "",   // 36 the exception line: "TimeoutError:" is not a level
    "",   // 37 INFO retrying after error
    "",   // 38 INFO ERROR count is 0
    "",   // 39 - INFO - got ERROR from peer
    "",   // 40 time INFO ERROR count is 0 (INFO is the level, not a logger name)
    "",   // 41 - INFO - error budget
    "",   // 42 ERRORS: 0
    "",   // 43 loguru INFO saying ERROR
    "",   // 44 Celery INFO saying 'no ERROR'
    "",   // 45 level=info msg="error rate"
    "",   // 46 msg="level=error ..." level=info (inside a quoted value)
    "",   // 47 Error: (not as logging writes a level)
    "",   // 48 - INFO - WARNING: ... (a level word inside the message)
    "",   // 49 INFO CRITICAL section entered
    "",   // 50 a runserver access line for /errors/
];

#[test]
fn python_logging_counts_levels_where_real_formats_put_them_and_not_inside_messages() {
    let r = pack_report("python-logging", "python-levels.log");
    let count = |c: char| PYTHON_LEVELS.iter().filter(|l| l.contains(c)).count() as u64;
    let matched = PYTHON_LEVELS.iter().filter(|l| !l.is_empty()).count() as u64;
    assert_eq!(PYTHON_LEVELS.len(), 50);
    assert_eq!(
        (count('E'), count('C'), count('W'), count('T')),
        (25, 8, 8, 1)
    );
    assert_eq!(totals(&r), [50, matched, 50 - matched, 0]);
    assert_eq!(
        per_pattern(&r),
        expected(&[
            ("python-logging/error", 25),
            ("python-logging/critical", 8),
            ("python-logging/warning", 8),
            ("python-logging/traceback", 1),
        ])
    );
    // Line by line, so that a count that happens to agree cannot hide a wrong line.
    let text = std::fs::read_to_string(data("python-levels.log")).unwrap();
    let mut wrong = Vec::new();
    for (n, (line, want)) in text.lines().zip(PYTHON_LEVELS).enumerate() {
        let mut child = logwarden(&["test-patterns", "python-logging", "-", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        let one: Value = serde_json::from_str(&success(child.wait_with_output().unwrap())).unwrap();
        let got: String = [
            ("error", 'E'),
            ("critical", 'C'),
            ("warning", 'W'),
            ("traceback", 'T'),
        ]
        .iter()
        .filter(|(p, _)| pattern(&one, &format!("python-logging/{p}"))["matched"] == 1)
        .map(|(_, c)| *c)
        .collect();
        if got != *want {
            wrong.push(format!(
                "line {}: want {want:?}, got {got:?}: {line}",
                n + 1
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
