//! The daemon's pipeline: sources -> matcher -> rules -> actions, wired and run until shutdown.
//!
//! Sources run on threads and match lines in place (the matcher is shared, immutable); only
//! one batch per read (its matched lines, line count, position) crosses to the rules engine,
//! so a line that matches nothing costs no allocation and no message. Queues are bounded: when the rules or the
//! channels fall behind, the sources wait (back-pressure lands on our reading, never on the
//! writer of the log, which just appends to its file).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::actions::redact::Redactor;
use crate::actions::restart::supervisor::Supervisor;
use crate::actions::router::{Router, RouterError};
use crate::actions::{telegram_control as panels, AlertHandler};
use crate::config::{Config, JournalConfig, WatchConfig};
use crate::core::alert::Alert;
use crate::core::logging::LogFormat;
use crate::core::shutdown::Shutdown;
use crate::daemon::match_stage::{FeedCore, FileFeed, JournalFeed};
use crate::matcher::{BuildError, Matcher};
use crate::probes;
use crate::rules::{Engine, Input, Output};
use crate::source::checkpoint::Checkpointer;
use crate::source::file::{self, FileSourceConfig, FileStats};
use crate::source::glob;
use crate::source::journal::{self, JournalSourceConfig};
use crate::source::multiline::{Assembler, MultilineRule};
use crate::source::Position;
use crate::source::StartAt;
use crate::telemetry::Telemetry;

/// Inputs queued between the sources and the rules engine. A read's matched lines, count and
/// position are one message (`rules::batch`: at most 8 in flight per source bound memory);
/// the rest (probes, backlog news) are small.
const INPUT_QUEUE: usize = 4096;
/// Alerts and acknowledgements queued between the engine and the channels. Alerts are rare;
/// when channels stall this fills and the engine (then the sources) wait rather than drop one.
const ALERT_QUEUE: usize = 256;
/// Positions of lines that caused no alert are appended to the checkpoint journal this often
/// (a `write` to the page cache, not to the disk; snapshots are what is fsynced).
const JOURNAL_EVERY: Duration = Duration::from_millis(250);
/// After an alert, how long the router waits for the acknowledgement of the lines behind it
/// (the engine sends it right after; alerts no line caused, such as `stale`, wait this long).
const ACK_WAIT: Duration = Duration::from_millis(50);
/// Most alerts taken into one spool sync (alerts with no acknowledgement between them).
const ALERT_BATCH: usize = 256;
/// A last line without newline is handed to the rules after this long without new data.
const PARTIAL_FLUSH: Duration = Duration::from_secs(2);

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("watch {watch}: {source}")]
    Matcher {
        watch: String,
        #[source]
        source: BuildError,
    },
    #[error("cannot listen on {0} for /health and /metrics: {1}")]
    Listen(String, #[source] std::io::Error),
    #[error("cannot set up the HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Router(#[from] RouterError),
    #[error("cannot start the source for {path}: {source}")]
    Source {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Runs the whole daemon until `shutdown` fires. Every task it starts (HTTP endpoint,
/// systemd notifications, dead-man's switch, and in `run_with_sink` probes, supervisor and
/// router) is owned here and joined before it returns.
pub async fn run(
    config: Config,
    format: LogFormat,
    shutdown: Shutdown,
    about_logwarden: mpsc::UnboundedReceiver<Alert>,
) -> Result<(), PipelineError> {
    let telemetry = Telemetry::new(&config);
    let router = Router::start(&config, format, telemetry.clone(), shutdown.clone())?;
    let mut tasks = JoinSet::new();
    if let Some(addr) = config.daemon.listen {
        let t = telemetry.clone();
        let access = config.daemon.http.clone();
        let mut stop = shutdown.clone();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| PipelineError::Listen(addr.to_string(), e))?;
        tracing::info!(%addr, "serving /health, /metrics, /status and the status page /");
        tasks.spawn(async move {
            let serve = crate::daemon::http::serve(listener, t, access);
            tokio::select! {
                r = serve => if let Err(e) = r { tracing::error!(error = %e, "HTTP endpoint stopped"); },
                _ = stop.wait() => {}
            }
        });
    }
    crate::daemon::sd_notify::start(telemetry.clone(), shutdown.clone(), &mut tasks);
    if let Some((url, every)) = config.daemon.heartbeat.clone() {
        tasks.spawn(crate::daemon::sd_notify::dead_mans_switch(
            url,
            every,
            telemetry.clone(),
            shutdown.clone(),
        ));
    }
    let ran = run_with_sink(config, router, telemetry, shutdown, Some(about_logwarden)).await;
    join_tasks(tasks, "daemon").await;
    ran
}

/// How long tasks get to end after the pipeline stopped, before they are cancelled.
const TASKS_STOP_WITHIN: Duration = Duration::from_secs(5);

/// Waits for every task of `tasks` to end (they watch the shutdown signal), cancelling
/// those still running after `TASKS_STOP_WITHIN`.
async fn join_tasks(mut tasks: JoinSet<()>, what: &str) {
    let all = async {
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r {
                if e.is_panic() {
                    tracing::error!(error = %e, "a {what} task panicked");
                }
            }
        }
    };
    if tokio::time::timeout(TASKS_STOP_WITHIN, all).await.is_err() {
        tracing::warn!(
            "{what} tasks still running {TASKS_STOP_WITHIN:?} after the stop: cancelled"
        );
    }
}

/// Runs sources, matcher and rules, handing alerts to `alerts` (used by `run` and the demo).
pub async fn run_with_sink(
    config: Config,
    mut alerts: impl AlertHandler + 'static,
    telemetry: Arc<Telemetry>,
    shutdown: Shutdown,
    about_logwarden: Option<mpsc::UnboundedReceiver<Alert>>,
) -> Result<(), PipelineError> {
    let matchers = build_matchers(&config)?;
    let (input_tx, input_rx) = mpsc::channel::<Input>(INPUT_QUEUE);
    let (output_tx, output_rx) = mpsc::channel::<Output>(ALERT_QUEUE);
    let engine = Engine::new(
        &config.watches,
        &matchers,
        Instant::now(),
        telemetry.clone(),
    );
    let checkpoints = Checkpointer::open(&config.daemon.state_dir);
    let spawned = Arc::new(Spawned::default());
    let mut saved = checkpoints.positions();
    for p in alerts.reconcile(&saved) {
        saved.insert(p.key().to_string(), p);
    }
    let resume = Arc::new(saved);
    for (i, w) in config.watches.iter().enumerate() {
        let follower = Follow {
            watch: i,
            watch_name: w.name.clone(),
            matcher: matchers[i].clone(),
            multiline: w.multiline.clone(),
            tx: input_tx.clone(),
            max_line_bytes: w.max_line_bytes,
            olddir: w.olddir.clone(),
            poll_interval: config.daemon.poll_interval,
            resume: resume.clone(),
            shutdown: shutdown.clone(),
            spawned: spawned.clone(),
            telemetry: telemetry.clone(),
            activity: engine.activity(),
            timestamp_format: w.timestamp_format.clone(),
        };
        if let Some(j) = &w.journal {
            let handle = start_journal(i, w, j, &follower, config.daemon.poll_interval)?;
            spawned.push_thread(handle);
        }
        for path in &w.files {
            start_file(w, path, &follower, config.daemon.poll_interval)?;
        }
    }
    // One HTTP client for probes (and restart verification), with a bound on every request.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| PipelineError::Http(e.to_string()))?;
    let mut tasks = JoinSet::new();
    let streaks = probes::Streaks::load(&config.daemon.state_dir);
    for (i, w) in config.watches.iter().enumerate() {
        for (pi, p) in w.probes.iter().enumerate() {
            let slot = probes::ProbeSlot {
                watch: i,
                watch_name: w.name.clone(),
                index: pi,
                client: client.clone(),
                inputs: input_tx.clone(),
                streaks: streaks.clone(),
            };
            tasks.spawn(probes::run(slot, p.clone(), shutdown.clone()));
        }
    }
    // Alerts reach the supervisor without a bound: they are few (one per rule transition),
    // and a bounded queue here could deadlock with the supervisor's own alerts.
    let supervisor = Supervisor::new(
        &config,
        input_tx.clone(),
        output_tx.clone(),
        engine.activity(),
        client,
        telemetry.clone(),
    );
    tasks.spawn(panels::run(&config, &telemetry, &output_tx, &shutdown));
    let supervisor_tx = if supervisor.is_empty() {
        // It holds a sender of the output queue: the router ends only once all are gone.
        drop(supervisor);
        None
    } else {
        // Unbounded on purpose: the supervisor sends its own alerts into the output queue
        // that `route_outputs` reads while feeding this one; two bounded queues in a loop
        // can block each other for good. It is bounded in practice by the output queue
        // (`ALERT_QUEUE`) that every alert copied here passed, and the supervisor takes
        // each at once (bookkeeping, no I/O).
        let (tx, rx) = mpsc::unbounded_channel();
        tasks.spawn(supervisor.run(rx, shutdown.clone()));
        Some(tx)
    };
    drop(input_tx);
    let redactor = Redactor::new(&config.alerts, &config.secret_values());
    let router = tokio::spawn(route_outputs(
        output_rx,
        about_logwarden,
        alerts,
        checkpoints,
        supervisor_tx,
        Taker {
            redactor,
            telemetry: telemetry.clone(),
        },
    ));
    engine.run(input_rx, output_tx, shutdown).await;
    // Source threads see the shutdown within one poll interval (or see the closed queue).
    let joiner = spawned.clone();
    let _ = tokio::task::spawn_blocking(move || joiner.join_all()).await;
    // The engine is gone: the router writes the last snapshot and ends.
    let _ = router.await;
    // Probes and the supervisor watch the shutdown signal; the supervisor also ends when the
    // router, gone now, dropped its queue.
    join_tasks(tasks, "probe and supervisor").await;
    log_file_stats(&spawned);
    Ok(())
}

/// One matcher per watch, in the order of `config.watches`.
fn build_matchers(config: &Config) -> Result<Vec<Arc<Matcher>>, PipelineError> {
    config
        .watches
        .iter()
        .map(|w| {
            Matcher::build(&w.packs)
                .map(|m| Arc::new(m.with_structure(w.structure.clone())))
                .map_err(|source| PipelineError::Matcher {
                    watch: w.name.clone(),
                    source,
                })
        })
        .collect()
}

/// Starts the journal source of watch `i` (its thread is returned to be joined).
fn start_journal(
    i: usize,
    w: &WatchConfig,
    j: &JournalConfig,
    follower: &Follow,
    poll_interval: Duration,
) -> Result<std::thread::JoinHandle<()>, PipelineError> {
    let key = format!("journal:{}", w.name);
    let matcher = &follower.matcher;
    let error_slot = matcher.slot("error").map(|s| 1u64 << s).unwrap_or(0);
    let feed = JournalFeed::new(
        FeedCore::new(
            i,
            matcher.clone(),
            follower.tx.clone(),
            follower
                .telemetry
                .add_source(&w.name, &format!("journal:{}", w.name), None),
            follower.activity.clone(),
        ),
        key.clone(),
        j.priority_as_error.map(|p| (p, error_slot)),
    );
    let cfg = JournalSourceConfig {
        resume: match follower.resume.get(&key) {
            Some(Position::Journal(c)) => Some(c.cursor.clone()),
            _ => None,
        },
        key,
        filter: j.filter.clone(),
        start_at: w.start_at,
        poll_interval,
    };
    journal::spawn(cfg, feed, follower.shutdown.clone()).map_err(|source| PipelineError::Source {
        path: format!("journal of {}", w.name),
        source,
    })
}

/// Follows one configured path of watch `w`: a file, or every file a glob finds.
fn start_file(
    w: &WatchConfig,
    path: &std::path::Path,
    follower: &Follow,
    poll_interval: Duration,
) -> Result<(), PipelineError> {
    let failed = |source| PipelineError::Source {
        path: path.display().to_string(),
        source,
    };
    if !glob::is_glob(path) {
        return follower
            .follow(path.to_path_buf(), w.start_at)
            .map_err(failed);
    }
    let f = follower.clone();
    let start_at = w.start_at;
    let handle = glob::spawn(
        path.to_path_buf(),
        poll_interval,
        follower.shutdown.clone(),
        move |p, at_start| {
            let start = if at_start {
                start_at
            } else {
                StartAt::Beginning
            };
            if let Err(e) = f.follow(p.clone(), start) {
                tracing::error!(path = %p.display(), error = %e, "cannot follow file");
            }
        },
    )
    .map_err(failed)?;
    follower.spawned.push_thread(handle);
    tracing::info!(watch = %w.name, glob = %path.display(), "following files matching a glob");
    Ok(())
}

/// What each file source did, logged when it stopped.
fn log_file_stats(spawned: &Spawned) {
    use std::sync::atomic::Ordering::Relaxed;
    for (path, s) in spawned.stats() {
        tracing::info!(
            path = %path,
            bytes = s.bytes.load(Relaxed),
            rotations = s.rotations.load(Relaxed),
            truncations = s.truncations.load(Relaxed),
            recovered_bytes = s.recovered_bytes.load(Relaxed),
            unrecovered_truncations = s.unrecovered_truncations.load(Relaxed),
            caught_up_bytes = s.caught_up_bytes.load(Relaxed),
            lost_bytes = s.lost_bytes.load(Relaxed),
            "file source stopped"
        );
    }
}

/// Hands alerts to the actions and then records the positions acknowledged after them (so a
/// position is saved only once the alerts its lines caused were handled), writing a snapshot
/// at most once a second and once at the end.
async fn route_outputs(
    mut outputs: mpsc::Receiver<Output>,
    mut about_logwarden: Option<mpsc::UnboundedReceiver<Alert>>,
    mut alerts: impl AlertHandler,
    mut checkpoints: Checkpointer,
    supervisor: Option<mpsc::UnboundedSender<Alert>>,
    taker: Taker,
) {
    let mut tick = tokio::time::interval(JOURNAL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closed = false;
    // An alert was handled whose lines' acknowledgement has not come yet.
    let mut alert_unacked = false;
    while !closed {
        tokio::select! {
            out = outputs.recv() => match out {
                Some(Output::Alert(a)) => {
                    // An alert, the alerts right behind it, and the acknowledgement of the
                    // lines that caused them: spooled together with that position, then the
                    // position is checkpointed, then the alerts go to the channels. A crash
                    // anywhere in between neither loses an alert nor sends one twice.
                    taker.take(a, &mut alerts, supervisor.as_ref()).await;
                    let mut ack = None;
                    let mut taken = 1;
                    while taken < ALERT_BATCH {
                        match tokio::time::timeout(ACK_WAIT, outputs.recv()).await {
                            Ok(Some(Output::Alert(a))) => {
                                taker.take(a, &mut alerts, supervisor.as_ref()).await;
                            }
                            // Recorded at once, as before a batch: the window in which a
                            // crash can repeat an alert stays one alert wide.
                            Ok(Some(Output::Ack(p))) => {
                                ack = Some(p);
                                break;
                            }
                            Ok(None) => {
                                closed = true;
                                break;
                            }
                            Err(_) => break,
                        }
                        taken += 1;
                    }
                    alerts.flush(ack.as_ref()).await;
                    match ack {
                        Some(p) => checkpoints.record(p),
                        // The acknowledgement comes later: write it as soon as it does.
                        None => alert_unacked = true,
                    }
                    alerts.release().await;
                }
                Some(Output::Ack(position)) if alert_unacked => {
                    checkpoints.record(position);
                    alert_unacked = false;
                }
                Some(Output::Ack(position)) => checkpoints.update(position),
                None => closed = true,
            },
            // Alerts about logwarden itself (a refused reload): no line behind them.
            a = recv_some(&mut about_logwarden) => match a {
                Some(a) => {
                    taker.take(a, &mut alerts, supervisor.as_ref()).await;
                    alerts.flush(None).await;
                    alerts.release().await;
                }
                None => about_logwarden = None,
            },
            _ = tick.tick(), if checkpoints.journal_due() || checkpoints.snapshot_due() => {
                if checkpoints.snapshot_due() {
                    tokio::task::block_in_place(|| {
                        alerts.sync();
                        checkpoints.snapshot();
                    });
                } else {
                    checkpoints.write_journal();
                }
            }
        }
    }
    alerts.flush(None).await;
    alerts.release().await;
    tokio::task::block_in_place(|| {
        alerts.sync();
        checkpoints.snapshot();
    });
    alerts.finish().await;
}

/// The next alert of an optional queue; never, without one.
async fn recv_some(rx: &mut Option<mpsc::UnboundedReceiver<Alert>>) -> Option<Alert> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Where every alert enters the rest of logwarden: the rules engine, the supervisor and the
/// config reloader make alerts, and nothing shows one before it passed `take`.
struct Taker {
    redactor: Redactor,
    telemetry: Arc<Telemetry>,
}

impl Taker {
    /// Redacts one alert, then hands it to the telemetry (`/status`, `status --json`), the
    /// supervisor and the alert handler (spool, channels, console). Redacting here, once,
    /// is what keeps a secret quoted from a log line out of every output.
    async fn take(
        &self,
        mut a: Alert,
        alerts: &mut impl AlertHandler,
        supervisor: Option<&mpsc::UnboundedSender<Alert>>,
    ) {
        self.redactor.redact_alert(&mut a);
        self.telemetry.on_alert(&a);
        if let Some(s) = supervisor {
            let _ = s.send(a.clone());
        }
        alerts.handle(a).await;
    }
}

/// Threads and counters of every source started, also those a glob starts later.
#[derive(Default)]
struct Spawned {
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    stats: Mutex<Vec<(String, Arc<FileStats>)>>,
}

impl Spawned {
    fn push_thread(&self, t: std::thread::JoinHandle<()>) {
        if let Ok(mut v) = self.threads.lock() {
            v.push(t);
        }
    }

    /// Joins every source thread, including ones started while joining.
    fn join_all(&self) {
        loop {
            let batch: Vec<_> = match self.threads.lock() {
                Ok(mut v) => v.drain(..).collect(),
                Err(_) => return,
            };
            if batch.is_empty() {
                return;
            }
            for t in batch {
                let _ = t.join();
            }
        }
    }

    fn stats(&self) -> Vec<(String, Arc<FileStats>)> {
        self.stats.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Everything needed to start a follower for one path of one watch.
#[derive(Clone)]
struct Follow {
    watch: usize,
    watch_name: String,
    matcher: Arc<Matcher>,
    multiline: MultilineRule,
    tx: mpsc::Sender<Input>,
    max_line_bytes: usize,
    olddir: Option<PathBuf>,
    poll_interval: Duration,
    /// Positions saved by the previous run.
    resume: Arc<BTreeMap<String, Position>>,
    shutdown: Shutdown,
    spawned: Arc<Spawned>,
    telemetry: Arc<Telemetry>,
    /// Line counts and restart marks of the watches.
    activity: Arc<crate::rules::Activity>,
    /// How the watch's lines carry their time (read from backlog lines).
    timestamp_format: crate::source::timestamp::TimestampFormat,
}

impl Follow {
    /// Starts following `path` on its own thread.
    fn follow(&self, path: PathBuf, start_at: StartAt) -> std::io::Result<()> {
        let key = path.display().to_string();
        let stats = Arc::new(FileStats::default());
        let source = self
            .telemetry
            .add_source(&self.watch_name, &key, Some(stats.clone()));
        let feed = FileFeed::new(
            FeedCore::new(
                self.watch,
                self.matcher.clone(),
                self.tx.clone(),
                source,
                self.activity.clone(),
            ),
            Arc::from(key.as_str()),
            self.timestamp_format.clone(),
        );
        let cfg = FileSourceConfig {
            path: path.clone(),
            start_at,
            max_line_bytes: self.max_line_bytes,
            poll_interval: self.poll_interval,
            partial_flush: PARTIAL_FLUSH,
            resume: match self.resume.get(&key) {
                Some(Position::File(f)) => Some(f.clone()),
                _ => None,
            },
            olddir: self.olddir.clone(),
        };
        self.activity.follow(self.watch, path.clone());
        if let Ok(mut v) = self.spawned.stats.lock() {
            v.push((key, stats.clone()));
        }
        let sink = Assembler::new(feed, self.multiline.clone());
        let handle = file::spawn(cfg, sink, stats, self.shutdown.clone())?;
        self.spawned.push_thread(handle);
        tracing::info!(watch = %self.watch_name, path = %path.display(), "following file");
        Ok(())
    }
}
