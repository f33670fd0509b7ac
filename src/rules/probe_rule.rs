//! The rule side of a probe: firing while the probe reports the service down, resolved when
//! it reports it up again. The probe itself (what it checks, how often, how many failures
//! make "down") lives in `src/probes.rs`.

use super::Outcome;
use crate::alert::AlertState;

#[derive(Debug, Default)]
pub struct ProbeRule {
    firing: bool,
    /// The latest verdict that came while the probe's schedule was closed.
    held: Option<(bool, String)>,
}

impl ProbeRule {
    /// Keeps a verdict that came outside the probe's schedule.
    pub fn hold(&mut self, healthy: bool, detail: &str) {
        self.held = Some((healthy, detail.to_string()));
    }

    /// The schedule is open (again): the verdict held meanwhile is judged now.
    pub fn on_open(&mut self) -> Option<Outcome> {
        let (healthy, detail) = self.held.take()?;
        self.on_result(healthy, &detail)
    }

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
