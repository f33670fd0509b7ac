//! Reload: a changed pattern file is picked up without a restart, and so is one that only
//! SIGHUP announces; a broken one is refused with its file:line:column, alerted, and the old
//! config keeps running (its rules still fire); the alert resolves when the file is fixed.

mod common;

use std::time::Duration;

use common::{append, config_dir, Daemon};

const CONFIG: &str = r#"
[daemon]
state_dir = "@DIR@/state"
patterns_dir = "@DIR@/patterns"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["mine"]

  [[watch.rule]]
  name = "boom"
  when = "match"
  pattern = "boom"
  cooldown = "0s"
"#;

fn pack(literals: &str) -> String {
    format!("[[pattern]]\nname = \"boom\"\ncase_sensitive = true\nany = [{literals}]\n")
}

#[test]
fn a_broken_pattern_file_is_refused_and_the_old_config_keeps_running() {
    let (dir, config) = config_dir(CONFIG);
    std::fs::create_dir_all(dir.path().join("patterns")).unwrap();
    let pack_path = dir.path().join("patterns/mine.toml");
    std::fs::write(&pack_path, pack("\"BOOM\"")).unwrap();
    let log = dir.path().join("bot.log");
    append(&log, &["start".to_string()]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(&log, &["BOOM 1".to_string()]);
    d.wait_for("BOOM 1", Duration::from_secs(5), |v| v["line"] == "BOOM 1");

    // A broken pack: refused, with its position; the old config goes on.
    std::fs::write(
        &pack_path,
        "[[pattern]]\nname = \"boom\"\nregex = ['(unclosed']\n",
    )
    .unwrap();
    let refused = d.wait_for("refusal", Duration::from_secs(10), |v| {
        v["message"] == "config not reloaded"
    });
    let problem = refused["problem"].as_str().unwrap_or("");
    assert!(
        problem.contains("mine.toml:3:"),
        "file:line:column: {refused}"
    );
    // ... and alerted, through the channels of the watches, with the problems quoted.
    let alert = d.wait_alert("config-rejected", "firing", Duration::from_secs(10));
    assert_eq!(alert["watch"], "logwarden");
    assert!(
        alert["line"]
            .as_str()
            .unwrap_or("")
            .contains("mine.toml:3:"),
        "{alert}"
    );
    append(&log, &["BOOM 2".to_string()]);
    d.wait_for("BOOM 2 with the old config", Duration::from_secs(5), |v| {
        v["line"] == "BOOM 2"
    });

    // Fixed, with a new literal: reloaded; positions kept (nothing read twice).
    std::fs::write(&pack_path, pack("\"BOOM\", \"BANG\"")).unwrap();
    d.wait_for("reload", Duration::from_secs(10), |v| {
        v["message"] == "config reloaded"
    });
    d.wait_alert("config-rejected", "resolved", Duration::from_secs(10));
    d.wait_reading(&log);
    append(&log, &["BANG 3".to_string()]);
    d.wait_for("BANG 3 with the new config", Duration::from_secs(5), |v| {
        v["line"] == "BANG 3"
    });
    d.collect_for(Duration::from_millis(500));
    for n in ["BOOM 1", "BOOM 2", "BANG 3"] {
        let count = d.seen.iter().filter(|v| v["line"] == n).count();
        assert_eq!(count, 1, "{n} seen {count} times");
    }
    // The broken file was reported once, not at every look at the files.
    assert_eq!(d.count_alerts("config-rejected", "firing"), 1);
}

#[test]
fn sighup_reloads_a_change_the_file_check_cannot_see() {
    let (dir, config) = config_dir(CONFIG);
    std::fs::create_dir_all(dir.path().join("patterns")).unwrap();
    let pack_path = dir.path().join("patterns/mine.toml");
    std::fs::write(&pack_path, pack("\"BOOM\"")).unwrap();
    let log = dir.path().join("bot.log");
    append(&log, &["start".to_string()]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(&log, &["BOOM 1".to_string()]);
    d.wait_for("BOOM 1", Duration::from_secs(5), |v| v["line"] == "BOOM 1");

    // The same size and modification time: only SIGHUP tells logwarden about this edit.
    let modified = std::fs::metadata(&pack_path).unwrap().modified().unwrap();
    std::fs::write(&pack_path, pack("\"BANG\"")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&pack_path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    d.signal("HUP");
    d.wait_for("SIGHUP", Duration::from_secs(5), |v| {
        v["message"] == "SIGHUP: reloading the config"
    });
    d.wait_for("reload", Duration::from_secs(10), |v| {
        v["message"] == "config reloaded"
    });
    d.wait_reading(&log);
    append(&log, &["BOOM 2".to_string(), "BANG 3".to_string()]);
    d.wait_for("BANG 3 with the new config", Duration::from_secs(5), |v| {
        v["line"] == "BANG 3"
    });
    d.collect_for(Duration::from_millis(500));
    assert!(
        !d.seen.iter().any(|v| v["line"] == "BOOM 2"),
        "BOOM 2 matched: the old pattern is still in use"
    );
    assert_eq!(d.seen.iter().filter(|v| v["line"] == "BOOM 1").count(), 1);
    assert!(
        !d.seen
            .iter()
            .any(|v| v["message"] == "a config or pattern file changed: reloading"),
        "the file check saw the edit: this test no longer proves SIGHUP"
    );
}
