//! Batches of matched lines: what one read of a source sends to the rules engine in one
//! message, instead of one message per matched line.
//!
//! A batch is a text arena (each matched line and the context lines before it, decoded) with
//! small records pointing into it, the read's line count and the position after it. Batches
//! come from a small pool per source and go back to it when the engine drops them: in steady
//! state following allocates nothing per line, and at most `POOL_BATCHES` of a source are in
//! flight (when all are, the source waits for one to come back: back-pressure, as a full
//! queue gives).

use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::time::Instant;

use crate::matcher::SlotSet;
use crate::source::context_lines::ContextLines;
use crate::source::{FileIdentity, FilePosition, Position};

/// Batches of one source in flight at most (each bounded by `BATCH_LINES`/`BATCH_TEXT`).
pub const POOL_BATCHES: usize = 8;
/// A batch is sent early (with the position after its last line) once it holds this many
/// matched lines, so that a batch's alerts and its position reach the router together (it
/// takes up to 256 alerts before it spools them: see `pipeline::ALERT_BATCH`), keeping the
/// window in which a `kill -9` can repeat an alert to one alert...
pub const BATCH_LINES: usize = 64;
/// ...or this many bytes of text.
pub const BATCH_TEXT: usize = 256 * 1024;
/// What a line cut at `max_line_bytes` ends with where it is quoted.
pub const CUT_MARK: &str = " [line cut at max_line_bytes]";
/// A batch whose arena grew beyond this (a burst of long lines) is freed, not kept.
const KEEP_TEXT: usize = 1 << 20;

/// One matched line in a batch.
#[derive(Debug)]
struct Record {
    at: Instant,
    slots: SlotSet,
    written: Option<SystemTime>,
    source: Arc<str>,
    /// The line in `MatchBatch::text`.
    line: Range<usize>,
    /// Its context lines: `MatchBatch::context[context]`, oldest first.
    context: Range<usize>,
    /// Where the line ends in its file (a file source's positioned line), so that the
    /// engine can acknowledge the position right after the alerts this line caused.
    end: Option<(FileIdentity, u64)>,
}

/// The matched lines of one read of a source, with its line count and position.
#[derive(Debug, Default)]
pub struct MatchBatch {
    pub watch: usize,
    /// Lines and context lines, lossily decoded, one after the other.
    text: String,
    records: Vec<Record>,
    /// Ranges of context lines in `text`.
    context: Vec<Range<usize>>,
    /// `(count, fresh, at)`: lines read (matched or not), of them the service's own, when;
    /// handled after the matched lines, as an `Input::Lines`.
    pub counted: Option<(u64, u64, Instant)>,
    /// Every line before this position is in this batch or was sent before it: the engine
    /// acknowledges it once it has handled them.
    pub position: Option<Position>,
    /// The file the records' `end`s are in (its offset unused): kept when the batch is
    /// cleared, its path made once, its other fields updated in place.
    file: Option<FilePosition>,
}

/// A matched line as the rules see it: from a `MatchedLine` or from a batch.
#[derive(Debug, Clone, Copy)]
pub struct MatchRef<'a> {
    pub watch: usize,
    pub at: Instant,
    pub slots: SlotSet,
    pub line: &'a str,
    pub source: &'a str,
    pub written: Option<SystemTime>,
    context: ContextRef<'a>,
}

#[derive(Debug, Clone, Copy)]
enum ContextRef<'a> {
    Owned(&'a [String]),
    Batch(&'a str, &'a [Range<usize>]),
}

impl<'a> MatchRef<'a> {
    /// A view of a line whose context lines are already strings.
    pub fn owned(
        watch: usize,
        at: Instant,
        slots: SlotSet,
        line: &'a str,
        source: &'a str,
        written: Option<SystemTime>,
        context: &'a [String],
    ) -> MatchRef<'a> {
        MatchRef {
            watch,
            at,
            slots,
            line,
            source,
            written,
            context: ContextRef::Owned(context),
        }
    }

    /// The lines read just before it, oldest first (made only for an alert that quotes it).
    pub fn context(&self) -> Vec<String> {
        match self.context {
            ContextRef::Owned(c) => c.to_vec(),
            ContextRef::Batch(text, ranges) => {
                ranges.iter().map(|r| text[r.clone()].to_string()).collect()
            }
        }
    }
}

/// Appends `bytes` to `text`, invalid UTF-8 as U+FFFD (as `String::from_utf8_lossy` does),
/// without allocating beyond `text`'s growth.
pub fn push_lossy(text: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
}

impl MatchBatch {
    /// Adds a matched line (marked when it was cut) with the lines `context` remembers
    /// before it; the line then joins `context` for the next.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        at: Instant,
        slots: SlotSet,
        line: &[u8],
        truncated: bool,
        context: &mut ContextLines,
        source: Arc<str>,
        written: Option<SystemTime>,
    ) {
        debug_assert!(slots != 0, "a matched line matched some slot");
        let first = self.context.len();
        context.for_each(|c| {
            let start = self.text.len();
            push_lossy(&mut self.text, c);
            self.context.push(start..self.text.len());
        });
        context.push(line);
        let start = self.text.len();
        push_lossy(&mut self.text, line);
        if truncated {
            self.text.push_str(CUT_MARK);
        }
        self.records.push(Record {
            at,
            slots,
            written,
            source,
            line: start..self.text.len(),
            context: first..self.context.len(),
            end: None,
        });
    }

    /// The last line pushed ends at `end` of the file `file` describes (its offset unused;
    /// `file` makes the path only the first time: then it is updated in place).
    pub fn end_last_line(&mut self, end: u64, file: impl FnOnce(&mut Option<FilePosition>)) {
        file(&mut self.file);
        let id = self.file.as_ref().map(|f| f.id);
        if let (Some(r), Some(id)) = (self.records.last_mut(), id) {
            r.end = Some((id, end));
        }
    }

    /// The position right after matched line `i` (in `lines()` order), when it is known:
    /// acknowledged after the alerts that line caused, before those of the next line, so that
    /// the alerts of one line, and never those of several, share a position in the spool.
    pub fn position_after(&self, i: usize) -> Option<Position> {
        let (id, end) = self.records.get(i)?.end?;
        let f = self.file.as_ref().filter(|f| f.id == id)?;
        Some(Position::File(FilePosition {
            offset: end,
            len: f.len.max(end),
            ..f.clone()
        }))
    }

    /// Matched lines in the batch.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// No line, no count, no position: nothing to send.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.counted.is_none() && self.position.is_none()
    }

    /// Whether it is as big as a batch gets: send it now.
    pub fn is_full(&self) -> bool {
        self.records.len() >= BATCH_LINES || self.text.len() >= BATCH_TEXT
    }

    /// The matched lines, in the order read.
    pub fn lines(&self) -> impl Iterator<Item = MatchRef<'_>> {
        self.records.iter().map(|r| MatchRef {
            watch: self.watch,
            at: r.at,
            slots: r.slots,
            line: &self.text[r.line.clone()],
            source: &r.source,
            written: r.written,
            context: ContextRef::Batch(&self.text, &self.context[r.context.clone()]),
        })
    }

    fn clear(&mut self) {
        self.text.clear();
        self.records.clear();
        self.context.clear();
        self.counted = None;
        self.position = None;
    }
}

/// The batches of one source.
#[derive(Debug, Default)]
pub struct BatchPool {
    state: Mutex<PoolState>,
    returned: Condvar,
}

#[derive(Debug, Default)]
struct PoolState {
    /// Boxed as they travel in `Input` (a pointer, not the batch, is moved through the queue).
    #[allow(clippy::vec_box)]
    free: Vec<Box<MatchBatch>>,
    /// Batches that exist (free or in flight); at most `POOL_BATCHES`.
    made: usize,
}

impl BatchPool {
    pub fn new() -> Arc<BatchPool> {
        Arc::new(BatchPool::default())
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic elsewhere leaves the list valid: every change to it is one push or pop.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An empty batch for `watch`: a free one, a new one while fewer than `POOL_BATCHES`
    /// exist, else the next one handed back (this waits while the engine is busy).
    pub fn take(self: &Arc<Self>, watch: usize) -> Pooled {
        let mut state = self.lock();
        let mut batch = loop {
            if let Some(b) = state.free.pop() {
                break b;
            }
            if state.made < POOL_BATCHES {
                state.made += 1;
                break Box::default();
            }
            state = self.returned.wait(state).unwrap_or_else(|e| e.into_inner());
        };
        drop(state);
        debug_assert!(batch.is_empty(), "a free batch is cleared");
        batch.watch = watch;
        Pooled {
            batch: Some(batch),
            pool: self.clone(),
        }
    }

    /// Batches free for reuse now (for tests and the pool's own checks).
    pub fn free(&self) -> usize {
        self.lock().free.len()
    }
}

/// A batch on loan from its pool; dropping it hands it back.
#[derive(Debug)]
pub struct Pooled {
    /// `Some` until dropped.
    batch: Option<Box<MatchBatch>>,
    pool: Arc<BatchPool>,
}

impl std::ops::Deref for Pooled {
    type Target = MatchBatch;
    fn deref(&self) -> &MatchBatch {
        self.batch
            .as_deref()
            .expect("a pooled batch is there until dropped")
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut MatchBatch {
        self.batch
            .as_deref_mut()
            .expect("a pooled batch is there until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(mut batch) = self.batch.take() else {
            return;
        };
        batch.clear();
        let keep = batch.text.capacity() <= KEEP_TEXT;
        let mut state = self.pool.lock();
        if keep {
            state.free.push(batch);
        } else {
            state.made -= 1;
        }
        drop(state);
        self.pool.returned.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_their_context_and_batches_come_back_cleared() {
        let pool = BatchPool::new();
        let mut ctx = ContextLines::new(2);
        ctx.push(b"one");
        ctx.push(b"\xfftwo");
        let mut b = pool.take(3);
        let now = Instant::now();
        b.push(now, 1, b"ERROR x", false, &mut ctx, Arc::from("f"), None);
        b.push(now, 2, b"ERROR y", true, &mut ctx, Arc::from("f"), None);
        let got: Vec<_> = b
            .lines()
            .map(|m| (m.line.to_string(), m.context()))
            .collect();
        assert_eq!(
            got[0],
            ("ERROR x".into(), vec!["one".into(), "\u{fffd}two".into()])
        );
        assert_eq!(
            got[1],
            (
                format!("ERROR y{CUT_MARK}"),
                vec!["\u{fffd}two".into(), "ERROR x".into()]
            )
        );
        assert_eq!(b.lines().next().map(|m| m.watch), Some(3));
        drop(b);
        assert_eq!(pool.free(), 1);
        let b = pool.take(0);
        assert!(b.is_empty());
    }

    #[test]
    fn each_positioned_line_has_its_own_position_and_a_line_of_another_file_none() {
        let pool = BatchPool::new();
        let mut ctx = ContextLines::new(2);
        let mut b = pool.take(0);
        let now = Instant::now();
        let id = |ino| FileIdentity {
            dev: 1,
            ino,
            head_len: 0,
            checksum: 0,
        };
        let file = |ino, len| {
            move |f: &mut Option<FilePosition>| {
                *f = Some(FilePosition {
                    path: "/log".into(),
                    id: id(ino),
                    offset: 0,
                    len,
                    mtime_ns: 7,
                    born_ns: 0,
                })
            }
        };
        b.push(now, 1, b"ERROR a", false, &mut ctx, Arc::from("f"), None);
        b.end_last_line(8, file(5, 8));
        b.push(now, 1, b"ERROR b", false, &mut ctx, Arc::from("f"), None);
        b.end_last_line(16, file(5, 10));
        b.push(now, 1, b"ERROR c", false, &mut ctx, Arc::from("f"), None);
        let offset = |p: Option<Position>| match p {
            Some(Position::File(f)) => Some((f.id.ino, f.offset, f.len)),
            _ => None,
        };
        assert_eq!(offset(b.position_after(0)), Some((5, 8, 10)));
        assert_eq!(offset(b.position_after(1)), Some((5, 16, 16)));
        assert_eq!(offset(b.position_after(2)), None, "not positioned");
        // The file changed under the batch: an older line's end says nothing of the new one.
        b.push(now, 1, b"ERROR d", false, &mut ctx, Arc::from("f"), None);
        b.end_last_line(4, file(6, 4));
        assert_eq!(offset(b.position_after(0)), None);
        assert_eq!(offset(b.position_after(3)), Some((6, 4, 4)));
    }

    #[test]
    fn a_source_waits_when_all_its_batches_are_in_flight() {
        let pool = BatchPool::new();
        let held: Vec<_> = (0..POOL_BATCHES).map(|_| pool.take(0)).collect();
        let p = pool.clone();
        let waiter = std::thread::spawn(move || p.take(0).watch);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!waiter.is_finished(), "no batch free: the source waits");
        drop(held);
        assert_eq!(waiter.join().ok(), Some(0));
    }
}
