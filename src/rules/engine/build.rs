//! The state of each configured rule and probe, built once per engine: which pattern slots
//! each rule listens to, and its state machine.

use tokio::time::Instant;

use crate::config::recovery::ProbeConfig;
use crate::config::{RuleConfig, RuleKind, WatchConfig};
use crate::matcher::Matcher;
use crate::rules::engine::{Rule, State};
use crate::rules::{
    absent, anomaly, gate, match_rule, new_kind, probe_rule, rate, ratio, stale, value,
};
use crate::telemetry::Telemetry;

/// The state of one configured rule of `w`; `m` is its matcher (for the pattern's slot).
pub(super) fn rule_of(
    r: &RuleConfig,
    w: &WatchConfig,
    m: &Matcher,
    start: Instant,
    clock: &gate::WallClock,
    telemetry: &Telemetry,
) -> Rule {
    let slot_bit = |p: &str| m.slot(p).map(|s| 1u64 << s).unwrap_or(0);
    let (slot_bit, state) = match &r.kind {
        RuleKind::Rate {
            pattern,
            threshold,
            resolve_below,
            window,
        } => (
            slot_bit(pattern),
            State::Rate(rate::Rate::new(
                pattern,
                *threshold,
                *resolve_below,
                *window,
            )),
        ),
        RuleKind::Stale { after } => (0, State::Stale(stale::Stale::new(*after, start))),
        RuleKind::Absent {
            pattern,
            min,
            window,
        } => (
            slot_bit(pattern),
            State::Absent(absent::Absent::new(pattern, *min, *window, start)),
        ),
        RuleKind::Match { pattern, cooldown } => (
            slot_bit(pattern),
            State::Match(match_rule::MatchRule::new(pattern, *cooldown)),
        ),
        RuleKind::NewKind {
            pattern,
            learn,
            max_templates,
            header,
            ..
        } => (
            slot_bit(pattern),
            State::NewKind(
                new_kind::NewKind::new(pattern, *learn, *max_templates, start)
                    .with_header(header.as_deref()),
            ),
        ),
        RuleKind::Anomaly {
            pattern,
            sensitivity,
            min_count,
            seasonal,
            learn,
            ..
        } => (
            slot_bit(pattern),
            State::Anomaly(anomaly::Anomaly::new(
                pattern,
                *sensitivity,
                *min_count,
                *seasonal,
                *learn,
                start,
            )),
        ),
        RuleKind::Value(v) => (
            slot_bit(&v.pattern),
            State::Value(Box::new(value::Value::new(
                v,
                &w.packs,
                telemetry.value_histograms(&w.name, &r.name, &v.buckets),
            ))),
        ),
        RuleKind::Ratio {
            pattern,
            over,
            above,
            resolve_below,
            window,
            min_count,
        } => (
            slot_bit(pattern) | slot_bit(over),
            State::Ratio(ratio::Ratio::new(
                (pattern, slot_bit(pattern)),
                (over, slot_bit(over)),
                (*above, *resolve_below),
                *window,
                *min_count,
            )),
        ),
    };
    let state_file = match &r.kind {
        RuleKind::NewKind { state_file, .. } | RuleKind::Anomaly { state_file, .. } => {
            Some(state_file.clone())
        }
        _ => None,
    };
    Rule {
        name: r.name.clone(),
        severity: r.severity,
        slot_bit,
        state,
        gate: r
            .schedule
            .as_ref()
            .map(|s| gate::Gate::new(s.clone(), clock, start)),
        state_file,
    }
}

/// The state of one configured probe's rule.
pub(super) fn probe_rule_of(p: &ProbeConfig, start: Instant, clock: &gate::WallClock) -> Rule {
    Rule {
        name: p.name.clone(),
        severity: p.severity,
        slot_bit: 0,
        state: State::Probe(probe_rule::ProbeRule::default()),
        gate: p
            .schedule
            .as_ref()
            .map(|s| gate::Gate::new(s.clone(), clock, start)),
        state_file: None,
    }
}
