//! logwarden: follows the logs of long-running services, matches every line against pattern
//! packs, turns matches and silence into alerts, and acts on them.
//!
//! Data flows one way: [`source`] -> [`matcher`] -> [`rules`] -> [`actions`], wired by
//! [`pipeline`] from a validated [`config`].

pub mod actions;
pub mod alert;
pub mod config;
pub mod context_lines;
pub mod demo;
pub mod feed;
pub mod http;
pub mod logging;
pub mod matcher;
pub mod notify;
pub mod pipeline;
pub mod probes;
pub mod replay;
pub mod rules;
pub mod shutdown;
pub mod source;
pub mod state_file;
pub mod telemetry;
pub mod template;
pub mod timefmt;
pub mod tune;
