//! `value`: an aggregate (p95, max, avg, ...) of the numbers taken from the lines a pattern
//! matched, over a sliding window, above or below a threshold, with hysteresis and a
//! `min_count`; with `by`, one window and one alert per label value (`RULE[VALUE]`), at most
//! `max_labels` of them, later values folded into `other` (and counted at `/metrics`).
//!
//! A series is judged when a value arrives or time passes, at most once per `JUDGE_EVERY` of
//! rule time (a quantile is a selection over the window, O(n): per line it would cost what the
//! matcher costs many times over). Between judgements nothing can change but a value leaving
//! the window, so the series' deadline is the later of its next judgement and its next expiry.
//! Backlog lines count at their written time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::duration::format_duration;
use crate::config::{Aggregate, Bound, ValueRule};
use crate::core::alert::AlertState;
use crate::matcher::pack::PatternPack;
use crate::rules::capture::Capture;
use crate::rules::input::Outcome;
use crate::rules::window_values::WindowValues;
use crate::telemetry::values::{HistogramSeries, ValueHistograms};

/// Least rule time between two judgements of one series.
pub const JUDGE_EVERY: Duration = Duration::from_secs(1);
/// The series label values past `max_labels` are counted in.
pub const OTHER_LABEL: &str = "other";
/// Longest label kept, in bytes; the rest of a longer value is cut off.
pub const LABEL_MAX: usize = 64;

/// A label value from a log line as the alert name `RULE[LABEL]` carries it into every
/// output: ASCII letters, digits and `-_./:` kept, every other byte (a control byte, markup,
/// `<!here>`, `@everyone`, a quote, a space, non-ASCII) written `-`, cut at `LABEL_MAX`.
/// Written into `out`, a buffer the rule reuses, so a line with a known label allocates
/// nothing. Values that differ only in what was replaced share a series.
fn inert_label(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend(raw.iter().take(LABEL_MAX).map(|&b| {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b':') {
            b
        } else {
            b'-'
        }
    }));
}

/// A state change of one series: the label it is for (`None` without `by`).
#[derive(Debug)]
pub struct Labelled {
    pub label: Option<String>,
    pub outcome: Outcome,
}

/// State of one value rule.
#[derive(Debug)]
pub struct Value {
    cfg: ValueRule,
    capture: Capture,
    /// Per label value in the order first seen; the only one without `by`.
    series: Vec<Series>,
    /// Label text to its index in `series` (at most `max_labels` entries, `other` aside).
    index: HashMap<Vec<u8>, usize>,
    /// Index of the `other` series, once a label was folded.
    other: Option<usize>,
    histograms: Arc<ValueHistograms>,
    /// The label of the line at hand, made inert (`inert_label`); reused.
    label_buf: Vec<u8>,
}

#[derive(Debug)]
struct Series {
    label: String,
    values: WindowValues,
    /// Since when it fires, if it does.
    firing_since: Option<Instant>,
    /// Not judged again before this (`None`: at the next chance).
    next_judge: Option<Instant>,
    metrics: Arc<HistogramSeries>,
}

impl Value {
    /// The rule `cfg` over the regexes of `packs`; its histograms in `histograms`.
    pub fn new(cfg: &ValueRule, packs: &[PatternPack], histograms: Arc<ValueHistograms>) -> Value {
        let capture = Capture::of(cfg, packs);
        let mut v = Value {
            cfg: cfg.clone(),
            capture,
            series: Vec::new(),
            index: HashMap::new(),
            other: None,
            histograms,
            label_buf: Vec::with_capacity(LABEL_MAX),
        };
        if v.cfg.by.is_none() {
            v.add_series(String::new());
        }
        v
    }

    fn add_series(&mut self, label: String) -> usize {
        self.series.push(Series {
            metrics: self.histograms.series(&label),
            label,
            values: WindowValues::new(self.cfg.window),
            firing_since: None,
            next_judge: None,
        });
        self.series.len() - 1
    }

    /// A line matched the rule's pattern at `at` (a backlog line: written at `at`).
    pub fn on_match(&mut self, at: Instant, line: &str, source: &str) -> Option<Labelled> {
        let taken = self.capture.take(line.as_bytes())?;
        let value = taken.value * self.cfg.scale;
        let i = match taken.label {
            None if self.cfg.by.is_none() => 0,
            label => self.series_of(label.unwrap_or_default()),
        };
        let s = &mut self.series[i];
        self.histograms.observe(&s.metrics, value);
        s.values.push(at, value);
        if s.next_judge.is_some_and(|t| at < t) {
            return None;
        }
        self.judge(i, at, Some((line, source)))
    }

    /// The series of a label's text, made when new (or `other` past `max_labels`).
    fn series_of(&mut self, raw: &[u8]) -> usize {
        let mut label = std::mem::take(&mut self.label_buf);
        inert_label(raw, &mut label);
        let i = self.series_of_inert(&label);
        self.label_buf = label;
        i
    }

    /// `series_of` for a label already made inert.
    fn series_of_inert(&mut self, label: &[u8]) -> usize {
        debug_assert!(label.len() <= LABEL_MAX && label.is_ascii());
        if let Some(&i) = self.index.get(label) {
            return i;
        }
        if self.index.len() >= self.cfg.max_labels {
            self.histograms.on_folded();
            return match self.other {
                Some(i) => i,
                None => {
                    let i = self.add_series(OTHER_LABEL.to_string());
                    self.other = Some(i);
                    i
                }
            };
        }
        let i = self.add_series(String::from_utf8_lossy(label).into_owned());
        self.index.insert(label.to_vec(), i);
        i
    }

    /// Time passed: series due are judged again (one may resolve, or fire as values leave).
    pub fn on_time(&mut self, now: Instant, out: &mut Vec<Labelled>) {
        for i in 0..self.series.len() {
            let s = &self.series[i];
            let due = s.next_judge.is_none_or(|t| now >= t);
            if due && (s.firing_since.is_some() || !s.values.is_empty()) {
                out.extend(self.judge(i, now, None));
            }
        }
    }

    /// The earliest time a series may change without a new value.
    pub fn deadline(&self) -> Option<Instant> {
        self.series
            .iter()
            .filter_map(|s| {
                let expiry = s.values.next_expiry();
                let changes = match (s.firing_since, expiry) {
                    (_, Some(e)) => e,
                    // Firing with no value left: it resolves at its next judgement.
                    (Some(since), None) => since,
                    (None, None) => return None,
                };
                Some(s.next_judge.map_or(changes, |j| j.max(changes)))
            })
            .min()
    }

    /// Starts counting afresh (after a pause or a restart of the watched unit); a firing
    /// series resolves at its next judgement.
    pub fn reset(&mut self) {
        for s in &mut self.series {
            s.values.clear();
            s.next_judge = None;
        }
    }

    /// Judges series `i` at `now`; `line` is the line that brought a value, if one did.
    fn judge(&mut self, i: usize, now: Instant, line: Option<(&str, &str)>) -> Option<Labelled> {
        let cfg = &self.cfg;
        let s = &mut self.series[i];
        s.values.expire(now);
        s.next_judge = Some(now + JUDGE_EVERY);
        let n = s.values.len();
        let agg = if n as u64 >= cfg.min_count {
            s.values.aggregate(cfg.aggregate)
        } else {
            None
        };
        let what = format!(
            "{} of {} within {}",
            aggregate_name(cfg.aggregate),
            cfg.field,
            format_duration(cfg.window)
        );
        let unit = if cfg.scale != 1.0 { "s" } else { "" };
        let outcome = match (s.firing_since, agg) {
            (None, Some(v)) if crosses(cfg.bound, v) => {
                s.firing_since = Some(now);
                let (side, t) = match cfg.bound {
                    Bound::Above(t) => ("above", t),
                    Bound::Below(t) => ("below", t),
                };
                // Past `MAX_WINDOW_VALUES` the window holds only the newest values: say so.
                let newest = if s.values.overflowed() > 0 {
                    "newest "
                } else {
                    ""
                };
                Outcome {
                    state: AlertState::Firing,
                    summary: format!(
                        "{what} is {}{unit}, {side} {}{unit} ({n} {newest}values)",
                        number(v),
                        number(t)
                    ),
                    line: line.map(|(l, _)| l.to_string()),
                    source: line.map(|(_, s)| s.to_string()),
                }
            }
            (Some(since), agg) if agg.is_none_or(|v| resolves(cfg.bound, cfg.resolve_at, v)) => {
                s.firing_since = None;
                let now_is = match agg {
                    Some(v) => format!("is {}{unit} now", number(v)),
                    None => format!("has too few values now ({n}, min_count {})", cfg.min_count),
                };
                Outcome {
                    state: AlertState::Resolved,
                    summary: format!(
                        "{what} {now_is} (resolves at {}{unit}); fired for {}",
                        number(cfg.resolve_at),
                        format_duration(crate::rules::rate::round_secs(
                            now.saturating_duration_since(since)
                        ))
                    ),
                    line: None,
                    source: None,
                }
            }
            _ => return None,
        };
        Some(Labelled {
            label: cfg.by.as_ref().map(|_| s.label.clone()),
            outcome,
        })
    }
}

/// Whether `v` is past the threshold.
fn crosses(b: Bound, v: f64) -> bool {
    match b {
        Bound::Above(t) => v > t,
        Bound::Below(t) => v < t,
    }
}

/// Whether `v` is back on the right side of the hysteresis bound `at`.
fn resolves(b: Bound, at: f64, v: f64) -> bool {
    match b {
        Bound::Above(_) => v <= at,
        Bound::Below(_) => v >= at,
    }
}

/// `p95`, `max`, ... as the config writes it.
pub fn aggregate_name(a: Aggregate) -> String {
    match a {
        Aggregate::Quantile(q) => format!("p{}", (q * 100.0).round()),
        Aggregate::Max => "max".into(),
        Aggregate::Min => "min".into(),
        Aggregate::Avg => "avg".into(),
        Aggregate::Sum => "sum".into(),
        Aggregate::Count => "count".into(),
    }
}

/// A number for a message: up to 6 decimals, trailing zeros dropped.
fn number(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::types::DEFAULT_BUCKETS;
    use crate::matcher::pack::PatternDef;

    fn packs() -> Vec<PatternPack> {
        vec![PatternPack {
            name: "p".into(),
            origin: "t".into(),
            patterns: vec![PatternDef {
                name: "req".into(),
                literals: vec![],
                regexes: vec![r"(?P<ep>\w+) took (?P<ms>\d+)ms".into()],
                ignore: vec![],
                ignore_regexes: vec![],
                case_sensitive: false,
                conditions: vec![],
            }],
        }]
    }

    fn rule(bound: Bound, resolve_at: f64, by: bool) -> Value {
        let cfg = ValueRule {
            pattern: "req".into(),
            from: crate::config::FieldFrom::Capture,
            field: "ms".into(),
            scale: 1e-3,
            aggregate: Aggregate::Max,
            window: Duration::from_secs(10),
            bound,
            resolve_at,
            min_count: 2,
            by: by.then(|| "ep".to_string()),
            max_labels: 2,
            buckets: DEFAULT_BUCKETS.to_vec(),
        };
        let telemetry =
            crate::telemetry::Telemetry::new(&crate::config::load_texts(vec![]).unwrap());
        let h = telemetry.value_histograms("w", "r", &cfg.buckets);
        Value::new(&cfg, &packs(), h)
    }

    fn secs(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn fires_above_after_min_count_and_resolves_only_past_the_hysteresis_bound() {
        let t0 = Instant::now();
        let mut v = rule(Bound::Above(1.0), 0.5, false);
        // One value over the bound is not enough (min_count 2); ms are seconds / 1000.
        assert!(v.on_match(t0, "a took 3000ms", "f").is_none());
        let fired = v.on_match(secs(t0, 1), "a took 100ms", "f").expect("fires");
        assert_eq!(fired.outcome.state, AlertState::Firing);
        assert!(
            fired
                .outcome
                .summary
                .contains("max of ms within 10s is 3s, above 1s (2 values)"),
            "{}",
            fired.outcome.summary
        );
        // The 3 s leaves the window at t0 + 10 s; 0.7 s is still above resolve_at.
        assert!(v.on_match(secs(t0, 9), "a took 700ms", "f").is_none());
        let mut out = Vec::new();
        v.on_time(secs(t0, 10), &mut out);
        assert!(out.is_empty(), "max 0.7 s > resolve_at 0.5: {out:?}");
        // Later, only small values: it resolves once the 0.7 s left too.
        assert!(v.on_match(secs(t0, 12), "a took 200ms", "f").is_none());
        assert!(v.on_match(secs(t0, 13), "a took 200ms", "f").is_none());
        let d = v.deadline().expect("a deadline while firing");
        assert_eq!(d, secs(t0, 19), "when 0.7 s leaves the window");
        v.on_time(d, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].outcome.state, AlertState::Resolved);
        assert!(
            out[0].outcome.summary.contains("is 0.2s now"),
            "{}",
            out[0].outcome.summary
        );
    }

    #[test]
    fn below_fires_when_values_drop_and_too_few_values_resolve() {
        let t0 = Instant::now();
        let mut v = rule(Bound::Below(0.5), 0.8, false);
        assert!(v.on_match(t0, "a took 100ms", "f").is_none());
        let fired = v
            .on_match(secs(t0, 1), "a took 200ms", "f")
            .expect("max 0.2 < 0.5");
        assert!(
            fired.outcome.summary.contains("below 0.5s"),
            "{}",
            fired.outcome.summary
        );
        let mut out = Vec::new();
        v.on_time(secs(t0, 20), &mut out);
        assert_eq!(out.len(), 1, "no values left: resolved");
        assert!(
            out[0].outcome.summary.contains("too few values"),
            "{}",
            out[0].outcome.summary
        );
    }

    #[test]
    fn labels_past_max_labels_fold_into_other_with_alerts_of_their_own() {
        let t0 = Instant::now();
        let mut v = rule(Bound::Above(1.0), 1.0, true);
        for (i, ep) in ["a", "b", "c"].iter().enumerate() {
            let at = secs(t0, i as u64);
            assert!(v.on_match(at, &format!("{ep} took 5000ms"), "f").is_none());
        }
        // `c` and `d` share `other`: its second value fires it; `a` has one value yet.
        let got = v
            .on_match(secs(t0, 3), "d took 5000ms", "f")
            .expect("other fires");
        assert_eq!(got.label.as_deref(), Some(OTHER_LABEL));
        let got = v
            .on_match(secs(t0, 5), "a took 5000ms", "f")
            .expect("a fires");
        assert_eq!(got.label.as_deref(), Some("a"));
        assert_eq!(v.series.len(), 3);
        assert_eq!(v.series[2].label, OTHER_LABEL);
        assert_eq!(v.series[2].values.len(), 2);
        assert!(
            v.series[2].firing_since.is_some(),
            "other fired with its second value"
        );
    }

    #[test]
    fn a_label_from_a_hostile_line_is_inert_and_bounded_and_its_series_shared() {
        let mut out = Vec::new();
        inert_label(b"\x1b]0;pwn\x07<!here>@everyone `x` \"q\"\n", &mut out);
        assert_eq!(out, b"--0-pwn---here--everyone--x---q--");
        inert_label(b"/api/v1/orders:get_all", &mut out);
        assert_eq!(out, b"/api/v1/orders:get_all");
        inert_label(&[b'a'; 500], &mut out);
        assert_eq!(out.len(), LABEL_MAX);
        let t0 = Instant::now();
        let mut v = rule(Bound::Above(1.0), 1.0, true);
        let (long_a, long_b) = ("a".repeat(70), format!("{}b", "a".repeat(69)));
        assert!(v
            .on_match(t0, &format!("{long_a} took 5000ms"), "f")
            .is_none());
        let got = v
            .on_match(secs(t0, 1), &format!("{long_b} took 5000ms"), "f")
            .expect("one series: its second value fires it");
        assert_eq!(got.label.as_deref(), Some(&long_a[..LABEL_MAX]));
        assert_eq!(v.series.len(), 1);
    }
}
