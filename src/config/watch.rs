//! One `[[watch]]`: its sources, packs, channels, line limits, multi-line grouping, rules,
//! restart method and probes, each checked against the others.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::channels::ChannelConfig;
use crate::config::error::Diagnostics;
use crate::config::journal::{j_at, resolve_journal};
use crate::config::located::{resolve_path, Located, SourceMap};
use crate::config::multiline::resolve_multiline;
use crate::config::packs::PackSet;
use crate::config::range;
use crate::config::raw::{self, valid_name, RawWatch};
use crate::config::recovery::{self, ProbeConfig, RestartConfig};
use crate::config::rule::resolve_rule;
use crate::config::types::{JournalConfig, RuleConfig, WatchConfig, DEFAULT_MAX_LINE_BYTES};
use crate::matcher::fields::FieldPath;
use crate::matcher::pack::PatternPack;
use crate::matcher::structured::{LineFormat, LineStructure};
use crate::source::StartAt;

/// One `[[watch]]` after checks; `None` (and problems in `diags`) when it has errors.
pub(super) fn resolve_watch(
    mut w: RawWatch,
    packs: &PackSet,
    channels: &BTreeMap<String, ChannelConfig>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<WatchConfig> {
    let errors_before = diags.len();
    let name = w.name.value.clone();
    if !valid_name(&name) {
        diags.at(
            sources,
            &w.name,
            format!("watch name {name:?} may use only letters, digits, '-', '_', '.', '@'"),
        );
    }
    let (files, journal) = resolve_sources(&name, &w, sources, diags);
    let watch_packs = resolve_packs(&w, packs, sources, diags);
    let notify = resolve_notify(&w, channels, sources, diags);
    let max_line_bytes = range::number_or(
        &w.max_line_bytes,
        "max_line_bytes",
        (256, 16 * 1024 * 1024),
        DEFAULT_MAX_LINE_BYTES as u64,
        sources,
        diags,
    ) as usize;
    let start_at = match w.start_at.as_ref().map(|s| s.value) {
        Some(raw::StartAtText::Beginning) => StartAt::Beginning,
        _ => StartAt::End,
    };
    let pattern_names = pattern_names(&name, &w, &watch_packs, journal.as_ref(), sources, diags);
    let multiline = resolve_multiline(&w, &watch_packs, max_line_bytes, sources, diags);
    let timestamp_format = resolve_timestamp_format(w.timestamp_format.as_ref(), sources, diags);
    let structure = resolve_structure(&w, sources, diags);
    if structure.format == LineFormat::Plain {
        for entry in w.patterns.iter().flat_map(|p| p.value.iter()) {
            let Some(pack) = watch_packs.iter().find(|p| p.name == entry.value) else {
                continue;
            };
            if let Some(def) = pack.patterns.iter().find(|d| !d.conditions.is_empty()) {
                diags.at(
                    sources,
                    entry,
                    format!(
                        "pattern {}/{} has `where` conditions, which only JSON or logfmt lines can meet, but watch {name:?} reads plain lines; set format = \"json\", \"logfmt\" or \"auto\"",
                        pack.name, def.name
                    ),
                );
            }
        }
    }
    if let Some(f) = w
        .format
        .as_ref()
        .filter(|_| structure.format != LineFormat::Plain)
    {
        let defines = |slot: &str| {
            watch_packs
                .iter()
                .any(|p| p.patterns.iter().any(|d| d.name == slot))
        };
        if !["error", "critical", "warning"].into_iter().any(defines) {
            diags.at(
                sources,
                f,
                format!(
                    "format {:?} in watch {name:?} counts a line's level field as the pattern \"error\", \"critical\" or \"warning\", which none of its packs defines; add python-logging to its patterns",
                    f.value
                ),
            );
        }
    }
    let mut rules = Vec::new();
    for r in std::mem::take(&mut w.rule) {
        if let Some(rule) = resolve_rule(&name, r, &pattern_names, &watch_packs, sources, diags) {
            rules.push(rule);
        }
    }
    let (restart, probes) = resolve_recovery(&name, &w, &rules, sources, diags);
    if diags.len() > errors_before {
        return None;
    }
    Some(WatchConfig {
        name,
        unit: w.unit.map(|u| u.value),
        files,
        packs: watch_packs,
        notify,
        start_at,
        max_line_bytes,
        olddir: w.olddir.as_ref().map(|d| resolve_path(sources, d)),
        timestamp_format,
        structure,
        multiline,
        journal,
        restart,
        probes,
        rules,
    })
}

/// The watch's files (globs checked) and journal; a watch needs one of them.
fn resolve_sources(
    name: &str,
    w: &RawWatch,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> (Vec<PathBuf>, Option<JournalConfig>) {
    let files: Vec<PathBuf> = w
        .files
        .as_ref()
        .map(|f| f.value.iter().map(|p| resolve_path(sources, p)).collect())
        .unwrap_or_default();
    if let Some(f) = &w.files {
        for (p, resolved) in f.value.iter().zip(&files) {
            if crate::source::glob::is_glob(resolved) {
                if let Err(e) = crate::source::glob::validate(resolved) {
                    diags.at(sources, p, e);
                }
            }
        }
    }
    let journal = w
        .journal
        .as_ref()
        .and_then(|j| resolve_journal(name, w, &j.value, &j_at(j), sources, diags));
    if files.is_empty() && w.journal.is_none() {
        diags.at(
            sources,
            &w.name,
            format!(
                "watch {name:?} has no source: set files = [\"/path/to/bot.log\"] or a [watch.journal] table"
            ),
        );
    }
    (files, journal)
}

/// The pattern packs the watch names (each must exist).
fn resolve_packs(
    w: &RawWatch,
    packs: &PackSet,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Vec<PatternPack> {
    let mut watch_packs = Vec::new();
    for p in w.patterns.iter().flat_map(|p| p.value.iter()) {
        match packs.get(&p.value) {
            Some(pack) => watch_packs.push(pack.clone()),
            None => diags.at(
                sources,
                p,
                format!(
                    "unknown pattern pack {:?}; available: {}",
                    p.value,
                    packs.names().collect::<Vec<_>>().join(", ")
                ),
            ),
        }
    }
    watch_packs
}

/// The channels the watch notifies (each must be defined; `console` by default).
fn resolve_notify(
    w: &RawWatch,
    channels: &BTreeMap<String, ChannelConfig>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Vec<String> {
    match &w.notify {
        Some(n) => {
            for c in &n.value {
                if !channels.contains_key(&c.value) {
                    diags.at(
                        sources,
                        c,
                        format!(
                            "unknown channel {:?}; define it under [channels.{}] or use one of: {}",
                            c.value,
                            c.value,
                            channels.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
            n.value.iter().map(|c| c.value.clone()).collect()
        }
        None => vec!["console".to_string()],
    }
}

/// The distinct pattern names of the watch's packs, sorted (at most `MAX_SLOTS`; an
/// `error` pattern when the journal's `priority_as_error` needs one).
fn pattern_names<'a>(
    name: &str,
    w: &RawWatch,
    watch_packs: &'a [PatternPack],
    journal: Option<&JournalConfig>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Vec<&'a str> {
    let pattern_names: Vec<&str> = {
        let mut v: Vec<&str> = watch_packs
            .iter()
            .flat_map(|p| p.patterns.iter().map(|d| d.name.as_str()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    if pattern_names.len() > crate::matcher::MAX_SLOTS {
        diags.at(
            sources,
            &w.name,
            format!(
                "watch {name:?} uses {} distinct pattern names; at most {} are supported",
                pattern_names.len(),
                crate::matcher::MAX_SLOTS
            ),
        );
    }
    if let (Some(j), Some(raw_j)) = (journal, &w.journal) {
        if j.priority_as_error.is_some() && !pattern_names.contains(&"error") {
            diags.at(
                sources,
                raw_j,
                format!(
                    "priority_as_error in watch {name:?} marks entries as pattern \"error\", which none of its packs defines; add a pack with an \"error\" pattern (python-logging, trading)"
                ),
            );
        }
    }
    pattern_names
}

/// The watch's restart method and probes: names unique among its rules and probes,
/// `then = ["restart"]` only with something to restart, `confirm` naming what exists.
fn resolve_recovery(
    name: &str,
    w: &RawWatch,
    rules: &[RuleConfig],
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> (Option<RestartConfig>, Vec<ProbeConfig>) {
    let restart = recovery::resolve_restart(
        name,
        w.unit.as_ref().map(|u| u.value.as_str()),
        w.restart.as_ref(),
        sources,
        diags,
    );
    let user = w
        .restart
        .as_ref()
        .and_then(|r| r.value.user.as_ref())
        .map(|u| u.value.as_str());
    let mut probes: Vec<ProbeConfig> = Vec::new();
    for p in &w.probe {
        if probes.iter().any(|q| q.name == p.name.value)
            || rules.iter().any(|r: &RuleConfig| r.name == p.name.value)
        {
            diags.at(
                sources,
                &p.name,
                format!(
                    "probe name {:?} is already used by a rule or probe of this watch",
                    p.name.value
                ),
            );
        }
        if let Some(probe) = recovery::resolve_probe(
            name,
            w.unit.as_ref().map(|u| u.value.as_str()),
            user,
            p,
            sources,
            diags,
        ) {
            probes.push(probe);
        }
    }
    let wants_restart =
        rules.iter().any(|r| r.then_restart) || probes.iter().any(|p| p.then_restart);
    if wants_restart && restart.is_none() {
        diags.at(
            sources,
            &w.name,
            format!("watch {name:?} has a rule or probe with then = [\"restart\"] but nothing to restart: set `unit` or [watch.restart] command"),
        );
    }
    if let (Some(_), Some(raw)) = (&restart, &w.restart) {
        for c in raw.value.confirm.iter().flatten() {
            if !rules.iter().any(|x| x.name == c.value) && !probes.iter().any(|x| x.name == c.value)
            {
                diags.at(
                    sources,
                    c,
                    format!(
                        "confirm names {:?}, which is no rule or probe of watch {name:?}",
                        c.value
                    ),
                );
            }
        }
    }
    (restart, probes)
}

/// `format` (default `"plain"`) and `level_field` (default: the usual level keys).
fn resolve_structure(w: &RawWatch, sources: &SourceMap, diags: &mut Diagnostics) -> LineStructure {
    let mut structure = LineStructure::default();
    if let Some(f) = &w.format {
        match LineFormat::parse(&f.value) {
            Some(format) => structure.format = format,
            None => diags.at(
                sources,
                f,
                format!(
                    "format {:?} is not one of \"plain\", \"json\", \"logfmt\", \"auto\"",
                    f.value
                ),
            ),
        }
    }
    if let Some(l) = &w.level_field {
        match FieldPath::parse(&l.value) {
            Ok(path) => structure.level_fields = vec![path],
            Err(e) => diags.at(sources, l, format!("level_field: {e}")),
        }
        if structure.format == LineFormat::Plain {
            diags.at(
                sources,
                l,
                "level_field is read only from structured lines; set format = \"json\", \"logfmt\" or \"auto\" too".to_string(),
            );
        }
    }
    structure
}

/// `timestamp_format`: `"auto"` (or absent) or a strftime format, which must have a `%`.
fn resolve_timestamp_format(
    f: Option<&Located<String>>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> crate::source::timestamp::TimestampFormat {
    use crate::source::timestamp::TimestampFormat;
    match f {
        None => TimestampFormat::Auto,
        Some(f) if f.value == "auto" => TimestampFormat::Auto,
        Some(f) if f.value.contains('%') => TimestampFormat::Strftime(f.value.clone()),
        Some(f) => {
            diags.at(
                sources,
                f,
                format!(
                    "timestamp_format {:?} is neither \"auto\" nor a strftime format like \"%d.%m.%Y %H:%M:%S\"",
                    f.value
                ),
            );
            TimestampFormat::Auto
        }
    }
}
