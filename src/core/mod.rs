//! What every layer shares and that depends on nothing of logwarden: the alert and its
//! severity, the names of the built-in rules, clocks and time formats, state files, the
//! shutdown signal, log output, the template language of alert texts, and the `systemctl`
//! command line that reaches a system or user unit.

pub(crate) mod alert;
pub(crate) mod clock;
pub(crate) mod html;
pub mod logging;
pub(crate) mod rule_names;
pub mod shutdown;
pub(crate) mod state_file;
pub(crate) mod systemctl;
pub(crate) mod text_template;
pub(crate) mod timefmt;
