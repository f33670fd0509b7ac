//! A real SMTP server for a test: `tests/fixtures/smtp_server.py` (Debian's `python3-aiosmtpd`,
//! run with `/usr/bin/python3`, never another python3 on PATH) on 127.0.0.1, optionally with
//! STARTTLS (required before MAIL and AUTH), implicit TLS (SMTPS) and AUTH PLAIN/LOGIN with one
//! user. It is killed by PID when the value is dropped, also when the test fails.
//!
//! Received messages are files in a maildir-like directory, one per message, in arrival order.
//! Each starts with two lines the server adds, then the message exactly as the client sent it:
//! ```text
//! X-Envelope-From: <from@example.org>
//! X-Envelope-To: <a@example.org>, <b@example.org>
//! ```
//! [`envelope`] splits them off again.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The interpreter that has aiosmtpd (Debian's package installs it there only).
const PYTHON: &str = "/usr/bin/python3";

#[derive(Clone, Debug, Default)]
pub struct SmtpOptions {
    /// (certificate, key): offer STARTTLS and require it before MAIL and AUTH.
    pub starttls: Option<(PathBuf, PathBuf)>,
    /// TLS from the first byte (port 465 style) with the certificate of `starttls`, which must
    /// then be set too.
    pub implicit_tls: bool,
    /// (user, password): AUTH is required and only this pair is accepted.
    pub auth: Option<(String, String)>,
    /// A fixed port; `None` picks a free one (the server binds port 0 and reports it, so
    /// there is no race). `restart` always reuses the port.
    pub port: Option<u16>,
    /// Accept TCP connections and never send the greeting: for timeout tests.
    pub hang_after_connect: bool,
    /// Refuse every message for good (`554 5.7.1`) while this file exists; each refusal is
    /// counted (see [`SmtpServer::refusals`]).
    pub refuse_while: Option<PathBuf>,
}

pub struct SmtpServer {
    opts: SmtpOptions,
    /// Holds the maildir (`new/`, `tmp/`) and the server's stderr (`server.log`).
    dir: tempfile::TempDir,
    port: u16,
    /// `None` while stopped.
    child: Option<Child>,
}

impl SmtpServer {
    /// Starts the server and returns once it listens.
    pub fn start(opts: SmtpOptions) -> SmtpServer {
        assert!(
            !opts.implicit_tls || opts.starttls.is_some(),
            "implicit_tls needs the certificate and key in `starttls`"
        );
        let dir = tempfile::tempdir().expect("tempdir for the SMTP server");
        let mut s = SmtpServer {
            port: opts.port.unwrap_or(0),
            opts,
            dir,
            child: None,
        };
        s.spawn();
        s
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The maildir: messages are `new/NNNNNNNN.eml`.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Every message received so far (envelope lines first, see the module doc), oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.maildir().join("new"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| {
                let b = std::fs::read(p).expect("read a received message");
                String::from_utf8_lossy(&b).into_owned()
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived; panics on timeout with what the server said.
    pub fn wait_messages(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {n} messages, got {}; server log:\n{}",
                m.len(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many messages it refused (`refuse_while`).
    pub fn refusals(&self) -> usize {
        std::fs::read_to_string(self.maildir().join("refused.log"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    /// What the server wrote to stderr (tracebacks, aiosmtpd's log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Kills the server (SIGKILL): clients now get "connection refused".
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and maildir (message numbering continues).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smtp_server.py");
        // A fixed port may still be held for a moment by the process just killed.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join("server.log"))
                .expect("open server.log");
            let mut cmd = Command::new(PYTHON);
            cmd.arg(script)
                .arg("--port")
                .arg(self.port.to_string())
                .arg("--maildir")
                .arg(self.maildir())
                // So that it exits by itself if this process is killed before its Drop runs.
                .arg("--parent")
                .arg(std::process::id().to_string());
            if let Some((cert, key)) = &self.opts.starttls {
                let flag = if self.opts.implicit_tls {
                    "--implicit-tls"
                } else {
                    "--starttls"
                };
                cmd.arg(flag).arg(cert).arg(key);
            }
            if let Some((user, pass)) = &self.opts.auth {
                cmd.arg("--auth").arg(user).arg(pass);
            }
            if self.opts.hang_after_connect {
                cmd.arg("--hang");
            }
            if let Some(f) = &self.opts.refuse_while {
                cmd.arg("--refuse-while").arg(f);
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(log)
                .spawn()
                .expect("start /usr/bin/python3 (bash scripts/deps.sh --test installs aiosmtpd)");
            let stdout = child.stdout.take().expect("stdout");
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(stdout).read_line(&mut line);
                let _ = tx.send(line);
            });
            // The thread sends "" when the process exits without a word (bind failed).
            let port = rx
                .recv_timeout(Duration::from_secs(10))
                .ok()
                .and_then(|l| l.trim().strip_prefix("ready ")?.parse::<u16>().ok());
            match port {
                Some(p) => {
                    self.port = p;
                    self.child = Some(child);
                    return;
                }
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    assert!(
                        Instant::now() < deadline,
                        "the SMTP server did not start on port {}; its log:\n{}",
                        self.port,
                        self.log()
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Splits a message from [`SmtpServer::messages`] into (envelope sender, envelope recipients,
/// the message as the client sent it).
pub fn envelope(message: &str) -> (String, Vec<String>, &str) {
    let (from, rest) = message
        .strip_prefix("X-Envelope-From: <")
        .and_then(|r| r.split_once(">\r\n"))
        .expect("X-Envelope-From line");
    let (to, raw) = rest
        .strip_prefix("X-Envelope-To: ")
        .and_then(|r| r.split_once("\r\n"))
        .expect("X-Envelope-To line");
    let to = to
        .split(", ")
        .map(|t| t.trim_start_matches('<').trim_end_matches('>').to_string())
        .collect();
    (from.to_string(), to, raw)
}

/// The body as a person reads it (lettre sends long lines quoted-printable).
pub fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
