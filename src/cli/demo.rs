//! `logwarden demo`: the real pipeline against a bundled bot that works, bursts errors, then
//! freezes. Nothing is simulated on logwarden's side: the bot is a separate process writing a
//! real file, which logwarden follows, matches and judges exactly as in production.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::actions::channels::console;
use crate::config;
use crate::core::alert::{Alert, AlertState};
use crate::core::logging::LogFormat;
use crate::core::shutdown;

/// How long the demo runs before it stops by itself.
pub const DEMO_LENGTH: Duration = Duration::from_secs(25);

/// The demo's config: short windows so everything happens within half a minute.
const DEMO_CONFIG: &str = r#"
[daemon]
state_dir = "state"
poll_interval = "500ms"

[[watch]]
name = "demo-bot"
files = ["bot.log"]
patterns = ["python-logging", "trading"]
start_at = "beginning"
notify = ["console"]

  [[watch.rule]]
  name = "error-burst"
  when = "rate"
  pattern = "error"
  threshold = 8
  resolve_below = 2
  window = "5s"
  severity = "critical"

  [watch.restart]
  command = ["@EXE@", "demo-restart", "@DIR@/bot.log", "--pidfile", "@DIR@/bot.pid"]
  verify_after = "2s"
  startup_grace = "2s"

  [[watch.rule]]
  name = "log-stale"
  when = "stale"
  after = "5s"
  severity = "critical"
  then = ["alert", "restart"]

  [[watch.rule]]
  name = "no-activity"
  when = "absent"
  pattern = "activity"
  min = 1
  window = "4s"
  severity = "warning"

  [[watch.rule]]
  name = "critical-line"
  when = "match"
  pattern = "critical"
  cooldown = "1m"
"#;

/// The alerts the demo must show; the demo exits non-zero if one is missing.
const EXPECTED: &[(&str, AlertState)] = &[
    ("error-burst", AlertState::Firing),
    ("critical-line", AlertState::Event),
    ("error-burst", AlertState::Resolved),
    ("log-stale", AlertState::Firing),
    ("no-activity", AlertState::Firing),
    ("restart", AlertState::Event),
    ("log-stale", AlertState::Resolved),
];

/// Runs the demo; returns whether every expected alert was seen.
pub async fn run(format: LogFormat) -> anyhow::Result<bool> {
    let dir = std::env::temp_dir().join(format!("logwarden-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(&dir, format).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(dir: &Path, format: LogFormat) -> anyhow::Result<bool> {
    let config_path = dir.join("logwarden.toml");
    let exe = std::env::current_exe()?;
    std::fs::write(
        &config_path,
        DEMO_CONFIG
            .replace("@EXE@", &exe.display().to_string())
            .replace("@DIR@", &dir.display().to_string()),
    )?;
    let config = config::load(&config_path).map_err(|e| anyhow::anyhow!("demo config: {e}"))?;
    let log = dir.join("bot.log");
    eprintln!(
        "logwarden demo: a bot writes {} ; logwarden follows it with the rules in {}\n\
         timeline: 0-7s healthy, 7-9s error burst, 9-14s healthy, then the bot freezes and\n\
         logwarden restarts it\n",
        log.display(),
        config_path.display()
    );
    let pidfile = dir.join("bot.pid");
    let mut bot = BotProcess {
        child: Command::new(&exe)
            .arg("demo-bot")
            .arg(&log)
            .arg("--pidfile")
            .arg(&pidfile)
            .stdin(Stdio::null())
            .spawn()?,
        pidfile,
    };
    let (trigger, shutdown) = shutdown::channel();
    let (tx, mut rx) = mpsc::channel::<Alert>(64);
    let telemetry = crate::telemetry::Telemetry::new(&config);
    let pipeline = tokio::spawn(crate::daemon::pipeline::run_with_sink(
        config, tx, telemetry, shutdown, None,
    ));
    let deadline = tokio::time::sleep(DEMO_LENGTH);
    tokio::pin!(deadline);
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            alert = rx.recv() => match alert {
                Some(a) => {
                    let text = match format {
                        LogFormat::Human => console::render_human(&a),
                        LogFormat::Json => console::render_json(&a, crate::actions::notification::Kind::Notice),
                    };
                    eprintln!("{text}");
                    seen.push((a.rule.clone(), a.state));
                }
                None => break,
            },
            _ = &mut deadline => break,
        }
    }
    trigger.trigger();
    bot.stop();
    let _ = pipeline.await;
    let missing: Vec<String> = EXPECTED
        .iter()
        .filter(|(rule, state)| !seen.iter().any(|(r, s)| r == rule && s == state))
        .map(|(rule, state)| format!("{rule} {}", state.word()))
        .collect();
    if missing.is_empty() {
        eprintln!(
            "\ndemo finished: {} alerts, every expected one seen (error burst, its resolution, the critical line, the frozen bot's stale log and missing activity, its restart and recovery)",
            seen.len()
        );
        Ok(true)
    } else {
        eprintln!(
            "\ndemo finished, but these alerts did not fire: {}",
            missing.join(", ")
        );
        Ok(false)
    }
}

/// Kills the bot when the demo ends, also on error: the first one, and the one a restart
/// started (named by the pidfile).
struct BotProcess {
    child: Child,
    pidfile: std::path::PathBuf,
}

impl BotProcess {
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill_pidfile(&self.pidfile);
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends SIGKILL to the process whose PID the file holds.
fn kill_pidfile(pidfile: &Path) {
    let pid = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok());
    if let Some(pid) = pid.filter(|&p| p > 1) {
        // SAFETY: plain kill(2) on a PID we started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// `logwarden demo-restart FILE --pidfile P`: the demo's restart command. Kills the frozen
/// bot and starts a calm one writing the same file, then returns (the new bot runs on).
pub fn restart_bot(log: &Path, pidfile: &Path) -> std::io::Result<()> {
    kill_pidfile(pidfile);
    Command::new(std::env::current_exe()?)
        .arg("demo-bot")
        .arg(log)
        .arg("--pidfile")
        .arg(pidfile)
        .arg("--calm")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(())
}

/// The bundled bot (`logwarden demo-bot FILE`): realistic Python-logging lines, an error burst
/// with a traceback at 7 s, healthy again at 9 s, frozen from 14 s (it stops writing and hangs).
pub fn bot(log: &Path, pidfile: Option<&Path>, calm: bool) -> std::io::Result<()> {
    if let Some(p) = pidfile {
        std::fs::write(p, std::process::id().to_string())?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let start = Instant::now();
    let mut seq: u64 = 0;
    let say = |msg: &str| println!("[demo-bot {:>4.1}s] {msg}", start.elapsed().as_secs_f64());
    if calm {
        say("restarted by logwarden: trading normally");
    } else {
        say("started: trading normally");
    }
    let mut burst_done = calm;
    let mut healthy_again = calm;
    loop {
        let t = start.elapsed();
        if t >= Duration::from_secs(14) && !calm {
            say("froze: a socket read hangs forever (the process stays alive, writes nothing)");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        if t >= Duration::from_secs(7) && !burst_done {
            say("error burst: the broker connection keeps timing out");
            for i in 0..12 {
                writeln!(
                    f,
                    "{} - bot.broker - ERROR - socket timeout while reading quotes (attempt {})",
                    stamp(),
                    i + 1
                )?;
            }
            writeln!(
                f,
                "{} - bot.main - CRITICAL - order rejected: connection reset by peer",
                stamp()
            )?;
            writeln!(f, "Traceback (most recent call last):")?;
            writeln!(f, "  File \"/opt/bot/broker.py\", line 88, in read_quotes")?;
            writeln!(f, "    data = sock.recv(4096)")?;
            writeln!(f, "TimeoutError: timed out")?;
            burst_done = true;
        }
        if t >= Duration::from_secs(9) && !healthy_again {
            say("recovered: trading normally again");
            healthy_again = true;
        }
        seq += 1;
        let line = match seq % 4 {
            0 => format!(
                "{} - bot.market - INFO - Update VIX=17.{:02} SPY=598.{:02}",
                stamp(),
                seq % 97,
                seq % 89
            ),
            1 => format!(
                "{} - bot.portfolio - INFO - Position SPY qty={} avg=597.10",
                stamp(),
                10 + seq % 5
            ),
            2 => format!(
                "{} - bot.market - INFO - Update VIX=17.{:02} heartbeat ok",
                stamp(),
                seq % 97
            ),
            _ => format!("{} - bot.orders - INFO - no signal, waiting", stamp()),
        };
        writeln!(f, "{line}")?;
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A Python-logging style timestamp (`2026-11-23 09:41:42,123`), UTC.
fn stamp() -> String {
    let t = crate::core::timefmt::rfc3339(std::time::SystemTime::now());
    // 2026-11-23T09:41:42.123Z -> 2026-11-23 09:41:42,123
    format!("{} {},{}", &t[..10], &t[11..19], &t[20..23])
}
