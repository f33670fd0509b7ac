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
//! the file was rotated while logwarden was down, by a catch-up over the rotated generations
//! (`generations.rs`): the one holding the saved file from its offset, then every newer one
//! whole, oldest first, compressed ones through a decompressor, then the live file. The same
//! catch-up runs when the follower finds that the file was rotated or truncated more than
//! once since it last looked. Bytes that are gone before they could be read (a generation
//! deleted by rotation, logrotate's copytruncate window) are reported once, with their count.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime};

use notify::{RecursiveMode, Watcher};

use crate::core::shutdown::Shutdown;
use crate::source::checkpoint::FilePosition;
use crate::source::generations::{self, Codec, Generation};
use crate::source::identity::{FileIdentity, FINGERPRINT_BYTES};
use crate::source::line_reader::LineReader;
use crate::source::LineSink;
use crate::source::StartAt;

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
        let offset = self.reader.consumed();
        let position = self
            .open
            .as_ref()
            .map(|o| position(&self.key, o.id, offset, o.seen_len, o.seen_mtime, o.born));
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
            if crate::source::wakes(&res) {
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
                        total += self.catch_up(&resume)?;
                        total += self.finish_last_generation();
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
    fn was_truncated(&mut self) -> io::Result<bool> {
        let Some(o) = &mut self.open else {
            return Ok(false);
        };
        let read_to = self.reader.consumed() + self.reader.pending() as u64;
        let meta = o.file.metadata()?;
        let len = meta.len();
        // The same fstat tells the lag, so that it shows while a flood is being drained
        // (`poll` measures it only once the file is read to its end).
        self.stats.lag_bytes.store(
            len.saturating_sub(self.reader.consumed()),
            Ordering::Relaxed,
        );
        let truncated = len < read_to || !o.id.head_matches(&o.file)?;
        if !truncated {
            o.seen_len = len;
            o.seen_mtime = meta.modified().unwrap_or(o.seen_mtime);
        }
        Ok(truncated)
    }

    /// The open file was truncated (or rewritten in place): recover the unread rest from the
    /// rotated copy of it (`NAME.1`, `NAME.1.gz`, or an older one when it was truncated more
    /// than once since the last look) and every newer copy, then read the file from its start.
    /// What was in the file when we last looked but is in no copy (written between
    /// logrotate's copy and its truncate) is reported lost.
    fn truncated(&mut self) -> io::Result<usize> {
        self.stats.truncations.fetch_add(1, Ordering::Relaxed);
        let Some(open) = &self.open else {
            return Ok(0);
        };
        let (id, seen_len) = (open.id, open.seen_len);
        let offset = self.reader.consumed();
        let mut total = 0;
        let gens = generations::list(&self.config.path, self.config.olddir.as_deref())?;
        let mut copy = None;
        for (i, g) in gens.iter().enumerate().rev() {
            if g.dev == id.dev && g.ino == id.ino {
                continue; // the truncated file itself, under another name
            }
            if g.holds(&id)? {
                copy = Some(i);
                break;
            }
        }
        match copy {
            Some(i) => {
                // The copy holds what we had not read yet (the partial line included). It
                // is complete: logrotate truncates once it has copied.
                let n = self.read_generation(
                    &gens[i],
                    offset,
                    "the rest of the truncated file, from its copy",
                )?;
                let copy_len = self
                    .last_generation
                    .as_ref()
                    .map_or(offset, |g| g.reader.consumed() + g.reader.pending() as u64);
                total += n;
                self.stats
                    .recovered_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                tracing::info!(path = %self.key, copy = %gens[i].path.display(), bytes = n, "file truncated (copytruncate); read its unread rest from the rotated copy");
                let gap = seen_len.saturating_sub(copy_len.max(offset));
                if gap > 0 {
                    self.lose(
                        &self.key.clone(),
                        gap,
                        "written between logrotate's copy and its truncate (copytruncate), in no file any more",
                    );
                }
                let why = "truncated more than once since logwarden last looked";
                let mut n = 0;
                for g in &gens[i + 1..] {
                    n += self.read_generation(g, 0, why)?;
                }
                n += self.read_newer_generations(why)?;
                self.stats
                    .recovered_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                total += n;
            }
            None if offset > 0 || self.reader.pending() > 0 || seen_len > offset => {
                self.stats
                    .unrecovered_truncations
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %self.key, offset, "file truncated and no rotated copy starts like it");
                let gap = seen_len.saturating_sub(offset);
                if gap > 0 {
                    self.lose(
                        &self.key.clone(),
                        gap,
                        "truncated before logwarden read them, and no rotated copy holds them",
                    );
                }
            }
            None => {}
        }
        let mut start = 0;
        if let Some(mut o) = self.open.take() {
            o.id = FileIdentity::of(&o.file)?;
            start = self.settle_last_generation(&o.file)?;
            o.file.seek(SeekFrom::Start(start))?;
            o.seen_len = start;
            o.seen_mtime = o.file.metadata()?.modified().unwrap_or(o.seen_mtime);
            self.sink.file_changed(&o.id);
            self.open = Some(o);
            if self.behind {
                // The live file's lines after a catch-up: written by its modification time.
                self.announce_backlog();
            }
        }
        self.reader.reset(start);
        Ok(total)
    }

    /// Bytes gone before they could be read (0: how many is not known): counted, logged and
    /// told to the sink once.
    fn lose(&mut self, file: &str, bytes: u64, why: &str) {
        self.stats.lost_bytes.fetch_add(bytes, Ordering::Relaxed);
        if bytes > 0 {
            tracing::warn!(path = %self.key, file, bytes, why, "lines lost: at least {bytes} bytes of {file} were never read");
        } else {
            tracing::warn!(path = %self.key, file, why, "lines lost: some bytes of {file} were never read");
        }
        self.sink.lost(file, bytes, why);
    }

    /// Tells the sink that what follows was written before it was read, at the open file's
    /// modification time or earlier.
    fn announce_backlog(&mut self) {
        if let Some(o) = &self.open {
            self.sink.backlog(Some(o.seen_mtime));
            self.behind = true;
        }
    }

    /// The generations rotated after `old` (the file that was at the path until now), oldest
    /// first: those a follower slower than two rotations has not seen at the path.
    fn rotated_since(&mut self, old: &Open) -> io::Result<Vec<Generation>> {
        let mut gens = generations::list(&self.config.path, self.config.olddir.as_deref())?;
        let mut at = None;
        for (i, g) in gens.iter().enumerate().rev() {
            if (g.dev == old.id.dev && g.ino == old.id.ino)
                || (g.codec != Codec::Plain && g.holds(&old.id)?)
            {
                at = Some(i);
                break;
            }
        }
        Ok(match at {
            Some(i) => gens.split_off(i + 1),
            None => {
                // Gone already (deleted, or compressed from a head too short to recognise):
                // the generations written after it last was are the newer ones.
                let last = old
                    .file
                    .metadata()?
                    .modified()
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                gens.retain(|g| g.mtime > last);
                gens
            }
        })
    }

    /// Whether the live file, although it has the saved position's device and inode and
    /// starts alike, may be another file: the saved fingerprint is short (an empty or tiny
    /// file, whose inode a new file can reuse once it is deleted) and a generation was written
    /// after the position was saved, so the file was rotated since.
    fn rotated_after(&self, saved: &FilePosition) -> io::Result<bool> {
        if saved.id.head_len as usize >= FINGERPRINT_BYTES {
            return Ok(false);
        }
        let Some(t) = saved.mtime() else {
            return Ok(false);
        };
        let gens = generations::list(&self.config.path, self.config.olddir.as_deref())?;
        Ok(gens.iter().any(|g| g.mtime > t))
    }

    /// Catch-up after downtime: the file of the saved position is not the one at the path.
    /// Reads the generation holding it from the saved offset, then every newer generation
    /// whole, oldest first. The live file is read next by the caller.
    fn catch_up(&mut self, saved: &FilePosition) -> io::Result<usize> {
        let gens = generations::list(&self.config.path, self.config.olddir.as_deref())?;
        let at = Self::saved_generation(&gens, saved)?;
        let why = "rotated while logwarden was down";
        let mut total = 0;
        let newer = match at {
            Some(i) => {
                total += self.read_generation(&gens[i], saved.offset, why)?;
                &gens[i + 1..]
            }
            None => {
                let unread = saved.len.saturating_sub(saved.offset);
                self.lose(
                    &format!("the file logwarden was reading ({} at offset {})", self.key, saved.offset),
                    unread,
                    "deleted by rotation before logwarden read it (its own size is known only up to the last checkpoint)",
                );
                // Newer generations were last written after the saved file was.
                let from = match saved.mtime() {
                    Some(t) => gens.iter().position(|g| g.mtime > t).unwrap_or(gens.len()),
                    None => gens.len(),
                };
                &gens[from..]
            }
        };
        for g in newer {
            total += self.read_generation(g, 0, why)?;
        }
        total += self.read_newer_generations(why)?;
        Ok(total)
    }

    /// Which of `gens` holds the file of the saved position. With a full fingerprint: the
    /// same file, or a copy or compressed form of it. With a short one (the file was tiny),
    /// neither the inode (a new file may reuse it once the saved one is deleted) nor a few
    /// first bytes alone are proof: the saved file is the oldest generation written since the
    /// position was saved, and it must start alike (the same inode is then enough for an
    /// empty one, whose fingerprint tells nothing). The worst case, the saved file gone and
    /// the next one starting with the same few bytes, skips fewer than 256 bytes of it.
    fn saved_generation(gens: &[Generation], saved: &FilePosition) -> io::Result<Option<usize>> {
        let short = (saved.id.head_len as usize) < FINGERPRINT_BYTES;
        if short {
            if let Some(t) = saved.mtime() {
                let Some(i) = gens.iter().position(|g| g.mtime >= t) else {
                    return Ok(None);
                };
                let g = &gens[i];
                let same_file =
                    g.dev == saved.id.dev && g.ino == saved.id.ino && saved.born_matches(g.born);
                let alike = (same_file || saved.id.head_len > 0) && g.starts_like(&saved.id)?;
                return Ok(alike.then_some(i));
            }
        }
        for (i, g) in gens.iter().enumerate().rev() {
            let reused =
                g.dev == saved.id.dev && g.ino == saved.id.ino && !saved.born_matches(g.born);
            if !reused && g.holds(&saved.id)? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// Rotations go on during a catch-up: reads the generations that appeared after the last
    /// one read, until there are none (a few rounds at most; bounded all the same).
    fn read_newer_generations(&mut self, why: &str) -> io::Result<usize> {
        let mut total = 0;
        for _ in 0..16 {
            let Some(last) = self.last_generation.as_ref().map(|g| g.id) else {
                break;
            };
            let gens = generations::list(&self.config.path, self.config.olddir.as_deref())?;
            let mut at = None;
            for (i, g) in gens.iter().enumerate().rev() {
                if g.holds(&last)? {
                    at = Some(i);
                    break;
                }
            }
            let Some(i) = at.filter(|&i| i + 1 < gens.len()) else {
                break;
            };
            for g in &gens[i + 1..] {
                total += self.read_generation(g, 0, why)?;
            }
        }
        Ok(total)
    }

    /// Reads a rotated generation (from `offset` of its content) through its own line
    /// reader, its lines marked as a backlog; positions are saved in it, so a restart in the
    /// middle resumes there. A generation that cannot be read is reported lost. It stays
    /// open as the last one read until the next is read or the live file is (see
    /// `settle_last_generation`).
    fn read_generation(&mut self, g: &Generation, offset: u64, why: &str) -> io::Result<usize> {
        self.finish_last_generation();
        let opened = g.identity().and_then(|id| Ok((id, g.open_at(offset)?)));
        let (id, mut content) = match opened {
            Ok(o) => o,
            Err(e) => {
                let path = g.path.display().to_string();
                tracing::warn!(path = %self.key, generation = %path, error = %e, "cannot read a rotated generation");
                let bytes = match g.codec {
                    Codec::Plain => g.len.saturating_sub(offset),
                    _ => 0,
                };
                self.lose(&path, bytes, &format!("{why}, and it cannot be read: {e}"));
                return Ok(0);
            }
        };
        self.sink.backlog(Some(g.mtime));
        self.behind = true;
        let mut reader = LineReader::new(self.config.max_line_bytes);
        reader.reset(offset);
        self.sink.file_changed(&id);
        let times = (g.len, g.mtime, g.born);
        let n = match pump(
            &mut content,
            &mut reader,
            &mut self.sink,
            &self.key,
            Some((id, times.0, times.1, times.2)),
            &self.stats,
        ) {
            Ok((n, listening)) => {
                self.stopped |= !listening;
                n
            }
            Err(e) => {
                tracing::warn!(path = %self.key, generation = %g.path.display(), error = %e, "reading a rotated generation failed; the rest of it is skipped");
                0
            }
        };
        self.stats
            .caught_up_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        tracing::info!(path = %self.key, generation = %g.path.display(), offset, bytes = n, why, "read a rotated generation");
        self.last_generation = Some(LastGeneration {
            id,
            content,
            reader,
            times,
        });
        Ok(n)
    }

    /// Reads what the last generation read holds beyond what was read (a copy logrotate was
    /// still writing: it is complete once an older one is read or the live file truncated),
    /// and hands on its unterminated last line. Returns the bytes read.
    fn finish_last_generation(&mut self) -> usize {
        let Some(mut last) = self.last_generation.take() else {
            return 0;
        };
        let n = match pump(
            &mut last.content,
            &mut last.reader,
            &mut self.sink,
            &self.key,
            Some((last.id, last.times.0, last.times.1, last.times.2)),
            &self.stats,
        ) {
            Ok((n, listening)) => {
                self.stopped |= !listening;
                n
            }
            Err(e) => {
                tracing::warn!(path = %self.key, error = %e, "reading the rest of a rotated generation failed");
                0
            }
        };
        let sink = &mut self.sink;
        last.reader.flush_partial(|l, f| sink.line(l, f));
        n
    }

    /// Where to start reading the live `file` after a catch-up: at 0, unless it still starts
    /// like the last generation read, which is then a copy logrotate's `copytruncate` is
    /// still making (the truncate comes next): the live file holds the same bytes, and is
    /// read on from where that copy ended. Otherwise that generation is read to its end.
    fn settle_last_generation(&mut self, file: &File) -> io::Result<u64> {
        if let Some(last) = &self.last_generation {
            if last.id.head_len as usize == FINGERPRINT_BYTES && last.id.head_matches(file)? {
                let start = last.reader.consumed().min(file.metadata()?.len());
                self.last_generation = None;
                return Ok(start);
            }
        }
        self.finish_last_generation();
        Ok(0)
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
