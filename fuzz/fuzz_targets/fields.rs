//! libFuzzer target: `checks::fields` (see fuzz/checks/fields.rs for what it checks).
#![no_main]

#[path = "../checks/mod.rs"]
#[allow(dead_code)]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::fields::run(data));
