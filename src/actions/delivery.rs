//! One delivery worker per channel: it owns the channel's queue and is the only place that
//! decides when to send. It waits `group_wait` so alerts that fire together go out as one
//! message, keeps the channel's rate limit (what is over the limit waits and goes out
//! together, nothing is dropped), retries a failing channel with exponential backoff (or
//! exactly the `retry_after` a 429 asked for), and after `fallback_after` of failures hands
//! the notifications to the fallback channel. A notification leaves the spool only after its
//! channel (or its fallback) accepted it, or as a dead letter: refused for good (a permanent
//! error) with no fallback, it is moved to `state_dir/dead/` and reported once instead of
//! being retried for ever (see `dead_letter.rs`). In the channel's quiet hours it holds back
//! what is not severe enough (see `quiet_hours.rs`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::actions::dead_letter::DeadLetters;
use crate::actions::notification::{next_id, Kind, Notification, Reroute};
use crate::actions::quiet_hours::{self, Verdict};
use crate::actions::redact::Redactor;
use crate::actions::spool::Spool;
use crate::actions::Channel;
use crate::config::ChannelConfig;
use crate::core::shutdown::Shutdown;
use crate::rules::gate::WallTime;
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
    /// What the router queues (unbounded: see `router::dispatch::Target`). The worker moves
    /// it at once into `State::queue`, which holds at most `spool_max`.
    pub rx: mpsc::UnboundedReceiver<Notification>,
    /// The fallback channel's queue, if this channel has one.
    pub fallback: Option<mpsc::UnboundedSender<Notification>>,
    pub spool: Arc<Spool>,
    /// Where notifications refused for good go when there is no fallback.
    pub dead: Arc<DeadLetters>,
    pub redactor: Arc<Redactor>,
    pub telemetry: Arc<Telemetry>,
    pub retry_max: Duration,
    pub spool_max: usize,
    /// The wall clock of the channel's quiet hours.
    pub wall: WallTime,
}

/// A queued notification and when it arrived.
struct Queued {
    arrived: Instant,
    n: Notification,
}

/// The worker's state between wake-ups.
struct State {
    /// Waiting to be sent: at most `spool_max` (the oldest dropped past it, said so).
    queue: VecDeque<Queued>,
    /// Consecutive failed tries.
    failures: u32,
    /// Since when the channel fails (the first failure after the last success).
    failing_since: Option<Instant>,
    /// No try before this (backoff or the receiver's `retry_after`).
    retry_at: Option<Instant>,
    /// When the last messages were sent, for the rate limit (at most `count` kept).
    sent: VecDeque<Instant>,
    /// Held back by the quiet hours, in arrival order (counted in `spool_max` too).
    held: VecDeque<Queued>,
}

impl State {
    fn waiting(&self) -> usize {
        self.queue.len() + self.held.len()
    }
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
            held: VecDeque::new(),
        };
        loop {
            let due = self.due(&st);
            if due.is_some_and(|d| d <= Instant::now()) && !shutdown.is_triggered() {
                // Due now (`group_wait = "0s"`, or its wait is over): no timer, whose 1 ms
                // granularity would add a millisecond to every alert. What is queued already
                // goes in the same batch.
                while let Ok(n) = self.rx.try_recv() {
                    self.enqueue(&mut st, n);
                }
                self.attempt(&mut st).await;
                continue;
            }
            let look_again = self.look_again(&st);
            tokio::select! {
                n = self.rx.recv() => match n {
                    Some(n) => self.enqueue(&mut st, n),
                    None => break,
                },
                _ = sleep_until_opt(due) => self.attempt(&mut st).await,
                _ = sleep_until_opt(look_again) => self.release(&mut st),
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
        self.telemetry.on_queue(&self.name, st.waiting());
        if st.waiting() > 0 {
            tracing::info!(channel = %self.name, waiting = st.waiting(), "notifications stay in the spool for the next start");
        }
    }

    fn enqueue(&self, st: &mut State, n: Notification) {
        if st.queue.iter().chain(&st.held).any(|q| q.n.id == n.id) {
            return;
        }
        let verdict = self.cfg.quiet.as_ref().map_or(Verdict::Send, |q| {
            quiet_hours::verdict(q, &n, self.wall.now())
        });
        let q = Queued {
            arrived: Instant::now(),
            n,
        };
        match verdict {
            Verdict::Send => st.queue.push_back(q),
            Verdict::Hold => {
                tracing::info!(channel = %self.name, watch = %q.n.alert.watch, rule = %q.n.alert.rule,
                    "quiet hours: held until the channel's next active period");
                st.held.push_back(q);
            }
            Verdict::Drop => {
                tracing::info!(channel = %self.name, watch = %q.n.alert.watch, rule = %q.n.alert.rule,
                    "quiet hours: reminder not sent (quiet = \"drop\")");
                self.spool.remove(&q.n);
                return;
            }
        }
        while st.waiting() > self.spool_max {
            let held_older = match (st.held.front(), st.queue.front()) {
                (Some(h), Some(q)) => h.arrived <= q.arrived,
                (Some(_), None) => true,
                _ => false,
            };
            let old = if held_older {
                st.held.pop_front()
            } else {
                st.queue.pop_front()
            };
            if let Some(old) = old {
                tracing::error!(channel = %self.name, rule = %old.n.alert.rule, watch = %old.n.alert.watch,
                    "too many notifications waiting (spool_max); the oldest is dropped");
                self.spool.remove(&old.n);
                self.telemetry.on_dropped(&self.name);
            }
        }
        self.telemetry.on_queue(&self.name, st.waiting());
    }

    /// When held notifications are looked at again (`None`: none is held).
    fn look_again(&self, st: &State) -> Option<Instant> {
        let q = self.cfg.quiet.as_ref()?;
        (!st.held.is_empty()).then(|| quiet_hours::look_again_at(q, &self.wall))
    }

    /// Moves what quiet hours no longer hold back to the front of the queue, in arrival
    /// order (they arrived before what is queued now, or with it).
    fn release(&self, st: &mut State) {
        let Some(q) = self.cfg.quiet.as_ref() else {
            return;
        };
        let now = self.wall.now();
        let mut still = VecDeque::new();
        let mut freed = Vec::new();
        for h in st.held.drain(..) {
            match quiet_hours::verdict(q, &h.n, now) {
                Verdict::Send => freed.push(h),
                _ => still.push_back(h),
            }
        }
        st.held = still;
        if !freed.is_empty() {
            tracing::info!(channel = %self.name, alerts = freed.len(), "quiet hours over: sending what was held");
        }
        for h in freed.into_iter().rev() {
            st.queue.push_front(h);
        }
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
        // Over the rate limit, everything waiting goes in one message when a slot frees. The
        // console writes one alert at a time: a crash after a write repeats at most that one.
        let templated_webhook = matches!(&self.cfg.kind,
            crate::config::ChannelKind::Webhook(w) if w.body.is_some());
        let take = if templated_webhook {
            // One request per notification: its body is the operator's, for one alert.
            1
        } else if self.cfg.rate_limit.is_some() {
            st.queue.len()
        } else if matches!(self.cfg.kind, crate::config::ChannelKind::Console) {
            1
        } else {
            st.queue.len().min(MAX_BATCH)
        };
        let batch: Vec<Notification> = st.queue.iter().take(take).map(|q| q.n.clone()).collect();
        if batch.is_empty() {
            return;
        }
        let result = match tokio::time::timeout(self.cfg.timeout, self.channel.send(&batch)).await {
            Ok(r) => r,
            Err(_) => Err(crate::actions::SendError::transient(format!(
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
                    (None, true) if e.permanent => self.bury(st, retryable.len(), &reason),
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
        self.telemetry.on_queue(&self.name, st.waiting());
    }

    /// Moves the first `n` queued notifications, which the channel refused for good and
    /// which have no fallback, to the dead letters: kept durably there, then forgotten by the
    /// spool, each reported once. One that cannot be kept (a full disk) stays queued and is
    /// retried as before: never lost.
    fn bury(&self, st: &mut State, n: usize, reason: &str) {
        let refused: Vec<Queued> = st.queue.drain(..n).collect();
        let mut unkept = Vec::new();
        for q in refused {
            match self.dead.keep(&q.n, reason) {
                Ok(()) => {
                    self.spool.remove(&q.n);
                    self.telemetry.on_dead(&self.name);
                    tracing::error!(channel = %self.name, watch = %q.n.alert.watch, rule = %q.n.alert.rule,
                        notification = %q.n.what(), id = q.n.id, error = %reason, dir = %self.dead.dir().display(),
                        "alert undeliverable: the channel refused it for good and has no fallback; kept as a dead letter, not retried (`logwarden dead-letters --resend` sends it once the channel is fixed)");
                }
                Err(e) => {
                    tracing::error!(channel = %self.name, error = %e, "cannot keep a dead letter; the notification stays queued and is retried");
                    unkept.push(q);
                }
            }
        }
        let retry = !unkept.is_empty();
        for q in unkept.into_iter().rev() {
            st.queue.push_front(q);
        }
        if retry {
            st.retry_at = Some(Instant::now() + self.retry_max);
        } else {
            // The refusal was about those notifications: the next one starts afresh.
            st.failures = 0;
            st.failing_since = None;
            st.retry_at = None;
        }
    }

    /// Moves one notification to the fallback channel: spooled there first, then forgotten
    /// here, so a crash in between can only repeat it, never lose it.
    fn reroute(&self, fb: &mpsc::UnboundedSender<Notification>, n: Notification, reason: &str) {
        let mut moved = n.clone();
        moved.id = next_id();
        // A notification of its own now: it no longer stands for the line's position.
        moved.origin = moved.id;
        moved.siblings = Vec::new();
        moved.position = None;
        moved.rerouted = Some(Reroute {
            from: self.name.clone(),
            reason: reason.to_string(),
        });
        if let Some(to) = self.cfg.fallback.clone() {
            moved.channel = to;
        }
        if let Err(e) = self
            .spool
            .write(&moved)
            .and_then(|()| self.spool.sync(&[moved.id]))
        {
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

#[cfg(test)]
mod tests {
    //! The worker against a channel that fails on command, in paused time: an hour of
    //! failures takes milliseconds and the retry schedule is exact.

    use std::sync::Mutex;

    use super::*;
    use crate::actions::notification::sample;
    use crate::actions::{SendError, SendFuture};
    use crate::config::channels::RateLimit;
    use crate::config::AlertsConfig;

    /// A channel that fails until `works_at`, answering 429 with `retry_after` if set, and
    /// records every try and every delivered batch (ids).
    struct Scripted {
        works_at: Instant,
        retry_after: Option<Duration>,
        /// Fail with a permanent error (a 5xx SMTP reply).
        permanent: bool,
        tries: Mutex<Vec<Instant>>,
        delivered: Mutex<Vec<Vec<u64>>>,
    }

    impl Channel for Scripted {
        fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
            Box::pin(async move {
                let now = Instant::now();
                self.tries.lock().unwrap().push(now);
                if now < self.works_at {
                    return Err(match self.retry_after {
                        Some(a) => SendError::rate_limited("429", a),
                        None if self.permanent => SendError::permanent("SMTP 554 refused"),
                        None => SendError::transient("HTTP 500"),
                    });
                }
                self.delivered
                    .lock()
                    .unwrap()
                    .push(batch.iter().map(|n| n.id).collect());
                Ok(())
            })
        }
    }

    fn scripted(works_after: Duration, retry_after: Option<Duration>) -> Arc<Scripted> {
        Arc::new(Scripted {
            works_at: Instant::now() + works_after,
            retry_after,
            permanent: false,
            tries: Mutex::new(Vec::new()),
            delivered: Mutex::new(Vec::new()),
        })
    }

    fn note(id: u64) -> Notification {
        sample(id, "ch", Kind::Notice)
    }

    struct Setup {
        tx: mpsc::UnboundedSender<Notification>,
        fallback_rx: mpsc::UnboundedReceiver<Notification>,
        telemetry: Arc<Telemetry>,
        _trigger: crate::core::shutdown::ShutdownTrigger,
        _dir: tempfile::TempDir,
    }

    fn start(channel: Arc<Scripted>, cfg: ChannelConfig) -> Setup {
        start_at(channel, cfg, WallTime::System)
    }

    fn start_at(channel: Arc<Scripted>, cfg: ChannelConfig, wall: WallTime) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let (fb_tx, fallback_rx) = mpsc::unbounded_channel();
        let (trigger, shutdown) = crate::core::shutdown::channel();
        let config = crate::config::Config {
            daemon: crate::config::DaemonConfig {
                state_dir: dir.path().into(),
                patterns_dir: dir.path().into(),
                poll_interval: Duration::from_secs(1),
                listen: None,
                http: Default::default(),
                heartbeat: None,
            },
            watches: Vec::new(),
            channels: Default::default(),
            alerts: AlertsConfig::default(),
            files_read: Vec::new(),
        };
        let telemetry = Telemetry::new(&config);
        let worker = Worker {
            name: "ch".into(),
            channel,
            fallback: cfg.fallback.as_ref().map(|_| fb_tx),
            cfg,
            rx,
            spool: Arc::new(Spool::new(dir.path())),
            dead: Arc::new(DeadLetters::new(dir.path())),
            redactor: Arc::new(Redactor::new(&AlertsConfig::default(), &[])),
            telemetry: telemetry.clone(),
            retry_max: Duration::from_secs(300),
            spool_max: 100,
            wall,
        };
        tokio::spawn(worker.run(shutdown));
        Setup {
            tx,
            fallback_rx,
            telemetry,
            _trigger: trigger,
            _dir: dir,
        }
    }

    /// A channel that batches (the console writes one alert at a time).
    fn cfg(group_wait: Duration) -> ChannelConfig {
        ChannelConfig {
            kind: crate::config::ChannelKind::Webhook(crate::config::channels::WebhookConfig {
                url: crate::config::Secret("http://127.0.0.1:9/unused".into()),
                body: None,
            }),
            group_wait,
            ..ChannelConfig::console()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_channel_down_for_an_hour_delivers_each_notification_once_when_back() {
        let ch = scripted(Duration::from_secs(3600), None);
        let s = start(ch.clone(), cfg(Duration::ZERO));
        for id in 1..=3 {
            s.tx.send(note(id)).unwrap();
        }
        tokio::time::sleep(Duration::from_secs(3600 + 400)).await;
        let delivered = ch.delivered.lock().unwrap().clone();
        assert_eq!(delivered, vec![vec![1, 2, 3]]);
        let tries = ch.tries.lock().unwrap().len();
        // Backoff 1, 2, 4 ... 256 s, then every 300 s: about 20 tries in the hour, not 3600.
        assert!((15..=25).contains(&tries), "{tries} tries");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_retry_after_is_waited_exactly() {
        let ch = scripted(Duration::from_millis(1), Some(Duration::from_secs(7)));
        let s = start(ch.clone(), cfg(Duration::ZERO));
        s.tx.send(note(1)).unwrap();
        tokio::time::sleep(Duration::from_secs(20)).await;
        let tries = ch.tries.lock().unwrap().clone();
        assert_eq!(tries.len(), 2);
        assert_eq!(tries[1] - tries[0], Duration::from_secs(7));
        assert_eq!(ch.delivered.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn alerts_that_fire_together_go_out_as_one_message() {
        let ch = scripted(Duration::ZERO, None);
        let s = start(ch.clone(), cfg(Duration::from_secs(10)));
        s.tx.send(note(1)).unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        s.tx.send(note(2)).unwrap();
        tokio::time::sleep(Duration::from_secs(20)).await;
        s.tx.send(note(3)).unwrap();
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(*ch.delivered.lock().unwrap(), vec![vec![1, 2], vec![3]]);
    }

    #[tokio::test(start_paused = true)]
    async fn over_the_rate_limit_alerts_wait_and_go_together_none_dropped() {
        let ch = scripted(Duration::ZERO, None);
        let mut c = cfg(Duration::ZERO);
        c.rate_limit = Some(RateLimit {
            count: 1,
            per: Duration::from_secs(60),
        });
        let s = start(ch.clone(), c);
        for id in 1..=5 {
            s.tx.send(note(id)).unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            *ch.delivered.lock().unwrap(),
            vec![vec![1], vec![2, 3, 4, 5]]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_channel_failing_past_fallback_after_hands_over_once() {
        let ch = scripted(Duration::from_secs(3600), None);
        let mut c = cfg(Duration::ZERO);
        c.fallback = Some("mail".into());
        c.fallback_after = Duration::from_secs(60);
        let mut s = start(ch.clone(), c);
        s.tx.send(note(1)).unwrap();
        tokio::time::sleep(Duration::from_secs(200)).await;
        let moved = s.fallback_rx.try_recv().expect("handed to the fallback");
        assert_eq!(moved.channel, "mail");
        assert_eq!(moved.rerouted.as_ref().map(|r| r.from.as_str()), Some("ch"));
        assert!(s.fallback_rx.try_recv().is_err(), "handed over once");
        // The primary no longer tries it.
        let tries = ch.tries.lock().unwrap().len();
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(ch.tries.lock().unwrap().len(), tries);
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_refusal_without_fallback_is_kept_dead_and_never_retried() {
        let ch = Arc::new(Scripted {
            permanent: true,
            ..Arc::into_inner(scripted(Duration::from_secs(86_400), None)).unwrap()
        });
        let s = start(ch.clone(), cfg(Duration::ZERO));
        let spool = Spool::new(s._dir.path());
        let n = note(next_id());
        spool.write(&n).unwrap();
        s.tx.send(n.clone()).unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(
            ch.tries.lock().unwrap().len(),
            1,
            "tried once, not for ever"
        );
        let dead = DeadLetters::new(s._dir.path()).load();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].notification.id, n.id);
        assert!(dead[0].reason.contains("554"), "{}", dead[0].reason);
        assert!(spool.load().is_empty(), "out of the spool");
        assert!(s
            .telemetry
            .render_metrics()
            .contains("logwarden_notifications_dead_total{channel=\"ch\"} 1"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_refusal_goes_to_the_fallback_at_once() {
        let ch = Arc::new(Scripted {
            permanent: true,
            ..Arc::into_inner(scripted(Duration::from_secs(86_400), None)).unwrap()
        });
        let mut c = cfg(Duration::ZERO);
        c.fallback = Some("mail".into());
        c.fallback_after = Duration::from_secs(3600);
        let mut s = start(ch.clone(), c);
        s.tx.send(note(1)).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(s.fallback_rx.try_recv().is_ok(), "handed over at once");
        assert_eq!(ch.tries.lock().unwrap().len(), 1);
        assert!(DeadLetters::new(s._dir.path()).load().is_empty());
    }

    /// A channel active 07:00-22:00 UTC that holds (or drops) what is less than critical
    /// outside, in paused time whose wall clock starts at 23:00 UTC.
    fn quiet_night(mode: crate::config::channels::QuietMode) -> (ChannelConfig, WallTime) {
        let active =
            crate::config::schedule::Schedule::parse("Mon-Sun 07:00-22:00 UTC", Default::default())
                .unwrap();
        let cfg = ChannelConfig {
            quiet: Some(crate::config::channels::QuietHours {
                active: Arc::new(active),
                min_severity: crate::core::alert::Severity::Critical,
                mode,
            }),
            ..cfg(Duration::from_secs(10))
        };
        let night: jiff::Timestamp = "2026-12-03T23:00:00Z".parse().unwrap();
        let wall = WallTime::Anchored(crate::rules::gate::WallClock::new(Instant::now(), night));
        (cfg, wall)
    }

    fn with(id: u64, severity: crate::core::alert::Severity, kind: Kind) -> Notification {
        let mut n = sample(id, "ch", kind);
        n.alert.severity = severity;
        n
    }

    fn delivered(ch: &Scripted) -> Vec<u64> {
        ch.delivered
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .copied()
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn at_night_a_warning_is_held_until_morning_and_a_critical_goes_at_once() {
        use crate::core::alert::Severity;
        let ch = scripted(Duration::ZERO, None);
        let (cfg, wall) = quiet_night(crate::config::channels::QuietMode::Hold);
        let s = start_at(ch.clone(), cfg, wall);
        s.tx.send(with(1, Severity::Warning, Kind::Notice)).unwrap();
        s.tx.send(with(2, Severity::Critical, Kind::Notice))
            .unwrap();
        s.tx.send(with(3, Severity::Info, Kind::Test)).unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            delivered(&ch),
            vec![2, 3],
            "the critical and the test go through"
        );
        // 06:59: still night.
        tokio::time::sleep(Duration::from_secs(7 * 3600 + 58 * 60)).await;
        assert_eq!(delivered(&ch), vec![2, 3]);
        assert!(
            s.telemetry
                .render_metrics()
                .contains("logwarden_alerts_spooled{channel=\"ch\"} 1"),
            "held, counted as waiting"
        );
        // 07:00 plus a little: the held warning goes out, once.
        tokio::time::sleep(Duration::from_secs(3 * 60)).await;
        assert_eq!(delivered(&ch), vec![2, 3, 1]);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(delivered(&ch), vec![2, 3, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn at_night_with_quiet_drop_a_reminder_is_dropped_and_a_resolution_still_comes() {
        use crate::core::alert::{AlertState, Severity};
        let ch = scripted(Duration::ZERO, None);
        let (cfg, wall) = quiet_night(crate::config::channels::QuietMode::Drop);
        let s = start_at(ch.clone(), cfg, wall);
        s.tx.send(with(1, Severity::Warning, Kind::Reminder))
            .unwrap();
        let mut resolved = with(2, Severity::Warning, Kind::Notice);
        resolved.alert.state = AlertState::Resolved;
        s.tx.send(resolved).unwrap();
        s.tx.send(with(3, Severity::Critical, Kind::Reminder))
            .unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(delivered(&ch), vec![3]);
        tokio::time::sleep(Duration::from_secs(9 * 3600)).await;
        assert_eq!(
            delivered(&ch),
            vec![3, 2],
            "the resolution is held, the reminder gone"
        );
    }
}
