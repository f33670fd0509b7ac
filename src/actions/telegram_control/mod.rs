//! Telegram as a control panel: a `telegram` channel with `control = true` takes commands
//! (`/status`, `/pause`, `/resume`, `/restart` with a confirmation button, `/help`, and the
//! silence and ack commands) from its own chat and from `control_users` only, by long
//! polling `getUpdates` (no open port: it works behind NAT). A plain loop on the shared
//! `reqwest` client, not teloxide's dispatcher (docs/decisions.md). Everyone else gets no
//! answer at all: refused updates are counted (`/metrics`) and logged, at most once a
//! minute. Each command run is logged with who ran it, and announced as an event alert to
//! the channels. The offset persists in `state_dir` (`offset.rs`: effects exactly once
//! across a `kill -9`). See docs/telegram.md.

mod api;
pub mod command;
mod execute;
mod offset;
mod run;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;

use crate::config::channels::ChannelKind;
use crate::config::{Config, WatchConfig};
use crate::core::shutdown::Shutdown;
use crate::rules::Output;
use crate::telemetry::Telemetry;

/// The rule name of the event alert announcing a command run from Telegram.
pub const COMMAND_RULE: &str = "telegram-command";

/// What the panels of one daemon run share.
#[derive(Clone)]
pub struct Shared {
    /// The config's watches, by which commands name them.
    pub watches: Arc<Vec<WatchConfig>>,
    pub telemetry: Arc<Telemetry>,
    /// The actions' queue, for the announcements.
    pub outputs: mpsc::Sender<Output>,
    /// Wakes the restart supervisor after a control file changed.
    pub poke: Arc<Notify>,
    pub http: reqwest::Client,
}

/// One control channel.
struct Panel {
    name: String,
    chat: i64,
    users: Vec<i64>,
    api: api::BotApi,
    offset_path: PathBuf,
    state_dir: PathBuf,
    shared: Shared,
}

/// Starts a panel task for each `telegram` channel with `control = true`.
pub fn start(config: &Config, shared: &Shared, shutdown: &Shutdown, tasks: &mut JoinSet<()>) {
    for (name, ch) in &config.channels {
        let ChannelKind::Telegram(t) = &ch.kind else {
            continue;
        };
        let Some(control) = &t.control else {
            continue;
        };
        // The config refuses a `control` channel whose chat is not a number.
        let Ok(chat) = t.chat_id.parse::<i64>() else {
            continue;
        };
        let state_dir = config.daemon.state_dir.clone();
        let panel = Panel {
            name: name.clone(),
            chat,
            users: control.users.clone(),
            api: api::BotApi::new(&t.api_url, &t.token, shared.http.clone()),
            offset_path: offset::path(&state_dir, name),
            state_dir,
            shared: shared.clone(),
        };
        tracing::info!(channel = %name, users = control.users.len(), "taking commands from Telegram (long polling)");
        tasks.spawn(panel.run(shutdown.clone()));
    }
}
