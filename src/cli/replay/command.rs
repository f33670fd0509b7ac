//! What `logwarden replay` does with its arguments: which watch each file belongs to, reading
//! files, standard input or the journal, and one report over all of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::cli::replay::{merge, ReplayError, ReplayReport, WatchReplay};
use crate::config::Config;
use crate::source::journal::JournalFilter;

/// The arguments of one replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayArgs {
    /// Log files, oldest first (`-`: standard input).
    pub files: Vec<PathBuf>,
    /// The watch whose rules judge the lines (default: the watch whose `files` name the file,
    /// or the only watch).
    pub watch: Option<String>,
    /// Read this unit's journal instead of files.
    pub journal_unit: Option<String>,
    /// Read the entries of this syslog identifier instead of files.
    pub journal_identifier: Option<String>,
    /// With `journal_unit`: how far back.
    pub since: Duration,
    /// Time zone of timestamps written without an offset (default: the system's).
    pub timezone: Option<String>,
    /// Save what `new-kind` and `anomaly` rules learned into `state_dir` (seeding the daemon).
    pub seed: bool,
}

/// Why `replay` could not run.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("no watch {0:?} in the config; watches: {1}")]
    UnknownWatch(String, String),
    #[error("cannot tell which watch {0} belongs to (its path is in no watch's `files`); name it with --watch ({1})")]
    WhichWatch(String, String),
    #[error("unknown time zone {0:?}: {1}")]
    TimeZone(String, jiff::Error),
    #[error("give log files or --journal-unit/--journal-identifier, not both")]
    Both,
    #[error("nothing to replay: give log files (or -) or --journal-unit/--journal-identifier")]
    Nothing,
    #[error("{0} looks compressed; decompress it into standard input: zcat {0} | logwarden replay ... -")]
    Compressed(String),
}

/// Runs the replay the arguments ask for.
pub fn run(config: &Config, args: &ReplayArgs) -> Result<ReplayReport, CommandError> {
    let tz = match &args.timezone {
        Some(name) => TimeZone::get(name).map_err(|e| CommandError::TimeZone(name.clone(), e))?,
        None => TimeZone::system(),
    };
    let names = || {
        config
            .watches
            .iter()
            .map(|w| w.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let named = match &args.watch {
        Some(n) => Some(
            config
                .watches
                .iter()
                .position(|w| &w.name == n)
                .ok_or_else(|| CommandError::UnknownWatch(n.clone(), names()))?,
        ),
        None => None,
    };
    let mut replays: BTreeMap<usize, WatchReplay> = BTreeMap::new();
    let journal = match (&args.journal_unit, &args.journal_identifier) {
        (Some(u), _) => Some(("unit", u)),
        (None, Some(i)) => Some(("identifier", i)),
        (None, None) => None,
    };
    match (journal, args.files.is_empty()) {
        (Some(_), false) => return Err(CommandError::Both),
        (None, true) => return Err(CommandError::Nothing),
        (Some((what, name)), true) => {
            let watch = named
                .or_else(|| {
                    config.watches.iter().position(|w| {
                        let j = w.journal.as_ref().map(|j| &j.filter);
                        match what {
                            "unit" => {
                                w.unit.as_deref() == Some(name.as_str())
                                    || j.is_some_and(|f| f.units.contains(name))
                            }
                            _ => j.is_some_and(|f| f.identifiers.contains(name)),
                        }
                    })
                })
                .or_else(|| (config.watches.len() == 1).then_some(0))
                .ok_or_else(|| CommandError::WhichWatch(format!("{what} {name}"), names()))?;
            let mut r = WatchReplay::new(config, watch, tz)?;
            let mut filter = JournalFilter::default();
            if what == "unit" {
                filter.units.push(name.clone());
            } else {
                filter.identifiers.push(name.clone());
            }
            let source: Arc<str> = Arc::from(format!("journal {what}={name}"));
            crate::source::journal::history_entries(&filter, args.since, &mut |usec, msg| {
                let at = Timestamp::from_microsecond(usec as i64).unwrap_or(Timestamp::UNIX_EPOCH);
                r.entry(at, msg, &source);
            })
            .map_err(|e| ReplayError::Read {
                what: format!("the journal of {what} {name}"),
                source: e,
            })?;
            replays.insert(watch, r);
        }
        (None, false) => {
            for file in &args.files {
                let shown = file.display().to_string();
                if file
                    .extension()
                    .is_some_and(|x| x == "gz" || x == "xz" || x == "zst")
                {
                    return Err(CommandError::Compressed(shown));
                }
                let watch = named
                    .or_else(|| watch_of(config, file))
                    .or_else(|| (config.watches.len() == 1).then_some(0))
                    .ok_or_else(|| CommandError::WhichWatch(shown.clone(), names()))?;
                let r = match replays.entry(watch) {
                    std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(WatchReplay::new(config, watch, tz.clone())?)
                    }
                };
                if file.as_os_str() == "-" {
                    r.read("<stdin>", std::io::stdin().lock())?;
                } else {
                    let f = std::fs::File::open(file).map_err(|e| ReplayError::Read {
                        what: shown.clone(),
                        source: e,
                    })?;
                    r.read(&shown, f)?;
                }
            }
        }
    }
    if args.seed {
        for r in replays.values_mut() {
            r.save_learned();
        }
    }
    Ok(merge(
        replays.into_values().map(WatchReplay::finish).collect(),
    ))
}

/// The watch whose `files` name `path`, or its rotated copies (`bot.log.1`, `bot.log-20261123`).
fn watch_of(config: &Config, path: &Path) -> Option<usize> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let name = abs.file_name()?.to_string_lossy().into_owned();
    config.watches.iter().position(|w| {
        w.files.iter().any(|f| {
            let same_dir = f.parent() == abs.parent();
            let f_name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let glob_match = glob::Pattern::new(&f_name)
                .map(|p| p.matches(&name))
                .unwrap_or(false);
            same_dir && (glob_match || name.starts_with(&f_name))
        })
    })
}
/// `logwarden replay`: the alerts the config's rules would have sent over past logs.
pub fn command(config_path: &Path, args: &ReplayArgs, json: bool) -> anyhow::Result<ExitCode> {
    let config = match crate::cli::load_or_report(config_path, "nothing replayed", 1) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let report = run(&config, args)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", crate::cli::replay::render_human(&report));
    }
    Ok(ExitCode::SUCCESS)
}
