//! Recovering frozen services with a real systemd (PID 1 in a namespace) and a real bot unit
//! that logs `Update VIX=...` and serves a health endpoint: freeze detection, restart and
//! verification, the hourly limit and hand-over, operators' stops and pauses, and the
//! heartbeat and disk probes.

mod common;
#[path = "common/systemd.rs"]
mod systemd;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{free_port, Daemon};
use systemd::{shared_tempdir, SystemdNs};

const BOT: &str = r#"#!/usr/bin/python3
import http.server, os, sys, threading, time
log, port = sys.argv[1], int(sys.argv[2])
freeze_after = float(sys.argv[3]) if len(sys.argv) > 3 else 0
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        # /ready fails while LOG.unready exists (a bot that logs but cannot trade).
        ready = not (self.path == "/ready" and os.path.exists(log + ".unready"))
        self.send_response(200 if ready else 500)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}' if ready else b'{"status": "not ready"}')
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Health)
threading.Thread(target=server.serve_forever, daemon=True).start()
start, i = time.time(), 0
while True:
    i += 1
    with open(log, "a") as f:
        f.write("2026-11-23 09:41:42,123 - bot - INFO - Update VIX=17.%d\n" % i)
    if freeze_after and time.time() - start > freeze_after:
        os.kill(os.getpid(), 19)  # SIGSTOP: frozen, alive, silent
    time.sleep(0.2)
"#;

/// A bot (bash) that logs every 200 ms and writes one last line when it is stopped (a SIGTERM
/// handler, run when a frozen bot is thawed and stopped). From its second start on, it hangs
/// silently: active, but it writes nothing.
const HANGS_ON_SECOND_START: &str = r#"#!/bin/bash
log=$1 marker=$2
if [ -e "$marker" ]; then exec sleep 100000; fi
touch "$marker"
trap 'echo "2026-11-23 09:41:43,000 - bot - INFO - shutting down on SIGTERM" >> "$log"; exit 0' TERM
i=0
while true; do
  i=$((i+1))
  echo "2026-11-23 09:41:42,123 - bot - INFO - Update VIX=17.$i" >> "$log"
  sleep 0.2
done
"#;

/// Which bot the unit runs.
enum Bot {
    /// `BOT`, freezing itself after so many seconds if set.
    Python { freeze_after: Option<f64> },
    /// `HANGS_ON_SECOND_START`, without a health endpoint (and so without the probe).
    HangsOnSecondStart,
}

struct Setup {
    ns: SystemdNs,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    log: std::path::PathBuf,
}

/// Boots systemd, installs the bot unit (freezing itself after `freeze_after` s if set) and
/// writes a logwarden config with `extra` appended to the watch.
fn setup(freeze_after: Option<f64>, max_restarts: u32, extra: &str) -> Setup {
    setup_bot(Bot::Python { freeze_after }, max_restarts, extra)
}

fn setup_bot(which: Bot, max_restarts: u32, extra: &str) -> Setup {
    let ns = SystemdNs::boot();
    let dir = shared_tempdir();
    let log = dir.path().join("bot.log");
    let port = free_port();
    let exec_start = match which {
        Bot::Python { freeze_after } => {
            let bot = SystemdNs::script(&dir.path().join("bot.py"), BOT);
            let freeze = freeze_after.map(|f| format!(" {f}")).unwrap_or_default();
            format!(
                "/usr/bin/python3 {} {} {port}{freeze}",
                bot.display(),
                log.display()
            )
        }
        Bot::HangsOnSecondStart => {
            let bot = SystemdNs::script(&dir.path().join("bot.sh"), HANGS_ON_SECOND_START);
            format!(
                "/bin/bash {} {} {}",
                bot.display(),
                log.display(),
                dir.path().join("started-once").display()
            )
        }
    };
    let probe = match which {
        Bot::Python { .. } => format!(
            r#"
  [[watch.probe]]
  name = "health"
  kind = "http"
  url = "http://127.0.0.1:{port}/health"
  every = "500ms"
  timeout = "300ms"
  failures = 2
  then = ["alert", "restart"]
"#
        ),
        Bot::HangsOnSecondStart => String::new(),
    };
    ns.install_unit(
        "bot.service",
        &format!("[Service]\nExecStart={exec_start}\nTimeoutStopSec=1s\n"),
    );
    let config = dir.path().join("logwarden.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
state_dir = "{state}"
poll_interval = "200ms"

[[watch]]
name = "bot"
unit = "bot.service"
files = ["{log}"]
patterns = ["trading"]

  [watch.restart]
  stop_timeout = "1s"
  verify_after = "1500ms"
  backoff = "1s"
  backoff_max = "4s"
  max_restarts = {max_restarts}
  window = "1h"
  startup_grace = "1s"

  [[watch.rule]]
  name = "log-stale"
  when = "stale"
  after = "2s"
  severity = "critical"
  then = ["alert", "restart"]
{probe}{extra}
"#,
            extra = extra.replace("@PORT@", &port.to_string()),
            state = dir.path().join("state").display(),
            log = log.display(),
        ),
    )
    .unwrap();
    Setup {
        ns,
        dir,
        config,
        log,
    }
}

fn wait_lines(log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(log).map(|m| m.len()).unwrap_or(0) < 200 {
        assert!(Instant::now() < deadline, "the bot does not log");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_frozen_bot_is_detected_restarted_verified_and_alerted_once() {
    let s = setup(None, 3, "");
    let mut d = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &systemd::bin());
    s.ns.systemctl(&["start", "bot.service"]);
    wait_lines(&s.log);
    std::thread::sleep(Duration::from_secs(2));
    let frozen_at = Instant::now();
    s.ns.systemctl(&[
        "kill",
        "--kill-whom=main",
        "--signal=SIGSTOP",
        "bot.service",
    ]);
    let done = d.wait_for("verified restart", Duration::from_secs(30), |v| {
        common::is_alert(v, "restart", "event")
            && v["summary"]
                .as_str()
                .is_some_and(|t| t.contains("verified healthy"))
    });
    let freeze_to_healthy = frozen_at.elapsed();
    // It names its cause: the rule or probe that asked, with its evidence.
    let summary = done["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("because log-stale: no new line for")
            || summary.contains("because health: "),
        "{summary}"
    );
    d.collect_for(Duration::from_secs(4));
    println!(
        "freeze to verified healthy: {:.1}s; {}",
        freeze_to_healthy.as_secs_f64(),
        done["summary"]
    );
    assert_eq!(
        d.count_alerts("restart", "event"),
        1,
        "one restart, one alert"
    );
    assert!(d.count_alerts("log-stale", "firing") + d.count_alerts("health", "firing") >= 1);
    assert_eq!(d.count_alerts("manual-intervention", "firing"), 0);
    let out = s.ns.run(&["systemctl", "is-active", "bot.service"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "active");
    // Verified by the new process itself: its PID, and lines it wrote.
    let out = s.ns.run(&[
        "systemctl",
        "show",
        "-p",
        "MainPID",
        "--value",
        "bot.service",
    ]);
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let summary = done["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains(&format!("the new process (PID {pid}) wrote")),
        "{summary}"
    );
    drop(s.dir);
}

/// Finding 2 of issue 15: the old process's last line, written while it was thawed and
/// stopped, and read after the new start, is no proof that the new one lives.
#[test]
fn a_restart_whose_new_process_hangs_silently_is_not_verified_by_the_old_ones_last_line() {
    let s = setup_bot(Bot::HangsOnSecondStart, 2, "");
    let mut d = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &systemd::bin());
    s.ns.systemctl(&["start", "bot.service"]);
    wait_lines(&s.log);
    std::thread::sleep(Duration::from_secs(1));
    s.ns.systemctl(&[
        "kill",
        "--kill-whom=main",
        "--signal=SIGSTOP",
        "bot.service",
    ]);
    let first = d.wait_alert("restart", "event", Duration::from_secs(30));
    let summary = first["summary"].as_str().unwrap_or_default().to_string();
    println!("first restart: {summary}");
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert!(
        log.contains("shutting down on SIGTERM"),
        "the old process wrote its last line while it was stopped"
    );
    assert!(!summary.contains("verified healthy"), "{summary}");
    assert!(
        summary.contains("the restart did not bring it back")
            && summary.contains("wrote no log line"),
        "{summary}"
    );
    // It counts: the second attempt fails the same way, and then a person is asked.
    d.wait_alert("manual-intervention", "firing", Duration::from_secs(30));
    d.collect_for(Duration::from_secs(3));
    assert_eq!(
        d.count_alerts("restart", "event"),
        2,
        "two attempts, then hands off"
    );
    let verified = d
        .seen
        .iter()
        .filter(|v| {
            v["summary"]
                .as_str()
                .is_some_and(|t| t.contains("verified healthy"))
        })
        .count();
    assert_eq!(verified, 0, "never verified healthy");
    // Nor did the old process's line end the silence as if the bot were back.
    assert_eq!(d.count_alerts("log-stale", "firing"), 1);
    assert_eq!(d.count_alerts("log-stale", "resolved"), 0);
    drop(s.dir);
}

#[test]
fn a_bot_that_freezes_after_every_restart_gets_three_restarts_then_a_hand_over() {
    let s = setup(Some(1.0), 3, "");
    let mut d = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &systemd::bin());
    s.ns.systemctl(&["start", "bot.service"]);
    d.wait_alert("manual-intervention", "firing", Duration::from_secs(90));
    // Hands off from now on: no fourth restart.
    d.collect_for(Duration::from_secs(8));
    let restarts = d.count_alerts("restart", "event");
    println!("restarts before the hand-over: {restarts}");
    assert_eq!(restarts, 3, "exactly three restarts in the hour");
    assert_eq!(
        d.count_alerts("manual-intervention", "firing"),
        1,
        "one hand-over alert"
    );
    let saved = std::fs::read_to_string(s.dir.path().join("state/restarts.json")).unwrap();
    assert!(saved.contains("\"gave_up\": true"), "{saved}");
}

#[test]
fn an_operator_stop_and_a_pause_are_not_fought() {
    let s = setup(None, 3, "");
    let mut d = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &systemd::bin());
    s.ns.systemctl(&["start", "bot.service"]);
    wait_lines(&s.log);
    // An operator stops the bot: its log goes stale, but it is not restarted.
    s.ns.systemctl(&["stop", "bot.service"]);
    d.wait_alert("log-stale", "firing", Duration::from_secs(10));
    d.collect_for(Duration::from_secs(4));
    assert_eq!(d.count_alerts("restart", "event"), 0, "stopped on purpose");
    // A deploy window: paused, then the bot freezes; still no restart.
    let out =
        s.ns.command(systemd::bin())
            .args(["--config"])
            .arg(&s.config)
            .args(["pause", "bot", "--for", "1h"])
            .output()
            .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.ns.systemctl(&["start", "bot.service"]);
    wait_lines(&s.log);
    std::thread::sleep(Duration::from_secs(2));
    s.ns.systemctl(&[
        "kill",
        "--kill-whom=main",
        "--signal=SIGSTOP",
        "bot.service",
    ]);
    d.collect_for(Duration::from_secs(6));
    assert_eq!(
        d.count_alerts("restart", "event"),
        0,
        "paused by the operator"
    );
    // Resumed: the frozen bot is restarted.
    let out =
        s.ns.command(systemd::bin())
            .args(["--config"])
            .arg(&s.config)
            .args(["resume", "bot"])
            .output()
            .unwrap();
    assert!(out.status.success());
    d.wait_alert("restart", "event", Duration::from_secs(20));
}

#[test]
fn a_stale_heartbeat_and_a_filling_disk_fire_their_alerts_at_the_level_reached() {
    let extra_dir = shared_tempdir();
    let hb = extra_dir.path().join("heartbeat");
    std::fs::write(&hb, b"beat").unwrap();
    let disk = extra_dir.path().join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let extra = format!(
        r#"
  [[watch.probe]]
  name = "heartbeat"
  kind = "heartbeat"
  path = "{hb}"
  max_age = "2s"
  every = "500ms"
  failures = 1
  severity = "warning"

  [[watch.probe]]
  name = "disk"
  kind = "disk"
  path = "{disk}"
  warning = 80
  critical = 90
  every = "500ms"
  failures = 1
"#,
        hb = hb.display(),
        disk = disk.display()
    );
    let s = setup(None, 3, &extra);
    // A 1 MiB tmpfs, visible to logwarden inside the namespace.
    let d_str = disk.display().to_string();
    assert!(s
        .ns
        .run(&["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", &d_str])
        .status
        .success());
    let mut d = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &systemd::bin());
    let fired = d.wait_alert("heartbeat", "firing", Duration::from_secs(10));
    assert!(
        fired["summary"].as_str().unwrap().contains("last written"),
        "{fired}"
    );
    let fill = |name: &str, kib: u32| {
        s.ns.run(&[
            "dd",
            "if=/dev/zero",
            &format!("of={d_str}/{name}"),
            "bs=1k",
            &format!("count={kib}"),
        ]);
    };
    // 83 %: a warning, at severity warning.
    fill("fill", 850);
    let warning = d.wait_alert("disk", "firing", Duration::from_secs(10));
    assert!(
        warning["summary"].as_str().unwrap().contains("WARNING"),
        "{warning}"
    );
    assert_eq!(warning["severity"], "warning", "{warning}");
    // 94 %: it escalates: an alert at severity critical (an event; the rule stays firing).
    fill("fill2", 110);
    let full = d.wait_for("disk critical", Duration::from_secs(10), |v| {
        common::is_alert(v, "disk", "event") && v["severity"] == "critical"
    });
    assert!(
        full["summary"].as_str().unwrap().contains("CRITICAL"),
        "{full}"
    );
    s.ns.run(&["rm", &format!("{d_str}/fill"), &format!("{d_str}/fill2")]);
    d.wait_alert("disk", "resolved", Duration::from_secs(10));
    std::fs::write(&hb, b"beat").unwrap();
    d.wait_alert("heartbeat", "resolved", Duration::from_secs(10));
}

#[test]
fn a_restart_cut_short_by_logwarden_dying_between_stop_and_start_is_finished_at_its_next_start() {
    let s = setup(None, 3, "");
    s.ns.systemctl(&["start", "bot.service"]);
    wait_lines(&s.log);
    // What a kill -9 of logwarden between its `systemctl stop` and `start` leaves: the unit
    // stopped cleanly (as an operator's stop looks) and the restart marked in progress.
    s.ns.systemctl(&["stop", "bot.service"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    std::fs::create_dir_all(s.dir.path().join("state")).unwrap();
    std::fs::write(
        s.dir.path().join("state/restarts.json"),
        format!(
            r#"{{"version":2,"watches":{{"bot":{{"history":[{}],"attempt":1,"gave_up":false,"resume_seen":0,"in_progress_unix_ms":{},"in_progress_reason":"log-stale: no new line for 3s (limit 2s)"}}}}}}"#,
            now.as_secs(),
            now.as_millis()
        ),
    )
    .unwrap();
    let mut d = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &systemd::bin());
    let done = d.wait_alert("restart", "event", Duration::from_secs(30));
    let summary = done["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("the next one finished it") && summary.contains("verified healthy"),
        "{summary}"
    );
    // The cause the killed logwarden began it for was saved with it, and is named.
    assert!(
        summary.contains(" because log-stale: no new line for 3s (limit 2s)"),
        "{summary}"
    );
    let out = s.ns.run(&["systemctl", "is-active", "bot.service"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "active");
    // Counted once (by the run that began it), and no longer in progress.
    d.collect_for(Duration::from_secs(1));
    let saved = std::fs::read_to_string(s.dir.path().join("state/restarts.json")).unwrap();
    assert!(!saved.contains("in_progress"), "{saved}");
    assert!(saved.contains("\"attempt\": 1"), "{saved}");
    drop(s.dir);
}

/// A rule on error lines that asks for a restart: fired by a line the test appends, to see
/// what an alert says logwarden does while its restarts are off.
const ERRORS_RULE: &str = r#"
  [[watch.rule]]
  name = "errors"
  when = "rate"
  pattern = "error"
  threshold = 1
  window = "1s"
  then = ["alert", "restart"]
"#;

/// logwarden's own log lines (not alerts) whose message contains `text`.
fn logged(d: &Daemon, text: &str) -> usize {
    d.seen
        .iter()
        .filter(|v| v["type"] != "alert")
        .filter(|v| v["message"].as_str().is_some_and(|m| m.contains(text)))
        .count()
}

/// The restart decisions logwarden logged: what must not repeat while its hands are off.
fn restart_chatter(d: &Daemon) -> usize {
    d.seen
        .iter()
        .filter(|v| v["type"] != "alert")
        .filter(|v| {
            v["message"].as_str().is_some_and(|m| {
                ["restarting", "not restarting", "backing off"]
                    .iter()
                    .any(|t| m.contains(t))
            })
        })
        .count()
}

/// Appends two error lines (more than `threshold`); returns the `errors` alert they fire.
fn fire_errors(d: &mut Daemon, log: &Path) -> serde_json::Value {
    let line = "2026-11-23 09:41:44,000 - bot - ERROR - socket timed out".to_string();
    common::append(log, &[line.clone(), line]);
    d.wait_alert("errors", "firing", Duration::from_secs(20))
}

/// Finding 8 of issue 15, an operator's stop: one line when it begins, none while it lasts
/// (several rechecks), one when the unit runs again; alerts meanwhile say that logwarden
/// will not restart it.
#[test]
fn an_operator_stop_is_logged_once_when_it_begins_and_once_when_it_ends() {
    let s = setup(None, 3, ERRORS_RULE);
    let mut d = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &systemd::bin());
    s.ns.systemctl(&["start", "bot.service"]);
    wait_lines(&s.log);
    s.ns.systemctl(&["stop", "bot.service"]);
    d.wait_for("the stop noticed", Duration::from_secs(30), |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("not restarting"))
    });
    // Long enough for two rechecks (every 10 s) and any backoff.
    d.collect_for(Duration::from_secs(22));
    assert_eq!(restart_chatter(&d), 1, "one line when the stop was noticed");
    let fired = fire_errors(&mut d, &s.log);
    let action = fired["action"].as_str().unwrap_or_default();
    assert!(
        action.contains("stopped by an operator; logwarden will not restart it"),
        "{fired}"
    );
    assert!(!action.contains("logwarden restarts"), "{fired}");
    s.ns.systemctl(&["start", "bot.service"]);
    d.wait_for("the start noticed", Duration::from_secs(40), |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("no longer stopped by an operator"))
    });
    d.collect_for(Duration::from_secs(5));
    assert_eq!(logged(&d, "no longer stopped by an operator"), 1);
    assert_eq!(restart_chatter(&d), 1, "and not restarted once it ran");
    assert_eq!(d.count_alerts("restart", "event"), 0);
}

/// Finding 8 of issue 15, a hand-over: one line when it begins, none while it lasts, one
/// when an operator resumes; alerts meanwhile say that logwarden keeps its hands off.
#[test]
fn a_hand_over_is_logged_once_when_it_begins_and_once_when_it_ends() {
    let s = setup(Some(1.0), 2, ERRORS_RULE);
    let mut d = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &systemd::bin());
    s.ns.systemctl(&["start", "bot.service"]);
    d.wait_alert("manual-intervention", "firing", Duration::from_secs(60));
    let before = restart_chatter(&d);
    d.collect_for(Duration::from_secs(20));
    assert_eq!(
        restart_chatter(&d),
        before,
        "nothing logged while hands are off"
    );
    assert_eq!(logged(&d, "MANUAL INTERVENTION NEEDED"), 1);
    let fired = fire_errors(&mut d, &s.log);
    let action = fired["action"].as_str().unwrap_or_default();
    assert!(
        action.contains("keeps its hands off bot.service until `logwarden resume bot`"),
        "{fired}"
    );
    let out =
        s.ns.command(systemd::bin())
            .args(["--config"])
            .arg(&s.config)
            .args(["resume", "bot"])
            .output()
            .unwrap();
    assert!(out.status.success());
    d.wait_alert("manual-intervention", "resolved", Duration::from_secs(10));
    assert_eq!(logged(&d, "automatic restarts are on again"), 1);
}

/// Seed 000's watchdog across restarts of logwarden: a probe that fails once, logwarden gets
/// SIGTERM; once more, `kill -9`; the next logwarden's first check is the third failure in a
/// row, and the unit is restarted for it (the streak lives in `state_dir/probes.json`).
#[test]
fn a_probe_failing_across_a_sigterm_and_a_kill_9_of_logwarden_restarts_the_unit_on_the_third() {
    let extra = r#"
  [[watch.probe]]
  name = "ready"
  kind = "http"
  url = "http://127.0.0.1:@PORT@/ready"
  every = "1s"
  timeout = "300ms"
  failures = 3
  then = ["alert", "restart"]
"#;
    let s = setup(None, 3, extra);
    s.ns.systemctl(&["start", "bot.service"]);
    wait_lines(&s.log);
    let main_pid = || {
        let out = s.ns.run(&[
            "systemctl",
            "show",
            "-p",
            "MainPID",
            "--value",
            "bot.service",
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let before = main_pid();
    let mut unready = s.log.clone().into_os_string();
    unready.push(".unready");
    std::fs::write(&unready, b"").unwrap();
    let state = s.dir.path().join("state");
    let saved = || -> u64 {
        std::fs::read(state.join("probes.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["probes"]["bot/ready"]["failures"].as_u64())
            .unwrap_or(0)
    };
    let wait_saved = |n: u64| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while saved() < n {
            assert!(Instant::now() < deadline, "streak {n} never saved");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let bin = systemd::bin();
    let mut first = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &bin);
    wait_saved(1);
    first.collect_for(Duration::from_millis(50));
    assert!(first.stop_in_pid_ns(), "logwarden stops cleanly on SIGTERM");
    let mut second = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &bin);
    wait_saved(2);
    second.collect_for(Duration::from_millis(50));
    assert_eq!(
        second.count_alerts("ready", "firing"),
        0,
        "two failures are not down"
    );
    let _ = second.kill9_in_pid_ns();
    assert_eq!(main_pid(), before, "not restarted after two failures");
    let started = Instant::now();
    let mut third = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &bin);
    third.wait_alert("ready", "firing", Duration::from_secs(10));
    // Its first check (at once): counting from 0 would take three, 1 s apart.
    let down_after = started.elapsed();
    assert!(
        down_after < Duration::from_millis(1500),
        "down {down_after:?} after the start"
    );
    let restart = third.wait_alert("restart", "event", Duration::from_secs(20));
    let said = restart["summary"].as_str().unwrap_or_default();
    println!("third run: {said}");
    assert!(
        said.contains("because ready: probe ready failed 3 times in a row"),
        "{restart}"
    );
    assert_ne!(main_pid(), before, "the unit was restarted");
}
