//! Loading: the main file and its drop-ins (`logwarden.d/*.toml`, merged in name order),
//! parsed with positions, merged, then resolved into a `Config` or every problem found.

use std::path::{Path, PathBuf};

use crate::config::channel;
use crate::config::daemon_table::resolve_daemon;
use crate::config::error::{ConfigError, Diagnostics};
use crate::config::located::{self, SourceMap};
use crate::config::packs::PackSet;
use crate::config::permissions;
use crate::config::raw::{self, RawDaemon, RawFile};
use crate::config::types::{Config, RuleKind, WatchConfig};
use crate::config::watch::resolve_watch;

/// Loads the config at `path` with its drop-ins and pattern packs.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let mut files = Vec::new();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        problems: vec![format!("{}: cannot read config file: {e}", path.display())],
    })?;
    let mut problems: Vec<String> = permissions::world_writable(path, "config file")
        .into_iter()
        .collect();
    files.push((path.to_path_buf(), text));
    let dropin_dir = path.parent().unwrap_or(Path::new(".")).join("logwarden.d");
    match std::fs::read_dir(&dropin_dir) {
        Ok(entries) => {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for p in paths {
                problems.extend(permissions::world_writable(&p, "drop-in"));
                match std::fs::read_to_string(&p) {
                    Ok(t) => files.push((p, t)),
                    Err(e) => problems.push(format!("{}: cannot read drop-in: {e}", p.display())),
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => problems.push(format!("{}: cannot read: {e}", dropin_dir.display())),
    }
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    load_texts(files)
}

/// Loads a config from texts already read: the main file first, then drop-ins in order.
pub fn load_texts(files: Vec<(PathBuf, String)>) -> Result<Config, ConfigError> {
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let mut merged = RawFile::default();
    for (path, text) in files {
        let index = sources.add(&path, text);
        let parsed: Result<RawFile, _> =
            located::with_current_file(index, || toml::from_str(sources.text(index)));
        match parsed {
            Ok(file) => {
                check_duplicates(&file, &sources, &mut diags);
                merge(&mut merged, file)
            }
            Err(e) => diags.toml_error(&sources, index, &e),
        }
    }
    if !diags.is_empty() {
        return Err(ConfigError {
            problems: diags.messages().to_vec(),
        });
    }
    let config = resolve(merged, &mut sources, &mut diags);
    if !diags.is_empty() {
        return Err(ConfigError {
            problems: diags.messages().to_vec(),
        });
    }
    Ok(config)
}

/// Within one file a watch, and a rule of a watch, is defined once: merging by name is for
/// drop-ins, and two rules of one name would share one alert key.
fn check_duplicates(file: &RawFile, sources: &SourceMap, diags: &mut Diagnostics) {
    for (i, w) in file.watch.iter().enumerate() {
        if file.watch[..i].iter().any(|o| o.name.value == w.name.value) {
            diags.at(
                sources,
                &w.name,
                format!("watch {:?} is defined twice in this file", w.name.value),
            );
        }
        for (j, r) in w.rule.iter().enumerate() {
            if w.rule[..j].iter().any(|o| o.name.value == r.name.value) {
                diags.at(
                    sources,
                    &r.name,
                    format!(
                        "rule {:?} is defined twice in watch {:?}",
                        r.name.value, w.name.value
                    ),
                );
            }
        }
    }
}

/// Merges a later file into what the earlier files set.
fn merge(into: &mut RawFile, later: RawFile) {
    if let Some(d) = later.daemon {
        into.daemon
            .get_or_insert_with(RawDaemon::default)
            .merge_from(d);
    }
    for w in later.watch {
        match into
            .watch
            .iter_mut()
            .find(|existing| existing.name.value == w.name.value)
        {
            Some(existing) => existing.merge_from(w),
            None => into.watch.push(w),
        }
    }
    into.channels.extend(later.channels);
    if let Some(a) = later.alerts {
        into.alerts
            .get_or_insert_with(raw::RawAlerts::default)
            .merge_from(a);
    }
}

/// Checks the merged files and builds the config (problems go to `diags`).
fn resolve(raw: RawFile, sources: &mut SourceMap, diags: &mut Diagnostics) -> Config {
    let daemon = resolve_daemon(raw.daemon.unwrap_or_default(), sources, diags);
    let packs = PackSet::load(Some(&daemon.patterns_dir), sources, diags);

    let alerts = channel::resolve_alerts(raw.alerts.as_ref(), sources, diags);
    let channels = channel::resolve_channels(&raw.channels, &alerts, sources, diags);

    let mut watches: Vec<WatchConfig> = raw
        .watch
        .into_iter()
        .filter_map(|w| resolve_watch(w, &packs, &channels, sources, diags))
        .collect();
    // Learning rules keep what they learned in state_dir/rules/WATCH/RULE.json.
    for w in &mut watches {
        for r in &mut w.rules {
            if let RuleKind::NewKind { state_file, .. } | RuleKind::Anomaly { state_file, .. } =
                &mut r.kind
            {
                *state_file = daemon
                    .state_dir
                    .join("rules")
                    .join(&w.name)
                    .join(format!("{}.json", r.name));
            }
        }
    }
    Config {
        daemon,
        watches,
        channels,
        alerts,
        files_read: sources.paths().map(Path::to_path_buf).collect(),
    }
}
