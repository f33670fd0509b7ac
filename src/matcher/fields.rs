//! Fields of structured lines: what a value looked up by name in a JSON or logfmt line is, and
//! how it reads (as a number, as text). The lookups themselves are `json_line.rs`
//! (`json_field`, `JsonObject`) and `logfmt_line.rs` (`logfmt_field`, `LogfmtPairs`); none
//! of them builds a tree of the line or allocates.
//!
//! A value borrows the line: a string is its bytes as written between the quotes, escapes and
//! all, with a flag saying whether it has any. Reading it as text decodes the escapes on the
//! fly (`chars`), so comparing a `level` field with `error` costs no copy.

use std::fmt;

/// Most parts a field path may have (`a.b.c` has three): deeper paths are a config error.
pub const MAX_PATH_PARTS: usize = 16;

/// A field's name in a structured line: a logfmt key, or a JSON path of object keys joined
/// by `.` (`http.request.duration_ms`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    /// The path as written.
    text: Box<str>,
    /// Byte ranges of its parts in `text`.
    parts: Box<[(u32, u32)]>,
}

/// Why a field path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldPathError {
    #[error("a field name must not be empty")]
    Empty,
    #[error("an empty part in field path {0:?} (two dots, or a dot at an end)")]
    EmptyPart(String),
    #[error("field path {0:?} has more than {MAX_PATH_PARTS} parts")]
    TooDeep(String),
    #[error("field path {0:?} has a control character")]
    Control(String),
}

impl FieldPath {
    /// Reads a path: parts separated by `.`, none empty, no control characters.
    pub fn parse(text: &str) -> Result<FieldPath, FieldPathError> {
        if text.is_empty() {
            return Err(FieldPathError::Empty);
        }
        if text.chars().any(char::is_control) {
            return Err(FieldPathError::Control(text.to_owned()));
        }
        let mut parts = Vec::new();
        let mut start = 0usize;
        for (i, b) in text.bytes().enumerate().chain([(text.len(), b'.')]) {
            if b != b'.' {
                continue;
            }
            if i == start {
                return Err(FieldPathError::EmptyPart(text.to_owned()));
            }
            parts.push((start as u32, i as u32));
            start = i + 1;
        }
        if parts.len() > MAX_PATH_PARTS {
            return Err(FieldPathError::TooDeep(text.to_owned()));
        }
        Ok(FieldPath {
            text: text.into(),
            parts: parts.into_boxed_slice(),
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its parts, outermost first (one part for a logfmt key or a top-level JSON key).
    pub fn parts(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.parts
            .iter()
            .map(|&(s, e)| &self.text.as_bytes()[s as usize..e as usize])
    }
}

impl fmt::Debug for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldPath({:?})", self.text)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A value found in a structured line, borrowing the line's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// A string (JSON `"…"`, a logfmt value, quoted or bare): the bytes as written, without
    /// the quotes; `escaped` when they hold a backslash escape still to be decoded.
    Str { raw: &'a [u8], escaped: bool },
    /// A JSON number, as written.
    Num(&'a [u8]),
    /// A JSON `true` or `false`.
    Bool(bool),
    /// A JSON `null`.
    Null,
    /// A JSON object or array, as written (brackets included).
    Composite(&'a [u8]),
}

impl<'a> FieldValue<'a> {
    /// The value as a number: a JSON number, or a string that is one (logfmt values are all
    /// strings; JSON loggers write `"duration": "12.5"` too). `None` for anything else, and
    /// for NaN or infinities, which no threshold can compare.
    pub fn as_f64(&self) -> Option<f64> {
        let raw = match *self {
            FieldValue::Num(raw)
            | FieldValue::Str {
                raw,
                escaped: false,
            } => raw,
            _ => return None,
        };
        let text = std::str::from_utf8(raw).ok()?.trim();
        let v: f64 = text.parse().ok()?;
        v.is_finite().then_some(v)
    }

    /// The bytes as written (a string's without its quotes, escapes undecoded).
    pub fn raw(&self) -> &'a [u8] {
        match *self {
            FieldValue::Str { raw, .. } | FieldValue::Num(raw) | FieldValue::Composite(raw) => raw,
            FieldValue::Bool(true) => b"true",
            FieldValue::Bool(false) => b"false",
            FieldValue::Null => b"null",
        }
    }

    /// The value's text, escapes decoded, one char at a time; invalid UTF-8 and bad escapes
    /// come out as U+FFFD, never as an error.
    pub fn chars(&self) -> TextChars<'a> {
        let (raw, escaped) = match *self {
            FieldValue::Str { raw, escaped } => (raw, escaped),
            other => (other.raw(), false),
        };
        TextChars { rest: raw, escaped }
    }

    /// Whether the value's text equals `expected`, ASCII case aside (`"ERROR"` is `error`).
    pub fn eq_ignore_ascii_case(&self, expected: &str) -> bool {
        if let FieldValue::Str {
            raw,
            escaped: false,
        } = *self
        {
            return raw.eq_ignore_ascii_case(expected.as_bytes());
        }
        let mut ours = self.chars();
        let mut theirs = expected.chars();
        loop {
            match (ours.next(), theirs.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) if a.eq_ignore_ascii_case(&b) => {}
                _ => return false,
            }
        }
    }

    /// Appends the value's text, escapes decoded, to `out` (a buffer the caller reuses).
    pub fn write_text(&self, out: &mut String) {
        out.extend(self.chars());
    }
}

/// The decoded characters of a value's text (see `FieldValue::chars`).
#[derive(Debug, Clone)]
pub struct TextChars<'a> {
    rest: &'a [u8],
    escaped: bool,
}

impl Iterator for TextChars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let (&first, _) = self.rest.split_first()?;
        if first == b'\\' && self.escaped {
            let (c, used) = decode_escape(self.rest);
            self.rest = &self.rest[used..];
            return Some(c);
        }
        let (c, used) = decode_utf8(self.rest);
        self.rest = &self.rest[used..];
        Some(c)
    }
}

/// One UTF-8 character at the start of `bytes` (not empty) and its length; an invalid byte
/// is U+FFFD of length 1.
fn decode_utf8(bytes: &[u8]) -> (char, usize) {
    debug_assert!(!bytes.is_empty());
    let len = match bytes[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return (char::REPLACEMENT_CHARACTER, 1),
    };
    match bytes.get(..len).map(std::str::from_utf8) {
        Some(Ok(s)) => (s.chars().next().unwrap_or(char::REPLACEMENT_CHARACTER), len),
        _ => (char::REPLACEMENT_CHARACTER, 1),
    }
}

/// A backslash escape at the start of `bytes` (JSON's: `\" \\ \/ \b \f \n \r \t \uXXXX`,
/// surrogate pairs joined) and its length. A bad one is U+FFFD for the backslash alone.
fn decode_escape(bytes: &[u8]) -> (char, usize) {
    debug_assert_eq!(bytes.first(), Some(&b'\\'));
    let simple = match bytes.get(1) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return decode_unicode_escape(bytes),
        _ => return (char::REPLACEMENT_CHARACTER, 1),
    };
    (simple, 2)
}

/// `\uXXXX`, or a surrogate pair `\uD83D\uDE00`, at the start of `bytes`.
fn decode_unicode_escape(bytes: &[u8]) -> (char, usize) {
    let hex = |at: usize| -> Option<u32> {
        let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
        u32::from_str_radix(digits, 16).ok()
    };
    let Some(high) = hex(2) else {
        return (char::REPLACEMENT_CHARACTER, 1);
    };
    if (0xd800..0xdc00).contains(&high) {
        if bytes.get(6..8) == Some(b"\\u") {
            if let Some(low @ 0xdc00..=0xdfff) = hex(8) {
                let c = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                return (char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER), 12);
            }
        }
        return (char::REPLACEMENT_CHARACTER, 6);
    }
    (
        char::from_u32(high).unwrap_or(char::REPLACEMENT_CHARACTER),
        6,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_split_on_dots_and_empty_parts_are_refused() {
        let p = FieldPath::parse("http.request.ms").unwrap();
        let parts: Vec<&[u8]> = p.parts().collect();
        assert_eq!(parts, [&b"http"[..], b"request", b"ms"]);
        assert_eq!(FieldPath::parse(""), Err(FieldPathError::Empty));
        assert!(matches!(
            FieldPath::parse("a..b"),
            Err(FieldPathError::EmptyPart(_))
        ));
        assert!(matches!(
            FieldPath::parse(".a"),
            Err(FieldPathError::EmptyPart(_))
        ));
        assert!(matches!(
            FieldPath::parse("a."),
            Err(FieldPathError::EmptyPart(_))
        ));
        assert!(matches!(
            FieldPath::parse(&"a.".repeat(17)[..33]),
            Err(FieldPathError::TooDeep(_))
        ));
        assert!(matches!(
            FieldPath::parse("a\nb"),
            Err(FieldPathError::Control(_))
        ));
    }

    #[test]
    fn numbers_read_from_json_numbers_and_numeric_strings_only() {
        assert_eq!(FieldValue::Num(b"12.5").as_f64(), Some(12.5));
        assert_eq!(FieldValue::Num(b"-1e3").as_f64(), Some(-1000.0));
        let s = |raw: &'static [u8]| FieldValue::Str {
            raw,
            escaped: false,
        };
        assert_eq!(s(b"0.250").as_f64(), Some(0.25));
        assert_eq!(s(b"12ms").as_f64(), None);
        assert_eq!(s(b"NaN").as_f64(), None);
        assert_eq!(s(b"inf").as_f64(), None);
        assert_eq!(FieldValue::Bool(true).as_f64(), None);
        assert_eq!(FieldValue::Null.as_f64(), None);
    }

    #[test]
    fn escapes_are_decoded_when_text_is_read_or_compared() {
        let v = FieldValue::Str {
            raw: br#"E\u0052ROR \"x\"\n\ud83d\ude00\q"#,
            escaped: true,
        };
        let mut out = String::new();
        v.write_text(&mut out);
        assert_eq!(out, "ERROR \"x\"\n\u{1f600}\u{fffd}q");
        let level = FieldValue::Str {
            raw: br"\u0065rror",
            escaped: true,
        };
        assert!(level.eq_ignore_ascii_case("ERROR"));
        assert!(!level.eq_ignore_ascii_case("errors"));
        let plain = FieldValue::Str {
            raw: b"Error",
            escaped: false,
        };
        assert!(plain.eq_ignore_ascii_case("error"));
    }

    #[test]
    fn invalid_utf8_and_cut_escapes_read_as_replacement_characters() {
        let v = FieldValue::Str {
            raw: b"a\xff\\u12",
            escaped: true,
        };
        let text: String = v.chars().collect();
        assert_eq!(text, "a\u{fffd}\u{fffd}u12");
        let lone = FieldValue::Str {
            raw: br"\ud800x",
            escaped: true,
        };
        assert_eq!(lone.chars().collect::<String>(), "\u{fffd}x");
    }
}
