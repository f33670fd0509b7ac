//! Sources: where lines come from. Each source hands every line to a `LineSink`.
//!
//! A source runs on its own thread (reading files blocks), reads with one reused buffer, and
//! calls the sink for each line and once at the end of each batch. The sink (built by the
//! pipeline) matches the line and forwards what the rules need; the source knows nothing of
//! patterns or rules.

pub mod checkpoint;
pub mod file;
pub mod glob;
pub mod identity;
pub mod journal;
#[cfg(feature = "journald")]
pub mod journal_access;
pub mod line_reader;
pub mod multiline;

pub use checkpoint::{FilePosition, JournalCursor, Position};
pub use identity::FileIdentity;
pub use line_reader::LineFlags;

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
}
