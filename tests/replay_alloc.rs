//! The replay hot path: a line that matches nothing allocates nothing (its time is read from
//! its bytes; rules see it as a line count).

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::tz::TimeZone;

/// Counts allocations made by this test binary.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CONFIG: &str = r#"
[[watch]]
name = "bot"
files = ["/var/log/bot.log"]
patterns = ["python-logging", "trading"]

[[watch.rule]]
name = "burst"
when = "rate"
pattern = "error"
threshold = 5
window = "1m"

[[watch.rule]]
name = "frozen"
when = "stale"
after = "10m"
active = "Mon-Fri 09:30-16:00 America/New_York"
"#;

/// `n` lines a second apart from 2026-11-23 00:00 local time, none matching any pattern.
fn log(n: u64) -> String {
    let mut s = String::new();
    for i in 0..n {
        let (d, h, m, sec) = (23 + i / 86_400, i / 3600 % 24, i / 60 % 60, i % 60);
        writeln!(
            s,
            "2026-11-{d:02} {h:02}:{m:02}:{sec:02},000 - bot.main - INFO - tick ok"
        )
        .unwrap();
    }
    s
}

/// Allocations made while replaying `text`.
fn allocations(config: &logwarden::config::Config, text: &str) -> u64 {
    let mut r = logwarden::cli::replay::WatchReplay::new(
        config,
        0,
        TimeZone::get("America/New_York").unwrap(),
    )
    .unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    r.read("bot.log", text.as_bytes()).unwrap();
    let used = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let report = r.finish();
    assert!(report.alerts.is_empty());
    used
}

#[test]
fn non_matching_lines_allocate_nothing_per_line() {
    let config =
        logwarden::config::load_texts(vec![("/etc/logwarden/t.toml".into(), CONFIG.into())])
            .unwrap();
    let small = log(1_000);
    let large = log(200_000); // more than two days: hour and schedule boundaries included
    let a = allocations(&config, &small);
    let b = allocations(&config, &large);
    println!("allocations: 1000 lines {a}, 200000 lines {b}");
    // What is left is per hour (a time zone lookup) or per schedule period, not per line.
    assert!(
        b.saturating_sub(a) < 100,
        "1000 lines: {a} allocations; 200000 lines: {b}"
    );
}
