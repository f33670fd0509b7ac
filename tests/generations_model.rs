//! A model test of catching up over rotated generations, with downtime.
//!
//! proptest generates a random history of one log path: appends, logrotate-style rotations
//! (`NAME.k[.gz]` -> `NAME.k+1[.gz]`, `NAME` -> `NAME.1`, a new empty `NAME`), compression of
//! a generation (gzip, modification time kept, the plain file removed, as logrotate does),
//! deletion of the oldest generation (`rotate N`), and stops and starts of the follower. The
//! real follower (`logwarden::source::file::spawn`) resumes from the last position its sink
//! was given, as the daemon does from its checkpoint after `kill -9`: lines handed out after
//! that position and before the stop are forgotten (the daemon had not acknowledged them).
//!
//! The model: every line carries a unique number. A line is lost only when the generation
//! holding it was deleted while the follower was stopped and before the line was
//! acknowledged; every other line must be acknowledged exactly once, and a loss must be
//! reported through `LineSink::lost`. Deletions while the follower runs wait until it has
//! acknowledged everything (a rotation that deletes what was read), which keeps the expected
//! output independent of thread timing.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use logwarden::core::shutdown::{self, ShutdownTrigger};
use logwarden::source::file::{self, FileSourceConfig, FileStats};
use logwarden::source::StartAt;
use logwarden::source::{FileIdentity, FilePosition, LineFlags, LineSink};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const POLL_INTERVAL: Duration = Duration::from_millis(30);
const CATCH_UP: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    Rotate,
    /// gzip the generation `NAME.k` (k from 1), if it is there and plain.
    Compress(usize),
    /// Remove the oldest generation.
    DeleteOldest,
    /// Stop the follower (as `kill -9`: what it handed out since its last position is lost).
    Stop,
    /// Start it again from its last position.
    Start,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (1usize..30).prop_map(Op::Append),
        3 => Just(Op::Rotate),
        2 => (1usize..4).prop_map(Op::Compress),
        1 => Just(Op::DeleteOldest),
        1 => Just(Op::Stop),
        1 => Just(Op::Start),
    ]
}

fn line_text(n: u64) -> String {
    format!("line {n} {}", "y".repeat((n as usize * 11) % 37))
}

/// What the sink saw: acknowledged numbers (at each `batch_end`), the last position, losses.
#[derive(Default)]
struct Seen {
    acked: BTreeMap<u64, u32>,
    position: Option<FilePosition>,
    lost_reports: Vec<(String, u64)>,
    mangled: Vec<String>,
}

struct Collect {
    shared: Arc<Mutex<Seen>>,
    pending: Vec<u64>,
}

impl LineSink for Collect {
    fn file_changed(&mut self, _id: &FileIdentity) {}

    fn line(&mut self, line: &[u8], flags: LineFlags) {
        let s = String::from_utf8_lossy(line);
        let n = s
            .split(' ')
            .nth(1)
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|&n| s == line_text(n) && !flags.truncated);
        match n {
            Some(n) => self.pending.push(n),
            None => self.shared.lock().unwrap().mangled.push(s.into_owned()),
        }
    }

    fn batch_end(&mut self, position: Option<&FilePosition>) -> bool {
        let mut s = self.shared.lock().unwrap();
        // Lines of a file whose position is not saved (a rotated file still drained) are
        // acknowledged with the next position, as the daemon's checkpoints do.
        if let Some(p) = position {
            for n in self.pending.drain(..) {
                *s.acked.entry(n).or_insert(0) += 1;
            }
            s.position = Some(p.clone());
        }
        true
    }

    fn lost(&mut self, file: &str, bytes: u64, _why: &str) {
        self.shared
            .lock()
            .unwrap()
            .lost_reports
            .push((file.to_string(), bytes));
    }
}

/// One generation in the model: its lines, whether compressed.
#[derive(Debug, Clone)]
struct Gen {
    lines: Vec<u64>,
    gz: bool,
}

struct Harness {
    _dir: tempfile::TempDir,
    path: PathBuf,
    shared: Arc<Mutex<Seen>>,
    /// The live file's lines, and the rotated generations, newest (`NAME.1`) first.
    live: Vec<u64>,
    gens: Vec<Gen>,
    next: u64,
    /// Lines deleted before they were acknowledged.
    lost: Vec<u64>,
    running: Option<(ShutdownTrigger, JoinHandle<()>)>,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        File::create(&path).unwrap();
        let mut h = Harness {
            _dir: dir,
            path,
            shared: Arc::new(Mutex::new(Seen::default())),
            live: Vec::new(),
            gens: Vec::new(),
            next: 0,
            lost: Vec::new(),
            running: None,
        };
        h.start();
        // A follower stopped before it ever saved a position starts over as a first run,
        // which reads no rotated generation: the model starts from its first position.
        let deadline = Instant::now() + CATCH_UP;
        while h.shared.lock().unwrap().position.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        h
    }

    fn gen_path(&self, k: usize, gz: bool) -> PathBuf {
        let ext = if gz { ".gz" } else { "" };
        PathBuf::from(format!("{}.{k}{ext}", self.path.display()))
    }

    fn start(&mut self) {
        if self.running.is_some() {
            return;
        }
        let resume = self.shared.lock().unwrap().position.clone();
        let config = FileSourceConfig {
            path: self.path.clone(),
            start_at: StartAt::Beginning,
            max_line_bytes: 65536,
            poll_interval: POLL_INTERVAL,
            partial_flush: Duration::from_millis(500),
            resume,
            olddir: None,
        };
        let (trigger, shutdown) = shutdown::channel();
        let thread = file::spawn(
            config,
            Collect {
                shared: self.shared.clone(),
                pending: Vec::new(),
            },
            Arc::new(FileStats::default()),
            shutdown,
        )
        .unwrap();
        self.running = Some((trigger, thread));
    }

    fn stop(&mut self) {
        if let Some((trigger, thread)) = self.running.take() {
            trigger.trigger();
            thread.join().unwrap();
        }
    }

    fn append(&mut self, k: usize) {
        let mut text = String::new();
        for _ in 0..k {
            text.push_str(&line_text(self.next));
            text.push('\n');
            self.live.push(self.next);
            self.next += 1;
        }
        let mut f = OpenOptions::new().append(true).open(&self.path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn rotate(&mut self) {
        for k in (1..=self.gens.len()).rev() {
            let gz = self.gens[k - 1].gz;
            std::fs::rename(self.gen_path(k, gz), self.gen_path(k + 1, gz)).unwrap();
        }
        std::fs::rename(&self.path, self.gen_path(1, false)).unwrap();
        File::create(&self.path).unwrap();
        let lines = std::mem::take(&mut self.live);
        self.gens.insert(0, Gen { lines, gz: false });
    }

    fn compress(&mut self, k: usize) {
        if k > self.gens.len() || self.gens[k - 1].gz {
            return;
        }
        let plain = self.gen_path(k, false);
        let content = std::fs::read(&plain).unwrap();
        let mtime = std::fs::metadata(&plain).unwrap().modified().unwrap();
        let gz = self.gen_path(k, true);
        let mut e =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        e.write_all(&content).unwrap();
        let f = e.finish().unwrap();
        f.set_modified(mtime).unwrap();
        std::fs::remove_file(&plain).unwrap();
        self.gens[k - 1].gz = true;
    }

    fn delete_oldest(&mut self) {
        let Some(g) = self.gens.last().cloned() else {
            return;
        };
        if self.running.is_some() {
            // A deletion of what was read: wait until it was.
            self.wait_acked(&g.lines);
        }
        std::fs::remove_file(self.gen_path(self.gens.len(), g.gz)).unwrap();
        let s = self.shared.lock().unwrap();
        self.lost
            .extend(g.lines.iter().filter(|n| !s.acked.contains_key(n)));
        drop(s);
        self.gens.pop();
    }

    /// Waits until every number of `lines` was acknowledged (or `CATCH_UP` passed).
    fn wait_acked(&self, lines: &[u64]) {
        let deadline = Instant::now() + CATCH_UP;
        while Instant::now() < deadline {
            if lines
                .iter()
                .all(|n| self.shared.lock().unwrap().acked.contains_key(n))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Append(k) => self.append(*k),
            Op::Rotate => {
                // Generations are told apart by modification time when the one a position
                // was in is gone; ext4's clock ticks every few milliseconds, and real rotations
                // are minutes apart, not within one tick.
                std::thread::sleep(Duration::from_millis(10));
                self.rotate();
                std::thread::sleep(Duration::from_millis(10));
            }
            Op::Compress(k) => self.compress(*k),
            Op::DeleteOldest => self.delete_oldest(),
            Op::Stop => self.stop(),
            Op::Start => self.start(),
        }
        std::thread::sleep(Duration::from_millis(2));
    }

    fn check(mut self) -> Result<(), TestCaseError> {
        self.start();
        let expected: Vec<u64> = (0..self.next).filter(|n| !self.lost.contains(n)).collect();
        self.wait_acked(&expected);
        // Time for a repeat to show.
        std::thread::sleep(POLL_INTERVAL * 4);
        self.stop();
        let s = self.shared.lock().unwrap();
        prop_assert!(s.mangled.is_empty(), "mangled lines: {:?}", s.mangled);
        let missing: Vec<u64> = expected
            .iter()
            .copied()
            .filter(|n| !s.acked.contains_key(n))
            .collect();
        prop_assert!(missing.is_empty(), "lines never acknowledged: {missing:?}");
        let repeated: Vec<u64> = s
            .acked
            .iter()
            .filter(|(_, &c)| c > 1)
            .map(|(n, _)| *n)
            .collect();
        prop_assert!(
            repeated.is_empty(),
            "lines acknowledged twice: {repeated:?}"
        );
        let lost_seen: Vec<u64> = self
            .lost
            .iter()
            .copied()
            .filter(|n| s.acked.contains_key(n))
            .collect();
        prop_assert!(lost_seen.is_empty(), "deleted lines seen: {lost_seen:?}");
        if !self.lost.is_empty() {
            prop_assert!(
                !s.lost_reports.is_empty(),
                "{} lines deleted unread, and no loss reported",
                self.lost.len()
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 40,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn catch_up_over_renames_compression_deletion_and_downtime_loses_only_deleted_lines(
        ops in proptest::collection::vec(op(), 1..40)
    ) {
        let mut h = Harness::new();
        for op in &ops {
            h.apply(op);
        }
        h.check()?;
    }
}
