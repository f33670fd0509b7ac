//! The ranges of the config's numbers and durations. Every one is checked at load, so nothing
//! that passes `check` can stop a timer (a zero period panics `tokio::time::interval`) or
//! overflow a clock (`"1000000000d"` added to an `Instant`), and each refusal points at the
//! value (`file:line:column`). docs/config.md lists the same ranges.

use std::time::Duration;

use crate::config::duration::{format_duration, ConfigDuration};
use crate::config::error::Diagnostics;
use crate::config::located::{Located, SourceMap};

/// Milliseconds, for range bounds.
pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Seconds, for range bounds.
pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Days, for range bounds.
pub const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// `d`, checked to lie in `min..=max`; out of range it is reported at its place and the
/// nearest bound is returned (the config is refused anyway; nothing downstream sees it).
pub fn duration(
    d: &Located<ConfigDuration>,
    key: &str,
    min: Duration,
    max: Duration,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Duration {
    debug_assert!(min <= max, "range of {key}");
    let v = d.value.0;
    if v < min || v > max {
        diags.at(
            sources,
            d,
            format!(
                "{key} must be between {} and {}",
                format_duration(min),
                format_duration(max)
            ),
        );
        return v.clamp(min, max);
    }
    v
}

/// Like [`duration`] for an optional key, `default` when it is absent.
pub fn duration_or(
    d: &Option<Located<ConfigDuration>>,
    key: &str,
    (min, max): (Duration, Duration),
    default: Duration,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Duration {
    debug_assert!((min..=max).contains(&default), "default of {key}");
    match d {
        Some(d) => duration(d, key, min, max, sources, diags),
        None => default,
    }
}

/// `n`, checked to lie in `min..=max` (reported like [`duration`]).
pub fn number(
    n: &Located<u64>,
    key: &str,
    min: u64,
    max: u64,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> u64 {
    debug_assert!(min <= max, "range of {key}");
    if !(min..=max).contains(&n.value) {
        diags.at(sources, n, format!("{key} must be between {min} and {max}"));
        return n.value.clamp(min, max);
    }
    n.value
}

/// Like [`number`] for an optional key, `default` when it is absent.
pub fn number_or(
    n: &Option<Located<u64>>,
    key: &str,
    (min, max): (u64, u64),
    default: u64,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> u64 {
    debug_assert!((min..=max).contains(&default), "default of {key}");
    match n {
        Some(n) => number(n, key, min, max, sources, diags),
        None => default,
    }
}
