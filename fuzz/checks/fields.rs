//! Structured-line fields (`matcher::json_line`, `matcher::logfmt_line`) against arbitrary
//! bytes and against serde_json.
//!
//! The first input byte picks a check. Arbitrary bytes: neither reader panics, a logfmt
//! reading ends, and every line serde_json reads as an object our check accepts too (ours is
//! laxer: raw control bytes and invalid UTF-8 inside strings pass). Generated objects: an
//! object built from the input (nested objects, arrays, strings full of escapes, numbers,
//! literals) and written by serde_json reads back, every leaf found at its path with serde's
//! value. Generated logfmt: pairs written with quoting where needed read back the same.

use logwarden::matcher::fields::{FieldPath, FieldValue};
use logwarden::matcher::json_line::JsonObject;
use logwarden::matcher::logfmt_line::{logfmt_field, LogfmtPairs};
use serde_json::{Map, Value};

use super::input::Input;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    match input.byte() % 3 {
        0 => arbitrary(input.rest()),
        1 => generated_json(&mut input),
        _ => generated_logfmt(&mut input),
    }
}

fn arbitrary(bytes: &[u8]) {
    let ours = JsonObject::parse(bytes);
    if let Some(obj) = ours {
        for path in ["a", "a.b", "level"] {
            let _ = obj.get(&FieldPath::parse(path).unwrap());
        }
    }
    if let Ok(Value::Object(_)) = serde_json::from_slice::<Value>(bytes) {
        assert!(ours.is_some(), "serde_json reads an object we refuse");
    }
    let mut pairs = LogfmtPairs::new(bytes);
    let n = pairs.by_ref().take(bytes.len() + 1).count();
    assert!(n <= bytes.len(), "more pairs than bytes");
    let _ = logfmt_field(bytes, b"level");
}

/// A short key of letters and (sometimes) a quote, backslash or unicode.
fn key(input: &mut Input) -> String {
    let raw = input.short();
    let mut k: String = raw
        .iter()
        .take(6)
        .map(|&b| match b % 8 {
            0 => '"',
            1 => '\\',
            2 => 'é',
            _ => char::from(b'a' + b % 26),
        })
        .collect();
    if k.is_empty() || k.contains('.') {
        k.push('k');
    }
    k
}

fn value(input: &mut Input, depth: u32) -> Value {
    match input.byte() % 8 {
        0 if depth < 4 => {
            let mut m = Map::new();
            for _ in 0..input.byte() % 4 {
                let k = key(input);
                m.insert(k, value(input, depth + 1));
            }
            Value::Object(m)
        }
        1 if depth < 4 => Value::Array(
            (0..input.byte() % 3)
                .map(|_| value(input, depth + 1))
                .collect(),
        ),
        2 => Value::Bool(input.byte().is_multiple_of(2)),
        3 => Value::Null,
        4 => Value::from(f64::from(input.u16() as i16) / 8.0),
        5 => Value::from(i64::from(input.u16()) * 1_000_003),
        _ => Value::String(String::from_utf8_lossy(input.short()).into_owned()),
    }
}

fn same(ours: FieldValue, theirs: &Value) -> bool {
    match theirs {
        Value::String(s) => {
            matches!(ours, FieldValue::Str { .. }) && ours.chars().collect::<String>() == *s
        }
        Value::Number(n) => ours.as_f64() == n.as_f64(),
        Value::Bool(b) => ours == FieldValue::Bool(*b),
        Value::Null => ours == FieldValue::Null,
        Value::Array(_) | Value::Object(_) => {
            let FieldValue::Composite(raw) = ours else {
                return false;
            };
            serde_json::from_slice::<Value>(raw).ok().as_ref() == Some(theirs)
        }
    }
}

/// Checks every path of `obj` (keys joined by dots) against `line`.
fn check_leaves(line: &JsonObject, obj: &Map<String, Value>, prefix: &str) {
    for (k, v) in obj {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let Ok(parsed) = FieldPath::parse(&path) else {
            continue;
        };
        let found = line.get(&parsed);
        assert!(
            found.is_some_and(|f| same(f, v)),
            "path {path:?}: found {found:?}, serde_json has {v}"
        );
        if let Value::Object(inner) = v {
            check_leaves(line, inner, &path);
        }
    }
}

fn generated_json(input: &mut Input) {
    let mut m = Map::new();
    for _ in 0..1 + input.byte() % 6 {
        let k = key(input);
        m.insert(k, value(input, 0));
    }
    let pretty = input.byte().is_multiple_of(2);
    let text = if pretty {
        serde_json::to_string_pretty(&m).unwrap()
    } else {
        serde_json::to_string(&m).unwrap()
    };
    let line = JsonObject::parse(text.as_bytes()).expect("serde_json's own object is accepted");
    check_leaves(&line, &m, "");
}

fn generated_logfmt(input: &mut Input) {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for i in 0..1 + input.byte() % 6 {
        let k: String = format!("k{i}");
        let v = String::from_utf8_lossy(input.short()).into_owned();
        pairs.push((k, v));
    }
    let mut line = String::new();
    for (k, v) in &pairs {
        let bare = !v.is_empty()
            && v.bytes()
                .all(|b| b > b' ' && b != b'"' && b != b'=' && b != b'\\');
        if bare {
            line.push_str(&format!("{k}={v} "));
        } else {
            line.push_str(&format!("{k}={} ", serde_json::to_string(v).unwrap()));
        }
    }
    for (k, v) in &pairs {
        let found = logfmt_field(line.as_bytes(), k.as_bytes()).expect("a written key is found");
        assert_eq!(found.chars().collect::<String>(), *v, "in {line:?}");
    }
    let mut all = LogfmtPairs::new(line.as_bytes());
    assert_eq!(all.by_ref().count(), pairs.len());
    assert!(!all.malformed());
}
