//! logwarden: follows the logs of long-running services, matches every line against pattern
//! packs, turns matches and silence into alerts, and acts on them.
//!
//! Data flows one way, and the module layers follow it; a module imports only from the layers
//! before it (checked by `tests/layering.rs`):
//!
//! [`core`] -> [`source`] -> [`matcher`] -> [`config`] -> [`telemetry`] -> [`rules`] ->
//! [`probes`] -> [`actions`] -> [`daemon`] -> [`cli`]
//!
//! Lines go from a source through the matcher to the rules, whose alerts go to the actions;
//! the daemon wires them from a validated config, and the CLI runs the daemon or one of its
//! one-shot commands.

pub(crate) mod actions;
pub mod cli;
pub mod config;
pub mod core;
pub mod daemon;
pub mod matcher;
pub(crate) mod probes;
pub mod rules;
pub mod source;
pub mod telemetry;
