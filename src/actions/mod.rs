//! Actions: what logwarden does with an alert: deliver it to channels (through the router,
//! the durable spool and one delivery worker per channel) and restart frozen services (the
//! supervisor).
//!
//! A channel only knows how to deliver a batch of notifications; it never sees patterns or
//! rules, and it never retries: retries, backoff, rate limits and fallbacks live in one
//! place (`delivery.rs`) for every channel.

pub mod channels;
pub mod dead_letter;
pub mod delivery;
mod handler;
pub mod notification;
pub mod operator;
pub mod quiet_hours;
pub mod quote;
#[cfg(test)]
mod quoting_tests;
pub mod redact;
pub mod render;
pub mod restart;
pub mod router;
pub mod spool;
pub mod telegram_control;
pub mod test_alert;
pub mod threads;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{ChannelConfig, ChannelKind};
use crate::core::logging::LogFormat;
use notification::Notification;

pub use handler::AlertHandler;

/// A delivery that failed, with what the retry logic needs to know.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct SendError {
    /// For the operator; never holds a secret (the worker redacts it again anyway).
    pub reason: String,
    /// The receiver asked us to wait this long (HTTP 429).
    pub retry_after: Option<Duration>,
    /// Trying again will not help (a rejected request): go to the fallback at once.
    pub permanent: bool,
}

impl SendError {
    /// A failure that may pass (network, 5xx).
    pub fn transient(reason: impl Into<String>) -> SendError {
        SendError {
            reason: reason.into(),
            retry_after: None,
            permanent: false,
        }
    }

    /// A failure that will not pass by itself (4xx, bad credentials).
    pub fn permanent(reason: impl Into<String>) -> SendError {
        SendError {
            reason: reason.into(),
            retry_after: None,
            permanent: true,
        }
    }

    /// The receiver is rate limiting us.
    pub fn rate_limited(reason: impl Into<String>, after: Duration) -> SendError {
        SendError {
            reason: reason.into(),
            retry_after: Some(after),
            permanent: false,
        }
    }

    /// Classifies an HTTP answer that was not a success.
    pub fn from_status(
        status: reqwest::StatusCode,
        retry_after: Option<Duration>,
        body: &str,
    ) -> SendError {
        let body: String = body.chars().take(200).collect();
        let reason = format!("HTTP {status}: {}", body.trim());
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            SendError::rate_limited(reason, retry_after.unwrap_or(Duration::from_secs(30)))
        } else if status.is_client_error() && status != reqwest::StatusCode::REQUEST_TIMEOUT {
            SendError::permanent(reason)
        } else {
            SendError::transient(reason)
        }
    }

    /// The same classification with another text.
    pub fn with_reason(mut self, reason: String) -> SendError {
        self.reason = reason;
        self
    }

    /// A transport error of reqwest, without the URL (which may hold a token).
    pub fn from_reqwest(e: reqwest::Error) -> SendError {
        let e = e.without_url();
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason.push_str(": ");
            reason.push_str(&s.to_string());
            source = s.source();
        }
        SendError::transient(reason)
    }
}

/// A future returned by a channel.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// Somewhere alerts can be delivered.
pub trait Channel: Send + Sync {
    /// Delivers a batch (one message where the channel allows, in order).
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a>;
}

/// Why a channel could not be built.
#[derive(Debug, thiserror::Error)]
#[error("channel {channel}: {reason}")]
pub struct BuildError {
    pub channel: String,
    pub reason: String,
}

/// Builds the channel `name` of `cfg`. With `state_dir` (the daemon's), a channel that
/// threads replies by the id its server gave (Telegram, Slack with a bot token) keeps those ids there.
pub fn build_channel(
    name: &str,
    cfg: &ChannelConfig,
    format: LogFormat,
    http: &reqwest::Client,
    state_dir: Option<&std::path::Path>,
    restartable: &std::collections::BTreeSet<String>,
) -> Result<Arc<dyn Channel>, BuildError> {
    let err = |reason: String| BuildError {
        channel: name.to_string(),
        reason,
    };
    let template = cfg.template.clone();
    Ok(match &cfg.kind {
        ChannelKind::Console => Arc::new(channels::console::Console::new(format, template)),
        ChannelKind::Email(e) => {
            Arc::new(channels::email::Email::new(e, template, cfg.timeout).map_err(err)?)
        }
        ChannelKind::Telegram(t) => Arc::new(
            channels::telegram::Telegram::new(
                t,
                template,
                http.clone(),
                cfg.timeout,
                threads::Threads::load(state_dir, name),
                restartable.clone(),
            )
            .map_err(err)?,
        ),
        ChannelKind::Slack(s) => Arc::new(
            channels::slack::Slack::new(
                s,
                template,
                http.clone(),
                cfg.timeout,
                threads::Threads::load(state_dir, name),
            )
            .map_err(err)?,
        ),
        ChannelKind::Webhook(w) => Arc::new(channels::webhook::Webhook::new(
            w,
            http.clone(),
            cfg.timeout,
        )),
        ChannelKind::Alertmanager(a) => Arc::new(channels::alertmanager::Alertmanager::new(
            a,
            http.clone(),
            cfg.timeout,
        )),
        ChannelKind::Discord(d) => Arc::new(channels::discord::Discord::new(
            d,
            template,
            http.clone(),
            cfg.timeout,
        )),
        ChannelKind::Gotify(g) => Arc::new(channels::gotify::Gotify::new(
            g,
            template,
            http.clone(),
            cfg.timeout,
        )),
        ChannelKind::Pushover(p) => Arc::new(channels::pushover::Pushover::new(
            p,
            template,
            http.clone(),
            cfg.timeout,
        )),
        ChannelKind::Matrix(m) => Arc::new(
            channels::matrix::Matrix::new(m, template, http.clone(), cfg.timeout).map_err(err)?,
        ),
        ChannelKind::Ntfy(n) => Arc::new(
            channels::ntfy::Ntfy::new(n, template, http.clone(), cfg.timeout).map_err(err)?,
        ),
    })
}

/// What an HTTP service answered: the status, its `Retry-After`, and the body.
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub retry_after: Option<Duration>,
    pub text: String,
}

/// Sends a channel's request and reads the whole answer (a transport error is a
/// `SendError`, without the URL, which may hold a token).
pub async fn send_request(req: reqwest::RequestBuilder) -> Result<Answer, SendError> {
    let resp = req.send().await.map_err(SendError::from_reqwest)?;
    let status = resp.status();
    let retry_after = retry_after_header(&resp);
    let text = resp.text().await.unwrap_or_default();
    Ok(Answer {
        status,
        retry_after,
        text,
    })
}

/// Reads an HTTP answer's `Retry-After` (seconds).
pub fn retry_after_header(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
