//! The promise of issue 15's "quoting is total": arbitrary text from a log line (as the
//! matched line and as a context line) goes through every renderer, and the quoted block
//! cannot be closed or left from inside. Slack: each block has its own two fences and no
//! other backtick, no `<` or `>`; Telegram: plain text, every quoted line prefixed; email:
//! every physical line of the quote starts with the prefix; console: no control byte but
//! tab and newline, every line after the headline indented.

use proptest::prelude::*;

use super::channels::{console, discord, gotify, matrix, ntfy, pushover, slack, telegram, webhook};
use super::notification::{sample, Kind, Notification};
use super::render;
use super::render::QUOTE_PREFIX;
use crate::config::channels::SlackStyle;
use crate::core::logging::LogFormat;

/// Text as a log line can hold it: bytes decoded as the sources do (lossy), rich in the
/// characters that mean something to a renderer.
fn hostile() -> impl Strategy<Value = String> {
    let special = prop_oneof![
        Just('`'),
        Just('\n'),
        Just('\r'),
        Just('\x1b'),
        Just('\x07'),
        Just('\x7f'),
        Just('\u{9b}'),
        Just('<'),
        Just('>'),
        Just('&'),
        Just('*'),
        Just('_'),
        Just('~'),
        Just('|'),
        Just('\t'),
    ];
    let bytes = prop::collection::vec(any::<u8>(), 0..40)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    let piece = prop_oneof![
        3 => special.prop_map(String::from),
        1 => any::<char>().prop_map(String::from),
        1 => bytes,
        1 => Just("```".to_string()),
        1 => Just("\nBcc: x@example.com".to_string()),
        1 => Just("<!here>".to_string()),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|p| p.concat())
}

fn note(line: String, context: Vec<String>) -> Notification {
    let mut n = sample(1, "ch", Kind::Notice);
    n.alert.line = Some(line);
    n.alert.context = context;
    n
}

/// The lines of a default text from "before it:" on: every one is quoted, but for the blank
/// line and the `line:` header between the context and the line.
fn assert_quote_is_closed(text: &str) {
    assert!(!text.contains('\r'), "a carriage return left: {text:?}");
    let (_, quoted) = text
        .split_once("\n\nbefore it:\n")
        .expect("the context header");
    let unquoted: Vec<&str> = quoted
        .split('\n')
        .filter(|l| !l.starts_with(QUOTE_PREFIX))
        .collect();
    assert_eq!(unquoted, ["", "line:"], "{text:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn email_and_telegram_prefix_every_quoted_physical_line(line in hostile(), ctx in hostile()) {
        let n = note(line, vec![ctx, "plain".into()]);
        let batch = std::slice::from_ref(&n);
        assert_quote_is_closed(&render::body(batch, None));
        let tg = telegram::payload(&serde_json::json!(1), batch, None);
        prop_assert!(tg.get("parse_mode").is_none() && tg.get("entities").is_none());
        assert_quote_is_closed(tg["text"].as_str().unwrap_or_default());
    }

    #[test]
    fn slack_blocks_cannot_be_closed_from_inside(line in hostile(), ctx in hostile()) {
        let n = note(line, vec![ctx]);
        let batch = std::slice::from_ref(&n);
        let v = slack::payload(batch, SlackStyle::Blocks, None);
        let sections: Vec<&str> = v["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["type"] == "section")
            .filter_map(|b| b["text"]["text"].as_str())
            .collect();
        prop_assert_eq!(sections.len(), 1);
        let t = v["text"].as_str().unwrap_or_default();
        prop_assert!(!t.contains(['`', '<', '>']), "{:?}", t);
        let v = slack::payload(batch, SlackStyle::Text, None);
        let text = v["text"].as_str().unwrap_or_default();
        let (head, block) = text.split_once('\n').unwrap_or_default();
        prop_assert!(!head.contains('`'), "{:?}", head);
        for t in sections.into_iter().chain([block]) {
            prop_assert!(t.len() >= 6 && t.starts_with("```") && t.ends_with("```"), "{:?}", t);
            prop_assert_eq!(t.matches("```").count(), 2, "{:?}", t);
            let inner = &t[3..t.len() - 3];
            prop_assert!(!inner.contains(['`', '<', '>']), "{:?}", inner);
            prop_assert!(!inner.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{:?}", inner);
        }
    }

    #[test]
    fn the_console_writes_no_control_byte_but_tab_and_newline(line in hostile(), ctx in hostile()) {
        let n = note(line, vec![ctx]);
        let raw = |s: &str| s.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
        let human = console::render(LogFormat::Human, None, &n);
        prop_assert!(!raw(&human), "{:?}", human);
        prop_assert!(human.split('\n').skip(1).all(|l| l.starts_with("    ")), "{:?}", human);
        let templated = console::render(LogFormat::Human, Some("{line}\n{context} {summary}"), &n);
        prop_assert!(!raw(&templated), "{:?}", templated);
        let json = console::render(LogFormat::Json, None, &n);
        prop_assert!(!json.chars().any(|c| c.is_ascii_control()), "{:?}", json);
        prop_assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
    }

    #[test]
    fn no_channel_for_people_passes_on_a_control_byte_but_tab_and_newline(line in hostile(), ctx in hostile()) {
        let n = note(line, vec![ctx]);
        let batch = std::slice::from_ref(&n);
        let raw = |s: &str| s.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
        let fields = |v: &serde_json::Value, keys: &[&str]| -> Vec<String> {
            keys.iter().map(|k| v[*k].as_str().unwrap_or_default().to_string()).collect()
        };
        let mut texts = vec![render::body(batch, None), render::body(batch, Some("{line} {context}"))];
        texts.extend(fields(&telegram::payload(&serde_json::json!(1), batch, None), &["text"]));
        texts.extend(fields(&ntfy::payload("t", batch, None), &["title", "message"]));
        texts.extend(fields(&gotify::payload(batch, None), &["title", "message"]));
        texts.extend(fields(&pushover::payload(batch, None), &["title", "message"]));
        texts.extend(fields(&discord::payload(batch, None), &["content"]));
        texts.extend(fields(&matrix::payload(batch, None), &["body", "formatted_body"]));
        let body = crate::config::channels::WebhookBody {
            template: r#"{"line": "{line}", "context": "{context}"}"#.into(),
            content_type: "application/json".into(),
            json: true,
        };
        let v: serde_json::Value = serde_json::from_str(&webhook::templated(&body, &n))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(v.as_object().map(|o| o.len()), Some(2));
        texts.extend(fields(&v, &["line", "context"]));
        for t in texts {
            prop_assert!(!raw(&t), "{:?}", t);
        }
    }
}
