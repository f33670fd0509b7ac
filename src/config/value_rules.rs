//! The settings of `value` and `ratio` rules (numbers from lines), each read and range-checked
//! here; `rule.rs` has already refused keys of other kinds. A `value` rule's `field` and `by`
//! must be named groups of its pattern's regexes (a typo is an error at the key, not a rule
//! that never sees a number); its `json` path or `logfmt` key must be one that can be looked
//! up (which lines hold it only the lines can tell).

use std::time::Duration;

use crate::config::error::Diagnostics;
use crate::config::located::Located;
use crate::config::range::{self, days, ms};
use crate::config::raw::RawRule;
use crate::config::raw_values::{AggregateText, UnitText};
use crate::config::rule_kinds::KindCx;
use crate::config::types::{
    Aggregate, Bound, FieldFrom, RuleKind, ValueRule, DEFAULT_BUCKETS, DEFAULT_MAX_LABELS,
};
use crate::matcher::fields::FieldPath;
use crate::matcher::pack::PatternPack;

/// Most buckets one histogram may have (each is a series per label value in `/metrics`).
const MAX_BUCKETS: usize = 40;
/// Most label values a `value` rule may keep (each has its window and its series).
const MAX_LABELS: u64 = 1000;
/// Default fewest matches of `over` for a ratio to be judged: fewer requests say little.
const DEFAULT_RATIO_MIN_COUNT: u64 = 100;

/// A `value` rule: an aggregate of a captured number over a window, above or below a bound.
pub(super) fn value(
    r: &RawRule,
    cx: &KindCx,
    packs: &[PatternPack],
    diags: &mut Diagnostics,
) -> Option<RuleKind> {
    let fields = [
        (&r.field, FieldFrom::Capture),
        (&r.json, FieldFrom::Json),
        (&r.logfmt, FieldFrom::Logfmt),
    ];
    let mut given = fields
        .iter()
        .filter_map(|(f, from)| Some((f.as_ref()?, *from)));
    let first = given.next();
    if let Some((extra, _)) = given.next() {
        diags.at(
            cx.sources,
            extra,
            format!(
                "{}: give one of `field`, `json`, `logfmt` (where the number is)",
                cx.label
            ),
        );
    }
    let ok = cx.need(r.pattern.is_some(), "pattern", diags)
        & cx.need(first.is_some(), "field` (or `json`, `logfmt`", diags)
        & cx.need(r.aggregate.is_some(), "aggregate", diags)
        & cx.need(r.window.is_some(), "window", diags)
        & cx.need(
            r.above.is_some() || r.below.is_some(),
            "above` or `below",
            diags,
        );
    let (Some(pattern), Some((field, from)), Some(aggregate), Some(_), true) =
        (&r.pattern, first, &r.aggregate, &r.window, ok)
    else {
        return None;
    };
    match from {
        FieldFrom::Capture => check_groups(r, cx, packs, &pattern.value, field, diags),
        FieldFrom::Json | FieldFrom::Logfmt => {
            for f in std::iter::once(field).chain(&r.by) {
                check_field_name(f, from, cx, diags);
            }
        }
    }
    if r.by.is_none() {
        if let Some(m) = &r.max_labels {
            diags.at(
                cx.sources,
                m,
                format!("{}: max_labels applies only with `by`", cx.label),
            );
        }
    }
    if let (Some(_), Some(b)) = (&r.above, &r.below) {
        diags.at(
            cx.sources,
            b,
            format!("{}: give `above` or `below`, not both", cx.label),
        );
    }
    let bound = match (&r.above, &r.below) {
        (Some(a), _) => Bound::Above(finite(a, "above", cx, diags)),
        (None, Some(b)) => Bound::Below(finite(b, "below", cx, diags)),
        (None, None) => return None,
    };
    let resolve_at = resolve_at(r, bound, cx, diags);
    let max_labels = range::number_or(
        &r.max_labels,
        "max_labels",
        (1, MAX_LABELS),
        DEFAULT_MAX_LABELS as u64,
        cx.sources,
        diags,
    ) as usize;
    Some(RuleKind::Value(Box::new(ValueRule {
        pattern: pattern.value.clone(),
        from,
        field: field.value.clone(),
        scale: match r.unit.as_ref().map(|u| u.value) {
            None | Some(UnitText::S) => 1.0,
            Some(UnitText::Ms) => 1e-3,
            Some(UnitText::Us) => 1e-6,
        },
        aggregate: match aggregate.value {
            AggregateText::P50 => Aggregate::Quantile(0.5),
            AggregateText::P90 => Aggregate::Quantile(0.9),
            AggregateText::P95 => Aggregate::Quantile(0.95),
            AggregateText::P99 => Aggregate::Quantile(0.99),
            AggregateText::Max => Aggregate::Max,
            AggregateText::Min => Aggregate::Min,
            AggregateText::Avg => Aggregate::Avg,
            AggregateText::Sum => Aggregate::Sum,
            AggregateText::Count => Aggregate::Count,
        },
        window: window_of(r, cx, diags),
        bound,
        resolve_at,
        min_count: range::number_or(
            &r.min_count,
            "min_count",
            (1, 1_000_000),
            1,
            cx.sources,
            diags,
        ),
        by: r.by.as_ref().map(|b| b.value.clone()),
        max_labels,
        buckets: buckets(r, cx, diags),
    })))
}

/// A `ratio` rule: matches of `pattern` over matches of `over` within `window`.
pub(super) fn ratio(r: &RawRule, cx: &KindCx, diags: &mut Diagnostics) -> Option<RuleKind> {
    let ok = cx.need(r.pattern.is_some(), "pattern", diags)
        & cx.need(r.over.is_some(), "over", diags)
        & cx.need(r.above.is_some(), "above", diags)
        & cx.need(r.window.is_some(), "window", diags);
    let (Some(pattern), Some(over), Some(above), true) = (&r.pattern, &r.over, &r.above, ok) else {
        return None;
    };
    let above_v = finite(above, "above", cx, diags);
    if above_v < 0.0 {
        diags.at(
            cx.sources,
            above,
            format!(
                "{}: above is a fraction of `over`'s matches (0.01 is 1 %), not negative",
                cx.label
            ),
        );
    }
    let resolve_below = resolve_at(r, Bound::Above(above_v), cx, diags);
    Some(RuleKind::Ratio {
        pattern: pattern.value.clone(),
        over: over.value.clone(),
        above: above_v,
        resolve_below,
        window: window_of(r, cx, diags),
        min_count: range::number_or(
            &r.min_count,
            "min_count",
            (1, 100_000_000),
            DEFAULT_RATIO_MIN_COUNT,
            cx.sources,
            diags,
        ),
    })
}

/// `field` (and `by`) must be named groups of the pattern's regexes: every regex with the
/// field must have the label's group too.
fn check_groups(
    r: &RawRule,
    cx: &KindCx,
    packs: &[PatternPack],
    pattern: &str,
    field: &Located<String>,
    diags: &mut Diagnostics,
) {
    let groups = named_groups(packs, pattern, &field.value);
    if groups.with_field == 0 {
        diags.at(
            cx.sources,
            field,
            format!(
                "{}: field {:?} is no named group of pattern {pattern:?}'s regexes; its named groups: {}",
                cx.label,
                field.value,
                if groups.names.is_empty() {
                    "none (write one as (?P<NAME>...))".to_string()
                } else {
                    groups.names.join(", ")
                }
            ),
        );
    }
    if let Some(by) = &r.by {
        if groups.with_field > 0 && groups.with_field_and(&by.value) < groups.with_field {
            diags.at(
                cx.sources,
                by,
                format!(
                    "{}: by {:?} must be a named group of every regex of pattern {pattern:?} that captures {:?}",
                    cx.label, by.value, field.value
                ),
            );
        }
    }
}

/// A JSON path (`a.b.c`) or a logfmt key (no space, `=` or `"`) that can be looked up.
fn check_field_name(f: &Located<String>, from: FieldFrom, cx: &KindCx, diags: &mut Diagnostics) {
    let problem = match from {
        FieldFrom::Json => FieldPath::parse(&f.value).err().map(|e| e.to_string()),
        _ if f.value.is_empty() || f.value.bytes().any(|b| b <= b' ' || b == b'=' || b == b'"') => {
            Some(format!(
                "logfmt key {:?} must be a word without spaces, `=` or `\"`",
                f.value
            ))
        }
        _ => None,
    };
    if let Some(p) = problem {
        diags.at(cx.sources, f, format!("{}: {p}", cx.label));
    }
}

/// `window`, between 1 s and 30 days.
fn window_of(r: &RawRule, cx: &KindCx, diags: &mut Diagnostics) -> Duration {
    match &r.window {
        Some(w) => range::duration(w, "window", ms(1000), days(30), cx.sources, diags),
        None => Duration::from_secs(60),
    }
}

/// A threshold, which must be a finite number.
fn finite(v: &Located<f64>, key: &str, cx: &KindCx, diags: &mut Diagnostics) -> f64 {
    if !v.value.is_finite() {
        diags.at(
            cx.sources,
            v,
            format!("{}: {key} must be a number", cx.label),
        );
        return 0.0;
    }
    v.value
}

/// The hysteresis bound: `resolve_below` for `above`, `resolve_above` for `below`; the
/// threshold itself when not given, and never past it.
fn resolve_at(r: &RawRule, bound: Bound, cx: &KindCx, diags: &mut Diagnostics) -> f64 {
    let (given, wrong, threshold, key) = match bound {
        Bound::Above(t) => (&r.resolve_below, &r.resolve_above, t, "resolve_below"),
        Bound::Below(t) => (&r.resolve_above, &r.resolve_below, t, "resolve_above"),
    };
    if let Some(w) = wrong {
        diags.at(
            cx.sources,
            w,
            format!(
                "{}: this rule fires {} its threshold, so it resolves by `{key}`",
                cx.label,
                if key == "resolve_below" {
                    "above"
                } else {
                    "below"
                }
            ),
        );
    }
    let Some(g) = given else {
        return threshold;
    };
    let v = finite(g, key, cx, diags);
    if !g.value.is_finite() {
        return threshold;
    }
    let past = match bound {
        Bound::Above(_) => v > threshold,
        Bound::Below(_) => v < threshold,
    };
    if past {
        diags.at(
            cx.sources,
            g,
            format!(
                "{}: {key} ({v}) lies past the threshold ({threshold}): the rule would resolve while it should fire",
                cx.label
            ),
        );
        return threshold;
    }
    v
}

/// `buckets`: finite, strictly increasing, at most `MAX_BUCKETS`.
fn buckets(r: &RawRule, cx: &KindCx, diags: &mut Diagnostics) -> Vec<f64> {
    let Some(b) = &r.buckets else {
        return DEFAULT_BUCKETS.to_vec();
    };
    let increasing = b.value.windows(2).all(|w| w[0] < w[1]);
    if b.value.is_empty()
        || b.value.len() > MAX_BUCKETS
        || !increasing
        || !b.value.iter().all(|v| v.is_finite())
    {
        diags.at(
            cx.sources,
            b,
            format!(
                "{}: buckets must be 1 to {MAX_BUCKETS} increasing numbers (upper bounds; +Inf is added)",
                cx.label
            ),
        );
        return DEFAULT_BUCKETS.to_vec();
    }
    b.value.clone()
}

/// The named groups of one pattern's regexes, across the watch's packs.
struct Groups {
    /// Every named group of every regex of the pattern, sorted, once each.
    names: Vec<String>,
    /// How many of its regexes have the group asked for.
    with_field: usize,
    /// Each regex's names, to ask which have two groups at once.
    per_regex: Vec<Vec<String>>,
}

impl Groups {
    /// How many regexes have both the group asked for and `other`.
    fn with_field_and(&self, other: &str) -> usize {
        self.per_regex
            .iter()
            .filter(|names| names.iter().any(|n| n == other))
            .count()
    }
}

/// The named groups of `pattern`'s regexes and how many of them have `name`.
fn named_groups(packs: &[PatternPack], pattern: &str, name: &str) -> Groups {
    let mut per_regex = Vec::new();
    for def in packs
        .iter()
        .flat_map(|p| &p.patterns)
        .filter(|d| d.name == pattern)
    {
        for re in &def.regexes {
            // Packs are validated before rules, so a regex that does not compile here has
            // been reported already.
            if let Ok(re) = regex::bytes::Regex::new(re) {
                per_regex.push(
                    re.capture_names()
                        .flatten()
                        .map(str::to_string)
                        .collect::<Vec<_>>(),
                );
            }
        }
    }
    let mut names: Vec<String> = per_regex.iter().flatten().cloned().collect();
    names.sort_unstable();
    names.dedup();
    let with_field: Vec<Vec<String>> = per_regex
        .into_iter()
        .filter(|names| names.iter().any(|n| n == name))
        .collect();
    Groups {
        names,
        with_field: with_field.len(),
        per_regex: with_field,
    }
}
