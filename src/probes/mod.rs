//! Probes: active checks of a watched service (HTTP health endpoint, optionally a JSON field
//! of its answer; heartbeat file; unit state and crash loops; disk and memory use). Each probe
//! runs as a task on its own interval, with a timeout, and reports a debounced verdict to the
//! rules engine: down after `failures` consecutive failures, up again at the first success.
//! The engine turns verdicts into firing/resolved alerts like any rule. Failure streaks
//! survive a restart of logwarden (`streaks.rs`).

pub mod cert;
mod streaks;

pub use streaks::Streaks;

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use crate::config::recovery::{CrashLoopLimit, JsonCheck};
use crate::config::{ProbeConfig, ProbeKind};
use crate::core::alert::Severity;
use crate::core::shutdown::Shutdown;
use crate::rules::Input;

/// One check's result: healthy or not, and what was seen (for the alert).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub healthy: bool,
    /// How bad a failure is, for checks that grade it (disk, memory); else `None` (the
    /// probe's `severity`).
    pub level: Option<Severity>,
    pub detail: String,
    /// The certificate a `cert` check read.
    pub cert: Option<cert::CertSeen>,
}

impl Verdict {
    fn up(detail: String) -> Verdict {
        Verdict {
            healthy: true,
            level: None,
            detail,
            cert: None,
        }
    }

    fn down(detail: String) -> Verdict {
        Verdict {
            healthy: false,
            level: None,
            detail,
            cert: None,
        }
    }

    fn down_at(level: Severity, detail: String) -> Verdict {
        Verdict {
            healthy: false,
            level: Some(level),
            detail,
            cert: None,
        }
    }
}

/// Where a probe runs: its watch (index and name), its index there, and what it shares with
/// the other probes of the pipeline.
pub struct ProbeSlot {
    pub watch: usize,
    pub watch_name: String,
    pub index: usize,
    pub client: reqwest::Client,
    pub inputs: mpsc::Sender<Input>,
    pub streaks: std::sync::Arc<Streaks>,
}

/// Runs `probe` every `probe.every` until shutdown, its failure streak going on from where
/// the previous logwarden left it (see `streaks.rs`).
pub async fn run(slot: ProbeSlot, probe: ProbeConfig, mut shutdown: Shutdown) {
    let ProbeSlot {
        watch,
        watch_name,
        index,
        client,
        inputs,
        streaks,
    } = slot;
    let key = format!("{watch_name}/{}", probe.name);
    let mut tick = tokio::time::interval(probe.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = streaks.resume(&key, &probe, SystemTime::now());
    if failures > 0 {
        tracing::info!(probe = %key, failures, "the probe failed {failures} times in a row before logwarden restarted; counting on");
    }
    // The verdict (healthy, level) last reported: nothing is reported until the first
    // debounced verdict. A change of level while down is reported too (the rule alerts when
    // it escalates).
    let mut reported: Option<(bool, Option<Severity>)> = None;
    let mut crash_loop = CrashLoop::default();
    // The certificate the last check read (a `cert` probe): one that does not change while
    // it nears its expiry means renewal is failing.
    let mut last_cert: Option<u64> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait() => return,
        }
        let mut v = check(&probe, &client).await;
        if let ProbeKind::Unit {
            unit,
            user,
            crash_loop: Some(limit),
        } = &probe.kind
        {
            let read = tokio::time::timeout(probe.timeout, n_restarts(unit, user.as_deref()));
            match read.await {
                Ok(Ok(n)) => {
                    if let Some(why) = crash_loop.observe(limit, Instant::now(), n) {
                        v = Verdict::down(format!("{unit}: {why}"));
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(probe = %probe.name, error = %e, "cannot read NRestarts")
                }
                Err(_) => tracing::warn!(probe = %probe.name, "reading NRestarts timed out"),
            }
        }
        if let Some(seen) = &v.cert {
            // Only for a certificate nearing its expiry: one served for the wrong host, say,
            // is not mended by a renewal.
            if seen.expiring && last_cert == Some(seen.fingerprint) {
                v.detail.push_str(
                    "; the same certificate as at the last check: renewal seems to have failed",
                );
            }
            last_cert = Some(seen.fingerprint);
        }
        failures = if v.healthy { 0 } else { failures + 1 };
        streaks.set(&key, failures).await;
        let verdict = if v.healthy {
            Some(true)
        } else if failures >= probe.failures {
            Some(false)
        } else {
            None
        };
        if let Some(healthy) = verdict {
            let level = if healthy { None } else { v.level };
            if reported != Some((healthy, level)) {
                reported = Some((healthy, level));
                let detail = if healthy {
                    format!("probe {} healthy again: {}", probe.name, v.detail)
                } else {
                    format!(
                        "probe {} failed {} times in a row: {}",
                        probe.name, failures, v.detail
                    )
                };
                let input = Input::Probe {
                    watch,
                    probe: index,
                    healthy,
                    level,
                    detail,
                };
                if inputs.send(input).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Runs one check now, within the probe's timeout.
pub async fn check(probe: &ProbeConfig, client: &reqwest::Client) -> Verdict {
    check_since(probe, client, None).await
}

/// Runs one check now, for the verification of a restart: with `since` (when the old process
/// was gone), a heartbeat file must also have been written since then, or what it proves is
/// that the old process lived. (An HTTP answer or a unit state is taken now anyway.)
pub async fn check_since(
    probe: &ProbeConfig,
    client: &reqwest::Client,
    since: Option<SystemTime>,
) -> Verdict {
    match tokio::time::timeout(probe.timeout, check_inner(&probe.kind, client, since)).await {
        Ok(v) => v,
        Err(_) => Verdict::down(format!(
            "no answer within {}",
            crate::config::duration::format_duration(probe.timeout)
        )),
    }
}

async fn check_inner(
    kind: &ProbeKind,
    client: &reqwest::Client,
    since: Option<SystemTime>,
) -> Verdict {
    match kind {
        ProbeKind::Http { url, json } => http(client, url, json.as_ref()).await,
        ProbeKind::Heartbeat { path, max_age } => match heartbeat(path, *max_age) {
            v if v.healthy && written_before(path, since) => Verdict::down(format!(
                "{} not written since the old process was stopped ({})",
                path.display(),
                v.detail
            )),
            v => v,
        },
        ProbeKind::Unit { unit, user, .. } => {
            let mut cmd = crate::core::systemctl::command(user.as_deref());
            cmd.args(["is-active", unit]);
            match cmd.output().await {
                Ok(o) => {
                    let mut state = String::from_utf8_lossy(&o.stdout).trim().to_string();
                    if state.is_empty() {
                        state = "unknown".into();
                    }
                    if state == "active" {
                        Verdict::up(format!("{unit} is active"))
                    } else {
                        // Why systemctl could not tell (its "unknown" alone says nothing),
                        // e.g. a user manager that cannot be reached.
                        let err = String::from_utf8_lossy(&o.stderr)
                            .trim()
                            .replace('\n', "; ");
                        let why = match crate::core::systemctl::hint(user.as_deref()) {
                            Some(h) if !err.is_empty() => format!(" ({err}; {h})"),
                            _ if !err.is_empty() => format!(" ({err})"),
                            _ => String::new(),
                        };
                        Verdict::down(format!("{unit} is {state}{why}"))
                    }
                }
                Err(e) => Verdict::down(format!("cannot run systemctl: {e}")),
            }
        }
        ProbeKind::Disk {
            path,
            warning,
            critical,
        } => match disk_used_percent(path) {
            Ok(used) => level(
                "disk",
                &format!("{} used", path.display()),
                used,
                *warning,
                *critical,
            ),
            Err(e) => Verdict::down(format!("cannot stat {}: {e}", path.display())),
        },
        ProbeKind::Cert {
            target,
            warning,
            critical,
            ca_file,
        } => {
            let check = cert::CertCheck {
                target,
                warning: *warning,
                critical: *critical,
                ca_file: ca_file.as_deref(),
            };
            let v = cert::check(&check).await;
            Verdict {
                healthy: v.level.is_none(),
                level: v.level,
                detail: v.detail,
                cert: v.seen,
            }
        }
        ProbeKind::Memory { warning, critical } => match memory_used_percent() {
            Ok(used) => level("memory", "memory used", used, *warning, *critical),
            Err(e) => Verdict::down(format!("cannot read /proc/meminfo: {e}")),
        },
    }
}

/// The longest answer read for a JSON check: a health answer is small, and a runaway one
/// must not fill the memory of a small machine.
const MAX_JSON_ANSWER: usize = 1 << 20;

async fn http(client: &reqwest::Client, url: &str, json: Option<&JsonCheck>) -> Verdict {
    let mut r = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => return Verdict::down(format!("GET {url}: {}", without_url(&e))),
    };
    let status = r.status();
    if !status.is_success() {
        return Verdict::down(format!("GET {url}: {status}"));
    }
    let Some(check) = json else {
        return Verdict::up(format!("GET {url}: {status}"));
    };
    let mut body = Vec::new();
    loop {
        match r.chunk().await {
            Ok(Some(c)) if body.len() + c.len() <= MAX_JSON_ANSWER => body.extend_from_slice(&c),
            Ok(Some(_)) => {
                return Verdict::down(format!(
                    "GET {url}: {status}, but the answer is longer than {MAX_JSON_ANSWER} bytes"
                ))
            }
            Ok(None) => break,
            Err(e) => return Verdict::down(format!("GET {url}: {status}, {}", without_url(&e))),
        }
    }
    match json_field_equals(&body, check) {
        Ok(()) => Verdict::up(format!(
            "GET {url}: {status}, {} is {:?}",
            check.field, check.equals
        )),
        Err(why) => Verdict::down(format!("GET {url}: {status}, but {why}")),
    }
}

/// Whether the JSON `body` holds `check.equals` at `check.field` (a dotted path; a string
/// compares as such, any other value as its JSON text: `true`, `1`). `Err` says what it found.
fn json_field_equals(body: &[u8], check: &JsonCheck) -> Result<(), String> {
    let root: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON ({e})"))?;
    let mut v = &root;
    for part in check.field.split('.') {
        let next = match v {
            serde_json::Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => v.get(part),
        };
        v = next.ok_or_else(|| format!("the answer has no field {}", check.field))?;
    }
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text == check.equals {
        Ok(())
    } else {
        Err(format!(
            "{} is {text:?}, not {:?}",
            check.field, check.equals
        ))
    }
}

/// `NRestarts` of a unit: how often systemd restarted it (`Restart=`) since it was last
/// started by hand.
async fn n_restarts(unit: &str, user: Option<&str>) -> Result<u64, String> {
    let mut cmd = crate::core::systemctl::command(user);
    cmd.args(["show", "--property=NRestarts", "--value", unit]);
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("cannot run systemctl: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .map_err(|_| format!("systemctl show gave NRestarts {:?}", text.trim()))
}

/// The `NRestarts` counts a unit probe has seen within the crash-loop window, oldest first.
#[derive(Debug, Default)]
pub struct CrashLoop {
    samples: VecDeque<(Instant, u64)>,
}

impl CrashLoop {
    /// Notes `n_restarts` seen at `at`. Returns why it is a crash loop when systemd restarted
    /// the unit more than `limit.restarts` times within `limit.window`.
    pub fn observe(
        &mut self,
        limit: &CrashLoopLimit,
        at: Instant,
        n_restarts: u64,
    ) -> Option<String> {
        // The counter starts over when the unit is started by hand (also by our restarts).
        if self.samples.back().is_some_and(|&(_, n)| n_restarts < n) {
            self.samples.clear();
        }
        self.samples.push_back((at, n_restarts));
        while self
            .samples
            .front()
            .is_some_and(|&(t, _)| at.saturating_duration_since(t) > limit.window)
        {
            self.samples.pop_front();
        }
        let oldest = self.samples.front().map_or(n_restarts, |&(_, n)| n);
        let grown = n_restarts - oldest;
        (grown > limit.restarts).then(|| {
            format!(
                "crash loop: systemd restarted it {grown} times within {} (limit {}; NRestarts={n_restarts})",
                crate::config::duration::format_duration(limit.window),
                limit.restarts
            )
        })
    }
}

/// reqwest errors name the URL, which may carry a token; say what failed without it.
fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        e.without_url_ref()
    }
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut s = self.to_string();
        if let Some(u) = self.url() {
            s = s.replace(u.as_str(), "<url>");
        }
        s
    }
}

fn heartbeat(path: &Path, max_age: Duration) -> Verdict {
    match std::fs::metadata(path).and_then(|m| m.modified()) {
        Ok(mtime) => {
            let age = SystemTime::now().duration_since(mtime).unwrap_or_default();
            let text = format!(
                "{} last written {} ago (limit {})",
                path.display(),
                crate::config::duration::format_duration(Duration::from_secs(age.as_secs())),
                crate::config::duration::format_duration(max_age)
            );
            if age <= max_age {
                Verdict::up(text)
            } else {
                Verdict::down(text)
            }
        }
        Err(e) => Verdict::down(format!("heartbeat file {}: {e}", path.display())),
    }
}

/// Whether `path` was last modified before `since` (`false` without `since`).
fn written_before(path: &Path, since: Option<SystemTime>) -> bool {
    let Some(since) = since else { return false };
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|mtime| mtime < since)
}

/// Healthy below `warning`; down at level warning or critical, which the detail names.
fn level(what: &str, text: &str, used: f64, warning: f64, critical: f64) -> Verdict {
    let detail = format!("{text}: {used:.1}% (warning at {warning}%, critical at {critical}%)");
    if used >= critical {
        Verdict::down_at(Severity::Critical, format!("{what} CRITICAL: {detail}"))
    } else if used >= warning {
        Verdict::down_at(Severity::Warning, format!("{what} WARNING: {detail}"))
    } else {
        Verdict::up(detail)
    }
}

/// Used space of the file system holding `path`, as root sees it (like `df`).
pub fn disk_used_percent(path: &Path) -> std::io::Result<f64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("path contains a NUL byte"))?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let total = st.f_blocks as f64;
    if total == 0.0 {
        return Ok(0.0);
    }
    let used = total - st.f_bfree as f64;
    // df's formula: used / (used + available to non-root).
    let avail = st.f_bavail as f64;
    Ok(100.0 * used / (used + avail).max(1.0))
}

/// Used memory in percent: 100 - MemAvailable / MemTotal.
pub fn memory_used_percent() -> std::io::Result<f64> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    let field = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    match (field("MemTotal:"), field("MemAvailable:")) {
        (Some(t), Some(a)) if t > 0.0 => Ok(100.0 - 100.0 * a / t),
        _ => Err(std::io::Error::other("no MemTotal/MemAvailable")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_name_the_threshold_crossed() {
        assert!(level("disk", "/", 50.0, 80.0, 90.0).healthy);
        let w = level("disk", "/", 85.0, 80.0, 90.0);
        assert!(!w.healthy && w.detail.contains("WARNING"));
        assert_eq!(w.level, Some(Severity::Warning));
        let c = level("disk", "/", 95.0, 80.0, 90.0);
        assert!(!c.healthy && c.detail.contains("CRITICAL"));
        assert_eq!(c.level, Some(Severity::Critical));
    }

    #[test]
    fn disk_and_memory_are_read() {
        let d = disk_used_percent(Path::new("/")).unwrap();
        assert!((0.0..=100.0).contains(&d));
        let m = memory_used_percent().unwrap();
        assert!((0.0..=100.0).contains(&m));
    }

    fn json(field: &str, equals: &str) -> JsonCheck {
        JsonCheck {
            field: field.into(),
            equals: equals.into(),
        }
    }

    #[test]
    fn a_json_field_is_compared_by_dotted_path_and_says_what_it_found() {
        let body = br#"{"status":"ok","checks":{"db":true,"queues":[{"lag":0}]}}"#;
        assert_eq!(json_field_equals(body, &json("status", "ok")), Ok(()));
        assert_eq!(json_field_equals(body, &json("checks.db", "true")), Ok(()));
        assert_eq!(
            json_field_equals(body, &json("checks.queues.0.lag", "0")),
            Ok(())
        );
        let e = json_field_equals(br#"{"status":"degraded"}"#, &json("status", "ok")).unwrap_err();
        assert_eq!(e, r#"status is "degraded", not "ok""#);
        let e = json_field_equals(body, &json("state", "ok")).unwrap_err();
        assert!(e.contains("no field state"), "{e}");
        let e = json_field_equals(b"<html>", &json("status", "ok")).unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
    }

    /// Serves one HTTP answer with `body` on a loopback port; returns the URL.
    fn serve_once(body: &'static str) -> String {
        use std::io::{Read, Write};
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/health", server.local_addr().unwrap());
        std::thread::spawn(move || {
            if let Ok((mut conn, _)) = server.accept() {
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf);
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        url
    }

    #[tokio::test]
    async fn an_http_probe_with_a_json_check_is_down_on_a_2xx_with_the_wrong_value() {
        let client = reqwest::Client::new();
        let check = json("status", "ok");
        let up = http(&client, &serve_once(r#"{"status":"ok"}"#), Some(&check)).await;
        assert!(up.healthy, "{up:?}");
        let down = http(&client, &serve_once(r#"{"status":"stuck"}"#), Some(&check)).await;
        assert!(!down.healthy, "{down:?}");
        assert!(
            down.detail.contains(r#"status is "stuck", not "ok""#),
            "{down:?}"
        );
        let plain = http(&client, &serve_once(r#"{"status":"stuck"}"#), None).await;
        assert!(
            plain.healthy,
            "without a JSON check a 2xx is enough: {plain:?}"
        );
    }

    #[test]
    fn more_restarts_by_systemd_than_the_limit_within_the_window_is_a_crash_loop() {
        let limit = CrashLoopLimit {
            restarts: 3,
            window: Duration::from_secs(600),
        };
        let t0 = Instant::now();
        let min = |m: u64| t0 + Duration::from_secs(60 * m);
        let mut c = CrashLoop::default();
        assert_eq!(
            c.observe(&limit, min(0), 5),
            None,
            "a first sample is a baseline"
        );
        assert_eq!(c.observe(&limit, min(1), 7), None);
        assert_eq!(
            c.observe(&limit, min(2), 8),
            None,
            "3 restarts: at the limit"
        );
        let why = c.observe(&limit, min(3), 9).expect("4 restarts within 10m");
        assert!(why.contains("4 times within 10m"), "{why}");
        // Quiet for longer than the window: the old restarts no longer count.
        assert_eq!(c.observe(&limit, min(14), 9), None);
        // A start by hand (our own restart too) sets the counter back to 0.
        assert_eq!(c.observe(&limit, min(15), 0), None);
        assert_eq!(c.observe(&limit, min(16), 3), None);
        assert!(c.observe(&limit, min(17), 4).is_some());
    }

    #[test]
    fn a_stale_heartbeat_is_down() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hb");
        assert!(
            !heartbeat(&p, Duration::from_secs(1)).healthy,
            "missing file"
        );
        std::fs::write(&p, b"x").unwrap();
        assert!(heartbeat(&p, Duration::from_secs(60)).healthy);
        let old = SystemTime::now() - Duration::from_secs(600);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(!heartbeat(&p, Duration::from_secs(60)).healthy);
    }

    #[tokio::test]
    async fn after_a_restart_a_heartbeat_counts_only_when_written_since_the_old_process_ended() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hb");
        std::fs::write(&p, b"x").unwrap();
        let probe = ProbeConfig {
            name: "heartbeat".into(),
            kind: ProbeKind::Heartbeat {
                path: p.clone(),
                max_age: Duration::from_secs(300),
            },
            every: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            failures: 1,
            severity: Severity::Warning,
            then_restart: false,
            apart: false,
            schedule: None,
        };
        let client = reqwest::Client::new();
        let later = SystemTime::now() + Duration::from_secs(5);
        let v = check_since(&probe, &client, Some(later)).await;
        assert!(!v.healthy, "written by the old process: {v:?}");
        assert!(v.detail.contains("not written since"), "{v:?}");
        let earlier = SystemTime::now() - Duration::from_secs(5);
        assert!(check_since(&probe, &client, Some(earlier)).await.healthy);
        assert!(check(&probe, &client).await.healthy, "outside a restart");
    }
}
