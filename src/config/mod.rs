//! The validated configuration: what to watch, how to match, which rules, where to alert.
//!
//! `load` reads the main file and its drop-ins (`logwarden.d/*.toml` beside it, merged in name
//! order), reads the pattern packs, and checks everything, returning either a `Config` the rest
//! of the program can trust or every problem found, each with file:line:column.
//!
//! The types are in `types.rs`; `load.rs` reads and merges the files; each part of a file
//! has its resolver: `daemon_table.rs`, `channel.rs` (and `channel_kinds.rs`; the types in `channels.rs`), `watch.rs` (with `journal.rs`,
//! `multiline.rs`, `recovery.rs`), `rule.rs` and `rule_kinds.rs` (`value_rules.rs` for numbers from lines), `schedule.rs`. Files here
//! import each other by their own path, never through the re-exports below.

mod channel;
mod channel_kinds;
pub(crate) mod channels;
mod daemon_table;
pub mod duration;
pub(crate) mod error;
mod journal;
mod load;
pub mod located;
mod multiline;
pub mod packs;
pub(crate) mod permissions;
pub(crate) mod range;
pub(crate) mod raw;
mod raw_threshold;
mod raw_values;
pub(crate) mod recovery;
mod rule;
mod rule_kinds;
pub mod schedule;
pub(crate) mod secret;
mod slack_channel;
pub(crate) mod types;
mod value_rules;
mod watch;

pub use channels::{AlertsConfig, ChannelConfig, ChannelKind};
pub use error::{ConfigError, Diagnostics};
pub use load::{load, load_texts};
pub use packs::PackSet;
pub use recovery::{ProbeConfig, ProbeKind, RestartConfig, RestartMethod};
pub use secret::Secret;
pub use types::{
    Aggregate, Bound, Config, DaemonConfig, FieldFrom, HttpAccess, JournalConfig, RuleConfig,
    RuleKind, ValueRule, WatchConfig, DEFAULT_CONFIG_PATH, DEFAULT_MAX_LINE_BYTES,
    DEFAULT_MAX_TEMPLATES, DEFAULT_MULTILINE_MAX_LINES, DEFAULT_MULTILINE_TIMEOUT,
    DEFAULT_NEW_KIND_LEARN,
};

#[cfg(test)]
mod tests;
