//! The rule side of a probe: firing while the probe reports the service down, resolved when
//! it reports it up again. The probe itself (what it checks, how often, how many failures
//! make "down") lives in `src/probes.rs`.

use crate::core::alert::AlertState;
use crate::core::alert::Severity;
use crate::rules::input::Outcome;

#[derive(Debug, Default)]
pub struct ProbeRule {
    firing: bool,
    /// The level the probe reported while firing (disk and memory probes: warning or
    /// critical); `None`: the rule's own severity.
    level: Option<Severity>,
    /// The latest verdict (healthy, level, detail) that came while the probe's schedule
    /// was closed.
    held: Option<(bool, Option<Severity>, String)>,
}

impl ProbeRule {
    /// Keeps a verdict that came outside the probe's schedule.
    pub fn hold(&mut self, healthy: bool, level: Option<Severity>, detail: &str) {
        self.held = Some((healthy, level, detail.to_string()));
    }

    /// The schedule is open (again): the verdict held meanwhile is judged now.
    pub fn on_open(&mut self) -> Option<Outcome> {
        let (healthy, level, detail) = self.held.take()?;
        self.on_result(healthy, level, &detail)
    }

    /// A debounced probe result: `healthy`, at `level` (if the probe grades its failures),
    /// with what it saw. A failure that escalates (warning to critical) while firing is an
    /// event of its own at the new level: the rule stays firing (alert routers notify a
    /// firing rule once), and the escalation still reaches whoever takes that level.
    pub fn on_result(
        &mut self,
        healthy: bool,
        level: Option<Severity>,
        detail: &str,
    ) -> Option<Outcome> {
        let escalated = self.firing && !healthy && level > self.level;
        if !healthy {
            self.level = level;
        }
        // Nothing changes when the verdict matches the state (healthy and not firing, or
        // down and firing), unless the failure got worse.
        if healthy != self.firing && !escalated {
            return None;
        }
        self.firing = !healthy;
        Some(Outcome {
            state: if healthy {
                AlertState::Resolved
            } else if escalated {
                AlertState::Event
            } else {
                AlertState::Firing
            },
            summary: if escalated {
                format!("escalated: {detail}")
            } else {
                detail.to_string()
            },
            line: None,
            source: None,
        })
    }

    /// The severity of this rule's alerts: the level reported, else the rule's own.
    pub fn severity(&self, rule: Severity) -> Severity {
        self.level.unwrap_or(rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graded_failure_fires_at_its_level_and_an_escalation_is_an_event_at_the_new_level() {
        let mut p = ProbeRule::default();
        let w = Some(Severity::Warning);
        let c = Some(Severity::Critical);
        let fired = p.on_result(false, w, "disk WARNING").expect("fires");
        assert_eq!(fired.state, AlertState::Firing);
        assert_eq!(p.severity(Severity::Critical), Severity::Warning);
        assert!(p.on_result(false, w, "still WARNING").is_none());
        let again = p
            .on_result(false, c, "disk CRITICAL")
            .expect("escalation alerts");
        assert_eq!(again.state, AlertState::Event);
        assert_eq!(again.summary, "escalated: disk CRITICAL");
        assert_eq!(p.severity(Severity::Warning), Severity::Critical);
        // Better but not well: no alert; worse again later: one more.
        assert!(p.on_result(false, w, "back to WARNING").is_none());
        assert!(p.on_result(false, c, "CRITICAL again").is_some());
        let resolved = p.on_result(true, None, "fine").expect("resolves");
        assert_eq!(resolved.state, AlertState::Resolved);
        assert_eq!(
            p.severity(Severity::Warning),
            Severity::Critical,
            "resolved at its level"
        );
    }

    #[test]
    fn an_ungraded_failure_uses_the_rule_severity() {
        let mut p = ProbeRule::default();
        assert!(p.on_result(false, None, "down").is_some());
        assert_eq!(p.severity(Severity::Info), Severity::Info);
        assert!(p.on_result(false, None, "down").is_none());
    }
}
