//! Line kinds for the `new-kind` rule: what stays of a log line's *message* when its
//! variable parts are masked, and a Drain-style grouping of those into kinds.
//!
//! Reduction: the header (time, host, level, logger, pid) is set aside first
//! (`line_header.rs`). Then token by token (whitespace-separated, `|` a field of its own,
//! surrounding punctuation kept apart): a quoted word becomes `<STR>` (a quoted phrase is
//! read word by word), month and weekday names `<DATE>`, UUIDs `<UUID>`, URLs `<URL>`, paths
//! `<PATH>`, IPv4 addresses (with a port) `<IP>`, hex ids with a letter `<HEX>`, anything else
//! with a digit `<NUM>` (numbers however long, timestamps, `12ms`, `v2.4.1`); in `key=value`
//! only the value is masked. An event of several lines (a traceback) is its first line, `|`,
//! and its last line (the exception).
//!
//! Grouping, after Drain: a line is compared only with kinds of its *route*: the same token
//! count, the same first fixed word at the same place (after a `label:`), the same exception
//! class names (words ending in `Error`, `Exception`, `Warning`, `Timeout`, `Exit`,
//! `Interrupt`, `Fault`) at the same places. It joins the most similar kind when at least
//! `SIMILARITY` of its tokens agree (equal words, or two masks whatever their class; a
//! wildcard agrees only with a mask; a line the kind `matches` is of it), ties going to the
//! kind with more lines; the words that
//! differ become `<*>`. So `order 12 rejected: margin` and `order 13 rejected: margin` are one
//! kind, `Failed password ...` and `Accepted password ...` two, and `KeyError` is never the
//! same kind as `ValueError`, however alike the rest is. Measured on the Loghub benchmark by
//! `bench/loghub_ga.py` (mean Grouping Accuracy 0.875 on whole lines, one setting for all 16
//! datasets).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Share of a line's tokens that must agree with a kind's for the line to be of that kind
/// (a wildcard never agrees; two masks agree, whatever their class).
pub const SIMILARITY: f64 = 0.8;
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
    /// A number that stays the kind's while it lives (`logwarden kinds --forget ID`).
    #[serde(default)]
    pub id: u64,
    /// Wall time (ms since the epoch) of its first and last line, when known.
    #[serde(default)]
    pub first_ms: Option<i64>,
    #[serde(default)]
    pub last_ms: Option<i64>,
}

impl Template {
    /// The template as one line of text.
    pub fn text(&self) -> String {
        self.tokens.join(" ")
    }

    /// Whether `line` (reduced) is of this kind: as long, and every fixed token equal (a
    /// mask stands for any mask, a wildcard for anything).
    pub fn matches(&self, line: &[String]) -> bool {
        self.tokens.len() == line.len()
            && self
                .tokens
                .iter()
                .zip(line)
                .all(|(t, l)| t == WILDCARD || t == l || (is_mask(t) && is_mask(l)))
    }
}

/// Whether a line was of a known kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Known,
    New,
}

/// The route of a line, after Drain's tree: its token count, its first token (`<*>` when
/// that is a variable) and its exception names. Only kinds of the same route are compared.
type Route = (usize, String, String);

/// Known templates, at most `max` (the least recently seen is evicted first).
#[derive(Debug, Clone)]
pub struct Templates {
    templates: Vec<Template>,
    /// Route -> indexes into `templates`.
    index: HashMap<Route, Vec<usize>>,
    max: usize,
    /// Lines observed; the `seen` of the newest line.
    seq: u64,
    /// The id the next new kind gets.
    next_id: u64,
}

impl Templates {
    pub fn new(max: usize) -> Templates {
        Templates {
            templates: Vec::new(),
            index: HashMap::new(),
            max: max.max(1),
            seq: 0,
            next_id: 1,
        }
    }

    /// Rebuilds from saved templates (the newest `max` are kept); kinds saved without an id
    /// get one.
    pub fn restore(mut saved: Vec<Template>, max: usize) -> Templates {
        saved.sort_by_key(|t| std::cmp::Reverse(t.seen));
        saved.truncate(max.max(1));
        let mut t = Templates::new(max);
        t.seq = saved.iter().map(|x| x.seen).max().unwrap_or(0);
        t.next_id = saved.iter().map(|x| x.id).max().unwrap_or(0) + 1;
        for k in saved.iter_mut().filter(|k| k.id == 0) {
            k.id = t.next_id;
            t.next_id += 1;
        }
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
        self.observe_at(tokens, None)
    }

    /// `observe`, noting the wall time of the line (ms since the epoch) when known.
    pub fn observe_at(&mut self, tokens: Vec<String>, at_ms: Option<i64>) -> (Seen, usize) {
        self.seq += 1;
        let key = route(&tokens);
        let best = self.index.get(&key).and_then(|ids| {
            ids.iter()
                .filter(|&&i| anchors_aligned(&self.templates[i].tokens, &tokens))
                .map(|&i| {
                    let t = &self.templates[i];
                    // A line of the kind (as it once joined it) is of it, whatever the
                    // wildcards its other lines made since.
                    let s = if t.matches(&tokens) {
                        1.0
                    } else {
                        similarity(&t.tokens, &tokens)
                    };
                    (i, s)
                })
                .filter(|&(_, s)| s >= SIMILARITY)
                // Ties go to the kind with more lines, not to the newest.
                .max_by(|a, b| {
                    a.1.total_cmp(&b.1)
                        .then(self.templates[a.0].count.cmp(&self.templates[b.0].count))
                        .then(b.0.cmp(&a.0))
                })
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
            if at_ms.is_some() {
                t.last_ms = at_ms;
                t.first_ms = t.first_ms.or(at_ms);
            }
            debug_assert!(t.matches(&tokens), "a line is of the kind it joined");
            debug_assert_eq!(route(&t.tokens), key, "a kind keeps its route");
            return (Seen::Known, i);
        }
        if self.templates.len() >= self.max {
            self.evict();
        }
        self.templates.push(Template {
            tokens,
            count: 1,
            seen: self.seq,
            id: self.next_id,
            first_ms: at_ms,
            last_ms: at_ms,
        });
        self.next_id += 1;
        let i = self.templates.len() - 1;
        self.index.entry(key).or_default().push(i);
        (Seen::New, i)
    }

    /// The template at `i`.
    pub fn get(&self, i: usize) -> Option<&Template> {
        self.templates.get(i)
    }

    /// Forgets the kind `id` (its next line is a new kind again); whether it was known.
    pub fn forget(&mut self, id: u64) -> bool {
        let before = self.templates.len();
        self.templates.retain(|t| t.id != id);
        let forgot = self.templates.len() < before;
        if forgot {
            self.reindex();
        }
        forgot
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
            self.index.entry(route(&t.tokens)).or_default().push(i);
        }
    }
}

/// The route of a reduced line (see [`Route`]). A kind's route never changes as it merges
/// lines of its route: the count is the same, the first token equal (or both variables), the
/// anchors aligned.
fn route(tokens: &[String]) -> Route {
    let fixed = |t: &String| !is_mask(t) && t != WILDCARD;
    // A label ending in `:` (`en0:`, `com.apple.xpc.heartbeat:`) often names the thing,
    // not what happened to it: route on the first fixed word after it, when there is one.
    let at = tokens
        .iter()
        .position(|t| fixed(t) && !t.ends_with(':'))
        .or_else(|| tokens.iter().position(fixed));
    let first = match at {
        Some(i) => format!("{i} {}", tokens[i]),
        None => WILDCARD.to_string(),
    };
    (tokens.len(), first, anchors(tokens))
}

/// A masked variable: `<NUM>`, `<IP>`, `<STR>` ... (a wildcard is not a mask).
fn is_mask(token: &str) -> bool {
    token.len() > 2 && token.starts_with('<') && token.ends_with('>') && token != WILDCARD
}

/// Share of positions where the template agrees with the line: equal fixed tokens, two
/// masks (whatever their class: one variable, one mask), or a wildcard where the line has a
/// mask. A wildcard never agrees with a fixed word: a kind that has absorbed lines of many
/// shapes does not thereby take in every line of its length.
fn similarity(template: &[String], line: &[String]) -> f64 {
    if template.is_empty() {
        return 1.0;
    }
    let same = template
        .iter()
        .zip(line)
        .filter(|(t, l)| {
            if *t == WILDCARD || is_mask(t) {
                is_mask(l)
            } else {
                t == l
            }
        })
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

/// Reduces an event (one or more lines) to its template tokens: the message of its first
/// line (the header set aside, `line_header.rs`) and, for an event of several lines, `|` and
/// its last line (the exception of a traceback).
pub fn reduce(event: &str) -> Vec<String> {
    let mut lines = event.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("");
    let last = lines.next_back();
    let mut tokens = Vec::new();
    tokenize(first, true, &mut tokens);
    if let Some(last) = last {
        tokens.push("|".to_string());
        tokenize(last, false, &mut tokens);
    }
    tokens
}

/// `reduce` with the operator's header regex: its match at the start of the first line is
/// the header (a line it does not match is reduced whole).
pub fn reduce_after_header(event: &str, header: &regex::Regex) -> Vec<String> {
    let mut lines = event.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("");
    let last = lines.next_back();
    let message = match header.find(first) {
        Some(m) if m.start() == 0 && m.end() < first.len() => &first[m.end()..],
        _ => first,
    };
    let mut tokens = Vec::new();
    tokenize(message, false, &mut tokens);
    if let Some(last) = last {
        tokens.push("|".to_string());
        tokenize(last, false, &mut tokens);
    }
    tokens
}

/// Appends the masked tokens of one line (of its message, when `header` is to be set aside).
fn tokenize(line: &str, header: bool, out: &mut Vec<String>) {
    let unquoted = mask_quotes(line);
    // `a|b|c` (HealthApp, many ad-hoc formats) is three fields.
    let spaced;
    let text = if unquoted.contains('|') {
        spaced = unquoted.replace('|', " | ");
        spaced.as_str()
    } else {
        unquoted.as_str()
    };
    let raw: Vec<&str> = text.split_whitespace().collect();
    let skip = if header {
        crate::rules::line_header::header_len(&raw)
    } else {
        0
    };
    for raw in raw.into_iter().skip(skip).take(MAX_TOKENS) {
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
            // One quoted word (`'client_id'`) is a value; a quoted phrase
            // (`"GET /v2/servers HTTP/1.1"`) is read word by word.
            if let Some(len) = line[i + 1..]
                .find(c)
                .filter(|&len| !line[i + 1..i + 1 + len].contains(char::is_whitespace))
            {
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
    let class = if is_calendar_word(core) {
        "<DATE>"
    } else if is_uuid(core) {
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

/// A month or weekday name, as dates are written (`Sat Jun 18 02:08:12 2005`).
fn is_calendar_word(s: &str) -> bool {
    const NAMES: [&str; 19] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
    ];
    s.len() == 3 && (NAMES.contains(&s) || s == "Sun") || s == "Sept"
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
    // All digits is a number, however long: one variable, one mask.
    s.len() >= 6
        && s.bytes().all(|b| b.is_ascii_hexdigit())
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_alphabetic())
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
            "Order <NUM> rejected: insufficient margin (code <NUM>)"
        );
        assert_eq!(
            text("task 3f0c2a1e-8b7d-4c1a-9e2f-1a2b3c4d5e6f failed at /srv/app/tasks.py from 10.0.0.12:4002 id=0x7f3a9c session deadbeef42"),
            "task <UUID> failed at <PATH> from <IP> id=<HEX> session <HEX>"
        );
        assert_eq!(
            text("KeyError: 'client_id' in \"my dict\" (don't care) qty=20 url=https://x.y/z"),
            "KeyError: <STR> in \"my dict\" (don't care) qty=<NUM> url=<URL>"
        );
    }

    #[test]
    fn a_traceback_is_its_first_and_last_line() {
        let event = "ERROR - order 5 failed\nTraceback (most recent call last):\n  File \"bot.py\", line 9, in run\nValueError: bad price 12.5\n";
        assert_eq!(
            text(event),
            "order <NUM> failed | ValueError: bad price <NUM>"
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
            "order <NUM> failed | ValueError: bad <*> <NUM>"
        );
        assert_eq!(seen(&mut t, "ERROR cannot reach broker"), Seen::New);
        assert_eq!(t.len(), 3);
    }

    fn kind(t: &mut Templates, line: &str) -> Seen {
        t.observe(reduce(line)).0
    }

    // The four ways a new error stayed silent or a known one fired again (issue 24), each
    // seen with the grouping before it.

    #[test]
    fn a_new_error_is_not_swallowed_by_a_kind_gone_all_wildcards() {
        let mut t = Templates::new(100);
        for l in [
            "cache warmup done",
            "cache warmup failed",
            "cache flush failed",
            "disk flush failed",
        ] {
            kind(&mut t, l);
        }
        assert_eq!(kind(&mut t, "database connection lost"), Seen::New);
        assert!(t
            .all()
            .iter()
            .all(|k| k.tokens.iter().any(|x| x != WILDCARD)));
    }

    #[test]
    fn the_leading_words_tell_kinds_apart() {
        let mut t = Templates::new(100);
        kind(
            &mut t,
            "Failed password for root from 10.0.0.1 port 22 ssh2",
        );
        assert_eq!(
            kind(
                &mut t,
                "Accepted password for root from 10.0.0.2 port 51022 ssh2"
            ),
            Seen::New
        );
        kind(&mut t, "ERROR connection to db failed");
        assert_eq!(
            kind(&mut t, "ERROR connection to broker refused"),
            Seen::New
        );
        assert_eq!(kind(&mut t, "ERROR connection to db failed"), Seen::Known);
    }

    #[test]
    fn the_header_does_not_make_unrelated_lines_one_kind() {
        let mut t = Templates::new(100);
        let bgl = |msg: &str| {
            format!("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO {msg}")
        };
        kind(&mut t, &bgl("instruction cache parity error corrected"));
        assert_eq!(
            kind(&mut t, &bgl("generating core dump for rank")),
            Seen::New
        );
        assert_eq!(
            kind(&mut t, &bgl("instruction cache parity error corrected")),
            Seen::Known
        );
        assert_eq!(
            t.get(0).map(Template::text).as_deref(),
            Some("instruction cache parity error corrected")
        );
    }

    #[test]
    fn one_variable_is_one_mask_and_a_short_line_is_still_known() {
        let mut t = Templates::new(100);
        kind(&mut t, "heartbeat 123456");
        assert_eq!(
            kind(&mut t, "heartbeat 42"),
            Seen::Known,
            "a number is a number, however long"
        );
        kind(&mut t, "order 1234567 rejected by 10.0.0.7");
        assert_eq!(kind(&mut t, "order 12 rejected by 10.0.0.8"), Seen::Known);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_tie_goes_to_the_kind_with_more_lines_not_to_the_newest() {
        let k = |words: &str, count: u64, seen: u64| Template {
            tokens: words.split(' ').map(String::from).collect(),
            count,
            seen,
            id: seen,
            first_ms: None,
            last_ms: None,
        };
        let mut t = Templates::restore(
            vec![k("job a done now ok", 9, 2), k("job b done now ok", 1, 1)],
            100,
        );
        let (_, i) = t.observe(reduce("job c done now ok"));
        assert_eq!(t.get(i).map(|x| x.id), Some(2), "{:?}", t.all());
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
