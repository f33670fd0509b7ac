//! `stale`: no line at all from any source of the watch for `after`.
//!
//! Counting starts when logwarden starts (or the rule is reset), not at the first line: a bot
//! that never writes a line after start is caught too. A file with nothing new to read at
//! the start tells its last write, and a journal source its last entry (`LineSink::
//! last_written`, `Input::LastWritten`), so a restart of logwarden does not give a silent
//! bot a fresh window.
//!
//! A backlog (lines read after downtime, or by a source that fell behind) is no sign of life
//! now: its lines count at the time they were written. While a catch-up goes on, the rule
//! holds its judgement (the source is busy; a newer line may come); when it ends, the silence
//! counts from the newest written time, even one before logwarden started: a bot that went
//! quiet two hours ago is stale as soon as the catch-up is over, not `after` later.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::duration::format_duration;
use crate::core::alert::AlertState;
use crate::rules::input::Outcome;
use crate::rules::rate::round_secs;

#[derive(Debug)]
pub struct Stale {
    after: Duration,
    /// Time of the last line, or of the start when no line came yet.
    last: Instant,
    /// Whether any line came since the start.
    seen_line: bool,
    firing: bool,
    /// When the last backlog lines of a catch-up still under way were read: the rule does not
    /// fire until the catch-up ends, or stalls for `after`.
    catching_up: Option<Instant>,
}

impl Stale {
    pub fn new(after: Duration, start: Instant) -> Stale {
        Stale {
            after,
            last: start,
            seen_line: false,
            firing: false,
            catching_up: None,
        }
    }

    /// Backlog lines were read at `now`, the newest written at `written`.
    pub fn on_backlog(&mut self, written: Instant, now: Instant) -> Option<Outcome> {
        self.catching_up = Some(now);
        self.written(written, now)
    }

    /// A catch-up ended at `now`; the newest line of its backlog was written at `written`,
    /// if known.
    pub fn caught_up(&mut self, written: Option<Instant>, now: Instant) -> Option<Outcome> {
        self.catching_up = None;
        written.and_then(|w| self.written(w, now))
    }

    /// A source found nothing to read at its start; its last line was written at `written`.
    /// A catch-up of another source goes on holding the rule.
    pub fn last_written(&mut self, written: Instant, now: Instant) -> Option<Outcome> {
        self.written(written, now)
    }

    /// A line was written at `written` (read at `now`).
    fn written(&mut self, written: Instant, now: Instant) -> Option<Outcome> {
        if self.seen_line {
            self.last = self.last.max(written);
        } else {
            // The start stood in for a line not seen yet; the backlog says when the last was.
            self.last = written;
            self.seen_line = true;
        }
        if !self.firing || now.saturating_duration_since(self.last) >= self.after {
            return None;
        }
        self.firing = false;
        Some(Outcome {
            state: AlertState::Resolved,
            summary: "lines read from a backlog were written less than the limit ago".into(),
            line: None,
            source: None,
        })
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
        if self
            .catching_up
            .is_some_and(|c| now.saturating_duration_since(c) < self.after)
        {
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
        let hold = self.catching_up.map(|c| c + self.after);
        (!self.firing).then(|| (self.last + self.after).max(hold.unwrap_or(self.last)))
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
