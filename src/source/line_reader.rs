//! Splits a byte stream into lines with one fixed, reused buffer.
//!
//! Lines are handed out as `&[u8]` slices into the buffer: no allocation per line. A partial
//! line stays in the buffer until its newline arrives (or `flush_partial` is called after a
//! quiet time). Named policies: a line longer than `max_line` is cut to its first `max_line`
//! bytes, handed out once marked `truncated`, and the rest of it up to the newline is skipped,
//! so memory stays bounded by `max_line + READ_CHUNK` whatever the input. `\r\n` endings lose
//! their `\r`. Invalid UTF-8 and NUL bytes are passed through untouched.

use std::io::{self, Read};

/// Bytes asked for in one `read` call.
pub const READ_CHUNK: usize = 64 * 1024;

/// Facts about one line handed out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineFlags {
    /// The line was longer than the limit; only its first part is given.
    pub truncated: bool,
    /// The line had no newline yet and was flushed after a quiet time.
    pub unterminated: bool,
    /// Stream offset of the line's first byte.
    pub start: u64,
    /// Whether `start`/`end` may be saved as the source's position. False for lines of a
    /// rotated file still being drained: the source's saved position belongs to the new one.
    pub positioned: bool,
    /// Stream offset just past the line (and its newline): where reading resumes after it.
    pub end: u64,
}

/// A line splitter over a reused buffer.
#[derive(Debug)]
pub struct LineReader {
    /// Holds unconsumed bytes in `buf[..len]`; its length is fixed at `max_line + READ_CHUNK`.
    buf: Vec<u8>,
    /// Number of valid bytes at the front of `buf`; always `<= buf.len()`.
    len: usize,
    /// Longest line handed out whole.
    max_line: usize,
    /// Inside an over-long line whose first part was already handed out: skip to its newline.
    skipping: bool,
    /// Bytes of the stream consumed (handed out or skipped), i.e. the stream offset of `buf[0]`.
    consumed: u64,
    /// Copied into every line's `LineFlags::positioned`.
    positioned: bool,
}

impl LineReader {
    /// A reader that hands out lines of at most `max_line` bytes.
    pub fn new(max_line: usize) -> LineReader {
        let max_line = max_line.max(1);
        LineReader {
            buf: vec![0; max_line + READ_CHUNK],
            len: 0,
            max_line,
            skipping: false,
            consumed: 0,
            positioned: true,
        }
    }

    /// Marks the lines handed out from now on as (not) to be saved as a position (see
    /// `LineFlags::positioned`).
    pub fn set_positioned(&mut self, positioned: bool) {
        self.positioned = positioned;
    }

    /// Starts over at stream offset `offset` (a new file, or a truncated one).
    pub fn reset(&mut self, offset: u64) {
        self.len = 0;
        self.skipping = false;
        self.consumed = offset;
    }

    /// Stream offset just past the last byte handed out or skipped: where a restart resumes.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Bytes of a partial line waiting for its newline.
    pub fn pending(&self) -> usize {
        self.len
    }

    /// Reads once from `r` and hands out every complete line. Returns the bytes read (0 at EOF).
    pub fn read_from<R: Read>(
        &mut self,
        r: &mut R,
        mut on_line: impl FnMut(&[u8], LineFlags),
    ) -> io::Result<usize> {
        // `split` leaves less than one line: a read always has room (an empty slice would
        // read 0 bytes, taken for the end of the file).
        debug_assert!(
            self.len + READ_CHUNK <= self.buf.len(),
            "line reader buffer full"
        );
        let n = loop {
            match r.read(&mut self.buf[self.len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.len += n;
        debug_assert!(self.len <= self.buf.len());
        self.split(&mut on_line);
        Ok(n)
    }

    /// Hands out the partial line now (after a quiet time), marked `unterminated`.
    pub fn flush_partial(&mut self, mut on_line: impl FnMut(&[u8], LineFlags)) {
        if self.len == 0 {
            return;
        }
        if !self.skipping {
            let flags = LineFlags {
                truncated: false,
                unterminated: true,
                positioned: self.positioned,
                start: self.consumed,
                end: self.consumed + self.len as u64,
            };
            on_line(trim_cr(&self.buf[..self.len]), flags);
        }
        self.consumed += self.len as u64;
        self.len = 0;
    }

    fn split(&mut self, on_line: &mut impl FnMut(&[u8], LineFlags)) {
        let mut start = 0;
        while let Some(i) = memchr::memchr(b'\n', &self.buf[start..self.len]) {
            let end = start + i;
            if self.skipping {
                self.skipping = false;
            } else {
                let line = trim_cr(&self.buf[start..end]);
                // A whole over-long line in the buffer is cut the same as one still arriving.
                let truncated = line.len() > self.max_line;
                let flags = LineFlags {
                    truncated,
                    positioned: self.positioned,
                    start: self.consumed + start as u64,
                    end: self.consumed + end as u64 + 1,
                    ..LineFlags::default()
                };
                debug_assert!(flags.start >= self.consumed && flags.end > flags.start);
                on_line(&line[..line.len().min(self.max_line)], flags);
            }
            start = end + 1;
        }
        let rest = self.len - start;
        if self.skipping {
            // Still inside the over-long line: drop what we have of it.
            start = self.len;
        } else if rest >= self.max_line {
            // The line's end is not known yet; resuming at its start would read it again, so
            // its hand-over counts as reaching the end of what was read.
            let flags = LineFlags {
                truncated: true,
                unterminated: false,
                positioned: self.positioned,
                start: self.consumed + start as u64,
                end: self.consumed + self.len as u64,
            };
            on_line(&self.buf[start..start + self.max_line], flags);
            self.skipping = true;
            start = self.len;
        }
        self.consumed += start as u64;
        self.buf.copy_within(start..self.len, 0);
        self.len -= start;
        // What stays is the start of one line, shorter than a whole one (or nothing while
        // skipping): the next read has its `READ_CHUNK`.
        debug_assert!(self.len < self.max_line && (!self.skipping || self.len == 0));
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    match line.last() {
        Some(b'\r') => &line[..line.len() - 1],
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns its data in fixed pieces, like a writer doing partial writes.
    struct Pieces(Vec<Vec<u8>>);
    impl Read for Pieces {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let mut p = self.0.remove(0);
            let n = p.len().min(out.len());
            out[..n].copy_from_slice(&p[..n]);
            if n < p.len() {
                self.0.insert(0, p.split_off(n));
            }
            Ok(n)
        }
    }

    fn lines(max: usize, pieces: &[&[u8]]) -> Vec<(Vec<u8>, LineFlags)> {
        let mut r = LineReader::new(max);
        let mut src = Pieces(pieces.iter().map(|p| p.to_vec()).collect());
        let mut out = Vec::new();
        while r
            .read_from(&mut src, |l, f| out.push((l.to_vec(), f)))
            .unwrap()
            > 0
        {}
        out
    }

    #[test]
    fn a_line_written_in_parts_arrives_whole() {
        let out = lines(100, &[b"hel", b"lo\nwor", b"ld\r\n"]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0, b"hello");
        assert_eq!(out[1].0, b"world");
    }

    #[test]
    fn long_lines_are_cut_marked_and_the_rest_skipped() {
        let long = vec![b'x'; 1000];
        let mut data = long.clone();
        data.extend_from_slice(b"\nnext\n");
        let out = lines(256, &[&data[..300], &data[300..]]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0.len(), 256);
        assert!(out[0].1.truncated);
        assert_eq!(out[1].0, b"next");
    }

    #[test]
    fn a_long_line_read_whole_is_cut_like_one_arriving_in_parts() {
        // Found by the line_reader fuzz target: the newline in the same read let it through.
        let out = lines(4, &[b"abcdefgh\r\nnext\n"]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0, b"abcd");
        assert!(out[0].1.truncated);
        assert_eq!((out[0].1.start, out[0].1.end), (0, 10));
        assert_eq!(out[1].0, b"next");
    }

    #[test]
    fn invalid_utf8_and_nul_pass_through() {
        let out = lines(100, &[b"\xff\x00\xfe\n"]);
        assert_eq!(out[0].0, b"\xff\x00\xfe");
    }

    #[test]
    fn consumed_counts_complete_lines_only() {
        let mut r = LineReader::new(100);
        let mut src: &[u8] = b"one\ntw";
        r.read_from(&mut src, |_, _| {}).unwrap();
        assert_eq!(r.consumed(), 4);
        assert_eq!(r.pending(), 2);
        let mut got = Vec::new();
        r.flush_partial(|l, f| got.push((l.to_vec(), f.unterminated)));
        assert_eq!(got, vec![(b"tw".to_vec(), true)]);
        assert_eq!(r.consumed(), 6);
    }
}
