//! A JSON object line, checked and searched in place: `JsonObject::parse` accepts a line that
//! is one JSON object and nothing else, and `get` finds a field by path, without building a
//! tree, allocating or recursing (nesting is tracked in a bit stack, deeper than
//! `MAX_DEPTH` is refused).
//!
//! The check is of the structure: brackets, quotes, colons, commas, the literals, numbers'
//! characters. It does not check that string bytes are UTF-8 or free of raw control
//! characters (loggers write both), which reading a value's text handles (`fields`). A line
//! that fails the check is not structured: callers treat it as a plain line. Of duplicate
//! keys, the first counts.

use crate::matcher::fields::{FieldPath, FieldValue};

/// Deepest nesting of objects and arrays accepted.
pub const MAX_DEPTH: u32 = 128;

/// A line known to be one JSON object (its bytes from `{` to `}`).
#[derive(Debug, Clone, Copy)]
pub struct JsonObject<'a> {
    body: &'a [u8],
}

/// The value at `path` in `line`, if `line` is one JSON object and has it.
pub fn json_field<'a>(line: &'a [u8], path: &FieldPath) -> Option<FieldValue<'a>> {
    JsonObject::parse(line)?.get(path)
}

impl<'a> JsonObject<'a> {
    /// `line` as a JSON object: whitespace around it allowed (a `\r` before the newline
    /// too), anything else refused.
    pub fn parse(line: &'a [u8]) -> Option<JsonObject<'a>> {
        let mut c = Cursor { b: line, i: 0 };
        c.ws();
        if c.peek()? != b'{' {
            return None;
        }
        let start = c.i;
        c.skip_value()?;
        let end = c.i;
        c.ws();
        (c.i == line.len()).then_some(JsonObject {
            body: &line[start..end],
        })
    }

    /// The object as written, `{` to `}`.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.body
    }

    /// The value at `path`: each part but the last names an object inside the one before.
    pub fn get(&self, path: &FieldPath) -> Option<FieldValue<'a>> {
        let mut c = Cursor { b: self.body, i: 0 };
        let mut parts = path.parts().peekable();
        while let Some(part) = parts.next() {
            c.find_key(part)?;
            c.ws();
            if parts.peek().is_none() {
                return c.value();
            }
            if c.peek()? != b'{' {
                return None;
            }
        }
        debug_assert!(false, "a field path has at least one part");
        None
    }
}

/// A position in bytes being read.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.i += 1)
    }

    /// A string at the cursor (at its `"`): its bytes inside the quotes and whether it has
    /// an escape.
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        self.expect(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            let rest = self.b.get(self.i..)?;
            let at = memchr::memchr2(b'"', b'\\', rest)?;
            self.i += at;
            if self.b[self.i] == b'"' {
                let raw = &self.b[start..self.i];
                self.i += 1;
                return Some((raw, escaped));
            }
            escaped = true;
            self.i += 2;
        }
    }

    /// A number or literal at the cursor.
    fn scalar(&mut self) -> Option<FieldValue<'a>> {
        for (word, value) in [
            (&b"true"[..], FieldValue::Bool(true)),
            (b"false", FieldValue::Bool(false)),
            (b"null", FieldValue::Null),
        ] {
            if self.b[self.i..].starts_with(word) {
                self.i += word.len();
                return Some(value);
            }
        }
        let start = self.i;
        while matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        ) {
            self.i += 1;
        }
        let raw = &self.b[start..self.i];
        let starts_right = matches!(raw.first(), Some(b'-' | b'0'..=b'9'));
        (starts_right && raw.iter().any(u8::is_ascii_digit)).then_some(FieldValue::Num(raw))
    }

    /// The value at the cursor, read past.
    fn value(&mut self) -> Option<FieldValue<'a>> {
        match self.peek()? {
            b'"' => {
                let (raw, escaped) = self.string()?;
                Some(FieldValue::Str { raw, escaped })
            }
            b'{' | b'[' => {
                let start = self.i;
                self.skip_value()?;
                Some(FieldValue::Composite(&self.b[start..self.i]))
            }
            _ => self.scalar(),
        }
    }

    /// An object's key and its colon, whitespace around them read past.
    fn key_colon(&mut self) -> Option<(&'a [u8], bool)> {
        self.ws();
        let key = self.string()?;
        self.ws();
        self.expect(b':')?;
        self.ws();
        Some(key)
    }

    /// Reads past one value of any kind, checking its structure, without recursion.
    fn skip_value(&mut self) -> Option<()> {
        // Bit i of `kinds` is set when the container at depth i + 1 is an object.
        let mut kinds: u128 = 0;
        let mut depth: u32 = 0;
        loop {
            self.ws();
            match self.peek()? {
                open @ (b'{' | b'[') => {
                    if depth == MAX_DEPTH {
                        return None;
                    }
                    self.i += 1;
                    let object = open == b'{';
                    kinds = (kinds << 1) | u128::from(object);
                    depth += 1;
                    self.ws();
                    if self.peek()? == if object { b'}' } else { b']' } {
                        self.i += 1;
                        kinds >>= 1;
                        depth -= 1;
                    } else if object {
                        self.key_colon()?;
                        continue;
                    } else {
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                _ => {
                    self.scalar()?;
                }
            }
            // After a value: close containers until a comma asks for the next value.
            loop {
                if depth == 0 {
                    return Some(());
                }
                self.ws();
                let object = kinds & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        if object {
                            self.key_colon()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return None,
                }
                self.i += 1;
                kinds >>= 1;
                depth -= 1;
            }
        }
    }

    /// In an object whose `{` is at the cursor, moves to just after the colon of `key`.
    /// The object is known to be well formed.
    fn find_key(&mut self, key: &[u8]) -> Option<()> {
        self.expect(b'{')?;
        loop {
            self.ws();
            if self.peek()? == b'}' {
                return None;
            }
            let (raw, escaped) = self.key_colon()?;
            if key_is(raw, escaped, key) {
                return Some(());
            }
            self.skip_value()?;
            self.ws();
            self.expect(b',')?;
        }
    }
}

/// Whether a key as written (`raw`, with escapes if `escaped`) is `wanted`.
fn key_is(raw: &[u8], escaped: bool, wanted: &[u8]) -> bool {
    if !escaped {
        return raw == wanted;
    }
    let Ok(wanted) = std::str::from_utf8(wanted) else {
        return false;
    };
    FieldValue::Str { raw, escaped }.chars().eq(wanted.chars())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(line: &'a [u8], path: &str) -> Option<FieldValue<'a>> {
        json_field(line, &FieldPath::parse(path).unwrap())
    }

    #[test]
    fn fields_are_found_at_the_top_and_inside_objects() {
        let line = br#"{"time":"2026-12-04T10:00:00Z","level":"error","http":{"status":503,"req":{"ms":12.5}},"tags":["a","b"],"ok":false,"x":null}"#;
        assert_eq!(
            get(line, "level"),
            Some(FieldValue::Str {
                raw: b"error",
                escaped: false
            })
        );
        assert_eq!(get(line, "http.status"), Some(FieldValue::Num(b"503")));
        assert_eq!(
            get(line, "http.req.ms").and_then(|v| v.as_f64()),
            Some(12.5)
        );
        assert_eq!(
            get(line, "tags"),
            Some(FieldValue::Composite(br#"["a","b"]"#))
        );
        assert_eq!(get(line, "ok"), Some(FieldValue::Bool(false)));
        assert_eq!(get(line, "x"), Some(FieldValue::Null));
        assert_eq!(get(line, "http.missing"), None);
        assert_eq!(get(line, "level.deeper"), None);
        assert_eq!(get(line, "nothing"), None);
    }

    #[test]
    fn a_key_inside_a_string_value_is_no_key() {
        let line = br#"{"msg":"user said \"level\":\"error\"", "level":"info"}"#;
        assert_eq!(
            get(line, "level"),
            Some(FieldValue::Str {
                raw: b"info",
                escaped: false
            })
        );
        let nested = br#"{"msg":{"level":"error"},"level":"info"}"#;
        assert_eq!(get(nested, "level").map(|v| v.raw()), Some(&b"info"[..]));
    }

    #[test]
    fn escaped_keys_match_and_the_first_of_duplicates_counts() {
        let line = br#"{"lev\u0065l":"warn","level":"error"}"#;
        assert_eq!(get(line, "level").map(|v| v.raw()), Some(&b"warn"[..]));
    }

    #[test]
    fn anything_but_one_whole_object_is_not_json() {
        for bad in [
            &b""[..],
            b"   ",
            b"plain text",
            br#"["an","array"]"#,
            br#"{"level":"error""#,
            br#"{"level":"error",}"#,
            br#"{"level":"error"} trailing"#,
            br#"{"level" "error"}"#,
            br#"{"level":err}"#,
            br#"{"a":[1,2}"#,
            br#"{"a":tru}"#,
            br#"{"a":"unterminated}"#,
            br#"{"a":"\"}"#,
            b"{\"a\":\xff\xfe}",
            br#"{level:"error"}"#,
        ] {
            assert!(
                JsonObject::parse(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        for good in [
            &b"{}"[..],
            b" {\"a\" : [ ] , \"b\" : { } }\r",
            b"{\"a\":\"caf\xc3\xa9\\n\"}",
            br#"{"a":[{"b":[1,-2.5e3,true,null,"x"]}]}"#,
        ] {
            assert!(
                JsonObject::parse(good).is_some(),
                "{:?}",
                String::from_utf8_lossy(good)
            );
        }
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_without_recursion() {
        let depth = MAX_DEPTH as usize;
        let ok = format!("{}{}", "{\"a\":".repeat(depth - 1) + "{", "}".repeat(depth));
        assert!(JsonObject::parse(ok.as_bytes()).is_some());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let line = format!("{{\"a\":{deep}}}");
        assert!(JsonObject::parse(line.as_bytes()).is_none());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(
            prop_oneof![Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b'"'),
                Just(b'\\'), Just(b':'), Just(b','), Just(b'1'), Just(b'a'), any::<u8>()],
            0..64,
        ))| {
            if let Some(obj) = JsonObject::parse(&bytes) {
                let _ = obj.get(&FieldPath::parse("a").unwrap());
                let _ = obj.get(&FieldPath::parse("a.b").unwrap());
            }
        });
    }
}
