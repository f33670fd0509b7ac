//! Which lines count as a watched service's own while it is being restarted.
//!
//! A restart stops the old process before it starts the new one, and the old process may
//! still write while it is being stopped (thawed by SIGCONT, a SIGTERM handler's last line),
//! and logwarden may read such a line only after the new process started. Neither may count
//! as a sign of life of the new process. So each restart moves the watch's *mark* through
//! three states:
//! - `Open` (no restart under way): every line counts;
//! - `Closed` (from before the old process is thawed until it is gone): no line counts;
//! - `After` (the old process is gone; the new one is about to start or runs): only what was
//!   written after that moment counts: for a file, bytes past the size the file had then
//!   (or any line of a file that appeared at the path since); for the journal, entries whose
//!   `_PID` is the new main PID (PID 1's own "Started ..." entries do not count), or, for a
//!   restart command (no PID known), entries stamped after the command returned.
//!
//! The sources classify each line when they read it (one atomic load per line, and a lookup
//! only while a restart is under way); the supervisor reads how many lines of the new
//! process were read since its restart began. `Open` again once the verification is over.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::source::{FileIdentity, LineFlags};

/// What counts as written by the new process, after the old one was gone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct After {
    /// Device, inode and size of each followed file when the old process was gone.
    pub files: Vec<(u64, u64, u64)>,
    pub journal: JournalAfter,
}

/// Which journal entries count as the new process's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum JournalAfter {
    /// Not known yet (the new main PID is read right after the start): none counts.
    #[default]
    Nothing,
    /// Entries whose `_PID` is this (the new main process).
    Pid(u32),
    /// Entries received after this time (µs since the epoch): for restart commands.
    Since(u64),
}

/// A watch's mark; see the module doc.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Mark {
    #[default]
    Open,
    Closed,
    After(Arc<After>),
}

#[derive(Debug, Default)]
struct WatchActivity {
    /// Lines the engine has handled.
    lines: AtomicU64,
    /// Bumped after every change of `mark`.
    generation: AtomicU64,
    mark: Mutex<Mark>,
    /// The restart under way: `(epoch << 32) | lines of its new process read so far`.
    fresh: AtomicU64,
    /// The files followed for this watch (registered by the pipeline).
    paths: Mutex<Vec<PathBuf>>,
}

/// Lines seen per watch, and the restart marks; shared by sources, engine and supervisor.
#[derive(Debug, Default)]
pub struct Activity {
    watches: Vec<WatchActivity>,
}

impl Activity {
    pub fn new(watches: usize) -> Activity {
        Activity {
            watches: (0..watches).map(|_| WatchActivity::default()).collect(),
        }
    }

    /// Lines seen so far by `watch`.
    pub fn lines(&self, watch: usize) -> u64 {
        self.watches
            .get(watch)
            .map(|w| w.lines.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    pub(super) fn add(&self, watch: usize, n: u64) {
        if let Some(w) = self.watches.get(watch) {
            w.lines.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Records that `path` is followed for `watch` (its size is taken at each restart).
    pub fn follow(&self, watch: usize, path: PathBuf) {
        if let Some(Ok(mut p)) = self.watches.get(watch).map(|w| w.paths.lock()) {
            if !p.contains(&path) {
                p.push(path);
            }
        }
    }

    fn set(&self, watch: usize, mark: Mark) {
        let Some(w) = self.watches.get(watch) else {
            return;
        };
        if let Ok(mut m) = w.mark.lock() {
            *m = mark;
        }
        w.generation.fetch_add(1, Ordering::Release);
    }

    /// A restart begins (before the old process is thawed): no line counts until
    /// `old_process_gone`. Returns the restart's epoch, for `new_process_lines`.
    pub fn begin_restart(&self, watch: usize) -> u32 {
        let Some(w) = self.watches.get(watch) else {
            return 0;
        };
        let epoch = ((w.fresh.load(Ordering::Relaxed) >> 32) as u32).wrapping_add(1);
        w.fresh.store(u64::from(epoch) << 32, Ordering::Relaxed);
        self.set(watch, Mark::Closed);
        epoch
    }

    /// Every process of the old instance has ended (and the new one has not started): from
    /// now on, what is appended to the files counts. `journal` says which entries count.
    pub fn old_process_gone(&self, watch: usize, journal: JournalAfter) {
        let Some(w) = self.watches.get(watch) else {
            return;
        };
        let paths = w.paths.lock().map(|p| p.clone()).unwrap_or_default();
        let files = paths
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                (m.dev(), m.ino(), m.len())
            })
            .collect();
        self.set(watch, Mark::After(Arc::new(After { files, journal })));
    }

    /// The new main PID is known: its journal entries count.
    pub fn new_main_pid(&self, watch: usize, pid: u32) {
        let Some(w) = self.watches.get(watch) else {
            return;
        };
        let after = match w.mark.lock().map(|m| m.clone()) {
            Ok(Mark::After(a)) => After {
                files: a.files.clone(),
                journal: JournalAfter::Pid(pid),
            },
            _ => return,
        };
        self.set(watch, Mark::After(Arc::new(after)));
    }

    /// The restart is over (verified or not): every line counts again.
    pub fn end_restart(&self, watch: usize) {
        self.set(watch, Mark::Open);
    }

    /// Lines of the new process read since the restart `epoch` began.
    pub fn new_process_lines(&self, watch: usize, epoch: u32) -> u64 {
        let Some(w) = self.watches.get(watch) else {
            return 0;
        };
        let v = w.fresh.load(Ordering::Acquire);
        if (v >> 32) as u32 == epoch {
            v & 0xffff_ffff
        } else {
            0
        }
    }

    fn count_fresh(&self, watch: usize, epoch: u32) {
        let Some(w) = self.watches.get(watch) else {
            return;
        };
        // Only while a restart is under way (a few lines); never counted into a later one.
        let _ = w
            .fresh
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
                ((v >> 32) as u32 == epoch && v & 0xffff_ffff < 0xffff_ffff).then_some(v + 1)
            });
    }
}

/// One source's view of its watch's mark: classifies each line it reads.
#[derive(Debug)]
pub struct FreshCheck {
    activity: Arc<Activity>,
    watch: usize,
    generation: u64,
    mark: Mark,
    epoch: u32,
}

impl FreshCheck {
    pub fn new(activity: Arc<Activity>, watch: usize) -> FreshCheck {
        FreshCheck {
            activity,
            watch,
            // Never a real generation: the first line loads the mark.
            generation: u64::MAX,
            mark: Mark::Open,
            epoch: 0,
        }
    }

    /// Takes the current mark if it changed. The load comes after the line was read: a line
    /// written after the supervisor moved the mark is judged by the new mark.
    fn refresh(&mut self) {
        let Some(w) = self.activity.watches.get(self.watch) else {
            return;
        };
        let g = w.generation.load(Ordering::Acquire);
        if g != self.generation {
            self.generation = g;
            self.mark = w.mark.lock().map(|m| m.clone()).unwrap_or_default();
            self.epoch = (w.fresh.load(Ordering::Relaxed) >> 32) as u32;
        }
    }

    fn counted(&self, fresh: bool) -> bool {
        if fresh && self.mark != Mark::Open {
            self.activity.count_fresh(self.watch, self.epoch);
        }
        fresh
    }

    /// Whether a line of file `id`, at `flags`, counts as the service's own.
    pub fn file_line(&mut self, id: Option<&FileIdentity>, flags: &LineFlags) -> bool {
        self.refresh();
        let fresh = match &self.mark {
            Mark::Open => true,
            Mark::Closed => false,
            Mark::After(a) => match id {
                None => false,
                Some(id) => match a
                    .files
                    .iter()
                    .find(|(dev, ino, _)| *dev == id.dev && *ino == id.ino)
                {
                    Some((_, _, size)) => flags.end > *size,
                    // A file that appeared at the path since; not a rotated-away one still
                    // drained (its lines are not positioned): the old process wrote that.
                    None => flags.positioned,
                },
            },
        };
        self.counted(fresh)
    }

    /// Whether a journal entry from `pid` (the `_PID` field) received at `realtime_usec`
    /// counts as the service's own.
    pub fn journal_entry(&mut self, pid: Option<&[u8]>, realtime_usec: u64) -> bool {
        self.refresh();
        let fresh = match &self.mark {
            Mark::Open => true,
            Mark::Closed => false,
            Mark::After(a) => match a.journal {
                JournalAfter::Nothing => false,
                JournalAfter::Pid(p) => {
                    pid.and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|s| s.parse::<u32>().ok())
                        == Some(p)
                }
                JournalAfter::Since(t) => realtime_usec > t,
            },
        };
        self.counted(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn at(end: u64, positioned: bool) -> LineFlags {
        LineFlags {
            end,
            positioned,
            ..LineFlags::default()
        }
    }

    #[test]
    fn only_what_the_new_process_wrote_counts_during_a_restart() {
        let a = Arc::new(Activity::new(1));
        let mut f = FreshCheck::new(a.clone(), 0);
        let any = FileIdentity {
            dev: 1,
            ino: 7,
            head_len: 0,
            checksum: 0,
        };
        assert!(f.file_line(Some(&any), &at(100, true)), "no restart: all");
        let epoch = a.begin_restart(0);
        assert!(!f.file_line(Some(&any), &at(150, true)), "being stopped");
        // The old process is gone at 200 bytes; a line it wrote is read only now.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("bot.log");
        std::fs::write(&log, [b'x'; 200]).unwrap();
        a.follow(0, log.clone());
        a.old_process_gone(0, JournalAfter::Nothing);
        let meta = std::fs::metadata(&log).unwrap();
        let id = |ino: u64| FileIdentity {
            dev: if ino == 7 { meta.dev() } else { 1 },
            ino: if ino == 7 { meta.ino() } else { ino },
            head_len: 0,
            checksum: 0,
        };
        assert!(!f.file_line(Some(&id(7)), &at(200, true)), "old bytes");
        assert!(!f.journal_entry(Some(b"42"), u64::MAX), "PID not known yet");
        assert_eq!(a.new_process_lines(0, epoch), 0);
        assert!(f.file_line(Some(&id(7)), &at(260, true)), "appended since");
        assert!(f.file_line(Some(&id(8)), &at(10, true)), "a new file");
        assert!(!f.file_line(Some(&id(9)), &at(10, false)), "a rotated one");
        a.new_main_pid(0, 42);
        assert!(!f.journal_entry(Some(b"1"), u64::MAX), "PID 1's Started");
        assert!(f.journal_entry(Some(b"42"), 0));
        assert_eq!(a.new_process_lines(0, epoch), 3);
        // The next restart does not see this one's lines.
        a.end_restart(0);
        assert!(f.journal_entry(Some(b"1"), 0), "open again");
        let next = a.begin_restart(0);
        assert_eq!(a.new_process_lines(0, next), 0);
        assert_eq!(a.new_process_lines(0, epoch), 0);
    }
}
