//! `[watch.journal]`: the filter on the systemd journal and the priorities it maps.

use crate::config::error::Diagnostics;
use crate::config::located::{resolve_path, Located, SourceMap};
use crate::config::raw::{self, RawWatch};
use crate::config::types::JournalConfig;
use crate::source::journal::{parse_priority, JournalFilter};

/// The location of a located table, for messages about the table as a whole.
pub(super) fn j_at<T>(j: &Located<T>) -> Located<()> {
    Located {
        value: (),
        file: j.file,
        span: j.span.clone(),
    }
}

/// `[watch.journal]`: what to read (the watch's unit when nothing is named) and the
/// priorities.
pub(super) fn resolve_journal(
    watch: &str,
    w: &RawWatch,
    j: &raw::RawJournal,
    at: &Located<()>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<JournalConfig> {
    let strings = |v: &Option<Vec<Located<String>>>| -> Vec<String> {
        v.iter().flatten().map(|s| s.value.clone()).collect()
    };
    let mut filter = JournalFilter {
        units: strings(&j.units),
        user_units: strings(&j.user_units),
        identifiers: strings(&j.identifiers),
        matches: Vec::new(),
        max_priority: None,
        directory: j.directory.as_ref().map(|d| resolve_path(sources, d)),
    };
    for m in j.matches.iter().flatten() {
        match m.value.split_once('=') {
            Some((field, value))
                if !field.is_empty()
                    && field
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
            {
                filter.matches.push((field.to_string(), value.to_string()));
            }
            _ => diags.at(
                sources,
                m,
                format!(
                    "journal match {:?} is not FIELD=value (FIELD in upper case, like _COMM=python3)",
                    m.value
                ),
            ),
        }
    }
    let priority = |p: &Option<Located<String>>, diags: &mut Diagnostics| {
        p.as_ref().and_then(|p| {
            let parsed = parse_priority(&p.value);
            if parsed.is_none() {
                diags.at(
                    sources,
                    p,
                    format!(
                        "unknown priority {:?}; use one of emerg, alert, crit, err, warning, notice, info, debug (or 0-7)",
                        p.value
                    ),
                );
            }
            parsed
        })
    };
    filter.max_priority = priority(&j.priority, diags);
    let priority_as_error = priority(&j.priority_as_error, diags);
    if filter.units.is_empty()
        && filter.user_units.is_empty()
        && filter.identifiers.is_empty()
        && filter.matches.is_empty()
    {
        // A unit restarted with `systemctl --user` (`[watch.restart] user = ...`) is a
        // user unit, and its entries carry `_SYSTEMD_USER_UNIT`, not `_SYSTEMD_UNIT`.
        let user = w.restart.as_ref().and_then(|r| r.value.user.as_ref());
        match &w.unit {
            // The watch's unit is what to read when nothing else is named.
            Some(u) if user.is_some() => {
                filter.user_units.push(u.value.clone());
                // That user's unit, not another user's of the same name; the user manager
                // runs as the user too. (A user unknown here is not restricted: restarts
                // will say that systemctl does not know it.)
                if let Some(uid) = user.and_then(|u| crate::core::systemctl::uid_of(&u.value)) {
                    filter.matches.push(("_UID".into(), uid.to_string()));
                }
            }
            Some(u) => filter.units.push(u.value.clone()),
            None => {
                diags.at(
                    sources,
                    at,
                    format!(
                        "journal of watch {watch:?} names nothing to read: set units, user_units, identifiers or matches (or the watch's unit)"
                    ),
                );
                return None;
            }
        }
    }
    Some(JournalConfig {
        filter,
        priority_as_error,
    })
}
