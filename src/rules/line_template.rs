//! Line templates: what stays of a log line when its variable parts are masked, and a
//! Drain-style clustering of templates, for the `new-kind` rule.
//!
//! Reduction, token by token (whitespace-separated, surrounding punctuation kept apart):
//! quoted strings become `<STR>`, UUIDs `<UUID>`, URLs `<URL>`, paths `<PATH>`, IPv4
//! addresses (with a port) `<IP>`, hex ids `<HEX>`, anything else with a digit `<NUM>`
//! (numbers, timestamps, `12ms`, `v2.4.1`); in `key=value` only the value is masked. An event
//! of several lines (a traceback) is its first line, `|`, and its last line (the exception).
//!
//! Clustering, after Drain: templates are grouped by token count and by their *anchor* tokens
//! (exception class names: words ending in `Error`, `Exception`, `Warning`, `Timeout`,
//! `Exit`, `Interrupt`, `Fault`), which must be equal; within a group a line joins the most
//! similar template when at least `SIMILARITY` of its tokens agree, and the tokens that differ
//! become `<*>`. So `order 12 rejected: margin` and `order 13 rejected: margin` are one kind,
//! and `KeyError` is never the same kind as `ValueError`, however alike the rest is.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Share of equal tokens (a `<*>` agrees with anything) for a line to join a template.
pub const SIMILARITY: f64 = 0.6;
/// Tokens kept per line; the rest of a long line is dropped.
pub const MAX_TOKENS: usize = 48;
/// Bytes kept per token.
pub const MAX_TOKEN_BYTES: usize = 64;

/// The wildcard a template gets where its lines differ.
pub const WILDCARD: &str = "<*>";

/// One known kind of line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub tokens: Vec<String>,
    /// Lines of this kind seen.
    pub count: u64,
    /// Sequence number of the last line of this kind (higher: more recent).
    pub seen: u64,
}

impl Template {
    /// The template as one line of text.
    pub fn text(&self) -> String {
        self.tokens.join(" ")
    }
}

/// Whether a line was of a known kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Known,
    New,
}

/// Known templates, at most `max` (the least recently seen is evicted first).
#[derive(Debug, Clone)]
pub struct Templates {
    templates: Vec<Template>,
    /// (token count, anchors) -> indexes into `templates`.
    index: HashMap<(usize, String), Vec<usize>>,
    max: usize,
    /// Lines observed; the `seen` of the newest line.
    seq: u64,
}

impl Templates {
    pub fn new(max: usize) -> Templates {
        Templates {
            templates: Vec::new(),
            index: HashMap::new(),
            max: max.max(1),
            seq: 0,
        }
    }

    /// Rebuilds from saved templates (the newest `max` are kept).
    pub fn restore(mut saved: Vec<Template>, max: usize) -> Templates {
        saved.sort_by_key(|t| std::cmp::Reverse(t.seen));
        saved.truncate(max.max(1));
        let mut t = Templates::new(max);
        t.seq = saved.iter().map(|x| x.seen).max().unwrap_or(0);
        t.templates = saved;
        t.reindex();
        t
    }

    /// The templates, for saving.
    pub fn all(&self) -> &[Template] {
        &self.templates
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// Files a reduced line: joins its kind (`Known`) or becomes a new one (`New`).
    /// Returns also the index of its template.
    pub fn observe(&mut self, tokens: Vec<String>) -> (Seen, usize) {
        self.seq += 1;
        let key = (tokens.len(), anchors(&tokens));
        let best = self.index.get(&key).and_then(|ids| {
            ids.iter()
                .filter(|&&i| anchors_aligned(&self.templates[i].tokens, &tokens))
                .map(|&i| (i, similarity(&self.templates[i].tokens, &tokens)))
                .filter(|&(_, s)| s >= SIMILARITY)
                .max_by(|a, b| a.1.total_cmp(&b.1))
        });
        if let Some((i, _)) = best {
            let t = &mut self.templates[i];
            for (have, new) in t.tokens.iter_mut().zip(&tokens) {
                if have != new && have != WILDCARD {
                    *have = WILDCARD.to_string();
                }
            }
            t.count += 1;
            t.seen = self.seq;
            return (Seen::Known, i);
        }
        if self.templates.len() >= self.max {
            self.evict();
        }
        self.templates.push(Template {
            tokens,
            count: 1,
            seen: self.seq,
        });
        let i = self.templates.len() - 1;
        self.index.entry(key).or_default().push(i);
        (Seen::New, i)
    }

    /// The template at `i`.
    pub fn get(&self, i: usize) -> Option<&Template> {
        self.templates.get(i)
    }

    /// Drops the least recently seen template.
    fn evict(&mut self) {
        let Some(oldest) = self
            .templates
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| t.seen)
            .map(|(i, _)| i)
        else {
            return;
        };
        self.templates.swap_remove(oldest);
        self.reindex();
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (i, t) in self.templates.iter().enumerate() {
            self.index
                .entry((t.tokens.len(), anchors(&t.tokens)))
                .or_default()
                .push(i);
        }
    }
}

/// Share of positions where the template agrees with the line.
fn similarity(template: &[String], line: &[String]) -> f64 {
    if template.is_empty() {
        return 1.0;
    }
    let same = template
        .iter()
        .zip(line)
        .filter(|(t, l)| t == l || *t == WILDCARD)
        .count();
    same as f64 / template.len() as f64
}

/// Whether the anchors stand at the same places in both. The index key only says that both
/// hold the same anchors; joining lines whose anchors sit elsewhere would turn an anchor into
/// `<*>`, and the template would no longer match its key (after a restart it would be filed
/// under another, and its lines reported as a new kind). Found by the `template` fuzz check.
fn anchors_aligned(template: &[String], line: &[String]) -> bool {
    template
        .iter()
        .zip(line)
        .all(|(t, l)| t == l || !(is_anchor(t) || is_anchor(l)))
}

/// The anchor tokens of a template, joined.
fn anchors(tokens: &[String]) -> String {
    let mut out = String::new();
    for t in tokens.iter().filter(|t| is_anchor(t)) {
        out.push_str(t);
        out.push(' ');
    }
    out
}

/// An exception class name: `ValueError`, `asyncio.TimeoutError`, `KeyboardInterrupt`.
fn is_anchor(token: &str) -> bool {
    const ENDINGS: [&str; 7] = [
        "Error",
        "Exception",
        "Warning",
        "Timeout",
        "Exit",
        "Interrupt",
        "Fault",
    ];
    let token = token.trim_matches(is_edge_punct);
    token.len() > 4
        && token.starts_with(|c: char| c.is_ascii_alphabetic())
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        && ENDINGS.iter().any(|e| token.ends_with(e))
}

/// Reduces an event (one or more lines) to its template tokens.
pub fn reduce(event: &str) -> Vec<String> {
    let mut lines = event.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("");
    let last = lines.next_back();
    let mut tokens = Vec::new();
    tokenize(first, &mut tokens);
    if let Some(last) = last {
        tokens.push("|".to_string());
        tokenize(last, &mut tokens);
    }
    tokens
}

/// Appends the masked tokens of one line.
fn tokenize(line: &str, out: &mut Vec<String>) {
    let unquoted = mask_quotes(line);
    for raw in unquoted.split_whitespace().take(MAX_TOKENS) {
        let mut token = String::new();
        let core_start = raw.find(|c: char| !is_edge_punct(c)).unwrap_or(raw.len());
        let core_end = raw
            .rfind(|c: char| !is_edge_punct(c))
            .map(|i| i + raw[i..].chars().next().map_or(1, char::len_utf8))
            .unwrap_or(core_start)
            .max(core_start);
        token.push_str(&raw[..core_start]);
        token.push_str(&mask(&raw[core_start..core_end]));
        token.push_str(&raw[core_end..]);
        if token.len() > MAX_TOKEN_BYTES {
            let mut cut = MAX_TOKEN_BYTES;
            while !token.is_char_boundary(cut) {
                cut -= 1;
            }
            token.truncate(cut);
        }
        out.push(token);
    }
}

fn is_edge_punct(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | '[' | ']' | '{' | '}' | ',' | ';' | ':' | '.' | '!' | '?'
    )
}

/// Replaces quoted strings ('x', "y y") that start a word with `<STR>`.
fn mask_quotes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.char_indices().peekable();
    let mut prev: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        let opens = (c == '\'' || c == '"') && !prev.is_some_and(|p| p.is_alphanumeric());
        if opens {
            if let Some(len) = line[i + 1..].find(c) {
                out.push_str("<STR>");
                let end = i + 1 + len; // the closing quote
                while chars.peek().is_some_and(|&(j, _)| j <= end) {
                    chars.next();
                }
                prev = Some(c);
                continue;
            }
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// The mask of one token's core (no surrounding punctuation).
fn mask(core: &str) -> String {
    if core.is_empty() || core == "<STR>" {
        return core.to_string();
    }
    if let Some((key, value)) = core.split_once('=') {
        if !key.is_empty() && !key.contains(|c: char| c.is_ascii_digit()) {
            return format!("{key}={}", mask(value));
        }
    }
    let class = if is_uuid(core) {
        "<UUID>"
    } else if core.contains("://") {
        "<URL>"
    } else if core.starts_with('/') || core.starts_with("./") || core.starts_with("~/") {
        "<PATH>"
    } else if is_ipv4(core) {
        "<IP>"
    } else if is_hex_id(core) {
        "<HEX>"
    } else if core.contains(|c: char| c.is_ascii_digit()) {
        "<NUM>"
    } else {
        return core.to_string();
    };
    class.to_string()
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_ipv4(s: &str) -> bool {
    let host = s.rsplit_once(':').map_or(s, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            s
        }
    });
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_hex_id(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("0x") {
        return !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit());
    }
    s.len() >= 6
        && s.bytes().all(|b| b.is_ascii_hexdigit())
        && s.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &str) -> String {
        reduce(line).join(" ")
    }

    #[test]
    fn variable_parts_are_masked() {
        assert_eq!(
            text("2026-11-23 09:41:42,123 - bot.broker - ERROR - Order 8812 rejected: insufficient margin (code 201)"),
            "<NUM> <NUM> - bot.broker - ERROR - Order <NUM> rejected: insufficient margin (code <NUM>)"
        );
        assert_eq!(
            text("task 3f0c2a1e-8b7d-4c1a-9e2f-1a2b3c4d5e6f failed at /srv/app/tasks.py from 10.0.0.12:4002 id=0x7f3a9c session deadbeef42"),
            "task <UUID> failed at <PATH> from <IP> id=<HEX> session <HEX>"
        );
        assert_eq!(
            text("KeyError: 'client_id' in \"my dict\" (don't care) qty=20 url=https://x.y/z"),
            "KeyError: <STR> in <STR> (don't care) qty=<NUM> url=<URL>"
        );
    }

    #[test]
    fn a_traceback_is_its_first_and_last_line() {
        let event = "ERROR - order 5 failed\nTraceback (most recent call last):\n  File \"bot.py\", line 9, in run\nValueError: bad price 12.5\n";
        assert_eq!(
            text(event),
            "ERROR - order <NUM> failed | ValueError: bad price <NUM>"
        );
    }

    #[test]
    fn other_numbers_are_the_same_kind_and_another_exception_is_not() {
        let mut t = Templates::new(100);
        let seen = |t: &mut Templates, l: &str| t.observe(reduce(l)).0;
        assert_eq!(
            seen(&mut t, "ERROR order 5 failed | ValueError: bad price 12"),
            Seen::New
        );
        assert_eq!(
            seen(&mut t, "ERROR order 77 failed | ValueError: bad price 3"),
            Seen::Known
        );
        assert_eq!(
            seen(&mut t, "ERROR order 77 failed | KeyError: bad price 3"),
            Seen::New
        );
        // Drain merging: a differing word becomes a wildcard.
        assert_eq!(
            seen(&mut t, "ERROR order 8 failed | ValueError: bad size 3"),
            Seen::Known
        );
        assert_eq!(
            t.get(0).unwrap().text(),
            "ERROR order <NUM> failed | ValueError: bad <*> <NUM>"
        );
        assert_eq!(seen(&mut t, "ERROR cannot reach broker"), Seen::New);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn the_least_recently_seen_template_is_evicted_at_the_cap() {
        let mut t = Templates::new(2);
        t.observe(reduce("alpha one"));
        t.observe(reduce("beta two words"));
        t.observe(reduce("alpha one")); // alpha is now the most recent
        t.observe(reduce("gamma three words here"));
        let kept: Vec<String> = t.all().iter().map(Template::text).collect();
        assert_eq!(kept.len(), 2);
        assert!(kept.contains(&"alpha one".to_string()), "{kept:?}");
        assert!(!kept.iter().any(|k| k.starts_with("beta")), "{kept:?}");
        let restored = Templates::restore(t.all().to_vec(), 1);
        assert_eq!(restored.all()[0].text(), "gamma three words here");
    }

    #[test]
    fn odd_input_never_panics() {
        for l in [
            "",
            "\"",
            "'unclosed",
            "é'ü\"",
            "((((",
            "a=",
            "=b",
            "x:y:z:",
            "\u{fffd}\u{fffd}",
        ] {
            let _ = reduce(l);
        }
        let long = "word ".repeat(100_000);
        assert_eq!(reduce(&long).len(), MAX_TOKENS);
        let huge = "x".repeat(10_000);
        assert_eq!(reduce(&huge)[0].len(), MAX_TOKEN_BYTES);
    }
}
