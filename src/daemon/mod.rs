//! The daemon: wires sources, matcher, rules and actions from a config and runs them
//! (`pipeline.rs`), with the matching stage each source feeds (`match_stage.rs`), the HTTP
//! endpoint (`http.rs`) and systemd's notification socket (`sd_notify.rs`).

pub(crate) mod http;
pub mod match_stage;
pub(crate) mod pipeline;
pub mod reload_loop;
pub(crate) mod sd_notify;
