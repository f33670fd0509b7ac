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
use crate::rules::{Engine, Input, MatchedLine};
use crate::shutdown::Shutdown;
use crate::source::file::{self, FileSourceConfig};
use crate::source::{LineFlags, LineSink};

/// Inputs queued between the sources and the rules engine. Each message is a batch count or a
/// matched line; 4096 absorbs a burst of matches while the engine sends an alert, and bounds
/// memory to a few MB even with long matched lines.
const INPUT_QUEUE: usize = 4096;
/// Alerts queued between the engine and the channels. Alerts are rare; when channels stall
/// this fills and the engine (then the sources) wait rather than drop an alert.
const ALERT_QUEUE: usize = 256;
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

/// Runs the whole daemon until `shutdown` fires.
pub async fn run(
    config: Config,
    format: LogFormat,
    shutdown: Shutdown,
) -> Result<(), PipelineError> {
    let (alert_tx, alert_rx) = mpsc::channel::<Alert>(ALERT_QUEUE);
    let dispatcher = Dispatcher::new(&config, format);
    let delivery = tokio::spawn(dispatcher.run(alert_rx));
    run_with_sink(config, alert_tx, shutdown).await?;
    // The engine dropped its sender: the dispatcher delivers what is queued, then ends.
    let _ = delivery.await;
    Ok(())
}

/// Runs sources, matcher and rules, sending alerts to `alerts` (used by `run` and by tests).
pub async fn run_with_sink(
    config: Config,
    alerts: mpsc::Sender<Alert>,
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
    let engine = Engine::new(&config.watches, &matchers, Instant::now());
    let mut threads = Vec::new();
    for (i, w) in config.watches.iter().enumerate() {
        for path in &w.files {
            let feed = WatchFeed {
                watch: i,
                matcher: matchers[i].clone(),
                scratch: matchers[i].scratch(),
                source: Arc::from(path.display().to_string()),
                tx: input_tx.clone(),
                lines: 0,
                closed: false,
            };
            let cfg = FileSourceConfig {
                path: path.clone(),
                start_at: w.start_at,
                max_line_bytes: w.max_line_bytes,
                poll_interval: config.daemon.poll_interval,
                partial_flush: PARTIAL_FLUSH,
            };
            let handle = file::spawn(cfg, feed, shutdown.clone()).map_err(|source| {
                PipelineError::Source {
                    path: path.display().to_string(),
                    source,
                }
            })?;
            threads.push(handle);
            tracing::info!(watch = %w.name, path = %path.display(), "following file");
        }
    }
    drop(input_tx);
    engine.run(input_rx, alerts, shutdown).await;
    // Source threads see the shutdown within one poll interval (or see the closed queue).
    let _ = tokio::task::spawn_blocking(move || {
        for t in threads {
            let _ = t.join();
        }
    })
    .await;
    Ok(())
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
    /// The engine is gone.
    closed: bool,
}

impl LineSink for WatchFeed {
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
    }

    fn batch_end(&mut self) -> bool {
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
        !self.closed
    }
}
