//! Redaction: alert texts quote log lines, and log lines of a misbehaving bot can hold its
//! API key. Before an alert is spooled or sent, likely secrets are replaced by `[REDACTED]`:
//! the values of the secrets logwarden itself was given, `password=...`-style pairs,
//! `Authorization:` headers, credentials in URLs, and long random-looking tokens. Operators add
//! their own patterns in `[alerts] redact` and may turn the built-in ones off.

use std::borrow::Cow;

use regex::Regex;

use crate::config::AlertsConfig;
use crate::core::alert::Alert;

/// What replaces a secret.
pub const MASK: &str = "[REDACTED]";

/// Built-in patterns. Where a pattern has a group named `keep` (the key of a `key=value`
/// pair) or `tail`, those parts stay; the rest of the match is masked.
const DEFAULTS: &[&str] = &[
    // key=value, key: value, "key": "value" for keys that name secrets.
    r#"(?i)(?P<keep>[A-Za-z0-9_.-]*(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?)[A-Za-z0-9_.-]*["']?\s*[=:]\s*["']?)[^\s"',;&]+"#,
    // HTTP authorization headers and bare bearer tokens.
    r"(?i)(?P<keep>authorization\s*:\s*(?:bearer|basic|token|digest)?\s*)[^\s,;]+",
    r"(?i)(?P<keep>\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}",
    // user:password@ in URLs.
    r"(?P<keep>[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(?P<tail>@)",
    // Telegram bot tokens, Slack webhook paths and tokens, AWS access key ids, JWTs.
    r"\b\d{6,12}:[A-Za-z0-9_-]{30,}",
    r"(?P<keep>hooks\.slack\.com/services/)[A-Za-z0-9/_-]+",
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    // Long hex strings (API secrets, session ids).
    r"\b[0-9a-fA-F]{32,}\b",
];

/// Long runs of token characters; masked only when they mix digits, upper and lower case,
/// which random tokens do and paths, identifiers and words rarely do.
const RANDOM_TOKEN: &str = r"[A-Za-z0-9+_-]{32,}={0,2}";

/// Replaces likely secrets in alert texts.
#[derive(Debug)]
pub struct Redactor {
    patterns: Vec<Regex>,
    random_token: Option<Regex>,
    /// Exact secret values from the config (4 characters or more).
    secrets: Vec<String>,
}

impl Redactor {
    /// From `[alerts]` and the secret values in the config. Patterns were validated at load;
    /// one that does not compile here is skipped with an error.
    pub fn new(cfg: &AlertsConfig, secrets: &[&str]) -> Redactor {
        let compile = |p: &str| match Regex::new(p) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::error!(pattern = p, error = %e, "redaction pattern skipped");
                None
            }
        };
        let defaults: &[&str] = if cfg.redact_defaults { DEFAULTS } else { &[] };
        let patterns = defaults
            .iter()
            .copied()
            .chain(cfg.redact.iter().map(String::as_str))
            .filter_map(compile)
            .collect();
        let mut secrets: Vec<String> = secrets
            .iter()
            .filter(|s| s.len() >= 4)
            .map(|s| s.to_string())
            .collect();
        // Longest first, so a secret that contains another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor {
            patterns,
            random_token: if cfg.redact_defaults {
                compile(RANDOM_TOKEN)
            } else {
                None
            },
            secrets,
        }
    }

    /// `text` with likely secrets masked.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
        for re in &self.patterns {
            if !re.is_match(&out) {
                continue;
            }
            let keep = re.capture_names().flatten().any(|n| n == "keep");
            let replaced = re
                .replace_all(&out, |c: &regex::Captures| {
                    let head = c.name("keep").filter(|_| keep).map_or("", |k| k.as_str());
                    let tail = c.name("tail").map_or("", |t| t.as_str());
                    format!("{head}{MASK}{tail}")
                })
                .into_owned();
            out = Cow::Owned(replaced);
        }
        if let Some(re) = &self.random_token {
            if re.find_iter(&out).any(|m| looks_random(m.as_str())) {
                let replaced = re
                    .replace_all(&out, |c: &regex::Captures| {
                        let m = &c[0];
                        if looks_random(m) {
                            MASK.to_string()
                        } else {
                            m.to_string()
                        }
                    })
                    .into_owned();
                out = Cow::Owned(replaced);
            }
        }
        out
    }

    /// Masks every text of an alert in place.
    pub fn redact_alert(&self, a: &mut Alert) {
        let fix = |s: &mut String| {
            if let Cow::Owned(o) = self.redact(s) {
                *s = o;
            }
        };
        fix(&mut a.summary);
        if let Some(l) = a.line.as_mut() {
            fix(l);
        }
        for c in a.context.iter_mut() {
            fix(c);
        }
        if let Some(s) = a.source.as_mut() {
            fix(s);
        }
    }
}

fn looks_random(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes().any(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        Redactor::new(&AlertsConfig::default(), &["s3cr3t-from-config"])
    }

    #[test]
    fn passwords_tokens_and_keys_are_masked() {
        let r = redactor();
        let cases = [
            (
                "login failed password=hunter2 user=bob",
                "login failed password=[REDACTED] user=bob",
            ),
            ("db_password: 'hunter2'", "db_password: '[REDACTED]'"),
            (
                r#"{"api_key": "abc123xyz"}"#,
                r#"{"api_key": "[REDACTED]"}"#,
            ),
            (
                "Authorization: Bearer abc.def.ghi",
                "Authorization: Bearer [REDACTED]",
            ),
            (
                "GET https://bob:hunter2@example.com/x",
                "GET https://bob:[REDACTED]@example.com/x",
            ),
            (
                "bot 123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0 failed",
                "bot [REDACTED] failed",
            ),
            ("key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED] used"),
            ("sid=0123456789abcdef0123456789abcdef", "sid=[REDACTED]"),
            ("uses s3cr3t-from-config here", "uses [REDACTED] here"),
            (
                "hook https://hooks.slack.com/services/T000/B000/XXXXXXXX",
                "hook https://hooks.slack.com/services/[REDACTED]",
            ),
            ("tok aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5", "tok [REDACTED]"),
        ];
        for (input, want) in cases {
            assert_eq!(r.redact(input), want, "input: {input}");
        }
    }

    #[test]
    fn ordinary_log_text_is_left_alone() {
        let r = redactor();
        for line in [
            "2026-11-23 09:41:42,123 ERROR order rejected: insufficient margin",
            r#"  File "/home/bot/.venv/lib/python3.11/site-packages/aiohttp/client_reqrep.py", line 1020"#,
            "socket.timeout: timed out after 30s (x86_64-linux-gnu-libsystemd-shared-252)",
            "Update VIX=17.25 Position=AAPL qty=100",
            "token refresh scheduled",
        ] {
            assert_eq!(r.redact(line), line);
        }
    }

    #[test]
    fn operators_add_patterns_and_can_drop_the_defaults() {
        let cfg = AlertsConfig {
            redact: vec![r"ACCT-\d+".into()],
            redact_defaults: false,
            ..AlertsConfig::default()
        };
        let r = Redactor::new(&cfg, &[]);
        assert_eq!(r.redact("ACCT-12345 password=x"), "[REDACTED] password=x");
    }
}
