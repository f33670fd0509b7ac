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

#[cfg(test)]
mod tests {
    use super::*;

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
