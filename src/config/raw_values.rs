//! The words of `value` rules' keys as written in config (`unit = "ms"`, `aggregate =
//! "p95"`), beside `raw.rs`'s other raw types; read in `value_rules.rs`.

use serde::Deserialize;

/// The `unit` of a `value` rule's field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitText {
    S,
    Ms,
    Us,
}

/// The `aggregate` of a `value` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AggregateText {
    P50,
    P90,
    P95,
    P99,
    Max,
    Min,
    Avg,
    Sum,
    Count,
}
