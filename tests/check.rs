//! `logwarden check` on the shipped example config: it passes as shipped, and a broken copy is
//! refused with `file:line:column: message` and exit status 1.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn check(config: &Path) -> Output {
    Command::new(common::bin())
        .arg("check")
        .arg("--config")
        .arg(config)
        .env_remove("LOGWARDEN_CONFIG")
        .output()
        .expect("run logwarden check")
}

/// Copies `src` (a directory tree of config files) into `dst`.
fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create dir");
    for e in std::fs::read_dir(src).expect("read examples") {
        let e = e.expect("dir entry");
        let to = dst.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_tree(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).expect("copy example");
        }
    }
}

#[test]
fn the_shipped_example_config_passes_check() {
    let out = check(&examples().join("logwarden.toml"));
    assert!(
        out.status.success(),
        "examples/logwarden.toml is refused:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("));
}

/// Every example besides the main one stands alone (copied out of `examples/`, whose
/// `logwarden.d/` drop-ins belong to `logwarden.toml`) and passes check as shipped.
#[test]
fn every_standalone_example_passes_check() {
    let mut checked = 0;
    for e in std::fs::read_dir(examples()).expect("read examples") {
        let path = e.expect("dir entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !name.ends_with(".toml") || name == "logwarden.toml" {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join(name);
        std::fs::copy(&path, &copy).expect("copy example");
        let out = check(&copy);
        assert!(
            out.status.success(),
            "examples/{name} is refused:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 1, "no standalone example found");
}

#[test]
fn a_misspelt_key_in_a_copy_of_the_example_is_reported_at_its_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&examples(), dir.path());
    let config = dir.path().join("logwarden.toml");
    let text = std::fs::read_to_string(&config).expect("read copy");
    assert!(text.contains("\n  threshold = 10\n"), "the example changed");
    let broken = text.replacen("\n  threshold = 10\n", "\n  treshold = 10\n", 1);
    std::fs::write(&config, &broken).expect("write broken copy");
    let line = broken
        .lines()
        .position(|l| l == "  treshold = 10")
        .expect("broken line")
        + 1;

    let out = check(&config);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or("");
    let at = format!("{}:{line}:3: ", config.display());
    assert!(first.starts_with(&at), "expected {at:?}...; got:\n{stderr}");
    assert!(first.contains("treshold"), "{stderr}");
    assert!(stderr.contains("1 problem(s) found"), "{stderr}");
}
