//! Follows one file path: reads what is appended, survives a file that does not exist yet,
//! rename+create rotation, deletion and truncation.
//!
//! Identity is (device, inode) of the open file. On each wake (an inotify event in the
//! file's directory, or the poll interval passing) the open file is read to its end first, and
//! only then is the path stat'ed: if it now names another file, the old one has been drained
//! (lines written just before a rotation are kept) and the new one is read from its start.
//! A file shorter than our offset was truncated and is read again from 0.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::line_reader::LineReader;
use super::LineSink;
use crate::config::StartAt;
use crate::shutdown::Shutdown;

/// What a file follower needs to know.
#[derive(Debug, Clone)]
pub struct FileSourceConfig {
    pub path: PathBuf,
    /// Where to begin in the file that exists at start (files that appear later are read whole).
    pub start_at: StartAt,
    pub max_line_bytes: usize,
    /// Stat the path at least this often, for what inotify does not report.
    pub poll_interval: Duration,
    /// A partial line with no newline is handed out after this long without new data.
    pub partial_flush: Duration,
}

/// The file currently open.
struct Open {
    file: File,
    dev: u64,
    ino: u64,
}

/// Follows `config.path` on a new thread until `shutdown` or until the sink stops listening.
pub fn spawn(
    config: FileSourceConfig,
    sink: impl LineSink + 'static,
    shutdown: Shutdown,
) -> io::Result<std::thread::JoinHandle<()>> {
    let name = format!("file:{}", config.path.display());
    std::thread::Builder::new()
        .name(name.chars().take(15).collect())
        .spawn(move || Follower::new(config, sink, shutdown).run())
}

struct Follower<S: LineSink> {
    config: FileSourceConfig,
    sink: S,
    shutdown: Shutdown,
    reader: LineReader,
    open: Option<Open>,
    /// Whether the next open is the first one (where `start_at` applies).
    first_open: bool,
    /// Reported once per absence so a missing file does not flood the log.
    warned_missing: bool,
    /// The sink stopped listening: end the thread.
    stopped: bool,
}

impl<S: LineSink> Follower<S> {
    fn new(config: FileSourceConfig, sink: S, shutdown: Shutdown) -> Self {
        let reader = LineReader::new(config.max_line_bytes);
        Follower {
            config,
            sink,
            shutdown,
            reader,
            open: None,
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
                    tracing::warn!(path = %self.config.path.display(), error = %e, "read failed; will retry");
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
            if !self.sink.batch_end() {
                return;
            }
            let wait = if self.reader.pending() > 0 {
                self.config.partial_flush.min(self.config.poll_interval)
            } else {
                self.config.poll_interval
            };
            // `tx` is kept alive above, so this only ends by an event or the timeout.
            let _ = rx.recv_timeout(wait);
        }
    }

    /// Watches the file's directory; without it (no directory yet, inotify limits) we poll.
    fn watch_directory(&self, tx: mpsc::SyncSender<()>) -> Option<notify::RecommendedWatcher> {
        let dir = self.config.path.parent().unwrap_or(Path::new("/"));
        let mut watcher =
            notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
                // Full means a wake-up is already due; an error or overflow also just wakes us, and
                // the wake-up re-reads and re-stats everything.
                let _ = tx.try_send(());
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
        let mut total = self.drain()?;
        match std::fs::metadata(&self.config.path) {
            Ok(meta) => {
                self.warned_missing = false;
                let same = self
                    .open
                    .as_ref()
                    .is_some_and(|o| o.dev == meta.dev() && o.ino == meta.ino());
                if same {
                    if meta.len() < self.reader.consumed() + self.reader.pending() as u64 {
                        tracing::info!(path = %self.config.path.display(), "file truncated; reading from its start");
                        if let Some(o) = &mut self.open {
                            o.file.seek(SeekFrom::Start(0))?;
                        }
                        self.reader.reset(0);
                        total += self.drain()?;
                    }
                } else {
                    if self.open.is_some() {
                        tracing::info!(path = %self.config.path.display(), "file replaced (rotated); following the new one");
                    }
                    self.open_path()?;
                    total += self.drain()?;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !self.warned_missing {
                    tracing::info!(path = %self.config.path.display(), "file does not exist (yet); waiting for it");
                    self.warned_missing = true;
                }
                // A deleted file may still be written through open handles: keep reading it.
                self.first_open = false;
            }
            Err(e) => return Err(e),
        }
        Ok(total)
    }

    fn open_path(&mut self) -> io::Result<()> {
        let mut file = File::open(&self.config.path)?;
        let meta = file.metadata()?;
        let start = if self.first_open && self.config.start_at == StartAt::End {
            meta.len()
        } else {
            0
        };
        self.first_open = false;
        file.seek(SeekFrom::Start(start))?;
        self.reader.reset(start);
        tracing::info!(path = %self.config.path.display(), offset = start, "reading file");
        self.open = Some(Open {
            file,
            dev: meta.dev(),
            ino: meta.ino(),
        });
        Ok(())
    }

    /// Reads the open file to its end.
    fn drain(&mut self) -> io::Result<usize> {
        let Some(open) = &mut self.open else {
            return Ok(0);
        };
        let sink = &mut self.sink;
        let mut total = 0;
        loop {
            let n = self
                .reader
                .read_from(&mut open.file, |l, f| sink.line(l, f))?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
            // Hand over each chunk's batch at once, so a flood that never reaches EOF still
            // tells the rules that lines arrive.
            if !sink.batch_end() {
                self.stopped = true;
                return Ok(total);
            }
        }
    }
}
