//! Multi-line events: joins continuation lines to the line they belong to, so a Python
//! traceback reaches the rules (and an alert) as one event, not twenty lines.
//!
//! The assembler sits between a source and its sink and is itself a `LineSink`. An event ends
//! at the next line that starts an event, or after `timeout` without a new line (the source
//! wakes us for that through `wake_in`). Events are built in one reused buffer; memory is
//! bounded by `max_lines` and `max_bytes` (an event that reaches them is handed on as it is,
//! and what follows starts a new event).
//!
//! Checkpoints stay exact: while an event is pending, the position passed on is the start of
//! its first line, so a restart reads the whole event again rather than half of it.

use std::time::{Duration, Instant};

use regex::bytes::Regex;

use crate::source::{FileIdentity, FilePosition, LineFlags, LineSink};

/// How lines are grouped into events.
#[derive(Debug, Clone)]
pub enum Grouping {
    /// Every line is an event.
    None,
    /// Python logging: indented lines, `Traceback (most recent call last):`, the frames after
    /// it and the exception line that ends it (with chained exceptions) continue an event.
    Python,
    /// Lines matching the regex continue the previous event.
    Continuation(Regex),
    /// Lines matching the regex start an event; all others continue the previous one.
    Start(Regex),
}

/// The grouping with its limits.
#[derive(Debug, Clone)]
pub struct MultilineRule {
    pub grouping: Grouping,
    /// A pending event is handed on after this long without a new line.
    pub timeout: Duration,
    pub max_lines: usize,
    pub max_bytes: usize,
}

/// Where a Python traceback is, line by line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Traceback {
    Outside,
    /// After the `Traceback` header: frames until the exception line.
    Frames,
    /// Just after the exception line: a blank line or a chaining sentence may follow.
    AfterException,
}

/// Joins lines into events for the sink `inner`.
pub struct Assembler<S: LineSink> {
    inner: S,
    rule: MultilineRule,
    /// The pending event: lines joined by `\n`. Reused; never longer than `max_bytes` + a line.
    buf: Vec<u8>,
    /// Lines in the pending event (0: none pending).
    lines: usize,
    /// Flags of the pending event: `start` of its first line, `end` of its last.
    flags: LineFlags,
    /// When the last line came.
    last_line: Instant,
    traceback: Traceback,
    /// `caught_up` came while an event was pending: passed on after the event.
    caught_up_pending: bool,
}

impl<S: LineSink> Assembler<S> {
    pub fn new(inner: S, rule: MultilineRule) -> Self {
        Assembler {
            inner,
            rule,
            buf: Vec::new(),
            lines: 0,
            flags: LineFlags::default(),
            last_line: Instant::now(),
            traceback: Traceback::Outside,
            caught_up_pending: false,
        }
    }

    /// Whether `line` continues the pending event.
    fn continues(&mut self, line: &[u8]) -> bool {
        match &self.rule.grouping {
            Grouping::None => false,
            Grouping::Continuation(re) => re.is_match(line),
            Grouping::Start(re) => !re.is_match(line),
            Grouping::Python => {
                let indented = matches!(line.first(), Some(b' ' | b'\t'));
                if line.starts_with(b"Traceback (most recent call last)") {
                    self.traceback = Traceback::Frames;
                    return true;
                }
                match self.traceback {
                    _ if indented => true,
                    Traceback::Frames => {
                        // The exception line (`ValueError: boom`) ends the frames.
                        self.traceback = Traceback::AfterException;
                        true
                    }
                    Traceback::AfterException
                        if line.is_empty()
                            || line.starts_with(b"During handling of the above exception")
                            || line.starts_with(b"The above exception was the direct cause") =>
                    {
                        true
                    }
                    _ => {
                        self.traceback = Traceback::Outside;
                        false
                    }
                }
            }
        }
    }

    /// Hands the pending event on.
    fn flush(&mut self) {
        if self.lines == 0 {
            return;
        }
        self.inner.line(&self.buf, self.flags);
        self.buf.clear();
        self.lines = 0;
        if std::mem::take(&mut self.caught_up_pending) {
            self.inner.caught_up();
        }
    }
}

impl<S: LineSink> LineSink for Assembler<S> {
    fn file_changed(&mut self, id: &FileIdentity) {
        self.flush();
        self.traceback = Traceback::Outside;
        self.inner.file_changed(id);
    }

    fn line(&mut self, line: &[u8], flags: LineFlags) {
        if matches!(self.rule.grouping, Grouping::None) {
            self.inner.line(line, flags);
            return;
        }
        self.last_line = Instant::now();
        let full = self.lines >= self.rule.max_lines || self.buf.len() >= self.rule.max_bytes;
        if self.lines > 0 && self.continues(line) && !full {
            self.buf.push(b'\n');
            let room = self.rule.max_bytes.saturating_sub(self.buf.len());
            let take = line.len().min(room);
            self.buf.extend_from_slice(&line[..take]);
            self.flags.truncated |= flags.truncated || take < line.len();
            self.flags.unterminated = flags.unterminated;
            self.flags.positioned &= flags.positioned;
            self.flags.end = flags.end;
            self.lines += 1;
            return;
        }
        if self.lines == 0 && !full {
            // Keep the traceback state right for a first line too.
            let _ = self.continues(line);
        }
        self.flush();
        self.buf.extend_from_slice(line);
        self.flags = flags;
        self.lines = 1;
    }

    fn batch_end(&mut self, position: Option<&FilePosition>) -> bool {
        if self.lines > 0 && self.last_line.elapsed() >= self.rule.timeout {
            self.flush();
        }
        match position {
            Some(p) if self.lines > 0 => {
                // Not handed on yet: a restart must read the pending event again.
                let held = FilePosition {
                    offset: self.flags.start.min(p.offset),
                    ..p.clone()
                };
                self.inner.batch_end(Some(&held))
            }
            _ => self.inner.batch_end(position),
        }
    }

    fn backlog(&mut self, written: Option<std::time::SystemTime>) {
        // The pending event belongs to what came before.
        self.flush();
        self.inner.backlog(written);
    }

    fn last_written(&mut self, at: std::time::SystemTime) {
        self.inner.last_written(at);
    }

    fn caught_up(&mut self) {
        if self.lines == 0 {
            self.inner.caught_up();
        } else {
            // The pending event is the backlog's last: the catch-up ends once it is handed on.
            self.caught_up_pending = true;
        }
    }

    fn identity_widened(&mut self, id: &FileIdentity) {
        self.inner.identity_widened(id);
    }

    fn lost(&mut self, file: &str, bytes: u64, why: &str) {
        self.inner.lost(file, bytes, why);
    }

    fn idle(&mut self) {
        self.inner.idle();
    }

    fn wake_in(&self) -> Option<Duration> {
        let own =
            (self.lines > 0).then(|| self.rule.timeout.saturating_sub(self.last_line.elapsed()));
        match (own, self.inner.wake_in()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(String, LineFlags)>);
    impl LineSink for Collect {
        fn file_changed(&mut self, _: &FileIdentity) {}
        fn line(&mut self, line: &[u8], flags: LineFlags) {
            self.0
                .push((String::from_utf8_lossy(line).into_owned(), flags));
        }
        fn batch_end(&mut self, _: Option<&FilePosition>) -> bool {
            true
        }
        fn backlog(&mut self, _: Option<std::time::SystemTime>) {
            self.0.push(("<backlog>".into(), LineFlags::default()));
        }
        fn caught_up(&mut self) {
            self.0.push(("<caught up>".into(), LineFlags::default()));
        }
    }

    fn python(timeout_ms: u64) -> MultilineRule {
        MultilineRule {
            grouping: Grouping::Python,
            timeout: Duration::from_millis(timeout_ms),
            max_lines: 500,
            max_bytes: 1 << 20,
        }
    }

    fn feed(a: &mut Assembler<Collect>, text: &str) {
        let mut offset = 0u64;
        for l in text.lines() {
            let flags = LineFlags {
                positioned: true,
                start: offset,
                end: offset + l.len() as u64 + 1,
                ..LineFlags::default()
            };
            offset = flags.end;
            a.line(l.as_bytes(), flags);
        }
    }

    const LOG: &str = "\
2026-11-23 09:41:42,001 - bot - INFO - Update VIX=17.1
2026-11-23 09:41:42,002 - bot - ERROR - order failed
Traceback (most recent call last):
  File \"/opt/bot/broker.py\", line 88, in send
    sock.send(data)
KeyError: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/opt/bot/main.py\", line 3, in main
ValueError: boom
2026-11-23 09:41:42,003 - bot - INFO - Position SPY qty=10
";

    #[test]
    fn a_python_traceback_with_a_chained_exception_is_one_event() {
        let mut a = Assembler::new(Collect::default(), python(1000));
        feed(&mut a, LOG);
        a.flush();
        let events: Vec<&str> = a.inner.0.iter().map(|(e, _)| e.as_str()).collect();
        assert_eq!(events.len(), 3, "{events:#?}");
        assert!(events[1].starts_with("2026-11-23 09:41:42,002 - bot - ERROR"));
        assert!(events[1].ends_with("ValueError: boom"), "{}", events[1]);
        assert_eq!(events[1].lines().count(), 11);
        assert!(events[2].contains("Position"));
    }

    #[test]
    fn the_end_of_a_backlog_comes_after_its_last_event() {
        let mut a = Assembler::new(Collect::default(), python(60_000));
        a.backlog(None);
        feed(
            &mut a,
            "ERROR - old\nTraceback (most recent call last):\n  File \"x\"\nKeyError: 1",
        );
        a.caught_up(); // the traceback is still pending
        feed(&mut a, "2026-11-23 09:41:43,000 - bot - INFO - new");
        a.flush();
        let got: Vec<&str> = a
            .inner
            .0
            .iter()
            .map(|(l, _)| l.lines().next().unwrap_or(""))
            .collect();
        assert_eq!(
            got,
            [
                "<backlog>",
                "ERROR - old",
                "<caught up>",
                "2026-11-23 09:41:43,000 - bot - INFO - new"
            ]
        );
    }

    #[test]
    fn a_pending_event_holds_the_checkpoint_at_its_start() {
        struct Pos(Vec<u64>);
        impl LineSink for Pos {
            fn file_changed(&mut self, _: &FileIdentity) {}
            fn line(&mut self, _: &[u8], _: LineFlags) {}
            fn batch_end(&mut self, p: Option<&FilePosition>) -> bool {
                self.0.push(p.map(|p| p.offset).unwrap_or(0));
                true
            }
        }
        let mut a = Assembler::new(Pos(Vec::new()), python(60_000));
        let id = FileIdentity {
            dev: 1,
            ino: 1,
            head_len: 0,
            checksum: 0,
        };
        let line = |start: u64, end: u64| LineFlags {
            positioned: true,
            start,
            end,
            ..LineFlags::default()
        };
        a.line(b"first", line(0, 6));
        a.line(b"second", line(6, 13));
        let pos = FilePosition::at("/x", id, 13);
        a.batch_end(Some(&pos));
        assert_eq!(
            a.inner.0,
            vec![6],
            "the pending second line is not acknowledged"
        );
    }

    #[test]
    fn the_quiet_timeout_ends_an_event() {
        let mut a = Assembler::new(Collect::default(), python(0));
        feed(&mut a, "2026 - ERROR - x\n");
        assert_eq!(a.inner.0.len(), 0);
        a.batch_end(None);
        assert_eq!(a.inner.0.len(), 1);
    }

    #[test]
    fn start_and_continuation_regexes_group_lines() {
        let rule = |g| MultilineRule {
            grouping: g,
            timeout: Duration::from_secs(1),
            max_lines: 3,
            max_bytes: 1 << 20,
        };
        let mut a = Assembler::new(
            Collect::default(),
            rule(Grouping::Start(Regex::new(r"^\d{4}-").unwrap())),
        );
        feed(&mut a, "2026-a\n b\nc\n2026-d\n");
        a.flush();
        assert_eq!(a.inner.0.len(), 2);
        assert_eq!(a.inner.0[0].0, "2026-a\n b\nc");
        // max_lines = 3 caps an event.
        let mut a = Assembler::new(
            Collect::default(),
            rule(Grouping::Continuation(Regex::new(r"^\s").unwrap())),
        );
        feed(&mut a, "a\n 1\n 2\n 3\n 4\n");
        a.flush();
        assert_eq!(a.inner.0.len(), 2);
        assert_eq!(a.inner.0[0].0, "a\n 1\n 2");
    }
}
