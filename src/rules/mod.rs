//! Rules: from matched lines and the passing of time to firing and resolved alerts.
//!
//! The engine owns the state of every rule of every watch. It receives `Input` from the
//! sources (batches of lines and matched lines, already matched), asks each rule what changed,
//! and sends `Alert`s to the actions. Rules are plain state machines driven by the `Instant`s
//! they are given, so tests drive them in microseconds; the engine sleeps exactly until the
//! earliest rule deadline, so an idle daemon does not wake needlessly.

pub mod absent;
pub mod activity;
pub mod anomaly;
pub mod gate;
pub mod line_template;
pub mod match_rule;
pub mod new_kind;
pub mod probe_rule;
pub mod rate;
pub mod recent;
pub mod stale;
pub mod store;

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::{RuleKind, WatchConfig};
use crate::core::alert::Severity;
use crate::core::alert::{Alert, AlertState};
use crate::core::shutdown::Shutdown;
use crate::matcher::{Matcher, SlotSet};
use crate::source::Position;
use crate::telemetry::Telemetry;

/// What a rule says when its state changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub state: AlertState,
    pub summary: String,
    pub line: Option<String>,
    pub source: Option<String>,
}

/// What sources send to the engine.
#[derive(Debug)]
pub enum Input {
    /// `count` lines (matched or not) were read by a source of `watch` at `at`; `fresh` of
    /// them count as the service's own (all of them unless a restart is under way, see
    /// `activity`, and none from a backlog): only those end a `stale` silence.
    Lines {
        watch: usize,
        count: u64,
        fresh: u64,
        at: Instant,
    },
    /// One line matched at least one slot.
    Matched(Box<MatchedLine>),
    /// A source of `watch` read lines at `at` that were written earlier (a catch-up after
    /// downtime, or a source that fell behind), the newest at `written` or before. Sent once
    /// per batch that had such lines; `CaughtUp` follows when the source has read everything.
    Backlog {
        watch: usize,
        written: SystemTime,
        at: Instant,
    },
    /// A source of `watch` has read all there was at `at`; the newest line of its backlog was
    /// written at `written` or before (`None`: not known).
    CaughtUp {
        watch: usize,
        written: Option<SystemTime>,
        at: Instant,
    },
    /// Every line of a file before this position was sent (as `Lines` and `Matched` before
    /// it). The engine passes it on once it has handled them, as an `Output::Ack`.
    Checkpoint(Position),
    /// A probe of `watch` changed its (debounced) verdict.
    Probe {
        watch: usize,
        probe: usize,
        healthy: bool,
        /// How bad a failure is, for probes that grade it (disk, memory); else `None`.
        level: Option<Severity>,
        detail: String,
    },
    /// The watch's service was (re)started: its rules count afresh from `at`, as if
    /// logwarden had just started (a bot still starting up is not judged yet).
    Reset { watch: usize, at: Instant },
    /// A source of `watch` found that at least `bytes` of `file` were gone before it could
    /// read them (`why`, for a person): a `lines-lost` event.
    Lost {
        watch: usize,
        file: String,
        bytes: u64,
        why: String,
    },
}

use crate::core::rule_names::LINES_LOST_RULE;

pub use activity::Activity;

/// What the engine sends on: alerts, and acknowledgements of the lines it has handled.
#[derive(Debug)]
pub enum Output {
    Alert(Alert),
    /// Every line before this position has been handed to the rules.
    Ack(Position),
}

/// A line that matched, with what it matched.
#[derive(Debug)]
pub struct MatchedLine {
    pub watch: usize,
    pub at: Instant,
    pub slots: SlotSet,
    /// The line, lossily decoded (invalid UTF-8 becomes U+FFFD).
    pub line: String,
    /// The lines its source read just before it, oldest first.
    pub context: Vec<String>,
    /// Where it came from (a file path).
    pub source: Arc<str>,
    /// Set for a backlog line (see `Input::Backlog`): it was written at this time or before,
    /// not at `at`. Rules that count in time count it then; its alert says so.
    pub written: Option<SystemTime>,
}

#[derive(Debug)]
enum State {
    Rate(rate::Rate),
    Stale(stale::Stale),
    Absent(absent::Absent),
    Match(match_rule::MatchRule),
    Probe(probe_rule::ProbeRule),
    NewKind(new_kind::NewKind),
    Anomaly(anomaly::Anomaly),
}

#[derive(Debug)]
struct Rule {
    name: String,
    severity: Severity,
    /// Bit of the rule's pattern slot (0 for rules without a pattern).
    slot_bit: SlotSet,
    state: State,
    /// The rule's schedule (`active = ...`); `None`: always active.
    gate: Option<gate::Gate>,
    /// Where what the rule learned is saved (`new-kind`, `anomaly`).
    state_file: Option<std::path::PathBuf>,
}

#[derive(Debug)]
struct WatchRules {
    name: String,
    unit: Option<String>,
    rules: Vec<Rule>,
}

/// The state of every rule of every watch.
#[derive(Debug)]
pub struct Engine {
    watches: Vec<WatchRules>,
    activity: std::sync::Arc<Activity>,
    telemetry: Arc<Telemetry>,
    /// Per watch, the pattern slot names (bit `i` of a `SlotSet` = name `i`).
    slot_names: Vec<Vec<String>>,
    /// Wall time of the engine's `Instant`s, for schedules.
    clock: gate::WallClock,
}

/// The engine wakes at least this often, so its heartbeat (for `/health` and the systemd
/// watchdog) stays fresh even when no rule has a deadline.
const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// How often learned rule state (`new-kind`, `anomaly`) is saved while running.
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Engine {
    /// Builds rule state for `watches`; `matchers[i]` is watch `i`'s matcher. Counting starts
    /// at `start`.
    pub fn new(
        watches: &[WatchConfig],
        matchers: &[Arc<Matcher>],
        start: Instant,
        telemetry: Arc<Telemetry>,
    ) -> Engine {
        let slot_names = matchers.iter().map(|m| m.slot_names().to_vec()).collect();
        let clock = gate::WallClock::new(start, jiff::Timestamp::now());
        let watches = watches
            .iter()
            .zip(matchers)
            .map(|(w, m)| WatchRules {
                name: w.name.clone(),
                unit: w.unit.clone(),
                rules: w
                    .rules
                    .iter()
                    .map(|r| {
                        let slot_bit = |p: &str| m.slot(p).map(|s| 1u64 << s).unwrap_or(0);
                        let (slot_bit, state) = match &r.kind {
                            RuleKind::Rate {
                                pattern,
                                threshold,
                                resolve_below,
                                window,
                            } => (
                                slot_bit(pattern),
                                State::Rate(rate::Rate::new(
                                    pattern,
                                    *threshold,
                                    *resolve_below,
                                    *window,
                                )),
                            ),
                            RuleKind::Stale { after } => {
                                (0, State::Stale(stale::Stale::new(*after, start)))
                            }
                            RuleKind::Absent {
                                pattern,
                                min,
                                window,
                            } => (
                                slot_bit(pattern),
                                State::Absent(absent::Absent::new(pattern, *min, *window, start)),
                            ),
                            RuleKind::Match { pattern, cooldown } => (
                                slot_bit(pattern),
                                State::Match(match_rule::MatchRule::new(pattern, *cooldown)),
                            ),
                            RuleKind::NewKind {
                                pattern,
                                learn,
                                max_templates,
                                ..
                            } => (
                                slot_bit(pattern),
                                State::NewKind(new_kind::NewKind::new(
                                    pattern,
                                    *learn,
                                    *max_templates,
                                    start,
                                )),
                            ),
                            RuleKind::Anomaly {
                                pattern,
                                sensitivity,
                                min_count,
                                seasonal,
                                learn,
                                ..
                            } => (
                                slot_bit(pattern),
                                State::Anomaly(anomaly::Anomaly::new(
                                    pattern,
                                    *sensitivity,
                                    *min_count,
                                    *seasonal,
                                    *learn,
                                    start,
                                )),
                            ),
                        };
                        let state_file = match &r.kind {
                            RuleKind::NewKind { state_file, .. }
                            | RuleKind::Anomaly { state_file, .. } => Some(state_file.clone()),
                            _ => None,
                        };
                        Rule {
                            name: r.name.clone(),
                            severity: r.severity,
                            slot_bit,
                            state,
                            gate: r
                                .schedule
                                .as_ref()
                                .map(|s| gate::Gate::new(s.clone(), &clock, start)),
                            state_file,
                        }
                    })
                    .chain(w.probes.iter().map(|p| {
                        Rule {
                            name: p.name.clone(),
                            severity: p.severity,
                            slot_bit: 0,
                            state: State::Probe(probe_rule::ProbeRule::default()),
                            gate: p
                                .schedule
                                .as_ref()
                                .map(|s| gate::Gate::new(s.clone(), &clock, start)),
                            state_file: None,
                        }
                    }))
                    .collect(),
            })
            .collect::<Vec<_>>();
        let activity = std::sync::Arc::new(Activity::new(watches.len()));
        Engine {
            watches,
            activity,
            telemetry,
            slot_names,
            clock,
        }
    }

    /// Sets which wall time `at` stands for (replay: the log's first timestamp). Scheduled
    /// rules count from `at` in whatever period that falls in.
    pub fn set_wall_clock(&mut self, at: Instant, wall: jiff::Timestamp) {
        self.clock = gate::WallClock::new(at, wall);
        for r in self.watches.iter_mut().flat_map(|w| &mut w.rules) {
            if let Some(g) = &mut r.gate {
                g.restart(&self.clock, at);
            }
        }
    }

    /// Re-anchors the wall clock when it moved away from the monotonic one (an NTP step, a
    /// suspend) by more than a second, so schedules follow the real clock.
    fn follow_wall_clock(&mut self, now: Instant) {
        let real = jiff::Timestamp::now();
        let drift = real.duration_since(self.clock.wall(now)).unsigned_abs();
        if drift <= std::time::Duration::from_secs(1) {
            return;
        }
        self.clock = gate::WallClock::new(now, real);
        for r in self.watches.iter_mut().flat_map(|w| &mut w.rules) {
            if let Some(g) = &mut r.gate {
                g.refresh(&self.clock, now);
            }
        }
    }

    /// Line counts per watch, shared with whoever verifies restarts.
    pub fn activity(&self) -> std::sync::Arc<Activity> {
        self.activity.clone()
    }

    /// Feeds one input; alerts it causes are pushed to `out`.
    pub fn handle(&mut self, input: &Input, out: &mut Vec<Alert>) {
        match input {
            Input::Lines {
                watch,
                at,
                count,
                fresh,
            } => {
                debug_assert!(fresh <= count);
                self.activity.add(*watch, *count);
                if *fresh == 0 {
                    // Only the old process being stopped wrote these: not a sign of life.
                    return;
                }
                let Some(w) = self.watches.get_mut(*watch) else {
                    return;
                };
                for r in &mut w.rules {
                    if !matches!(r.state, State::Stale(_)) || !open(r, &self.clock, *at) {
                        continue;
                    }
                    if let State::Stale(s) = &mut r.state {
                        if let Some(o) = s.on_lines(*at) {
                            out.push(alert(&w.name, &w.unit, r, o));
                        }
                    }
                }
            }
            Input::Matched(m) => {
                if let Some(names) = self.slot_names.get(m.watch) {
                    let mut bits = m.slots;
                    while bits != 0 {
                        let b = bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        if let (Some(w), Some(n)) = (self.watches.get(m.watch), names.get(b)) {
                            self.telemetry.on_matches(&w.name, n, 1);
                        }
                    }
                }
                let written = m.written.map(|t| instant_of(&self.clock, t, m.at));
                let Some(w) = self.watches.get_mut(m.watch) else {
                    return;
                };
                for r in &mut w.rules {
                    if r.slot_bit & m.slots == 0 || !open(r, &self.clock, m.at) {
                        continue;
                    }
                    // Backlog lines count at their written time where time is counted
                    // (`rate`, `absent`); `match` and `new-kind` judge them as they come
                    // (their alerts say they are old); `anomaly` leaves them out: its minutes
                    // are the minutes lines arrive in, and a backlog would be a false spike.
                    let o = match (&mut r.state, written) {
                        (State::Rate(s), Some(t)) => {
                            s.on_backlog_match(t, m.at, &m.line, &m.source)
                        }
                        (State::Rate(s), None) => s.on_match(m.at, &m.line, &m.source),
                        (State::Absent(s), Some(t)) => {
                            s.on_backlog_match(t, m.at, &m.line, &m.source)
                        }
                        (State::Absent(s), None) => s.on_match(m.at, &m.line, &m.source),
                        (State::Match(s), _) => s.on_match(m.at, &m.line, &m.source),
                        (State::NewKind(s), _) => s.on_match(m.at, &m.line, &m.source),
                        (State::Anomaly(s), None) => s.on_match(m.at, &self.clock),
                        (State::Anomaly(_), Some(_)) => None,
                        (State::Stale(_) | State::Probe(_), _) => None,
                    };
                    if let Some(o) = o {
                        let mut a = alert(&w.name, &w.unit, r, o);
                        // The alert quotes this line: quote what came before it too.
                        if a.line.as_deref() == Some(m.line.as_str()) {
                            a.context = m.context.clone();
                        }
                        a.written = m.written;
                        out.push(a);
                    }
                }
            }
            Input::Backlog { watch, written, at } => {
                let written = instant_of(&self.clock, *written, *at);
                let Some(w) = self.watches.get_mut(*watch) else {
                    return;
                };
                for r in &mut w.rules {
                    if !matches!(r.state, State::Stale(_)) || !open(r, &self.clock, *at) {
                        continue;
                    }
                    if let State::Stale(s) = &mut r.state {
                        if let Some(o) = s.on_backlog(written, *at) {
                            out.push(alert(&w.name, &w.unit, r, o));
                        }
                    }
                }
            }
            Input::CaughtUp { watch, written, at } => {
                let written = written.map(|t| instant_of(&self.clock, t, *at));
                let Some(w) = self.watches.get_mut(*watch) else {
                    return;
                };
                for r in &mut w.rules {
                    // Even outside its schedule: the hold of a catch-up must end.
                    let o = match &mut r.state {
                        State::Rate(s) => {
                            s.caught_up();
                            None
                        }
                        State::Stale(s) => s.caught_up(written, *at),
                        _ => None,
                    };
                    if let Some(o) = o {
                        out.push(alert(&w.name, &w.unit, r, o));
                    }
                }
            }
            Input::Checkpoint(_) => {}
            Input::Probe {
                watch,
                probe,
                healthy,
                level,
                detail,
            } => {
                let Some(w) = self.watches.get_mut(*watch) else {
                    return;
                };
                let Some(r) = w
                    .rules
                    .iter_mut()
                    .filter(|r| matches!(r.state, State::Probe(_)))
                    .nth(*probe)
                else {
                    return;
                };
                // Probe verdicts carry no time of their own: they are judged now.
                let is_open = open(r, &self.clock, Instant::now());
                let State::Probe(p) = &mut r.state else {
                    return;
                };
                let o = if is_open {
                    p.on_result(*healthy, *level, detail)
                } else {
                    // Outside its schedule: kept, and judged when the schedule opens.
                    p.hold(*healthy, *level, detail);
                    None
                };
                if let Some(o) = o {
                    out.push(alert(&w.name, &w.unit, r, o));
                }
            }
            Input::Lost {
                watch,
                file,
                bytes,
                why,
            } => {
                let Some(w) = self.watches.get(*watch) else {
                    return;
                };
                let mut a = Alert::new(
                    &w.name,
                    LINES_LOST_RULE,
                    Severity::Warning,
                    AlertState::Event,
                    match bytes {
                        0 => format!("lines lost: some bytes of {file} were never read ({why})"),
                        n => format!(
                            "lines lost: at least {n} bytes of {file} were never read ({why})"
                        ),
                    },
                );
                a.unit = w.unit.clone();
                a.source = Some(file.clone());
                out.push(a);
            }
            Input::Reset { watch, at } => {
                let Some(w) = self.watches.get_mut(*watch) else {
                    return;
                };
                for r in &mut w.rules {
                    match &mut r.state {
                        State::Rate(s) => s.reset(),
                        State::Stale(s) => s.reset(*at),
                        State::Absent(s) => s.reset(*at),
                        State::Anomaly(s) => s.reset(*at),
                        State::Match(_) | State::Probe(_) | State::NewKind(_) => {}
                    }
                }
            }
        }
    }

    /// Lets time pass to `now`; alerts it causes are pushed to `out`.
    pub fn on_time(&mut self, now: Instant, out: &mut Vec<Alert>) {
        for w in &mut self.watches {
            for r in &mut w.rules {
                if !open(r, &self.clock, now) {
                    continue;
                }
                let o = match &mut r.state {
                    State::Rate(s) => s.on_time(now),
                    State::Stale(s) => s.on_time(now),
                    State::Absent(s) => s.on_time(now),
                    State::Match(s) => s.on_time(now),
                    State::Anomaly(s) => s.on_time(now, &self.clock),
                    State::Probe(s) => s.on_open(),
                    State::NewKind(_) => None,
                };
                if let Some(o) = o {
                    out.push(alert(&w.name, &w.unit, r, o));
                }
            }
        }
    }

    /// The earliest time at which some rule may change state without new input.
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        self.watches
            .iter()
            .flat_map(|w| &w.rules)
            .filter_map(|r| {
                let own = match &r.state {
                    State::Rate(s) => s.deadline(now),
                    State::Stale(s) => s.deadline(),
                    State::Absent(s) => s.deadline(),
                    State::Match(s) => s.deadline(),
                    State::Anomaly(s) => s.deadline(),
                    State::Probe(_) | State::NewKind(_) => None,
                };
                match &r.gate {
                    Some(g) => g.deadline(own),
                    None => own,
                }
            })
            .min()
    }

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
                    State::NewKind(s) => s.take_changes(&clock).map(|v| store::write(path, &v)),
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
            for a in out.drain(..) {
                if outputs.send(Output::Alert(a)).await.is_err() {
                    return;
                }
            }
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
                    Some(input) => self.handle(&input, &mut out),
                    None => return,
                },
                _ = tokio::time::sleep_until(wake) => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}

/// Whether a rule is inside its schedule at `now`; at the start of a new period its state
/// starts fresh (windows from the period's start: no alert at 09:30 for a quiet night).
fn open(r: &mut Rule, clock: &gate::WallClock, now: Instant) -> bool {
    let Some(g) = &mut r.gate else {
        return true;
    };
    match g.check(clock, now) {
        gate::Verdict::Closed => false,
        gate::Verdict::Open => true,
        gate::Verdict::OpenedAt(at) => {
            match &mut r.state {
                State::Rate(s) => s.reset(),
                State::Stale(s) => s.reset(at),
                State::Absent(s) => s.reset(at),
                State::Anomaly(s) => s.reset(at),
                State::Match(_) | State::Probe(_) | State::NewKind(_) => {}
            }
            true
        }
    }
}

/// The `Instant` of wall time `t`, no later than `now` (a file's modification time in the
/// future, a clock that moved: a line cannot have been written after it was read).
fn instant_of(clock: &gate::WallClock, t: SystemTime, now: Instant) -> Instant {
    jiff::Timestamp::try_from(t)
        .ok()
        .and_then(|t| clock.instant(t))
        .map_or(now, |i| i.min(now))
}

fn alert(watch: &str, unit: &Option<String>, rule: &Rule, o: Outcome) -> Alert {
    Alert {
        watch: watch.to_string(),
        rule: rule.name.clone(),
        // A graded probe (disk, memory) alerts at the level it reported.
        severity: match &rule.state {
            State::Probe(p) => p.severity(rule.severity),
            _ => rule.severity,
        },
        state: o.state,
        at: SystemTime::now(),
        summary: o.summary,
        line: o.line,
        context: Vec::new(),
        source: o.source,
        unit: unit.clone(),
        action: None,
        written: None,
    }
}

#[cfg(test)]
mod tests;
