//! The buffer-level search (`matcher::buffer_scan`) and `test-patterns`, which uses it, against
//! matching every line alone, on arbitrary patterns and logs.
//!
//! A line the scan does not yield is never classified, so a line it misses is an alert never
//! sent. Three comparisons, each of the hit lines (number, slots, vetoes, pattern ids) and the
//! line count:
//! - one buffer scanned whole against `match_line` on each line of `split(b'\n')` (its `\r`
//!   removed, cut at `max_line`), with a small `max_line` so that long lines are cut;
//! - the same log handed out in arbitrary pieces, as reads would, through `LineBlocks` and the
//!   scan, against `LineReader` and `match_line` on the same pieces (chunk borders, cut lines,
//!   a last partial line);
//! - the report of `test_patterns` (which goes per line until it has its samples of unmatched
//!   lines, then scans) against a report counted line by line.

use std::io::{self, Read};

use logwarden::cli::line_blocks::{LineBlocks, Piece};
use logwarden::cli::test_patterns::{test_patterns, TuneReport, SAMPLES};
use logwarden::matcher::structured::LineStructure;
use logwarden::matcher::{LineMatch, Matcher};
use logwarden::source::line_reader::LineReader;

use super::input::Input;
use super::matcher::pack;

/// (line number, what it matched, pattern ids kept, pattern ids vetoed) of each line a hit.
type Hits = Vec<(u64, LineMatch, Vec<usize>, Vec<usize>)>;

fn classify(m: &Matcher, n: u64, line: &[u8], out: &mut Hits) {
    let mut s = m.scratch();
    let got = m.match_line(line, &mut s);
    if got != LineMatch::default() {
        out.push((
            n,
            got,
            m.matched_patterns(&s).collect(),
            m.vetoed_patterns(&s).collect(),
        ));
    }
}

/// A reader handing out its data in pieces of the given sizes, in turn.
struct Pieces<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    next: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let want = self.sizes[self.next % self.sizes.len()];
        self.next += 1;
        let n = want.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn whole_buffer(m: &Matcher, log: &[u8], max_line: usize) {
    let scan = m.buffer_scan().expect("a plain watch has a scan");
    let mut got = Vec::new();
    let lines = scan.scan(log, max_line, |c| classify(m, c.index, c.line, &mut got));
    let mut split: Vec<&[u8]> = log.split(|&b| b == b'\n').collect();
    if log.is_empty() || log.ends_with(b"\n") {
        split.pop();
    }
    let mut want = Vec::new();
    for (i, line) in split.iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        classify(m, i as u64, &line[..line.len().min(max_line)], &mut want);
    }
    assert_eq!(lines, split.len() as u64, "line count of {log:?}");
    assert_eq!(got, want, "hit lines of {log:?} (max_line {max_line})");
}

fn pieces(m: &Matcher, log: &[u8], max_line: usize, sizes: &[usize]) {
    let scan = m.buffer_scan().expect("a plain watch has a scan");
    let reader = |data| Pieces {
        data,
        sizes: sizes.to_vec(),
        next: 0,
    };
    let (mut got, mut lines) = (Vec::new(), 0u64);
    let mut blocks = LineBlocks::new(max_line);
    let mut on_piece = |piece: Piece<'_>| match piece {
        Piece::Line(line) => {
            classify(m, lines, line, &mut got);
            lines += 1;
        }
        Piece::Lines(block) => {
            let before = lines;
            lines += scan.scan(block, max_line, |c| {
                classify(m, before + c.index, c.line, &mut got)
            });
        }
    };
    let mut src = reader(log);
    while blocks.read_from(&mut src, &mut on_piece).expect("no error") > 0 {}
    blocks.finish(&mut on_piece);
    let (mut want, mut want_lines) = (Vec::new(), 0u64);
    let mut line_reader = LineReader::new(max_line);
    let mut on_line = |line: &[u8], _| {
        classify(m, want_lines, line, &mut want);
        want_lines += 1;
    };
    let mut src = reader(log);
    while line_reader
        .read_from(&mut src, &mut on_line)
        .expect("no error")
        > 0
    {}
    line_reader.flush_partial(&mut on_line);
    assert_eq!(
        lines, want_lines,
        "line count of {log:?} in pieces {sizes:?}"
    );
    assert_eq!(got, want, "hit lines of {log:?} in pieces {sizes:?}");
}

/// The report `test_patterns` gave before it scanned buffers: every line through `match_line`.
fn report_line_by_line(m: &Matcher, log: &[u8], template: &TuneReport) -> TuneReport {
    let mut r = template.clone();
    r.lines = 0;
    r.matched = 0;
    r.unmatched = 0;
    r.only_ignored = 0;
    r.unmatched_samples.clear();
    for p in &mut r.patterns {
        p.matched = 0;
        p.ignored = 0;
        p.samples.clear();
        p.ignored_samples.clear();
    }
    let mut s = m.scratch();
    let mut reader = LineReader::new(logwarden::config::DEFAULT_MAX_LINE_BYTES);
    let mut on_line = |line: &[u8], _| {
        r.lines += 1;
        let n = r.lines;
        let got = m.match_line(line, &mut s);
        let sample = |v: &mut Vec<(u64, String)>| {
            if v.len() < SAMPLES {
                v.push((n, String::from_utf8_lossy(line).into_owned()));
            }
        };
        for p in m.matched_patterns(&s) {
            r.patterns[p].matched += 1;
            sample(&mut r.patterns[p].samples);
        }
        for p in m.vetoed_patterns(&s) {
            r.patterns[p].ignored += 1;
            sample(&mut r.patterns[p].ignored_samples);
        }
        if got.slots != 0 {
            r.matched += 1;
        } else if got.vetoed {
            r.only_ignored += 1;
        } else {
            r.unmatched += 1;
            sample(&mut r.unmatched_samples);
        }
    };
    let mut data = log;
    while reader.read_from(&mut data, &mut on_line).expect("no error") > 0 {}
    reader.flush_partial(&mut on_line);
    r
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let pack = pack(&mut input);
    let matcher = match Matcher::build(std::slice::from_ref(&pack)) {
        Ok(m) => m,
        // The size limits of the regex engines; every regex compiled alone.
        Err(_) => return,
    };
    let max_line = 1 + input.byte() as usize % 48;
    let sizes: Vec<usize> = (0..1 + input.byte() % 4)
        .map(|_| 1 + input.byte() as usize % 64)
        .collect();
    let log = input.rest();
    if matcher.buffer_scan().is_none() {
        // Only when the scan's regex is too big to compile; test-patterns then goes per line.
        return;
    }
    whole_buffer(&matcher, log, max_line);
    whole_buffer(&matcher, log, 1 << 16);
    pieces(&matcher, log, max_line, &sizes);
    let got = test_patterns(std::slice::from_ref(&pack), &LineStructure::default(), log)
        .expect("builds and reads");
    let want = report_line_by_line(&matcher, log, &got);
    assert_eq!(
        serde_json::to_value(&got).expect("serializes"),
        serde_json::to_value(&want).expect("serializes"),
        "test-patterns report of {log:?}"
    );
}
