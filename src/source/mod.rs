//! Sources: where lines come from. Each source hands every line to a `LineSink`.
//!
//! A source runs on its own thread (reading files blocks), reads with one reused buffer, and
//! calls the sink for each line and once at the end of each batch. The sink (built by the
//! pipeline) matches the line and forwards what the rules need; the source knows nothing of
//! patterns or rules.

pub(crate) mod checkpoint;
pub(crate) mod context_lines;
pub mod file;
pub(crate) mod generations;
pub(crate) mod glob;
pub(crate) mod identity;
pub mod journal;
#[cfg(feature = "journald")]
pub(crate) mod journal_access;
pub mod line_reader;
pub mod multiline;
pub mod timestamp;

pub use checkpoint::{FilePosition, JournalCursor, Position};
pub use identity::FileIdentity;
pub use line_reader::LineFlags;

/// Whether an inotify event should wake a follower. Opens, reads and closes (`Access`) do
/// not change what there is to read, and reacting to them would feed a loop: every follower
/// and glob watching a directory opens files there, which are access events for the others
/// (measured: a glob of 10 files spun at a whole core). Errors (a queue overflow) do wake:
/// the wake-up rescans.
pub(crate) fn wakes(event: &notify::Result<notify::Event>) -> bool {
    !matches!(event, Ok(e) if matches!(e.kind, notify::EventKind::Access(_)))
}

/// Receives the lines of one source.
pub trait LineSink: Send {
    /// The file lines come from now (called before its first line, and again whenever the
    /// source moves to another file).
    fn file_changed(&mut self, id: &FileIdentity);
    /// One line, without its newline.
    fn line(&mut self, line: &[u8], flags: LineFlags);
    /// The end of a batch of lines read together, with the position reached (every line
    /// before it has been given to `line`). Returns `false` when nobody listens any more and
    /// the source should stop.
    fn batch_end(&mut self, position: Option<&FilePosition>) -> bool;
    /// How soon the sink wants another `batch_end` call even if nothing is read (to end a
    /// multi-line event after its quiet time). `None`: no need.
    fn wake_in(&self) -> Option<std::time::Duration> {
        None
    }
    /// The source goes to sleep with nothing pending, until an event or its timer's stat
    /// wakes it (no `batch_end` until then): healthy, though silent.
    fn idle(&mut self) {}
    /// The identity of the current file now covers more of its first bytes (it was opened
    /// while shorter than the fingerprint): the same file, to be saved with the wider one.
    fn identity_widened(&mut self, _id: &FileIdentity) {}
    /// The lines that follow until `caught_up` were written before logwarden read them (a
    /// catch-up after downtime, or a follower that fell behind): at `written` or earlier, when
    /// the source knows (a rotated file's modification time).
    fn backlog(&mut self, _written: Option<std::time::SystemTime>) {}
    /// The source has read everything that was there: the lines that follow are new.
    fn caught_up(&mut self) {}
    /// Nothing was there to read at the start, and the file was last written at `at` (its
    /// modification time): a silence counts from then, not from logwarden's start.
    fn last_written(&mut self, _at: std::time::SystemTime) {}
    /// Bytes that can no longer be read (`file`: where they were; `why`: how they got lost,
    /// for a person), counted once when the source finds out.
    fn lost(&mut self, _file: &str, _bytes: u64, _why: &str) {}
}

/// Where a file source begins when it has no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    End,
    Beginning,
}
