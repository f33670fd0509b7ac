//! `logwarden replay` from the command line: a generated log, a config, the alerts as JSON.

use std::fmt::Write as _;
use std::process::Command;

use serde_json::Value;

fn logwarden(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_logwarden"))
        .env_remove("LOGWARDEN_CONFIG")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// A day of a bot from 2026-11-23 00:00 UTC: a line every 10 s, an error burst at 10:00
/// (8 ERROR lines in 8 s), silence from 14:00 to 14:30.
fn day() -> String {
    let mut log = String::new();
    for s in (0..86_400).step_by(10) {
        if (14 * 3600..14 * 3600 + 1800).contains(&s) {
            continue;
        }
        let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
        writeln!(
            log,
            "2026-11-23 {h:02}:{m:02}:{sec:02},000 - bot - INFO - Update SPY"
        )
        .unwrap();
        if s == 36_000 {
            for k in 1..=8 {
                writeln!(
                    log,
                    "2026-11-23 10:00:{k:02},000 - bot - ERROR - order {k} failed"
                )
                .unwrap();
            }
        }
    }
    log
}

const CONFIG: &str = r#"
[daemon]
state_dir = "state"

[[watch]]
name = "bot"
files = ["bot.log"]
patterns = ["python-logging", "trading"]

[[watch.rule]]
name = "error-burst"
when = "rate"
pattern = "error"
threshold = 5
window = "1m"

[[watch.rule]]
name = "frozen"
when = "stale"
after = "5m"
"#;

#[test]
fn replay_prints_the_alerts_at_line_time_as_json_and_touches_no_state() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("logwarden.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let log = dir.path().join("bot.log");
    std::fs::write(&log, day()).unwrap();
    let out = logwarden(
        &config,
        &[
            "replay",
            "--timezone",
            "UTC",
            "--json",
            log.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let alerts: Vec<(String, String, String)> = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["at"].as_str().unwrap().to_string(),
                a["rule"].as_str().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("2026-11-23T10:00:06.000Z", "error-burst", "firing"),
        // Fewer than 6 in the window once the 3rd error (10:00:03) is a minute old.
        ("2026-11-23T10:01:03.000Z", "error-burst", "resolved"),
        // The last line before the silence is 13:59:50.
        ("2026-11-23T14:04:50.000Z", "frozen", "firing"),
        ("2026-11-23T14:30:00.000Z", "frozen", "resolved"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(alerts, want);
    assert_eq!(r["lines"], 8640 - 180 + 8);
    assert_eq!(r["rules"]["bot/frozen"]["firing"], 1);
    // No channel, no state: replay writes nothing.
    assert!(!dir.path().join("state").exists());

    let human = logwarden(
        &config,
        &["replay", "--timezone", "UTC", log.to_str().unwrap()],
    );
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("2026-11-23T14:04:50Z  bot/frozen  FIRING  "),
        "{text}"
    );
    assert!(text.contains("Per rule:"), "{text}");
}

#[test]
fn a_file_of_no_watch_with_several_watches_asks_for_watch() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("logwarden.toml");
    let two = format!("{CONFIG}\n[[watch]]\nname = \"other\"\nfiles = [\"other.log\"]\n");
    std::fs::write(&config, two).unwrap();
    let log = dir.path().join("elsewhere.log");
    std::fs::write(&log, "2026-11-23 10:00:00,000 - x - ERROR - y\n").unwrap();
    let out = logwarden(&config, &["replay", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("name it with --watch (bot, other)"), "{err}");
    let out = logwarden(
        &config,
        &["replay", "--watch", "bot", log.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn seeding_saves_what_learning_rules_learned_from_history() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("logwarden.toml");
    let learning = format!(
        "{CONFIG}\n[[watch.rule]]\nname = \"new-errors\"\nwhen = \"new-kind\"\npattern = \"error\"\nlearn = \"1h\"\n"
    );
    std::fs::write(&config, learning).unwrap();
    let log = dir.path().join("bot.log");
    std::fs::write(&log, day()).unwrap();
    let out = logwarden(
        &config,
        &["replay", "--timezone", "UTC", log.to_str().unwrap()],
    );
    assert!(out.status.success());
    assert!(
        !dir.path().join("state").exists(),
        "no --seed: nothing saved"
    );
    let out = logwarden(
        &config,
        &[
            "replay",
            "--seed",
            "--timezone",
            "UTC",
            log.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("state/rules/bot/new-errors.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["version"], 2);
    // Learning ended an hour after the first line, in log time.
    assert_eq!(saved["learn_until_ms"], 1_795_392_000_000i64 + 3_600_000);
    assert_eq!(saved["templates"].as_array().unwrap().len(), 1, "{saved}");
}
