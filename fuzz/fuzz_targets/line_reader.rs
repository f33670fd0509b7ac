//! libFuzzer target: `checks::line_reader` (see fuzz/checks/line_reader.rs for what it checks).
#![no_main]

#[path = "../checks/mod.rs"]
#[allow(dead_code)]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::line_reader::run(data));
