//! `rate`: more than `threshold` matches of a pattern within `window`, with hysteresis.
//!
//! Backlog matches (lines read after downtime, or by a source that fell behind) count at the
//! time they were written, in a ring of their own: 50 errors spread over yesterday are no
//! burst, 50 within one minute yesterday are one (the alert says it is from the backlog). A
//! burst found in a backlog resolves once the catch-up is over (not in the middle of it, so a
//! catch-up gives one alert per rule, not one per old burst), as soon as the window after the
//! written times has passed: at once for yesterday's.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::duration::format_duration;
use crate::core::alert::AlertState;
use crate::rules::input::Outcome;
use crate::rules::recent::Recent;

/// State of one rate rule.
#[derive(Debug)]
pub struct Rate {
    pattern: String,
    threshold: u64,
    /// Resolve when the count in the window falls below this (<= threshold + 1).
    resolve_below: u64,
    window: Duration,
    /// The last `threshold + 1` match times: enough to decide both firing and resolving.
    recent: Recent,
    /// The written times of backlog matches not yet moved into `recent` (at the end of the
    /// catch-up): kept apart so that old matches are judged among themselves, in their time.
    backlog: Recent,
    /// A catch-up is under way and the rule fired in it: it resolves only after it.
    holding: bool,
    /// Since when the rule has been firing, if it is.
    firing_since: Option<Instant>,
    /// Matches seen while firing (for the resolved message).
    matches_while_firing: u64,
}

impl Rate {
    pub fn new(pattern: &str, threshold: u64, resolve_below: u64, window: Duration) -> Rate {
        Rate {
            pattern: pattern.to_string(),
            threshold,
            resolve_below,
            window,
            recent: Recent::new(threshold as usize + 1),
            backlog: Recent::new(threshold as usize + 1),
            holding: false,
            firing_since: None,
            matches_while_firing: 0,
        }
    }

    /// A line matched the rule's pattern at `at`.
    pub fn on_match(&mut self, at: Instant, line: &str, source: &str) -> Option<Outcome> {
        self.recent.push(at);
        if self.firing_since.is_some() {
            self.matches_while_firing += 1;
            return None;
        }
        let count = self.recent.count_within(at, self.window) as u64;
        self.fire(count, at, line, source)
    }

    /// A backlog line matched: written at `written` (at or before `now`), read at `now`.
    pub fn on_backlog_match(
        &mut self,
        written: Instant,
        now: Instant,
        line: &str,
        source: &str,
    ) -> Option<Outcome> {
        debug_assert!(written <= now, "written times are clamped to the read time");
        self.backlog.insert(written);
        if self.firing_since.is_some() {
            self.matches_while_firing += 1;
            return None;
        }
        let count = self.backlog.count_within(written, self.window) as u64;
        let fired = self.fire(count, now, line, source);
        self.holding |= fired.is_some();
        fired
    }

    /// A source of the watch has caught up: backlog matches join the others, and a burst found
    /// in the backlog may resolve (see `on_time`).
    pub fn caught_up(&mut self) {
        self.recent.absorb(&mut self.backlog);
        self.holding = false;
    }

    /// Fires when `count` (matches within the window) exceeds the threshold.
    fn fire(&mut self, count: u64, at: Instant, line: &str, source: &str) -> Option<Outcome> {
        if count > self.threshold {
            self.firing_since = Some(at);
            self.matches_while_firing = count;
            return Some(Outcome {
                state: AlertState::Firing,
                summary: format!(
                    "{count} matches of {:?} within {} (threshold {})",
                    self.pattern,
                    format_duration(self.window),
                    self.threshold
                ),
                line: Some(line.to_string()),
                source: Some(source.to_string()),
            });
        }
        None
    }

    /// Time passed: resolve when the count fell below `resolve_below`.
    pub fn on_time(&mut self, now: Instant) -> Option<Outcome> {
        let since = self.firing_since?;
        if self.holding {
            return None;
        }
        let count = self.recent.count_within(now, self.window) as u64;
        if count >= self.resolve_below {
            return None;
        }
        self.firing_since = None;
        Some(Outcome {
            state: AlertState::Resolved,
            summary: format!(
                "{count} matches of {:?} within {} now (resolves below {}); {} matches while firing for {}",
                self.pattern,
                format_duration(self.window),
                self.resolve_below,
                self.matches_while_firing,
                format_duration(round_secs(now.saturating_duration_since(since)))
            ),
            line: None,
            source: None,
        })
    }

    /// When the count can next fall (only matters while firing).
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        self.firing_since?;
        if self.holding {
            return None; // `caught_up` ends the hold, and the engine looks again then
        }
        self.recent.next_expiry(now, self.window)
    }

    /// Starts counting afresh (after a pause or a restart of the watched unit).
    pub fn reset(&mut self) {
        self.recent.clear();
        self.backlog.clear();
    }
}

/// Rounds to whole seconds for messages.
pub(super) fn round_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs_f64().round() as u64)
}
