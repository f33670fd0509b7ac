//! `absent`: fewer than `min` matches of a pattern within `window` (expected activity stopped).
//!
//! Like `stale`, it counts from the start: no `Update` line in the first window is an alert.
//! A backlog match counts at the time it was written: yesterday's `Update` proves nothing
//! about the last window. And once a catch-up is over, its matches show that every line since
//! the first of them was read: the window may count from there, not from logwarden's start
//! (a restart of logwarden gives a bot whose `Update`s stopped no fresh window).

use std::time::Duration;

use tokio::time::Instant;

use crate::config::duration::format_duration;
use crate::core::alert::AlertState;
use crate::rules::input::Outcome;
use crate::rules::recent::Recent;

#[derive(Debug)]
pub struct Absent {
    pattern: String,
    min: u64,
    window: Duration,
    /// When counting started; the rule cannot fire before `start + window`.
    start: Instant,
    /// The last `min` match times.
    recent: Recent,
    firing: bool,
    /// The oldest match of the catch-up under way, when it was written.
    backlog_since: Option<Instant>,
    /// Since when every line is known to have been read (the oldest match of a finished
    /// catch-up): the window may count from there.
    covered_since: Option<Instant>,
}

impl Absent {
    pub fn new(pattern: &str, min: u64, window: Duration, start: Instant) -> Absent {
        Absent {
            pattern: pattern.to_string(),
            min,
            window,
            start,
            recent: Recent::new(min as usize),
            firing: false,
            backlog_since: None,
            covered_since: None,
        }
    }

    /// The earliest the rule may fire: one window after counting started, or after the
    /// time since which every line is known.
    fn earliest(&self) -> Instant {
        self.covered_since.map_or(self.start, |c| c.min(self.start)) + self.window
    }

    /// A catch-up ended: its matches now vouch for the time since the oldest of them.
    pub fn caught_up(&mut self) {
        if let Some(b) = self.backlog_since.take() {
            self.covered_since = Some(self.covered_since.map_or(b, |c| c.min(b)));
        }
    }

    pub fn on_match(&mut self, at: Instant, line: &str, source: &str) -> Option<Outcome> {
        self.recent.push(at);
        self.resolve(at, line, source)
    }

    /// A backlog line matched: written at `written`, read at `now`.
    pub fn on_backlog_match(
        &mut self,
        written: Instant,
        now: Instant,
        line: &str,
        source: &str,
    ) -> Option<Outcome> {
        self.recent.insert(written);
        self.backlog_since = Some(self.backlog_since.map_or(written, |b| b.min(written)));
        self.resolve(now, line, source)
    }

    /// Resolves when enough matches fall within the window before `at`.
    fn resolve(&mut self, at: Instant, line: &str, source: &str) -> Option<Outcome> {
        if !self.firing || (self.recent.count_within(at, self.window) as u64) < self.min {
            return None;
        }
        self.firing = false;
        Some(Outcome {
            state: AlertState::Resolved,
            summary: format!("{:?} is back", self.pattern),
            line: Some(line.to_string()),
            source: Some(source.to_string()),
        })
    }

    pub fn on_time(&mut self, now: Instant) -> Option<Outcome> {
        if self.firing || now < self.earliest() {
            return None;
        }
        let count = self.recent.count_within(now, self.window) as u64;
        if count >= self.min {
            return None;
        }
        self.firing = true;
        Some(Outcome {
            state: AlertState::Firing,
            summary: format!(
                "{count} matches of {:?} within {} (expected at least {})",
                self.pattern,
                format_duration(self.window),
                self.min
            ),
            line: None,
            source: None,
        })
    }

    pub fn deadline(&self) -> Option<Instant> {
        if self.firing {
            return None;
        }
        let earliest = self.earliest();
        Some(match self.recent.oldest_if_full() {
            Some(oldest) => earliest.max(oldest + self.window),
            None => earliest,
        })
    }

    /// Counts from `now` again.
    pub fn reset(&mut self, now: Instant) {
        self.start = now;
        self.recent.clear();
        self.backlog_since = None;
        self.covered_since = None;
    }
}
