//! Reads a stream as blocks of whole lines, for the buffer-level search (`matcher::buffer_scan`).
//!
//! The same buffer and policies as `source::line_reader::LineReader`, so a block's lines, cut
//! and trimmed by `BufferScan::scan`, are byte for byte the lines that reader hands out from
//! the same reads: a buffer of `max_line + READ_CHUNK` bytes, each read filling what is free; the
//! complete lines of a read are handed out as one block (ending with its last `\n`); a partial
//! line of `max_line` bytes or more is handed out alone as its first `max_line` bytes and the
//! rest of it up to the newline skipped; at the end a last partial line is handed out alone.
//! The follow path reads with `LineReader` line by line; moving this next to it, in `source`,
//! is what would let the daemon scan buffers too.

use std::io::{self, Read};

use crate::source::line_reader::READ_CHUNK;

/// What `LineBlocks` hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Whole lines, each ending with `\n` (`\r` and over-long lines still to be handled).
    Lines(&'a [u8]),
    /// One line as it is to be matched: the cut start of an over-long line, or the last
    /// partial line of the stream (its final `\r` removed).
    Line(&'a [u8]),
}

/// A block splitter over one reused buffer.
#[derive(Debug)]
pub struct LineBlocks {
    /// Unconsumed bytes in `buf[..len]`; its length is fixed at `max_line + READ_CHUNK`.
    buf: Vec<u8>,
    len: usize,
    max_line: usize,
    /// Inside an over-long line whose start was handed out: skip to its newline.
    skipping: bool,
}

impl LineBlocks {
    /// A reader whose lines are cut at `max_line` bytes.
    pub fn new(max_line: usize) -> LineBlocks {
        let max_line = max_line.max(1);
        LineBlocks {
            buf: vec![0; max_line + READ_CHUNK],
            len: 0,
            max_line,
            skipping: false,
        }
    }

    /// The line length beyond which lines are cut.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Reads once from `r` and hands out what it completed. Returns the bytes read (0 at EOF).
    pub fn read_from<R: Read>(
        &mut self,
        r: &mut R,
        mut on_piece: impl FnMut(Piece<'_>),
    ) -> io::Result<usize> {
        debug_assert!(self.len + READ_CHUNK <= self.buf.len(), "block buffer full");
        let n = loop {
            match r.read(&mut self.buf[self.len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let mut start = 0;
        let new = self.len;
        self.len += n;
        if self.skipping {
            // Only the new bytes can hold the over-long line's newline (nothing was kept).
            debug_assert_eq!(new, 0);
            match memchr::memchr(b'\n', &self.buf[..self.len]) {
                Some(i) => {
                    self.skipping = false;
                    start = i + 1;
                }
                None => start = self.len,
            }
        }
        if let Some(i) = memchr::memrchr(b'\n', &self.buf[start.max(new)..self.len]) {
            let end = start.max(new) + i + 1;
            on_piece(Piece::Lines(&self.buf[start..end]));
            start = end;
        }
        if !self.skipping && self.len - start >= self.max_line {
            on_piece(Piece::Line(&self.buf[start..start + self.max_line]));
            self.skipping = true;
            start = self.len;
        }
        self.buf.copy_within(start..self.len, 0);
        self.len -= start;
        debug_assert!(self.len < self.max_line && (!self.skipping || self.len == 0));
        Ok(n)
    }

    /// Hands out the last partial line (at the end of the stream), without its final `\r`.
    pub fn finish(&mut self, mut on_piece: impl FnMut(Piece<'_>)) {
        if self.len > 0 && !self.skipping {
            let mut line = &self.buf[..self.len];
            if let Some(b'\r') = line.last() {
                line = &line[..line.len() - 1];
            }
            on_piece(Piece::Line(line));
        }
        self.len = 0;
        self.skipping = false;
    }
}
