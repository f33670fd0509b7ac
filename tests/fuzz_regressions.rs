//! Replays every fuzz seed and every input a fuzzer once crashed on (`fuzz/seeds/TARGET/`,
//! `fuzz/regressions/TARGET/`) through the same checks the libFuzzer targets run, so that a
//! bug the fuzzer found stays fixed in every `cargo test`, without libFuzzer or cargo-fuzz.

#[path = "../fuzz/checks/mod.rs"]
mod checks;

use std::path::Path;

#[test]
fn fuzz_seeds_and_saved_crashes_pass_their_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (target, run) in checks::TARGETS {
        for kind in ["seeds", "regressions"] {
            let dir = root.join(kind).join(target);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("readable directory").path();
                let data = std::fs::read(&path).expect("readable input");
                eprintln!("{}", path.display());
                run(&data);
                replayed += 1;
            }
        }
    }
    assert!(
        replayed >= 20,
        "only {replayed} inputs found under {}",
        root.display()
    );
}
