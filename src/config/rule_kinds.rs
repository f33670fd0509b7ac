//! The settings of each rule kind (`when = ...`), each read and range-checked by its own
//! function; `rule.rs` has already refused keys of other kinds.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::error::Diagnostics;
use crate::config::located::{Located, SourceMap};
use crate::config::range::{self, days, ms, secs};
use crate::config::raw::RawRule;
use crate::config::types::{RuleKind, DEFAULT_MAX_TEMPLATES, DEFAULT_NEW_KIND_LEARN};

/// How long `new-kind` and `anomaly` rules may learn: up to a quarter.
const LEARN_RANGE: (Duration, Duration) = (Duration::ZERO, days(90));

/// What the kinds' readers share: where to report, and the rule's name for messages.
pub(super) struct KindCx<'a> {
    pub(super) sources: &'a SourceMap,
    /// The rule's `name`, where a missing key is reported.
    pub(super) name_at: &'a Located<String>,
    /// `KIND rule WATCH/RULE`.
    pub(super) label: String,
}

impl KindCx<'_> {
    /// Reports `what` missing unless `present`; returns `present`.
    pub(super) fn need(&self, present: bool, what: &str, diags: &mut Diagnostics) -> bool {
        if !present {
            diags.at(
                self.sources,
                self.name_at,
                format!("{} needs `{what}`", self.label),
            );
        }
        present
    }
}

/// A `rate` rule: more than `threshold` matches of `pattern` within `window`.
pub(super) fn rate(r: &RawRule, cx: &KindCx, diags: &mut Diagnostics) -> Option<RuleKind> {
    let ok = cx.need(r.pattern.is_some(), "pattern", diags)
        & cx.need(r.threshold.is_some(), "threshold", diags)
        & cx.need(r.window.is_some(), "window", diags);
    let (Some(pattern), Some(threshold), Some(window), true) =
        (&r.pattern, &r.threshold, &r.window, ok)
    else {
        return None;
    };
    // A count: `resolve_below` is read as a number for `value` and `ratio` rules too.
    let resolve_below = r
        .resolve_below
        .as_ref()
        .map(|v| v.value.max(0.0) as u64)
        .unwrap_or(threshold.value.saturating_add(1));
    let threshold = range::number(threshold, "threshold", 0, 1_000_000, cx.sources, diags);
    if let Some(rb) = &r.resolve_below {
        if rb.value.fract() != 0.0 || resolve_below == 0 || resolve_below > threshold + 1 {
            diags.at(
                cx.sources,
                rb,
                format!(
                    "resolve_below must be between 1 and threshold + 1 ({})",
                    threshold + 1
                ),
            );
        }
    }
    Some(RuleKind::Rate {
        pattern: pattern.value.clone(),
        threshold,
        resolve_below,
        window: range::duration(window, "window", ms(100), days(30), cx.sources, diags),
    })
}

/// A `stale` rule: no line for `after`.
pub(super) fn stale(r: &RawRule, cx: &KindCx, diags: &mut Diagnostics) -> Option<RuleKind> {
    let Some(after) = &r.after else {
        cx.need(false, "after", diags);
        return None;
    };
    Some(RuleKind::Stale {
        after: range::duration(after, "after", ms(100), days(30), cx.sources, diags),
    })
}

/// An `absent` rule: fewer than `min` matches within `window`.
pub(super) fn absent(r: &RawRule, cx: &KindCx, diags: &mut Diagnostics) -> Option<RuleKind> {
    let ok = cx.need(r.pattern.is_some(), "pattern", diags)
        & cx.need(r.window.is_some(), "window", diags);
    let (Some(pattern), Some(window), true) = (&r.pattern, &r.window, ok) else {
        return None;
    };
    let min = range::number_or(&r.min, "min", (1, 1_000_000), 1, cx.sources, diags);
    Some(RuleKind::Absent {
        pattern: pattern.value.clone(),
        min,
        window: range::duration(window, "window", ms(100), days(30), cx.sources, diags),
    })
}

/// A `match` rule: every match an event, repeats within `cooldown` counted.
pub(super) fn matched(r: &RawRule, cx: &KindCx, diags: &mut Diagnostics) -> Option<RuleKind> {
    let Some(pattern) = &r.pattern else {
        cx.need(false, "pattern", diags);
        return None;
    };
    Some(RuleKind::Match {
        pattern: pattern.value.clone(),
        cooldown: range::duration_or(
            &r.cooldown,
            "cooldown",
            (Duration::ZERO, days(7)),
            secs(60),
            cx.sources,
            diags,
        ),
    })
}

/// A `new-kind` rule: a kind of line not seen while learning.
pub(super) fn new_kind(r: &RawRule, cx: &KindCx, diags: &mut Diagnostics) -> Option<RuleKind> {
    let Some(pattern) = &r.pattern else {
        cx.need(false, "pattern", diags);
        return None;
    };
    let max_templates = range::number_or(
        &r.max_templates,
        "max_templates",
        (1, 100_000),
        DEFAULT_MAX_TEMPLATES as u64,
        cx.sources,
        diags,
    ) as usize;
    let header = r
        .header
        .as_ref()
        .and_then(|h| match regex::Regex::new(&h.value) {
            Ok(_) => Some(h.value.clone()),
            Err(e) => {
                diags.at(
                    cx.sources,
                    h,
                    format!(
                        "header regex does not compile: {}",
                        e.to_string().replace('\n', " ")
                    ),
                );
                None
            }
        });
    Some(RuleKind::NewKind {
        header,
        pattern: pattern.value.clone(),
        learn: range::duration_or(
            &r.learn,
            "learn",
            LEARN_RANGE,
            DEFAULT_NEW_KIND_LEARN,
            cx.sources,
            diags,
        ),
        max_templates,
        state_file: PathBuf::new(),
    })
}

/// An `anomaly` rule: a per-minute rate far from its learned baseline.
pub(super) fn anomaly(r: &RawRule, cx: &KindCx, diags: &mut Diagnostics) -> Option<RuleKind> {
    let Some(pattern) = &r.pattern else {
        cx.need(false, "pattern", diags);
        return None;
    };
    let seasonal = r.seasonal.as_ref().is_some_and(|s| s.value);
    let sensitivity = r.sensitivity.as_ref().map(|s| s.value).unwrap_or(4.0);
    if let Some(s) = &r.sensitivity {
        if !(s.value.is_finite() && s.value > 0.0 && s.value <= 100.0) {
            diags.at(
                cx.sources,
                s,
                "sensitivity must be a z-score above 0 and at most 100 (3 to 5 is usual)".into(),
            );
        }
    }
    let min_count = range::number_or(
        &r.min_count,
        "min_count",
        (1, 1_000_000),
        10,
        cx.sources,
        diags,
    );
    // A seasonal baseline needs a week to have seen every hour of it once.
    let default_learn = if seasonal {
        Duration::from_secs(7 * 86_400)
    } else {
        Duration::from_secs(86_400)
    };
    Some(RuleKind::Anomaly {
        pattern: pattern.value.clone(),
        sensitivity,
        min_count,
        seasonal,
        learn: range::duration_or(
            &r.learn,
            "learn",
            LEARN_RANGE,
            default_learn,
            cx.sources,
            diags,
        ),
        state_file: PathBuf::new(),
    })
}
