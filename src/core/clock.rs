//! The process's monotonic clock in milliseconds, for heartbeats that threads share through an
//! atomic integer.

use std::time::Instant;

/// Milliseconds on a monotonic clock shared by the whole process (heartbeats).
pub fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}
