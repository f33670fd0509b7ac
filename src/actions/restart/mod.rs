//! Restarting frozen services: the supervisor decides (rate limits, verification, hand-over),
//! `systemctl.rs` talks to systemd.

pub mod supervisor;
pub mod systemctl;
