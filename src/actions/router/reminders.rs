//! The router's reminder task: a reminder every `repeat` while an alert keeps firing,
//! keepalives for receivers that expire alerts (Alertmanager), and the resolution of carried
//! alerts that did not fire again within their horizon.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::actions::notification::{next_id, unix_ms, Kind, Notification, VERSION};
use crate::actions::router::book::{Key, Open};
use crate::actions::router::dispatch::Shared;
use crate::core::alert::AlertState;
use crate::core::shutdown::Shutdown;

/// The longest the reminder task sleeps (it also re-checks carried alerts).
const MAX_NAP: Duration = Duration::from_secs(60);

/// Sends reminders and keepalives, and resolves carried alerts that did not fire again.
pub(super) async fn remind(
    s: Arc<Shared>,
    mut carry: Vec<(Key, tokio::time::Instant)>,
    mut shutdown: Shutdown,
) {
    let mut next_keepalive: HashMap<String, tokio::time::Instant> = s
        .targets
        .iter()
        .filter_map(|(n, t)| {
            t.keepalive
                .map(|k| (n.clone(), tokio::time::Instant::now() + k))
        })
        .collect();
    loop {
        let now = tokio::time::Instant::now();
        let mut wake = now + MAX_NAP;
        for (_, at) in &carry {
            wake = wake.min(*at);
        }
        for at in next_keepalive.values() {
            wake = wake.min(*at);
        }
        if let Ok(open) = s.open.lock() {
            for at in open.values().filter_map(|o| o.remind_at) {
                wake = wake.min(at);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = shutdown.wait() => return,
        }
        let now = tokio::time::Instant::now();
        // Carried alerts the rules did not confirm: resolved, with a note.
        let (due, later): (Vec<_>, Vec<_>) = carry.into_iter().partition(|(_, at)| *at <= now);
        carry = later;
        for (key, _) in due {
            let closed = s.open.lock().ok().and_then(|mut open| {
                let carried = open.get(&key).is_some_and(|o| o.carried);
                if carried {
                    open.remove(&key)
                } else {
                    None
                }
            });
            if let Some(o) = closed.as_ref().filter(|o| o.held) {
                // Never notified (held by a silence): nothing to resolve.
                tracing::info!(watch = %o.alert.watch, rule = %o.alert.rule, "a firing held by a silence before the restart did not fire again: dropped");
                s.save_book();
            } else if let Some(o) = closed {
                let mut a = o.alert.clone();
                a.state = AlertState::Resolved;
                a.at = SystemTime::now();
                a.summary = format!(
                    "no longer detected since logwarden restarted (it was: {})",
                    o.alert.summary
                );
                a.line = None;
                a.context.clear();
                a.action = None;
                tracing::info!(watch = %key.0, rule = %key.1, "an alert open before the restart did not fire again: resolved");
                s.notify(&a, Kind::Notice, Some(o.since_ms), &o.channels);
                s.save_book();
            }
        }
        // Reminders for what keeps firing.
        let now_ms = unix_ms(SystemTime::now());
        let mut reminders = Vec::new();
        if let Ok(mut open) = s.open.lock() {
            // Held (silenced) and acknowledged alerts have no `remind_at`.
            for o in open.values_mut() {
                if o.remind_at.is_some_and(|at| at <= now) {
                    debug_assert!(!o.held && o.acked_by.is_none());
                    o.notified_ms = now_ms;
                    o.remind_at = Some(now + s.repeat);
                    reminders.push((o.alert.clone(), o.since_ms, o.channels.clone()));
                }
            }
        }
        if !reminders.is_empty() {
            for (a, since, channels) in &reminders {
                s.notify(a, Kind::Reminder, Some(*since), channels);
            }
            s.save_book();
        }
        // Keepalives for receivers that expire alerts (Alertmanager).
        for (name, at) in next_keepalive.iter_mut() {
            if *at > now {
                continue;
            }
            let Some(t) = s.targets.get(name) else {
                continue;
            };
            *at = now + t.keepalive.unwrap_or(MAX_NAP);
            let open: Vec<Open> = s
                .open
                .lock()
                .map(|o| {
                    o.values()
                        .filter(|o| !o.held && o.channels.contains(name))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for o in open {
                let n = Notification {
                    version: VERSION,
                    id: next_id(),
                    channel: name.clone(),
                    kind: Kind::Keepalive,
                    alert: o.alert,
                    host: s.host.clone(),
                    since_ms: Some(o.since_ms),
                    rerouted: None,
                    origin: 0,
                    siblings: Vec::new(),
                    position: None,
                };
                let _ = t.tx.send(n);
            }
        }
    }
}
