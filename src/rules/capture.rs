//! A number (and a label) from a line a pattern matched: the text of a named group of the
//! pattern's regexes (`(?P<request_time>[\d.]+)`), a field of a JSON object line, or a key of
//! a logfmt line (looked up in place by `matcher::json_line` and `matcher::logfmt_line`).
//!
//! Only lines whose slots include the rule's pattern come here (the engine checks the bit),
//! so lines that match nothing, or only other patterns, cost nothing extra. The capture
//! positions are one reused `CaptureLocations` per regex, and the JSON and logfmt lookups
//! build nothing: taking a value allocates nothing.

use regex::bytes::{CaptureLocations, Regex, RegexBuilder};

use crate::config::{FieldFrom, ValueRule};
use crate::matcher::fields::{FieldPath, FieldValue};
use crate::matcher::json_line::JsonObject;
use crate::matcher::logfmt_line::logfmt_field;
use crate::matcher::pack::PatternPack;

/// Where one value rule finds its number (and label) in a line.
#[derive(Debug)]
pub enum Capture {
    /// The regexes of the pattern that have the field's group, in pack order, then file
    /// order; the first that matches with the field gives it.
    Groups(Vec<Capturing>),
    /// A JSON object line's fields (`None`: a path config refused, never found).
    Json {
        field: Option<FieldPath>,
        by: Option<FieldPath>,
    },
    /// A logfmt line's keys.
    Logfmt {
        field: Box<[u8]>,
        by: Option<Box<[u8]>>,
    },
}

/// One regex with the field's group, ready to capture.
#[derive(Debug)]
pub struct Capturing {
    re: Regex,
    /// Reused positions of `re`'s groups.
    locs: CaptureLocations,
    /// Index of the value's group.
    field: usize,
    /// Index of the label's group (`by`).
    by: Option<usize>,
}

/// What one line gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Taken<'l> {
    /// The number as written (before the rule's unit scale).
    pub value: f64,
    /// The label's text, when the rule has `by` and the regex has its group (empty when the
    /// group did not take part).
    pub label: Option<&'l [u8]>,
}

impl Capture {
    /// Where `rule` finds its number: `packs` are its watch's (for named groups).
    pub fn of(rule: &ValueRule, packs: &[PatternPack]) -> Capture {
        let by = rule.by.as_deref();
        match rule.from {
            FieldFrom::Capture => Capture::groups(packs, &rule.pattern, &rule.field, by),
            FieldFrom::Json => Capture::Json {
                field: FieldPath::parse(&rule.field).ok(),
                by: by.and_then(|b| FieldPath::parse(b).ok()),
            },
            FieldFrom::Logfmt => Capture::Logfmt {
                field: rule.field.as_bytes().into(),
                by: by.map(|b| b.as_bytes().into()),
            },
        }
    }

    /// The regexes of `pattern` in `packs` with a group named `field` (config has checked
    /// there is one, and that each also has `by`).
    pub fn groups(packs: &[PatternPack], pattern: &str, field: &str, by: Option<&str>) -> Capture {
        let mut regexes = Vec::new();
        for def in packs
            .iter()
            .flat_map(|p| &p.patterns)
            .filter(|d| d.name == pattern)
        {
            for src in &def.regexes {
                let Ok(re) = RegexBuilder::new(src)
                    .case_insensitive(!def.case_sensitive)
                    .unicode(false)
                    .build()
                    .or_else(|_| {
                        RegexBuilder::new(src)
                            .case_insensitive(!def.case_sensitive)
                            .build()
                    })
                else {
                    continue;
                };
                let index = |name: &str| re.capture_names().position(|n| n == Some(name));
                let Some(field) = index(field) else {
                    continue;
                };
                let by = by.and_then(index);
                regexes.push(Capturing {
                    locs: re.capture_locations(),
                    re,
                    field,
                    by,
                });
            }
        }
        Capture::Groups(regexes)
    }

    /// The value (and label) of `line`: from the first regex that matches it with the field
    /// written as a number. `None` when none does (`-` for an upstream time nginx did not
    /// have, a literal of the same pattern matched instead).
    pub fn take<'l>(&mut self, line: &'l [u8]) -> Option<Taken<'l>> {
        let regexes = match self {
            Capture::Groups(regexes) => regexes,
            Capture::Json { field, by } => {
                let obj = JsonObject::parse(line)?;
                let value = obj.get(field.as_ref()?)?.as_f64()?;
                let label = by
                    .as_ref()
                    .map(|b| obj.get(b).map_or(&line[0..0], label_of));
                return Some(Taken { value, label });
            }
            Capture::Logfmt { field, by } => {
                let value = logfmt_field(line, field)?.as_f64()?;
                let label = by
                    .as_ref()
                    .map(|b| logfmt_field(line, b).map_or(&line[0..0], label_of));
                return Some(Taken { value, label });
            }
        };
        for c in regexes {
            if c.re.captures_read(&mut c.locs, line).is_none() {
                continue;
            }
            let Some((s, e)) = c.locs.get(c.field) else {
                continue;
            };
            let Some(value) = number(&line[s..e]) else {
                continue;
            };
            let label =
                c.by.map(|i| c.locs.get(i).map_or(&line[0..0], |(s, e)| &line[s..e]));
            return Some(Taken { value, label });
        }
        None
    }
}

/// A label's bytes as written (a string's without its quotes).
fn label_of<'l>(v: FieldValue<'l>) -> &'l [u8] {
    v.raw()
}

/// A finite number written in ASCII (`0.25`, `12`, `1e3`); anything else is none.
fn number(text: &[u8]) -> Option<f64> {
    let v: f64 = std::str::from_utf8(text).ok()?.trim().parse().ok()?;
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::pack::PatternDef;

    fn packs(regexes: &[&str]) -> Vec<PatternPack> {
        vec![PatternPack {
            name: "p".into(),
            origin: "t".into(),
            patterns: vec![PatternDef {
                name: "request".into(),
                literals: vec![],
                regexes: regexes.iter().map(|s| s.to_string()).collect(),
                ignore: vec![],
                ignore_regexes: vec![],
                case_sensitive: false,
                conditions: vec![],
            }],
        }]
    }

    #[test]
    fn the_first_regex_with_a_number_in_the_field_gives_it() {
        let p = packs(&[
            r"other (?P<x>\d+)",
            r#"" (?P<status>\d{3}) .* (?P<t>[\d.-]+)$"#,
            r"rt=(?P<t>\S+)",
        ]);
        let mut c = Capture::groups(&p, "request", "t", Some("status"));
        let got = c.take(br#"GET /" 503 12 "-" 0.250"#).unwrap();
        assert_eq!(got.value, 0.25);
        assert_eq!(got.label, Some(&b"503"[..]));
        // `-` is no number: the next regex is tried, which has no label group.
        let got = c.take(br#"" 200 1 - rt=7"#).unwrap();
        assert_eq!((got.value, got.label), (7.0, None));
        assert_eq!(c.take(b"nothing here"), None);
        assert_eq!(c.take(b"rt=NaN"), None, "only finite numbers");
    }

    #[test]
    fn json_and_logfmt_lines_give_their_field_and_label_and_other_lines_none() {
        let mut j = Capture::Json {
            field: FieldPath::parse("http.duration_ms").ok(),
            by: FieldPath::parse("route").ok(),
        };
        let line = br#"{"level":"info","route":"/api","http":{"status":200,"duration_ms":12.5}}"#;
        let got = j.take(line).unwrap();
        assert_eq!((got.value, got.label), (12.5, Some(&b"/api"[..])));
        assert_eq!(j.take(br#"{"http":{"duration_ms":"x"}}"#), None);
        assert_eq!(
            j.take(br#"{"http":{"duration_ms":1}"#),
            None,
            "malformed JSON"
        );
        assert_eq!(j.take(b"duration_ms=3"), None);
        let mut l = Capture::Logfmt {
            field: b"duration"[..].into(),
            by: None,
        };
        let got = l
            .take(br#"time=x level=info msg="done" duration=0.25"#)
            .unwrap();
        assert_eq!((got.value, got.label), (0.25, None));
        assert_eq!(l.take(b"level=info msg=done"), None);
    }
}
