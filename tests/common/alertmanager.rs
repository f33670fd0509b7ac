//! A real Prometheus Alertmanager cluster for a test: N Debian `prometheus-alertmanager`
//! processes on loopback, gossiping with each other, each in its own temp dir with a minimal
//! config (one receiver, "null", that sends nothing). Every process is killed by PID when the
//! value is dropped, also when the test fails.
//!
//! What the v2 API shows (Alertmanager 0.25, checked here):
//! - Alerts are **not** gossiped: a client must POST to every peer (Prometheus does the same).
//!   Only silences and the notification log travel between peers; `post_silence` on one peer
//!   appears in `GET /api/v2/silences` on the others within a second.
//! - `GET /api/v2/alerts` lists only alerts that have not ended; an alert POSTed again with
//!   `endsAt` in the past (resolved) disappears from it, whatever the `active`/`silenced`/
//!   `inhibited`/`unprocessed` filters say. An active one has `status.state` `"active"` (or
//!   `"unprocessed"` for a moment right after the POST) and its `endsAt` as sent.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BINARY: &str = "/usr/bin/prometheus-alertmanager";

const CONFIG: &str = "\
route:
  receiver: \"null\"
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: \"null\"
";

struct Peer {
    /// Config, data (`data/`) and log (`alertmanager.log`).
    dir: tempfile::TempDir,
    web_port: u16,
    cluster_port: u16,
    /// `None` while stopped.
    child: Option<Child>,
}

pub struct AlertmanagerCluster {
    peers: Vec<Peer>,
}

impl AlertmanagerCluster {
    /// Starts `peers` Alertmanagers clustered with each other and waits until each answers and
    /// sees all the others.
    pub fn start(peers: usize) -> AlertmanagerCluster {
        assert!(peers >= 1);
        // Free ports are found by binding port 0 and letting go: another process may take one
        // in between, so a failed start is tried again with new ports.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut c = AlertmanagerCluster {
                peers: (0..peers)
                    .map(|_| Peer {
                        dir: tempfile::tempdir().expect("tempdir for alertmanager"),
                        web_port: free_port(),
                        cluster_port: free_port(),
                        child: None,
                    })
                    .collect(),
            };
            for i in 0..peers {
                c.start_peer(i);
            }
            match c.try_wait_ready(Duration::from_secs(20)) {
                Ok(()) => return c,
                Err(e) if attempt < 3 => eprintln!("alertmanager cluster: {e}; trying again"),
                Err(e) => panic!("alertmanager cluster did not start: {e}\n{}", c.logs()),
            }
        }
    }

    /// `http://127.0.0.1:PORT` of every peer, in order.
    pub fn urls(&self) -> Vec<String> {
        self.peers
            .iter()
            .map(|p| format!("http://127.0.0.1:{}", p.web_port))
            .collect()
    }

    /// `GET /api/v2/alerts` of one peer (a JSON array; see the module doc for what it lists).
    pub fn alerts(&self, peer: usize) -> Value {
        let (status, body) = self.get(peer, "/api/v2/alerts");
        assert_eq!(status, 200, "GET /api/v2/alerts: {body}");
        serde_json::from_str(&body).expect("alerts JSON")
    }

    /// POSTs a JSON array of alerts to one peer's `/api/v2/alerts`; returns the status.
    pub fn post_alerts(&self, peer: usize, alerts: &Value) -> u16 {
        self.post(peer, "/api/v2/alerts", alerts).0
    }

    /// POSTs a silence (`/api/v2/silences`); returns the status and body.
    pub fn post_silence(&self, peer: usize, silence: &Value) -> (u16, String) {
        self.post(peer, "/api/v2/silences", silence)
    }

    /// Waits until every running peer answers `/-/ready` and lists all running peers in its
    /// cluster status.
    pub fn wait_ready(&self) {
        if let Err(e) = self.try_wait_ready(Duration::from_secs(20)) {
            panic!("alertmanager cluster not ready: {e}\n{}", self.logs());
        }
    }

    /// Kills one peer (SIGKILL); the others carry on.
    pub fn stop_peer(&mut self, peer: usize) {
        if let Some(mut c) = self.peers[peer].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts a stopped peer again, on the same ports and data dir (does not wait: see
    /// `wait_ready`).
    pub fn start_peer(&mut self, peer: usize) {
        self.stop_peer(peer);
        let others: Vec<u16> = self
            .peers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != peer)
            .map(|(_, p)| p.cluster_port)
            .collect();
        let p = &mut self.peers[peer];
        let config = p.dir.path().join("alertmanager.yml");
        std::fs::write(&config, CONFIG).expect("write alertmanager.yml");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p.dir.path().join("alertmanager.log"))
            .expect("open alertmanager.log");
        let mut cmd = Command::new(BINARY);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                p.dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", p.web_port))
            .arg(format!(
                "--cluster.listen-address=127.0.0.1:{}",
                p.cluster_port
            ))
            // Without it, Alertmanager refuses to guess an address to advertise on loopback.
            .arg(format!(
                "--cluster.advertise-address=127.0.0.1:{}",
                p.cluster_port
            ))
            // The default (1 min) only delays notifications, but "ready" status comes sooner.
            .arg("--cluster.settle-timeout=2s")
            .arg("--cluster.reconnect-interval=1s");
        for port in others {
            cmd.arg(format!("--cluster.peer=127.0.0.1:{port}"));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus-alertmanager (bash scripts/deps.sh --test installs it)");
        p.child = Some(child);
    }

    /// `GET path` on one peer: (status, body).
    pub fn get(&self, peer: usize, path: &str) -> (u16, String) {
        http(self.peers[peer].web_port, "GET", path, None)
            .unwrap_or_else(|e| panic!("GET {path} on peer {peer}: {e}"))
    }

    /// `POST path` with a JSON body on one peer: (status, body).
    pub fn post(&self, peer: usize, path: &str, body: &Value) -> (u16, String) {
        http(self.peers[peer].web_port, "POST", path, Some(body))
            .unwrap_or_else(|e| panic!("POST {path} on peer {peer}: {e}"))
    }

    /// Every peer's log, for failure messages.
    pub fn logs(&self) -> String {
        self.peers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let log = std::fs::read_to_string(p.dir.path().join("alertmanager.log"))
                    .unwrap_or_default();
                format!("--- alertmanager peer {i} ---\n{log}")
            })
            .collect()
    }

    fn try_wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let running: Vec<usize> = (0..self.peers.len())
            .filter(|&i| self.peers[i].child.is_some())
            .collect();
        for &i in &running {
            loop {
                if self.peers[i].child.as_ref().is_some_and(|c| exited(c.id())) {
                    return Err(format!("peer {i} exited"));
                }
                let ready = http(self.peers[i].web_port, "GET", "/-/ready", None)
                    .is_ok_and(|(s, _)| s == 200)
                    && http(self.peers[i].web_port, "GET", "/api/v2/status", None)
                        .ok()
                        .and_then(|(_, b)| serde_json::from_str::<Value>(&b).ok())
                        .and_then(|v| v["cluster"]["peers"].as_array().map(|a| a.len()))
                        == Some(running.len());
                if ready {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(format!("peer {i} not ready after {timeout:?}"));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }
}

impl Drop for AlertmanagerCluster {
    fn drop(&mut self) {
        for i in 0..self.peers.len() {
            self.stop_peer(i);
        }
    }
}

/// Whether the child has exited (a zombie), without reaping it (`try_wait` needs `&mut`).
fn exited(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            == Some("Z")
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A tiny HTTP/1.0 client: the server closes the connection after the answer and sends no
/// chunked body, so reading to the end is the whole answer.
fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, String), String> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").ok_or("no end of headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    Ok((status, body.to_string()))
}
