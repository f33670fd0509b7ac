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
        let capture = Capture::new(packs, &cfg.pattern, &cfg.field, cfg.by.as_deref());
        let mut v = Value {
            cfg: cfg.clone(),
            capture,
            series: Vec::new(),
            index: HashMap::new(),
            other: None,
            histograms,
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
    fn series_of(&mut self, label: &[u8]) -> usize {
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
