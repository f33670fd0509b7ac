//! Alert texts for people: the subject and body every channel builds its message from, the
//! default layout and operator templates (`template = "..."`, `subject = "..."`).

use std::borrow::Cow;
use std::fmt::Write;

use crate::actions::notification::{Kind, Notification};
use crate::actions::quote;
use crate::core::alert::{Alert, AlertState};
use crate::core::timefmt::rfc3339;

/// Most characters of a subject, whatever the template yields: far inside RFC 5322's 998 per
/// header line (and Slack's 150 for a header block is cut there), readable on a phone.
pub const SUBJECT_MAX: usize = 200;

/// What every text says of an alert whose line was read from a backlog (after downtime, or by
/// a source that fell behind): `(from the backlog, written at 2026-12-01T09:12:00Z)`; `None`
/// for a live one. The one place this wording lives, so that no channel pages old news as new.
pub fn backlog_note(a: &Alert) -> Option<String> {
    a.written
        .map(|t| format!("(from the backlog, written at {})", rfc3339(t)))
}

/// The subject of a batch: `[CRITICAL] gemini-trader: error-burst firing (+2 more, 1 resolved)`.
/// It names the most severe notification that is not a resolution (a firing, a reminder, an
/// event, a test): a resolution in the same batch never hides a firing. Resolutions are
/// counted as such. One line (control characters and breaks become spaces), at most
/// `SUBJECT_MAX` characters, cut with ` …`; "(from the backlog)" when its line was old.
pub fn subject(batch: &[Notification], template: Option<&str>) -> String {
    let resolved =
        |n: &&Notification| n.kind == Kind::Notice && n.alert.state == AlertState::Resolved;
    // The first of the most severe: `min_by_key` keeps the earliest of equals.
    let severity = |n: &&Notification| std::cmp::Reverse(n.alert.severity);
    let Some(first) = (batch.iter().filter(|n| !resolved(n)).min_by_key(severity))
        .or_else(|| batch.iter().min_by_key(severity))
    else {
        return "logwarden".to_string();
    };
    let one = match template {
        Some(t) => fill(t, first),
        None => {
            let label = match (first.kind, first.alert.state) {
                (Kind::Test, _) => "TEST",
                (Kind::Notice, AlertState::Resolved) => "RESOLVED",
                _ => first.alert.severity.label(),
            };
            let mut one = format!(
                "[{label}] {}: {} {}",
                first.alert.watch,
                first.alert.rule,
                first.what()
            );
            if first.alert.written.is_some() {
                one.push_str(" (from the backlog)");
            }
            one
        }
    };
    let n_resolved = batch.iter().filter(resolved).count();
    let others = batch.len() - 1;
    let line = if resolved(&first) || n_resolved == 0 {
        // All alike: "+N more" needs no qualifier.
        match others {
            0 => one,
            n => format!("{one} (+{n} more)"),
        }
    } else {
        match others - n_resolved {
            0 => format!("{one} (+{n_resolved} resolved)"),
            n => format!("{one} (+{n} more, {n_resolved} resolved)"),
        }
    };
    let out = quote::cut_chars(&quote::one_line(&line), SUBJECT_MAX).into_owned();
    debug_assert!(out.chars().count() <= SUBJECT_MAX && !out.contains(['\r', '\n']));
    out
}

/// The text of a batch: each notification's text, separated by a rule. No control
/// character but the line break and the tab is left: those from a log line are written as
/// visible text (`\x1b`), so no terminal that shows a mail, an ntfy or a Telegram message
/// takes one as an escape.
pub fn body(batch: &[Notification], template: Option<&str>) -> String {
    let mut out = String::new();
    for (i, n) in batch.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n----------------------------------------\n\n");
        }
        match template {
            Some(t) => out.push_str(&fill(t, n)),
            None => out.push_str(&text(n)),
        }
    }
    match quote::escape_controls(&out, true) {
        Cow::Borrowed(_) => out,
        Cow::Owned(escaped) => escaped,
    }
}

/// The default text of one notification: headline, numbers, where, when, what was done,
/// then the context and the line (a whole traceback when the event was one).
pub fn text(n: &Notification) -> String {
    let a = &n.alert;
    let mut s = format!(
        "{} [{}] {} / {}\n{}\n",
        n.what().to_uppercase(),
        a.severity.label(),
        a.watch,
        a.rule,
        quote::one_line(&a.summary)
    );
    let _ = write!(s, "host: {}", n.host);
    if let Some(u) = &a.unit {
        let _ = write!(s, " | unit: {u}");
    }
    if let Some(src) = &a.source {
        let _ = write!(s, " | source: {src}");
    }
    let _ = write!(s, "\nat: {}", rfc3339(a.at));
    if let Some(note) = backlog_note(a) {
        let _ = write!(s, " {note}");
    }
    if (n.kind != Kind::Notice || a.state == AlertState::Resolved) && n.since_ms.is_some() {
        let _ = write!(s, " (firing since {})", rfc3339(n.since()));
    }
    if let Some(act) = &a.action {
        let _ = write!(s, "\naction: {act}");
    }
    if let Some(r) = &n.rerouted {
        let _ = write!(
            s,
            "\nsent here because channel {} kept failing: {}",
            r.from,
            quote::one_line(&r.reason)
        );
    }
    if !a.context.is_empty() {
        s.push_str("\n\nbefore it:");
        for entry in &a.context {
            push_quoted(&mut s, entry);
        }
    }
    if let Some(line) = &a.line {
        s.push_str("\n\nline:");
        push_quoted(&mut s, line);
    }
    s
}

/// The prefix of every quoted physical line of a log line, in the default text.
pub const QUOTE_PREFIX: &str = "    | ";

/// Appends `text` from a log line, every physical line of it (a context entry or an event
/// may hold line breaks) on a line of its own behind `QUOTE_PREFIX`, so that no log text
/// (`Bcc: ...`, `action: ...`) reads like logwarden's own.
fn push_quoted(s: &mut String, text: &str) {
    for l in quote::physical_lines(text) {
        s.push('\n');
        s.push_str(QUOTE_PREFIX);
        s.push_str(l);
    }
}

/// Fills an operator template for one notification.
pub fn fill(template: &str, n: &Notification) -> String {
    crate::core::text_template::render(template, |k| placeholder(k, n))
}

/// The value of placeholder `k` for `n`, as it is (each channel escapes it for its format).
pub fn placeholder<'a>(k: &str, n: &'a Notification) -> Cow<'a, str> {
    let a = &n.alert;
    match k {
        "watch" => Cow::Borrowed(a.watch.as_str()),
        "rule" => Cow::Borrowed(a.rule.as_str()),
        "state" => Cow::Borrowed(n.what()),
        "STATE" => Cow::Owned(n.what().to_uppercase()),
        "severity" => Cow::Owned(a.severity.label().to_lowercase()),
        "SEVERITY" => Cow::Borrowed(a.severity.label()),
        "summary" => Cow::Borrowed(a.summary.as_str()),
        "line" => Cow::Borrowed(a.line.as_deref().unwrap_or("")),
        "context" => Cow::Owned(a.context.join("\n")),
        "source" => Cow::Borrowed(a.source.as_deref().unwrap_or("")),
        "unit" => Cow::Borrowed(a.unit.as_deref().unwrap_or("")),
        "host" => Cow::Borrowed(n.host.as_str()),
        "at" => Cow::Owned(rfc3339(a.at)),
        "since" => Cow::Owned(rfc3339(n.since())),
        "action" => Cow::Borrowed(a.action.as_deref().unwrap_or("")),
        "written" => Cow::Owned(a.written.map(rfc3339).unwrap_or_default()),
        "backlog" => Cow::Owned(backlog_note(a).unwrap_or_default()),
        "kind" => Cow::Borrowed(match n.kind {
            Kind::Notice => "notice",
            Kind::Reminder => "reminder",
            Kind::Keepalive => "keepalive",
            Kind::Test => "test",
        }),
        _ => Cow::Borrowed(""),
    }
}

/// `text` cut to at most `max` UTF-16 code units (how Telegram counts), marked when cut.
pub fn cut_utf16(text: &str, max: usize) -> Cow<'_, str> {
    if text.encode_utf16().count() <= max {
        return Cow::Borrowed(text);
    }
    const MARK: &str = "\n[... cut; the full text is in logwarden's log and the other channels]";
    let budget = max.saturating_sub(MARK.encode_utf16().count());
    let mut used = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if used + c.len_utf16() > budget {
            break;
        }
        used += c.len_utf16();
        end = i + c.len_utf8();
    }
    Cow::Owned(format!("{}{MARK}", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::notification::VERSION;
    use crate::core::alert::Alert;
    use crate::core::alert::Severity;

    fn note(state: AlertState, kind: Kind) -> Notification {
        let mut alert = Alert::new(
            "gemini-trader",
            "error-burst",
            Severity::Critical,
            state,
            "11 matches of error within 5m".into(),
        );
        alert.line = Some("Traceback (most recent call last):\n  File \"x.py\"\nValueError".into());
        alert.context = vec!["INFO before".into()];
        alert.unit = Some("gemini-trader.service".into());
        Notification {
            version: VERSION,
            id: 1,
            channel: "mail".into(),
            kind,
            alert,
            host: "pi4".into(),
            since_ms: Some(0),
            rerouted: None,
            origin: 0,
            siblings: Vec::new(),
            position: None,
            thread: None,
        }
    }

    #[test]
    fn subjects_say_severity_watch_rule_and_state() {
        let f = note(AlertState::Firing, Kind::Notice);
        assert_eq!(
            subject(std::slice::from_ref(&f), None),
            "[CRITICAL] gemini-trader: error-burst firing"
        );
        let r = note(AlertState::Resolved, Kind::Notice);
        assert_eq!(
            subject(&[r.clone(), f.clone()], None),
            "[CRITICAL] gemini-trader: error-burst firing (+1 resolved)"
        );
        assert_eq!(
            subject(&[r.clone(), r.clone()], None),
            "[RESOLVED] gemini-trader: error-burst resolved (+1 more)"
        );
        let rem = note(AlertState::Firing, Kind::Reminder);
        assert!(subject(&[rem], None).ends_with("error-burst still firing"));
        assert_eq!(
            subject(&[f], Some("{host}: {watch} {STATE}")),
            "pi4: gemini-trader FIRING"
        );
    }

    #[test]
    fn the_body_quotes_the_whole_traceback_and_its_context() {
        let t = text(&note(AlertState::Firing, Kind::Notice));
        assert!(t.contains("FIRING [CRITICAL] gemini-trader / error-burst"));
        assert!(t.contains("    | INFO before"));
        assert!(t.contains(
            "    | Traceback (most recent call last):\n    |   File \"x.py\"\n    | ValueError"
        ));
        assert!(t.contains("unit: gemini-trader.service"));
    }

    #[test]
    fn long_texts_are_cut_on_character_boundaries() {
        let long = "é".repeat(5000) + "😀";
        let cut = cut_utf16(&long, 4096);
        assert!(cut.encode_utf16().count() <= 4096);
        assert!(cut.ends_with("other channels]"));
        assert_eq!(cut_utf16("short", 4096), "short");
    }

    /// Finding 7 of issue 15: a mail holding a resolution of a more severe alert and a new
    /// firing was titled by the resolution.
    #[test]
    fn the_subject_names_the_most_severe_firing_before_any_resolution() {
        let mut stale = note(AlertState::Resolved, Kind::Notice);
        stale.alert.rule = "log-stale".into();
        let mut burst = note(AlertState::Firing, Kind::Notice);
        burst.alert.severity = Severity::Warning;
        let mut info = note(AlertState::Firing, Kind::Notice);
        info.alert.severity = Severity::Info;
        info.alert.rule = "slow".into();
        assert_eq!(
            subject(&[stale.clone(), burst.clone()], None),
            "[WARNING] gemini-trader: error-burst firing (+1 resolved)"
        );
        assert_eq!(
            subject(&[info, stale.clone(), burst.clone(), stale], None),
            "[WARNING] gemini-trader: error-burst firing (+1 more, 2 resolved)"
        );
    }

    #[test]
    fn a_subject_stays_one_short_line_whatever_the_template_yields() {
        let mut n = note(AlertState::Firing, Kind::Notice);
        n.alert.line = Some(format!("{}\r\nBcc: x@example.com", "y".repeat(2000)));
        let s = subject(
            std::slice::from_ref(&n),
            Some("[{SEVERITY}] {watch}: {line}"),
        );
        assert!(s.chars().count() <= SUBJECT_MAX, "{}", s.len());
        assert!(s.starts_with("[CRITICAL] gemini-trader: yyyy"), "{s}");
        assert!(s.ends_with(" …") && !s.contains(['\r', '\n']), "{s}");
    }

    #[test]
    fn an_alert_from_a_backlog_says_so_in_subject_body_and_templates() {
        let mut n = note(AlertState::Firing, Kind::Notice);
        assert!(!text(&n).contains("backlog"), "a live alert is not marked");
        n.alert.written = crate::core::timefmt::parse_rfc3339("2026-11-30T09:12:00Z");
        let note = "(from the backlog, written at 2026-11-30T09:12:00.000Z)";
        assert!(text(&n).contains(note), "{}", text(&n));
        assert!(subject(std::slice::from_ref(&n), None).ends_with("firing (from the backlog)"));
        assert_eq!(
            fill("{written} {backlog}", &n),
            format!("2026-11-30T09:12:00.000Z {note}")
        );
        assert!(crate::actions::channels::console::render_human(&n.alert).contains(note));
    }
}
