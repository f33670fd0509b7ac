//! Structured lines: how a watch's lines are written (`format = "plain" | "json" | "logfmt" |
//! "auto"`), and the level a JSON or logfmt line states in a field, as one of the levels the
//! packs' `error`, `critical` and `warning` patterns stand for.
//!
//! Only the level is read here, through `json_line` and `logfmt_line` (no tree, no
//! allocation). A line that is not what its watch's format says (a JSON watch's cut or binary
//! line, a plain line in a logfmt watch) simply has no level: it is matched as a plain line,
//! never an error. Patterns always match the raw line as well, whatever the format.

use crate::matcher::fields::{FieldPath, FieldValue};
use crate::matcher::json_line::JsonObject;
use crate::matcher::logfmt_line::{logfmt_field, LogfmtPairs};

/// How a watch's lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LineFormat {
    /// Text: only the patterns look at a line (the default; costs nothing more).
    #[default]
    Plain,
    /// One JSON object per line.
    Json,
    /// `key=value` pairs (Go's slog text handler, logrus).
    Logfmt,
    /// Per line: a line starting with `{` that is one JSON object is JSON; otherwise its
    /// logfmt pairs are searched for a level key (a plain line has none, or the grammar
    /// breaks before it).
    Auto,
}

impl LineFormat {
    /// The name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            LineFormat::Plain => "plain",
            LineFormat::Json => "json",
            LineFormat::Logfmt => "logfmt",
            LineFormat::Auto => "auto",
        }
    }

    /// The format named `text` (as in the config).
    pub fn parse(text: &str) -> Option<LineFormat> {
        [
            LineFormat::Plain,
            LineFormat::Json,
            LineFormat::Logfmt,
            LineFormat::Auto,
        ]
        .into_iter()
        .find(|f| f.name() == text)
    }
}

/// The keys a level is looked up under when the watch names none (`level_field`): what
/// python-json-logger (`levelname`), structlog and slog (`level`), Google Cloud (`severity`)
/// and some Go loggers (`lvl`) write.
pub const DEFAULT_LEVEL_FIELDS: &[&str] = &["level", "levelname", "severity", "lvl"];

/// A level, as the packs' slots know them. `Critical` is also an error (as in the packs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Critical,
    Error,
    Warning,
}

impl Level {
    /// The level a field's value names, ASCII case aside: `critical`, `crit`, `fatal`,
    /// `panic`, `dpanic`, `alert`, `emerg`, `emergency` are critical; `error`, `err` an
    /// error; `warning`, `warn` a warning. A number is pino's and bunyan's scale (60 fatal,
    /// 50 error, 40 warn). Anything else (info, debug, a typo) is no level of interest.
    pub fn of(value: &FieldValue<'_>) -> Option<Level> {
        if let FieldValue::Num(_) = value {
            let n = value.as_f64()?;
            return if n >= 60.0 {
                Some(Level::Critical)
            } else if n >= 50.0 {
                Some(Level::Error)
            } else if n >= 40.0 {
                Some(Level::Warning)
            } else {
                None
            };
        }
        let is = |names: &[&str]| names.iter().any(|n| value.eq_ignore_ascii_case(n));
        if is(&[
            "critical",
            "crit",
            "fatal",
            "panic",
            "dpanic",
            "alert",
            "emerg",
            "emergency",
        ]) {
            Some(Level::Critical)
        } else if is(&["error", "err"]) {
            Some(Level::Error)
        } else if is(&["warning", "warn"]) {
            Some(Level::Warning)
        } else {
            None
        }
    }
}

/// A watch's format and the keys its level is found under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineStructure {
    pub format: LineFormat,
    /// Keys (JSON paths) of the level, first found wins; never empty for a structured format.
    pub level_fields: Vec<FieldPath>,
}

impl Default for LineStructure {
    fn default() -> LineStructure {
        LineStructure {
            format: LineFormat::Plain,
            level_fields: default_level_fields(),
        }
    }
}

/// `DEFAULT_LEVEL_FIELDS` as paths.
pub fn default_level_fields() -> Vec<FieldPath> {
    DEFAULT_LEVEL_FIELDS
        .iter()
        .filter_map(|k| FieldPath::parse(k).ok())
        .collect()
}

/// One line as its watch's format reads it: a JSON object, logfmt pairs, or neither.
#[derive(Debug, Clone, Copy)]
pub enum StructuredLine<'a> {
    /// Not structured (a plain watch, or a line that is not what the format says).
    Plain,
    Json(JsonObject<'a>),
    Logfmt(&'a [u8]),
}

impl<'a> StructuredLine<'a> {
    /// The value of field `path` (for logfmt, a one-part path is the key), if the line has it.
    pub fn get(&self, path: &FieldPath) -> Option<FieldValue<'a>> {
        match *self {
            StructuredLine::Plain => None,
            StructuredLine::Json(object) => object.get(path),
            StructuredLine::Logfmt(line) => {
                let mut parts = path.parts();
                let key = parts.next()?;
                if parts.next().is_some() {
                    return None;
                }
                logfmt_field(line, key)
            }
        }
    }
}

impl LineStructure {
    /// `line` as this format reads it; for `Auto`, a line whose first byte past whitespace is
    /// `{` is JSON (or, if it is not one valid object, plain), any other line logfmt.
    pub fn read<'a>(&self, line: &'a [u8]) -> StructuredLine<'a> {
        let json =
            |line| JsonObject::parse(line).map_or(StructuredLine::Plain, StructuredLine::Json);
        match self.format {
            LineFormat::Plain => StructuredLine::Plain,
            LineFormat::Json => json(line),
            LineFormat::Logfmt => StructuredLine::Logfmt(line),
            LineFormat::Auto => {
                if line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
                    json(line)
                } else {
                    StructuredLine::Logfmt(line)
                }
            }
        }
    }

    /// The level `line` states in one of its level fields, if it is a line of this format
    /// and has one. Allocates nothing.
    pub fn level(&self, line: &[u8]) -> Option<Level> {
        self.level_of(&self.read(line))
    }

    /// The level of a line already read: the first level field it has decides (for logfmt,
    /// the first pair whose key is one).
    pub fn level_of(&self, line: &StructuredLine<'_>) -> Option<Level> {
        debug_assert!(
            self.format == LineFormat::Plain || !self.level_fields.is_empty(),
            "a structured format has level fields"
        );
        let value = match *line {
            StructuredLine::Plain => return None,
            StructuredLine::Json(object) => {
                self.level_fields.iter().find_map(|path| object.get(path))?
            }
            StructuredLine::Logfmt(line) => LogfmtPairs::new(line).find_map(|(key, value)| {
                self.level_fields
                    .iter()
                    .any(|f| f.parts().len() == 1 && f.as_str().as_bytes() == key)
                    .then_some(value)
            })?,
        };
        Level::of(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn structure(format: LineFormat) -> LineStructure {
        LineStructure {
            format,
            ..LineStructure::default()
        }
    }

    #[test]
    fn levels_of_json_loggers_are_read_from_their_own_keys() {
        let json = structure(LineFormat::Json);
        // python-json-logger, structlog, Go slog's JSON handler, pino, Cloud Logging.
        let cases: &[(&str, Option<Level>)] = &[
            (
                r#"{"asctime": "2026-12-04 10:00:00,123", "levelname": "ERROR", "message": "socket timeout"}"#,
                Some(Level::Error),
            ),
            (
                r#"{"event": "order rejected", "level": "critical", "timestamp": "2026-12-04T10:00:00Z"}"#,
                Some(Level::Critical),
            ),
            (
                r#"{"time":"2026-12-04T10:00:00Z","level":"WARN","msg":"slow quote","ms":1900}"#,
                Some(Level::Warning),
            ),
            (
                r#"{"level":50,"time":1764842400000,"msg":"boom"}"#,
                Some(Level::Error),
            ),
            (
                r#"{"severity":"EMERGENCY","message":"disk gone"}"#,
                Some(Level::Critical),
            ),
            (r#"{"level":"info","msg":"error rate 0.0%"}"#, None),
            (r#"{"msg":"no level at all","error":"x"}"#, None),
            (r#"{"levelname": "ERROR", "#, None),
            ("\u{0}\u{1}{\"level\":\"error\"}\u{ff}", None),
            (r#"not json level=error"#, None),
        ];
        for (line, want) in cases {
            assert_eq!(json.level(line.as_bytes()), *want, "{line}");
        }
        assert_eq!(json.level(b"{\"level\":\"error\"}\xff\xfe"), None);
    }

    #[test]
    fn levels_of_logfmt_lines_and_auto_detection() {
        let logfmt = structure(LineFormat::Logfmt);
        assert_eq!(
            logfmt.level(br#"time=2026-12-04T10:00:00.000Z level=ERROR msg="quote feed lost""#),
            Some(Level::Error)
        );
        assert_eq!(
            logfmt.level(br#"time="2026-12-04T10:00:00Z" level=fatal msg="cannot bind""#),
            Some(Level::Critical)
        );
        assert_eq!(logfmt.level(br#"msg="level=error here" level=info"#), None);
        assert_eq!(
            logfmt.level(b"2026-12-04 10:00:00,123 - bot - ERROR - x"),
            None
        );
        let auto = structure(LineFormat::Auto);
        assert_eq!(auto.level(br#"  {"level":"error"}"#), Some(Level::Error));
        assert_eq!(
            auto.level(br#"{"level":"error", "#),
            None,
            "cut JSON is plain"
        );
        assert_eq!(auto.level(b"lvl=warn msg=x"), Some(Level::Warning));
        assert_eq!(auto.level(b"ERROR trader: socket timeout"), None);
        assert_eq!(structure(LineFormat::Plain).level(b"level=error"), None);
    }

    #[test]
    fn a_configured_level_field_may_be_a_nested_path() {
        let ecs = LineStructure {
            format: LineFormat::Json,
            level_fields: vec![FieldPath::parse("log.level").unwrap()],
        };
        assert_eq!(
            ecs.level(br#"{"@timestamp":"x","log":{"level":"error"},"message":"m"}"#),
            Some(Level::Error)
        );
        assert_eq!(ecs.level(br#"{"level":"error"}"#), None);
    }
}
