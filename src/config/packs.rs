//! Pattern packs: TOML files of named patterns, shipped in the binary or read from `patterns_dir`.
//!
//! A pack found in `patterns_dir` replaces the shipped pack of the same name, so operators tune
//! packs without editing files a package upgrade would overwrite. Everything is validated here,
//! with file:line:column, so the matcher can be built without failing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::error::Diagnostics;
use crate::config::located::{Located, SourceMap};
use crate::matcher::condition::Condition;
use crate::matcher::pack::{PatternDef, PatternPack};

/// Packs compiled into the binary: (name, file text).
pub const SHIPPED_PACKS: &[(&str, &str)] = &[
    (
        "python-logging",
        include_str!("../../patterns/python-logging.toml"),
    ),
    ("trading", include_str!("../../patterns/trading.toml")),
    ("django", include_str!("../../patterns/django.toml")),
    ("celery", include_str!("../../patterns/celery.toml")),
    ("nginx", include_str!("../../patterns/nginx.toml")),
    ("postgresql", include_str!("../../patterns/postgresql.toml")),
    ("systemd", include_str!("../../patterns/systemd.toml")),
    ("gunicorn", include_str!("../../patterns/gunicorn.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    #[allow(dead_code)] // documentation for people reading the file
    description: Option<String>,
    #[serde(default)]
    pattern: Vec<RawPattern>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    name: Located<String>,
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    any: Vec<Located<String>>,
    #[serde(default)]
    regex: Vec<Located<String>>,
    #[serde(default)]
    ignore: Vec<Located<String>>,
    #[serde(default)]
    ignore_regex: Vec<Located<String>>,
    #[serde(default)]
    case_sensitive: bool,
    /// Field conditions on structured lines (`where = ["status >= 500"]`).
    #[serde(default, rename = "where")]
    conditions: Vec<Located<String>>,
}

/// All packs available to one config: shipped ones, overridden by those in `patterns_dir`.
#[derive(Debug, Default)]
pub struct PackSet {
    packs: BTreeMap<String, PatternPack>,
}

impl PackSet {
    /// Loads shipped packs, then every `*.toml` in `dir` (if it exists). Errors go to `diags`;
    /// a pack with errors is left out.
    pub fn load(dir: Option<&Path>, sources: &mut SourceMap, diags: &mut Diagnostics) -> PackSet {
        let mut set = PackSet::default();
        for (name, text) in SHIPPED_PACKS {
            let origin = PathBuf::from(format!("<built-in>/{name}.toml"));
            if let Some(pack) = parse_pack(name, &origin, text, sources, diags) {
                set.packs.insert(name.to_string(), pack);
            }
        }
        let Some(dir) = dir else { return set };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return set,
            Err(e) => {
                diags.plain(format!(
                    "{}: cannot read patterns directory: {e}",
                    dir.display()
                ));
                return set;
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            if let Some(pack) = set.load_file(&path, sources, diags) {
                set.packs.insert(pack.name.clone(), pack);
            }
        }
        set
    }

    /// Reads one pack file by path; its name is the file stem.
    pub fn load_file(
        &self,
        path: &Path,
        sources: &mut SourceMap,
        diags: &mut Diagnostics,
    ) -> Option<PatternPack> {
        let name = path.file_stem()?.to_string_lossy().into_owned();
        if let Some(p) = crate::config::permissions::world_writable(path, "pattern pack") {
            diags.plain(p);
            return None;
        }
        match std::fs::read_to_string(path) {
            Ok(text) => parse_pack(&name, path, &text, sources, diags),
            Err(e) => {
                diags.plain(format!("{}: cannot read pattern pack: {e}", path.display()));
                None
            }
        }
    }

    /// The pack called `name`.
    pub fn get(&self, name: &str) -> Option<&PatternPack> {
        self.packs.get(name)
    }

    /// Adds (or replaces) a pack.
    pub fn insert(&mut self, pack: PatternPack) {
        self.packs.insert(pack.name.clone(), pack);
    }

    /// Names of all packs, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.packs.keys().map(String::as_str)
    }
}

/// Parses and validates one pack's text (public for the fuzz targets and their regression test).
pub fn parse_pack(
    name: &str,
    origin: &Path,
    text: &str,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<PatternPack> {
    let file = sources.add(origin, text.to_string());
    let raw: RawPack =
        match crate::config::located::with_current_file(file, || toml::from_str(text)) {
            Ok(raw) => raw,
            Err(e) => {
                diags.toml_error(sources, file, &e);
                return None;
            }
        };
    let errors_before = diags.len();
    let mut patterns: Vec<PatternDef> = Vec::new();
    for p in raw.pattern {
        if p.name.value.trim().is_empty() {
            diags.at(sources, &p.name, "pattern name is empty".to_string());
        }
        if patterns.iter().any(|q| q.name == p.name.value) {
            diags.at(
                sources,
                &p.name,
                format!(
                    "pattern {:?} is defined twice in pack {name:?}",
                    p.name.value
                ),
            );
        }
        if p.any.is_empty() && p.regex.is_empty() && p.conditions.is_empty() {
            diags.at(
                sources,
                &p.name,
                format!(
                    "pattern {name}/{} has neither `any` literals nor `regex` nor `where`: it would match nothing",
                    p.name.value
                ),
            );
        }
        let mut conditions = Vec::new();
        for c in &p.conditions {
            match Condition::parse(&c.value) {
                Ok(condition) => conditions.push(condition),
                Err(e) => {
                    // +1 skips the opening quote, as for regexes.
                    let pos = sources.position(c.file, c.span.start + 1 + e.offset);
                    diags.push(format!(
                        "{pos}: condition {:?} in pattern {name}/{}: {} (at character {})",
                        c.value,
                        p.name.value,
                        e.message,
                        e.offset + 1
                    ));
                }
            }
        }
        for lit in p.any.iter().chain(&p.ignore) {
            if lit.value.is_empty() {
                diags.at(
                    sources,
                    lit,
                    format!(
                        "empty literal in pattern {name}/{}: it would match every line",
                        p.name.value
                    ),
                );
            }
        }
        for (re, is_ignore) in p
            .regex
            .iter()
            .map(|r| (r, false))
            .chain(p.ignore_regex.iter().map(|r| (r, true)))
        {
            check_regex(
                name,
                &p.name.value,
                re,
                p.case_sensitive,
                is_ignore,
                sources,
                diags,
            );
        }
        let strings = |v: Vec<Located<String>>| v.into_iter().map(|l| l.value).collect();
        patterns.push(PatternDef {
            name: p.name.value,
            literals: strings(p.any),
            regexes: strings(p.regex),
            ignore: strings(p.ignore),
            ignore_regexes: strings(p.ignore_regex),
            case_sensitive: p.case_sensitive,
            conditions,
        });
    }
    if diags.len() > errors_before {
        return None;
    }
    Some(PatternPack {
        name: name.to_string(),
        origin: origin.to_path_buf(),
        patterns,
    })
}

/// Checks that a regex compiles and does not match the empty line; errors point into the regex.
fn check_regex(
    pack: &str,
    pattern: &str,
    re: &Located<String>,
    case_sensitive: bool,
    is_ignore: bool,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) {
    match regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(&re.value)
    {
        Err(e) => {
            let (offset, message) = match &e {
                regex_syntax::Error::Parse(a) => (a.span().start.offset, a.kind().to_string()),
                regex_syntax::Error::Translate(h) => {
                    (h.span().start.offset, h.kind().to_string())
                }
                other => (0, other.to_string()),
            };
            // Point at the offending character: +1 skips the opening quote. Exact for TOML
            // literal strings ('...'), which is how regexes should be written.
            let pos = sources.position(re.file, re.span.start + 1 + offset);
            diags.push(format!(
                "{pos}: regex in pattern {pack}/{pattern} does not compile: {message} (at character {} of {:?})",
                offset + 1,
                re.value
            ));
        }
        Ok(_) => match build_regex(&re.value, case_sensitive) {
            Err(e) => diags.at(
                sources,
                re,
                format!("regex in pattern {pack}/{pattern} does not compile: {e}"),
            ),
            Ok(compiled) if compiled.is_match(b"") => diags.at(
                sources,
                re,
                format!(
                    "regex {:?} in pattern {pack}/{pattern} matches the empty line, so it would {} every line",
                    re.value,
                    if is_ignore { "ignore" } else { "match" }
                ),
            ),
            Ok(_) => {}
        },
    }
}

/// Compiles one regex the way the matcher will (bytes, optional case folding).
pub fn build_regex(re: &str, case_sensitive: bool) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(re)
        .case_insensitive(!case_sensitive)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Option<PatternPack>, Vec<String>) {
        let mut sources = SourceMap::default();
        let mut diags = Diagnostics::default();
        let pack = parse_pack("t", Path::new("t.toml"), text, &mut sources, &mut diags);
        (pack, diags.messages().to_vec())
    }

    #[test]
    fn shipped_packs_are_valid() {
        for (name, text) in SHIPPED_PACKS {
            let (pack, errors) = parse(text);
            assert!(errors.is_empty(), "{name}: {errors:?}");
            assert!(!pack.unwrap().patterns.is_empty());
        }
    }

    /// The captures of the one regex of shipped pattern `pack/name` on `line`.
    fn captures(pack: &str, name: &str, line: &str) -> Option<Vec<(String, String)>> {
        let text = SHIPPED_PACKS.iter().find(|(n, _)| *n == pack).unwrap().1;
        let pack = parse(text).0.unwrap();
        let def = pack.patterns.iter().find(|p| p.name == name).unwrap();
        assert_eq!(
            def.regexes.len(),
            1,
            "one regex, so its captures are the pattern's"
        );
        let re = build_regex(&def.regexes[0], def.case_sensitive).unwrap();
        let caps = re.captures(line.as_bytes())?;
        Some(
            re.capture_names()
                .flatten()
                .filter_map(|n| {
                    let v = caps.name(n)?;
                    Some((n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                })
                .collect(),
        )
    }

    fn pairs(p: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn access_patterns_capture_status_and_request_time_where_the_format_has_it() {
        let combined = r#"203.0.113.11 - - [23/Nov/2026:09:30:20 +0000] "GET /api/positions HTTP/1.1" 502 157 "-" "bot-ui/2.0""#;
        let timed = r#"203.0.113.11 - - [23/Nov/2026:09:30:20 +0000] "GET /a?b=\x22 HTTP/1.1" 200 0 "-" "Mozilla/5.0 (X11)" 2.417"#;
        let xff = r#"203.0.113.11 - - [23/Nov/2026:09:30:20 +0000] "GET / HTTP/2.0" 404 5 "https://x/" "curl/8" "10.0.0.1" 0.004"#;
        let garbage =
            r#"198.51.100.7 - - [23/Nov/2026:09:30:20 +0000] "\x16\x03\x01" 400 157 "-" "-""#;
        assert_eq!(
            captures("nginx", "request", combined),
            pairs(&[("status", "502")])
        );
        assert_eq!(
            captures("nginx", "request", timed),
            pairs(&[("status", "200"), ("request_time", "2.417")])
        );
        assert_eq!(
            captures("nginx", "request", xff),
            pairs(&[("status", "404"), ("request_time", "0.004")])
        );
        assert_eq!(
            captures("nginx", "request", garbage),
            pairs(&[("status", "400")])
        );
        let error_log = r#"2026/11/23 09:30:10 [error] 812#812: *31 upstream timed out, request: "GET /api/fills HTTP/1.1", upstream: "http://127.0.0.1:8000/api/fills""#;
        assert_eq!(captures("nginx", "request", error_log), None);

        let gunicorn = r#"127.0.0.1 - - [04/Dec/2026:10:00:03 +0000] "POST /api/orders/ HTTP/1.1" 500 145 "-" "bot-ui/2.0" 2.417"#;
        let gunicorn_default =
            r#"127.0.0.1 - - [04/Dec/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 - "-" "bot-ui/2.0""#;
        let runserver = r#"[04/Dec/2026 10:00:42] "POST /api/orders/ HTTP/1.1" 503 88"#;
        assert_eq!(
            captures("gunicorn", "request", gunicorn),
            pairs(&[("status", "500"), ("request_time", "2.417")])
        );
        assert_eq!(
            captures("gunicorn", "request", gunicorn_default),
            pairs(&[("status", "200")])
        );
        assert_eq!(
            captures("gunicorn", "request", runserver),
            pairs(&[("status", "503")])
        );

        let query = r#"(1.204) SELECT "o"."id" FROM "o" WHERE "o"."c" = 'a1' LIMIT 21; args=('a1',); alias=default"#;
        assert_eq!(
            captures("django", "query", query),
            pairs(&[("duration", "1.204")])
        );
        assert_eq!(captures("django", "query", "(1.204) of the time"), None);
    }

    #[test]
    fn bad_regex_names_pack_pattern_and_column() {
        let (pack, errors) = parse("[[pattern]]\nname = \"boom\"\nregex = ['ab(c']\n");
        assert!(pack.is_none());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("t.toml:3:"), "{}", errors[0]);
        assert!(errors[0].contains("t/boom"), "{}", errors[0]);
    }

    #[test]
    fn patterns_that_match_everything_are_rejected() {
        let (_, errors) = parse("[[pattern]]\nname = \"all\"\nany = [\"\"]\n");
        assert!(errors[0].contains("every line"), "{errors:?}");
        let (_, errors) = parse("[[pattern]]\nname = \"all\"\nregex = ['.*']\n");
        assert!(errors[0].contains("empty line"), "{errors:?}");
        let (_, errors) = parse("[[pattern]]\nname = \"none\"\n");
        assert!(errors[0].contains("neither"), "{errors:?}");
    }

    #[test]
    fn unknown_keys_are_errors_with_position() {
        let (_, errors) = parse("[[pattern]]\nname = \"x\"\nanyy = [\"a\"]\n");
        assert!(errors[0].starts_with("t.toml:3:1"), "{errors:?}");
        assert!(errors[0].contains("anyy"), "{errors:?}");
    }
}
