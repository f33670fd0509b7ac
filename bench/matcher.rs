//! Micro-benchmark of the matcher alone: ns per line for lines that match nothing (the common
//! case) and for lines that match, with the 30-pattern bench pack (`bench/bench.toml`), and a
//! count of heap allocations per line from a counting global allocator.
//!
//! A plain timing loop (`harness = false`, `std::hint::black_box`) rather than criterion or
//! divan: no extra dependency to compile in CI, and the loop reports the best of several
//! rounds, which is what a machine shared with other builds needs.
//!
//! `cargo bench --bench matcher` measures; `BENCH_CORPUS=FILE` adds a pass over every line of
//! a corpus (bench/gen_corpus.py) held in memory. Without `--bench` (as `cargo test
//! --all-targets` runs it) every case runs once and only the allocation check is made.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use logwarden::config::located::SourceMap;
use logwarden::config::{Diagnostics, PackSet};
use logwarden::matcher::structured::{LineFormat, LineStructure};
use logwarden::matcher::Matcher;

/// The system allocator, counting allocations (not frees: a free needs an allocation first).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: as for `dealloc`; the new size comes from the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Lines that match nothing in the bench pack (what most of a bot's log is).
const QUIET: &[&[u8]] = &[
    b"2026-11-23 09:41:42,123 - bot.broker - INFO - Update VIX=17.25 (+0.12) term=contango",
    b"2026-11-23 09:41:42,131 - bot.feed - INFO - Position AAPL qty=100 avg=187.23 pnl=+12.50",
    b"2026-11-23 09:41:42,160 - bot.orders - INFO - Order 3f9a2b1c filled 67 @ 239.15 on NVDA",
    b"2026-11-23 09:41:42,171 - bot.risk - DEBUG - heartbeat ok latency=12ms queue=3",
    b"2026-11-23 09:41:42,190 - bot.risk - WARNING - spread on ES widened to 14 bp",
    b"2026-11-23 09:41:42,201 - bot.feed - INFO - Update VIX=17.30 note=\xe2\x82 \xff\xfe caf\xc3",
];

/// Lines that match: literals only, regexes only, both.
const LOUD: &[&[u8]] = &[
    b"2026-11-23 09:41:43,001 - bot.broker - ERROR - connection reset by peer (broker gateway)",
    b"2026-11-23 09:41:43,002 - bot.broker - WARNING - slow response from broker: 1234 ms",
    b"Traceback (most recent call last):",
    b"2026-11-23 09:41:43,005 - bot.orders - ERROR - order 3f9a2b1c rejected: InsufficientFunds",
];

fn main() {
    let measure = std::env::args().any(|a| a == "--bench");
    let matcher = load_matcher();
    let mut scratch = matcher.scratch();
    let long: Vec<u8> = {
        let mut l = b"2026-11-23 09:41:44,000 - bot.feed - DEBUG - payload dump: ".to_vec();
        while l.len() < 10_240 {
            l.extend_from_slice(b"{\"px\":41250,\"q\":17},");
        }
        l
    };

    for line in QUIET {
        assert_eq!(matcher.match_line(line, &mut scratch).slots, 0, "{line:?}");
    }
    for line in LOUD {
        assert_ne!(matcher.match_line(line, &mut scratch).slots, 0, "{line:?}");
    }

    // Allocations per non-matching line: must be zero (the feed's promise).
    let before = ALLOCATIONS.load(Relaxed);
    for _ in 0..1000 {
        for line in QUIET {
            black_box(matcher.match_line(black_box(line), &mut scratch));
        }
        black_box(matcher.match_line(black_box(&long), &mut scratch));
    }
    let quiet_allocs = ALLOCATIONS.load(Relaxed) - before;
    let before = ALLOCATIONS.load(Relaxed);
    for line in LOUD {
        black_box(matcher.match_line(black_box(line), &mut scratch));
    }
    let loud_allocs = (ALLOCATIONS.load(Relaxed) - before) as f64 / LOUD.len() as f64;
    assert_eq!(
        quiet_allocs, 0,
        "matching a non-matching line allocated ({quiet_allocs} allocations over 7,000 lines)"
    );
    // A JSON watch: the same pack plus a level field and a `where` pattern. Reading the
    // level and the condition's field allocates nothing either, matching or not.
    let plain_json = structured_matcher(LineFormat::Plain);
    let json = structured_matcher(LineFormat::Json);
    let mut json_scratch = json.scratch();
    for line in JSON_QUIET {
        assert_eq!(
            json.match_line(line, &mut json_scratch).slots,
            0,
            "{line:?}"
        );
    }
    for line in JSON_LOUD {
        assert_ne!(
            json.match_line(line, &mut json_scratch).slots,
            0,
            "{line:?}"
        );
    }
    let before = ALLOCATIONS.load(Relaxed);
    for _ in 0..1000 {
        for line in JSON_QUIET.iter().chain(JSON_LOUD) {
            black_box(json.match_line(black_box(line), &mut json_scratch));
        }
    }
    let json_allocs = ALLOCATIONS.load(Relaxed) - before;
    assert_eq!(
        json_allocs, 0,
        "matching JSON lines by level and field allocated ({json_allocs} allocations)"
    );
    if !measure {
        println!("matcher bench: smoke run ok (no allocation on non-matching lines, nor on JSON levels and fields); `cargo bench --bench matcher` measures");
        return;
    }

    println!("matcher (30 patterns: 20 literals, 10 regexes), best of 7 rounds:");
    let ns = time_lines(&matcher, QUIET, 200_000);
    println!("  non-matching line (~85 B)     {ns:8.1} ns/line   0 allocations/line");
    // Where the time of a non-matching line goes: the automaton and the regex set alone.
    let (lits, res) = split_pack();
    let ns = time_lines(&lits, QUIET, 200_000);
    println!("    of which 20 literals alone    {ns:8.1} ns/line   (one Aho-Corasick automaton)");
    let ns = time_lines(&res, QUIET, 200_000);
    println!("    of which 10 regexes alone     {ns:8.1} ns/line   (one RegexSet)");
    ablation(QUIET);
    let ns = time_lines(&matcher, LOUD, 100_000);
    println!(
        "  matching line (~70 B)         {ns:8.1} ns/line   {loud_allocs:.1} allocations/line"
    );
    let ns = time_lines(&matcher, &[&long], 2_000);
    println!(
        "  10 KB non-matching line       {ns:8.1} ns/line   ({:.0} MB/s)",
        long.len() as f64 / ns * 1e3
    );
    let ns_plain = time_lines(&plain_json, JSON_QUIET, 200_000);
    let ns_json = time_lines(&json, JSON_QUIET, 200_000);
    println!("  JSON line (~150 B), format plain {ns_plain:8.1} ns/line");
    println!("  the same, format json (level + where) {ns_json:8.1} ns/line   0 allocations/line");
    if let Some(path) = std::env::var_os("BENCH_CORPUS") {
        let data = std::fs::read(&path).expect("read BENCH_CORPUS");
        let lines: Vec<&[u8]> = data
            .strip_suffix(b"\n")
            .unwrap_or(&data)
            .split(|&b| b == b'\n')
            .collect();
        let ns = time_lines(&matcher, &lines, lines.len());
        println!(
            "  corpus, {} lines in memory  {ns:8.1} ns/line   ({:.0} MB/s)",
            lines.len(),
            data.len() as f64 / (ns * lines.len() as f64) * 1e3
        );
    }
}

/// JSON lines that match nothing (info level, status 200).
const JSON_QUIET: &[&[u8]] = &[
    br#"{"asctime": "2026-12-04 10:00:00,123", "name": "bot.broker", "levelname": "INFO", "message": "order 5531 status update qty=5", "status": 200, "duration_ms": 12}"#,
    br#"{"time":"2026-12-04T10:00:03.000Z","level":"INFO","msg":"quote","symbol":"SPY","status":200}"#,
];

/// JSON lines that match by their level field or a field condition.
const JSON_LOUD: &[&[u8]] = &[
    br#"{"asctime": "2026-12-04 10:00:00,123", "name": "bot.broker", "levelname": "ERROR", "message": "quote request failed", "status": 200}"#,
    br#"{"time":"2026-12-04T10:00:03.000Z","level":"INFO","msg":"upstream","status":502}"#,
];

/// The bench pack, python-logging, and a `where` pattern, for lines written as `format`.
fn structured_matcher(format: LineFormat) -> Matcher {
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let packs = PackSet::load(None, &mut sources, &mut diags);
    let mut bench = load_matcher_pack();
    bench.patterns.extend(
        logwarden::config::packs::parse_pack(
            "fields",
            Path::new("fields.toml"),
            "[[pattern]]\nname = \"server-error\"\nwhere = ['status >= 500']\n",
            &mut sources,
            &mut diags,
        )
        .expect("where pack")
        .patterns,
    );
    let python = packs.get("python-logging").expect("shipped").clone();
    Matcher::build(&[bench, python])
        .expect("compiles")
        .with_structure(LineStructure {
            format,
            ..LineStructure::default()
        })
}

/// The bench pack as loaded.
fn load_matcher_pack() -> logwarden::matcher::pack::PatternPack {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/bench.toml");
    PackSet::default()
        .load_file(
            &path,
            &mut SourceMap::default(),
            &mut Diagnostics::default(),
        )
        .expect("bench pack loads")
}

/// Loads the bench pack from `bench/bench.toml` and compiles it.
fn load_matcher() -> Matcher {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/bench.toml");
    let mut diags = Diagnostics::default();
    let pack = PackSet::default()
        .load_file(&path, &mut SourceMap::default(), &mut diags)
        .unwrap_or_else(|| panic!("{}: {:?}", path.display(), diags.messages()));
    Matcher::build(&[pack]).expect("bench pack compiles")
}

/// The bench pack as two matchers: its literal patterns only, its regex patterns only.
fn split_pack() -> (Matcher, Matcher) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/bench.toml");
    let pack = PackSet::default()
        .load_file(
            &path,
            &mut SourceMap::default(),
            &mut Diagnostics::default(),
        )
        .expect("bench pack loads");
    let mut lits = pack.clone();
    lits.patterns.retain(|p| p.regexes.is_empty());
    let mut res = pack;
    res.patterns.retain(|p| !p.regexes.is_empty());
    (
        Matcher::build(&[lits]).expect("literals compile"),
        Matcher::build(&[res]).expect("regexes compile"),
    )
}

/// A yes/no question about a line.
type LineTest<'a> = dyn Fn(&[u8]) -> bool + 'a;

/// What the matcher's two passes would cost done otherwise, on non-matching lines: where a
/// faster matcher could come from. Built straight on the crates the matcher uses.
fn ablation(lines: &[&[u8]]) {
    use aho_corasick::{AhoCorasick, MatchKind};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/bench.toml");
    let pack = PackSet::default()
        .load_file(
            &path,
            &mut SourceMap::default(),
            &mut Diagnostics::default(),
        )
        .expect("bench pack loads");
    let lits: Vec<&str> = pack
        .patterns
        .iter()
        .flat_map(|p| &p.literals)
        .map(|s| s.as_str())
        .collect();
    let res: Vec<&str> = pack
        .patterns
        .iter()
        .flat_map(|p| &p.regexes)
        .map(|s| s.as_str())
        .collect();
    let time = |f: &dyn Fn(&[u8]) -> bool| {
        let mut best = f64::MAX;
        for _ in 0..7 {
            let start = Instant::now();
            for line in lines.iter().cycle().take(200_000) {
                black_box(f(black_box(line)));
            }
            best = best.min(start.elapsed().as_nanos() as f64 / 200_000.0);
        }
        best
    };
    let ci = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(&lits)
        .expect("automaton");
    let cs = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(&lits)
        .expect("automaton");
    let set = regex::bytes::RegexSet::new(&res).expect("set");
    let alternation = regex::bytes::Regex::new(&res.join("|")).expect("regex");
    let escaped: Vec<String> = lits.iter().map(|l| regex::escape(l)).collect();
    let all: Vec<&str> = escaped
        .iter()
        .map(|s| s.as_str())
        .chain(res.iter().copied())
        .collect();
    let any = regex::bytes::Regex::new(&all.join("|")).expect("regex");
    println!("  ablation, non-matching lines (the same crates, used otherwise):");
    let rows: [(&str, &LineTest); 6] = [
        (
            "literals: case-insensitive, overlapping iter (as now)",
            &|l| ci.find_overlapping_iter(l).next().is_some(),
        ),
        ("literals: case-insensitive, is_match", &|l| ci.is_match(l)),
        ("literals: case-sensitive, is_match", &|l| cs.is_match(l)),
        ("regexes: RegexSet::is_match (as now)", &|l| set.is_match(l)),
        ("regexes: one alternation Regex::is_match", &|l| {
            alternation.is_match(l)
        }),
        ("all 30 as one alternation (what rg does)", &|l| {
            any.is_match(l)
        }),
    ];
    for (what, f) in rows {
        println!("    {what:<52} {:8.1} ns/line", time(f));
    }
}

/// Best ns per line over 7 rounds of matching `total` lines cycled from `lines`.
fn time_lines(matcher: &Matcher, lines: &[&[u8]], total: usize) -> f64 {
    let mut scratch = matcher.scratch();
    let mut best = f64::MAX;
    for _ in 0..7 {
        let start = Instant::now();
        for line in lines.iter().cycle().take(total) {
            black_box(matcher.match_line(black_box(line), &mut scratch));
        }
        best = best.min(start.elapsed().as_nanos() as f64 / total as f64);
    }
    best
}
