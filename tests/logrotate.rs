//! The file follower against the real Debian `logrotate`, in-process.
//!
//! A writer thread appends numbered lines at a fixed high rate while the main thread runs
//! `logrotate -f` many times; the follower's sink records every number it is given. Then
//! each number written must have been seen exactly once (rename+create modes), or at least
//! never twice (copytruncate, whose gap between logrotate's copy and its truncate is in
//! neither file). Each run also checks that logrotate really rotated and that the follower
//! noticed it. One summary line per mode goes to stderr: `scripts/test.sh` runs this test with
//! `--nocapture` so that CI logs show it.

mod common;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logwarden::source::file::{spawn, FileSourceConfig, FileStats};
use logwarden::source::StartAt;
use logwarden::source::{FileIdentity, FilePosition, LineFlags, LineSink};

/// Every line: `line 0000123 ` and the first `filler_len(123)` bytes of this filler (lines of
/// varied lengths, so reading at a wrong offset yields broken lines).
const FILLER: &str = "the quick brown fox jumps over the lazy dog";

fn filler_len(n: u32) -> usize {
    10 + (n as usize % 34)
}

/// Lines per `write` of the writer.
const LINES_PER_WRITE: usize = 4;
/// The writer's pace: about 10 MB/s, a very busy service. Unpaced, a fast machine wrote
/// 15 M lines in a run and the numbers outgrew their seven digits.
const LINES_PER_SECOND: u64 = 250_000;
/// The writer stops here whatever the time: every number fits in seven digits.
const MAX_LINES: u32 = 9_999_999;
/// `logrotate -f` runs per test, and the pause after each.
const ROTATIONS: usize = 30;
const ROTATE_EVERY: Duration = Duration::from_millis(70);

/// The tests share two CPUs on small CI machines: one at a time keeps their timing honest.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// rename + new file.
    Create,
    /// copytruncate, the copy compressed one rotation later.
    CopytruncateDelaycompress,
    /// rename + new file, the old one compressed one rotation later.
    CreateCompressDelaycompress,
    /// copytruncate, the copy compressed at once (it may be gone before it is read).
    CopytruncateCompress,
    /// rename + new file, the writer reopening 10 ms after the new file appears, as an
    /// application told by a `postrotate` signal does: it writes to the rotated file meanwhile.
    CreateSlowReopen,
    /// copytruncate+compress+delaycompress, the sink stalling 50 ms every 100 ms (a busy
    /// pipeline) so the follower is behind when the file is truncated.
    CopytruncateSlowReader,
    /// The same, stalling 250 ms: the file is truncated and written again past the
    /// follower's offset before it looks, and rotated again before the copy is read.
    CopytruncateStalledReader,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Create => "create",
            Mode::CopytruncateDelaycompress => "copytruncate+compress+delaycompress",
            Mode::CreateCompressDelaycompress => "create+compress+delaycompress",
            Mode::CopytruncateCompress => "copytruncate+compress",
            Mode::CreateSlowReopen => "create+reopen-after-10ms",
            Mode::CopytruncateSlowReader => "copytruncate+compress+delaycompress+slow-reader",
            Mode::CopytruncateStalledReader => "copytruncate+compress+delaycompress+stalled-reader",
        }
    }

    /// Whether logrotate copies and truncates (else it renames and creates).
    fn copies(self) -> bool {
        self.directives().contains("copytruncate")
    }

    fn directives(self) -> &'static str {
        match self {
            Mode::Create => "create\n    nocompress",
            Mode::CopytruncateDelaycompress => {
                "nocreate\n    copytruncate\n    compress\n    delaycompress"
            }
            Mode::CreateCompressDelaycompress => "create\n    compress\n    delaycompress",
            Mode::CopytruncateCompress => "nocreate\n    copytruncate\n    compress",
            Mode::CreateSlowReopen => "create\n    nocompress",
            Mode::CopytruncateSlowReader | Mode::CopytruncateStalledReader => {
                "nocreate\n    copytruncate\n    compress\n    delaycompress"
            }
        }
    }
}

/// What the sink saw, shared with the test thread (merged once per batch).
#[derive(Debug, Default)]
struct Seen {
    /// How often each number was seen.
    counts: Vec<u8>,
    distinct: usize,
    total: u64,
    /// Lines that are not `line NNNNNNN` and their filler.
    malformed: Vec<String>,
    /// Unterminated starts of a line (the end of a copy logrotate made mid-write).
    fragments: u64,
    files_changed: u64,
    last_progress: Option<Instant>,
}

struct Collect {
    shared: Arc<Mutex<Seen>>,
    pending: Vec<u32>,
    malformed: Vec<String>,
    fragments: u64,
    files_changed: u64,
    /// Sleep this long every 100 ms of batches (a slow pipeline).
    stall: Duration,
    last_stall: Instant,
}

impl LineSink for Collect {
    fn file_changed(&mut self, _id: &FileIdentity) {
        self.files_changed += 1;
    }

    fn line(&mut self, line: &[u8], flags: LineFlags) {
        match parse(line) {
            Some(n) => self.pending.push(n),
            // logrotate's copy may end inside a line the writer was writing: the follower
            // hands that start on, marked unterminated. Its whole line is in no file.
            None if flags.unterminated && is_fragment(line) => self.fragments += 1,
            None => self
                .malformed
                .push(String::from_utf8_lossy(line).into_owned()),
        }
    }

    fn batch_end(&mut self, _position: Option<&FilePosition>) -> bool {
        if !self.stall.is_zero() && self.last_stall.elapsed() >= Duration::from_millis(100) {
            std::thread::sleep(self.stall);
            self.last_stall = Instant::now();
        }
        let mut s = self.shared.lock().unwrap();
        s.files_changed += std::mem::take(&mut self.files_changed);
        s.malformed.append(&mut self.malformed);
        s.fragments += std::mem::take(&mut self.fragments);
        if self.pending.is_empty() {
            return true;
        }
        for n in self.pending.drain(..) {
            let n = n as usize;
            if s.counts.len() <= n {
                s.counts.resize(n + 1, 0);
            }
            if s.counts[n] == 0 {
                s.distinct += 1;
            }
            s.counts[n] = s.counts[n].saturating_add(1);
            s.total += 1;
        }
        s.last_progress = Some(Instant::now());
        true
    }
}

/// The number of a well-formed line.
fn parse(line: &[u8]) -> Option<u32> {
    let rest = line.strip_prefix(b"line ")?;
    if rest.len() < 8 || rest[7] != b' ' || !rest[..7].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u32 = std::str::from_utf8(&rest[..7]).ok()?.parse().ok()?;
    (rest[8..] == FILLER.as_bytes()[..filler_len(n)]).then_some(n)
}

/// Whether `line` is the start of a well-formed line (cut before its end).
fn is_fragment(line: &[u8]) -> bool {
    let shape = |i: usize, b: u8| match i {
        0..5 => b == b"line "[i],
        5..12 => b.is_ascii_digit(),
        12 => b == b' ',
        _ => FILLER.as_bytes().get(i - 13) == Some(&b),
    };
    !line.is_empty() && line.iter().enumerate().all(|(i, &b)| shape(i, b))
}

/// Appends numbered lines to `path` until `stop` (or `MAX_LINES`), `LINES_PER_WRITE` per
/// `write`, at `LINES_PER_SECOND`, through an O_APPEND handle it keeps open; when another file
/// appears at the path (rename+create), it reopens it `reopen_after` later, as an application
/// told to reopen its log would. Returns how many lines it wrote.
fn writer(path: PathBuf, stop: Arc<AtomicBool>, reopen_after: Duration) -> u32 {
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    let mut ino = file.metadata().unwrap().ino();
    let mut replaced_at: Option<Instant> = None;
    let mut n: u32 = 0;
    let mut buf = Vec::with_capacity(LINES_PER_WRITE * 64);
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) && n < MAX_LINES - LINES_PER_WRITE as u32 {
        if n.is_multiple_of(1024) {
            let due = Duration::from_micros(u64::from(n) * 1_000_000 / LINES_PER_SECOND);
            if let Some(ahead) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(ahead);
            }
        }
        if let Ok(meta) = std::fs::metadata(&path) {
            if meta.ino() != ino {
                let since = *replaced_at.get_or_insert_with(Instant::now);
                // Never create it: logrotate's `create` does, and renames away a file that is
                // already there.
                if since.elapsed() >= reopen_after {
                    if let Ok(f) = OpenOptions::new().append(true).open(&path) {
                        ino = f.metadata().unwrap().ino();
                        file = f;
                        replaced_at = None;
                    }
                }
            }
        }
        buf.clear();
        for _ in 0..LINES_PER_WRITE {
            writeln!(buf, "line {n:07} {}", &FILLER[..filler_len(n)]).unwrap();
            n += 1;
        }
        file.write_all(&buf).unwrap();
    }
    n
}

/// Which file of `dir` (the live log, its rotations, compressed or not) holds each number, by
/// index in the names returned (`usize::MAX`: none).
fn numbers_on_disk(dir: &Path) -> (Vec<usize>, Vec<String>) {
    let mut on_disk = Vec::new();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("bot.log") {
            continue;
        }
        let bytes = common::read_decompressed(&path);
        for n in bytes.split(|&b| b == b'\n').filter_map(parse) {
            let n = n as usize;
            if on_disk.len() <= n {
                on_disk.resize(n + 1, usize::MAX);
            }
            on_disk[n] = names.len();
        }
        names.push(name);
    }
    (on_disk, names)
}

struct Outcome {
    lines: usize,
    lost: usize,
    /// Lost lines that are in no file any more (written between copy and truncate).
    lost_not_on_disk: usize,
    repeated: usize,
    malformed: Vec<String>,
}

fn run(mode: Mode) -> Outcome {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bot.log");
    let conf = dir.path().join("logrotate.conf");
    let state = dir.path().join("logrotate.state");
    File::create(&log).unwrap();
    std::fs::write(
        &conf,
        format!(
            "{} {{\n    missingok\n    ifempty\n    rotate 100\n    {}\n}}\n",
            log.display(),
            mode.directives()
        ),
    )
    .unwrap();

    let shared = Arc::new(Mutex::new(Seen::default()));
    let stats = Arc::new(FileStats::default());
    let (trigger, shutdown) = logwarden::core::shutdown::channel();
    let follower = spawn(
        FileSourceConfig {
            path: log.clone(),
            start_at: StartAt::Beginning,
            max_line_bytes: 65536,
            poll_interval: Duration::from_millis(100),
            partial_flush: Duration::from_secs(2),
            resume: None,
            olddir: None,
        },
        Collect {
            shared: shared.clone(),
            pending: Vec::new(),
            malformed: Vec::new(),
            fragments: 0,
            files_changed: 0,
            stall: match mode {
                Mode::CopytruncateSlowReader => Duration::from_millis(50),
                Mode::CopytruncateStalledReader => Duration::from_millis(250),
                _ => Duration::ZERO,
            },
            last_stall: Instant::now(),
        },
        stats.clone(),
        shutdown,
    )
    .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (log, stop) = (log.clone(), stop.clone());
        let reopen_after = match mode {
            Mode::CreateSlowReopen => Duration::from_millis(10),
            _ => Duration::ZERO,
        };
        std::thread::spawn(move || writer(log, stop, reopen_after))
    };
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    for _ in 0..ROTATIONS {
        common::logrotate(&conf, &state);
        std::thread::sleep(ROTATE_EVERY);
    }
    let rotating = started.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let lines = writer.join().unwrap() as usize;

    // Caught up: every line seen, or (lossy modes) the last one seen and nothing new since.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        {
            let s = shared.lock().unwrap();
            let last_seen = s.counts.get(lines - 1).is_some_and(|&c| c > 0);
            let quiet = s
                .last_progress
                .is_some_and(|t| t.elapsed() > Duration::from_millis(500));
            if s.distinct >= lines || (last_seen && quiet) {
                break;
            }
        }
        if Instant::now() > deadline {
            eprintln!(
                "mode={}: follower did not catch up within 10 s",
                mode.name()
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    trigger.trigger();
    follower.join().unwrap();

    let s = shared.lock().unwrap();
    let (on_disk, names) = numbers_on_disk(dir.path());
    let file_of = |n: usize| on_disk.get(n).copied().unwrap_or(usize::MAX);
    let mut lost = 0;
    let mut lost_not_on_disk = 0;
    let mut repeated = 0;
    // Runs of lost lines: (first, count, file holding the first).
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for n in 0..lines {
        match s.counts.get(n).copied().unwrap_or(0) {
            0 => {
                lost += 1;
                if file_of(n) == usize::MAX {
                    lost_not_on_disk += 1;
                }
                match runs.last_mut() {
                    Some(r) if r.0 + r.1 == n => r.1 += 1,
                    _ => runs.push((n, 1, file_of(n))),
                }
            }
            c => repeated += c as usize - 1,
        }
    }
    for &(first, count, file) in runs.iter().take(8) {
        let name = names.get(file).map_or("(no file)", |n| n.as_str());
        let file_last = file_of(first + count);
        eprintln!(
            "  mode={} lost {count} lines from {first} (in {name}; next line in {})",
            mode.name(),
            names.get(file_last).map_or("(no file)", |n| n.as_str())
        );
    }
    let beyond = s.counts.iter().skip(lines).filter(|&&c| c > 0).count();
    assert_eq!(beyond, 0, "numbers never written were seen");
    eprintln!(
        "mode={} rotations={} lines={} seen={} lost={} repeated={} recovered_bytes={} \
         unrecovered_truncations={} lost_not_on_disk={} malformed={} fragments={} truncations={} \
         follower_rotations={} bytes={} rotating_ms={}",
        mode.name(),
        ROTATIONS,
        lines,
        s.distinct,
        lost,
        repeated,
        stats.recovered_bytes.load(Ordering::Relaxed),
        stats.unrecovered_truncations.load(Ordering::Relaxed),
        lost_not_on_disk,
        s.malformed.len(),
        s.fragments,
        stats.truncations.load(Ordering::Relaxed),
        stats.rotations.load(Ordering::Relaxed),
        stats.bytes.load(Ordering::Relaxed),
        rotating.as_millis(),
    );
    // logrotate really rotated (`ifempty`, `rotate 100`: one kept file per run)...
    let rotated = names.len().saturating_sub(1);
    assert!(
        rotated * 10 >= ROTATIONS * 9,
        "mode={}: logrotate left {rotated} rotated files after {ROTATIONS} runs",
        mode.name()
    );
    // ...and the follower saw it: every rotation, or every truncation but those a stalled
    // reader slept through.
    let (what, noticed) = if mode.copies() {
        ("truncations", stats.truncations.load(Ordering::Relaxed))
    } else {
        ("rotations", stats.rotations.load(Ordering::Relaxed))
    };
    // A stalled reader catches up over several copies at once (and those it reads during a
    // catch-up are not truncations it noticed): it notices at least one.
    let least = match mode {
        Mode::CopytruncateStalledReader => 1,
        _ => rotated * 9 / 10,
    };
    assert!(
        noticed as usize >= least,
        "mode={}: the follower noticed {noticed} {what} of {rotated}",
        mode.name()
    );
    // Only a copy can end inside a line: a renamed file is read until its writer is quiet.
    assert!(
        mode.copies() || s.fragments == 0,
        "mode={}: {} unterminated fragments without a copytruncate",
        mode.name(),
        s.fragments
    );
    Outcome {
        lines,
        lost,
        lost_not_on_disk,
        repeated,
        malformed: s.malformed.iter().take(5).cloned().collect(),
    }
}

#[test]
fn logrotate_create_mode_loses_and_repeats_no_line() {
    let o = run(Mode::Create);
    assert!(o.lines > 0);
    assert!(o.malformed.is_empty(), "malformed lines: {:?}", o.malformed);
    assert_eq!(o.repeated, 0, "lines seen twice");
    assert_eq!(o.lost, 0, "lines never seen");
}

#[test]
fn logrotate_create_compress_delaycompress_loses_and_repeats_no_line() {
    let o = run(Mode::CreateCompressDelaycompress);
    assert!(o.lines > 0);
    assert!(o.malformed.is_empty(), "malformed lines: {:?}", o.malformed);
    assert_eq!(o.repeated, 0, "lines seen twice");
    assert_eq!(o.lost, 0, "lines never seen");
}

#[test]
fn logrotate_copytruncate_delaycompress_repeats_no_line_and_loses_only_the_copy_gap() {
    let o = run(Mode::CopytruncateDelaycompress);
    assert!(o.lines > 0);
    assert!(o.malformed.is_empty(), "malformed lines: {:?}", o.malformed);
    assert_eq!(o.repeated, 0, "lines seen twice");
    // Lines written between logrotate's copy and its truncate are in no file: nobody can
    // read them. Every other line is still on disk (rotate 100, nothing deleted) and, with
    // the copy left uncompressed until the next rotation, must have been read.
    assert_eq!(
        o.lost, o.lost_not_on_disk,
        "lines lost although still in a file (the copy was not read)"
    );
}

#[test]
fn logrotate_copytruncate_compress_repeats_no_line_and_loses_only_the_copy_gap() {
    let o = run(Mode::CopytruncateCompress);
    assert!(o.lines > 0);
    assert!(o.malformed.is_empty(), "malformed lines: {:?}", o.malformed);
    assert_eq!(o.repeated, 0, "lines seen twice");
    // The copy may be compressed before it is read: the rest is read from `bot.log.1.gz`.
    assert_eq!(
        o.lost, o.lost_not_on_disk,
        "lines lost although still in a file (the compressed copy was not read)"
    );
}

/// A real application keeps writing to the rotated file until it handles the reopen signal
/// sent by `postrotate`, well after the new file appeared: those lines must be read too.
#[test]
fn logrotate_create_mode_reads_what_is_written_to_the_rotated_file_before_the_reopen() {
    let o = run(Mode::CreateSlowReopen);
    assert!(o.lines > 0);
    assert!(o.malformed.is_empty(), "malformed lines: {:?}", o.malformed);
    assert_eq!(o.repeated, 0, "lines seen twice");
    assert_eq!(o.lost, 0, "lines never seen");
}

/// A follower that is behind when the file is truncated reads the rest from the copy
/// (`bot.log.1`, left uncompressed until the next rotation): only the copy gap is lost.
#[test]
fn logrotate_copytruncate_with_a_slow_reader_recovers_the_rest_from_the_copy() {
    let o = run(Mode::CopytruncateSlowReader);
    assert!(o.lines > 0);
    assert!(o.malformed.is_empty(), "malformed lines: {:?}", o.malformed);
    assert_eq!(o.repeated, 0, "lines seen twice");
    assert_eq!(
        o.lost, o.lost_not_on_disk,
        "lines lost although still in a file (the copy was not read)"
    );
}

/// A follower stalled across copytruncates (the file truncated, maybe more than once, and
/// already written past the follower's offset when it reads again) reads the rest from the
/// copy holding it and every newer copy, compressed or not: only the copy gaps are lost, and
/// the new content is not read from the old offset and then again from the start.
#[test]
fn logrotate_copytruncate_with_a_stalled_reader_loses_only_the_copy_gaps() {
    let o = run(Mode::CopytruncateStalledReader);
    assert!(o.lines > 0);
    assert!(o.malformed.is_empty(), "malformed lines: {:?}", o.malformed);
    assert_eq!(o.repeated, 0, "lines seen twice");
    assert_eq!(
        o.lost, o.lost_not_on_disk,
        "lines lost although still in a file (a copy was not read)"
    );
}
