//! The matcher (one automaton, one regex set, "anything at all?" prechecks) against the
//! obvious per-pattern answer, on arbitrary patterns and lines.
//!
//! A line the matcher misses is an alert never sent, so this compares every slot, every veto
//! and every pattern id with a naive matcher: each literal searched alone (ASCII case folded
//! unless the pattern is case-sensitive), each regex compiled alone.

use logwarden::config::packs::build_regex;
use logwarden::matcher::pack::{PatternDef, PatternPack};
use logwarden::matcher::Matcher;

use super::input::Input;

const NAMES: [&str; 4] = ["error", "fatal", "warn", "disconnect"];

fn text(input: &mut Input) -> String {
    String::from_utf8_lossy(input.short()).into_owned()
}

fn literals(input: &mut Input) -> Vec<String> {
    let n = input.byte() % 4;
    (0..n)
        .map(|_| text(input))
        .filter(|l| !l.is_empty())
        .collect()
}

fn regexes(input: &mut Input, case_sensitive: bool) -> Vec<String> {
    let n = input.byte() % 3;
    (0..n)
        .map(|_| text(input))
        .filter(|r| build_regex(r, case_sensitive).is_ok())
        .collect()
}

fn contains(line: &[u8], lit: &str, case_sensitive: bool) -> bool {
    let lit = lit.as_bytes();
    if lit.len() > line.len() {
        return false;
    }
    line.windows(lit.len()).any(|w| {
        if case_sensitive {
            w == lit
        } else {
            w.eq_ignore_ascii_case(lit)
        }
    })
}

/// Whether any literal or regex of the lists hits the line.
fn hits(line: &[u8], lits: &[String], res: &[String], case_sensitive: bool) -> bool {
    lits.iter().any(|l| contains(line, l, case_sensitive))
        || res.iter().any(|r| {
            build_regex(r, case_sensitive)
                .expect("checked when generated")
                .is_match(line)
        })
}

/// A pack of up to six patterns (literals, regexes, ignore lists, case sensitivity) read from
/// the input.
pub fn pack(input: &mut Input) -> PatternPack {
    let count = 1 + input.byte() % 6;
    let mut patterns = Vec::new();
    for _ in 0..count {
        let flags = input.byte();
        let case_sensitive = flags & 1 == 1;
        let literals_ = literals(input);
        let regexes_ = regexes(input, case_sensitive);
        let ignore = literals(input);
        let ignore_regexes = regexes(input, case_sensitive);
        patterns.push(PatternDef {
            name: NAMES[(flags >> 1) as usize % NAMES.len()].to_string(),
            literals: literals_,
            regexes: regexes_,
            ignore,
            ignore_regexes,
            case_sensitive,
            conditions: Vec::new(),
        });
    }
    PatternPack {
        name: "fuzz".into(),
        origin: "/fuzz/patterns/fuzz.toml".into(),
        patterns,
    }
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let pack = pack(&mut input);
    let matcher = match Matcher::build(std::slice::from_ref(&pack)) {
        Ok(m) => m,
        // The size limits of the regex engines; every regex compiled alone.
        Err(_) => return,
    };
    let mut scratch = matcher.scratch();
    while !input.is_empty() {
        let line = input.until(b'\n');
        let got = matcher.match_line(line, &mut scratch);
        let mut slots = 0u64;
        let mut vetoed = false;
        let mut kept = Vec::new();
        for (id, p) in pack.patterns.iter().enumerate() {
            let hit = hits(line, &p.literals, &p.regexes, p.case_sensitive);
            let veto = hits(line, &p.ignore, &p.ignore_regexes, p.case_sensitive);
            if hit && veto {
                vetoed = true;
            } else if hit {
                slots |= 1 << matcher.patterns()[id].slot;
                kept.push(id);
            }
        }
        assert_eq!(got.slots, slots, "slots for {line:?}");
        assert_eq!(got.vetoed, vetoed, "vetoed for {line:?}");
        let ids: Vec<usize> = matcher.matched_patterns(&scratch).collect();
        assert_eq!(ids, kept, "patterns for {line:?}");
    }
}
