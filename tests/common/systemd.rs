//! A real systemd as PID 1 in its own PID and mount namespace, for tests with real units.
//!
//! It boots to `basic.target` (no gettys, no database servers the machine may have) with
//! private tmpfs on `/tmp`, `/var/tmp`, `/run` and `/var/log/journal`, so its
//! systemd-tmpfiles and journald never touch the host's (CI's temp dirs live in `/tmp`).
//! Files it must see go under `/var/lib/logwarden-tests`. PID 1 is killed by PID when the
//! value is dropped, also when a test fails.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where tests put files that the namespace must see (not `/tmp`: it is private there).
pub const SHARED_DIR: &str = "/var/lib/logwarden-tests";

pub struct SystemdNs {
    unshare: Child,
    /// Host PID of the namespace's PID 1.
    pid1: u32,
    /// Held while this systemd runs (see `BOOTED`).
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

/// One namespaced systemd at a time per test binary: they share the host's cgroup tree, and
/// two of them managing `system.slice/bot.service` at once fail each other's signals (EIO).
static BOOTED: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The logwarden binary at a path the namespace can see: the build may live under `/tmp`
/// (a CI checkout), which is private inside. Copied once per test process.
pub fn bin() -> PathBuf {
    static COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        // Copies left by earlier test processes that are gone.
        for e in std::fs::read_dir(SHARED_DIR)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("bin-") {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = PathBuf::from(SHARED_DIR).join(format!("bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create shared bin dir");
        let to = dir.join("logwarden");
        std::fs::copy(crate::common::bin(), &to).expect("copy logwarden for the namespace");
        to
    })
    .clone()
}

/// A temp dir visible inside and outside the namespace.
pub fn shared_tempdir() -> tempfile::TempDir {
    std::fs::create_dir_all(SHARED_DIR).expect("create shared test dir");
    tempfile::Builder::new()
        .prefix("t")
        .tempdir_in(SHARED_DIR)
        .expect("shared tempdir")
}

impl SystemdNs {
    pub fn boot() -> SystemdNs {
        let guard = BOOTED.lock().unwrap_or_else(|e| e.into_inner());
        let unshare = Command::new("unshare")
            .args([
                "--pid",
                "--fork",
                "--mount",
                "--mount-proc",
                "--propagation",
                "private",
                "sh",
                "-c",
            ])
            .arg(
                "mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /var/tmp && \
                 mount -t tmpfs tmpfs /run && mkdir -p /var/log/journal && \
                 mount -t tmpfs tmpfs /var/log/journal && exec /lib/systemd/systemd --system --unit=basic.target",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("unshare (the tests run as root)");
        let upid = unshare.id();
        let deadline = Instant::now() + Duration::from_secs(20);
        let pid1 = loop {
            let children = std::fs::read_dir(format!("/proc/{upid}/task"))
                .into_iter()
                .flatten()
                .filter_map(|t| t.ok())
                .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
                .flat_map(|c| {
                    c.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok())
                        .collect::<Vec<_>>()
                })
                .next();
            if let Some(p) = children {
                break p;
            }
            assert!(Instant::now() < deadline, "no PID 1 in the namespace");
            std::thread::sleep(Duration::from_millis(20));
        };
        let ns = SystemdNs {
            unshare,
            pid1,
            _one_at_a_time: guard,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = ns.run(&["systemctl", "is-system-running"]);
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if state == "running" || state == "degraded" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "systemd did not finish booting: {state}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        ns
    }

    /// Host PID of the namespace's PID 1 (for `nsenter -t`).
    pub fn pid(&self) -> u32 {
        self.pid1
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid1.to_string(), "-p", "-m", "--"])
            .arg(program);
        c
    }

    /// Runs a command inside the namespace and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args[0])
            .args(&args[1..])
            .output()
            .expect("nsenter")
    }

    /// Installs a unit file (in the namespace's private /run) and reloads systemd.
    pub fn install_unit(&self, name: &str, text: &str) {
        let mut child = self
            .command("sh")
            .args(["-c", &format!("cat > /run/systemd/system/{name}")])
            .stdin(Stdio::piped())
            .spawn()
            .expect("write unit");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write unit text");
        assert!(child.wait().expect("write unit").success());
        assert!(self.run(&["systemctl", "daemon-reload"]).status.success());
    }

    /// `systemctl ARGS...`, asserting success.
    pub fn systemctl(&self, args: &[&str]) {
        let mut all = vec!["systemctl"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "systemctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Writes a file at `path` (under `SHARED_DIR`) and makes it executable.
    pub fn script(path: &Path, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).expect("write script");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path.to_path_buf()
    }
}

impl Drop for SystemdNs {
    fn drop(&mut self) {
        // Killing PID 1 ends every process of the namespace.
        let _ = Command::new("kill")
            .args(["-9", &self.pid1.to_string()])
            .status();
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}
