//! Text from log lines is data, never code. A line full of shell syntax and template braces
//! fires a rule whose action restarts through a `command`: the command runs as configured
//! (its argv, no shell), nothing in the line is executed or expanded, and the alert quotes the
//! line as it was written.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{append, config_dir, Daemon};

const CONFIG: &str = r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]

  [watch.restart]
  command = ["/usr/bin/touch", "@DIR@/restarted"]
  verify_after = "1s"
  startup_grace = "0s"

  [[watch.rule]]
  name = "errors"
  when = "rate"
  pattern = "error"
  threshold = 1          # more than 1: the two lines below
  window = "1m"
  then = ["alert", "restart"]
"#;

fn wait_file(path: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    path.exists()
}

#[test]
fn shell_syntax_in_a_line_is_quoted_in_the_alert_and_never_run() {
    let (dir, cfg) = config_dir(CONFIG);
    let d = dir.path().display().to_string();
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut daemon = Daemon::start(&cfg);
    daemon.wait_reading(&log);
    let hostile = format!(
        "2026-11-23 09:41:42,123 - bot - ERROR - $(touch {d}/pwned1) `touch {d}/pwned2` ; \
         touch {d}/pwned3 | sh && {{{{ line }}}} {{line}} ${{HOME}} %s%n"
    );
    append(&log, &[hostile.clone(), hostile]);
    let alert = daemon.wait_alert("errors", "firing", Duration::from_secs(10));
    assert!(
        wait_file(&dir.path().join("restarted"), Duration::from_secs(15)),
        "the configured restart command did not run"
    );
    // The alert and the restart are done: a line run as code would have run by now.
    for name in ["pwned1", "pwned2", "pwned3"] {
        assert!(
            !dir.path().join(name).exists(),
            "text of the line was run: {name}"
        );
    }
    // The restart names its cause, the rate rule, in logwarden's words (no text of the line).
    let restart = daemon.wait_alert("restart", "event", Duration::from_secs(10));
    let said = restart["summary"].as_str().unwrap_or_default();
    assert!(said.contains("because errors: "), "{restart}");
    assert!(!said.contains("pwned"), "{restart}");
    let text = alert.to_string();
    for part in [
        "$(touch",
        "`touch",
        "| sh &&",
        "{{ line }}",
        "{line}",
        "${HOME}",
        "%s%n",
    ] {
        assert!(
            text.contains(part),
            "the alert does not quote {part:?} as written: {text}"
        );
    }
}

/// A line holding terminal control sequences (`ESC ] 0 ; title BEL` retitles the terminal,
/// `ESC [ 2 J` clears it, CSI as the one C1 character U+009B) fires an alert on the console
/// in the human format: standard error holds the alert, with the sequences written as
/// visible text, and not one control byte besides tab and newline.
#[test]
fn terminal_control_sequences_in_a_line_never_reach_stderr_raw() {
    let (dir, cfg) = config_dir(
        r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]

  [[watch.rule]]
  name = "each-error"
  when = "match"
  pattern = "error"
"#,
    );
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let err_path = dir.path().join("stderr");
    let child = std::process::Command::new(common::bin())
        .args(["--log-format", "human", "run", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "debug")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("start logwarden");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(child);
    let read = || std::fs::read(&err_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&read()).contains("reading file") {
        assert!(
            Instant::now() < deadline,
            "not reading: {}",
            String::from_utf8_lossy(&read())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    append(
        &log,
        &["2026-11-23 09:41:42,123 - bot - ERROR - title\x1b]0;pwned\x07 clear\x1b[2J \u{9b}2J bell\x07 del\x7f tab\tend-marker".into()],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&read()).contains("end-marker") {
        assert!(
            Instant::now() < deadline,
            "no alert: {}",
            String::from_utf8_lossy(&read())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let bytes = read();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("ALERT EVENT"), "{text}");
    assert!(
        text.contains("title\\x1b]0;pwned\\x07 clear\\x1b[2J"),
        "{text}"
    );
    assert!(text.contains("tab\tend-marker"), "the tab is kept: {text}");
    let raw: Vec<String> = bytes
        .iter()
        .filter(|&&b| (b < 0x20 && b != b'\t' && b != b'\n') || b == 0x7f)
        .map(|b| format!("{b:#04x}"))
        .collect();
    assert!(
        raw.is_empty(),
        "raw control bytes {raw:?} on stderr:\n{text}"
    );
    assert!(!text.contains('\u{9b}'), "a raw CSI on stderr: {text}");
}
