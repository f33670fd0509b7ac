//! Rules: from matched lines and the passing of time to firing and resolved alerts.
//!
//! The engine owns the state of every rule of every watch. It receives `Input` from the
//! sources (batches of lines and matched lines, already matched), asks each rule what changed,
//! and sends `Alert`s to the actions. Rules are plain state machines driven by the `Instant`s
//! they are given, so tests drive them in microseconds; the engine sleeps exactly until the
//! earliest rule deadline, so an idle daemon does not wake needlessly.

pub(crate) mod absent;
pub(crate) mod activity;
pub(crate) mod anomaly;
pub mod batch;
pub(crate) mod capture;
pub(crate) mod engine;
pub(crate) mod gate;
pub(crate) mod input;
pub mod line_header;
pub mod line_template;
pub(crate) mod match_rule;
pub(crate) mod new_kind;
pub(crate) mod probe_rule;
pub(crate) mod rate;
pub(crate) mod ratio;
pub(crate) mod recent;
pub(crate) mod stale;
pub(crate) mod store;
pub(crate) mod value;
pub(crate) mod window_values;

pub use activity::Activity;
pub use engine::Engine;
pub use input::{Input, MatchedLine, Outcome, Output};

#[cfg(test)]
mod tests;
