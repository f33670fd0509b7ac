//! A flood: one writer appends a million lines as fast as it can (one in ten an error) while
//! the only alert channel answers each request after a second. The writer is never held up
//! (logwarden reads a file; back-pressure stops at logwarden's reader), `/metrics` shows the
//! reader's lag growing and shrinking back to 0, every line is read, memory stays bounded,
//! and the flood of errors becomes one `rate` alert and a few `match` events, not 100,000.
//!
//! One summary line goes to stderr (`scripts/test.sh` runs this with `--nocapture`): lines
//! written and the writer's rate, the rate logwarden held, peak lag, peak RSS, alerts sent.
//! This is the debug build; `bench/` measures the release build's throughput.

mod common;
#[path = "common/fake_http.rs"]
mod fake_http;

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{config_dir, free_port, http_get, Daemon};
use fake_http::{FakeHttp, Response};

const LINES: u64 = 1_000_000;
/// Lines per `write` call of the writer.
const LINES_PER_WRITE: u64 = 1_000;
/// The channel's answer time: far slower than the errors come.
const CHANNEL_DELAY: Duration = Duration::from_secs(1);
/// Peak resident memory (the kernel's VmHWM) the daemon must stay under, debug build.
const RSS_LIMIT_MB: f64 = 64.0;

fn config(port: u16, hook: &str) -> String {
    format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"
listen = "127.0.0.1:{port}"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]
notify = ["console", "hook"]

  [[watch.rule]]
  name = "errors"
  when = "rate"
  pattern = "error"
  threshold = 50
  window = "1m"
  severity = "critical"

  [[watch.rule]]
  name = "each-error"
  when = "match"
  pattern = "error"
  cooldown = "1m"

[channels.hook]
type = "webhook"
url = "{hook}/alerts"
group_wait = "0s"
"#
    )
}

fn line(n: u64) -> String {
    if n.is_multiple_of(10) {
        format!("2026-11-23 09:41:42,123 - bot - ERROR - order {n} rejected: margin\n")
    } else {
        format!("2026-11-23 09:41:42,123 - bot - INFO - Update VIX=17.1 tick {n}\n")
    }
}

/// The value of the first sample of `family` in a metrics text.
fn sample(text: &str, family: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(family) && l[family.len()..].starts_with(['{', ' ']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[derive(Debug, Default, Clone, Copy)]
struct Sample {
    lines: f64,
    lag: f64,
    rss: f64,
}

fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_flood_is_read_whole_with_bounded_memory_reported_lag_and_few_alerts() {
    let hook = FakeHttp::start(|_| {
        std::thread::sleep(CHANNEL_DELAY);
        Response::text(200, "ok")
    });
    let port = free_port();
    let (dir, cfg) = config_dir(&config(port, &hook.url()));
    let log = dir.path().join("bot.log");
    std::fs::write(&log, "start\n").expect("write log");
    let mut d = Daemon::start(&cfg);
    d.wait_reading(&log);
    let before = sample(&metrics(port), "logwarden_resident_memory_bytes").unwrap_or(0.0);

    // The sampler polls /metrics every 100 ms for the whole flood.
    let done = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let sampler = {
        let (done, samples) = (done.clone(), samples.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let text = metrics(port);
                if let (Some(lines), Some(lag), Some(rss)) = (
                    sample(&text, "logwarden_lines_read_total"),
                    sample(&text, "logwarden_read_lag_bytes"),
                    sample(&text, "logwarden_resident_memory_bytes"),
                ) {
                    samples
                        .lock()
                        .expect("lock")
                        .push(Sample { lines, lag, rss });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let start = Instant::now();
    let mut out = OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open log");
    let mut bytes = 0u64;
    let mut buf = String::new();
    for first in (0..LINES).step_by(LINES_PER_WRITE as usize) {
        buf.clear();
        for n in first..first + LINES_PER_WRITE {
            buf.push_str(&line(n));
        }
        out.write_all(buf.as_bytes()).expect("write");
        bytes += buf.len() as u64;
    }
    let written_in = start.elapsed();

    // Every line read (the "start" line before logwarden started is not: it starts at the
    // end), then the lag back to 0.
    let deadline = Instant::now() + Duration::from_secs(300);
    let caught_up = loop {
        let last = samples.lock().expect("lock").last().copied();
        if let Some(s) = last {
            if s.lines as u64 >= LINES && s.lag == 0.0 {
                break Some(start.elapsed());
            }
        }
        if Instant::now() > deadline {
            break None;
        }
        d.collect_for(Duration::from_millis(200));
    };
    done.store(true, Ordering::SeqCst);
    sampler.join().expect("sampler");
    let samples = samples.lock().expect("lock").clone();
    let last = samples.last().copied().unwrap_or_default();
    let peak_lag = samples.iter().map(|s| s.lag).fold(0.0, f64::max);
    let peak_rss_metric = samples.iter().map(|s| s.rss).fold(0.0, f64::max);
    let hwm_mb = vm_hwm_kb(d.pid()) as f64 / 1024.0;
    d.collect_for(Duration::from_secs(2));
    let requests = hook.requests().len();
    let firing = d.count_alerts("errors", "firing");
    let events = d.count_alerts("each-error", "event");
    let panics: Vec<String> = d
        .seen
        .iter()
        .map(|v| v.to_string())
        .filter(|t| t.contains("panicked"))
        .collect();

    let mb = bytes as f64 / 1e6;
    let held = caught_up.map(|t| LINES as f64 / t.as_secs_f64());
    eprintln!(
        "flood: {LINES} lines ({mb:.0} MB) written in {:.2} s ({:.0} lines/s); logwarden read \
         them all {} ({} lines/s held, debug build); lag peak {:.1} MB in {} samples, last {}; \
         RSS {:.1} MB before, peak {:.1} MB (VmHWM; /metrics peak {:.1} MB); alerts: {firing} \
         rate firing, {events} match events, {requests} webhook requests",
        written_in.as_secs_f64(),
        LINES as f64 / written_in.as_secs_f64(),
        match caught_up {
            Some(t) => format!("in {:.2} s", t.as_secs_f64()),
            None => "NOT within 300 s".into(),
        },
        held.map(|h| format!("{h:.0}")).unwrap_or("-".into()),
        peak_lag / 1e6,
        samples.len(),
        last.lag,
        before / 1e6,
        hwm_mb,
        peak_rss_metric / 1e6,
    );

    assert!(caught_up.is_some(), "not every line was read: {last:?}");
    assert_eq!(last.lines as u64, LINES, "lines read");
    assert!(peak_lag > 0.0, "the flood never showed as lag in /metrics");
    assert!(
        hwm_mb < RSS_LIMIT_MB,
        "peak RSS {hwm_mb:.1} MB, over {RSS_LIMIT_MB} MB"
    );
    assert_eq!(firing, 1, "one rate alert for the whole flood");
    assert!(
        (1..=3).contains(&events),
        "{events} match events: the cooldown holds repeats back"
    );
    assert!(requests <= 4, "{requests} webhook requests");
    assert!(panics.is_empty(), "{panics:?}");
    assert!(d.stop(), "a clean exit after the flood");
}

/// `/metrics`, or nothing while the daemon cannot answer (the sampler tries again).
fn metrics(port: u16) -> String {
    http_get(port, "/metrics")
        .map(|(_, body)| body)
        .unwrap_or_default()
}
