//! Actions: what logwarden does with an alert. Today: deliver it to channels.
//!
//! A channel only knows how to deliver one alert; it never sees patterns or rules. The
//! dispatcher routes each alert to the channels its watch names in `notify`. Later work adds
//! more channels (email, Telegram, ...) and the restart action behind the same interface.

pub mod console;
pub mod restart;
pub mod supervisor;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::alert::Alert;
use crate::config::{ChannelConfig, Config};
use crate::logging::LogFormat;
use crate::telemetry::Telemetry;

/// A delivery that failed, with the reason for the operator.
#[derive(Debug, thiserror::Error)]
#[error("channel {channel}: {reason}")]
pub struct ChannelError {
    pub channel: String,
    pub reason: String,
}

/// A future returned by a channel.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ChannelError>> + Send + 'a>>;

/// Somewhere alerts can be delivered.
pub trait Channel: Send + Sync {
    /// The channel's name in the config.
    fn name(&self) -> &str;
    /// Delivers one alert.
    fn send<'a>(&'a self, alert: &'a Alert) -> SendFuture<'a>;
}

/// Routes alerts to channels.
pub struct Dispatcher {
    telemetry: Arc<Telemetry>,
    channels: HashMap<String, Arc<dyn Channel>>,
    /// Channel names per watch name.
    routes: HashMap<String, Vec<String>>,
}

impl Dispatcher {
    /// Builds every configured channel.
    pub fn new(config: &Config, format: LogFormat, telemetry: Arc<Telemetry>) -> Dispatcher {
        let channels = config
            .channels
            .iter()
            .map(|(name, c)| {
                let ch: Arc<dyn Channel> = match c {
                    ChannelConfig::Console => Arc::new(console::Console::new(name, format)),
                };
                (name.clone(), ch)
            })
            .collect();
        let routes = config
            .watches
            .iter()
            .map(|w| (w.name.clone(), w.notify.clone()))
            .collect();
        Dispatcher {
            telemetry,
            channels,
            routes,
        }
    }

    /// Delivers one alert to every channel of its watch; failures are logged.
    pub async fn deliver(&self, alert: &Alert) {
        let Some(names) = self.routes.get(&alert.watch) else {
            tracing::warn!(watch = %alert.watch, "alert for an unknown watch dropped");
            return;
        };
        for name in names {
            let Some(ch) = self.channels.get(name) else {
                continue;
            };
            let result = ch.send(alert).await;
            self.telemetry.on_delivery(name, result.is_ok());
            if let Err(e) = result {
                tracing::error!(error = %e, watch = %alert.watch, rule = %alert.rule, "alert not delivered");
            }
        }
    }
}
