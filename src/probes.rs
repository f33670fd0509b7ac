//! Probes: active checks of a watched service (HTTP health endpoint, heartbeat file, unit
//! state, disk and memory use). Each probe runs as a task on its own interval, with a timeout,
//! and reports a debounced verdict to the rules engine: down after `failures` consecutive
//! failures, up again at the first success. The engine turns verdicts into firing/resolved
//! alerts like any rule.

use std::path::Path;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::config::{ProbeConfig, ProbeKind};
use crate::rules::Input;
use crate::shutdown::Shutdown;

/// One check's result: healthy or not, and what was seen (for the alert).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub healthy: bool,
    pub detail: String,
}

impl Verdict {
    fn up(detail: String) -> Verdict {
        Verdict {
            healthy: true,
            detail,
        }
    }

    fn down(detail: String) -> Verdict {
        Verdict {
            healthy: false,
            detail,
        }
    }
}

/// Runs `probe` of watch `watch` every `probe.every` until shutdown.
pub async fn run(
    watch: usize,
    index: usize,
    probe: ProbeConfig,
    client: reqwest::Client,
    inputs: mpsc::Sender<Input>,
    mut shutdown: Shutdown,
) {
    let mut tick = tokio::time::interval(probe.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = 0u32;
    // The verdict last reported: nothing is reported until the first debounced verdict.
    let mut reported: Option<bool> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait() => return,
        }
        let v = check(&probe, &client).await;
        failures = if v.healthy { 0 } else { failures + 1 };
        let verdict = if v.healthy {
            Some(true)
        } else if failures >= probe.failures {
            Some(false)
        } else {
            None
        };
        if let Some(healthy) = verdict {
            if reported != Some(healthy) {
                reported = Some(healthy);
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
    match tokio::time::timeout(probe.timeout, check_inner(&probe.kind, client)).await {
        Ok(v) => v,
        Err(_) => Verdict::down(format!(
            "no answer within {}",
            crate::config::duration::format_duration(probe.timeout)
        )),
    }
}

async fn check_inner(kind: &ProbeKind, client: &reqwest::Client) -> Verdict {
    match kind {
        ProbeKind::Http { url } => match client.get(url).send().await {
            Ok(r) if r.status().is_success() => Verdict::up(format!("GET {url}: {}", r.status())),
            Ok(r) => Verdict::down(format!("GET {url}: {}", r.status())),
            Err(e) => Verdict::down(format!("GET {url}: {}", without_url(&e))),
        },
        ProbeKind::Heartbeat { path, max_age } => heartbeat(path, *max_age),
        ProbeKind::Unit { unit, user } => {
            let mut cmd = tokio::process::Command::new("systemctl");
            if let Some(u) = user {
                cmd.arg("--user").arg(format!("--machine={u}@"));
            }
            cmd.args(["is-active", unit]).kill_on_drop(true);
            match cmd.output().await {
                Ok(o) => {
                    let state = String::from_utf8_lossy(&o.stdout).trim().to_string();
                    if state == "active" {
                        Verdict::up(format!("{unit} is active"))
                    } else {
                        Verdict::down(format!("{unit} is {state}"))
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
        ProbeKind::Memory { warning, critical } => match memory_used_percent() {
            Ok(used) => level("memory", "memory used", used, *warning, *critical),
            Err(e) => Verdict::down(format!("cannot read /proc/meminfo: {e}")),
        },
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

/// Healthy below `warning`; the detail says which level was crossed.
fn level(what: &str, text: &str, used: f64, warning: f64, critical: f64) -> Verdict {
    let detail = format!("{text}: {used:.1}% (warning at {warning}%, critical at {critical}%)");
    if used >= critical {
        Verdict::down(format!("{what} CRITICAL: {detail}"))
    } else if used >= warning {
        Verdict::down(format!("{what} WARNING: {detail}"))
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
        let c = level("disk", "/", 95.0, 80.0, 90.0);
        assert!(!c.healthy && c.detail.contains("CRITICAL"));
    }

    #[test]
    fn disk_and_memory_are_read() {
        let d = disk_used_percent(Path::new("/")).unwrap();
        assert!((0.0..=100.0).contains(&d));
        let m = memory_used_percent().unwrap();
        assert!((0.0..=100.0).contains(&m));
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
}
