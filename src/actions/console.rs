//! The `console` channel: alerts as readable lines (or JSON lines) on stderr.

use std::io::Write;

use super::notification::{Kind, Notification};
use super::{Channel, SendError, SendFuture};
use crate::alert::Alert;
use crate::logging::LogFormat;
use crate::timefmt::rfc3339;

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
pub fn render_human(alert: &Alert) -> String {
    let mut s = format!(
        "{} ALERT {} [{}] {}/{}: {}",
        rfc3339(alert.at),
        alert.state.word().to_uppercase(),
        alert.severity.label(),
        alert.watch,
        alert.rule,
        alert.summary
    );
    if let Some(note) = super::render::backlog_note(alert) {
        s.push(' ');
        s.push_str(&note);
    }
    for l in &alert.context {
        s.push_str("\n    : ");
        s.push_str(l);
    }
    if let Some(line) = &alert.line {
        for l in line.lines() {
            s.push_str("\n    | ");
            s.push_str(l);
        }
    }
    if let Some(src) = &alert.source {
        s.push_str("\n    source: ");
        s.push_str(src);
    }
    if let Some(unit) = &alert.unit {
        s.push_str("\n    unit: ");
        s.push_str(unit);
    }
    if let Some(action) = &alert.action {
        s.push_str("\n    action: ");
        s.push_str(action);
    }
    s
}

/// Renders an alert as one JSON object with `"type": "alert"` (and `"kind"` when it is a
/// reminder or a test).
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
    v.to_string()
}

impl Channel for Console {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut text = String::new();
            for n in batch {
                let one = match (&self.template, self.format) {
                    (Some(t), _) => super::render::fill(t, n),
                    (None, LogFormat::Human) => {
                        let mut s = render_human(&n.alert);
                        if n.kind == Kind::Reminder {
                            s.push_str("\n    (reminder: still firing)");
                        }
                        s
                    }
                    (None, LogFormat::Json) => render_json(&n.alert, n.kind),
                };
                text.push_str(&one);
                text.push('\n');
            }
            let mut err = std::io::stderr().lock();
            err.write_all(text.as_bytes())
                .map_err(|e| SendError::transient(format!("cannot write to stderr: {e}")))
        })
    }
}
