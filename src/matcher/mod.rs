//! The matcher: which patterns does a line match? The per-line hot path of logwarden.
//!
//! All literals of all patterns of a watch (match and ignore literals alike) are compiled into
//! ONE Aho-Corasick automaton, searched once per line. It is ASCII-case-insensitive; a hit of a
//! case-sensitive literal is confirmed by comparing the bytes, so mixed sensitivities still need
//! one pass. All regexes go into one `regex::bytes::RegexSet`, and only a line that matches
//! one of them asks the set which (`matches`, which allocates; that is a matching line, rare
//! by nature). Lines are `&[u8]`: invalid UTF-8 is matched bytewise and never an error.
//!
//! Most lines match nothing, so each part first asks the cheapest question, "anything at
//! all?": `is_match` of the automaton (which, unlike the overlapping search that finds every
//! literal, can use aho-corasick's prefilters) and of one regex that is the alternation of all
//! the regexes (the set's own `is_match` is twice as slow; measured in `bench/`).
//!
//! Patterns are grouped into *slots* by name: packs may share a name (`python-logging/error` and
//! `trading/error`), and a rule's `pattern = "error"` means any of them. A line's slots are a
//! `u64` bit set, which is what travels to the rules.
//!
//! A watch whose lines are JSON or logfmt (`structured.rs`) also has each line's level field
//! counted as the `error`/`critical`/`warning` slot, and patterns with field conditions
//! (`condition.rs`, a pack's `where`) kept only when the line's fields meet them. The line is
//! read once for both, in place; a plain watch skips all of it.

pub mod buffer_scan;
pub mod condition;
pub mod fields;
pub mod json_line;
pub mod logfmt_line;
pub mod pack;
pub mod structured;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::{Regex, RegexSet};
use regex_syntax::hir::{Hir, HirKind};

use crate::matcher::buffer_scan::{BufferScan, ScanLiteral};
use crate::matcher::condition::Condition;
use crate::matcher::pack::PatternPack;
use crate::matcher::structured::{Level, LineFormat, LineStructure, StructuredLine};

/// Most distinct pattern names (slots) one watch can use; a `SlotSet` is a `u64`.
pub const MAX_SLOTS: usize = 64;

/// A set of slot indexes (bit `i` = slot `i` matched).
pub type SlotSet = u64;

/// A compiled matcher for one watch. Immutable once built; share it with `Arc`.
#[derive(Debug)]
pub struct Matcher {
    /// One automaton over every literal; `None` when no pattern has literals.
    ac: Option<AhoCorasick>,
    /// Per automaton pattern id: which pattern it belongs to, and how.
    literals: Vec<Literal>,
    /// One set over every regex; `None` when no pattern has regexes.
    set: Option<RegexSet>,
    /// The alternation of every regex, to ask whether any matches; `None` when there are no
    /// regexes (or the alternation is too big to compile: then the set is asked).
    any_regex: Option<Regex>,
    /// Per regex set index: which pattern it belongs to, and how.
    regexes: Vec<Entry>,
    /// Every pack pattern, in pack order then file order; indexes are pattern ids.
    patterns: Vec<PatternInfo>,
    /// Slot names; a slot's index is its bit in a `SlotSet`.
    slots: Vec<String>,
    /// A structured watch's format, and the pattern ids its levels count as; `None` for a
    /// plain watch (which pays nothing for it).
    structure: Option<Structure>,
    /// Patterns with field conditions (`where`); empty for most watches.
    conditional: Vec<Conditional>,
    /// The same searches over a whole buffer (`buffer_scan.rs`); `None` if they cannot compile.
    scan: Option<BufferScan>,
}

/// A pattern's field conditions, met by a structured line or not at all.
#[derive(Debug)]
struct Conditional {
    /// Index into `Matcher::patterns`.
    pattern: u32,
    conditions: Box<[Condition]>,
    /// The pattern has no literal or regex: the conditions alone decide.
    alone: bool,
}

/// The level fields of a structured watch as patterns (see `Matcher::with_structure`).
#[derive(Debug)]
struct Structure {
    lines: LineStructure,
    /// Pattern ids (pack `LEVEL_PACK`) of the `critical`, `error` and `warning` slots.
    critical: Option<u32>,
    error: Option<u32>,
    warning: Option<u32>,
}

/// The pack name a level field's matches are reported under (`level-field/error`).
pub const LEVEL_PACK: &str = "level-field";

/// Which pattern an automaton or regex entry belongs to, and whether it vetoes.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Index into `Matcher::patterns`.
    pattern: u32,
    /// An `ignore` entry: a hit vetoes the pattern instead of matching it.
    ignore: bool,
}

#[derive(Debug)]
struct Literal {
    entry: Entry,
    /// For case-sensitive literals, the exact bytes a hit must equal.
    exact: Option<Box<[u8]>>,
}

/// Names of one pack pattern.
#[derive(Debug, Clone)]
pub struct PatternInfo {
    pub pack: String,
    pub name: String,
    /// Index of this pattern's name in the slot list.
    pub slot: usize,
}

/// Reusable per-thread state for matching, so matching a line allocates nothing.
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    /// Patterns with a match entry hit, as a bit set over pattern ids.
    hits: Vec<u64>,
    /// Patterns with an ignore entry hit.
    vetoes: Vec<u64>,
}

/// What one line matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineMatch {
    /// Slots matched (a pattern of the slot hit and was not vetoed).
    pub slots: SlotSet,
    /// At least one pattern hit but was vetoed by its ignore list.
    pub vetoed: bool,
}

/// A pattern set that cannot be compiled (only on limits; packs are validated beforehand).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot build the literal automaton: {0}")]
    Literals(#[from] aho_corasick::BuildError),
    #[error("cannot build the regex set: {0}")]
    Regexes(#[from] regex::Error),
    #[error("cannot parse a regex: {0}")]
    Syntax(#[from] Box<regex_syntax::Error>),
    #[error("more than {MAX_SLOTS} distinct pattern names")]
    TooManySlots,
}

impl Matcher {
    /// Compiles every pattern of `packs`.
    pub fn build(packs: &[PatternPack]) -> Result<Matcher, BuildError> {
        let mut patterns = Vec::new();
        let mut slots: Vec<String> = Vec::new();
        let mut literal_bytes: Vec<Vec<u8>> = Vec::new();
        let mut literals = Vec::new();
        let mut regex_src = Vec::new();
        let mut regexes = Vec::new();
        let mut conditional = Vec::new();
        for pack in packs {
            for def in &pack.patterns {
                let slot = match slots.iter().position(|s| *s == def.name) {
                    Some(i) => i,
                    None => {
                        slots.push(def.name.clone());
                        slots.len() - 1
                    }
                };
                let id = patterns.len() as u32;
                patterns.push(PatternInfo {
                    pack: pack.name.clone(),
                    name: def.name.clone(),
                    slot,
                });
                if !def.conditions.is_empty() {
                    conditional.push(Conditional {
                        pattern: id,
                        conditions: def.conditions.clone().into_boxed_slice(),
                        alone: def.literals.is_empty() && def.regexes.is_empty(),
                    });
                }
                for (list, ignore) in [(&def.literals, false), (&def.ignore, true)] {
                    for lit in list {
                        literal_bytes.push(lit.as_bytes().to_vec());
                        literals.push(Literal {
                            entry: Entry {
                                pattern: id,
                                ignore,
                            },
                            exact: def
                                .case_sensitive
                                .then(|| lit.as_bytes().to_vec().into_boxed_slice()),
                        });
                    }
                }
                for (list, ignore) in [(&def.regexes, false), (&def.ignore_regexes, true)] {
                    for re in list {
                        regex_src.push(set_source(re, def.case_sensitive)?);
                        regexes.push(Entry {
                            pattern: id,
                            ignore,
                        });
                    }
                }
            }
        }
        if slots.len() > MAX_SLOTS {
            return Err(BuildError::TooManySlots);
        }
        let ac = if literal_bytes.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&literal_bytes)?,
            )
        };
        let set = if regex_src.is_empty() {
            None
        } else {
            Some(RegexSet::new(&regex_src)?)
        };
        // Each source is flag-free (see `set_source`), so grouping it is enough. Captures are
        // left out: the alternation only answers "any?", and two packs naming a capture alike
        // (`status` in nginx and gunicorn) would make it a duplicate name that cannot compile.
        let any_regex = if regex_src.is_empty() {
            None
        } else {
            let alternation = regex_src
                .iter()
                .map(|r| Ok(format!("(?:{})", without_captures(parse(r, true)?))))
                .collect::<Result<Vec<_>, BuildError>>()?
                .join("|");
            Regex::new(&alternation).ok()
        };
        let scan_literals: Vec<ScanLiteral> = literal_bytes
            .iter()
            .zip(&literals)
            .map(|(bytes, lit)| ScanLiteral {
                bytes,
                case_sensitive: lit.exact.is_some(),
            })
            .collect();
        let scan = BufferScan::build(&scan_literals, &regex_src);
        Ok(Matcher {
            ac,
            literals,
            set,
            any_regex,
            regexes,
            patterns,
            slots,
            structure: None,
            conditional,
            scan,
        })
    }

    /// This matcher for a watch whose lines are `lines.format`: a JSON or logfmt line whose
    /// level field says error, critical or warning (see `structured::Level`) also matches the
    /// slot of that name, if a pack of the watch has one (a critical line is an error too, as
    /// in the packs). The matches count as patterns of the pack `LEVEL_PACK`. Patterns still
    /// match the raw line. Call before `scratch`.
    pub fn with_structure(mut self, lines: LineStructure) -> Matcher {
        if lines.format == LineFormat::Plain {
            self.structure = None;
            return self;
        }
        let mut level = |name: &str| -> Option<u32> {
            let slot = self.slot(name)?;
            self.patterns.push(PatternInfo {
                pack: LEVEL_PACK.to_string(),
                name: name.to_string(),
                slot,
            });
            Some(self.patterns.len() as u32 - 1)
        };
        let (error, critical, warning) = (level("error"), level("critical"), level("warning"));
        self.structure = Some(Structure {
            lines,
            critical,
            error,
            warning,
        });
        self
    }

    /// A scratch sized for this matcher.
    pub fn scratch(&self) -> Scratch {
        let words = self.patterns.len().div_ceil(64);
        Scratch {
            hits: vec![0; words],
            vetoes: vec![0; words],
        }
    }

    /// Matches one line. Allocates nothing unless a regex matches.
    pub fn match_line(&self, line: &[u8], scratch: &mut Scratch) -> LineMatch {
        scratch.hits.iter_mut().for_each(|w| *w = 0);
        scratch.vetoes.iter_mut().for_each(|w| *w = 0);
        let mut any = false;
        if let Some(ac) = self.ac.as_ref().filter(|ac| ac.is_match(line)) {
            for m in ac.find_overlapping_iter(line) {
                let lit = &self.literals[m.pattern().as_usize()];
                if let Some(exact) = &lit.exact {
                    if line[m.start()..m.end()] != exact[..] {
                        continue;
                    }
                }
                set_bit(&mut scratch.hits, &mut scratch.vetoes, lit.entry);
                any = true;
            }
        }
        if let Some(set) = &self.set {
            let hit = match &self.any_regex {
                Some(any) => any.is_match(line),
                None => set.is_match(line),
            };
            if hit {
                for i in set.matches(line).iter() {
                    set_bit(&mut scratch.hits, &mut scratch.vetoes, self.regexes[i]);
                    any = true;
                }
            }
        }
        let fields = match &self.structure {
            Some(st) => st.lines.read(line),
            None => StructuredLine::Plain,
        };
        if let Some(st) = &self.structure {
            let ids: [Option<u32>; 2] = match st.lines.level_of(&fields) {
                None => [None, None],
                Some(Level::Critical) => [st.critical, st.error],
                Some(Level::Error) => [st.error, None],
                Some(Level::Warning) => [st.warning, None],
            };
            for pattern in ids.into_iter().flatten() {
                let entry = Entry {
                    pattern,
                    ignore: false,
                };
                set_bit(&mut scratch.hits, &mut scratch.vetoes, entry);
                any = true;
            }
        }
        for c in &self.conditional {
            let (word, bit) = (c.pattern as usize / 64, 1u64 << (c.pattern % 64));
            if !c.alone && scratch.hits[word] & bit == 0 {
                continue;
            }
            let met = !matches!(fields, StructuredLine::Plain)
                && c.conditions.iter().all(|k| k.holds(fields.get(k.field())));
            if met {
                scratch.hits[word] |= bit;
                any = true;
            } else {
                scratch.hits[word] &= !bit;
            }
        }
        if !any {
            return LineMatch::default();
        }
        let mut out = LineMatch::default();
        for (w, (&hit, &veto)) in scratch.hits.iter().zip(&scratch.vetoes).enumerate() {
            let kept = hit & !veto;
            out.vetoed |= hit & veto != 0;
            let mut bits = kept;
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                out.slots |= 1u64 << self.patterns[w * 64 + b].slot;
            }
        }
        out
    }

    /// The buffer-level search (`buffer_scan.rs`), or `None` when every line must go through
    /// `match_line`: a structured watch reads every line's level field, and a scan that could
    /// not compile (regex size limits) has nothing to offer.
    pub fn buffer_scan(&self) -> Option<&BufferScan> {
        self.structure
            .is_none()
            .then_some(self.scan.as_ref())
            .flatten()
    }

    /// Pattern ids that matched (and were not vetoed) in the last `match_line` with `scratch`.
    pub fn matched_patterns<'a>(
        &'a self,
        scratch: &'a Scratch,
    ) -> impl Iterator<Item = usize> + 'a {
        bits(&scratch.hits, &scratch.vetoes, false)
    }

    /// Pattern ids that hit but were vetoed by their ignore list in the last `match_line`.
    pub fn vetoed_patterns<'a>(&'a self, scratch: &'a Scratch) -> impl Iterator<Item = usize> + 'a {
        bits(&scratch.hits, &scratch.vetoes, true)
    }

    /// The slot index of a pattern name, if any pack of this watch defines it.
    pub fn slot(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s == name)
    }

    /// Slot names in slot order.
    pub fn slot_names(&self) -> &[String] {
        &self.slots
    }

    /// Every pack pattern, indexed by pattern id.
    pub fn patterns(&self) -> &[PatternInfo] {
        &self.patterns
    }
}

/// The regex as the set and the alternation take it: parsed with the pattern's case
/// sensitivity and printed back from its syntax tree. The printed form states every flag
/// where it applies and holds no comments, so it means the same inside a group next to other
/// regexes. Wrapping the text instead (`(?i:RE)`) breaks on a `(?x)` comment, which would
/// swallow the closing parenthesis (found by the `config` fuzz target).
fn set_source(re: &str, case_sensitive: bool) -> Result<String, BuildError> {
    Ok(parse(re, case_sensitive)?.to_string())
}

fn parse(re: &str, case_sensitive: bool) -> Result<Hir, BuildError> {
    Ok(regex_syntax::ParserBuilder::new()
        .utf8(false)
        .case_insensitive(!case_sensitive)
        .build()
        .parse(re)
        .map_err(Box::new)?)
}

/// `hir` with every capture group replaced by what it holds: the same language, no names.
fn without_captures(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Capture(c) => without_captures(*c.sub),
        HirKind::Repetition(mut r) => {
            r.sub = Box::new(without_captures(*r.sub));
            Hir::repetition(r)
        }
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(without_captures).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.into_iter().map(without_captures).collect())
        }
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(l) => Hir::literal(l.0),
        HirKind::Class(c) => Hir::class(c),
        HirKind::Look(l) => Hir::look(l),
    }
}

fn set_bit(hits: &mut [u64], vetoes: &mut [u64], entry: Entry) {
    let p = entry.pattern as usize;
    let target = if entry.ignore { vetoes } else { hits };
    target[p / 64] |= 1u64 << (p % 64);
}

fn bits<'a>(hits: &'a [u64], vetoes: &'a [u64], vetoed: bool) -> impl Iterator<Item = usize> + 'a {
    hits.iter()
        .zip(vetoes)
        .enumerate()
        .flat_map(move |(w, (&h, &v))| {
            let mut word = if vetoed { h & v } else { h & !v };
            std::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let b = word.trailing_zeros() as usize;
                word &= word - 1;
                Some(w * 64 + b)
            })
        })
}

#[cfg(test)]
mod tests;
