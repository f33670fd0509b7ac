//! libFuzzer target: `checks::config` (see fuzz/checks/config.rs for what it checks).
#![no_main]

#[path = "../checks/mod.rs"]
#[allow(dead_code)]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::config::run(data));
