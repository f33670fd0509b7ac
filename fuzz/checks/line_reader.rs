//! The line reader against arbitrary bytes arriving in arbitrary pieces.
//!
//! The stream is written in pieces (partial writes, lines split anywhere) with quiet-time
//! flushes in between, through a small `max_line` so over-long lines are common. Every line
//! handed out is checked against the stream itself: its bytes are the stream's bytes at its
//! offsets, it holds no newline, it is never longer than `max_line`, lines never overlap, the
//! only gaps are the skipped tails of cut lines, and at the end every byte was consumed.

use std::io::{self, Read};

use logwarden::source::line_reader::LineReader;
use logwarden::source::LineFlags;

use super::input::Input;

/// Hands out the pieces queued in it, one `read` per piece (split if the buffer is smaller).
struct Pieces {
    data: Vec<u8>,
    at: usize,
    /// End of the current piece in `data`.
    piece_end: usize,
}

impl Read for Pieces {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = (self.piece_end - self.at).min(out.len());
        out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let max_line = 1 + input.byte() as usize % 64;
    let mut reader = LineReader::new(max_line);
    let mut src = Pieces {
        data: Vec::new(),
        at: 0,
        piece_end: 0,
    };
    let mut lines: Vec<(Vec<u8>, LineFlags)> = Vec::new();
    while !input.is_empty() {
        let op = input.byte();
        if op.is_multiple_of(8) {
            reader.flush_partial(|l, f| lines.push((l.to_vec(), f)));
            continue;
        }
        let piece = if op % 8 == 1 {
            let n = input.u16() as usize;
            input.bytes(n)
        } else {
            input.short()
        };
        src.data.extend_from_slice(piece);
        src.piece_end = src.data.len();
        while src.at < src.piece_end {
            let n = reader
                .read_from(&mut src, |l, f| lines.push((l.to_vec(), f)))
                .expect("reading from memory cannot fail");
            assert!(n > 0, "a read with data waiting returned nothing");
        }
    }
    reader.flush_partial(|l, f| lines.push((l.to_vec(), f)));
    check(&src.data, max_line, &lines);
    assert_eq!(reader.consumed(), src.data.len() as u64, "bytes left over");
    assert_eq!(reader.pending(), 0);
}

fn check(stream: &[u8], max_line: usize, lines: &[(Vec<u8>, LineFlags)]) {
    let mut prev: Option<&LineFlags> = None;
    for (line, f) in lines {
        let (start, end) = (f.start as usize, f.end as usize);
        assert!(start <= end && end <= stream.len(), "offsets {f:?}");
        assert!(line.len() <= max_line, "line longer than max_line: {f:?}");
        assert!(!line.contains(&b'\n'), "a newline inside a line: {f:?}");
        if let Some(p) = prev {
            let gap = &stream[p.end as usize..start];
            if p.truncated {
                // The rest of the cut line, up to and with its newline, was skipped (nothing,
                // if the whole line was in the buffer and `end` is already past it).
                let rest_of_line =
                    gap.ends_with(b"\n") && gap.iter().filter(|&&b| b == b'\n').count() == 1;
                assert!(
                    gap.is_empty() || rest_of_line,
                    "skipped other than the rest of the cut line: {gap:?}"
                );
            } else {
                assert!(gap.is_empty(), "lines lost between {p:?} and {f:?}");
            }
        } else {
            assert_eq!(start, 0, "the first line does not start the stream");
        }
        let raw = &stream[start..end];
        if f.truncated {
            assert_eq!(line.len(), max_line);
            assert_eq!(&raw[..max_line], &line[..], "a cut line's bytes differ");
        } else {
            let body = if f.unterminated {
                raw
            } else {
                raw.strip_suffix(b"\n").expect("a line ends at its newline")
            };
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            assert_eq!(body, &line[..], "a line's bytes differ from the stream's");
        }
        prev = Some(f);
    }
}
