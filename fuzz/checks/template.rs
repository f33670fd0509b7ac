//! The template reducer and the kind clustering of `new-kind` rules on arbitrary text.
//!
//! Reduction stays within its limits (tokens per line, bytes per token) and is a function of
//! its input. Clustering: a line's kind is a template of the same length whose tokens equal
//! the line's or are wildcards, and which `matches` it; a kind never matches a line whose
//! fixed tokens differ from its own; the same line again is the same known kind; the kinds
//! never exceed their cap; and kinds saved and restored (as after a restart) still know the
//! line.

use logwarden::rules::line_template::{
    reduce, Seen, Templates, MAX_TOKENS, MAX_TOKEN_BYTES, WILDCARD,
};

use super::input::Input;

/// Words for events built from a vocabulary: anchors, variable parts and plain words, so
/// that the clustering sees many near-alike lines (raw bytes rarely make two alike).
const WORDS: [&str; 17] = [
    "ERROR",
    "2026-11-23",
    "bot:",
    "-",
    "[main]",
    "order",
    "rejected",
    "KeyError",
    "ValueError",
    "TimeoutError",
    "12",
    "13",
    "x=1",
    "x=2",
    "/opt/bot",
    "'a b'",
    "\n",
];

/// The next event: raw text up to a NUL, or (vocabulary mode) words up to a 0xFF byte.
fn event(input: &mut Input, vocabulary: bool) -> String {
    if !vocabulary {
        return String::from_utf8_lossy(input.until(0)).into_owned();
    }
    let words: Vec<&str> = input
        .until(0xFF)
        .iter()
        .map(|&b| WORDS[b as usize % WORDS.len()])
        .collect();
    words.join(" ").replace(" \\n ", "\n")
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let head = input.byte();
    let vocabulary = head & 0x80 != 0;
    let max = 1 + (head & 0x7F) as usize % 8;
    let mut kinds = Templates::new(max);
    while !input.is_empty() {
        // Events of several lines are common: a traceback is reduced to its first and last.
        let event = event(&mut input, vocabulary);
        let tokens = reduce(&event);
        assert!(
            tokens.len() <= 2 * MAX_TOKENS + 1,
            "{} tokens",
            tokens.len()
        );
        for t in &tokens {
            assert!(t.len() <= MAX_TOKEN_BYTES, "a token of {} bytes", t.len());
        }
        assert_eq!(
            tokens,
            reduce(&event),
            "reduce is not a function of its input"
        );

        let (_, i) = kinds.observe(tokens.clone());
        assert!(
            kinds.len() <= max,
            "{} kinds over the cap {max}",
            kinds.len()
        );
        let t = kinds.get(i).expect("the kind observe returned exists");
        assert_eq!(t.tokens.len(), tokens.len());
        for (have, new) in t.tokens.iter().zip(&tokens) {
            assert!(have == new || have == WILDCARD, "{have:?} vs {new:?}");
        }
        assert!(
            t.matches(&tokens),
            "{:?} does not match the line it took: {tokens:?}",
            t.tokens
        );
        // Another word where the kind has a fixed one: not of this kind.
        for (k, have) in t.tokens.iter().enumerate() {
            if have != WILDCARD && !(have.starts_with('<') && have.ends_with('>')) {
                let mut other = tokens.clone();
                other[k] = format!("{have}zq");
                assert!(!t.matches(&other), "{:?} matches {other:?}", t.tokens);
            }
        }
        let (seen, j) = kinds.observe(tokens.clone());
        assert_eq!(
            (seen, j),
            (Seen::Known, i),
            "the same line again is a new kind"
        );

        let mut restored = Templates::restore(kinds.all().to_vec(), max);
        let (seen, _) = restored.observe(tokens.clone());
        assert_eq!(
            seen,
            Seen::Known,
            "a restored kind no longer knows {tokens:?}"
        );
    }
}
