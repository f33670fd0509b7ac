//! An idle `logwarden run` following 10 files and a journal sleeps: over 10 s, the context
//! switches of all its threads (voluntary and not, from /proc/PID/task/*/status) stay within
//! one per second, plus a documented allowance. Wake-ups are counted, not timed, so a loaded
//! machine does not break it. Afterwards a line appended to one file is still read at once
//! (inotify drives the reading), and an entry written to the journal too.

mod common;
#[path = "common/journald.rs"]
mod journald;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{append, config_dir, Daemon};
use journald::PrivateJournal;

const CONFIG: &str = r#"
[daemon]
state_dir = "@DIR@/state"

[[watch]]
name = "bot"
files = [@FILES@]
patterns = ["python-logging"]

  [[watch.rule]]
  name = "every-error"
  when = "match"
  pattern = "error"
  cooldown = "0s"

  [[watch.rule]]
  name = "quiet"
  when = "stale"
  after = "10m"

[[watch]]
name = "svc"
patterns = ["python-logging"]

  [watch.journal]
  identifiers = ["svc"]

  [[watch.rule]]
  name = "journal-error"
  when = "match"
  pattern = "error"
  cooldown = "0s"
"#;

/// How long wake-ups are counted.
const COUNTED: Duration = Duration::from_secs(10);

/// Wake-ups allowed over `COUNTED` to the threads that follow the sources (`file-source`,
/// `glob-source`, `journal-source`, the hub's `file-timer` and inotify thread): one a second,
/// the hub's safety stat of every file at the default poll interval, plus 2 for whatever a
/// preempted thread adds.
const SOURCES_ALLOWED: u64 = 10 + 2;

/// Wake-ups allowed over `COUNTED` to everything else (the async runtime's threads): the
/// rules engine wakes every 5 s for its heartbeat (`HEARTBEAT_EVERY` in src/rules/engine),
/// each wake-up 2-3 context switches with tokio's timer wheel, and the wheel wakes on its
/// own at slot boundaries for far timers (a 10 min stale rule). Lower this when the engine
/// sleeps until its next deadline.
const RUNTIME_ALLOWED: u64 = 10;

/// Threads that follow sources, by name (`comm`, cut at 15 bytes).
fn is_source_thread(name: &str) -> bool {
    [
        "file-source",
        "glob-source",
        "journal-source",
        "file-timer",
        "notify-rs inoti",
    ]
    .iter()
    .any(|n| name.starts_with(n))
}

/// Context switches of every thread of `pid`, by thread name.
fn switches(pid: u32) -> BTreeMap<String, u64> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for t in tasks.flatten() {
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let n: u64 = status
            .lines()
            .filter(|l| {
                l.starts_with("voluntary_ctxt_switches")
                    || l.starts_with("nonvoluntary_ctxt_switches")
            })
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        *by_name
            .entry(format!(
                "{} ({})",
                comm.trim(),
                t.file_name().to_string_lossy()
            ))
            .or_insert(0) += n;
    }
    by_name
}

#[test]
fn idle_daemon_sleeps_and_still_reads() {
    let journal = PrivateJournal::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let files: Vec<_> = (0..10)
        .map(|i| dir.path().join(format!("bot-{i}.log")))
        .collect();
    for f in &files {
        append(
            f,
            &["2026-11-23 09:41:42,123 - bot - INFO - started".to_string()],
        );
    }
    let list = files
        .iter()
        .map(|f| format!("\"{}\"", f.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let (_cfg_dir, config) = config_dir(&CONFIG.replace("@FILES@", &list));
    let mut d = Daemon::start_in(&config, Some(journal.pid()));
    for f in &files {
        d.wait_reading(f);
    }
    d.wait_for("journal source", Duration::from_secs(10), |v| {
        v["message"] == "reading the journal"
    });
    // Settle: start-up work (opening, the first looks of the hub's timer) is not idle cost.
    d.collect_for(Duration::from_secs(3));

    let before = switches(d.pid());
    d.collect_for(COUNTED);
    let after = switches(d.pid());
    let (mut sources, mut runtime) = (0, 0);
    let mut report = Vec::new();
    for (name, n1) in &after {
        let n = n1 - before.get(name).copied().unwrap_or(0);
        if is_source_thread(name) {
            sources += n;
        } else {
            runtime += n;
        }
        if n > 0 {
            report.push(format!("{name}: {n}"));
        }
    }
    let report = format!(
        "{sources} + {runtime} context switches in {COUNTED:?} of idle over {} threads: {}",
        after.len(),
        report.join(", ")
    );
    eprintln!("idle: {report}");
    assert!(
        sources <= SOURCES_ALLOWED,
        "source threads: more than {SOURCES_ALLOWED}: {report}"
    );
    assert!(
        runtime <= RUNTIME_ALLOWED,
        "runtime threads: more than {RUNTIME_ALLOWED}: {report}"
    );

    // Still awake to what matters: a line in one file, an entry in the journal.
    append(
        &files[7],
        &["2026-11-23 09:41:43,000 - bot - ERROR - numbered 1 end".to_string()],
    );
    let fired = d.wait_alert("every-error", "event", Duration::from_secs(10));
    assert!(
        fired["line"]
            .as_str()
            .is_some_and(|l| l.contains("numbered 1")),
        "{fired}"
    );
    journal.write(
        "svc",
        "info",
        &["2026-11-23 09:41:44,000 - svc - ERROR - numbered 2 end".to_string()],
    );
    let fired = d.wait_alert("journal-error", "event", Duration::from_secs(10));
    assert!(
        fired["line"]
            .as_str()
            .is_some_and(|l| l.contains("numbered 2")),
        "{fired}"
    );
    assert!(d.stop(), "logwarden did not stop cleanly");
}
