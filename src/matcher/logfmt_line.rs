//! A logfmt line (`time=… level=error msg="socket timeout" ms=12`), read pair by pair in
//! place: Go's `log/slog` text handler, logrus, Heroku's router write it.
//!
//! The grammar is go-logfmt's, read leniently: pairs are separated by whitespace; a key is a
//! run of bytes above the space that holds no `=` or `"`; `key=value` has a bare value (up to
//! the next whitespace) or a quoted one (with backslash escapes); a key alone is a flag with
//! an empty value. A line that breaks the grammar (a quote in a key, an `=` with no key, a
//! quoted value never closed) yields its pairs up to there and is then `malformed`.

use crate::matcher::fields::FieldValue;

/// The value of `key` in a logfmt line: the first pair with that key read before any break
/// in the grammar.
pub fn logfmt_field<'a>(line: &'a [u8], key: &[u8]) -> Option<FieldValue<'a>> {
    LogfmtPairs::new(line)
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The pairs of a logfmt line, in order.
#[derive(Debug, Clone)]
pub struct LogfmtPairs<'a> {
    b: &'a [u8],
    i: usize,
    malformed: bool,
    /// Pairs read that had an `=`.
    assigned: usize,
}

impl<'a> LogfmtPairs<'a> {
    pub fn new(line: &'a [u8]) -> LogfmtPairs<'a> {
        LogfmtPairs {
            b: line,
            i: 0,
            malformed: false,
            assigned: 0,
        }
    }

    /// Whether reading stopped at a break in the grammar (not at the line's end).
    pub fn malformed(&self) -> bool {
        self.malformed
    }

    /// How many of the pairs read so far were `key=value` (not a bare key).
    pub fn assigned(&self) -> usize {
        self.assigned
    }

    fn fail(&mut self) -> Option<(&'a [u8], FieldValue<'a>)> {
        self.malformed = true;
        self.i = self.b.len();
        None
    }
}

impl<'a> Iterator for LogfmtPairs<'a> {
    type Item = (&'a [u8], FieldValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.b;
        while self.i < b.len() && b[self.i] <= b' ' {
            self.i += 1;
        }
        if self.i >= b.len() {
            return None;
        }
        let key_start = self.i;
        while self.i < b.len() && b[self.i] > b' ' && b[self.i] != b'=' && b[self.i] != b'"' {
            self.i += 1;
        }
        let key = &b[key_start..self.i];
        let empty = FieldValue::Str {
            raw: &b[self.i..self.i],
            escaped: false,
        };
        match b.get(self.i) {
            None => return Some((key, empty)),
            Some(&c) if c <= b' ' => return Some((key, empty)),
            Some(b'"') => return self.fail(),
            Some(_) if key.is_empty() => return self.fail(),
            Some(_) => {}
        }
        debug_assert_eq!(b[self.i], b'=');
        self.i += 1;
        self.assigned += 1;
        if b.get(self.i) == Some(&b'"') {
            self.i += 1;
            let start = self.i;
            let mut escaped = false;
            loop {
                let Some(at) = memchr::memchr2(b'"', b'\\', &b[self.i.min(b.len())..]) else {
                    return self.fail();
                };
                self.i += at;
                if b[self.i] == b'"' {
                    let raw = &b[start..self.i];
                    self.i += 1;
                    return Some((key, FieldValue::Str { raw, escaped }));
                }
                escaped = true;
                self.i += 2;
            }
        }
        let start = self.i;
        while self.i < b.len() && b[self.i] > b' ' {
            self.i += 1;
        }
        Some((
            key,
            FieldValue::Str {
                raw: &b[start..self.i],
                escaped: false,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: FieldValue) -> String {
        let mut s = String::new();
        v.write_text(&mut s);
        s
    }

    #[test]
    fn slog_and_logrus_lines_read_pair_by_pair() {
        let slog = br#"time=2026-12-04T10:00:00.000Z level=ERROR msg="order failed: \"timeout\"" ms=250 retry"#;
        let pairs: Vec<(String, String)> = LogfmtPairs::new(slog)
            .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), text(v)))
            .collect();
        assert_eq!(
            pairs,
            [
                ("time".into(), "2026-12-04T10:00:00.000Z".into()),
                ("level".into(), "ERROR".into()),
                ("msg".into(), "order failed: \"timeout\"".into()),
                ("ms".into(), "250".into()),
                ("retry".into(), String::new()),
            ]
        );
        assert_eq!(
            logfmt_field(slog, b"ms").and_then(|v| v.as_f64()),
            Some(250.0)
        );
        assert!(logfmt_field(slog, b"level")
            .unwrap()
            .eq_ignore_ascii_case("error"));
        assert_eq!(logfmt_field(slog, b"nothing"), None);
        let logrus = b"time=\"2026-12-04T10:00:00Z\" level=warning msg=\"slow\" duration=1.5s";
        assert_eq!(
            logfmt_field(logrus, b"level").map(text),
            Some("warning".into())
        );
        assert_eq!(
            logfmt_field(logrus, b"duration").and_then(|v| v.as_f64()),
            None
        );
    }

    #[test]
    fn a_key_inside_a_quoted_value_is_no_key() {
        let line = br#"msg="level=error in text" level=info"#;
        assert_eq!(logfmt_field(line, b"level").map(text), Some("info".into()));
    }

    #[test]
    fn a_break_in_the_grammar_ends_reading_and_is_told() {
        for bad in [
            &br#"level=error msg="never closed"#[..],
            b"level=error =x",
            b"level=error k\"ey=1",
            b"level=error msg=\"ends in \\",
        ] {
            let mut pairs = LogfmtPairs::new(bad);
            assert_eq!(pairs.next().map(|(k, _)| k), Some(&b"level"[..]));
            assert!(pairs.next().is_none());
            assert!(pairs.malformed(), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut plain = LogfmtPairs::new(b"just some words");
        assert_eq!(plain.by_ref().count(), 3);
        assert!(!plain.malformed());
        assert_eq!(plain.assigned(), 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(
            prop_oneof![Just(b'='), Just(b'"'), Just(b'\\'), Just(b' '), Just(b'k'), any::<u8>()],
            0..64,
        ))| {
            let mut pairs = LogfmtPairs::new(&bytes);
            let n = pairs.by_ref().take(100).count();
            prop_assert!(n <= bytes.len());
            let _ = logfmt_field(&bytes, b"k");
        });
    }
}
