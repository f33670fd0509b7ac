//! The status page at `/`, served by the real daemon: small, escaped, behind the same gate as
//! `/status`, and rendered by a real headless Chromium (Debian's `chromium`, installed by
//! `scripts/deps.sh --test`) into a screenshot that is not blank and a DOM that names every
//! watch and its state.
//!
//! `LOGWARDEN_PAGE_SCREENSHOT=PATH` keeps the screenshot there (how `docs/status-page.png`
//! is made).

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{append, config_dir, free_port, http_get, Daemon};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium gets this long to render the page before it is killed.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

const TOKEN: &str = "tok-9b2d41c07e5a6f38d1c2";

/// A demo-like config: a trading bot (errors fire a critical alert), a web app (warnings
/// fire a warning), a worker (quiet), with probes.
fn config(port: u16, extra_daemon: &str) -> String {
    format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"
listen = "127.0.0.1:{port}"
{extra_daemon}

[[watch]]
name = "gemini-trader"
files = ["@DIR@/bot.log"]
patterns = ["python-logging", "trading"]

  [[watch.rule]]
  name = "errors"
  when = "rate"
  pattern = "error"
  threshold = 2
  window = "10m"
  severity = "critical"

  [[watch.probe]]
  name = "heartbeat"
  kind = "heartbeat"
  path = "@DIR@/bot.log"
  max_age = "1h"

[[watch]]
name = "webapp"
files = ["@DIR@/web.log"]
patterns = ["python-logging"]

  [[watch.rule]]
  name = "warnings"
  when = "rate"
  pattern = "warning"
  threshold = 1
  window = "10m"
  severity = "warning"

  [[watch.rule]]
  name = "each-traceback"
  when = "match"
  pattern = "traceback"
  cooldown = "0s"

  [[watch.probe]]
  name = "disk"
  kind = "disk"
  path = "@DIR@"
  warning = 99
  critical = 100

[[watch]]
name = "worker"
files = ["@DIR@/worker.log"]
patterns = ["python-logging"]

  [[watch.rule]]
  name = "errors"
  when = "rate"
  pattern = "error"
  threshold = 5
  window = "10m"
"#
    )
}

/// Markup, and a terminal title sequence for whoever fetches the page with `curl`.
const HOSTILE: &str = "<script>alert(1)</script> \u{1b}]0;owned\u{7}";

/// What every watch's state should be once the lines are in.
const STATES: [(&str, &str); 3] = [
    ("gemini-trader", "critical"),
    ("webapp", "warning"),
    ("worker", "ok"),
];

/// Starts the daemon on `cfg` and feeds it: errors (one of them hostile) to the bot, warnings
/// and a traceback to the web app, plain lines to the worker; returns once `/status` shows
/// every watch in its state and the matches counted.
fn start_and_feed(dir: &Path, cfg: &Path, port: u16, auth: &str) -> Daemon {
    let bot = dir.join("bot.log");
    let web = dir.join("web.log");
    let worker = dir.join("worker.log");
    for f in [&bot, &web, &worker] {
        append(f, &["start".to_string()]);
    }
    let mut d = Daemon::start(cfg);
    for f in [&bot, &web, &worker] {
        d.wait_reading(f);
    }
    let ts = "2026-12-03 09:41:42,123";
    let mut lines: Vec<String> = (0..6)
        .map(|i| format!("{ts} - bot - ERROR - order {i} rejected: socket timeout"))
        .collect();
    // The third error fires the rule (threshold 2): its line is the one the alert quotes.
    lines.insert(2, format!("{ts} - bot - ERROR - {HOSTILE}"));
    append(&bot, &lines);
    append(
        &web,
        &[
            format!("{ts} - web - WARNING - slow request /api/orders 2.3s"),
            format!("{ts} - web - WARNING - slow request /api/quotes 1.9s"),
            "Traceback (most recent call last):".to_string(),
            "  File \"app.py\", line 7, in <module>".to_string(),
            "ZeroDivisionError: division by zero".to_string(),
            format!("{ts} - web - INFO - served"),
        ],
    );
    append(&worker, &[format!("{ts} - worker - INFO - job 17 done")]);
    d.wait_alert("errors", "firing", Duration::from_secs(10));
    d.wait_alert("warnings", "firing", Duration::from_secs(10));
    // The last lines wait out the multi-line quiet time before they are counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, _, body) = request(port, "/status", &format!("localhost:{port}"), auth);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let states_ok = STATES.iter().all(|(name, state)| {
            v["watches"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|w| w["name"] == *name && w["state"] == *state)
        });
        if code == 200 && states_ok && body.contains("\"last_24h\":7") {
            break;
        }
        assert!(Instant::now() < deadline, "/status never settled: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    d
}

/// One HTTP/1.1 GET with `Host: host` and, unless empty, `Authorization: Bearer auth`:
/// (status code, headers lower-cased, body).
fn request(port: u16, path: &str, host: &str, auth: &str) -> (u16, String, String) {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let auth = if auth.is_empty() {
        String::new()
    } else {
        format!("Authorization: Bearer {auth}\r\n")
    };
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn the_page_is_small_escaped_and_guarded_like_status() {
    let port = free_port();
    let (dir, cfg) = config_dir(&config(port, "listen_token_file = \"@DIR@/http-token\""));
    let token_file = dir.path().join("http-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token");
    let _ = Command::new("chmod").arg("600").arg(&token_file).status();
    let _d = start_and_feed(dir.path(), &cfg, port, TOKEN);
    let host = format!("localhost:{port}");

    let (code, head, page) = request(port, "/", &host, TOKEN);
    assert_eq!(code, 200, "{head}\n{page}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    println!("status page: {} bytes", page.len());
    assert!(page.len() <= 100 * 1024, "{} bytes", page.len());
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"30\">"));
    assert!(page.contains("name=\"viewport\""));
    for (name, state) in STATES {
        let heading = format!("<h2>{name} <span class=\"st {state}\">{state}</span></h2>");
        assert!(page.contains(&heading), "{heading}\n{page}");
    }
    // The hostile line is quoted, escaped, and nowhere raw.
    assert!(
        page.contains("ERROR - &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script"), "{page}");
    assert!(
        !page
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "a control character reached the page"
    );
    assert!(
        page.contains("\\x1b]0;owned\\x07"),
        "shown, not sent: {page}"
    );
    assert!(page.contains("<svg"), "a chart of the matches\n{page}");
    assert!(
        page.contains("heartbeat") && page.contains("disk"),
        "probes"
    );
    // Nothing fetched: no URL of any kind but the refresh of itself.
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("src="));
    // The token never reaches the page.
    assert!(!page.contains(TOKEN));

    // The gate of /status: another host 421 (even with the token), no token or a wrong one 401.
    for h in ["evil.example", &format!("evil.example:{port}")] {
        let (code, _, body) = request(port, "/", h, TOKEN);
        assert_eq!(code, 421, "Host {h}: {body}");
    }
    for wrong in ["", "tok-wrong-wrong-wrong-wr"] {
        let (code, _, body) = request(port, "/", &host, wrong);
        assert_eq!(code, 401, "token {wrong:?}: {body}");
        assert!(!body.contains("gemini-trader"), "{body}");
    }
}

#[test]
fn chromium_renders_the_page_with_every_watch_and_a_chart() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: this test renders the status page with Debian's chromium; \
         install it with `scripts/deps.sh --test` (apt-get install chromium)"
    );
    let port = free_port();
    let (dir, cfg) = config_dir(&config(port, ""));
    let _d = start_and_feed(dir.path(), &cfg, port, "");
    let url = format!("http://127.0.0.1:{port}/");
    let (code, page) = http_get(port, "/").expect("GET /");
    assert_eq!(code, 200);
    println!("status page: {} bytes", page.len());

    let shot = dir.path().join("page.png");
    let started = Instant::now();
    let out = chromium(
        dir.path(),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,1600".to_string(),
            "--hide-scrollbars".to_string(),
            url.clone(),
        ],
    );
    let took = started.elapsed();
    println!(
        "chromium --headless=new --screenshot --window-size=1200,1600: {} ms",
        took.as_millis()
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!("chromium wrote no screenshot ({e}); it said:\n{out}");
    });
    assert!(png.len() > 10_000, "{} bytes: a blank page?", png.len());
    let image = png_decode(&png).unwrap_or_else(|e| panic!("not a PNG chromium writes: {e}"));
    assert_eq!((image.width, image.height), (1200, 1600));
    let colours = image.colours();
    let background = colours.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let pixels = (image.width * image.height) as usize;
    assert!(
        colours.len() > 20 && background < pixels * 98 / 100,
        "the screenshot is (nearly) one colour: {} colours, background {background} of {pixels}",
        colours.len()
    );
    // The badges are there in their colours: critical red, warning orange, ok green.
    for (name, rgb) in [
        ("critical", [0xc9, 0x2a, 0x2a]),
        ("warning", [0xe6, 0x77, 0x00]),
        ("ok", [0x2b, 0x8a, 0x3e]),
    ] {
        let n: usize = colours
            .iter()
            .filter(|(c, _)| c.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 6))
            .map(|(_, n)| n)
            .sum();
        assert!(n > 50, "no {name} badge in the screenshot ({n} pixels)");
    }
    if let Ok(keep) = std::env::var("LOGWARDEN_PAGE_SCREENSHOT") {
        std::fs::copy(&shot, &keep).expect("keep the screenshot");
    }

    let dom = chromium(dir.path(), &["--dump-dom".to_string(), url]);
    for (name, state) in STATES {
        assert!(
            dom.contains(&format!("{name} <span class=\"st {state}\">{state}</span>")),
            "{name} {state} not in the rendered DOM:\n{dom}"
        );
    }
    assert!(dom.contains("<svg"), "{dom}");
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

/// Runs headless Chromium with `args` and a private profile under `dir`; kills its process
/// group if it takes longer than `CHROMIUM_TIMEOUT`. Returns its stdout (and stderr, after).
fn chromium(dir: &Path, args: &[String]) -> String {
    use std::os::unix::process::CommandExt;
    let profile = tempfile::tempdir_in(dir).expect("profile dir");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so the helpers it starts go with it if it hangs.
        .process_group(0)
        .spawn()
        .expect("start chromium");
    let pid = child.id() as i32;
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + CHROMIUM_TIMEOUT;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            // SAFETY: kill(2) on the process group this test started.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever helper is left of it (it normally takes them along).
    // SAFETY: as above; ESRCH when the group is gone already.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    match status {
        None => {
            panic!("chromium did not finish within {CHROMIUM_TIMEOUT:?}; killed. stderr:\n{err}")
        }
        Some(s) if !s.success() => panic!("chromium failed ({s}): stderr:\n{err}"),
        Some(_) => format!("{out}\n{err}"),
    }
}

/// An 8-bit RGB or RGBA image.
struct Image {
    width: u32,
    height: u32,
    /// Bytes per pixel: 3 or 4.
    bpp: usize,
    /// Unfiltered rows, `width * bpp` bytes each.
    data: Vec<u8>,
}

impl Image {
    /// Every RGB colour with how many pixels have it.
    fn colours(&self) -> Vec<([u8; 3], usize)> {
        let mut m = std::collections::HashMap::new();
        for p in self.data.chunks_exact(self.bpp) {
            *m.entry([p[0], p[1], p[2]]).or_insert(0usize) += 1;
        }
        m.into_iter().collect()
    }
}

/// Just enough PNG to read Chromium's screenshots: 8-bit RGB or RGBA, not interlaced.
fn png_decode(png: &[u8]) -> Result<Image, String> {
    let body = png
        .strip_prefix(b"\x89PNG\r\n\x1a\n")
        .ok_or("no PNG signature")?;
    let (mut rest, mut ihdr, mut idat) = (body, None, Vec::new());
    while rest.len() >= 12 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let kind = &rest[4..8];
        let data = rest.get(8..8 + len).ok_or("a chunk runs past the end")?;
        match kind {
            b"IHDR" => ihdr = Some(data.to_vec()),
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        rest = rest.get(12 + len..).ok_or("a chunk without its CRC")?;
    }
    let h = ihdr.ok_or("no IHDR")?;
    if h.len() < 13 {
        return Err("short IHDR".into());
    }
    let width = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let height = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let bpp = match (h[8], h[9], h[12]) {
        (8, 2, 0) => 3,
        (8, 6, 0) => 4,
        other => return Err(format!("depth, colour type, interlace {other:?}")),
    };
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .map_err(|e| format!("inflate: {e}"))?;
    let stride = width as usize * bpp;
    if raw.len() != (stride + 1) * height as usize {
        return Err(format!(
            "{} bytes of pixels for {width}x{height}",
            raw.len()
        ));
    }
    let mut data = vec![0u8; stride * height as usize];
    for y in 0..height as usize {
        let filter = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= bpp {
                data[y * stride + x - bpp]
            } else {
                0
            };
            let b = if y > 0 { data[(y - 1) * stride + x] } else { 0 };
            let c = if x >= bpp && y > 0 {
                data[(y - 1) * stride + x - bpp]
            } else {
                0
            };
            let predicted = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => paeth(a, b, c),
                f => return Err(format!("filter {f}")),
            };
            data[y * stride + x] = line[x].wrapping_add(predicted);
        }
    }
    Ok(Image {
        width,
        height,
        bpp,
        data,
    })
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}
