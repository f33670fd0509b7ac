//! The daemon's pipeline: sources -> matcher -> rules -> actions, wired and run until shutdown.
//!
//! Sources run on threads and match lines in place (the matcher is shared, immutable); only
//! matched lines and per-batch line counts cross to the rules engine, so a line that matches
//! nothing costs no allocation and no message. Queues are bounded: when the rules or the
//! channels fall behind, the sources wait (back-pressure lands on our reading, never on the
//! writer of the log, which just appends to its file).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::actions::Dispatcher;
use crate::alert::Alert;
use crate::config::Config;
use crate::logging::LogFormat;
use crate::matcher::{BuildError, Matcher, Scratch};
use crate::rules::{Engine, Input, MatchedLine, Output};
use crate::shutdown::Shutdown;
use crate::source::checkpoint::Checkpointer;
use crate::source::file::{self, FileSourceConfig, FileStats};
use crate::source::multiline::Assembler;
use crate::source::{FileIdentity, FilePosition, LineFlags, LineSink};

/// Inputs queued between the sources and the rules engine. Each message is a batch count or a
/// matched line; 4096 absorbs a burst of matches while the engine sends an alert, and bounds
/// memory to a few MB even with long matched lines.
const INPUT_QUEUE: usize = 4096;
/// Alerts and acknowledgements queued between the engine and the channels. Alerts are rare;
/// when channels stall this fills and the engine (then the sources) wait rather than drop one.
const ALERT_QUEUE: usize = 256;
/// Positions of lines that caused no alert are appended to the checkpoint journal this often
/// (a `write` to the page cache, not to the disk; snapshots are what is fsynced).
const JOURNAL_EVERY: Duration = Duration::from_millis(250);
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
    #[error("cannot start the source for {path}: {source}")]
    Source {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where alerts end up. `handle` returns once the alert is delivered (or, later, durably
/// spooled): only then are the positions of the lines that caused it acknowledged.
pub trait AlertHandler: Send {
    fn handle(&mut self, alert: Alert) -> impl std::future::Future<Output = ()> + Send;
}

impl AlertHandler for Dispatcher {
    async fn handle(&mut self, alert: Alert) {
        self.deliver(&alert).await;
    }
}

/// For the demo and tests: alerts go to a queue someone else reads.
impl AlertHandler for mpsc::Sender<Alert> {
    async fn handle(&mut self, alert: Alert) {
        let _ = self.send(alert).await;
    }
}

/// Runs the whole daemon until `shutdown` fires.
pub async fn run(
    config: Config,
    format: LogFormat,
    shutdown: Shutdown,
) -> Result<(), PipelineError> {
    let dispatcher = Dispatcher::new(&config, format);
    run_with_sink(config, dispatcher, shutdown).await
}

/// Runs sources, matcher and rules, handing alerts to `alerts` (used by `run` and the demo).
pub async fn run_with_sink(
    config: Config,
    alerts: impl AlertHandler + 'static,
    shutdown: Shutdown,
) -> Result<(), PipelineError> {
    let matchers = config
        .watches
        .iter()
        .map(|w| {
            Matcher::build(&w.packs)
                .map(Arc::new)
                .map_err(|source| PipelineError::Matcher {
                    watch: w.name.clone(),
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (input_tx, input_rx) = mpsc::channel::<Input>(INPUT_QUEUE);
    let (output_tx, output_rx) = mpsc::channel::<Output>(ALERT_QUEUE);
    let engine = Engine::new(&config.watches, &matchers, Instant::now());
    let checkpoints = Checkpointer::open(&config.daemon.state_dir);
    let mut threads = Vec::new();
    let mut stats = Vec::new();
    for (i, w) in config.watches.iter().enumerate() {
        for path in &w.files {
            let feed = WatchFeed {
                watch: i,
                matcher: matchers[i].clone(),
                scratch: matchers[i].scratch(),
                source: Arc::from(path.display().to_string()),
                tx: input_tx.clone(),
                lines: 0,
                file: None,
                last_offset: None,
                closed: false,
            };
            let cfg = FileSourceConfig {
                path: path.clone(),
                start_at: w.start_at,
                max_line_bytes: w.max_line_bytes,
                poll_interval: config.daemon.poll_interval,
                partial_flush: PARTIAL_FLUSH,
                resume: checkpoints.position(&path.display().to_string()).cloned(),
            };
            let file_stats = Arc::new(FileStats::default());
            stats.push((path.display().to_string(), file_stats.clone()));
            let handle = file::spawn(
                cfg,
                Assembler::new(feed, w.multiline.clone()),
                file_stats,
                shutdown.clone(),
            )
            .map_err(|source| PipelineError::Source {
                path: path.display().to_string(),
                source,
            })?;
            threads.push(handle);
            tracing::info!(watch = %w.name, path = %path.display(), "following file");
        }
    }
    drop(input_tx);
    let router = tokio::spawn(route_outputs(output_rx, alerts, checkpoints));
    engine.run(input_rx, output_tx, shutdown).await;
    // Source threads see the shutdown within one poll interval (or see the closed queue).
    let _ = tokio::task::spawn_blocking(move || {
        for t in threads {
            let _ = t.join();
        }
    })
    .await;
    // The engine is gone: the router writes the last snapshot and ends.
    let _ = router.await;
    for (path, s) in stats {
        use std::sync::atomic::Ordering::Relaxed;
        tracing::info!(
            path = %path,
            bytes = s.bytes.load(Relaxed),
            rotations = s.rotations.load(Relaxed),
            truncations = s.truncations.load(Relaxed),
            recovered_bytes = s.recovered_bytes.load(Relaxed),
            unrecovered_truncations = s.unrecovered_truncations.load(Relaxed),
            "file source stopped"
        );
    }
    Ok(())
}

/// Hands alerts to the actions and then records the positions acknowledged after them (so a
/// position is saved only once the alerts its lines caused were handled), writing a snapshot
/// at most once a second and once at the end.
async fn route_outputs(
    mut outputs: mpsc::Receiver<Output>,
    mut alerts: impl AlertHandler,
    mut checkpoints: Checkpointer,
) {
    let mut tick = tokio::time::interval(JOURNAL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // An alert was handled whose acknowledgement is not written yet.
    let mut alert_unacked = false;
    loop {
        tokio::select! {
            out = outputs.recv() => match out {
                Some(Output::Alert(a)) => {
                    alerts.handle(a).await;
                    alert_unacked = true;
                }
                // After an alert, write at once (a kill now must not repeat it); otherwise
                // positions of quiet lines wait for the next tick.
                Some(Output::Ack(position)) if alert_unacked => {
                    checkpoints.record(position);
                    alert_unacked = false;
                }
                Some(Output::Ack(position)) => checkpoints.update(position),
                None => break,
            },
            _ = tick.tick(), if checkpoints.journal_due() || checkpoints.snapshot_due() => {
                if checkpoints.snapshot_due() {
                    tokio::task::block_in_place(|| checkpoints.snapshot());
                } else {
                    checkpoints.write_journal();
                }
            }
        }
    }
    tokio::task::block_in_place(|| checkpoints.snapshot());
}

/// The sink of one source of one watch: matches each line and forwards what rules need.
struct WatchFeed {
    watch: usize,
    matcher: Arc<Matcher>,
    /// Reused matching state: matching allocates nothing per line.
    scratch: Scratch,
    source: Arc<str>,
    tx: mpsc::Sender<Input>,
    /// Lines read since the last batch end.
    lines: u64,
    /// The file lines come from now.
    file: Option<FileIdentity>,
    /// The last position sent on (file and offset), to send each only once.
    last_offset: Option<(u64, u64, u64)>,
    /// The engine is gone.
    closed: bool,
}

impl WatchFeed {
    /// Sends a position on (once per distinct position).
    fn send_position(&mut self, p: FilePosition) {
        let key = (p.id.ino, p.id.checksum, p.offset);
        if self.last_offset != Some(key) && !self.closed {
            self.last_offset = Some(key);
            if self.tx.blocking_send(Input::Checkpoint(p)).is_err() {
                self.closed = true;
            }
        }
    }
}

impl LineSink for WatchFeed {
    fn file_changed(&mut self, id: &FileIdentity) {
        self.file = Some(*id);
    }

    fn line(&mut self, line: &[u8], flags: LineFlags) {
        self.lines += 1;
        let m = self.matcher.match_line(line, &mut self.scratch);
        if m.slots == 0 || self.closed {
            return;
        }
        let mut text = String::from_utf8_lossy(line).into_owned();
        if flags.truncated {
            text.push_str(" [line cut at max_line_bytes]");
        }
        let msg = Input::Matched(Box::new(MatchedLine {
            watch: self.watch,
            at: Instant::now(),
            slots: m.slots,
            line: text,
            source: self.source.clone(),
        }));
        if self.tx.blocking_send(msg).is_err() {
            self.closed = true;
        }
        // A matched line may cause an alert: acknowledge it on its own, so its position is
        // saved right after the alert is handled, not a batch later (no repeat after kill -9).
        if let Some(id) = self.file {
            self.send_position(FilePosition {
                path: self.source.to_string(),
                id,
                offset: flags.end,
            });
        }
    }

    fn batch_end(&mut self, position: Option<&FilePosition>) -> bool {
        if self.lines > 0 && !self.closed {
            let msg = Input::Lines {
                watch: self.watch,
                count: std::mem::take(&mut self.lines),
                at: Instant::now(),
            };
            if self.tx.blocking_send(msg).is_err() {
                self.closed = true;
            }
        }
        if let Some(p) = position {
            self.send_position(p.clone());
        }
        !self.closed
    }
}
