//! One shutdown signal for every task and thread of the daemon.
//!
//! The owner keeps the `ShutdownTrigger`; everything else holds a `Shutdown`. Async tasks await
//! `Shutdown::wait`; source threads check `is_triggered` each time they wake (at least once per
//! poll interval), so shutdown takes at most that long.

use tokio::sync::watch;

/// Fires the shutdown. Dropping it fires it too, so a panicking owner still stops the tasks.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// A handle to learn that shutdown began.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// A new trigger and its first handle.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx })
}

impl ShutdownTrigger {
    /// Tells every handle to stop.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
}

impl Shutdown {
    /// Whether shutdown began.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits until shutdown begins (or the trigger is dropped).
    pub async fn wait(&mut self) {
        let _ = self.rx.wait_for(|&stop| stop).await;
    }
}
