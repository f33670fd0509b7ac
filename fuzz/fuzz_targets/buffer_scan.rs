//! libFuzzer target: `checks::buffer_scan` (see fuzz/checks/buffer_scan.rs for what it checks).
#![no_main]

#[path = "../checks/mod.rs"]
#[allow(dead_code)]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::buffer_scan::run(data));
