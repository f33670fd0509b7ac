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
mod operator_commands;
mod run;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::channels::ChannelKind;
use crate::config::Config;
use crate::core::shutdown::Shutdown;
use crate::rules::Output;
use crate::telemetry::Telemetry;

pub use crate::core::rule_names::COMMAND_RULE;

/// What the panels of one daemon run share.
#[derive(Clone)]
struct Shared {
    /// The config of this run: its watches, by which commands name them.
    config: Arc<Config>,
    telemetry: Arc<Telemetry>,
    /// The actions' queue, for the announcements.
    outputs: mpsc::Sender<Output>,
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

/// Whether logwarden restarts watch `w` at all (a restart method, and a rule or probe that
/// asks for one: the supervisor's watches): `/restart` and the **Restart** button.
pub fn restartable(w: &crate::config::WatchConfig) -> bool {
    w.restart.is_some()
        && (w.rules.iter().any(|r| r.then_restart) || w.probes.iter().any(|p| p.then_restart))
}

/// The names of the watches logwarden restarts (see [`restartable`]).
pub fn restartable_watches(config: &Config) -> std::collections::BTreeSet<String> {
    config
        .watches
        .iter()
        .filter(|w| restartable(w))
        .map(|w| w.name.clone())
        .collect()
}

/// Runs a panel for each `telegram` channel with `control = true` until shutdown,
/// announcing into the actions' queue `outputs`; a panel that writes a control file wakes
/// the restart supervisor (`Telemetry::restart_poke`).
pub fn run(
    config: &Config,
    telemetry: &Arc<Telemetry>,
    outputs: &mpsc::Sender<Output>,
    shutdown: &Shutdown,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let shared = Shared {
        config: Arc::new(config.clone()),
        telemetry: telemetry.clone(),
        outputs: outputs.clone(),
    };
    let mut panels = Vec::new();
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
        let Some(http) = http_client(name) else {
            continue;
        };
        let state_dir = config.daemon.state_dir.clone();
        panels.push(Panel {
            name: name.clone(),
            chat,
            users: control.users.clone(),
            api: api::BotApi::new(&t.api_url, &t.token, http),
            offset_path: offset::path(&state_dir, name),
            state_dir,
            shared: shared.clone(),
        });
    }
    let shutdown = shutdown.clone();
    async move {
        let mut tasks = JoinSet::new();
        for p in panels {
            tracing::info!(channel = %p.name, users = p.users.len(), "taking commands from Telegram (long polling)");
            tasks.spawn(p.run(shutdown.clone()));
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// The panel's own `reqwest` client (rustls, as every client of logwarden): a long poll holds
/// its connection for `POLL_WAIT`, apart from the alert channels' pool. Each request sets
/// its own timeout.
fn http_client(channel: &str) -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .inspect_err(|e| tracing::error!(channel, error = %e, "cannot build an HTTP client: no Telegram commands"))
        .ok()
}
