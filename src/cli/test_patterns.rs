//! `logwarden test-patterns`: runs pattern packs over a log and reports, per pattern, how many
//! lines matched with a few samples, which lines nothing matched, and what `ignore` removed,
//! so an operator can tune packs against their own history (like `fail2ban-regex`).

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use serde::Serialize;

use crate::cli::line_blocks::{LineBlocks, Piece};
use crate::config::{self, Diagnostics, PackSet, DEFAULT_MAX_LINE_BYTES};
use crate::matcher::pack::PatternPack;
use crate::matcher::structured::LineStructure;
use crate::matcher::{BuildError, Matcher, Scratch};
use crate::source::journal::JournalFilter;

/// Sample lines kept per pattern and for unmatched lines.
pub const SAMPLES: usize = 3;

/// Counts for one pack pattern.
#[derive(Debug, Clone, Serialize)]
pub struct PatternReport {
    pub pack: String,
    pub pattern: String,
    /// Lines this pattern matched (after `ignore`).
    pub matched: u64,
    /// Lines this pattern hit but its `ignore` list removed.
    pub ignored: u64,
    /// (line number, text) of the first matches.
    pub samples: Vec<(u64, String)>,
    pub ignored_samples: Vec<(u64, String)>,
}

/// The result of one run.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    pub lines: u64,
    /// Lines matched by at least one pattern.
    pub matched: u64,
    /// Lines matched by nothing (and not removed by ignore).
    pub unmatched: u64,
    /// Lines matched by nothing because `ignore` removed every hit.
    pub only_ignored: u64,
    pub patterns: Vec<PatternReport>,
    pub unmatched_samples: Vec<(u64, String)>,
}

/// Why the run failed.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("cannot read the log: {0}")]
    Read(#[from] io::Error),
}

/// Runs `packs` over every line of `input`, lines written as `structure` says (a structured
/// line's level field counts as the pack `level-field`'s pattern of that level).
///
/// The lines are read in blocks (`LineBlocks`) and searched a block at a time
/// (`matcher::buffer_scan`): only candidate lines are classified, the others are counted as
/// matched by nothing. Lines go one by one through `match_line` while the report still wants
/// samples of lines matched by nothing (the first `SAMPLES` of them), and always for a
/// structured watch (its level fields are in every line).
pub fn test_patterns<R: Read>(
    packs: &[PatternPack],
    structure: &LineStructure,
    mut input: R,
) -> Result<TuneReport, TuneError> {
    let matcher = Matcher::build(packs)?.with_structure(structure.clone());
    let mut tally = Tally {
        scratch: matcher.scratch(),
        matcher: &matcher,
        report: TuneReport {
            lines: 0,
            matched: 0,
            unmatched: 0,
            only_ignored: 0,
            patterns: matcher
                .patterns()
                .iter()
                .map(|p| PatternReport {
                    pack: p.pack.clone(),
                    pattern: p.name.clone(),
                    matched: 0,
                    ignored: 0,
                    samples: Vec::new(),
                    ignored_samples: Vec::new(),
                })
                .collect(),
            unmatched_samples: Vec::new(),
        },
    };
    let mut reader = LineBlocks::new(DEFAULT_MAX_LINE_BYTES);
    let max_line = reader.max_line();
    let mut on_piece = |piece: Piece<'_>| match piece {
        Piece::Line(line) => tally.next_line(line),
        Piece::Lines(block) => tally.block(block, max_line),
    };
    while reader.read_from(&mut input, &mut on_piece)? > 0 {}
    reader.finish(&mut on_piece);
    Ok(tally.report)
}

/// The report being counted.
struct Tally<'m> {
    matcher: &'m Matcher,
    scratch: Scratch,
    report: TuneReport,
}

impl Tally<'_> {
    /// Counts a block of whole lines (see `test_patterns`).
    fn block(&mut self, mut block: &[u8], max_line: usize) {
        while self.matcher.buffer_scan().is_none() || self.report.unmatched_samples.len() < SAMPLES
        {
            let Some(i) = memchr::memchr(b'\n', block) else {
                return;
            };
            let mut line = &block[..i];
            if let Some(b'\r') = line.last() {
                line = &line[..line.len() - 1];
            }
            self.next_line(&line[..line.len().min(max_line)]);
            block = &block[i + 1..];
        }
        let Some(scan) = self.matcher.buffer_scan() else {
            return;
        };
        let first = self.report.lines;
        let mut candidates = 0;
        let lines = scan.scan(block, max_line, |c| {
            candidates += 1;
            self.line(first + c.index + 1, c.line);
        });
        // Every line not yielded matches nothing (and has no sample left to give).
        self.report.unmatched += lines - candidates;
        self.report.lines = first + lines;
    }

    fn next_line(&mut self, line: &[u8]) {
        self.report.lines += 1;
        self.line(self.report.lines, line);
    }

    /// Classifies line number `n`.
    fn line(&mut self, n: u64, line: &[u8]) {
        let report = &mut self.report;
        let m = self.matcher.match_line(line, &mut self.scratch);
        let sample = |v: &mut Vec<(u64, String)>| {
            if v.len() < SAMPLES {
                v.push((n, String::from_utf8_lossy(line).into_owned()));
            }
        };
        for p in self.matcher.matched_patterns(&self.scratch) {
            let r = &mut report.patterns[p];
            r.matched += 1;
            sample(&mut r.samples);
        }
        for p in self.matcher.vetoed_patterns(&self.scratch) {
            let r = &mut report.patterns[p];
            r.ignored += 1;
            sample(&mut r.ignored_samples);
        }
        if m.slots != 0 {
            report.matched += 1;
        } else if m.vetoed {
            report.only_ignored += 1;
        } else {
            report.unmatched += 1;
            sample(&mut report.unmatched_samples);
        }
    }
}

/// Renders a report for a person.
pub fn render_human(r: &TuneReport) -> String {
    let mut s = format!(
        "Lines: {} read, {} matched, {} matched by nothing, {} removed by ignore\n\n",
        r.lines, r.matched, r.unmatched, r.only_ignored
    );
    let width = r
        .patterns
        .iter()
        .map(|p| p.pack.len() + p.pattern.len() + 1)
        .max()
        .unwrap_or(7)
        .max(7);
    s.push_str(&format!(
        "{:<width$}  {:>9}  {:>9}\n",
        "pattern", "matched", "ignored"
    ));
    for p in &r.patterns {
        let name = format!("{}/{}", p.pack, p.pattern);
        s.push_str(&format!(
            "{name:<width$}  {:>9}  {:>9}\n",
            p.matched, p.ignored
        ));
        for (n, line) in &p.samples {
            s.push_str(&format!("    {n:>7}: {}\n", clip(line)));
        }
        for (n, line) in &p.ignored_samples {
            s.push_str(&format!("    {n:>7}: (ignored) {}\n", clip(line)));
        }
    }
    if !r.unmatched_samples.is_empty() {
        s.push_str("\nMatched by nothing (first lines):\n");
        for (n, line) in &r.unmatched_samples {
            s.push_str(&format!("    {n:>7}: {}\n", clip(line)));
        }
    }
    s
}

/// Shortens a sample line for the terminal.
fn clip(line: &str) -> String {
    const MAX: usize = 160;
    if line.chars().count() <= MAX {
        return line.to_string();
    }
    let mut s: String = line.chars().take(MAX).collect();
    s.push('…');
    s
}

/// `logwarden test-patterns PACK... [FILE|-]`, or over the journal.
pub fn command(
    config_path: &Path,
    args: &[String],
    json: bool,
    journal: Option<(JournalFilter, std::time::Duration)>,
    structure: &LineStructure,
) -> anyhow::Result<ExitCode> {
    // Packs come from the config's patterns_dir when the config loads, else the default one.
    let patterns_dir = match config::load(config_path) {
        Ok(c) => c.daemon.patterns_dir,
        Err(e) => {
            if config_path.exists() {
                eprintln!(
                    "note: {} does not load ({} problem(s); see `logwarden check`); using packs from /etc/logwarden/patterns and the shipped ones",
                    config_path.display(),
                    e.problems.len()
                );
            }
            PathBuf::from("/etc/logwarden/patterns")
        }
    };
    let mut sources = config::located::SourceMap::default();
    let mut diags = Diagnostics::default();
    // Parsing the shipped packs and the patterns directory compiles every regex in them (to
    // validate it), which costs more than matching a few MB: skipped when no argument can
    // name one of them (`test-patterns bench.toml LOG`, what bench/ times).
    let mut set = if names_no_known_pack(args, &patterns_dir) {
        PackSet::default()
    } else {
        PackSet::load(Some(&patterns_dir), &mut sources, &mut diags)
    };
    let (pack_args, file) = split_pack_args(args, &set);
    let mut packs = Vec::new();
    for a in pack_args {
        if let Some(p) = set.get(a) {
            packs.push(p.clone());
        } else if a.ends_with(".toml") && Path::new(a).is_file() {
            if let Some(p) = set.load_file(Path::new(a), &mut sources, &mut diags) {
                set.insert(p.clone());
                packs.push(p);
            }
        } else {
            diags.push(format!(
                "unknown pattern pack {a:?}; available: {}",
                set.names().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if !diags.is_empty() {
        for m in diags.messages() {
            eprintln!("{m}");
        }
        return Ok(ExitCode::from(1));
    }
    let report = match (file, journal) {
        (Some(f), Some(_)) => {
            anyhow::bail!("give either a log file ({f}) or --journal-*, not both")
        }
        (None, Some((filter, since))) => {
            let text = crate::source::journal::history(&filter, since)
                .context("cannot read the journal")?;
            test_patterns(&packs, structure, text.as_slice())?
        }
        (Some(f), None) if f != "-" => {
            let file = std::fs::File::open(f).with_context(|| format!("cannot open {f}"))?;
            test_patterns(&packs, structure, file)?
        }
        _ => test_patterns(&packs, structure, std::io::stdin().lock().take(u64::MAX))?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_human(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `PACK.toml... FILE` holds only pack files and a log, none of them a name a pack of
/// `PackSet::load` could have (a shipped pack's, or a file stem in `patterns_dir`): then
/// `split_pack_args` and the pack lookup give the same answer with an empty set.
fn names_no_known_pack(args: &[String], patterns_dir: &Path) -> bool {
    let unknown = |a: &str| {
        !config::packs::SHIPPED_PACKS
            .iter()
            .any(|(name, _)| *name == a)
            && !patterns_dir.join(format!("{a}.toml")).exists()
    };
    let Some((last, packs)) = args.split_last() else {
        return false;
    };
    !packs.is_empty()
        && packs
            .iter()
            .all(|a| a.ends_with(".toml") && Path::new(a).is_file() && unknown(a))
        && (last == "-" || (!last.ends_with(".toml") && Path::new(last).is_file() && unknown(last)))
}

/// Splits `PACK... [FILE|-]`: the last argument is the log when it is `-` or an existing file
/// that is not a pack.
fn split_pack_args<'a>(args: &'a [String], set: &PackSet) -> (&'a [String], Option<&'a str>) {
    match args.split_last() {
        Some((last, rest))
            if !rest.is_empty()
                && (last == "-"
                    || (set.get(last).is_none()
                        && !last.ends_with(".toml")
                        && Path::new(last).exists())) =>
        {
            (rest, Some(last.as_str()))
        }
        _ => (args, None),
    }
}
