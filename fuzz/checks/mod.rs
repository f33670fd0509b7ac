//! The fuzz checks: each `run` takes the fuzzer's bytes, builds a test case from them and
//! panics when logwarden breaks a property. Shared by the libFuzzer targets
//! (`fuzz/fuzz_targets/`) and the regression test that replays saved inputs
//! (`tests/fuzz_regressions.rs`), so a crash found once is checked by every `cargo test`.

pub mod buffer_scan;
pub mod config;
pub mod fields;
pub mod input;
pub mod line_reader;
pub mod matcher;
pub mod multiline;
pub mod template;
pub mod timestamp;

/// A check: panics when the input shows a bug.
pub type Check = fn(&[u8]);

/// The checks by target name.
pub const TARGETS: &[(&str, Check)] = &[
    ("buffer_scan", buffer_scan::run),
    ("config", config::run),
    ("fields", fields::run),
    ("line_reader", line_reader::run),
    ("matcher", matcher::run),
    ("multiline", multiline::run),
    ("template", template::run),
    ("timestamp", timestamp::run),
];
