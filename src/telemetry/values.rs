//! The numbers `value` rules take from lines, as Prometheus histograms at `/metrics`
//! (`logwarden_value`, buckets from the rule's config), one series per label value, and the
//! label values folded into `other` past the rule's `max_labels`.
//!
//! The engine owns the writing side: it registers a rule once (`value_histograms`) and a
//! series once per label value (a lock, once per new label), then observes each value with
//! atomic adds only: no lock per line.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::telemetry::metrics::Metrics;
use crate::telemetry::Telemetry;

/// The histograms of one `value` rule.
#[derive(Debug)]
pub struct ValueHistograms {
    watch: String,
    rule: String,
    /// Upper bounds, increasing (`+Inf` is implied).
    buckets: Vec<f64>,
    /// Per label value (`""` for a rule without `by`), in the order first seen.
    series: Mutex<Vec<(String, Arc<HistogramSeries>)>>,
    /// Lines whose label was folded into `other` (the rule had `max_labels` already).
    folded: AtomicU64,
}

/// One series: a count per bucket, the sum and the count.
#[derive(Debug)]
pub struct HistogramSeries {
    /// Values at or below `buckets[i]` and above the bucket before (not cumulative); the
    /// last is `+Inf`'s: `counts.len() == buckets.len() + 1`.
    counts: Box<[AtomicU64]>,
    /// The sum, as `f64` bits (the engine is the only writer).
    sum_bits: AtomicU64,
}

impl Telemetry {
    /// Registers the histograms of `watch`'s value rule `rule`.
    pub fn value_histograms(
        &self,
        watch: &str,
        rule: &str,
        buckets: &[f64],
    ) -> Arc<ValueHistograms> {
        debug_assert!(buckets.windows(2).all(|w| w[0] < w[1]), "checked by config");
        let h = Arc::new(ValueHistograms {
            watch: watch.to_string(),
            rule: rule.to_string(),
            buckets: buckets.to_vec(),
            series: Mutex::new(Vec::new()),
            folded: AtomicU64::new(0),
        });
        if let Ok(mut v) = self.values.lock() {
            v.push(h.clone());
        }
        h
    }

    /// `logwarden_value` histograms and `logwarden_value_labels_folded_total`.
    pub(super) fn metrics_of_values(&self, m: &mut Metrics) {
        let all = self.values.lock().map(|v| v.clone()).unwrap_or_default();
        m.family(
            "logwarden_value",
            "histogram",
            "Numbers value rules took from matched lines (seconds where the rule has a unit).",
        );
        for h in &all {
            let series = h.series.lock().map(|s| s.clone()).unwrap_or_default();
            for (label, s) in &series {
                let mut labels = vec![("watch", h.watch.as_str()), ("rule", h.rule.as_str())];
                if !label.is_empty() {
                    labels.push(("label", label.as_str()));
                }
                let mut cumulative = 0;
                let bounds = h.buckets.iter().map(|b| b.to_string());
                for (le, c) in bounds.chain(["+Inf".to_string()]).zip(s.counts.iter()) {
                    cumulative += c.load(Relaxed);
                    let mut l = labels.clone();
                    l.push(("le", &le));
                    m.sample("logwarden_value_bucket", &l, cumulative as f64);
                }
                let sum = f64::from_bits(s.sum_bits.load(Relaxed));
                m.sample("logwarden_value_sum", &labels, sum);
                m.sample("logwarden_value_count", &labels, cumulative as f64);
            }
        }
        m.family(
            "logwarden_value_labels_folded_total",
            "counter",
            "Values of a value rule whose label was folded into `other` (past max_labels).",
        );
        for h in &all {
            m.sample(
                "logwarden_value_labels_folded_total",
                &[("watch", &h.watch), ("rule", &h.rule)],
                h.folded.load(Relaxed) as f64,
            );
        }
    }
}

impl ValueHistograms {
    /// A new series for `label` (`""`: the rule has no `by`).
    pub fn series(&self, label: &str) -> Arc<HistogramSeries> {
        let s = Arc::new(HistogramSeries {
            counts: (0..=self.buckets.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        });
        if let Ok(mut v) = self.series.lock() {
            v.push((label.to_string(), s.clone()));
        }
        s
    }

    /// Notes a value counted under `other` because the rule had `max_labels` already.
    pub fn on_folded(&self) {
        self.folded.fetch_add(1, Relaxed);
    }

    /// Notes one value in `series` (made by this rule's `series`).
    pub fn observe(&self, series: &HistogramSeries, v: f64) {
        debug_assert_eq!(series.counts.len(), self.buckets.len() + 1);
        let i = self.buckets.partition_point(|&b| b < v);
        if let Some(c) = series.counts.get(i) {
            c.fetch_add(1, Relaxed);
        }
        let sum = f64::from_bits(series.sum_bits.load(Relaxed)) + v;
        series.sum_bits.store(sum.to_bits(), Relaxed);
    }
}
