//! Quoting text taken from log lines into what people read: split it into the physical lines
//! a reader will see (so each one can carry the quote prefix), make control characters
//! visible (so a line cannot move the cursor, retitle or clear a terminal), and flatten text
//! that must stay on one line (a subject). Every renderer builds on these; none of them
//! decides on its own what a line break or a control character is.

use std::borrow::Cow;
use std::fmt::Write;

/// The physical lines of `text` as a terminal or a mail reader shows them: split at `\r\n`,
/// `\n` and a lone `\r` (which a terminal and many mail readers also treat as a break). A
/// terminator at the very end does not make an empty last line; an empty text is one empty
/// line, so a quoted empty entry still shows its prefix.
pub fn physical_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(s)
            }
            Some(i) => {
                let skip = if s[i..].starts_with("\r\n") { 2 } else { 1 };
                let after = &s[i + skip..];
                rest = (!after.is_empty()).then_some(after);
                Some(&s[..i])
            }
        }
    })
}

/// Whether a terminal may act on `c`: C0 controls, DEL and the C1 controls (U+0080..U+009F,
/// among them CSI, U+009B, which some terminals take as `ESC [`).
fn is_control(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}')
}

/// `text` with every control character written as visible text: C0 controls and DEL as
/// `\x1b`, C1 controls as `\u{9b}`. A tab is kept; `\n` is kept when `keep_newline` (a text
/// whose lines the caller already prefixed or laid out), escaped like the others otherwise.
pub fn escape_controls(text: &str, keep_newline: bool) -> Cow<'_, str> {
    let keep = |c: char| c == '\t' || (keep_newline && c == '\n');
    if !text.chars().any(|c| is_control(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_control(c) || keep(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    debug_assert!(!out.chars().any(|c| is_control(c) && !keep(c)));
    Cow::Owned(out)
}

/// `text` on one line: every run of control characters and line breaks (tabs included)
/// becomes one space, and the ends are trimmed. For subjects and headlines.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) && text.trim() == text {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if is_control(c) {
            gap = true;
        } else {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        }
    }
    Cow::Owned(out.trim().to_string())
}

/// `text` cut to at most `max` characters, the cut marked with ` …` (so a long word stays
/// plain ASCII and only the mark needs encoding in a mail header).
pub fn cut_chars(text: &str, max: usize) -> Cow<'_, str> {
    const MARK: &str = " …";
    if text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let keep = max.saturating_sub(MARK.chars().count());
    let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let out = format!("{}{MARK}", text[..end].trim_end());
    debug_assert!(out.chars().count() <= max.max(MARK.chars().count()));
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_lines_split_at_every_break_a_reader_sees() {
        let l: Vec<&str> = physical_lines("a\nb\r\nc\rd\n").collect();
        assert_eq!(l, ["a", "b", "c", "d"]);
        assert_eq!(physical_lines("").collect::<Vec<_>>(), [""]);
        assert_eq!(physical_lines("x\n\ny").collect::<Vec<_>>(), ["x", "", "y"]);
    }

    #[test]
    fn controls_are_made_visible_and_tabs_kept() {
        assert_eq!(
            escape_controls("a\x1b]0;t\x07\tb\x7f\u{9b}c\n", false),
            "a\\x1b]0;t\\x07\tb\\x7f\\u{9b}c\\x0a"
        );
        assert_eq!(escape_controls("x\ny", true), "x\ny");
        assert!(matches!(escape_controls("plain", false), Cow::Borrowed(_)));
    }

    #[test]
    fn one_line_and_cut_keep_subjects_short_and_flat() {
        assert_eq!(one_line(" a\r\n\tb\x1bc "), "a b c");
        let long = "x".repeat(2000);
        let cut = cut_chars(&long, 200);
        assert_eq!(cut.chars().count(), 200);
        assert!(cut.ends_with("x …"));
        assert_eq!(cut_chars("short", 200), "short");
    }
}
