//! `stale`: no line at all from any source of the watch for `after`.
//!
//! Counting starts when logwarden starts (or the rule is reset), not at the first line: a bot
//! that never writes a line after start is caught too.

use std::time::Duration;

use tokio::time::Instant;

use super::rate::round_secs;
use super::Outcome;
use crate::alert::AlertState;
use crate::config::duration::format_duration;

#[derive(Debug)]
pub struct Stale {
    after: Duration,
    /// Time of the last line, or of the start when no line came yet.
    last: Instant,
    /// Whether any line came since the start.
    seen_line: bool,
    firing: bool,
}

impl Stale {
    pub fn new(after: Duration, start: Instant) -> Stale {
        Stale {
            after,
            last: start,
            seen_line: false,
            firing: false,
        }
    }

    /// Lines arrived at `at`.
    pub fn on_lines(&mut self, at: Instant) -> Option<Outcome> {
        let gap = at.saturating_duration_since(self.last);
        self.last = self.last.max(at);
        self.seen_line = true;
        if !self.firing {
            return None;
        }
        self.firing = false;
        Some(Outcome {
            state: AlertState::Resolved,
            summary: format!(
                "lines resumed after {} of silence",
                format_duration(round_secs(gap))
            ),
            line: None,
            source: None,
        })
    }

    pub fn on_time(&mut self, now: Instant) -> Option<Outcome> {
        if self.firing || now.saturating_duration_since(self.last) < self.after {
            return None;
        }
        self.firing = true;
        let ago = format_duration(round_secs(now.saturating_duration_since(self.last)));
        Some(Outcome {
            state: AlertState::Firing,
            summary: if self.seen_line {
                format!(
                    "no new line for {ago} (limit {})",
                    format_duration(self.after)
                )
            } else {
                format!(
                    "no line at all in the {ago} since logwarden started watching (limit {})",
                    format_duration(self.after)
                )
            },
            line: None,
            source: None,
        })
    }

    pub fn deadline(&self) -> Option<Instant> {
        (!self.firing).then(|| self.last + self.after)
    }

    /// Counts from `now` again, as if just started. A firing rule keeps firing (and its
    /// silence keeps its start) until a line comes.
    pub fn reset(&mut self, now: Instant) {
        if !self.firing {
            self.last = now;
            self.seen_line = false;
        }
    }
}
