//! One `[[watch.rule]]`: its name, kind, the keys its kind takes, its pattern, severity,
//! schedule and `then`. The settings of each kind are read in `rule_kinds.rs`.

use crate::config::error::Diagnostics;
use crate::config::located::SourceMap;
use crate::config::raw::{severity_of, valid_name, IncidentText, RawRule, RuleKindText};
use crate::config::recovery;
use crate::config::rule_kinds::{self, KindCx};
use crate::config::schedule::resolve_schedule;
use crate::config::types::RuleConfig;
use crate::config::value_rules;
use crate::core::alert::Severity;
use crate::matcher::pack::PatternPack;

/// One `[[watch.rule]]` of `watch` after checks (`None`: disabled, or in error).
pub(super) fn resolve_rule(
    watch: &str,
    r: RawRule,
    pattern_names: &[&str],
    packs: &[PatternPack],
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<RuleConfig> {
    if let Some(e) = r.enabled.as_ref().filter(|e| !e.value) {
        // `enabled = false` alone (no `when` from any file) names a rule that does not exist:
        // most likely a typo, which would leave the rule the operator meant switched on.
        if r.when.is_none() {
            diags.at(
                sources,
                e,
                format!(
                    "`enabled = false` for rule {watch}/{}, but no file defines that rule; check its name",
                    r.name.value
                ),
            );
        }
        return None;
    }
    let rule = r.name.value.clone();
    if rule == "restart" || rule == "manual-intervention" {
        diags.at(
            sources,
            &r.name,
            format!("rule name {rule:?} is reserved for logwarden's own alerts about restarts"),
        );
    }
    if !valid_name(&rule) {
        diags.at(
            sources,
            &r.name,
            format!("rule name {rule:?} may use only letters, digits, '-', '_', '.', '@'"),
        );
    }
    let Some(when) = &r.when else {
        diags.at(
            sources,
            &r.name,
            format!(
                "rule {watch}/{rule} has no `when`; use one of \"rate\", \"stale\", \"absent\", \"match\", \"new-kind\", \"anomaly\", \"value\", \"ratio\""
            ),
        );
        return None;
    };
    let kind_name = match when.value {
        RuleKindText::Rate => "rate",
        RuleKindText::Stale => "stale",
        RuleKindText::Absent => "absent",
        RuleKindText::Match => "match",
        RuleKindText::NewKind => "new-kind",
        RuleKindText::Anomaly => "anomaly",
        RuleKindText::Value => "value",
        RuleKindText::Ratio => "ratio",
    };
    // Settings of another kind are errors (see `check_keys`).
    let allowed = allowed_keys(when.value);
    check_keys(
        &r,
        allowed,
        kind_name,
        &format!("{watch}/{rule}"),
        sources,
        diags,
    );
    let cx = KindCx {
        sources,
        name_at: &r.name,
        label: format!("{kind_name} rule {watch}/{rule}"),
    };
    let kind = match when.value {
        RuleKindText::Rate => rule_kinds::rate(&r, &cx, diags)?,
        RuleKindText::Stale => rule_kinds::stale(&r, &cx, diags)?,
        RuleKindText::Absent => rule_kinds::absent(&r, &cx, diags)?,
        RuleKindText::Match => rule_kinds::matched(&r, &cx, diags)?,
        RuleKindText::NewKind => rule_kinds::new_kind(&r, &cx, diags)?,
        RuleKindText::Anomaly => rule_kinds::anomaly(&r, &cx, diags)?,
        RuleKindText::Value => value_rules::value(&r, &cx, packs, diags)?,
        RuleKindText::Ratio => value_rules::ratio(&r, &cx, diags)?,
    };
    for p in r.pattern.iter().chain(&r.over) {
        if !pattern_names.contains(&p.value.as_str()) {
            diags.at(
                sources,
                p,
                format!(
                    "rule {watch}/{rule} uses pattern {:?}, which no pack of this watch defines; defined: {}",
                    p.value,
                    if pattern_names.is_empty() {
                        "none (add packs with `patterns = [...]`)".to_string()
                    } else {
                        pattern_names.join(", ")
                    }
                ),
            );
        }
    }
    let severity = r
        .severity
        .as_ref()
        .map(|s| severity_of(s.value))
        .unwrap_or(Severity::Warning);
    let schedule = resolve_schedule(
        &r.name.value,
        r.active.as_ref(),
        r.holidays.as_ref(),
        r.holidays_file.as_ref(),
        sources,
        diags,
    )
    .map(std::sync::Arc::new);
    Some(RuleConfig {
        name: rule,
        severity,
        kind,
        then_restart: recovery::wants_restart(&r.then),
        apart: r.incident.as_ref().map(|i| i.value) == Some(IncidentText::Apart),
        schedule,
    })
}

/// The keys a rule of kind `when` takes besides those of every rule.
fn allowed_keys(when: RuleKindText) -> &'static [&'static str] {
    match when {
        RuleKindText::Rate => &["pattern", "threshold", "resolve_below", "window"],
        RuleKindText::Stale => &["after"],
        RuleKindText::Absent => &["pattern", "min", "window"],
        RuleKindText::Match => &["pattern", "cooldown"],
        RuleKindText::NewKind => &["pattern", "learn", "max_templates", "header"],
        RuleKindText::Anomaly => &["pattern", "sensitivity", "min_count", "seasonal", "learn"],
        RuleKindText::Value => &[
            "pattern",
            "field",
            "json",
            "logfmt",
            "unit",
            "aggregate",
            "window",
            "above",
            "below",
            "resolve_below",
            "resolve_above",
            "min_count",
            "by",
            "max_labels",
            "buckets",
        ],
        RuleKindText::Ratio => &[
            "pattern",
            "over",
            "above",
            "resolve_below",
            "window",
            "min_count",
        ],
    }
}

/// Settings that do not apply to this kind are errors: a `window` on a stale rule is a
/// misunderstanding the operator should hear about, not a silent no-op.
fn check_keys(
    r: &RawRule,
    allowed: &[&str],
    kind_name: &str,
    rule: &str,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) {
    let present: [(&str, Option<(usize, usize)>); 25] = [
        ("field", r.field.as_ref().map(|v| (v.file, v.span.start))),
        ("json", r.json.as_ref().map(|v| (v.file, v.span.start))),
        ("logfmt", r.logfmt.as_ref().map(|v| (v.file, v.span.start))),
        ("unit", r.unit.as_ref().map(|v| (v.file, v.span.start))),
        (
            "aggregate",
            r.aggregate.as_ref().map(|v| (v.file, v.span.start)),
        ),
        ("above", r.above.as_ref().map(|v| (v.file, v.span.start))),
        ("below", r.below.as_ref().map(|v| (v.file, v.span.start))),
        (
            "resolve_above",
            r.resolve_above.as_ref().map(|v| (v.file, v.span.start)),
        ),
        ("over", r.over.as_ref().map(|v| (v.file, v.span.start))),
        ("by", r.by.as_ref().map(|v| (v.file, v.span.start))),
        (
            "max_labels",
            r.max_labels.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "buckets",
            r.buckets.as_ref().map(|v| (v.file, v.span.start)),
        ),
        ("learn", r.learn.as_ref().map(|v| (v.file, v.span.start))),
        ("header", r.header.as_ref().map(|v| (v.file, v.span.start))),
        (
            "max_templates",
            r.max_templates.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "sensitivity",
            r.sensitivity.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "min_count",
            r.min_count.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "seasonal",
            r.seasonal.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "pattern",
            r.pattern.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "threshold",
            r.threshold.as_ref().map(|v| (v.file, v.span.start)),
        ),
        (
            "resolve_below",
            r.resolve_below.as_ref().map(|v| (v.file, v.span.start)),
        ),
        ("window", r.window.as_ref().map(|v| (v.file, v.span.start))),
        ("min", r.min.as_ref().map(|v| (v.file, v.span.start))),
        ("after", r.after.as_ref().map(|v| (v.file, v.span.start))),
        (
            "cooldown",
            r.cooldown.as_ref().map(|v| (v.file, v.span.start)),
        ),
    ];
    for (key, at) in present {
        if let Some((file, offset)) = at {
            if !allowed.contains(&key) {
                diags.push(format!(
                    "{}: `{key}` does not apply to a {kind_name} rule (rule {rule}); it takes: {}",
                    sources.position(file, offset),
                    allowed.join(", ")
                ));
            }
        }
    }
}
