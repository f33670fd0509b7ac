//! The small template language of alert texts: `{placeholder}` is replaced by a value,
//! `{{` and `}}` stand for `{` and `}`. Checked when the config is loaded, so a typo in a
//! template is a config error with its position, not a broken alert at 3 a.m.

use std::borrow::Cow;

/// Every placeholder a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "watch", "rule", "state", "STATE", "severity", "SEVERITY", "summary", "line", "context",
    "source", "unit", "host", "at", "since", "action", "kind", "written", "backlog",
];

/// A problem in a template, for a config error.
pub fn check(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        let (c, after) = (rest.as_bytes()[i], &rest[i + 1..]);
        if after.as_bytes().first() == Some(&c) {
            rest = &after[1..];
            continue;
        }
        if c == b'}' {
            return Err("a lone `}` (write `}}` for a brace)".into());
        }
        let Some(end) = after.find('}') else {
            return Err("a `{` is never closed (write `{{` for a brace)".into());
        };
        let name = &after[..end];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}}; known: {}",
                PLACEHOLDERS.join(", ")
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// Fills `template`; `value` gives each placeholder's text. Unknown placeholders (which
/// `check` rejects at load) are kept as written.
pub fn render<'a>(template: &str, value: impl Fn(&str) -> Cow<'a, str>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let (c, after) = (rest.as_bytes()[i], &rest[i + 1..]);
        if after.as_bytes().first() == Some(&c) {
            out.push(c as char);
            rest = &after[1..];
            continue;
        }
        match (c, after.find('}')) {
            (b'{', Some(end)) if PLACEHOLDERS.contains(&&after[..end]) => {
                out.push_str(&value(&after[..end]));
                rest = &after[end + 1..];
            }
            _ => {
                out.push(c as char);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A body template's placeholders: only `{name}` with `name` made of letters and `_` is
/// one (it must be known); every other brace is the body's own, as JSON's are. Offsets and
/// names of the placeholders of `template`.
fn body_placeholders(template: &str) -> impl Iterator<Item = (usize, &str)> {
    template.match_indices('{').filter_map(move |(i, _)| {
        let after = &template[i + 1..];
        let end = after.find(|c: char| !(c.is_ascii_alphabetic() || c == '_'))?;
        (end > 0 && after[end..].starts_with('}')).then(|| (i, &after[..end]))
    })
}

/// A problem in a body template (`{name}` placeholders among literal braces).
pub fn check_body(template: &str) -> Result<(), String> {
    for (_, name) in body_placeholders(template) {
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}}; known: {}",
                PLACEHOLDERS.join(", ")
            ));
        }
    }
    Ok(())
}

/// Fills a body template: each `{name}` by `value(name)`, every other character as written.
pub fn render_body<'a>(template: &str, value: impl Fn(&str) -> Cow<'a, str>) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut copied = 0;
    for (i, name) in body_placeholders(template) {
        out.push_str(&template[copied..i]);
        out.push_str(&value(name));
        copied = i + name.len() + 2;
    }
    out.push_str(&template[copied..]);
    out
}

/// `text` escaped as the inside of a JSON string (quotes, backslashes, every control
/// character), so a value from a log line cannot end the string it stands in.
pub fn json_string_inside(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_string()).to_string();
    debug_assert!(quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"'));
    quoted[1..quoted.len() - 1].to_string()
}

/// Whether `template`, its values escaped by `json_string_inside`, is JSON whatever the
/// values: filled with values made of every character that could break out of a string.
pub fn check_json(template: &str) -> Result<(), String> {
    const NASTY: &str = "\"}]\\\n\u{1b}[31m{{";
    let filled = render_body(template, |_| Cow::Owned(json_string_inside(NASTY)));
    serde_json::from_str::<serde_json::Value>(&filled)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "the body is not JSON once filled in ({e}); write each {{placeholder}} inside a JSON string, as in \"text\": \"{{summary}}\""
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_cannot_leave_their_string() {
        let v = json_string_inside("a\"}, \"x\": \"\\\n\u{1b}");
        let doc = format!("{{\"text\": \"{v}\"}}");
        assert_eq!(
            render_body("{\"a\": {\"b\": \"{watch}\"}, \"c\": \"{x-y}{}\"}", |k| {
                Cow::Owned(k.to_uppercase())
            }),
            "{\"a\": {\"b\": \"WATCH\"}, \"c\": \"{x-y}{}\"}"
        );
        assert!(check_body("{\"x\": \"{sumary}\"}").is_err());
        let parsed: serde_json::Value = serde_json::from_str(&doc).expect("valid JSON");
        assert_eq!(parsed.as_object().map(|o| o.len()), Some(1));
        assert_eq!(parsed["text"], "a\"}, \"x\": \"\\\n\u{1b}");
        assert!(check_json("{\"text\": \"{watch}: {summary}\"}").is_ok());
        let e = check_json("{\"n\": {watch}}").expect_err("a bare placeholder");
        assert!(e.contains("inside a JSON string"), "{e}");
    }

    #[test]
    fn placeholders_are_filled_and_braces_escaped() {
        let out = render("{{x}} {watch}/{rule}: {summary}", |k| {
            Cow::Owned(format!("<{k}>"))
        });
        assert_eq!(out, "{x} <watch>/<rule>: <summary>");
    }

    #[test]
    fn unknown_or_unbalanced_placeholders_are_config_errors() {
        assert!(check("{watch} {rule}").is_ok());
        assert!(check("{{literal}}").is_ok());
        assert!(check("{wach}")
            .unwrap_err()
            .contains("unknown placeholder {wach}"));
        assert!(check("{watch").is_err());
        assert!(check("watch}").is_err());
    }

    #[test]
    fn odd_input_never_panics() {
        for t in [
            "{",
            "}",
            "{{",
            "}}",
            "{é}",
            "é{watch}é",
            "{}",
            "{{{watch}}}",
        ] {
            let _ = check(t);
            let _ = render(t, |_| Cow::Borrowed("v"));
        }
        assert_eq!(render("{{{watch}}}", |_| Cow::Borrowed("v")), "{v}");
    }
}
