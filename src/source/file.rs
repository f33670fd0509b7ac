//! Follows one file path without losing or repeating lines: files that appear later,
//! rename+create rotation, copytruncate, truncation, deletion, and restarts of logwarden.
//!
//! Identity is device+inode plus a checksum of the first bytes (`identity.rs`). On each wake
//! (an inotify event in the file's directory, or the poll interval passing) the open file is
//! read to its end first, and only then is the path examined:
//! - another file at the path: the old one was rotated away and has been drained (lines
//!   written just before the rotation are kept); the new one is read from its start;
//! - the same inode, but shorter than our offset or with other first bytes: it was
//!   truncated (copytruncate, `truncate -s0`); what we had not read yet is taken from the
//!   rotated copy (`NAME.1`) when that copy starts with the same bytes, then the file is
//!   read from 0.
//!
//! On start, a saved position resumes reading: in the same file at the same offset, or, when
//! the file was rotated while logwarden was down, in the rotated file first.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::checkpoint::FilePosition;
use super::identity::{FileIdentity, FINGERPRINT_BYTES};
use super::line_reader::LineReader;
use super::LineSink;
use crate::config::StartAt;
use crate::shutdown::Shutdown;

/// What a file follower needs to know.
#[derive(Debug, Clone)]
pub struct FileSourceConfig {
    pub path: PathBuf,
    /// Where to begin in the file that exists at start when there is no saved position
    /// (files that appear later are read whole).
    pub start_at: StartAt,
    pub max_line_bytes: usize,
    /// Stat the path at least this often, for what inotify does not report.
    pub poll_interval: Duration,
    /// A partial line with no newline is handed out after this long without new data.
    pub partial_flush: Duration,
    /// The position saved by an earlier run, if any.
    pub resume: Option<FilePosition>,
}

/// Counters of one followed path, read by whoever reports on the daemon.
#[derive(Debug, Default)]
pub struct FileStats {
    pub bytes: AtomicU64,
    pub rotations: AtomicU64,
    pub truncations: AtomicU64,
    /// Bytes read back from a rotated copy after a copytruncate.
    pub recovered_bytes: AtomicU64,
    /// Truncations after which the unread rest of the file could not be found in a copy.
    pub unrecovered_truncations: AtomicU64,
    /// Bytes in the file beyond what was read, at the last look.
    pub lag_bytes: AtomicU64,
}

/// How long a rotated-away file is still read after it was last written to: its writer may
/// keep appending until it reopens the path. Holding it this long costs one open descriptor.
pub const ROTATE_WAIT: Duration = Duration::from_secs(10);

/// The file currently open.
struct Open {
    file: File,
    id: FileIdentity,
}

/// A rotated-away file still read until it has been quiet for `ROTATE_WAIT`.
struct Retired {
    open: Open,
    /// Its own reader: a partial line of the old file must not join the new file's lines.
    reader: LineReader,
    last_data: std::time::Instant,
}

/// Follows `config.path` on a new thread until `shutdown` or until the sink stops listening.
pub fn spawn(
    config: FileSourceConfig,
    sink: impl LineSink + 'static,
    stats: Arc<FileStats>,
    shutdown: Shutdown,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("file-source".into())
        .spawn(move || Follower::new(config, sink, stats, shutdown).run())
}

struct Follower<S: LineSink> {
    config: FileSourceConfig,
    /// `config.path` as text, the key of saved positions.
    key: String,
    sink: S,
    stats: Arc<FileStats>,
    shutdown: Shutdown,
    reader: LineReader,
    open: Option<Open>,
    /// The previous file after a rotation, still read for a while.
    retired: Option<Retired>,
    /// Whether the next open is the first one (where `resume` and `start_at` apply).
    first_open: bool,
    /// Reported once per absence so a missing file does not flood the log.
    warned_missing: bool,
    /// The sink stopped listening: end the thread.
    stopped: bool,
}

impl<S: LineSink> Follower<S> {
    fn new(config: FileSourceConfig, sink: S, stats: Arc<FileStats>, shutdown: Shutdown) -> Self {
        let reader = LineReader::new(config.max_line_bytes);
        Follower {
            key: config.path.display().to_string(),
            config,
            sink,
            stats,
            shutdown,
            reader,
            open: None,
            retired: None,
            first_open: true,
            warned_missing: false,
            stopped: false,
        }
    }

    fn run(mut self) {
        // Wake-ups from inotify: a channel of one slot, so a burst of events is one wake-up.
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        let mut watcher = None;
        let mut quiet_since = std::time::Instant::now();
        loop {
            if self.shutdown.is_triggered() || self.stopped {
                return;
            }
            if watcher.is_none() {
                watcher = self.watch_directory(tx.clone());
            }
            let read = match self.poll() {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(path = %self.key, error = %e, "read failed; will retry");
                    0
                }
            };
            if read > 0 {
                quiet_since = std::time::Instant::now();
            } else if self.reader.pending() > 0
                && quiet_since.elapsed() >= self.config.partial_flush
            {
                let sink = &mut self.sink;
                self.reader.flush_partial(|l, f| sink.line(l, f));
            }
            self.end_batch();
            let mut wait = if self.reader.pending() > 0 {
                self.config.partial_flush.min(self.config.poll_interval)
            } else {
                self.config.poll_interval
            };
            if let Some(w) = self.sink.wake_in() {
                wait = wait.min(w.max(Duration::from_millis(1)));
            }
            // `tx` is kept alive above, so this only ends by an event or the timeout.
            let _ = rx.recv_timeout(wait);
        }
    }

    /// Tells the sink a batch ended, with the position reached.
    fn end_batch(&mut self) {
        let position = self.open.as_ref().map(|o| FilePosition {
            path: self.key.clone(),
            id: o.id,
            offset: self.reader.consumed(),
        });
        if !self.sink.batch_end(position.as_ref()) {
            self.stopped = true;
        }
    }

    /// Watches the file's directory; without it (no directory yet, inotify limits) we poll.
    fn watch_directory(&self, tx: mpsc::SyncSender<()>) -> Option<notify::RecommendedWatcher> {
        let dir = self.config.path.parent().unwrap_or(Path::new("/"));
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            // Full means a wake-up is already due. An error (such as a queue overflow) also
            // just wakes us: every wake-up re-reads and re-examines the file, a full rescan.
            if super::wakes(&res) {
                let _ = tx.try_send(());
            }
        })
        .map_err(|e| tracing::warn!(error = %e, "inotify unavailable; polling"))
        .ok()?;
        match watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => Some(watcher),
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot watch directory yet; polling");
                None
            }
        }
    }

    /// Reads what is new, then follows a rotation or truncation. Returns bytes read.
    fn poll(&mut self) -> io::Result<usize> {
        let mut total = self.drain_retired()?;
        total += self.drain()?;
        let meta = match std::fs::metadata(&self.config.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !self.warned_missing {
                    tracing::info!(path = %self.key, "file does not exist (yet); waiting for it");
                    self.warned_missing = true;
                }
                if self.first_open {
                    self.first_open = false;
                    if let Some(resume) = self.config.resume.take() {
                        total += self.drain_rotated(&resume)?;
                    }
                }
                // A deleted file may still be written through open handles: keep reading it.
                return Ok(total);
            }
            Err(e) => return Err(e),
        };
        self.warned_missing = false;
        self.stats.lag_bytes.store(
            meta.len().saturating_sub(self.reader.consumed()),
            Ordering::Relaxed,
        );
        let same_inode = self
            .open
            .as_ref()
            .is_some_and(|o| o.id.dev == meta.dev() && o.id.ino == meta.ino());
        if !same_inode {
            if let Some(old) = self.open.take() {
                self.stats.rotations.fetch_add(1, Ordering::Relaxed);
                tracing::info!(path = %self.key, "file replaced (rotated); following the new one");
                self.retire(old);
            }
            self.open_path()?;
            total += self.drain()?;
        }
        Ok(total)
    }

    /// Keeps reading a rotated-away file: its writer may append to it until it reopens the
    /// path (a `postrotate` signal, say), and those lines must not be lost.
    fn retire(&mut self, old: Open) {
        if let Some(previous) = self.retired.take() {
            self.drop_retired(previous);
        }
        let mut reader = std::mem::replace(
            &mut self.reader,
            LineReader::new(self.config.max_line_bytes),
        );
        // Its lines are handed on, but the saved position belongs to the new file now.
        reader.set_positioned(false);
        self.retired = Some(Retired {
            open: old,
            reader,
            last_data: std::time::Instant::now(),
        });
    }

    /// Reads what was appended to the retired file; lets it go after `ROTATE_WAIT` of quiet.
    fn drain_retired(&mut self) -> io::Result<usize> {
        let Some(r) = &mut self.retired else {
            return Ok(0);
        };
        let len = r.open.file.metadata()?.len();
        let mut n = 0;
        if len > r.reader.consumed() + r.reader.pending() as u64 {
            self.sink.file_changed(&r.open.id);
            let (read, listening) = pump(
                &mut r.open.file,
                &mut r.reader,
                &mut self.sink,
                &self.key,
                None,
                &self.stats,
            )?;
            n = read;
            self.stopped |= !listening;
            if n > 0 {
                r.last_data = std::time::Instant::now();
            }
            if let Some(o) = &self.open {
                self.sink.file_changed(&o.id);
            }
        }
        if r.last_data.elapsed() >= ROTATE_WAIT {
            if let Some(r) = self.retired.take() {
                self.drop_retired(r);
            }
        }
        Ok(n)
    }

    /// Hands on a retired file's unterminated last line and closes it.
    fn drop_retired(&mut self, mut r: Retired) {
        if r.reader.pending() > 0 {
            self.sink.file_changed(&r.open.id);
            let sink = &mut self.sink;
            r.reader.flush_partial(|l, f| sink.line(l, f));
            if let Some(o) = &self.open {
                self.sink.file_changed(&o.id);
            }
        }
        tracing::debug!(path = %self.key, "stopped reading the rotated file");
    }

    /// Whether the open file was truncated or rewritten under us: shorter than what we read,
    /// or its first bytes changed (truncated and written again past our offset). Records the
    /// read lag on the way.
    fn was_truncated(&self) -> io::Result<bool> {
        let Some(o) = &self.open else {
            return Ok(false);
        };
        let read_to = self.reader.consumed() + self.reader.pending() as u64;
        let len = o.file.metadata()?.len();
        // The same fstat tells the lag, so that it shows while a flood is being drained
        // (`poll` measures it only once the file is read to its end).
        self.stats.lag_bytes.store(
            len.saturating_sub(self.reader.consumed()),
            Ordering::Relaxed,
        );
        Ok(len < read_to || !o.id.head_matches(&o.file)?)
    }

    /// The open file was truncated (or rewritten in place): recover the unread rest from a
    /// rotated copy if there is one, then read the file from its start.
    fn truncated(&mut self) -> io::Result<usize> {
        self.stats.truncations.fetch_add(1, Ordering::Relaxed);
        let Some(open) = &self.open else {
            return Ok(0);
        };
        let id = open.id;
        let offset = self.reader.consumed();
        let mut total = 0;
        let copy_path = PathBuf::from(format!("{}.1", self.key));
        let copy = File::open(&copy_path)
            .ok()
            .filter(|f| id.head_matches(f).unwrap_or(false));
        match copy {
            Some(mut copy) => {
                let len = copy.metadata()?.len();
                if len > offset {
                    // The copy holds what we had not read yet (the partial line included).
                    copy.seek(SeekFrom::Start(offset))?;
                    self.reader.reset(offset);
                    let (n, listening) = pump(
                        &mut copy,
                        &mut self.reader,
                        &mut self.sink,
                        &self.key,
                        Some(id),
                        &self.stats,
                    )?;
                    self.stopped |= !listening;
                    total += n;
                    self.stats
                        .recovered_bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                    tracing::info!(path = %self.key, copy = %copy_path.display(), bytes = n, "file truncated (copytruncate); read its unread rest from the rotated copy");
                }
            }
            None if offset > 0 || self.reader.pending() > 0 => {
                self.stats
                    .unrecovered_truncations
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %self.key, offset, "file truncated and no rotated copy starts like it: lines written just before the truncation may be missed");
            }
            None => {}
        }
        if let Some(o) = &mut self.open {
            o.file.seek(SeekFrom::Start(0))?;
            o.id = FileIdentity::of(&o.file)?;
            self.sink.file_changed(&o.id);
        }
        self.reader.reset(0);
        Ok(total)
    }

    fn open_path(&mut self) -> io::Result<()> {
        let mut file = File::open(&self.config.path)?;
        let id = FileIdentity::of(&file)?;
        let len = file.metadata()?.len();
        let mut start = 0;
        if self.first_open {
            self.first_open = false;
            match self.config.resume.take() {
                Some(r)
                    if r.id.dev == id.dev && r.id.ino == id.ino && r.id.head_matches(&file)? =>
                {
                    if r.offset <= len {
                        start = r.offset;
                    } else {
                        tracing::warn!(path = %self.key, "file shorter than the saved position (truncated while logwarden was down); reading it from its start");
                    }
                }
                Some(r) => {
                    self.drain_rotated(&r)?;
                }
                None if self.config.start_at == StartAt::End => start = len,
                None => {}
            }
        }
        file.seek(SeekFrom::Start(start))?;
        self.reader.reset(start);
        self.sink.file_changed(&id);
        self.open = Some(Open { file, id });
        tracing::info!(path = %self.key, offset = start, "reading file");
        Ok(())
    }

    /// The file of a saved position is no longer at the path (rotated while logwarden was
    /// down): find it among `NAME.*` beside it and read its rest.
    fn drain_rotated(&mut self, saved: &FilePosition) -> io::Result<usize> {
        let dir = self.config.path.parent().unwrap_or(Path::new("/"));
        let name = self
            .config
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!("{name}.");
        let mut candidates: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().starts_with(&prefix))
                    .unwrap_or(false)
            })
            .collect();
        candidates.sort();
        for path in candidates {
            let Ok(mut file) = File::open(&path) else {
                continue;
            };
            let meta = file.metadata()?;
            let same_inode = meta.dev() == saved.id.dev && meta.ino() == saved.id.ino;
            // A copy (copytruncate) has another inode but the same first bytes.
            if !saved.id.head_matches(&file)? || meta.len() < saved.offset {
                continue;
            }
            if !same_inode && saved.id.head_len < FINGERPRINT_BYTES as u32 {
                continue; // too little to tell a copy from another file
            }
            file.seek(SeekFrom::Start(saved.offset))?;
            self.reader.reset(saved.offset);
            self.sink.file_changed(&saved.id);
            let (n, listening) = pump(
                &mut file,
                &mut self.reader,
                &mut self.sink,
                &self.key,
                Some(saved.id),
                &self.stats,
            )?;
            self.stopped |= !listening;
            let sink = &mut self.sink;
            self.reader.flush_partial(|l, f| sink.line(l, f));
            tracing::info!(path = %self.key, rotated = %path.display(), bytes = n, "file was rotated while logwarden was down; read the rest of the rotated file first");
            return Ok(n);
        }
        tracing::warn!(path = %self.key, offset = saved.offset, "file was replaced while logwarden was down and the old one was not found beside it; lines written to it after the saved position may be missed");
        Ok(0)
    }

    /// Reads the open file to its end, checking before each read that it was not truncated
    /// under us (a reader behind its writer across a copytruncate must not read the new
    /// content from the old offset).
    fn drain(&mut self) -> io::Result<usize> {
        let mut total = 0;
        loop {
            if self.stopped || self.open.is_none() {
                return Ok(total);
            }
            if self.was_truncated()? {
                total += self.truncated()?;
                continue;
            }
            let Some(open) = &mut self.open else {
                return Ok(total);
            };
            let sink = &mut self.sink;
            let n = self
                .reader
                .read_from(&mut open.file, |l, f| sink.line(l, f))?;
            if n == 0 {
                break;
            }
            total += n;
            self.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
            // Hand over each chunk's batch at once, so a flood that never reaches EOF still
            // tells the rules that lines arrive (and checkpoints advance).
            let position = FilePosition {
                path: self.key.clone(),
                id: open.id,
                offset: self.reader.consumed(),
            };
            if !sink.batch_end(Some(&position)) {
                self.stopped = true;
            }
        }
        // A file opened while shorter than the fingerprint: widen the fingerprint as it grows.
        if let Some(open) = &mut self.open {
            if open.id.head_len < FINGERPRINT_BYTES as u32
                && self.reader.consumed() > u64::from(open.id.head_len)
                && open.id.head_matches(&open.file)?
            {
                // The same file: the sink is not told (a narrower identity stays valid).
                open.id = FileIdentity::of(&open.file)?;
            }
        }
        Ok(total)
    }
}

/// Reads `file` to its end through `reader`, handing lines to `sink`. After each chunk the
/// sink is told the position reached in the file `position_id` (or nothing, for a file whose
/// position is not to be saved). Returns the bytes read and whether the sink still listens.
fn pump<S: LineSink>(
    file: &mut File,
    reader: &mut LineReader,
    sink: &mut S,
    key: &str,
    position_id: Option<FileIdentity>,
    stats: &FileStats,
) -> io::Result<(usize, bool)> {
    let mut total = 0;
    loop {
        let n = reader.read_from(file, |l, f| sink.line(l, f))?;
        if n == 0 {
            return Ok((total, true));
        }
        total += n;
        stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
        let position = position_id.map(|id| FilePosition {
            path: key.to_string(),
            id,
            offset: reader.consumed(),
        });
        if !sink.batch_end(position.as_ref()) {
            return Ok((total, false));
        }
    }
}
