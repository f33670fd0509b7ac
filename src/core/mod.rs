//! What every layer shares and that depends on nothing of logwarden: the alert and its
//! severity, the names of the built-in rules, clocks and time formats, state files, the
//! shutdown signal, log output, and the template language of alert texts.

pub mod alert;
pub mod clock;
pub mod logging;
pub mod rule_names;
pub mod shutdown;
pub mod state_file;
pub mod text_template;
pub mod timefmt;
