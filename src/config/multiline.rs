//! `[watch.multiline]`: how lines are grouped into events (Python tracebacks by default
//! with the `python-logging` pack).

use crate::config::error::Diagnostics;
use crate::config::located::SourceMap;
use crate::config::packs;
use crate::config::range::{self, ms, secs};
use crate::config::raw::{self, RawWatch};
use crate::config::types::{DEFAULT_MULTILINE_MAX_LINES, DEFAULT_MULTILINE_TIMEOUT};
use crate::matcher::pack::PatternPack;
use crate::source::multiline::{Grouping, MultilineRule};

/// The watch's multi-line rule: as configured, else `python` when it uses the
/// `python-logging` pack, else none.
pub(super) fn resolve_multiline(
    w: &RawWatch,
    packs: &[PatternPack],
    max_line_bytes: usize,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> MultilineRule {
    let mut rule = MultilineRule {
        grouping: if packs.iter().any(|p| p.name == "python-logging") {
            Grouping::Python
        } else {
            Grouping::None
        },
        timeout: DEFAULT_MULTILINE_TIMEOUT,
        max_lines: DEFAULT_MULTILINE_MAX_LINES,
        max_bytes: max_line_bytes.saturating_mul(4),
    };
    let Some(m) = &w.multiline else {
        return rule;
    };
    let m = &m.value;
    use raw::MultilineKindText as K;
    let needs_pattern = matches!(m.kind.value, K::Continuation | K::Start);
    let regex = match (&m.pattern, needs_pattern) {
        (Some(p), true) => match packs::build_regex(&p.value, true) {
            Ok(re) => Some(re),
            Err(e) => {
                diags.at(
                    sources,
                    p,
                    format!("multiline pattern does not compile: {e}"),
                );
                None
            }
        },
        (None, true) => {
            diags.at(
                sources,
                &m.kind,
                "this multiline kind needs `pattern = '<regex>'`".into(),
            );
            None
        }
        (Some(p), false) => {
            diags.at(
                sources,
                p,
                "`pattern` applies only to kind \"continuation\" or \"start\"".into(),
            );
            None
        }
        (None, false) => None,
    };
    rule.grouping = match (m.kind.value, regex) {
        (K::None, _) => Grouping::None,
        (K::Python, _) => Grouping::Python,
        (K::Continuation, Some(re)) => Grouping::Continuation(re),
        (K::Start, Some(re)) => Grouping::Start(re),
        _ => Grouping::None,
    };
    if let Some(t) = &m.timeout {
        rule.timeout = range::duration(t, "multiline timeout", ms(10), secs(60), sources, diags);
    }
    if let Some(n) = &m.max_lines {
        rule.max_lines = range::number(n, "max_lines", 1, 100_000, sources, diags) as usize;
    }
    rule
}
