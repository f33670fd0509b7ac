//! The `console` channel: alerts as readable lines (or JSON lines) on stderr.

use std::io::Write;

use super::{Channel, ChannelError, SendFuture};
use crate::alert::Alert;
use crate::logging::LogFormat;
use crate::timefmt::rfc3339;

/// Writes alerts to stderr.
pub struct Console {
    name: String,
    format: LogFormat,
}

impl Console {
    pub fn new(name: &str, format: LogFormat) -> Console {
        Console {
            name: name.to_string(),
            format,
        }
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
    s
}

/// Renders an alert as one JSON object with `"type": "alert"`.
pub fn render_json(alert: &Alert) -> String {
    let mut v = serde_json::to_value(alert).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("type".into(), "alert".into());
    }
    v.to_string()
}

impl Channel for Console {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, alert: &'a Alert) -> SendFuture<'a> {
        Box::pin(async move {
            let text = match self.format {
                LogFormat::Human => render_human(alert),
                LogFormat::Json => render_json(alert),
            };
            let mut err = std::io::stderr().lock();
            writeln!(err, "{text}").map_err(|e| ChannelError {
                channel: self.name.clone(),
                reason: format!("cannot write to stderr: {e}"),
            })
        })
    }
}
