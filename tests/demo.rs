//! The README's first command: `logwarden demo` runs the real pipeline against its bundled bot
//! and sees every alert it promises (the frozen bot restarted and verified too), then ends by
//! itself and leaves no bot running.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn demo_shows_burst_stale_absent_and_a_verified_restart_and_ends_by_itself() {
    let started = Instant::now();
    let out = Command::new(common::bin())
        .arg("demo")
        .output()
        .expect("run demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stderr}");
    for needle in [
        "FIRING [CRITICAL] demo-bot/error-burst",
        "RESOLVED [CRITICAL] demo-bot/error-burst",
        "EVENT [WARNING] demo-bot/critical-line",
        "FIRING [CRITICAL] demo-bot/log-stale",
        "FIRING [WARNING] demo-bot/no-activity",
        // The restart names its cause: the rule that asked, with what it said.
        "EVENT [WARNING] demo-bot/restart: restarted (1 of at most 3 per window) because ",
        "; verified healthy",
        "RESOLVED [CRITICAL] demo-bot/log-stale",
        "every expected one seen",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "ends within about 30 s"
    );
}
