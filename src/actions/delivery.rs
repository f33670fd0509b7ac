//! One delivery worker per channel: it owns the channel's queue and is the only place that
//! decides when to send. It waits `group_wait` so alerts that fire together go out as one
//! message, keeps the channel's rate limit (what is over the limit waits and goes out
//! together, nothing is dropped), retries a failing channel with exponential backoff (or
//! exactly the `retry_after` a 429 asked for), and after `fallback_after` of failures hands
//! the notifications to the fallback channel. A notification leaves the spool only after its
//! channel (or its fallback) accepted it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::notification::{next_id, Kind, Notification, Reroute};
use super::redact::Redactor;
use super::spool::Spool;
use super::Channel;
use crate::config::ChannelConfig;
use crate::shutdown::Shutdown;
use crate::telemetry::Telemetry;

/// Most notifications in one message: a burst of a hundred alerts is a few messages, not one
/// unreadable wall (Telegram and Slack cut long texts anyway).
pub const MAX_BATCH: usize = 20;
/// First wait after a failure; doubled per consecutive failure up to `retry_max`.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// At shutdown, what is queued gets one last try bounded by this.
const LAST_TRY: Duration = Duration::from_secs(5);

/// Everything a worker needs; built by the router.
pub struct Worker {
    pub name: String,
    pub channel: Arc<dyn Channel>,
    pub cfg: ChannelConfig,
    pub rx: mpsc::UnboundedReceiver<Notification>,
    /// The fallback channel's queue, if this channel has one.
    pub fallback: Option<mpsc::UnboundedSender<Notification>>,
    pub spool: Arc<Spool>,
    pub redactor: Arc<Redactor>,
    pub telemetry: Arc<Telemetry>,
    pub retry_max: Duration,
    pub spool_max: usize,
}

/// A queued notification and when it arrived.
struct Queued {
    arrived: Instant,
    n: Notification,
}

/// The worker's state between wake-ups.
struct State {
    queue: VecDeque<Queued>,
    /// Consecutive failed tries.
    failures: u32,
    /// Since when the channel fails (the first failure after the last success).
    failing_since: Option<Instant>,
    /// No try before this (backoff or the receiver's `retry_after`).
    retry_at: Option<Instant>,
    /// When the last messages were sent, for the rate limit (at most `count` kept).
    sent: VecDeque<Instant>,
}

impl Worker {
    /// Delivers until shutdown (then one bounded last try) or until every sender is gone.
    pub async fn run(mut self, mut shutdown: Shutdown) {
        let mut st = State {
            queue: VecDeque::new(),
            failures: 0,
            failing_since: None,
            retry_at: None,
            sent: VecDeque::new(),
        };
        loop {
            let due = self.due(&st);
            tokio::select! {
                n = self.rx.recv() => match n {
                    Some(n) => self.enqueue(&mut st, n),
                    None => break,
                },
                _ = sleep_until_opt(due) => self.attempt(&mut st).await,
                _ = shutdown.wait() => break,
            }
        }
        // Take what arrived meanwhile, then one bounded try unless the channel asked to wait.
        while let Ok(n) = self.rx.try_recv() {
            self.enqueue(&mut st, n);
        }
        if !st.queue.is_empty() && st.retry_at.is_none_or(|t| t <= Instant::now()) {
            self.cfg.timeout = self.cfg.timeout.min(LAST_TRY);
            let _ = tokio::time::timeout(LAST_TRY, self.attempt(&mut st)).await;
        }
        self.telemetry.on_queue(&self.name, st.queue.len());
        if !st.queue.is_empty() {
            tracing::info!(channel = %self.name, waiting = st.queue.len(), "notifications stay in the spool for the next start");
        }
    }

    fn enqueue(&self, st: &mut State, n: Notification) {
        if st.queue.iter().any(|q| q.n.id == n.id) {
            return;
        }
        st.queue.push_back(Queued {
            arrived: Instant::now(),
            n,
        });
        while st.queue.len() > self.spool_max {
            if let Some(old) = st.queue.pop_front() {
                tracing::error!(channel = %self.name, rule = %old.n.alert.rule, watch = %old.n.alert.watch,
                    "too many notifications waiting (spool_max); the oldest is dropped");
                self.spool.remove(&old.n);
                self.telemetry.on_dropped(&self.name);
            }
        }
        self.telemetry.on_queue(&self.name, st.queue.len());
    }

    /// When the next try is due: the oldest notification's group wait, the backoff, and the
    /// rate limit, whichever is latest. `None` when nothing waits.
    fn due(&self, st: &State) -> Option<Instant> {
        let first = st.queue.front()?;
        let mut due = first.arrived + self.cfg.group_wait;
        if let Some(r) = st.retry_at {
            due = due.max(r);
        }
        if let Some(limit) = self.cfg.rate_limit {
            if st.sent.len() >= limit.count as usize {
                if let Some(oldest) = st.sent.front() {
                    due = due.max(*oldest + limit.per);
                }
            }
        }
        Some(due)
    }

    /// Sends one batch and acts on the outcome.
    async fn attempt(&mut self, st: &mut State) {
        let now = Instant::now();
        if let Some(limit) = self.cfg.rate_limit {
            while st.sent.front().is_some_and(|t| *t + limit.per <= now) {
                st.sent.pop_front();
            }
        }
        // Over the rate limit, everything waiting goes in one message when a slot frees.
        let take = if self.cfg.rate_limit.is_some() {
            st.queue.len()
        } else {
            st.queue.len().min(MAX_BATCH)
        };
        let batch: Vec<Notification> = st.queue.iter().take(take).map(|q| q.n.clone()).collect();
        if batch.is_empty() {
            return;
        }
        let result = match tokio::time::timeout(self.cfg.timeout, self.channel.send(&batch)).await {
            Ok(r) => r,
            Err(_) => Err(super::SendError::transient(format!(
                "no answer within {}s",
                self.cfg.timeout.as_secs()
            ))),
        };
        match result {
            Ok(()) => {
                for n in &batch {
                    self.spool.remove(n);
                }
                st.queue.drain(..batch.len());
                if st.failures > 0 {
                    tracing::info!(channel = %self.name, after = st.failures, "channel delivers again");
                }
                st.failures = 0;
                st.failing_since = None;
                st.retry_at = None;
                if self.cfg.rate_limit.is_some() {
                    st.sent.push_back(Instant::now());
                }
                self.telemetry
                    .on_delivery(&self.name, batch.len() as u64, true);
                tracing::debug!(channel = %self.name, alerts = batch.len(), "delivered");
            }
            Err(e) => {
                let reason = self.redactor.redact(&e.reason).into_owned();
                st.failures += 1;
                let since = *st.failing_since.get_or_insert(now);
                self.telemetry
                    .on_delivery(&self.name, batch.len() as u64, false);
                // Keepalives and tests are not worth a retry: the next keepalive comes soon.
                let retryable: Vec<usize> = (0..batch.len())
                    .filter(|&i| !matches!(batch[i].kind, Kind::Keepalive | Kind::Test))
                    .collect();
                if retryable.len() < batch.len() {
                    let mut kept = VecDeque::new();
                    for (i, q) in st.queue.drain(..).enumerate() {
                        if i >= batch.len() || retryable.contains(&i) {
                            kept.push_back(q);
                        }
                    }
                    st.queue = kept;
                }
                let give_up_here =
                    e.permanent || now.duration_since(since) >= self.cfg.fallback_after;
                match (&self.fallback, give_up_here) {
                    (Some(fb), true) => {
                        let moved = retryable.len();
                        for q in st.queue.drain(..moved) {
                            self.reroute(fb, q.n, &reason);
                        }
                        tracing::error!(channel = %self.name, alerts = moved, error = %reason,
                            "channel keeps failing; its alerts go to the fallback channel");
                        st.retry_at = None;
                    }
                    _ => {
                        let backoff = FIRST_RETRY
                            .saturating_mul(1u32 << st.failures.saturating_sub(1).min(16))
                            .min(self.retry_max);
                        let wait = e.retry_after.unwrap_or(backoff);
                        st.retry_at = Some(Instant::now() + wait);
                        let level_error = st.failures == 1 || e.permanent;
                        if level_error {
                            tracing::error!(channel = %self.name, alerts = batch.len(), error = %reason,
                                retry_in_ms = wait.as_millis() as u64, "alert delivery failed; will retry");
                        } else {
                            tracing::warn!(channel = %self.name, alerts = batch.len(), error = %reason,
                                failures = st.failures, retry_in_ms = wait.as_millis() as u64, "alert delivery failed again");
                        }
                    }
                }
            }
        }
        self.telemetry.on_queue(&self.name, st.queue.len());
    }

    /// Moves one notification to the fallback channel: spooled there first, then forgotten
    /// here, so a crash in between can only repeat it, never lose it.
    fn reroute(&self, fb: &mpsc::UnboundedSender<Notification>, n: Notification, reason: &str) {
        let mut moved = n.clone();
        moved.id = next_id();
        moved.rerouted = Some(Reroute {
            from: self.name.clone(),
            reason: reason.to_string(),
        });
        if let Some(to) = self.cfg.fallback.clone() {
            moved.channel = to;
        }
        if let Err(e) = self.spool.write(&moved).and_then(|()| self.spool.sync()) {
            tracing::error!(error = %e, "cannot spool a rerouted notification; sending it anyway");
        }
        if fb.send(moved).is_ok() {
            self.spool.remove(&n);
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
