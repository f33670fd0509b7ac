//! The rule side of a probe: firing while the probe reports the service down, resolved when
//! it reports it up again. The probe itself (what it checks, how often, how many failures
//! make "down") lives in `src/probes.rs`.

use super::Outcome;
use crate::alert::AlertState;

#[derive(Debug, Default)]
pub struct ProbeRule {
    firing: bool,
}

impl ProbeRule {
    /// A debounced probe result: `healthy`, with what it saw.
    pub fn on_result(&mut self, healthy: bool, detail: &str) -> Option<Outcome> {
        // Nothing changes when the verdict matches the state (healthy and not firing, or
        // down and firing).
        if healthy != self.firing {
            return None;
        }
        self.firing = !healthy;
        Some(Outcome {
            state: if healthy {
                AlertState::Resolved
            } else {
                AlertState::Firing
            },
            summary: detail.to_string(),
            line: None,
            source: None,
        })
    }
}
