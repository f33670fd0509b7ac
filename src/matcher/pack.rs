//! The pattern pack as the matcher takes it: named patterns of literals and regexes, already
//! validated (loading and validating packs is the config's job, `config/packs.rs`).

use std::path::PathBuf;

/// A validated pattern pack.
#[derive(Debug, Clone)]
pub struct PatternPack {
    /// The pack's name (its file name without `.toml`).
    pub name: String,
    /// Where it was read from: a path, or `<built-in>/NAME.toml` for shipped packs.
    pub origin: PathBuf,
    /// Its patterns, in file order.
    pub patterns: Vec<PatternDef>,
}

/// One validated pattern of a pack.
#[derive(Debug, Clone)]
pub struct PatternDef {
    /// Name that rules refer to (`pattern = "error"`); packs may share names.
    pub name: String,
    /// Literal substrings: any of them matching makes the pattern match.
    pub literals: Vec<String>,
    /// Regexes (regex crate syntax): any of them matching makes the pattern match.
    pub regexes: Vec<String>,
    /// Literal substrings that veto a match of this pattern.
    pub ignore: Vec<String>,
    /// Regexes that veto a match of this pattern.
    pub ignore_regexes: Vec<String>,
    /// Whether literals and regexes compare case-sensitively.
    pub case_sensitive: bool,
    /// Field conditions (`where`), all of which a structured line must meet: with literals
    /// or regexes, besides a hit; alone, they are the whole pattern.
    pub conditions: Vec<crate::matcher::condition::Condition>,
}
