//! Follows one file path without losing or repeating lines: files that appear later,
//! rename+create rotation, copytruncate, truncation, deletion, and restarts of logwarden.
//!
//! Identity is device+inode plus a checksum of the first bytes (`identity.rs`). On each wake
//! (a nudge from `hub.rs`: an inotify event naming the file, a change the hub's timer saw in
//! its stat, shutdown; or a timeout while a partial line, a rotated-away file or an error
//! is pending) the open file is
//! read to its end first, and only then is the path examined:
//! - another file at the path: the old one was rotated away and has been drained (lines
//!   written just before the rotation are kept); the new one is read from its start;
//! - the same inode, but shorter than our offset or with other first bytes: it was
//!   truncated (copytruncate, `truncate -s0`); what we had not read yet is taken from the
//!   rotated copy (`NAME.1`) when that copy starts with the same bytes, then the file is
//!   read from 0.
//!
//! On start, a saved position resumes reading: in the same file at the same offset, or, when
//! the file was rotated while logwarden was down, by a catch-up over the rotated generations
//! (`generations.rs`): the one holding the saved file from its offset, then every newer one
//! whole, oldest first, compressed ones through a decompressor, then the live file. The same
//! catch-up runs when the follower finds that the file was rotated or truncated more than
//! once since it last looked. Bytes that are gone before they could be read (a generation
//! deleted by rotation, logrotate's copytruncate window) are reported once, with their count.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime};

use crate::core::shutdown::Shutdown;
use crate::source::checkpoint::FilePosition;
use crate::source::generations;
use crate::source::identity::{FileIdentity, FINGERPRINT_BYTES};
use crate::source::line_reader::LineReader;
use crate::source::LineSink;
use crate::source::StartAt;

mod catch_up;
pub(crate) mod hub;
mod rotation;

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
    /// Where rotated generations go when not beside the file (logrotate's `olddir`).
    pub olddir: Option<PathBuf>,
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
    /// Bytes read from rotated generations during a catch-up (after downtime, or after
    /// falling more than one rotation behind).
    pub caught_up_bytes: AtomicU64,
    /// Bytes that were gone before they could be read (at least this many).
    pub lost_bytes: AtomicU64,
}

/// How long a rotated-away file is still read after it was last written to: its writer may
/// keep appending until it reopens the path. Holding it this long costs one open descriptor.
pub const ROTATE_WAIT: Duration = Duration::from_secs(10);

/// The file currently open.
struct Open {
    file: File,
    id: FileIdentity,
    /// Its length and modification time at the last look before it was found truncated.
    seen_len: u64,
    seen_mtime: SystemTime,
    /// When its inode was created (statx birth time), if the file system tells.
    born: Option<SystemTime>,
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
    /// The sink was told that a backlog follows and not yet that it was caught up.
    behind: bool,
    /// The last rotated generation read (its identity, and how far): when logrotate is still
    /// copying the live file into it, the live file continues where the copy ended.
    last_generation: Option<LastGeneration>,
    /// The last look found something only a timed look will see change (an error to retry,
    /// a deleted file still open): wait at most a poll interval, not for a nudge.
    needs_poll: bool,
}

/// The last rotated generation read in a catch-up, kept open (see `settle_last_generation`).
struct LastGeneration {
    id: FileIdentity,
    content: generations::Content,
    reader: LineReader,
    /// Its length and modification time when listed.
    times: (u64, SystemTime, Option<SystemTime>),
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
            behind: false,
            last_generation: None,
            needs_poll: false,
        }
    }

    fn run(mut self) {
        // Wake-ups: a channel of one slot, so a burst of events is one wake-up. The hub sends
        // on it for inotify events, for changes its timer's stat sees, and at shutdown.
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        let nudge = tx.clone();
        let _registration = hub::register(
            &self.config.path,
            hub::Watch::File,
            self.config.poll_interval,
            self.shutdown.clone(),
            Box::new(move || {
                // Full means a wake-up is already due.
                let _ = nudge.try_send(());
            }),
        );
        let mut quiet_since = std::time::Instant::now();
        loop {
            if self.shutdown.is_triggered() || self.stopped {
                return;
            }
            self.needs_poll = false;
            let read = match self.poll() {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(path = %self.key, error = %e, "read failed; will retry");
                    self.needs_poll = true;
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
            match self.wait() {
                Some(wait) => {
                    let _ = rx.recv_timeout(wait);
                }
                None => {
                    // Nothing to do until a nudge (`tx` is alive, so this ends only by one).
                    self.sink.idle();
                    let _ = rx.recv();
                }
            }
        }
    }

    /// How long to wait at most before looking again; `None`: until nudged.
    fn wait(&self) -> Option<Duration> {
        let mut wait = None::<Duration>;
        let mut at_most = |d: Duration| wait = Some(wait.map_or(d, |w| w.min(d)));
        if self.reader.pending() > 0 {
            at_most(self.config.partial_flush);
        }
        // A rotated-away file may be written to outside the watched directory (`olddir`), or
        // after its deletion: looked at every poll interval while it is read.
        if self.needs_poll || self.retired.is_some() {
            at_most(self.config.poll_interval);
        }
        if let Some(w) = self.sink.wake_in() {
            at_most(w.max(Duration::from_millis(1)));
        }
        wait
    }

    /// Tells the sink a batch ended, with the position reached.
    fn end_batch(&mut self) {
        let offset = self.reader.consumed();
        let position = self
            .open
            .as_ref()
            .map(|o| position(&self.key, o.id, offset, o.seen_len, o.seen_mtime, o.born));
        if !self.sink.batch_end(position.as_ref()) {
            self.stopped = true;
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
                        total += self.catch_up(&resume)?;
                        total += self.finish_last_generation();
                    }
                }
                // A deleted file may still be written through open handles: keep reading it
                // (no event tells of that: looked at every poll interval).
                self.needs_poll = self.open.is_some();
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
            let mut caught_up = false;
            if let Some(old) = self.open.take() {
                self.stats.rotations.fetch_add(1, Ordering::Relaxed);
                tracing::info!(path = %self.key, "file replaced (rotated); following the new one");
                // Rotated more than once since the last look: the generations between the
                // old file and the new one are read first.
                let between = self.rotated_since(&old)?;
                self.retire(old);
                let why = "rotated more than once since logwarden last looked";
                for g in &between {
                    total += self.read_generation(g, 0, why)?;
                }
                if !between.is_empty() {
                    total += self.read_newer_generations(why)?;
                }
                caught_up = !between.is_empty();
                total += self.finish_last_generation();
            }
            self.open_path()?;
            if caught_up {
                self.announce_backlog();
            }
            total += self.drain()?;
        }
        Ok(total)
    }

    fn open_path(&mut self) -> io::Result<()> {
        let mut file = File::open(&self.config.path)?;
        let id = FileIdentity::of(&file)?;
        let meta = file.metadata()?;
        let len = meta.len();
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let mut start = 0;
        if self.first_open {
            self.first_open = false;
            match self.config.resume.take() {
                Some(r)
                    if r.id.dev == id.dev
                        && r.id.ino == id.ino
                        && r.born_matches(meta.created().ok())
                        && r.id.head_matches(&file)?
                        && !self.rotated_after(&r)? =>
                {
                    if r.offset <= len {
                        start = r.offset;
                    } else {
                        tracing::warn!(path = %self.key, "file shorter than the saved position (truncated while logwarden was down); reading it from its start");
                    }
                }
                Some(r) => {
                    self.catch_up(&r)?;
                    start = self.settle_last_generation(&file)?;
                }
                None if self.config.start_at == StartAt::End => start = len,
                None => {}
            }
            if start < len {
                // Written before logwarden started.
                self.sink.backlog(Some(mtime));
                self.behind = true;
            } else if len > 0 {
                // Nothing to read, but the file says when it was last written: a silence
                // counts from then, not from logwarden's start (a restart of logwarden gives
                // a frozen bot no fresh start).
                self.sink.last_written(mtime);
            }
        }
        file.seek(SeekFrom::Start(start))?;
        self.reader.reset(start);
        self.sink.file_changed(&id);
        self.open = Some(Open {
            file,
            id,
            seen_len: len,
            seen_mtime: mtime,
            born: meta.created().ok(),
        });
        tracing::info!(path = %self.key, offset = start, "reading file");
        Ok(())
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
            // A file opened while shorter than the fingerprint: widen the fingerprint as it
            // grows, right after the read (not after the batch: a busy sink may take long,
            // and a file truncated and rewritten meanwhile would lend its head to ours).
            let read_to = self.reader.consumed() + self.reader.pending() as u64;
            if open.id.head_len < FINGERPRINT_BYTES as u32
                && read_to > u64::from(open.id.head_len)
                && open.id.head_matches(&open.file)?
            {
                let wider = FileIdentity::of(&open.file)?;
                if u64::from(wider.head_len) <= read_to {
                    // The same file: positions saved from now on carry the wider identity
                    // (a copy or a compressed generation is recognised only by a full one).
                    open.id = wider;
                    sink.identity_widened(&wider);
                }
            }
            // Hand over each chunk's batch at once, so a flood that never reaches EOF still
            // tells the rules that lines arrive (and checkpoints advance).
            let position = position(
                &self.key,
                open.id,
                self.reader.consumed(),
                open.seen_len,
                open.seen_mtime,
                open.born,
            );
            if !sink.batch_end(Some(&position)) {
                self.stopped = true;
            }
        }
        if self.behind && !self.stopped {
            self.behind = false;
            self.sink.caught_up();
        }
        Ok(total)
    }
}

/// A position in the file `id`, whose length and modification time were `len` and `mtime`.
fn position(
    key: &str,
    id: FileIdentity,
    offset: u64,
    len: u64,
    mtime: SystemTime,
    born: Option<SystemTime>,
) -> FilePosition {
    FilePosition {
        path: key.to_string(),
        id,
        offset,
        len: len.max(offset),
        mtime_ns: FilePosition::ns(mtime),
        born_ns: born.map_or(0, FilePosition::ns),
    }
}

/// Reads `file` to its end through `reader`, handing lines to `sink`. After each chunk the
/// sink is told the position reached in the file `position_of` names (its identity, length
/// and modification time; nothing for a file whose position is not to be saved). Returns the
/// bytes read and whether the sink still listens.
fn pump<S: LineSink>(
    file: &mut impl io::Read,
    reader: &mut LineReader,
    sink: &mut S,
    key: &str,
    position_of: Option<(FileIdentity, u64, SystemTime, Option<SystemTime>)>,
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
        let position = position_of
            .map(|(id, len, mtime, born)| position(key, id, reader.consumed(), len, mtime, born));
        if !sink.batch_end(position.as_ref()) {
            return Ok((total, false));
        }
    }
}
