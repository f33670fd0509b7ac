//! A user unit restarted through a real user manager, as seed 000 does it
//! (`systemctl --machine=senex@ --user restart web.service`): systemd as PID 1 in a
//! namespace, `user@UID.service` of a test user started in it, a bot unit of that user
//! that freezes, and logwarden (in the namespace) with `[watch.restart] user = ...`
//! detecting the freeze, restarting the unit through the user manager and verifying the
//! new process; its `unit` probe reads the user unit too. As root (`systemctl --user
//! --machine=USER@`), as the user itself (`systemctl --user`), and with the bot's log in the
//! journal (read by `_SYSTEMD_USER_UNIT` and `_UID`).
//!
//! What `--machine=USER@` needs, found by this test: the system bus (`dbus.socket`, started
//! in `basic.target`), the user's manager (`user@UID.service`, which also makes
//! `/run/user/UID`) and the user's bus in it (`dbus.socket` of the user manager, from
//! `dbus-user-session`), and linger, so that the user manager runs without a login (see
//! `start_user_manager`). systemd-logind is started by D-Bus activation.

mod common;
#[path = "common/systemd.rs"]
mod systemd;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::Daemon;
use systemd::{shared_tempdir, SystemdNs, SHARED_DIR};

/// The test user. Created on the host (its `/etc/passwd` is the namespace's), once, and
/// left in place: a system user without a login shell, its home under `SHARED_DIR`.
const USER: &str = "lwtest";

/// A bot (bash) that logs every 200 ms, to the file `$1` or, without it, to its stdout
/// (the journal); frozen by the test with SIGSTOP.
const BOT: &str = r#"#!/bin/bash
# stdout is the journal's socket: `>> /dev/stdout` cannot open it (ENXIO).
if [ -n "$1" ]; then exec >> "$1"; fi
i=0
while true; do
  i=$((i+1))
  echo "2026-11-23 09:41:42,123 - bot - INFO - Update VIX=17.$i"
  if [ $i = 10 ]; then echo "2026-11-23 09:41:42,123 - bot - ERROR - socket timeout"; fi
  sleep 0.2
done
"#;

/// Where the bot logs, and so what logwarden follows.
#[derive(Clone, Copy, PartialEq)]
enum Logs {
    File,
    /// The journal (an empty `[watch.journal]`: the watch's unit, read as a user unit).
    Journal,
}

/// `(uid, gid)` of the test user, creating it if it does not exist yet (idempotent; two
/// test processes racing to create it both end with the one that won).
fn test_user() -> (u32, u32) {
    let ids = || -> Option<(u32, u32)> {
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, USER]).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        Some((id("-u")?, id("-g")?))
    };
    if let Some(ids) = ids() {
        return ids;
    }
    std::fs::create_dir_all(SHARED_DIR).expect("create shared test dir");
    let home = format!("{SHARED_DIR}/home-{USER}");
    let out = Command::new("useradd")
        .args(["--system", "--create-home", "--home-dir", &home])
        .args(["--shell", "/usr/sbin/nologin", USER])
        .output()
        .expect("useradd (the tests run as root)");
    ids().unwrap_or_else(|| {
        panic!(
            "cannot create the test user {USER}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `systemctl --user --machine=USER@ ARGS...` inside the namespace.
fn user_systemctl(ns: &SystemdNs, args: &[&str]) -> Output {
    let machine = format!("--machine={USER}@");
    let mut all = vec!["systemctl", "--user", &machine];
    all.extend_from_slice(args);
    ns.run(&all)
}

/// Like `user_systemctl`, asserting success.
fn user_systemctl_ok(ns: &SystemdNs, args: &[&str]) -> String {
    let out = user_systemctl(ns, args);
    assert!(
        out.status.success(),
        "systemctl --user {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Starts the test user's manager the way a server runs one without a login: linger
/// (`loginctl enable-linger`, systemd-logind starts `user@UID.service`). Without linger,
/// each `systemctl --user --machine=USER@` call is a PAM session of its own, and logind
/// stops the user manager, bot and all, 10 s after the last one ended. The linger files go
/// to a tmpfs private to the namespace: the host's `/var/lib/systemd/linger` is untouched.
/// Then waits until the user manager answers on its bus.
fn start_user_manager(ns: &SystemdNs, uid: u32) {
    for args in [
        &["mkdir", "-p", "/var/lib/systemd/linger"][..],
        &["mount", "-t", "tmpfs", "tmpfs", "/var/lib/systemd/linger"],
        &["loginctl", "enable-linger", USER],
    ] {
        let out = ns.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = user_systemctl(ns, &["is-system-running"]);
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if state == "running" || state == "degraded" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the user manager of {USER} (user@{uid}.service) did not come up: {state:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Installs a user unit for every user of the namespace (its private
/// `/run/systemd/user`, on the user manager's unit path) and reloads the test user's manager.
fn install_user_unit(ns: &SystemdNs, name: &str, text: &str) {
    let dir = ns.run(&["mkdir", "-p", "/run/systemd/user"]);
    assert!(dir.status.success());
    let mut child = ns
        .command("sh")
        .args(["-c", &format!("cat > /run/systemd/user/{name}")])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("write user unit");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write user unit text");
    assert!(child.wait().expect("write user unit").success());
    user_systemctl_ok(ns, &["daemon-reload"]);
}

fn main_pid(ns: &SystemdNs) -> String {
    user_systemctl_ok(ns, &["show", "-p", "MainPID", "--value", "bot.service"])
}

fn wait_lines(log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(log).map(|m| m.len()).unwrap_or(0) < 200 {
        assert!(Instant::now() < deadline, "the bot does not log");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Setup {
    ns: SystemdNs,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    log: std::path::PathBuf,
    uid: u32,
    gid: u32,
}

/// Boots systemd, starts the test user's manager, installs its bot unit and writes a
/// logwarden config for it (restarted as a user unit, with a `unit` probe).
fn setup(logs: Logs) -> Setup {
    let (uid, gid) = test_user();
    let ns = SystemdNs::boot();
    start_user_manager(&ns, uid);
    let dir = shared_tempdir();
    // The bot runs as the test user: it must reach its script and write its log.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bot = SystemdNs::script(&dir.path().join("bot.sh"), BOT);
    let log = dir.path().join("bot.log");
    std::fs::write(&log, b"").unwrap();
    std::os::unix::fs::chown(&log, Some(uid), Some(gid)).unwrap();
    let (arg, source) = match logs {
        Logs::File => (
            log.display().to_string(),
            format!("files = [\"{}\"]", log.display()),
        ),
        Logs::Journal => (String::new(), "[watch.journal]".to_string()),
    };
    install_user_unit(
        &ns,
        "bot.service",
        &format!(
            "[Service]\nExecStart=/bin/bash {} {arg}\nTimeoutStopSec=1s\n",
            bot.display(),
        ),
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
patterns = ["python-logging", "trading"]
{source}

  [watch.restart]
  user = "{USER}"
  stop_timeout = "1s"
  verify_after = "1500ms"
  backoff = "1s"
  max_restarts = 3
  window = "1h"
  startup_grace = "1s"

  [[watch.rule]]
  name = "log-stale"
  when = "stale"
  after = "2s"
  severity = "critical"
  then = ["alert", "restart"]

  # One error line per start of the bot (2 s in): where it came from travels with the alert.
  [[watch.rule]]
  name = "errors"
  when = "match"
  pattern = "error"
  cooldown = "0s"

  # The user unit, read through the user manager: a system unit of that name does not
  # exist here, so a probe asking the system manager would find it inactive and fire.
  [[watch.probe]]
  name = "unit"
  kind = "unit"
  every = "500ms"
  timeout = "5s"
  failures = 2
"#,
            state = dir.path().join("state").display(),
        ),
    )
    .unwrap();
    user_systemctl_ok(&ns, &["start", "bot.service"]);
    Setup {
        ns,
        dir,
        config,
        log,
        uid,
        gid,
    }
}

/// Freezes the bot (SIGSTOP through its user manager) under a running logwarden `d`, and
/// checks that logwarden restarted it through the user manager and verified the new process.
fn freeze_and_check_the_restart(s: &Setup, d: &mut Daemon, logs: Logs) {
    match logs {
        Logs::File => wait_lines(&s.log),
        Logs::Journal => {
            d.wait_for("journal source", Duration::from_secs(10), |v| {
                v["message"] == "reading the journal"
            });
        }
    }

    let before = main_pid(&s.ns);
    std::thread::sleep(Duration::from_secs(2));
    let frozen_at = Instant::now();
    user_systemctl_ok(
        &s.ns,
        &[
            "kill",
            "--kill-whom=main",
            "--signal=SIGSTOP",
            "bot.service",
        ],
    );
    let done = d.wait_for("verified restart", Duration::from_secs(30), |v| {
        common::is_alert(v, "restart", "event")
            && v["summary"]
                .as_str()
                .is_some_and(|t| t.contains("verified healthy"))
    });
    let summary = done["summary"].as_str().unwrap_or_default().to_string();
    println!(
        "freeze to verified healthy: {:.1}s; {summary}",
        frozen_at.elapsed().as_secs_f64()
    );
    assert!(
        summary.contains("because log-stale: no new line for"),
        "{summary}"
    );
    // Verified through the user manager: the unit probe passes, and the new process's PID
    // (as the user manager tells it) wrote lines.
    assert!(summary.contains("probe unit passes"), "{summary}");
    let after = main_pid(&s.ns);
    assert_ne!(after, before, "a new process: {summary}");
    assert_ne!(after, "0", "the user unit runs again");
    assert!(
        summary.contains(&format!("the new process (PID {after}) wrote")),
        "{summary}"
    );
    assert_eq!(
        user_systemctl_ok(&s.ns, &["is-active", "bot.service"]),
        "active"
    );
    if logs == Logs::Journal {
        // The new process's error line, 2 s after its start (logwarden reads the journal
        // from its tail, after the first process's; `startup_grace` holds the rules for
        // 1 s): its unit is the user unit, not the user manager's own unit
        // (`_SYSTEMD_UNIT=user@UID.service`).
        let pid = format!("pid={after} ");
        let error = d.wait_for("the new process's error", Duration::from_secs(10), |v| {
            common::is_alert(v, "errors", "event")
                && v["source"].as_str().is_some_and(|s| s.contains(&pid))
        });
        let source = error["source"].as_str().unwrap_or_default();
        assert!(source.contains(" unit=bot.service "), "{error}");
    }
    d.collect_for(Duration::from_secs(2));
    assert_eq!(
        d.count_alerts("restart", "event"),
        1,
        "one restart, one alert"
    );
    assert_eq!(
        d.count_alerts("unit", "firing"),
        0,
        "the unit probe reads the user unit"
    );
    assert_eq!(d.count_alerts("manual-intervention", "firing"), 0);
    // Linger is on (see `start_user_manager`): no warning about it at start.
    let linger = d.seen.iter().filter(|v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("has no linger"))
    });
    assert_eq!(linger.count(), 0, "linger was found");
}

/// logwarden as root (as `systemd/logwarden.service` runs it): `--machine=lwtest@`.
#[test]
fn a_frozen_user_unit_is_restarted_through_the_user_manager_and_verified() {
    let started = Instant::now();
    let s = setup(Logs::File);
    let mut d = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &systemd::bin());
    freeze_and_check_the_restart(&s, &mut d, Logs::File);
    println!("test took {:.1}s", started.elapsed().as_secs_f64());
}

/// logwarden as the unit's own user (not root), without `$XDG_RUNTIME_DIR`: it cannot use
/// `--machine=lwtest@` (that needs root) and manages its own user manager directly.
#[test]
fn a_frozen_user_unit_is_restarted_by_a_logwarden_running_as_its_user() {
    let started = Instant::now();
    let s = setup(Logs::File);
    let state = s.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(s.uid), Some(s.gid)).unwrap();
    let as_user = SystemdNs::script(
        &s.dir.path().join("logwarden-as-user"),
        &format!(
            "#!/bin/sh\nexec setpriv --reuid={} --regid={} --clear-groups env -u XDG_RUNTIME_DIR {} \"$@\"\n",
            s.uid,
            s.gid,
            systemd::bin().display()
        ),
    );
    let mut d = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &as_user);
    freeze_and_check_the_restart(&s, &mut d, Logs::File);
    println!("test took {:.1}s", started.elapsed().as_secs_f64());
}

/// The bot logs to the journal only: logwarden reads its entries by `_SYSTEMD_USER_UNIT`,
/// and the verification counts only those of the new main PID that the user manager names.
/// Another user's `bot.service` (root's) logs all the while: its lines are not lwtest's bot's,
/// neither keeping the frozen bot's log alive nor firing its rules.
#[test]
fn a_frozen_user_unit_logging_to_the_journal_is_restarted_and_verified_by_its_entries() {
    let started = Instant::now();
    let s = setup(Logs::Journal);
    // Root's user manager, with a bot.service of its own (in its runtime unit directory,
    // which comes before /run/systemd/user).
    s.ns.systemctl(&["start", "user@0.service"]);
    let other = "mkdir -p /run/user/0/systemd/user && \
        printf '[Service]\\nExecStart=/bin/sh -c \"while true; do echo 2026-11-23 09:41:42,123 - bot - ERROR - socket timeout of another user; sleep 0.2; done\"\\n' \
        > /run/user/0/systemd/user/bot.service && \
        XDG_RUNTIME_DIR=/run/user/0 systemctl --user daemon-reload && \
        XDG_RUNTIME_DIR=/run/user/0 systemctl --user start bot.service";
    let out = s.ns.run(&["sh", "-c", other]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut d = Daemon::start_in_pid_ns(&s.config, s.ns.pid(), &systemd::bin());
    freeze_and_check_the_restart(&s, &mut d, Logs::Journal);
    let theirs = d.seen.iter().filter(|v| {
        v["line"]
            .as_str()
            .is_some_and(|l| l.contains("of another user"))
    });
    assert_eq!(theirs.count(), 0, "another user's bot.service was read");
    println!("test took {:.1}s", started.elapsed().as_secs_f64());
}
