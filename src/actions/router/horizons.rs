//! How long the rules may take to fire again after logwarden starts: an alert carried over
//! from an earlier run that did not fire again within its horizon is resolved.

use std::collections::HashMap;
use std::time::Duration;

use crate::actions::router::book::Key;
use crate::config::{Config, ProbeConfig, RuleKind};
use crate::core::rule_names::{HANDOVER_RULE, RESTART_RULE};

/// Extra time a carried alert is given beyond its rule's horizon to fire again.
const CARRY_MARGIN: Duration = Duration::from_secs(120);

/// How long after a start each rule may take to fire again if its condition still holds.
pub(super) fn horizons(config: &Config) -> HashMap<Key, Duration> {
    let mut out = HashMap::new();
    for w in &config.watches {
        for r in &w.rules {
            let h = match &r.kind {
                RuleKind::Rate { window, .. } => *window,
                RuleKind::Stale { after } => *after,
                RuleKind::Absent { window, .. } => *window,
                RuleKind::Match { .. } | RuleKind::NewKind { .. } => Duration::ZERO,
                // A spike shows within its minute, a drop after 3 quiet minutes.
                RuleKind::Anomaly { .. } => Duration::from_secs(4 * 60),
                RuleKind::Value(v) => v.window,
                RuleKind::Ratio { window, .. } => *window,
            };
            out.insert((w.name.clone(), r.name.clone()), h);
        }
        for p in &w.probes {
            out.insert((w.name.clone(), p.name.clone()), probe_horizon(p));
        }
        // Restarts are events; a hand-over is the supervisor's (see `carry_deadlines`).
        out.insert((w.name.clone(), RESTART_RULE.to_string()), Duration::ZERO);
        out.insert(
            (
                w.name.clone(),
                crate::core::rule_names::LINES_LOST_RULE.to_string(),
            ),
            Duration::ZERO,
        );
    }
    out
}

fn probe_horizon(p: &ProbeConfig) -> Duration {
    (p.every + p.timeout).saturating_mul(p.failures.max(1))
}

/// When each carried alert (each of `open`) must have fired again, for a run started at
/// `started`.
pub(super) fn carry_deadlines(
    open: impl IntoIterator<Item = Key>,
    horizons: &HashMap<Key, Duration>,
    started: tokio::time::Instant,
) -> Vec<(Key, tokio::time::Instant)> {
    open.into_iter()
        .filter_map(|key| {
            let supervised = key.1 == HANDOVER_RULE;
            if supervised {
                // The supervisor keeps its hand-over state itself and resolves it.
                return None;
            }
            // A labelled alert (`slow[/api]`) has its rule's horizon.
            let base = (
                key.0.clone(),
                crate::core::rule_names::base_rule(&key.1).to_string(),
            );
            let horizon = horizons
                .get(&key)
                .or_else(|| horizons.get(&base))
                .copied()
                .unwrap_or(Duration::ZERO);
            Some((key, started + horizon + CARRY_MARGIN))
        })
        .collect()
}
