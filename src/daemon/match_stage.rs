//! Feeds: the sinks of sources. Each matches what its source reads and sends on what the
//! rules need in one message per read (`rules::batch`): the matched lines, the line count and
//! the position after them.
//!
//! This is where source meets matcher: a line that matches nothing costs no allocation and
//! no message, a matched one a copy into a reused batch; the matcher is shared and immutable,
//! the scratch is the feed's own.
//!
//! Backlogs: lines a source reads after downtime (or after falling behind) were written
//! before they were read. The file follower says so (`backlog`, `caught_up`); a journal entry
//! carries its own time, and one older than `JOURNAL_BACKLOG_AGE` is a backlog line. Such a
//! line is matched like any other, but carries the time it was written (a matching file line
//! its own timestamp when it has one, else the file's modification time), is no sign of life
//! now (not `fresh`), and the rules hear when the backlog ends. The per-line cost is a branch;
//! the clock is read once per batch, a matching file line's timestamp parsed without
//! allocating.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::Instant;

use std::sync::atomic::Ordering::Relaxed;

use crate::core::clock::monotonic_ms;
use crate::matcher::{Matcher, Scratch, SlotSet};
use crate::rules::activity::{Activity, FreshCheck};
use crate::rules::batch::{BatchPool, Pooled};
use crate::rules::Input;
use crate::source::context_lines::ContextLines;
use crate::source::journal::{EntryMeta, JournalSink, PRIORITIES};
use crate::source::timestamp::{LineClock, TimestampFormat};
use crate::source::{FileIdentity, FilePosition, JournalCursor, LineFlags, LineSink, Position};
use crate::telemetry::SourceTelemetry;

/// What every feed does: match, count, send.
pub struct FeedCore {
    watch: usize,
    matcher: Arc<Matcher>,
    /// Reused matching state: matching allocates nothing per line.
    scratch: Scratch,
    tx: mpsc::Sender<Input>,
    /// Lines read since the last batch end.
    lines: u64,
    /// Of those, the ones that count as the service's own (see `rules::activity`).
    fresh_lines: u64,
    /// Tells which lines those are while the service is being restarted.
    fresh: FreshCheck,
    /// The last position sent on, to send each only once.
    last_position: Option<Position>,
    /// The engine is gone.
    closed: bool,
    /// Counters and heartbeat reported by `/metrics` and `/health`.
    telemetry: Arc<SourceTelemetry>,
    /// The last lines read, quoted before a matching line in its alert.
    context: ContextLines,
    /// Where the feed is in a catch-up.
    backlog: BacklogState,
    /// The batch being filled (taken from `pool` when the first thing goes in).
    batch: Option<Pooled>,
    /// This feed's batches, handed back by the engine when it has handled them.
    pool: Arc<BatchPool>,
}

/// What a feed knows of the backlog it is reading (all empty outside one).
#[derive(Debug, Default)]
struct BacklogState {
    /// Between the start of a backlog and `caught_up`.
    active: bool,
    /// The newest time the backlog's lines so far were written at or before (the source's
    /// bound, or a journal entry's own time); `Some` whenever `active`.
    newest: Option<SystemTime>,
    /// Backlog lines read since the last batch end.
    lines: u64,
}

impl FeedCore {
    pub fn new(
        watch: usize,
        matcher: Arc<Matcher>,
        tx: mpsc::Sender<Input>,
        telemetry: Arc<SourceTelemetry>,
        activity: Arc<Activity>,
    ) -> FeedCore {
        FeedCore {
            watch,
            fresh_lines: 0,
            fresh: FreshCheck::new(activity, watch),
            scratch: matcher.scratch(),
            matcher,
            tx,
            lines: 0,
            last_position: None,
            closed: false,
            telemetry,
            context: ContextLines::new(crate::source::context_lines::DEFAULT_LINES),
            backlog: BacklogState::default(),
            batch: None,
            pool: BatchPool::new(),
        }
    }

    /// The batch being filled.
    fn batch(&mut self) -> &mut Pooled {
        let (pool, watch) = (&self.pool, self.watch);
        self.batch.get_or_insert_with(|| pool.take(watch))
    }

    /// Sends the batch being filled, if it holds anything (an empty one is kept for next).
    fn flush(&mut self) {
        if self.batch.as_ref().is_some_and(|b| !b.is_empty()) {
            if let Some(b) = self.batch.take() {
                self.send_now(Input::Batch(b));
            }
        }
    }

    /// The lines that follow were written at `bound` or before.
    fn backlog(&mut self, bound: SystemTime) {
        self.backlog.active = true;
        self.backlog.newest = Some(self.backlog.newest.map_or(bound, |n| n.max(bound)));
    }

    /// The source's last line before this start was written at `at`, and nothing older is
    /// to be read: tells the rules (it marks no line as backlog, and ends no catch-up).
    fn last_written(&mut self, at: SystemTime) {
        self.send(Input::LastWritten {
            watch: self.watch,
            written: at,
            at: Instant::now(),
        });
    }

    /// The backlog is read: tells the rules (once, and only after a backlog).
    fn caught_up(&mut self) {
        if !std::mem::take(&mut self.backlog.active) {
            return;
        }
        self.backlog.lines = 0;
        let written = self.backlog.newest.take();
        self.send(Input::CaughtUp {
            watch: self.watch,
            written,
            at: Instant::now(),
        });
    }

    /// Sends `input` after what the batch being filled holds (the order lines were read in).
    fn send(&mut self, input: Input) {
        self.flush();
        self.send_now(input);
    }

    fn send_now(&mut self, input: Input) {
        if !self.closed && self.tx.blocking_send(input).is_err() {
            self.closed = true;
        }
    }

    /// Counts and matches one line (`fresh`: it counts as the service's own); sends it on if
    /// it matched a slot (or `extra` is set). `source` is built only for a matching line, and
    /// so is `written` (when it was written, for a backlog line: called only inside one).
    /// Returns whether it was sent.
    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        line: &[u8],
        truncated: bool,
        fresh: bool,
        extra: SlotSet,
        source: impl FnOnce() -> Arc<str>,
        written: impl FnOnce(&[u8]) -> Option<SystemTime>,
    ) -> bool {
        self.lines += 1;
        let backlog = self.backlog.active;
        // A backlog line is no sign of life now: it does not end a `stale` silence.
        self.fresh_lines += u64::from(fresh && !backlog);
        self.backlog.lines += u64::from(backlog);
        let slots = self.matcher.match_line(line, &mut self.scratch).slots | extra;
        if slots == 0 || self.closed {
            self.context.push(line);
            return false;
        }
        let written = if backlog {
            let bound = self.backlog.newest;
            debug_assert!(bound.is_some(), "an active backlog has a bound");
            // Its own time when it has one, but never after the bound (a time zone read wrong).
            match (written(line), bound) {
                (Some(w), Some(b)) => Some(w.min(b)),
                (w, b) => w.or(b),
            }
        } else {
            None
        };
        let at = Instant::now();
        let source = source();
        let batch = self.batch.get_or_insert_with(|| self.pool.take(self.watch));
        batch.push(
            at,
            slots,
            line,
            truncated,
            &mut self.context,
            source,
            written,
        );
        true
    }

    /// The batch's last line ends at `end` of a file (see `MatchBatch::end_last_line`).
    fn end_last_line(&mut self, end: u64, file: impl FnOnce(&mut Option<FilePosition>)) {
        if let Some(b) = self.batch.as_mut() {
            b.end_last_line(end, file);
        }
    }

    /// Whether the batch being filled is to be sent now (after its position is set).
    fn batch_full(&self) -> bool {
        self.batch.as_ref().is_some_and(|b| b.is_full())
    }

    /// Sends a position on (once per distinct position) after the lines before it: with
    /// the batch being filled, where a later one replaces it (it covers more).
    fn position(&mut self, p: Position) {
        if self.last_position.as_ref() != Some(&p) {
            self.last_position = Some(p.clone());
            self.batch().position = Some(p);
        }
    }

    /// A file position to send on, unless it is the last one sent (compared before cloning).
    fn file_position(&mut self, p: &FilePosition) {
        if !matches!(&self.last_position, Some(Position::File(l)) if l == p) {
            self.position(Position::File(p.clone()));
        }
    }

    /// Ends a read: its backlog news and line count, then (after its position, if any) the
    /// batch is sent with `finish`.
    fn batch_counts(&mut self) {
        // Once per batch (sources wake at least once per poll interval): the heartbeat that
        // `/health` and the systemd watchdog look at, and the line count.
        self.telemetry.heartbeat_ms.store(monotonic_ms(), Relaxed);
        if self.backlog.lines > 0 {
            self.backlog.lines = 0;
            if let Some(written) = self.backlog.newest {
                self.send(Input::Backlog {
                    watch: self.watch,
                    written,
                    at: Instant::now(),
                });
            }
        }
        if self.lines > 0 {
            self.telemetry.lines.fetch_add(self.lines, Relaxed);
            // At least 1: 0 means no line yet.
            let now = monotonic_ms().max(1);
            self.telemetry.last_line_ms.store(now, Relaxed);
            let count = std::mem::take(&mut self.lines);
            let fresh = std::mem::take(&mut self.fresh_lines);
            self.batch().counted = Some((count, fresh, Instant::now()));
        }
    }

    /// Sends the batch. Returns whether the engine still listens.
    fn finish(&mut self) -> bool {
        self.flush();
        !self.closed
    }
}

/// The feed of one followed file.
pub struct FileFeed {
    core: FeedCore,
    source: Arc<str>,
    /// The file lines come from now.
    file: Option<FileIdentity>,
    /// Its length and modification time as of the last batch (saved with positions).
    file_len: u64,
    file_mtime_ns: u64,
    file_born_ns: u64,
    /// How the watch's lines carry their time (`timestamp_format`).
    format: TimestampFormat,
    /// Reads the time of matching backlog lines; made when a backlog starts.
    clock: Option<LineClock>,
    /// Where the last matched line of the batch being read ends (when it may be saved).
    matched_end: Option<u64>,
}

impl FileFeed {
    pub fn new(core: FeedCore, source: Arc<str>, format: TimestampFormat) -> FileFeed {
        FileFeed {
            core,
            source,
            file: None,
            file_len: 0,
            file_mtime_ns: 0,
            file_born_ns: 0,
            format,
            clock: None,
            matched_end: None,
        }
    }
}

impl FileFeed {
    /// The position just past a line of the current file that ends at `end`.
    fn position_at(&self, id: FileIdentity, end: u64) -> FilePosition {
        FilePosition {
            path: self.source.to_string(),
            id,
            offset: end,
            len: self.file_len.max(end),
            mtime_ns: self.file_mtime_ns,
            born_ns: self.file_born_ns,
        }
    }
}

impl LineSink for FileFeed {
    fn idle(&mut self) {
        // Asleep until an event: healthy. `problems()` subtracts saturating, so this
        // heartbeat never looks silent; the next `batch_end` sets a real one again.
        self.core.telemetry.heartbeat_ms.store(u64::MAX, Relaxed);
    }

    fn file_changed(&mut self, id: &FileIdentity) {
        if self.file != Some(*id) {
            (self.file_len, self.file_mtime_ns, self.file_born_ns) = (0, 0, 0);
            // The lines of one batch are in one file (`MatchBatch::position_after`).
            self.core.flush();
        }
        self.file = Some(*id);
    }

    fn identity_widened(&mut self, id: &FileIdentity) {
        if self
            .file
            .is_some_and(|f| f.dev == id.dev && f.ino == id.ino)
        {
            self.file = Some(*id);
        }
    }

    fn lost(&mut self, file: &str, bytes: u64, why: &str) {
        self.core.send(Input::Lost {
            watch: self.core.watch,
            file: file.to_string(),
            bytes,
            why: why.to_string(),
        });
    }

    fn line(&mut self, line: &[u8], flags: LineFlags) {
        let source = &self.source;
        // Not asked for a backlog line: restart verification must not count it either.
        let fresh =
            !self.core.backlog.active && self.core.fresh.file_line(self.file.as_ref(), &flags);
        let clock = &mut self.clock;
        let written = |l: &[u8]| {
            let t = clock.as_mut()?.parse(l)?;
            Some(SystemTime::from(t))
        };
        if !self
            .core
            .line(line, flags.truncated, fresh, 0, || source.clone(), written)
        {
            return;
        }
        // A matched line may cause an alert: the engine acknowledges the position right
        // after it once its alerts are sent on (no repeat after kill -9, and a crash while
        // they are spooled never skips another line's alerts).
        if flags.positioned {
            self.matched_end = Some(flags.end);
            if let Some(id) = self.file {
                let (len, mtime_ns, born_ns) = (
                    self.file_len.max(flags.end),
                    self.file_mtime_ns,
                    self.file_born_ns,
                );
                let source = &self.source;
                self.core.end_last_line(flags.end, |file| match file {
                    Some(f) => (f.id, f.len, f.mtime_ns, f.born_ns) = (id, len, mtime_ns, born_ns),
                    None => {
                        *file = Some(FilePosition {
                            path: source.to_string(),
                            id,
                            offset: flags.end,
                            len,
                            mtime_ns,
                            born_ns,
                        })
                    }
                });
            }
        }
        if self.core.batch_full() {
            // Sent now, with the position after this line: its alerts and that position
            // reach the router together.
            if let (Some(id), Some(end)) = (self.file, self.matched_end.take()) {
                self.core
                    .position(Position::File(self.position_at(id, end)));
            }
            self.core.flush();
        }
    }

    fn batch_end(&mut self, position: Option<&FilePosition>) -> bool {
        self.core.batch_counts();
        let matched_end = self.matched_end.take();
        if let Some(p) = position {
            if Some(p.id) == self.file {
                (self.file_len, self.file_mtime_ns, self.file_born_ns) =
                    (p.len, p.mtime_ns, p.born_ns);
            }
            self.core.file_position(p);
        } else if let (Some(id), Some(end)) = (self.file, matched_end) {
            // No position for the batch: the last matched line's own.
            self.core
                .position(Position::File(self.position_at(id, end)));
        }
        self.core.finish()
    }

    fn backlog(&mut self, written: Option<SystemTime>) {
        // Unknown: read now, so written now or before, which is still true.
        let now = SystemTime::now();
        self.core.backlog(written.unwrap_or(now));
        if self.clock.is_none() {
            self.clock = Some(LineClock::new(
                self.format.clone(),
                jiff::tz::TimeZone::system(),
                jiff::Timestamp::try_from(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            ));
        }
    }

    fn caught_up(&mut self) {
        self.core.caught_up();
        self.clock = None;
    }

    fn last_written(&mut self, at: SystemTime) {
        self.core.last_written(at);
    }
}

/// The feed of one watch's journal source.
pub struct JournalFeed {
    core: FeedCore,
    /// The key its cursor is saved under.
    key: String,
    /// Entries at this priority or more severe also match the slot `error_slot`.
    priority_as_error: Option<(u8, SlotSet)>,
    /// `__REALTIME_TIMESTAMP` of the last entry read (µs since the epoch; 0: none yet).
    last_realtime_usec: u64,
    /// An entry written before this (µs since the epoch) is a backlog line: now less
    /// `JOURNAL_BACKLOG_AGE`, taken at the last batch end (the clock is read once a batch).
    backlog_before_usec: u64,
}

/// A journal entry this much older than the clock when it is read is a backlog line. Live
/// entries are read within milliseconds; the margin covers a busy machine, a batch that took
/// long and the clock being read once per batch.
pub const JOURNAL_BACKLOG_AGE: Duration = Duration::from_secs(10);

/// `now_ms` less `JOURNAL_BACKLOG_AGE`, in µs since the epoch.
fn backlog_before_usec(now_ms: u64) -> u64 {
    (now_ms * 1000).saturating_sub(JOURNAL_BACKLOG_AGE.as_micros() as u64)
}

impl JournalFeed {
    pub fn new(
        core: FeedCore,
        key: String,
        priority_as_error: Option<(u8, SlotSet)>,
    ) -> JournalFeed {
        JournalFeed {
            core,
            key,
            priority_as_error,
            last_realtime_usec: 0,
            backlog_before_usec: backlog_before_usec(unix_ms()),
        }
    }
}

/// `journal unit=bot.service pid=42 priority=err`: where a journal line came from.
fn describe(meta: &EntryMeta) -> Arc<str> {
    let mut s = String::from("journal");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if let Some(u) = meta.unit {
        s.push_str(&format!(" unit={}", text(u)));
    }
    if let Some(i) = meta.identifier {
        s.push_str(&format!(" identifier={}", text(i)));
    }
    if let Some(p) = meta.pid {
        s.push_str(&format!(" pid={}", text(p)));
    }
    if let Some(p) = meta.priority {
        let name = PRIORITIES.get(p as usize).copied().unwrap_or("?");
        s.push_str(&format!(" priority={name}"));
    }
    if meta.realtime_usec > 0 {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(meta.realtime_usec);
        s.push_str(&format!(" at={}", crate::core::timefmt::rfc3339(t)));
    }
    Arc::from(s)
}

impl JournalSink for JournalFeed {
    fn idle(&mut self) {
        // As `FileFeed::idle`: asleep until the journal changes, healthy.
        self.core.telemetry.heartbeat_ms.store(u64::MAX, Relaxed);
    }

    fn entry(
        &mut self,
        message: &[u8],
        meta: &EntryMeta,
        cursor: &mut dyn FnMut() -> Option<String>,
    ) {
        self.last_realtime_usec = meta.realtime_usec;
        let extra = match (self.priority_as_error, meta.priority) {
            (Some((max, slot)), Some(p)) if p <= max => slot,
            _ => 0,
        };
        let written = (meta.realtime_usec > 0 && meta.realtime_usec < self.backlog_before_usec)
            .then(|| std::time::UNIX_EPOCH + Duration::from_micros(meta.realtime_usec));
        if let Some(w) = written {
            self.core.backlog(w);
        }
        let fresh =
            written.is_none() && self.core.fresh.journal_entry(meta.pid, meta.realtime_usec);
        if self
            .core
            .line(message, false, fresh, extra, || describe(meta), |_| written)
        {
            if let Some(c) = cursor() {
                self.core.position(Position::Journal(JournalCursor {
                    key: self.key.clone(),
                    cursor: c,
                }));
            }
            // One entry per batch: a cursor is the entry's own position (no offset to
            // split a batch at), and its alerts must be acknowledged right after them.
            self.core.flush();
        }
    }

    fn batch_end(&mut self, cursor: Option<String>) -> bool {
        let now_ms = unix_ms();
        self.backlog_before_usec = backlog_before_usec(now_ms);
        // Mid-flood, the age of the newest entry read is how far behind the source is.
        if self.last_realtime_usec > 0 {
            let lag = now_ms.saturating_sub(self.last_realtime_usec / 1000);
            self.core.telemetry.journal_lag_ms.store(lag, Relaxed);
        }
        self.core.batch_counts();
        if let Some(c) = cursor {
            self.core.position(Position::Journal(JournalCursor {
                key: self.key.clone(),
                cursor: c,
            }));
        }
        self.core.finish()
    }

    fn caught_up(&mut self) {
        self.core.telemetry.journal_lag_ms.store(0, Relaxed);
        self.core.caught_up();
    }

    fn last_written(&mut self, at: std::time::SystemTime) {
        self.core.last_written(at);
    }
}

/// Wall-clock milliseconds since the Unix epoch (the journal's clock).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::pack::{PatternDef, PatternPack};

    /// A core matching `ERROR` (slot 0), and the receiving end of what it sends.
    fn error_core() -> (FeedCore, mpsc::Receiver<Input>) {
        let pack = PatternPack {
            name: "t".into(),
            origin: "t".into(),
            patterns: vec![PatternDef {
                name: "error".into(),
                literals: vec!["ERROR".into()],
                regexes: vec![],
                ignore: vec![],
                ignore_regexes: vec![],
                case_sensitive: true,
                conditions: vec![],
            }],
        };
        let matcher = Arc::new(Matcher::build(&[pack]).expect("matcher"));
        let (tx, rx) = mpsc::channel(64);
        let core = FeedCore::new(
            0,
            matcher,
            tx,
            Arc::new(SourceTelemetry::default()),
            Arc::new(Activity::new(1)),
        );
        (core, rx)
    }

    fn drain(rx: &mut mpsc::Receiver<Input>) -> Vec<Input> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    fn flags(end: u64) -> LineFlags {
        LineFlags {
            positioned: true,
            end,
            ..LineFlags::default()
        }
    }

    /// What the inputs say: (written of each matched line, fresh line counts, backlog
    /// written times, caught-up written times).
    #[allow(clippy::type_complexity)]
    fn summary(
        inputs: &[Input],
    ) -> (
        Vec<Option<SystemTime>>,
        Vec<(u64, u64)>,
        Vec<SystemTime>,
        Vec<Option<SystemTime>>,
    ) {
        let mut s = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in inputs {
            match i {
                Input::Batch(b) => {
                    s.0.extend(b.lines().map(|m| m.written));
                    s.1.extend(b.counted.map(|(count, fresh, _)| (count, fresh)));
                }
                Input::Backlog { written, .. } => s.2.push(*written),
                Input::CaughtUp { written, .. } => s.3.push(*written),
                _ => {}
            }
        }
        s
    }

    #[test]
    fn a_file_backlog_carries_each_lines_own_time_bounded_by_the_files_and_ends_once() {
        let (core, mut rx) = error_core();
        let mut feed = FileFeed::new(core, Arc::from("/var/log/bot.log"), TimestampFormat::Auto);
        let now = SystemTime::now();
        let mtime = now - Duration::from_secs(86_400);
        let hour_before = mtime - Duration::from_secs(3600);
        let stamp = |t: SystemTime| jiff::Timestamp::try_from(t).expect("time").to_string();
        feed.backlog(Some(mtime));
        feed.line(
            format!("{} ERROR one", stamp(hour_before)).as_bytes(),
            flags(10),
        );
        feed.line(b"ERROR without a time", flags(20));
        // A time after the file's last write is a time zone read wrong: the bound holds.
        feed.line(format!("{} ERROR later", stamp(now)).as_bytes(), flags(30));
        feed.line(b"INFO no match", flags(40));
        assert!(feed.batch_end(None));
        feed.caught_up();
        feed.line(b"ERROR live", flags(50));
        assert!(feed.batch_end(None));
        feed.caught_up(); // no backlog since: nothing to say
        let (written, lines, backlog, caught_up) = summary(&drain(&mut rx));
        let near = |a: Option<SystemTime>, b: SystemTime| {
            a.and_then(|a| a.duration_since(b).or_else(|_| b.duration_since(a)).ok())
                .is_some_and(|d| d < Duration::from_millis(1))
        };
        assert_eq!(written.len(), 4);
        assert!(
            near(written[0], hour_before),
            "its own time: {:?}",
            written[0]
        );
        assert_eq!(written[1], Some(mtime), "no time of its own: the file's");
        assert_eq!(written[2], Some(mtime), "never after the file's last write");
        assert_eq!(written[3], None, "after the catch-up, a live line");
        assert_eq!(lines, [(4, 0), (1, 1)], "backlog lines are no sign of life");
        assert_eq!(backlog, [mtime]);
        assert_eq!(caught_up, [Some(mtime)]);
    }

    #[test]
    fn an_empty_backlog_still_says_when_the_file_was_last_written() {
        let (core, mut rx) = error_core();
        let mut feed = FileFeed::new(core, Arc::from("/var/log/bot.log"), TimestampFormat::Auto);
        let mtime = SystemTime::now() - Duration::from_secs(7200);
        feed.backlog(Some(mtime));
        assert!(feed.batch_end(None));
        feed.caught_up();
        let (_, _, backlog, caught_up) = summary(&drain(&mut rx));
        assert!(backlog.is_empty());
        assert_eq!(caught_up, [Some(mtime)], "stale counts from then");
    }

    #[test]
    fn old_journal_entries_are_a_backlog_with_their_own_time_until_caught_up() {
        let (core, mut rx) = error_core();
        let mut feed = JournalFeed::new(core, "journal:bot".into(), None);
        let usec = |t: SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_micros() as u64
        };
        let now = SystemTime::now();
        let old = now - Duration::from_secs(3600);
        let entry = |t: SystemTime| EntryMeta {
            realtime_usec: usec(t),
            ..EntryMeta::default()
        };
        feed.entry(b"ERROR an hour ago", &entry(old), &mut || None);
        feed.entry(
            b"INFO a minute ago",
            &entry(now - Duration::from_secs(60)),
            &mut || None,
        );
        assert!(feed.batch_end(None));
        feed.caught_up();
        feed.entry(b"ERROR now", &entry(now), &mut || None);
        assert!(feed.batch_end(None));
        feed.caught_up();
        let (written, lines, backlog, caught_up) = summary(&drain(&mut rx));
        let old_us = std::time::UNIX_EPOCH + Duration::from_micros(usec(old));
        let minute =
            std::time::UNIX_EPOCH + Duration::from_micros(usec(now - Duration::from_secs(60)));
        assert_eq!(written, [Some(old_us), None]);
        assert_eq!(lines, [(2, 0), (1, 1)]);
        assert_eq!(backlog, [minute]);
        assert_eq!(caught_up, [Some(minute)]);
    }

    #[test]
    fn a_journal_feed_reports_how_far_behind_it_reads_until_it_has_caught_up() {
        let matcher = Arc::new(Matcher::build(&[] as &[PatternPack]).expect("empty matcher"));
        let (tx, _rx) = mpsc::channel(16);
        let telemetry = Arc::new(SourceTelemetry::default());
        let core = FeedCore::new(
            0,
            matcher,
            tx,
            telemetry.clone(),
            Arc::new(Activity::new(1)),
        );
        let mut feed = JournalFeed::new(core, "journal:bot".into(), None);
        let a_minute_ago = (unix_ms() - 60_000) * 1000;
        let meta = EntryMeta {
            realtime_usec: a_minute_ago,
            ..EntryMeta::default()
        };
        feed.entry(b"old entry", &meta, &mut || None);
        assert!(feed.batch_end(None));
        let lag = telemetry.journal_lag_ms.load(Relaxed);
        assert!((60_000..70_000).contains(&lag), "lag {lag} ms");
        feed.caught_up();
        assert_eq!(telemetry.journal_lag_ms.load(Relaxed), 0);
    }
}
