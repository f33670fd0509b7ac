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
