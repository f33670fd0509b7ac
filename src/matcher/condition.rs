//! Field conditions of a pattern (`where = ["status >= 500", "level in [error, critical]"]`):
//! what one says, read from its text at load, and whether a structured line's field meets it.
//!
//! `FIELD OP VALUE`, with `OP` one of `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`. A value is a
//! number, a word, or a `"quoted text"`; `in` takes a list `[a, b, "c d"]`. Numbers compare
//! numerically when the field's value is a number too (`"500"` in logfmt is one), anything
//! else as text, ASCII case aside (`level == error` holds for `"ERROR"`). `<`, `<=`, `>`,
//! `>=` compare numbers only: a field that is not a number fails them. A line without the
//! field fails every condition on it, `!=` included ("status != 200" asks for a status).

use crate::matcher::fields::{FieldPath, FieldValue};

/// One parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    field: FieldPath,
    op: Op,
    /// One value, or the list of `in` (never empty).
    values: Box<[Operand]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

/// A value to compare with: its text, and its number if it is one.
#[derive(Debug, Clone, PartialEq)]
struct Operand {
    text: Box<str>,
    number: Option<f64>,
}

/// Why a condition's text was refused, and where in it (a byte offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConditionError {
    pub offset: usize,
    pub message: String,
}

fn fail<T>(offset: usize, message: impl Into<String>) -> Result<T, ConditionError> {
    Err(ConditionError {
        offset,
        message: message.into(),
    })
}

impl Condition {
    /// Reads `FIELD OP VALUE` (see the module comment).
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let b = text.as_bytes();
        let mut i = skip_ws(b, 0);
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !b"=!<>[".contains(&b[i]) {
            i += 1;
        }
        if i == start {
            return fail(
                start,
                "a condition starts with a field name (`status >= 500`)",
            );
        }
        let field = FieldPath::parse(&text[start..i]).map_err(|e| ConditionError {
            offset: start,
            message: e.to_string(),
        })?;
        i = skip_ws(b, i);
        let rest = &text[i..];
        let (op, len) = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("in", Op::In),
        ]
        .into_iter()
        .find(|(s, op)| {
            rest.starts_with(s)
                && (*op != Op::In
                    || rest[2..]
                        .bytes()
                        .next()
                        .is_some_and(|c| c.is_ascii_whitespace() || c == b'['))
        })
        .map(|(s, op)| (op, s.len()))
        .ok_or_else(|| ConditionError {
            offset: i,
            message: "expected an operator: ==, !=, <, <=, >, >=, in".into(),
        })?;
        i = skip_ws(b, i + len);
        let mut values = Vec::new();
        if op == Op::In {
            if b.get(i) != Some(&b'[') {
                return fail(i, "`in` takes a list: `level in [error, critical]`");
            }
            i = skip_ws(b, i + 1);
            loop {
                let (v, next) = operand(text, i, true)?;
                values.push(v);
                i = skip_ws(b, next);
                match b.get(i) {
                    Some(b',') => i = skip_ws(b, i + 1),
                    Some(b']') => {
                        i += 1;
                        break;
                    }
                    _ => return fail(i, "expected `,` or `]` in the list"),
                }
            }
        } else {
            let (v, next) = operand(text, i, false)?;
            if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && v.number.is_none() {
                return fail(
                    i,
                    format!(
                        "{:?} is not a number, and `<`, `<=`, `>`, `>=` compare numbers",
                        &*v.text
                    ),
                );
            }
            values.push(v);
            i = next;
        }
        i = skip_ws(b, i);
        if i < b.len() {
            return fail(
                i,
                "unexpected text after the condition (quote a value with spaces)",
            );
        }
        debug_assert!(!values.is_empty());
        Ok(Condition {
            field,
            op,
            values: values.into_boxed_slice(),
        })
    }

    /// The field it reads.
    pub fn field(&self) -> &FieldPath {
        &self.field
    }

    /// Whether a line whose field has `value` (`None`: the line has no such field) meets it.
    pub fn holds(&self, value: Option<FieldValue<'_>>) -> bool {
        let Some(value) = value else { return false };
        let number = value.as_f64();
        let eq = |o: &Operand| match (o.number, number) {
            (Some(a), Some(b)) => a == b,
            _ => value.eq_ignore_ascii_case(&o.text),
        };
        let ordered = |test: fn(f64, f64) -> bool| match (number, self.values[0].number) {
            (Some(v), Some(t)) => test(v, t),
            _ => false,
        };
        match self.op {
            Op::Eq => eq(&self.values[0]),
            Op::Ne => !eq(&self.values[0]),
            Op::In => self.values.iter().any(eq),
            Op::Lt => ordered(|v, t| v < t),
            Op::Le => ordered(|v, t| v <= t),
            Op::Gt => ordered(|v, t| v > t),
            Op::Ge => ordered(|v, t| v >= t),
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// A value at `i`: `"quoted"` or a bare word (in a list, also ended by `,` and `]`).
fn operand(text: &str, i: usize, in_list: bool) -> Result<(Operand, usize), ConditionError> {
    let b = text.as_bytes();
    let (value, next) = if b.get(i) == Some(&b'"') {
        match text[i + 1..].find('"') {
            Some(len) => (&text[i + 1..i + 1 + len], i + len + 2),
            None => return fail(i, "a quoted value is never closed"),
        }
    } else {
        let mut j = i;
        while j < b.len()
            && !b[j].is_ascii_whitespace()
            && !(in_list && (b[j] == b',' || b[j] == b']'))
        {
            j += 1;
        }
        if j == i {
            return fail(i, "expected a value");
        }
        (&text[i..j], j)
    };
    let number = value.parse::<f64>().ok().filter(|n| n.is_finite());
    Ok((
        Operand {
            text: value.into(),
            number,
        },
        next,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(raw: &str) -> Option<FieldValue<'_>> {
        Some(FieldValue::Str {
            raw: raw.as_bytes(),
            escaped: false,
        })
    }

    fn n(raw: &str) -> Option<FieldValue<'_>> {
        Some(FieldValue::Num(raw.as_bytes()))
    }

    #[test]
    fn numbers_compare_numerically_and_words_ignore_case() {
        let c = |t: &str| Condition::parse(t).unwrap();
        assert!(c("status >= 500").holds(n("502")));
        assert!(c("status>=500").holds(s("500")), "a logfmt number is text");
        assert!(!c("status >= 500").holds(n("404")));
        assert!(!c("status >= 500").holds(s("five hundred")));
        assert!(!c("status >= 500").holds(None));
        assert!(c("status == 500").holds(n("500.0")));
        assert!(c("level == error").holds(s("ERROR")));
        assert!(c("level != info").holds(s("warning")));
        assert!(
            !c("level != info").holds(None),
            "a missing field fails != too"
        );
        assert!(c("level in [error, critical]").holds(s("Critical")));
        assert!(c("level in [error,critical]").holds(s("error")));
        assert!(!c("level in [error, critical]").holds(s("info")));
        assert!(c("msg == \"socket timeout\"").holds(s("Socket Timeout")));
        assert!(c("http.status in [502, 503, \"504\"]").holds(n("504")));
        assert!(c("ms < 1.5").holds(n("1.25")));
        assert!(c("ms <= 1.5").holds(n("1.5")));
        assert!(c("ms > -1").holds(n("0")));
        assert!(c("ok == true").holds(Some(FieldValue::Bool(true))));
        assert_eq!(c("http.status in [1]").field().as_str(), "http.status");
    }

    #[test]
    fn bad_conditions_say_what_and_where() {
        let e = |t: &str| Condition::parse(t).unwrap_err();
        assert_eq!(e("").offset, 0);
        assert_eq!(e(">= 500").offset, 0);
        assert_eq!(e("status => 500").offset, 7);
        assert_eq!(e("status 500").offset, 7);
        assert_eq!(e("status >= ").offset, 10);
        assert_eq!(e("status >= high").offset, 10);
        assert!(e("status >= high").message.contains("not a number"));
        assert_eq!(e("level in error").offset, 9);
        assert_eq!(e("level in [error critical]").offset, 16);
        assert_eq!(e("level in [error,").offset, 16);
        assert_eq!(e("msg == \"open").offset, 7);
        assert_eq!(e("msg == socket timeout").offset, 14);
        assert_eq!(e("a..b == 1").offset, 0);
        assert_eq!(e("level inside").offset, 6);
    }

    #[test]
    fn any_text_is_parsed_or_refused_never_panicked_on() {
        let pieces = [
            "é", "in", "[", "]", ",", "\"", "==", "<", "!", " ", "a.b", "5", "ü€", "\u{0}",
        ];
        let mut n = 0u32;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let text = format!("{a}{b}{c}{d}");
                        if let Err(e) = Condition::parse(&text) {
                            assert!(e.offset <= text.len(), "{text:?}");
                            assert!(text.is_char_boundary(e.offset), "{text:?}");
                        }
                        n += 1;
                    }
                }
            }
        }
        assert_eq!(n, 14u32.pow(4));
    }
}
