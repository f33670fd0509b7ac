//! The follow hot path allocates nothing per line: a file appended by this test, followed by
//! the real file source, through the multi-line assembler and the feed that matches and
//! batches (as the pipeline wires them), into the channel to the rules, whose batches this
//! test drops as the engine does (handing them back to their pool). After a warm-up, reading
//! N and 10N lines, non-matching and matching, costs a bounded number of allocations per
//! 64 KB read and per batch of matched lines (the position sent with it: a path string),
//! never one per line. Counting, not timing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use logwarden::core::shutdown;
use logwarden::daemon::match_stage::{FeedCore, FileFeed};
use logwarden::matcher::pack::{PatternDef, PatternPack};
use logwarden::matcher::Matcher;
use logwarden::rules::batch::BATCH_LINES;
use logwarden::rules::{Activity, Input};
use logwarden::source::file::{self, FileSourceConfig, FileStats};
use logwarden::source::line_reader::READ_CHUNK;
use logwarden::source::multiline::{Assembler, Grouping, MultilineRule};
use logwarden::source::timestamp::TimestampFormat;
use logwarden::source::StartAt;
use logwarden::telemetry::SourceTelemetry;

/// Counts allocations made by this test binary (every thread).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What the stand-in for the rules engine has seen.
static LINES: AtomicU64 = AtomicU64::new(0);
static MATCHED: AtomicU64 = AtomicU64::new(0);

/// Appends per phase are made in this many writes (each may wake the follower once).
const WRITES: usize = 10;

fn matcher() -> Arc<Matcher> {
    let pack = PatternPack {
        name: "t".into(),
        origin: "t".into(),
        patterns: vec![PatternDef {
            name: "error".into(),
            literals: vec!["ERROR".into()],
            regexes: vec![r"order \d+ rejected".into()],
            ignore: vec![],
            ignore_regexes: vec![],
            case_sensitive: true,
            conditions: vec![],
        }],
    };
    Arc::new(Matcher::build(&[pack]).expect("matcher"))
}

/// `n` lines in `WRITES` pieces, matching or not.
fn lines(n: usize, matching: bool) -> Vec<Vec<u8>> {
    let level = if matching { "ERROR" } else { "INFO" };
    let mut pieces = vec![Vec::new(); WRITES];
    for i in 0..n {
        let line = format!("2026-11-23 09:41:42,123 - bot.broker - {level} - order {i} done\n");
        pieces[i % WRITES].extend_from_slice(line.as_bytes());
    }
    pieces
}

/// Appends `pieces` and waits until the rules have seen `want` lines (bounded: 60 s).
/// Returns the allocations made meanwhile.
fn phase(file: &mut std::fs::File, pieces: &[Vec<u8>], want: u64) -> u64 {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for p in pieces {
        file.write_all(p).expect("append");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while LINES.load(Ordering::SeqCst) < want {
        assert!(
            Instant::now() < deadline,
            "lines seen {} of {want}",
            LINES.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn following_allocates_nothing_per_line_matching_or_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bot.log");
    let mut file = std::fs::File::create(&path).expect("create");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Input>(4096);
    let (trigger, shutdown) = shutdown::channel();
    let feed = FileFeed::new(
        FeedCore::new(
            0,
            matcher(),
            tx,
            Arc::new(SourceTelemetry::default()),
            Arc::new(Activity::new(1)),
        ),
        Arc::from(path.display().to_string().as_str()),
        TimestampFormat::Auto,
    );
    let rule = MultilineRule {
        grouping: Grouping::None,
        timeout: Duration::from_secs(1),
        max_lines: 200,
        max_bytes: 64 * 1024,
    };
    let cfg = FileSourceConfig {
        path: path.clone(),
        start_at: StartAt::Beginning,
        max_line_bytes: 16 * 1024,
        poll_interval: Duration::from_secs(1),
        partial_flush: Duration::from_secs(2),
        resume: None,
        olddir: None,
    };
    let source = file::spawn(
        cfg,
        Assembler::new(feed, rule),
        Arc::new(FileStats::default()),
        shutdown,
    )
    .expect("file source");
    // The rules engine's part: take each batch, count it, drop it (back to its pool).
    let rules = std::thread::spawn(move || {
        while let Some(input) = rx.blocking_recv() {
            if let Input::Batch(b) = input {
                MATCHED.fetch_add(b.len() as u64, Ordering::SeqCst);
                if let Some((count, _, _)) = b.counted {
                    LINES.fetch_add(count, Ordering::SeqCst);
                }
            }
        }
    });

    let n = 2_000;
    let small = (lines(n, false), lines(n, true));
    let big = (lines(10 * n, false), lines(10 * n, true));
    // Warm-up: the batches, the reader and the channel reach their working sizes.
    let mut want = 0;
    for (pieces, count) in [(&big.0, 10 * n), (&big.1, 10 * n), (&big.1, 10 * n)] {
        want += count as u64;
        phase(&mut file, pieces, want);
    }
    let matched_before = MATCHED.load(Ordering::SeqCst);
    let mut report = Vec::new();
    for (what, pieces, count) in [
        ("N non-matching", &small.0, n),
        ("10N non-matching", &big.0, 10 * n),
        ("N matching", &small.1, n),
        ("10N matching", &big.1, 10 * n),
    ] {
        want += count as u64;
        let bytes: usize = pieces.iter().map(Vec::len).sum();
        let allocations = phase(&mut file, pieces, want);
        // Per 64 KB read: its position (a path string or two), a wake-up; per write, the
        // inotify event; per batch of `BATCH_LINES` matched lines sent early, its position.
        // Per line: nothing.
        let batches = if what.ends_with(" matching") && !what.contains("non") {
            count / BATCH_LINES
        } else {
            0
        };
        let bound = 64 + 8 * (bytes / READ_CHUNK + WRITES) as u64 + 3 * batches as u64;
        report.push(format!(
            "{what} ({count} lines, {bytes} bytes): {allocations} allocations (bound {bound})"
        ));
        assert!(allocations <= bound, "{}", report.join("\n"));
        assert!(
            allocations < count as u64 / 10,
            "not per line: {}",
            report.join("\n")
        );
    }
    assert_eq!(
        MATCHED.load(Ordering::SeqCst) - matched_before,
        11 * n as u64,
        "every matching line reached the rules"
    );
    eprintln!("{}", report.join("\n"));
    trigger.trigger();
    drop(file);
    source.join().expect("file source thread");
    rules.join().expect("rules thread");
}
