//! Structured lines through the real binary (`logwarden test-patterns --format`): a JSON or
//! logfmt line's level field counts as the packs' `error`/`critical`/`warning`, in the
//! shapes python-json-logger, structlog, Go's slog (JSON and text), logrus and pino write;
//! malformed JSON and binary garbage are plain lines, never an error; a watch's `format` is
//! checked at load with its position.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

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
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The JSON report of python-logging over `input` with `--format FORMAT`.
fn report(format: &str, input: &[u8]) -> Value {
    let mut child = logwarden(&[
        "test-patterns",
        "python-logging",
        "-",
        "--json",
        "--format",
        format,
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    serde_json::from_str(&success(child.wait_with_output().unwrap())).expect("JSON report")
}

/// (pack/pattern, matched) of every pattern, in report order, and the line totals.
fn counts(r: &Value) -> (Vec<(String, u64)>, [u64; 3]) {
    let patterns = r["patterns"]
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
        .collect();
    let totals = ["lines", "matched", "unmatched"].map(|k| r[k].as_u64().unwrap());
    (patterns, totals)
}

fn expected(c: &[(&str, u64)]) -> Vec<(String, u64)> {
    c.iter().map(|(n, k)| (n.to_string(), *k)).collect()
}

/// `tests/data/structured.log` line by line under `--format auto`: which of `error` (E),
/// `critical` (C), `warning` (W) the line's level field gives (`level-field/…`), and which
/// python-logging's patterns give from the raw line.
#[test]
fn levels_of_json_and_logfmt_lines_are_counted_and_malformed_json_is_a_plain_line() {
    let want: [(&str, &str); 20] = [
        ("E", ""),    // 1  python-json-logger levelname ERROR
        ("EC", ""),   // 2  python-json-logger CRITICAL
        ("", ""),     // 3  levelname INFO, message "ERROR count is 0"
        ("E", ""),    // 4  structlog level error
        ("W", ""),    // 5  structlog warning
        ("E", ""),    // 6  slog JSON ERROR
        ("W", ""),    // 7  slog JSON WARN
        ("", ""),     // 8  slog JSON INFO saying "error rate"
        ("E", "E"),   // 9  slog text level=ERROR (python-logging's logfmt regex too)
        ("", ""),     // 10 level=INFO msg="level=error ..."
        ("EC", "EC"), // 11 logrus level=fatal
        ("W", "W"),   // 12 logrus level=warning
        ("", ""),     // 13 logrus info
        ("E", ""),    // 14 pino level 50
        ("", ""),     // 15 JSON cut in the middle of a string
        ("", ""),     // 16 binary bytes around a JSON object
        ("", ""),     // 17 a JSON object followed by junk
        ("", "E"),    // 18 a plain python-logging line: the pack counts it
        ("", ""),     // 19 JSON cut after a value
        ("E", ""),    // 20 nested objects, arrays and a brace inside a string
    ];
    let log = std::fs::read(data("structured.log")).unwrap();
    let lines: Vec<&[u8]> = log
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), want.len());
    let mut wrong = Vec::new();
    for (n, (line, (field, raw))) in lines.iter().zip(want).enumerate() {
        let r = report("auto", &[*line, b"\n"].concat());
        let (patterns, _) = counts(&r);
        let got = |pack: &str| -> String {
            [("error", 'E'), ("critical", 'C'), ("warning", 'W')]
                .iter()
                .filter(|(p, _)| patterns.contains(&(format!("{pack}/{p}"), 1)))
                .map(|(_, c)| *c)
                .collect()
        };
        let got = (got("level-field"), got("python-logging"));
        if got != (field.to_string(), raw.to_string()) {
            wrong.push(format!(
                "line {}: want {:?}, got {got:?}: {}",
                n + 1,
                (field, raw),
                String::from_utf8_lossy(line)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn each_format_reads_only_its_own_lines_and_plain_pays_nothing_new() {
    let log = std::fs::read(data("structured.log")).unwrap();
    let raw = [
        ("python-logging/error", 3),
        ("python-logging/critical", 1),
        ("python-logging/warning", 1),
        ("python-logging/traceback", 0),
    ];
    let with = |field: [u64; 3]| {
        let mut v = expected(&raw);
        v.extend(expected(&[
            ("level-field/error", field[0]),
            ("level-field/critical", field[1]),
            ("level-field/warning", field[2]),
        ]));
        v
    };
    // plain: no level-field patterns at all; lines 9, 11, 12, 18 by the pack.
    assert_eq!(
        counts(&report("plain", &log)),
        (expected(&raw), [20, 4, 16])
    );
    // json: the JSON lines' levels (1, 2, 4, 5, 6, 7, 14, 20), logfmt lines only by the pack.
    assert_eq!(
        counts(&report("json", &log)),
        (with([6, 1, 2]), [20, 12, 8])
    );
    // logfmt: the logfmt lines' levels (9, 11, 12); a JSON line is no logfmt.
    assert_eq!(
        counts(&report("logfmt", &log)),
        (with([2, 1, 1]), [20, 4, 16])
    );
    // auto: both.
    assert_eq!(
        counts(&report("auto", &log)),
        (with([8, 2, 3]), [20, 12, 8])
    );
}

#[test]
fn a_configured_level_field_replaces_the_usual_keys() {
    let lines = b"{\"log\":{\"level\":\"error\"},\"message\":\"ecs\"}\n{\"level\":\"error\"}\n";
    let mut child = logwarden(&[
        "test-patterns",
        "python-logging",
        "-",
        "--json",
        "--format",
        "json",
        "--level-field",
        "log.level",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child.stdin.take().unwrap().write_all(lines).unwrap();
    let r: Value = serde_json::from_str(&success(child.wait_with_output().unwrap())).unwrap();
    let (patterns, totals) = counts(&r);
    assert!(
        patterns.contains(&("level-field/error".into(), 1)),
        "{patterns:?}"
    );
    assert_eq!(totals, [2, 1, 1]);
}

#[test]
fn hostile_structured_lines_never_fail_the_run() {
    // Deep nesting, a huge string, lone brackets, NULs and invalid UTF-8, in every format.
    let mut log = Vec::new();
    log.extend_from_slice(&b"{\"a\":".repeat(10_000));
    log.push(b'\n');
    log.extend_from_slice(b"{\"level\":\"");
    log.extend_from_slice(&vec![b'x'; 1 << 20]);
    log.extend_from_slice(b"\"}\n{\n}\n[\n\"\n{\"level\":\"\\u00\"}\n\x00\x00\xff{\xfe\n");
    log.extend_from_slice(b"level=\"error\nlevel==error\n=\n\"level\"=error\n");
    for format in ["plain", "json", "logfmt", "auto"] {
        let (_, totals) = counts(&report(format, &log));
        assert_eq!(totals[0], 12, "{format}");
    }
}

#[test]
fn a_bad_format_or_level_field_is_refused_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("logwarden.toml");
    let check = |text: &str| -> String {
        std::fs::write(&config, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_logwarden"))
            .env_remove("LOGWARDEN_CONFIG")
            .arg("check")
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    std::fs::write(
        dir.path().join("fills.toml"),
        "[[pattern]]\nname = \"fill\"\nany = [\"filled\"]\n",
    )
    .unwrap();
    let watch = format!(
        "[daemon]\npatterns_dir = {:?}\nstate_dir = \"/tmp\"\n\n[[watch]]\nname = \"bot\"\nfiles = [\"/tmp/bot.log\"]\n",
        dir.path().display().to_string()
    );
    let at = |line: u32, col: u32| format!("{}:{line}:{col}: ", config.display());

    let e = check(&format!(
        "{watch}patterns = [\"python-logging\"]\nformat = \"jsonl\"\n"
    ));
    assert!(e.contains(&at(9, 10)), "{e}");
    assert!(e.contains("format \"jsonl\" is not one of"), "{e}");

    let e = check(&format!(
        "{watch}patterns = [\"nginx\"]\nformat = \"json\"\nlevel_field = \"a..b\"\n"
    ));
    assert!(e.contains(&at(10, 15)), "{e}");
    assert!(e.contains("empty part"), "{e}");

    let e = check(&format!(
        "{watch}patterns = [\"fills\"]\nformat = \"logfmt\"\n"
    ));
    assert!(e.contains(&at(9, 10)), "{e}");
    assert!(e.contains("none of its packs defines"), "{e}");

    let e = check(&format!(
        "{watch}patterns = [\"python-logging\"]\nlevel_field = \"lvl\"\n"
    ));
    assert!(e.contains(&at(9, 15)), "{e}");
    assert!(e.contains("set format"), "{e}");
}

/// (pattern, matched, sample line numbers) of the `http-fields` pack over its sample log.
fn field_counts(format: &str) -> Vec<(String, u64, Vec<u64>)> {
    let out = logwarden(&[
        "test-patterns",
        &data("http-fields.toml"),
        &data("http-fields.log"),
        "--json",
        "--format",
        format,
    ])
    .output()
    .unwrap();
    let r: Value = serde_json::from_str(&success(out)).unwrap();
    r["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["pattern"].as_str().unwrap().to_string(),
                p["matched"].as_u64().unwrap(),
                p["samples"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s[0].as_u64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn field_conditions_compare_numbers_numerically_and_words_without_case() {
    let row = |n: &str, c: u64, s: &[u64]| (n.to_string(), c, s.to_vec());
    // auto. server-error (status >= 500): 502 (2), "503" as a string (3), logfmt 500 (4), a
    // plain line's `status=500` pair (7: auto reads a line not starting with `{` as logfmt),
    // bare status=502 (10); not the nested http.status (6), not "five hundred" (9), not the
    // cut JSON (8). slow-error (level in [error, critical] and duration_ms > 1000): 2, 4, and
    // CRITICAL in capitals (6); not null (9). timeout ("timeout" and level == error): 2, 4;
    // not at level info (5, 7), not in the cut JSON (8).
    assert_eq!(
        field_counts("auto"),
        [
            row("server-error", 5, &[2, 3, 4]),
            row("slow-error", 3, &[2, 4, 6]),
            row("timeout", 2, &[2, 4]),
        ]
    );
    // json: the logfmt lines (4, 5, 7, 10) have no fields.
    assert_eq!(
        field_counts("json"),
        [
            row("server-error", 2, &[2, 3]),
            row("slow-error", 2, &[2, 6]),
            row("timeout", 1, &[2]),
        ]
    );
    // plain: no line has fields, so no condition holds (a watch refuses this; see below).
    assert_eq!(
        field_counts("plain"),
        [
            row("server-error", 0, &[]),
            row("slow-error", 0, &[]),
            row("timeout", 0, &[]),
        ]
    );
}

#[test]
fn a_bad_condition_is_refused_at_its_character_and_a_plain_watch_may_not_use_one() {
    let dir = tempfile::tempdir().unwrap();
    let packs = dir.path().join("patterns");
    std::fs::create_dir(&packs).unwrap();
    let pack = packs.join("web.toml");
    std::fs::write(
        &pack,
        "[[pattern]]\nname = \"server-error\"\nwhere = ['level == error', 'status => 500']\n",
    )
    .unwrap();
    let out = logwarden(&["test-patterns", pack.to_str().unwrap(), "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let e = String::from_utf8_lossy(&out.stderr);
    // 'status => 500' starts at column 28 of line 3; the operator at its 8th character.
    assert!(e.contains(&format!("{}:3:36: ", pack.display())), "{e}");
    assert!(e.contains("expected an operator"), "{e}");

    std::fs::write(
        &pack,
        "[[pattern]]\nname = \"server-error\"\nwhere = ['status >= 500']\n",
    )
    .unwrap();
    let config = dir.path().join("logwarden.toml");
    let text = format!(
        "[daemon]\npatterns_dir = {:?}\nstate_dir = \"/tmp\"\n\n[[watch]]\nname = \"web\"\nfiles = [\"/tmp/web.log\"]\npatterns = [\"python-logging\", \"web\"]\n",
        packs.display().to_string()
    );
    let check = |text: &str| {
        std::fs::write(&config, text).unwrap();
        Command::new(env!("CARGO_BIN_EXE_logwarden"))
            .env_remove("LOGWARDEN_CONFIG")
            .arg("check")
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap()
    };
    let out = check(&text);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains(&format!("{}:8:31: ", config.display())), "{e}");
    assert!(
        e.contains("pattern web/server-error has `where` conditions"),
        "{e}"
    );
    let out = check(&format!("{text}format = \"json\"\n"));
    assert!(out.status.success(), "{out:?}");
}

const DAEMON: &str = r#"
[daemon]
state_dir = "@DIR@/state"
patterns_dir = "@DIR@/patterns"
poll_interval = "100ms"

[[watch]]
name = "api"
files = ["@DIR@/api.jsonl"]
patterns = ["python-logging", "web"]
format = "json"

  [[watch.rule]]
  name = "critical-line"
  when = "match"
  pattern = "critical"
  cooldown = "0s"

  [[watch.rule]]
  name = "5xx"
  when = "match"
  pattern = "server-error"
  cooldown = "0s"
"#;

#[test]
fn the_daemon_alerts_on_a_json_level_and_a_field_condition_and_reads_a_cut_line_as_plain() {
    let (dir, config) = common::config_dir(DAEMON);
    std::fs::create_dir(dir.path().join("patterns")).unwrap();
    std::fs::write(
        dir.path().join("patterns/web.toml"),
        "[[pattern]]\nname = \"server-error\"\nwhere = [\"status >= 500\"]\n",
    )
    .unwrap();
    let log = dir.path().join("api.jsonl");
    common::append(&log, &[r#"{"level":"info","msg":"start"}"#.to_string()]);
    let mut d = common::Daemon::start(&config);
    d.wait_reading(&log);
    common::append(
        &log,
        &[
            r#"{"level":"critical","msg":"cut"#.to_string(),
            "\u{1}\u{2}{\"status\": 500".to_string(),
            r#"{"level":"info","status":200,"msg":"CRITICAL - ok"}"#.to_string(),
            r#"{"levelname":"CRITICAL","message":"loss limit reached"}"#.to_string(),
            r#"{"level":"error","status":503,"msg":"upstream down"}"#.to_string(),
        ],
    );
    let critical = d.wait_alert("critical-line", "event", Duration::from_secs(5));
    assert!(
        critical["line"]
            .as_str()
            .unwrap()
            .contains("loss limit reached"),
        "{critical}"
    );
    let server = d.wait_alert("5xx", "event", Duration::from_secs(5));
    assert!(
        server["line"].as_str().unwrap().contains("upstream down"),
        "{server}"
    );
    d.collect_for(Duration::from_millis(800));
    // The cut lines and the info line (whose message merely says CRITICAL) are no matches.
    assert_eq!(d.count_alerts("critical-line", "event"), 1);
    assert_eq!(d.count_alerts("5xx", "event"), 1);
    assert!(d.stop(), "clean exit on SIGTERM");
}
