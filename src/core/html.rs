//! HTML escaping: the one function every text from the config or a log line goes through
//! before it is written into HTML (the status page, `telemetry/page.rs` and `chart.rs`; a
//! Matrix message's `formatted_body`).

/// HTML-escapes `s` for text and attribute values (`&`, `<`, `>`, `"`, `'`), and writes
/// every control character but tab and line break as visible text (`\x1b`, `\u{9b}`), so
/// a page fetched with `curl` into a terminal carries no escape sequence from a log line.
pub fn escape(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_quotes_every_character_that_html_gives_meaning() {
        assert_eq!(
            escape(r#"<script>alert("x" + 'y')</script> & co"#),
            "&lt;script&gt;alert(&quot;x&quot; + &#39;y&#39;)&lt;/script&gt; &amp; co"
        );
        assert_eq!(escape("plain: ok é"), "plain: ok é");
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(
            escape("a\u{1b}]0;x\u{7}\u{9b}b\tc\n"),
            "a\\x1b]0;x\\x07\\u{9b}b\tc\n"
        );
    }
}
