//! What the rules engine takes in (lines, matches, probe verdicts, catch-up news from the
//! sources) and gives out (alerts, acknowledgements), and what one rule says when its state
//! changes.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::Instant;

use crate::core::alert::{Alert, AlertState, Severity};
use crate::matcher::SlotSet;
use crate::source::context_lines::ContextLines;
use crate::source::Position;

/// What a rule says when its state changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub state: AlertState,
    pub summary: String,
    pub line: Option<String>,
    pub source: Option<String>,
}

/// What sources send to the engine.
#[derive(Debug)]
pub enum Input {
    /// `count` lines (matched or not) were read by a source of `watch` at `at`; `fresh` of
    /// them count as the service's own (all of them unless a restart is under way, see
    /// `activity`, and none from a backlog): only those end a `stale` silence.
    Lines {
        watch: usize,
        count: u64,
        fresh: u64,
        at: Instant,
    },
    /// One line matched at least one slot (`replay`, tests; the daemon sends `Batch`).
    Matched(Box<MatchedLine>),
    /// What a source read at once: its matched lines, its line count and the position after
    /// them, in one message (see `batch`). Dropping it hands its storage back for reuse.
    Batch(crate::rules::batch::Pooled),
    /// A source of `watch` read lines at `at` that were written earlier (a catch-up after
    /// downtime, or a source that fell behind), the newest at `written` or before. Sent once
    /// per batch that had such lines; `CaughtUp` follows when the source has read everything.
    Backlog {
        watch: usize,
        written: SystemTime,
        at: Instant,
    },
    /// A source of `watch` has read all there was at `at`; the newest line of its backlog was
    /// written at `written` or before (`None`: not known).
    CaughtUp {
        watch: usize,
        written: Option<SystemTime>,
        at: Instant,
    },
    /// A source of `watch` found nothing to read at its start; its last line (a file's
    /// modification time, the journal's last entry) was written at `written`. Only `stale`
    /// rules take it: a silence counts from then. Unlike `CaughtUp` it ends no catch-up
    /// another source of the watch is still in.
    LastWritten {
        watch: usize,
        written: SystemTime,
        at: Instant,
    },
    /// Every line of a file before this position was sent (as `Lines` and `Matched` before
    /// it). The engine passes it on once it has handled them, as an `Output::Ack`.
    Checkpoint(Position),
    /// A probe of `watch` changed its (debounced) verdict.
    Probe {
        watch: usize,
        probe: usize,
        healthy: bool,
        /// How bad a failure is, for probes that grade it (disk, memory); else `None`.
        level: Option<Severity>,
        detail: String,
    },
    /// The watch's service was (re)started: its rules count afresh from `at`, as if
    /// logwarden had just started (a bot still starting up is not judged yet).
    Reset { watch: usize, at: Instant },
    /// A source of `watch` found that at least `bytes` of `file` were gone before it could
    /// read them (`why`, for a person): a `lines-lost` event.
    Lost {
        watch: usize,
        file: String,
        bytes: u64,
        why: String,
    },
}

/// What the engine sends on: alerts, and acknowledgements of the lines it has handled.
#[derive(Debug)]
pub enum Output {
    Alert(Alert),
    /// Every line before this position has been handed to the rules.
    Ack(Position),
}

/// A line that matched, with what it matched.
#[derive(Debug)]
pub struct MatchedLine {
    pub watch: usize,
    pub at: Instant,
    pub slots: SlotSet,
    /// The line, lossily decoded (invalid UTF-8 becomes U+FFFD).
    pub line: String,
    /// The lines its source read just before it, oldest first.
    pub context: Vec<String>,
    /// Where it came from (a file path).
    pub source: Arc<str>,
    /// Set for a backlog line (see `Input::Backlog`): it was written at this time or before,
    /// not at `at`. Rules that count in time count it then; its alert says so.
    pub written: Option<SystemTime>,
}

pub use crate::rules::batch::CUT_MARK;

impl MatchedLine {
    /// The one way a matched line is made, by the daemon's matching stage and by `replay`
    /// alike: the line lossily decoded (marked when it was cut), with the context lines read
    /// before it; the line then joins the context of the next.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        watch: usize,
        at: Instant,
        slots: SlotSet,
        line: &[u8],
        truncated: bool,
        context: &mut ContextLines,
        source: Arc<str>,
        written: Option<SystemTime>,
    ) -> MatchedLine {
        debug_assert!(slots != 0, "a matched line matched some slot");
        let before = context.snapshot();
        context.push(line);
        let mut text = String::from_utf8_lossy(line).into_owned();
        if truncated {
            text.push_str(CUT_MARK);
        }
        MatchedLine {
            watch,
            at,
            slots,
            line: text,
            context: before,
            source,
            written,
        }
    }

    /// The line as the rules see it.
    pub fn view(&self) -> crate::rules::batch::MatchRef<'_> {
        crate::rules::batch::MatchRef::owned(
            self.watch,
            self.at,
            self.slots,
            &self.line,
            &self.source,
            self.written,
            &self.context,
        )
    }
}
