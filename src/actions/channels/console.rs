//! The `console` channel: alerts as readable lines (or JSON lines) on stderr.

use std::fmt::Write as _;
use std::io::Write;

use crate::actions::notification::{Kind, Notification};
use crate::actions::{quote, Channel, SendError, SendFuture};
use crate::core::alert::Alert;
use crate::core::logging::LogFormat;
use crate::core::timefmt::rfc3339;

/// Writes alerts to stderr.
pub struct Console {
    format: LogFormat,
    template: Option<String>,
}

impl Console {
    pub fn new(format: LogFormat, template: Option<String>) -> Console {
        Console { format, template }
    }
}

/// Renders an alert for a person: one headline, then the line that caused it, indented.
/// Every field is quoted with its control characters made visible (`\x1b`, tabs kept), and
/// every physical line of the context and the line gets its prefix: a log line cannot
/// retitle, clear or move the operator's terminal, nor pass for logwarden's own text.
pub fn render_human(alert: &Alert) -> String {
    let esc = |s: &str| quote::escape_controls(s, false).into_owned();
    let mut s = format!(
        "{} ALERT {} [{}] {}/{}: {}",
        rfc3339(alert.at),
        alert.state.word().to_uppercase(),
        alert.severity.label(),
        esc(&alert.watch),
        esc(&alert.rule),
        esc(&alert.summary)
    );
    if let Some(note) = crate::actions::render::backlog_note(alert) {
        s.push(' ');
        s.push_str(&note);
    }
    for entry in &alert.context {
        for l in quote::physical_lines(entry) {
            s.push_str("\n    : ");
            s.push_str(&esc(l));
        }
    }
    if let Some(line) = &alert.line {
        for l in quote::physical_lines(line) {
            s.push_str("\n    | ");
            s.push_str(&esc(l));
        }
    }
    for (label, value) in [
        ("source", &alert.source),
        ("unit", &alert.unit),
        ("action", &alert.action),
    ] {
        if let Some(v) = value {
            let _ = write!(s, "\n    {label}: {}", esc(v));
        }
    }
    s
}

/// Renders an alert as one JSON object with `"type": "alert"` (and `"kind"` when it is a
/// reminder or a test), every control character escaped (DEL and C1 too).
pub fn render_json(alert: &Alert, kind: Kind) -> String {
    let mut v = serde_json::to_value(alert).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("type".into(), "alert".into());
        if kind != Kind::Notice {
            obj.insert(
                "kind".into(),
                serde_json::to_value(kind).unwrap_or_default(),
            );
        }
    }
    // JSON escapes C0 controls itself; DEL and the C1 controls (CSI is U+009B) only ever
    // stand inside strings, where `\u` escapes keep the same value.
    let text = v.to_string();
    if !text
        .chars()
        .any(|c| c == '\x7f' || ('\u{80}'..='\u{9f}').contains(&c))
    {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 12);
    for c in text.chars() {
        if c == '\x7f' || ('\u{80}'..='\u{9f}').contains(&c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// What the console writes for one notification (without the final newline).
pub fn render(format: LogFormat, template: Option<&str>, n: &Notification) -> String {
    match (template, format) {
        // An operator's layout keeps its line breaks; nothing else passes raw.
        (Some(t), _) => {
            quote::escape_controls(&crate::actions::render::fill(t, n), true).into_owned()
        }
        (None, LogFormat::Human) => {
            let mut s = render_human(&n.alert);
            if n.kind == Kind::Reminder {
                s.push_str("\n    (reminder: still firing)");
            }
            s
        }
        (None, LogFormat::Json) => render_json(&n.alert, n.kind),
    }
}

impl Channel for Console {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut text = String::new();
            for n in batch {
                text.push_str(&render(self.format, self.template.as_deref(), n));
                text.push('\n');
            }
            let mut err = std::io::stderr().lock();
            err.write_all(text.as_bytes())
                .map_err(|e| SendError::transient(format!("cannot write to stderr: {e}")))
        })
    }
}
