//! Sources: where lines come from. Each source hands every line to a `LineSink`.
//!
//! A source runs on its own thread (reading files blocks), reads with one reused buffer, and
//! calls the sink for each line and once at the end of each batch. The sink (built by the
//! pipeline) matches the line and forwards what the rules need; the source knows nothing of
//! patterns or rules.

pub mod file;
pub mod line_reader;

pub use line_reader::LineFlags;

/// Receives the lines of one source.
pub trait LineSink: Send {
    /// One line, without its newline.
    fn line(&mut self, line: &[u8], flags: LineFlags);
    /// The end of a batch of lines read together. Returns `false` when nobody listens any more
    /// and the source should stop.
    fn batch_end(&mut self) -> bool;
}
