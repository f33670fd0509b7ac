//! Restarting frozen services: the supervisor decides (rate limits, verification, hand-over),
//! a task runs each restart and its verification, `systemctl.rs` talks to systemd; the
//! restart history and the operator's control files persist in `state_dir`.

pub mod control;
mod history;
pub mod supervisor;
pub mod systemctl;
mod task;
mod verify;
mod watch;
