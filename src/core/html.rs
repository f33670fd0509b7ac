//! HTML escaping: the one function every text from the config or a log line goes through
//! before it is written into HTML (the status page, `telemetry/page.rs` and `chart.rs`; a
//! Matrix message's `formatted_body`).

/// HTML-escapes `s` for text and attribute values (`&`, `<`, `>`, `"`, `'`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
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
    }
}
