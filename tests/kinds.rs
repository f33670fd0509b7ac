//! `logwarden kinds`: the kinds of a file learned from nothing (and each line's kind), and
//! the kinds a `new-kind` rule learned, as `replay --seed` leaves them in `state_dir`: listed
//! with their first and last line in log time, one forgotten for a stopped daemon and asked
//! to be forgotten by a running one.

use std::process::{Command, Output};

const CONFIG: &str = r#"
[daemon]
state_dir = "state"

[[watch]]
name = "bot"
files = ["bot.log"]
patterns = ["python-logging"]

[[watch.rule]]
name = "new-errors"
when = "new-kind"
pattern = "error"
learn = "1h"
"#;

fn logwarden(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logwarden"))
        .env_remove("LOGWARDEN_CONFIG")
        .current_dir(dir)
        .arg("--config")
        .arg(dir.join("logwarden.toml"))
        .args(args)
        .output()
        .expect("logwarden runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const LOG: &str = "\
2026-11-23 10:00:01,000 - bot - ERROR - order 1 failed: margin
2026-11-23 10:00:02,000 - bot - ERROR - order 2 failed: margin
2026-11-23 10:05:00,000 - bot - ERROR - connection to broker lost
2026-11-23 10:09:00,000 - bot - ERROR - order 77 failed: margin
";

#[test]
fn a_file_s_kinds_and_each_line_s_kind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("logwarden.toml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("bot.log"), LOG).unwrap();
    let out = logwarden(dir.path(), &["kinds", "bot.log"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("2 kinds"), "{t}");
    assert!(
        t.contains("order <NUM> failed: margin"),
        "the header is set aside: {t}"
    );
    assert!(t.contains("connection to broker lost"), "{t}");
    let out = logwarden(dir.path(), &["kinds", "--assign", "bot.log"]);
    assert!(out.status.success(), "{}", text(&out));
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(
        (ids[0] == ids[1], ids[1] == ids[3], ids[0] == ids[2]),
        (true, true, false)
    );
}

#[test]
fn the_kinds_a_rule_learned_are_listed_and_one_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("logwarden.toml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("bot.log"), LOG).unwrap();
    let out = logwarden(dir.path(), &["kinds"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing learned yet"), "{}", text(&out));

    let out = logwarden(
        dir.path(),
        &["replay", "--seed", "--timezone", "UTC", "bot.log"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = logwarden(dir.path(), &["kinds", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let kinds = v["bot/new-errors"]
        .as_array()
        .expect("the rule's kinds")
        .clone();
    assert_eq!(kinds.len(), 2, "{v}");
    let order = kinds
        .iter()
        .find(|k| k["template"] == "order <NUM> failed: margin")
        .expect("the order kind");
    assert_eq!(order["lines"], 3);
    // In log time: 10:00:01 and 10:09:00 UTC on 2026-11-23.
    assert_eq!(order["first_ms"], 1_795_428_001_000i64, "{order}");
    assert_eq!(order["last_ms"], 1_795_428_540_000i64, "{order}");
    let out = logwarden(dir.path(), &["kinds"]);
    assert!(text(&out).contains("2026-11-23T10:09:00"), "{}", text(&out));

    let id = order["id"].as_u64().expect("an id").to_string();
    let out = logwarden(dir.path(), &["kinds", "--forget", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("forgotten"), "{}", text(&out));
    let out = logwarden(dir.path(), &["kinds", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["bot/new-errors"].as_array().map(Vec::len), Some(1), "{v}");
    let request = std::fs::read_to_string(dir.path().join("state/rules/bot/new-errors.forget"))
        .expect("a request for a running daemon");
    assert_eq!(request.trim(), id);
    let out = logwarden(dir.path(), &["kinds", "--forget", &id]);
    assert!(
        !out.status.success(),
        "a kind forgotten twice: {}",
        text(&out)
    );
}

#[test]
fn an_id_two_rules_know_is_forgotten_only_in_the_watch_named() {
    let dir = tempfile::tempdir().unwrap();
    let second = CONFIG
        .replace("[daemon]\nstate_dir = \"state\"\n", "")
        .replace("name = \"bot\"", "name = \"bot2\"")
        .replace("bot.log", "bot2.log");
    std::fs::write(
        dir.path().join("logwarden.toml"),
        format!("{CONFIG}{second}"),
    )
    .unwrap();
    std::fs::write(dir.path().join("bot.log"), LOG).unwrap();
    std::fs::write(dir.path().join("bot2.log"), LOG).unwrap();
    for (watch, log) in [("bot", "bot.log"), ("bot2", "bot2.log")] {
        let out = logwarden(
            dir.path(),
            &[
                "replay",
                "--seed",
                "--watch",
                watch,
                "--timezone",
                "UTC",
                log,
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = logwarden(dir.path(), &["kinds", "--forget", "1"]);
    assert!(!out.status.success(), "ambiguous: {}", text(&out));
    assert!(
        text(&out).contains("bot/new-errors, bot2/new-errors"),
        "{}",
        text(&out)
    );
    let out = logwarden(dir.path(), &["kinds", "--forget", "1", "--watch", "bot2"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("bot2/new-errors: kind 1 forgotten"),
        "{}",
        text(&out)
    );
    let out = logwarden(dir.path(), &["kinds", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["bot/new-errors"].as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(
        v["bot2/new-errors"].as_array().map(Vec::len),
        Some(1),
        "{v}"
    );
}
