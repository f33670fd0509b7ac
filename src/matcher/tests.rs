//! Unit tests of the matcher (`mod.rs`): one automaton, slots, vetoes, bytes, regex flags.

use super::*;
use crate::matcher::pack::PatternDef;

fn def(name: &str, lits: &[&str], res: &[&str], ignore: &[&str], cs: bool) -> PatternDef {
    PatternDef {
        name: name.into(),
        literals: lits.iter().map(|s| s.to_string()).collect(),
        regexes: res.iter().map(|s| s.to_string()).collect(),
        ignore: ignore.iter().map(|s| s.to_string()).collect(),
        ignore_regexes: vec![],
        case_sensitive: cs,
        conditions: vec![],
    }
}

fn pack(name: &str, patterns: Vec<PatternDef>) -> PatternPack {
    PatternPack {
        name: name.into(),
        origin: "t".into(),
        patterns,
    }
}

#[test]
fn case_sensitive_and_insensitive_literals_share_one_automaton() {
    let m = Matcher::build(&[pack(
        "p",
        vec![
            def("error", &["ERROR"], &[], &[], true),
            def("timeout", &["timeout"], &[], &[], false),
        ],
    )])
    .unwrap();
    let mut s = m.scratch();
    let error = 1 << m.slot("error").unwrap();
    let timeout = 1 << m.slot("timeout").unwrap();
    assert_eq!(m.match_line(b"x ERROR y", &mut s).slots, error);
    assert_eq!(m.match_line(b"x error y", &mut s).slots, 0);
    assert_eq!(m.match_line(b"socket TimeOut", &mut s).slots, timeout);
    assert_eq!(
        m.match_line(b"ERROR timeout", &mut s).slots,
        error | timeout
    );
}

#[test]
fn packs_sharing_a_name_share_a_slot() {
    let m = Matcher::build(&[
        pack("a", vec![def("error", &["ERROR"], &[], &[], true)]),
        pack(
            "b",
            vec![def("error", &[], &[r"connection\s+reset"], &[], false)],
        ),
    ])
    .unwrap();
    let mut s = m.scratch();
    assert_eq!(m.slot_names(), &["error".to_string()]);
    assert_eq!(m.match_line(b"Connection  RESET by peer", &mut s).slots, 1);
    assert_eq!(m.match_line(b"ERROR", &mut s).slots, 1);
    assert_eq!(m.match_line(b"fine", &mut s).slots, 0);
}

#[test]
fn ignore_vetoes_only_its_own_pattern() {
    let m = Matcher::build(&[pack(
        "p",
        vec![
            def("error", &["ERROR"], &[], &["HealthCheck"], true),
            def("health", &["HealthCheck"], &[], &[], true),
        ],
    )])
    .unwrap();
    let mut s = m.scratch();
    let r = m.match_line(b"ERROR HealthCheck failed", &mut s);
    assert_eq!(r.slots, 1 << m.slot("health").unwrap());
    assert!(r.vetoed);
    assert_eq!(m.vetoed_patterns(&s).collect::<Vec<_>>(), vec![0]);
}

#[test]
fn invalid_utf8_and_nul_bytes_are_matched_bytewise() {
    let m = Matcher::build(&[pack(
        "p",
        vec![def("error", &["ERROR"], &[r"fail\w+"], &[], true)],
    )])
    .unwrap();
    let mut s = m.scratch();
    assert_eq!(m.match_line(b"\xff\xfe\x00ERROR\x80", &mut s).slots, 1);
    assert_eq!(m.match_line(b"\xff failed \xc3", &mut s).slots, 1);
    assert_eq!(m.match_line(b"\xff\xff\xff", &mut s).slots, 0);
}

#[test]
fn packs_naming_a_capture_alike_keep_the_one_alternation() {
    let m = Matcher::build(&[
        pack(
            "a",
            vec![def("request", &[], &[r"\] (?P<status>\d{3}) "], &[], true)],
        ),
        pack(
            "b",
            vec![def("request", &[], &[r"^(?P<status>\d{3})$"], &[], true)],
        ),
    ])
    .unwrap();
    assert!(
        m.any_regex.is_some(),
        "a duplicate group name broke the alternation"
    );
    let mut s = m.scratch();
    assert_eq!(m.match_line(b"[x] 502 y", &mut s).slots, 1);
    assert_eq!(m.match_line(b"404", &mut s).slots, 1);
    assert_eq!(m.match_line(b"4040", &mut s).slots, 0);
}

#[test]
fn a_verbose_regex_with_a_comment_builds_and_keeps_its_flags() {
    // Found by the config fuzz target: `(?i:RE)` let the comment eat the `)`.
    let m = Matcher::build(&[pack(
        "p",
        vec![
            def("error", &[], &[r"(?x) order \s+ failed # why"], &[], false),
            def("exact", &[], &[r"Halt"], &[], true),
        ],
    )])
    .unwrap();
    let mut s = m.scratch();
    let error = 1 << m.slot("error").unwrap();
    assert_eq!(m.match_line(b"ORDER  FAILED", &mut s).slots, error);
    assert_eq!(m.match_line(b"order failed # why", &mut s).slots, error);
    assert_eq!(
        m.match_line(b"halt", &mut s).slots,
        0,
        "case-sensitive stays so"
    );
    assert_eq!(
        m.match_line(b"Halt", &mut s).slots,
        1 << m.slot("exact").unwrap()
    );
}
