//! The engine as a task: inputs from the sources in, alerts and acknowledgements out, woken
//! by the earliest rule deadline or a heartbeat, with what rules learned loaded at the start
//! and saved every minute and at the end.

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::core::shutdown::Shutdown;
use crate::rules::engine::{Engine, State, HEARTBEAT_EVERY, SAVE_EVERY};
use crate::rules::input::{Input, Output};
use crate::rules::store;

impl Engine {
    /// Continues from what `new-kind` and `anomaly` rules saved in `state_dir`. A missing
    /// file is a first start; an unreadable one is reported and learning starts over.
    pub fn load_saved(&mut self) {
        let clock = self.clock;
        for w in &mut self.watches {
            for r in &mut w.rules {
                let Some(path) = &r.state_file else { continue };
                let restored =
                    match &mut r.state {
                        State::NewKind(s) => store::read(path)
                            .and_then(|v| v.map_or(Ok(()), |v| s.restore(v, &clock))),
                        State::Anomaly(s) => store::read(path)
                            .and_then(|v| v.map_or(Ok(()), |v| s.restore(v, &clock))),
                        _ => Ok(()),
                    };
                if let Err(e) = restored {
                    tracing::warn!(watch = %w.name, rule = %r.name, file = %path.display(), "saved rule state not used, learning again: {e}");
                }
            }
        }
    }

    /// Saves what `new-kind` and `anomaly` rules learned since the last save.
    pub fn save_changes(&mut self) {
        let clock = self.clock;
        for w in &mut self.watches {
            for r in &mut w.rules {
                let Some(path) = &r.state_file else { continue };
                let written = match &mut r.state {
                    State::NewKind(s) => {
                        for id in store::take_forget_requests(path) {
                            if s.forget(id) {
                                tracing::info!(watch = %w.name, rule = %r.name, kind = id, "kind forgotten: its next line is a new kind");
                            }
                        }
                        s.take_changes(&clock).map(|v| store::write(path, &v))
                    }
                    State::Anomaly(s) => s.take_changes(&clock).map(|v| store::write(path, &v)),
                    _ => None,
                };
                if let Some(Err(e)) = written {
                    tracing::warn!(watch = %w.name, rule = %r.name, file = %path.display(), error = %e, "cannot save rule state");
                }
            }
        }
    }

    /// Runs until shutdown or until every source is gone: inputs in, alerts out. What rules
    /// learned is loaded first, saved every `SAVE_EVERY` and at the end.
    pub async fn run(
        mut self,
        inputs: mpsc::Receiver<Input>,
        outputs: mpsc::Sender<Output>,
        shutdown: Shutdown,
    ) {
        self.load_saved();
        self.run_loop(inputs, outputs, shutdown).await;
        self.save_changes();
    }

    async fn run_loop(
        &mut self,
        mut inputs: mpsc::Receiver<Input>,
        outputs: mpsc::Sender<Output>,
        mut shutdown: Shutdown,
    ) {
        let mut out = Vec::new();
        let mut ack = None;
        // Positions to acknowledge between the alerts of `out` (see `handle_batch`).
        let mut acks = Vec::new();
        let mut last_save = Instant::now();
        loop {
            let now = Instant::now();
            self.follow_wall_clock(now);
            if now.saturating_duration_since(last_save) >= SAVE_EVERY {
                // One small write per learning rule at most every minute (SD cards).
                self.save_changes();
                last_save = now;
            }
            self.telemetry.engine_heartbeat_ms.store(
                crate::core::clock::monotonic_ms(),
                std::sync::atomic::Ordering::Relaxed,
            );
            self.on_time(now, &mut out);
            let mut splits = acks.drain(..).peekable();
            for (i, a) in out.drain(..).enumerate() {
                if outputs.send(Output::Alert(a)).await.is_err() {
                    return;
                }
                // The position after the line whose alerts these were (`handle_batch`).
                while let Some((_, p)) = splits.next_if(|(n, _)| *n == i + 1) {
                    if outputs.send(Output::Ack(p)).await.is_err() {
                        return;
                    }
                }
            }
            debug_assert!(splits.next().is_none(), "every split is after an alert");
            drop(splits);
            // Acknowledged only after the alerts its lines caused were sent on.
            if let Some(position) = ack.take() {
                if outputs.send(Output::Ack(position)).await.is_err() {
                    return;
                }
            }
            // Sleep until the next rule deadline, or the next heartbeat; any input ends it.
            let wake = self
                .deadline(now)
                .unwrap_or(now + HEARTBEAT_EVERY)
                .min(now + HEARTBEAT_EVERY);
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(Input::Checkpoint(position)) => ack = Some(position),
                    Some(Input::Batch(mut batch)) => {
                        self.handle_batch(&batch, &mut out, &mut acks);
                        if let Some(position) = batch.position.take() {
                            ack = Some(position);
                        }
                        // Dropped here: back to its source's pool.
                    }
                    Some(input) => self.handle(&input, &mut out),
                    None => return,
                },
                _ = tokio::time::sleep_until(wake) => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}
