//! Searching a whole buffer of lines at once: which lines could match anything at all?
//!
//! `Matcher::match_line` asks its "anything at all?" questions once per line, and most lines
//! answer no. Like ripgrep, a `BufferScan` asks them once per *buffer*: one regex, the
//! alternation of every literal and every regex, searched over the whole buffer for the
//! earliest match end (one pass, with the regex crate's literal prefilters; two searches, an
//! Aho-Corasick automaton and the regexes, when it is too big to compile), line boundaries are found (`memchr`/`memrchr`) only around a hit, and the lines
//! between hits are only counted, never visited one by one. Each line it yields is a
//! *candidate*, to be classified with `match_line`; a line it does not yield would match nothing.
//!
//! Why no line that `match_line` would hit (a match or an ignore veto) can be missed:
//! - The buffer searches never match across a newline: literals holding `\n` are left out (no
//!   line holds one), and the regexes are rewritten (`line_local`) so that no class or literal
//!   accepts `\n`, `^`/`$` and `\A`/`\z` are the multi-line `(?m)` anchors, captures are gone.
//!   Every match of a regex on a line alone is then a match of the rewritten one on the buffer
//!   at the same bytes: a line's neighbours in the buffer are `\n` (or the buffer's ends), which
//!   a word boundary sees as a non-word character, just like the end of a haystack, and at
//!   which the multi-line anchors hold, just like `^`/`$` at a haystack's ends.
//! - A search from the start of line `k` returns the match ending first (the one regex), or
//!   the leftmost one (the two searches); either lies in one line, at or before any line from
//!   `k` on that has a match (a match ending first ends at or before it, one leftmost starts
//!   at or before it; neither crosses a newline). The scan yields that line and searches again from the start of
//!   the NEXT line, never from further on; a cached result is reused only while it lies at or
//!   after that start. By induction, every line with a match is yielded.
//! - Where the buffer is not what `match_line` sees, the scan yields the lines itself: a line
//!   longer than `max_line` (it is cut, and a `$` or `\b` may hold at the cut), and, when a
//!   regex has an end anchor, every line of a buffer holding a `\r` (the reader strips a line's
//!   final `\r`, so `x$` matches `x\r` as read; a rare CRLF log with `$` regexes pays per line).
//!
//! A false candidate (a case-sensitive literal found in another case, an ignore literal alone,
//! a rewritten regex's wider match) only costs its `match_line`. A structured (JSON, logfmt)
//! watch reads a level field from every line, so `Matcher::buffer_scan` offers no scan for it.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};
use regex::bytes::Regex;
use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, HirKind, Look};

/// The buffer-level searches of one matcher (see the module doc).
#[derive(Debug)]
pub struct BufferScan {
    search: Search,
    /// A regex has an end anchor: a buffer holding a `\r` is yielded line by line.
    end_anchored: bool,
}

#[derive(Debug)]
enum Search {
    /// One regex: every literal (as bytes, ASCII case folded unless case-sensitive) and every
    /// regex made line-local, searched for the earliest match end in one pass.
    One(Regex),
    /// The same as two searches, when the one regex does not compile (size limits): the
    /// automaton over every literal without a `\n` (leftmost-first, which lets it use its
    /// fast prefilters), and the line-local alternation of every regex.
    Two {
        ac: Option<AhoCorasick>,
        regex: Option<Regex>,
    },
}

/// One candidate line of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The line as a line reader hands it out: without its `\n` and final `\r`, cut to
    /// `max_line` bytes.
    pub line: &'a [u8],
    /// How many lines of the buffer come before it.
    pub index: u64,
    /// Offset of its first byte in the buffer.
    pub start: usize,
    /// Offset just past it (its `\n`, or the buffer's end), before the `\r` and the cut.
    pub end: usize,
    /// The line was longer than `max_line`.
    pub truncated: bool,
}

/// A pattern as the buffer search takes it (see `BufferScan::build`).
pub(super) struct ScanLiteral<'a> {
    pub bytes: &'a [u8],
    pub case_sensitive: bool,
}

impl BufferScan {
    /// The searches over every literal and regex source (as `set_source` printed it) of a
    /// matcher, ignore entries included; `None` if they do not compile (regex size limits).
    pub(super) fn build(literals: &[ScanLiteral<'_>], regexes: &[String]) -> Option<BufferScan> {
        let kept: Vec<&ScanLiteral> = literals
            .iter()
            .filter(|l| !l.bytes.contains(&b'\n'))
            .collect();
        let mut end_anchored = false;
        let mut line_local_regexes = Vec::with_capacity(regexes.len());
        for src in regexes {
            // The source states its flags (`set_source`): parsed as case-sensitive, it keeps them.
            let hir = regex_syntax::ParserBuilder::new()
                .utf8(false)
                .build()
                .parse(src)
                .ok()?;
            line_local_regexes.push(line_local(hir, &mut end_anchored));
        }
        let one: Vec<String> = kept
            .iter()
            .map(|l| literal_hir(l))
            .chain(line_local_regexes.iter().cloned())
            .map(|h| format!("(?:{h})"))
            .collect();
        if one.is_empty() {
            let search = Search::Two {
                ac: None,
                regex: None,
            };
            return Some(BufferScan {
                search,
                end_anchored,
            });
        }
        if let Ok(regex) = Regex::new(&one.join("|")) {
            return Some(BufferScan {
                search: Search::One(regex),
                end_anchored,
            });
        }
        let ac = if kept.is_empty() {
            None
        } else {
            let insensitive = kept.iter().any(|l| !l.case_sensitive);
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(insensitive)
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(kept.iter().map(|l| l.bytes))
                    .ok()?,
            )
        };
        let regex = if line_local_regexes.is_empty() {
            None
        } else {
            let alternation: Vec<String> = line_local_regexes
                .iter()
                .map(|h| format!("(?:{h})"))
                .collect();
            Some(Regex::new(&alternation.join("|")).ok()?)
        };
        Some(BufferScan {
            search: Search::Two { ac, regex },
            end_anchored,
        })
    }

    /// Yields, in order, every line of `buf` that could match (see the module doc), and
    /// returns how many lines `buf` holds. `buf` is whole lines: each ends with a `\n` except
    /// perhaps the last, which then counts as a line too (a final partial line).
    pub fn scan<'a>(
        &self,
        buf: &'a [u8],
        max_line: usize,
        mut on_candidate: impl FnMut(Candidate<'a>),
    ) -> u64 {
        let max_line = max_line.max(1);
        if self.end_anchored && memchr::memchr(b'\r', buf).is_some() {
            return every_line(buf, max_line, &mut on_candidate);
        }
        let mut lines = 0u64;
        let mut pos = 0;
        let (mut next_a, mut next_b) = (Next::Unknown, Next::Unknown);
        while pos < buf.len() {
            // A position in the first line from `pos` on with a match, or in an earlier one.
            let at = match &self.search {
                Search::One(regex) => next_a.from(pos, |p| regex.shortest_match_at(buf, p)),
                Search::Two { ac, regex } => [
                    next_a.from(pos, |p| find_literal(ac.as_ref()?, buf, p)),
                    next_b.from(pos, |p| Some(regex.as_ref()?.find_at(buf, p)?.start())),
                ]
                .into_iter()
                .flatten()
                .min(),
            }
            // An empty match past a final `\n` is in no line (a line's own is before its `\n`).
            .filter(|&at| at < buf.len() || buf.last() != Some(&b'\n'));
            let Some(at) = at else {
                lines += count_lines(buf, pos, buf.len(), max_line, lines, &mut on_candidate);
                break;
            };
            let start = memchr::memrchr(b'\n', &buf[pos..at]).map_or(pos, |i| pos + i + 1);
            lines += count_lines(buf, pos, start, max_line, lines, &mut on_candidate);
            let end = memchr::memchr(b'\n', &buf[at..]).map_or(buf.len(), |i| at + i);
            on_candidate(candidate(buf, start, end, lines, max_line));
            lines += 1;
            pos = end + 1;
        }
        lines
    }
}

/// Where the leftmost literal match from `pos` on starts.
fn find_literal(ac: &AhoCorasick, buf: &[u8], pos: usize) -> Option<usize> {
    ac.find(Input::new(buf).span(pos..buf.len()))
        .map(|m| m.start())
}

/// A literal as a regex: its bytes, each ASCII letter a class of both cases unless the literal
/// is case-sensitive (the automaton of `match_line` folds ASCII case only).
fn literal_hir(lit: &ScanLiteral<'_>) -> Hir {
    if lit.case_sensitive {
        return Hir::literal(lit.bytes);
    }
    Hir::concat(
        lit.bytes
            .iter()
            .map(|&b| {
                if b.is_ascii_alphabetic() {
                    let (lo, up) = (b.to_ascii_lowercase(), b.to_ascii_uppercase());
                    Hir::class(Class::Bytes(ClassBytes::new([
                        ClassBytesRange::new(lo, lo),
                        ClassBytesRange::new(up, up),
                    ])))
                } else {
                    Hir::literal([b])
                }
            })
            .collect(),
    )
}

/// A search result kept while it is still ahead of the scan.
#[derive(Clone, Copy)]
enum Next {
    Unknown,
    /// Searched from some earlier line start: the first match starts here, or there is none.
    Found(Option<usize>),
}

impl Next {
    /// The first match from the line start `pos` on: the kept one while it starts at or after
    /// `pos` (the first from an earlier start that lies past `pos` is also the first from
    /// `pos`), else a new search.
    fn from(&mut self, pos: usize, search: impl FnOnce(usize) -> Option<usize>) -> Option<usize> {
        match *self {
            Next::Found(None) => None,
            Next::Found(Some(at)) if at >= pos => Some(at),
            _ => {
                let at = search(pos);
                debug_assert!(at.is_none_or(|a| a >= pos));
                *self = Next::Found(at);
                at
            }
        }
    }
}

/// Counts the lines in `buf[from..to]` (whole lines, or a final partial one when `to` is the
/// end), yielding each that is longer than `max_line`; `before` lines precede `from`.
fn count_lines<'a>(
    buf: &'a [u8],
    from: usize,
    to: usize,
    max_line: usize,
    before: u64,
    on_candidate: &mut impl FnMut(Candidate<'a>),
) -> u64 {
    if from >= to {
        return 0;
    }
    let mut n = 0u64;
    if to - from <= max_line {
        // No line here can be too long: only count.
        n = count_newlines(&buf[from..to]);
    } else {
        let mut start = from;
        for i in memchr::memchr_iter(b'\n', &buf[from..to]) {
            let end = from + i;
            if end - start > max_line {
                on_candidate(candidate(buf, start, end, before + n, max_line));
            }
            n += 1;
            start = end + 1;
        }
    }
    if buf[to - 1] != b'\n' {
        // A final partial line.
        debug_assert!(to == buf.len(), "a partial line inside the buffer");
        let start = memchr::memrchr(b'\n', &buf[from..to]).map_or(from, |i| from + i + 1);
        if to - start > max_line {
            on_candidate(candidate(buf, start, to, before + n, max_line));
        }
        n += 1;
    }
    n
}

/// How many `\n` `bytes` holds: eight bytes at a time (a byte is `\n` when it is zero after
/// an xor, found without carries between bytes), which the compiler vectorizes; `memchr_iter`
/// stops at each of the dense newlines of a log.
fn count_newlines(bytes: &[u8]) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const NL: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let words = bytes.chunks_exact(8);
    let tail = words.remainder();
    let mut n = 0u64;
    for w in words {
        let x = u64::from_ne_bytes(w.try_into().expect("8 bytes")) ^ NL;
        // High bit set for each byte that is not zero.
        let nonzero = ((x & LOW7).wrapping_add(LOW7)) | x;
        n += u64::from((!nonzero & !LOW7).count_ones());
    }
    n + tail.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Yields every line of `buf`; returns how many.
fn every_line<'a>(
    buf: &'a [u8],
    max_line: usize,
    on_candidate: &mut impl FnMut(Candidate<'a>),
) -> u64 {
    let mut n = 0u64;
    let mut start = 0;
    while start < buf.len() {
        let end = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |i| start + i);
        on_candidate(candidate(buf, start, end, n, max_line));
        n += 1;
        start = end + 1;
    }
    n
}

fn candidate(buf: &[u8], start: usize, end: usize, index: u64, max_line: usize) -> Candidate<'_> {
    let mut line = &buf[start..end];
    if let Some(b'\r') = line.last() {
        line = &line[..line.len() - 1];
    }
    let truncated = line.len() > max_line;
    Candidate {
        line: &line[..line.len().min(max_line)],
        index,
        start,
        end,
        truncated,
    }
}

/// `hir` rewritten so that it never matches across a line: no class or literal accepts `\n`
/// (a literal holding one becomes a class that matches nothing), `\A`/`\z` become `(?m)^`/`$`,
/// captures are gone. Sets `end_anchored` when it holds a `$` or `\z` of any kind.
fn line_local(hir: Hir, end_anchored: &mut bool) -> Hir {
    match hir.into_kind() {
        HirKind::Capture(c) => line_local(*c.sub, end_anchored),
        HirKind::Repetition(mut r) => {
            r.sub = Box::new(line_local(*r.sub, end_anchored));
            Hir::repetition(r)
        }
        HirKind::Concat(subs) => Hir::concat(
            subs.into_iter()
                .map(|h| line_local(h, end_anchored))
                .collect(),
        ),
        HirKind::Alternation(subs) => Hir::alternation(
            subs.into_iter()
                .map(|h| line_local(h, end_anchored))
                .collect(),
        ),
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(l) if l.0.contains(&b'\n') => Hir::fail(),
        HirKind::Literal(l) => Hir::literal(l.0),
        HirKind::Class(c) => Hir::class(without_newline(c)),
        HirKind::Look(look) => Hir::look(match look {
            Look::Start => Look::StartLF,
            Look::End | Look::EndLF | Look::EndCRLF => {
                *end_anchored = true;
                if look == Look::EndCRLF {
                    Look::EndCRLF
                } else {
                    Look::EndLF
                }
            }
            other => other,
        }),
    }
}

/// The class without `\n`.
fn without_newline(class: Class) -> Class {
    match class {
        Class::Unicode(mut c) => {
            let nl =
                regex_syntax::hir::ClassUnicode::new([regex_syntax::hir::ClassUnicodeRange::new(
                    '\n', '\n',
                )]);
            c.difference(&nl);
            Class::Unicode(c)
        }
        Class::Bytes(mut c) => {
            let nl = ClassBytes::new([ClassBytesRange::new(b'\n', b'\n')]);
            c.difference(&nl);
            Class::Bytes(c)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::matcher::pack::{PatternDef, PatternPack};
    use crate::matcher::{LineMatch, Matcher};

    /// (line index, what it matched, pattern ids kept, pattern ids vetoed) of each line a hit.
    type Hits = Vec<(u64, LineMatch, Vec<usize>, Vec<usize>)>;

    fn matcher(lits: &[&str], res: &[&str], ignore: &[&str], case_sensitive: bool) -> Matcher {
        let def = |name: &str, lits: &[&str], res: &[&str], ignore: &[&str]| PatternDef {
            name: name.into(),
            literals: lits.iter().map(|s| s.to_string()).collect(),
            regexes: res.iter().map(|s| s.to_string()).collect(),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            ignore_regexes: vec![],
            case_sensitive,
            conditions: vec![],
        };
        let patterns = vec![def("lit", lits, &[], ignore), def("re", &[], res, &[])];
        let pack = PatternPack {
            name: "t".into(),
            origin: "t".into(),
            patterns,
        };
        Matcher::build(&[pack]).expect("builds")
    }

    fn classify(m: &Matcher, index: u64, line: &[u8], out: &mut Hits) {
        let mut s = m.scratch();
        let got = m.match_line(line, &mut s);
        if got != LineMatch::default() {
            let kept = m.matched_patterns(&s).collect();
            let vetoed = m.vetoed_patterns(&s).collect();
            out.push((index, got, kept, vetoed));
        }
    }

    /// The obvious answer: every line of `split(b'\n')` (no line after a final `\n`), its `\r`
    /// removed and cut at `max_line`, through `match_line`.
    fn naive(m: &Matcher, buf: &[u8], max_line: usize) -> (u64, Hits) {
        let mut lines: Vec<&[u8]> = buf.split(|&b| b == b'\n').collect();
        if buf.is_empty() || buf.ends_with(b"\n") {
            lines.pop();
        }
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            classify(m, i as u64, &line[..line.len().min(max_line)], &mut out);
        }
        (lines.len() as u64, out)
    }

    fn scanned(m: &Matcher, buf: &[u8], max_line: usize) -> (u64, Hits) {
        let scan = m.buffer_scan().expect("a plain watch has a scan");
        let mut out = Vec::new();
        let mut last = None;
        let lines = scan.scan(buf, max_line, |c| {
            assert!(last < Some(c.index), "candidates in order, once each");
            last = Some(c.index);
            classify(m, c.index, c.line, &mut out);
        });
        (lines, out)
    }

    fn same(m: &Matcher, buf: &[u8], max_line: usize) {
        assert_eq!(
            scanned(m, buf, max_line),
            naive(m, buf, max_line),
            "{buf:?}"
        );
    }

    #[test]
    fn a_hit_across_a_newline_is_no_hit_and_hides_none_after_it() {
        let m = matcher(
            &["ab"],
            &[r"c\sd", r"e[^x]f", r"g\s+h", r"(?s)i.j"],
            &[],
            true,
        );
        same(&m, b"a\nb\nc\nd\ne\nf\ng\n\nh\ni\nj\n", 1 << 16);
        same(&m, b"a\nab\nc\nc d\ne\neyf\ng\n\ng \th\ni\nixj", 1 << 16);
        let (lines, hits) = scanned(&m, b"g\n\nh\ng  h\n", 1 << 16);
        assert_eq!((lines, hits.len(), hits[0].0), (4, 1, 3));
    }

    #[test]
    fn anchors_hold_at_line_starts_and_ends_not_only_the_buffer_s() {
        let m = matcher(
            &[],
            &[r"^ERROR", r"done$", r"\Astart", r"end\z", r"^$"],
            &[],
            true,
        );
        same(
            &m,
            b"x ERROR\nERROR x\nnot done\ndone yet\nstart\nxstart\nthe end\n\nend x\n",
            99,
        );
        same(&m, b"\n\n\nERROR", 99);
        same(&m, b"done", 99);
        same(&m, b"", 99);
    }

    #[test]
    fn crlf_lines_match_as_the_reader_hands_them_out() {
        let m = matcher(&["ok"], &[r"done$", r"^a\s*$"], &[], true);
        same(&m, b"done\r\nnot done \r\na \r\n\r\nok\r\n", 99);
        let m = matcher(&["ok"], &[r"done\b"], &[], true);
        same(&m, b"done\r\nx\r\nok\r\n", 99);
    }

    #[test]
    fn long_lines_are_cut_and_a_match_at_the_cut_is_kept() {
        let m = matcher(&["tail"], &[r"abc$", r"abc\b", r"^x{5}"], &[], true);
        same(
            &m,
            b"zzzzzzzabcdef\nxxxxxxxxxxxxxxxxxx\nshort abc\nzzzzzzzzzz tail\n",
            10,
        );
        same(&m, b"1\n2\n3\n4\n5\n6\nzzzzzzzabcdef", 10);
        same(&m, b"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzabc\n", 1);
    }

    #[test]
    fn case_ignore_nul_and_invalid_utf8() {
        let m = matcher(&["Error"], &[r"fail\w+", r"[^a]{3}z"], &["health"], false);
        same(
            &m,
            b"\xff\x00ERROR\x80\nHealth error\n\xff failed \xc3\nzz\n\n\x00\x00\x00z\n",
            99,
        );
        let m = matcher(&["Error"], &[], &[], true);
        same(&m, b"ERROR\nerror\nError\n", 99);
    }

    #[test]
    fn newlines_are_counted_at_any_alignment() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| [b'\n', b'a', 0x8a, 0x0b, 0xff][(i as usize * 7 + i as usize / 3) % 5])
            .collect();
        for from in 0..20 {
            for to in from..data.len() {
                let want = data[from..to].iter().filter(|&&b| b == b'\n').count() as u64;
                assert_eq!(super::count_newlines(&data[from..to]), want);
            }
        }
    }

    #[test]
    fn a_regex_matching_everywhere_yields_every_line() {
        let m = matcher(&[], &[r"x*"], &[], true);
        same(&m, b"a\n\nb\n", 99);
        let (lines, hits) = scanned(&m, b"a\n\nb\n", 99);
        assert_eq!((lines, hits.len()), (3, 3));
    }

    #[test]
    fn a_structured_watch_has_no_scan() {
        use crate::matcher::structured::{LineFormat, LineStructure};
        let lines = LineStructure {
            format: LineFormat::Json,
            ..LineStructure::default()
        };
        let m = matcher(&["x"], &[], &[], true).with_structure(lines);
        assert!(m.buffer_scan().is_none());
    }

    fn piece() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[abAB\n\r ]{0,4}").expect("valid")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn scan_equals_per_line_matching(
            lits in proptest::collection::vec("[abAB\n]{1,3}", 0..3),
            res in proptest::collection::vec(
                prop_oneof![
                    Just("^a".to_string()), Just("b$".to_string()), Just(r"a\sb".to_string()),
                    Just("[^a]b".to_string()), Just(r"\bab".to_string()), Just("(?s)a.b".to_string()),
                    Just(r"a\z".to_string()), Just("^$".to_string()), Just("a\nb".to_string()),
                    Just(r"\s+$".to_string()), Just(r"(?m)^b".to_string()),
                ], 0..3),
            ignore in proptest::collection::vec("[ab]{1,2}", 0..2),
            case_sensitive in any::<bool>(),
            buf in proptest::collection::vec(piece(), 0..20),
            max_line in 1usize..8,
        ) {
            let lits: Vec<&str> = lits.iter().map(String::as_str).collect();
            let res: Vec<&str> = res.iter().map(String::as_str).collect();
            let ignore: Vec<&str> = ignore.iter().map(String::as_str).collect();
            let m = matcher(&lits, &res, &ignore, case_sensitive);
            let buf = buf.concat();
            prop_assert_eq!(scanned(&m, buf.as_bytes(), max_line), naive(&m, buf.as_bytes(), max_line));
        }
    }
}
