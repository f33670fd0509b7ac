//! One inotify watcher per directory and one timer for every followed file and glob of the
//! process, so an idle daemon sleeps: followers block on their channel until this hub nudges
//! them.
//!
//! - inotify (one `notify` watcher and its thread per directory, shared by every file in
//!   it): an event in a watched directory nudges the
//!   followers of the paths it names (an error, such as a queue overflow, nudges everyone);
//! - the timer (one thread, "file-timer"): every poll interval it stats each registered path
//!   (the fallback for what inotify misses: NFS, a full queue, a directory that did not exist
//!   yet) and nudges only the followers whose path changed (device, inode, length or
//!   modification time). It also watches each registration's `Shutdown` (polling its future
//!   with a waker that unparks the timer, no runtime needed) and nudges the follower at once
//!   when it fires, so shutdown is seen promptly without anyone polling.
//!
//! A nudge is "look now": a follower reads to the end and examines its path on every wake,
//! so a nudge more than needed costs a stat, and one slot per channel makes a burst one wake.

use std::collections::HashMap;
use std::future::Future;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use crate::core::shutdown::Shutdown;

/// What wakes a registration besides its shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// Events naming this file (or a name starting with it, as `NAME.1`), and changes its
    /// stat shows.
    File,
    /// Any event in this directory, and changes of the directory's own stat (entries added
    /// or removed change its modification time).
    Dir,
    /// Nothing but the shutdown (a source with its own way to wait, like the journal).
    ShutdownOnly,
}

/// Wakes whoever registered; must not block (it runs on the hub's threads).
pub type Nudge = Box<dyn Fn() + Send>;

/// What one stat says about a path; `None` in `Entry::last` when it did not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Look {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

type ShutdownWait = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Entry {
    id: u64,
    /// The file, or the directory for `Watch::Dir`.
    path: PathBuf,
    /// The directory inotify watches for it.
    dir: PathBuf,
    watch: Watch,
    every: Duration,
    nudge: Nudge,
    /// The last stat (`None` before the first look).
    last: Option<Option<Look>>,
    next_look: Instant,
    /// Until it fires; then the entry is no longer looked at.
    shutdown: Option<ShutdownWait>,
}

#[derive(Default)]
struct State {
    entries: Vec<Entry>,
    next_id: u64,
}

/// One directory's inotify watch. One watcher (an inotify fd and its thread) per directory,
/// not one for all: the kernel merges a burst of identical events only when nothing comes
/// between them, and the events of several busy directories in one queue would interleave
/// and each reach the thread (measured: tests/logrotate.rs took twice as long).
struct DirWatch {
    refs: usize,
    watcher: Option<notify::RecommendedWatcher>,
}

#[derive(Default)]
struct Watches {
    /// Directories registrations need, with how many need each and whether inotify
    /// watches it yet.
    dirs: HashMap<PathBuf, DirWatch>,
    warned: bool,
}

struct Hub {
    /// Locked by the inotify thread's callback: never held while calling the watcher (whose
    /// calls wait for that thread).
    state: Mutex<State>,
    watches: Mutex<Watches>,
    timer: Thread,
}

/// Ends the registration when dropped.
pub struct Registration {
    id: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these half-changed in a way that matters here.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        let timer = std::thread::Builder::new()
            .name("file-timer".into())
            .stack_size(256 * 1024)
            .spawn(timer_loop)
            .map(|h| h.thread().clone())
            // Without the thread the daemon cannot follow anything reliably.
            .expect("cannot start the file timer thread");
        Hub {
            state: Mutex::new(State::default()),
            watches: Mutex::new(Watches::default()),
            timer,
        }
    })
}

/// Registers `path` (see `Watch`), looked at every `every`, and `shutdown`: `nudge` is
/// called when any of them needs attention.
pub fn register(
    path: &Path,
    watch: Watch,
    every: Duration,
    shutdown: Shutdown,
    nudge: Nudge,
) -> Registration {
    let hub = hub();
    let dir = match watch {
        Watch::File => path.parent().unwrap_or(Path::new("/")).to_path_buf(),
        Watch::Dir | Watch::ShutdownOnly => path.to_path_buf(),
    };
    let id = {
        let mut state = lock(&hub.state);
        let id = state.next_id;
        state.next_id += 1;
        let mut shutdown = shutdown;
        state.entries.push(Entry {
            id,
            path: path.to_path_buf(),
            dir: dir.clone(),
            watch,
            every: every.max(Duration::from_millis(10)),
            nudge,
            last: None,
            next_look: Instant::now(),
            shutdown: Some(Box::pin(async move { shutdown.wait().await })),
        });
        id
    };
    if watch != Watch::ShutdownOnly {
        let mut w = lock(&hub.watches);
        let n = w.dirs.entry(dir.clone()).or_insert(DirWatch {
            refs: 0,
            watcher: None,
        });
        n.refs += 1;
        if n.watcher.is_none() {
            try_watch(&mut w, &dir);
        }
    }
    hub.timer.unpark();
    Registration { id }
}

/// Registers `path` as `register` does, for an async task: `notify` gets a permit on every
/// nudge (kept when nobody waits, so none is lost).
pub fn register_notify(
    path: &Path,
    every: Duration,
    shutdown: Shutdown,
    notify: Arc<tokio::sync::Notify>,
) -> Registration {
    register(
        path,
        Watch::File,
        every,
        shutdown,
        Box::new(move || notify.notify_one()),
    )
}

impl Drop for Registration {
    fn drop(&mut self) {
        let hub = hub();
        let gone = {
            let mut state = lock(&hub.state);
            let at = state.entries.iter().position(|e| e.id == self.id);
            at.map(|i| state.entries.swap_remove(i))
        };
        let Some(gone) = gone else { return };
        if gone.watch == Watch::ShutdownOnly {
            return;
        }
        let mut w = lock(&hub.watches);
        let last = match w.dirs.get_mut(&gone.dir) {
            Some(n) => {
                n.refs -= 1;
                n.refs == 0
            }
            None => false,
        };
        if last {
            // Dropping the watcher ends its thread.
            w.dirs.remove(&gone.dir);
        }
    }
}

/// Watches `dir` if it can (it may not exist yet: the timer tries again).
fn try_watch(w: &mut Watches, dir: &Path) {
    let mut watcher = match notify::recommended_watcher(on_event) {
        Ok(watcher) => watcher,
        Err(e) => {
            if !w.warned {
                tracing::warn!(error = %e, "inotify unavailable; polling");
                w.warned = true;
            }
            return;
        }
    };
    match watcher.watch(dir, RecursiveMode::NonRecursive) {
        Ok(()) => {
            if let Some(n) = w.dirs.get_mut(dir) {
                n.watcher = Some(watcher);
            }
        }
        Err(e) => {
            tracing::debug!(dir = %dir.display(), error = %e, "cannot watch directory yet; polling");
        }
    }
}

/// The inotify thread's callback.
fn on_event(res: notify::Result<notify::Event>) {
    if !crate::source::wakes(&res) {
        return;
    }
    let state = lock(&hub().state);
    let event = match &res {
        Ok(e) if !e.need_rescan() && !e.paths.is_empty() => e,
        // An error or a rescan: everyone looks again.
        _ => {
            for e in state
                .entries
                .iter()
                .filter(|e| e.watch != Watch::ShutdownOnly)
            {
                (e.nudge)();
            }
            return;
        }
    };
    for e in &state.entries {
        let hit = event.paths.iter().any(|p| match e.watch {
            Watch::File => {
                p.as_os_str()
                    .as_encoded_bytes()
                    .starts_with(e.path.as_os_str().as_encoded_bytes())
                    || *p == e.dir
            }
            Watch::Dir => p.parent() == Some(e.dir.as_path()) || *p == e.dir,
            Watch::ShutdownOnly => false,
        });
        if hit {
            (e.nudge)();
        }
    }
}

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn look(path: &Path) -> Option<Look> {
    let m = std::fs::metadata(path).ok()?;
    Some(Look {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    })
}

fn timer_loop() {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        let hub = hub();
        let now = Instant::now();
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        {
            let mut state = lock(&hub.state);
            let slack = state
                .entries
                .iter()
                .filter(|e| e.shutdown.is_some() && e.watch != Watch::ShutdownOnly)
                .map(|e| e.every / 2)
                .min()
                .unwrap_or_default();
            for e in &mut state.entries {
                if let Some(wait) = &mut e.shutdown {
                    if let Poll::Ready(()) = wait.as_mut().poll(&mut cx) {
                        e.shutdown = None;
                        (e.nudge)();
                    }
                }
                if e.shutdown.is_none() || e.watch == Watch::ShutdownOnly {
                    continue;
                }
                // Due within half the shortest interval: looked at now, so that entries
                // registered at other times come into step and share one wake-up.
                if e.next_look <= now + slack {
                    due.push((e.id, e.path.clone(), e.dir.clone()));
                    e.next_look = now + e.every;
                }
                next = Some(next.map_or(e.next_look, |n| n.min(e.next_look)));
            }
        }
        // Stats outside the lock: on a hung NFS mount a stat may take long.
        let looks: Vec<_> = due.iter().map(|(id, p, _)| (*id, look(p))).collect();
        if !looks.is_empty() {
            let mut state = lock(&hub.state);
            for (id, seen) in looks {
                if let Some(e) = state.entries.iter_mut().find(|e| e.id == id) {
                    if e.last != Some(seen) {
                        e.last = Some(seen);
                        (e.nudge)();
                    }
                }
            }
        }
        if !due.is_empty() {
            // Directories that did not exist (or could not be watched) before.
            let mut w = lock(&hub.watches);
            for (_, _, dir) in &due {
                if w.dirs.get(dir).is_some_and(|n| n.watcher.is_none()) && dir.is_dir() {
                    try_watch(&mut w, dir);
                }
            }
        }
        match next {
            Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        }
    }
}
