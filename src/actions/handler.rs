//! The actions' side of the pipeline: the trait through which alerts reach whatever handles
//! them (the router in the daemon, a queue in the demo and tests).

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use crate::core::alert::Alert;
use crate::source::Position;

/// Where alerts end up. `handle` returns once the alert is durably spooled: only then are
/// the positions of the lines that caused it acknowledged.
pub trait AlertHandler: Send {
    fn handle(&mut self, alert: Alert) -> impl std::future::Future<Output = ()> + Send;
    /// Makes the alerts handled so far durable, noting `position` (acknowledged right after
    /// them) with them; called before that position is checkpointed.
    fn flush(
        &mut self,
        _position: Option<&Position>,
    ) -> impl std::future::Future<Output = ()> + Send {
        async {}
    }
    /// Sends what `flush` made durable on to the channels; called after the checkpoint.
    fn release(&mut self) -> impl std::future::Future<Output = ()> + Send {
        async {}
    }
    /// Makes what `flush` wrote survive a power loss; called before each checkpoint snapshot
    /// (the only position that does), from blocking context.
    fn sync(&mut self) {}
    /// Before the sources start: positions to resume from past the saved ones (alerts of
    /// lines whose acknowledgement a crash kept from the checkpoint).
    fn reconcile(&mut self, _saved: &BTreeMap<String, Position>) -> Vec<Position> {
        Vec::new()
    }
    /// Called once after the last alert, at shutdown: a bounded last try to deliver.
    fn finish(&mut self) -> impl std::future::Future<Output = ()> + Send {
        async {}
    }
}

/// For the demo and tests: alerts go to a queue someone else reads.
impl AlertHandler for mpsc::Sender<Alert> {
    async fn handle(&mut self, alert: Alert) {
        let _ = self.send(alert).await;
    }
}
