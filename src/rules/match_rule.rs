//! `match`: every match of a pattern is an event. Repeats within `cooldown` of the last event
//! are held back and sent as one summary event when the cooldown ends (a traceback flood is one
//! message a minute, not a thousand, and the last of them is still quoted).

use std::time::Duration;

use tokio::time::Instant;

use crate::config::duration::format_duration;
use crate::core::alert::AlertState;
use crate::rules::input::Outcome;

#[derive(Debug)]
pub struct MatchRule {
    pattern: String,
    cooldown: Duration,
    /// When the last event was sent.
    last_sent: Option<Instant>,
    /// Matches held back since the last event.
    held: u64,
    /// The newest held-back line and its source.
    held_line: Option<(String, String)>,
}

impl MatchRule {
    pub fn new(pattern: &str, cooldown: Duration) -> MatchRule {
        MatchRule {
            pattern: pattern.to_string(),
            cooldown,
            last_sent: None,
            held: 0,
            held_line: None,
        }
    }

    pub fn on_match(&mut self, at: Instant, line: &str, source: &str) -> Option<Outcome> {
        if let Some(last) = self.last_sent {
            if at.saturating_duration_since(last) < self.cooldown {
                self.held += 1;
                self.held_line = Some((line.to_string(), source.to_string()));
                return None;
            }
        }
        self.last_sent = Some(at);
        let earlier = std::mem::take(&mut self.held);
        self.held_line = None;
        Some(Outcome {
            state: AlertState::Event,
            summary: if earlier == 0 {
                format!("a line matched {:?}", self.pattern)
            } else {
                format!(
                    "a line matched {:?} (and {earlier} more before it, held back by the {} cooldown)",
                    self.pattern,
                    format_duration(self.cooldown)
                )
            },
            line: Some(line.to_string()),
            source: Some(source.to_string()),
        })
    }

    /// At the end of a cooldown, sends what was held back as one event.
    pub fn on_time(&mut self, now: Instant) -> Option<Outcome> {
        let due = self.deadline()?;
        if now < due {
            return None;
        }
        let (line, source) = self.held_line.take()?;
        let held = std::mem::take(&mut self.held);
        self.last_sent = Some(now);
        Some(Outcome {
            state: AlertState::Event,
            summary: format!(
                "{held} more lines matched {:?} within the {} cooldown; the last one is quoted",
                self.pattern,
                format_duration(self.cooldown)
            ),
            line: Some(line),
            source: Some(source),
        })
    }

    pub fn deadline(&self) -> Option<Instant> {
        if self.held == 0 {
            return None;
        }
        self.last_sent.map(|t| t + self.cooldown)
    }
}
