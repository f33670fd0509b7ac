//! The multi-line assembler against arbitrary lines, groupings and limits.
//!
//! Every event handed on is checked against the lines fed in: it is the next lines, in order,
//! joined by newlines (each cut to a prefix only when the event is marked truncated), within
//! `max_lines`, within `max_bytes` (unless its first line alone is longer), with the offsets of
//! its first and last line. No line is lost or repeated, and the position passed on never moves
//! past the start of a line not yet handed on, so a restart cannot skip half an event.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use logwarden::source::multiline::{Assembler, Grouping, MultilineRule};
use logwarden::source::{FileIdentity, FilePosition, LineFlags, LineSink};
use regex::bytes::Regex;

use super::input::Input;

#[derive(Default)]
struct Shared {
    /// Every line fed to the assembler, in order.
    fed: Vec<(Vec<u8>, LineFlags)>,
    /// How many of them were handed on inside events.
    emitted: usize,
    max_lines: usize,
    max_bytes: usize,
}

struct Check(Arc<Mutex<Shared>>);

impl LineSink for Check {
    fn file_changed(&mut self, _: &FileIdentity) {
        let s = self.0.lock().expect("not poisoned");
        assert_eq!(s.emitted, s.fed.len(), "lines pending across a file change");
    }

    fn line(&mut self, event: &[u8], flags: LineFlags) {
        let mut s = self.0.lock().expect("not poisoned");
        let parts: Vec<&[u8]> = event.split(|&b| b == b'\n').collect();
        let from = s.emitted;
        assert!(
            from + parts.len() <= s.fed.len(),
            "an event of {} lines but only {} lines are waiting",
            parts.len(),
            s.fed.len() - from
        );
        assert!(
            parts.len() <= s.max_lines.max(1),
            "more lines than max_lines"
        );
        let lines = &s.fed[from..from + parts.len()];
        assert!(
            event.len() <= s.max_bytes.max(lines[0].0.len()),
            "{} bytes, over max_bytes {}",
            event.len(),
            s.max_bytes
        );
        for (part, (line, _)) in parts.iter().zip(lines) {
            if flags.truncated {
                assert!(
                    line.starts_with(part),
                    "a cut line is not a prefix of its line"
                );
            } else {
                assert_eq!(part, line, "an event's line differs from the line fed");
            }
        }
        assert_eq!(flags.start, lines[0].1.start, "the event's start");
        assert_eq!(flags.end, lines[lines.len() - 1].1.end, "the event's end");
        s.emitted += parts.len();
    }

    fn batch_end(&mut self, position: Option<&FilePosition>) -> bool {
        let s = self.0.lock().expect("not poisoned");
        if let (Some(p), Some((_, first_waiting))) = (position, s.fed.get(s.emitted)) {
            assert!(
                p.offset <= first_waiting.start,
                "position {} is past a line not handed on (starts at {})",
                p.offset,
                first_waiting.start
            );
        }
        true
    }
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let grouping = match input.byte() % 4 {
        0 => Grouping::Python,
        1 => Grouping::Start(Regex::new(r"^\d{4}-").expect("valid")),
        2 => Grouping::Continuation(Regex::new(r"^\s").expect("valid")),
        _ => Grouping::None,
    };
    let max_lines = input.byte() as usize % 64;
    let max_bytes = input.u16() as usize % 2048;
    let timeout = if input.byte().is_multiple_of(2) {
        Duration::ZERO
    } else {
        Duration::from_secs(3600)
    };
    let shared = Arc::new(Mutex::new(Shared {
        max_lines,
        max_bytes,
        ..Shared::default()
    }));
    let rule = MultilineRule {
        grouping,
        timeout,
        max_lines,
        max_bytes,
    };
    let mut asm = Assembler::new(Check(shared.clone()), rule);
    let id = |ino| FileIdentity {
        dev: 1,
        ino,
        head_len: 0,
        checksum: 0,
    };
    let mut ino = 1;
    asm.file_changed(&id(ino));
    let mut offset = 0u64;
    while !input.is_empty() {
        let op = input.byte();
        match op % 6 {
            0 => {
                let p = FilePosition::at("/fuzz.log", id(ino), offset);
                asm.batch_end(Some(&p));
            }
            1 => {
                ino += 1;
                offset = 0;
                asm.file_changed(&id(ino));
            }
            _ => {
                let line: Vec<u8> = input.until(b'\n').to_vec();
                let flags = LineFlags {
                    truncated: op % 7 == 3,
                    unterminated: false,
                    positioned: true,
                    start: offset,
                    end: offset + line.len() as u64 + 1,
                };
                offset = flags.end;
                shared
                    .lock()
                    .expect("not poisoned")
                    .fed
                    .push((line.clone(), flags));
                asm.line(&line, flags);
            }
        }
    }
    asm.file_changed(&id(ino + 1));
    let s = shared.lock().expect("not poisoned");
    assert_eq!(s.emitted, s.fed.len(), "lines never handed on");
}
