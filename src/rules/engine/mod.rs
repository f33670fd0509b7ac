//! The engine: the state of every rule of every watch, fed inputs one at a time, with the
//! alerts each causes; time passing is `on_time`, the next moment something may change is
//! `deadline` (running it as a task is `engine/run.rs`).

use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::Instant;

use crate::config::WatchConfig;
use crate::core::alert::{Alert, AlertState, Severity};
use crate::core::rule_names::{labelled, LINES_LOST_RULE};
use crate::matcher::{Matcher, SlotSet};
use crate::rules::activity::Activity;
use crate::rules::batch::{MatchBatch, MatchRef};
use crate::rules::input::{Input, Outcome};
use crate::rules::{
    absent, anomaly, gate, match_rule, new_kind, probe_rule, rate, ratio, stale, value,
};
use crate::telemetry::{MatchCounters, Telemetry};

mod build;
mod run;

#[derive(Debug)]
enum State {
    Rate(rate::Rate),
    Stale(stale::Stale),
    Absent(absent::Absent),
    Match(match_rule::MatchRule),
    Probe(probe_rule::ProbeRule),
    NewKind(new_kind::NewKind),
    Anomaly(anomaly::Anomaly),
    Value(Box<value::Value>),
    Ratio(ratio::Ratio),
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
    /// Per watch, the matched-line counters of its pattern slots (for `/metrics`).
    match_counts: Vec<Arc<MatchCounters>>,
    /// Wall time of the engine's `Instant`s, for schedules.
    pub(super) clock: gate::WallClock,
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
        let match_counts = watches
            .iter()
            .zip(matchers)
            .map(|(w, m)| telemetry.match_counters(&w.name, m.slot_names()))
            .collect();
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
                    .map(|r| build::rule_of(r, w, m, start, &clock, &telemetry))
                    .chain(
                        w.probes
                            .iter()
                            .map(|p| build::probe_rule_of(p, start, &clock)),
                    )
                    .collect(),
            })
            .collect::<Vec<_>>();
        let activity = std::sync::Arc::new(Activity::new(watches.len()));
        Engine {
            watches,
            activity,
            telemetry,
            match_counts,
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
            } => self.on_lines(*watch, *at, *count, *fresh, out),
            Input::Matched(m) => self.on_matched(m.view(), out),
            // Positions are acknowledged by `run`, not here.
            Input::Batch(b) => self.handle_batch(b, out, &mut Vec::new()),
            Input::Backlog { watch, written, at } => self.on_backlog(*watch, *written, *at, out),
            Input::CaughtUp { watch, written, at } => self.on_caught_up(*watch, *written, *at, out),
            Input::LastWritten { watch, written, at } => {
                self.on_last_written(*watch, *written, *at, out)
            }
            Input::Checkpoint(_) => {}
            Input::Probe {
                watch,
                probe,
                healthy,
                level,
                detail,
            } => self.on_probe(*watch, *probe, *healthy, *level, detail, out),
            Input::Lost {
                watch,
                file,
                bytes,
                why,
            } => self.on_lost(*watch, file, *bytes, why, out),
            Input::Reset { watch, at } => self.on_reset(*watch, *at),
        }
    }

    /// A source's batch: its matched lines, then its line count (its position is the
    /// caller's to acknowledge once the alerts are sent on). Where a line caused alerts and
    /// more lines follow in the batch, `acks` gets the position right after it, with how
    /// many alerts of `out` come before it: one line's alerts, never several lines', are
    /// spooled under one position (a crash between spool files then loses none of them).
    pub fn handle_batch(
        &mut self,
        b: &MatchBatch,
        out: &mut Vec<Alert>,
        acks: &mut Vec<(usize, crate::source::Position)>,
    ) {
        let last = b.len().saturating_sub(1);
        for (i, m) in b.lines().enumerate() {
            let before = out.len();
            self.on_matched(m, out);
            if out.len() > before && i < last {
                if let Some(p) = b.position_after(i) {
                    acks.push((out.len(), p));
                }
            }
        }
        if let Some((count, fresh, at)) = b.counted {
            self.on_lines(b.watch, at, count, fresh, out);
        }
    }

    /// Lines read (matched or not): the fresh ones end a `stale` silence.
    fn on_lines(
        &mut self,
        watch: usize,
        at: Instant,
        count: u64,
        fresh: u64,
        out: &mut Vec<Alert>,
    ) {
        debug_assert!(fresh <= count);
        self.activity.add(watch, count);
        if fresh == 0 {
            // Only the old process being stopped wrote these: not a sign of life.
            return;
        }
        let Some(w) = self.watches.get_mut(watch) else {
            return;
        };
        for r in &mut w.rules {
            if !matches!(r.state, State::Stale(_)) || !open(r, &self.clock, at) {
                continue;
            }
            if let State::Stale(s) = &mut r.state {
                if let Some(o) = s.on_lines(at) {
                    out.push(alert(&w.name, &w.unit, r, o));
                }
            }
        }
    }

    /// A matched line: counted per pattern, then judged by each rule of its slots.
    fn on_matched(&mut self, m: MatchRef<'_>, out: &mut Vec<Alert>) {
        // Counted per pattern without a lock: one atomic add per matched slot, in the minute
        // the engine's clock gives the line (no clock read per line).
        if let Some(c) = self.match_counts.get(m.watch) {
            let minute = self.clock.wall(m.at).as_second().max(0) as u64 / 60;
            c.add_at(m.slots, minute);
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
            // `value` and `ratio` count them at their written time.
            let mut label = None;
            let o = match (&mut r.state, written) {
                (State::Rate(s), Some(t)) => s.on_backlog_match(t, m.at, m.line, m.source),
                (State::Rate(s), None) => s.on_match(m.at, m.line, m.source),
                (State::Absent(s), Some(t)) => s.on_backlog_match(t, m.at, m.line, m.source),
                (State::Absent(s), None) => s.on_match(m.at, m.line, m.source),
                (State::Match(s), _) => s.on_match(m.at, m.line, m.source),
                (State::NewKind(s), _) => s.on_match(m.at, &self.clock, m.line, m.source),
                (State::Anomaly(s), None) => s.on_match(m.at, &self.clock),
                (State::Anomaly(_), Some(_)) => None,
                (State::Value(s), t) => s.on_match(t.unwrap_or(m.at), m.line, m.source).map(|l| {
                    label = l.label;
                    l.outcome
                }),
                (State::Ratio(s), t) => s.on_match(t.unwrap_or(m.at), m.slots, m.line, m.source),
                (State::Stale(_) | State::Probe(_), _) => None,
            };
            if let Some(o) = o {
                let mut a = alert(&w.name, &w.unit, r, o);
                if let Some(l) = label {
                    a.rule = labelled(&a.rule, &l);
                }
                // The alert quotes this line: quote what came before it too.
                if a.line.as_deref() == Some(m.line) {
                    a.context = m.context();
                }
                a.written = m.written;
                out.push(a);
            }
        }
    }

    /// Lines written earlier than read: a `stale` rule judges the silence by their time.
    fn on_backlog(&mut self, watch: usize, written: SystemTime, at: Instant, out: &mut Vec<Alert>) {
        let written = instant_of(&self.clock, written, at);
        let Some(w) = self.watches.get_mut(watch) else {
            return;
        };
        for r in &mut w.rules {
            if !matches!(r.state, State::Stale(_)) || !open(r, &self.clock, at) {
                continue;
            }
            if let State::Stale(s) = &mut r.state {
                if let Some(o) = s.on_backlog(written, at) {
                    out.push(alert(&w.name, &w.unit, r, o));
                }
            }
        }
    }

    /// A source's last line before this start: `stale` rules count the silence from it.
    fn on_last_written(
        &mut self,
        watch: usize,
        written: SystemTime,
        at: Instant,
        out: &mut Vec<Alert>,
    ) {
        let written = instant_of(&self.clock, written, at);
        let Some(w) = self.watches.get_mut(watch) else {
            return;
        };
        for r in &mut w.rules {
            if let State::Stale(s) = &mut r.state {
                if let Some(o) = s.last_written(written, at) {
                    out.push(alert(&w.name, &w.unit, r, o));
                }
            }
        }
    }

    /// A source has read its backlog: holds of the catch-up end.
    fn on_caught_up(
        &mut self,
        watch: usize,
        written: Option<SystemTime>,
        at: Instant,
        out: &mut Vec<Alert>,
    ) {
        let written = written.map(|t| instant_of(&self.clock, t, at));
        let Some(w) = self.watches.get_mut(watch) else {
            return;
        };
        for r in &mut w.rules {
            // Even outside its schedule: the hold of a catch-up must end.
            let o = match &mut r.state {
                State::Rate(s) => {
                    s.caught_up();
                    None
                }
                State::Stale(s) => s.caught_up(written, at),
                State::Absent(s) => {
                    s.caught_up();
                    None
                }
                _ => None,
            };
            if let Some(o) = o {
                out.push(alert(&w.name, &w.unit, r, o));
            }
        }
    }

    /// A probe's debounced verdict, judged now or held until its schedule opens.
    fn on_probe(
        &mut self,
        watch: usize,
        probe: usize,
        healthy: bool,
        level: Option<Severity>,
        detail: &str,
        out: &mut Vec<Alert>,
    ) {
        let Some(w) = self.watches.get_mut(watch) else {
            return;
        };
        let Some(r) = w
            .rules
            .iter_mut()
            .filter(|r| matches!(r.state, State::Probe(_)))
            .nth(probe)
        else {
            return;
        };
        // Probe verdicts carry no time of their own: they are judged now.
        let is_open = open(r, &self.clock, Instant::now());
        let State::Probe(p) = &mut r.state else {
            return;
        };
        let o = if is_open {
            p.on_result(healthy, level, detail)
        } else {
            // Outside its schedule: kept, and judged when the schedule opens.
            p.hold(healthy, level, detail);
            None
        };
        if let Some(o) = o {
            out.push(alert(&w.name, &w.unit, r, o));
        }
    }

    /// Bytes gone before they could be read: a `lines-lost` event.
    fn on_lost(&mut self, watch: usize, file: &str, bytes: u64, why: &str, out: &mut Vec<Alert>) {
        let Some(w) = self.watches.get(watch) else {
            return;
        };
        let mut a = Alert::new(
            &w.name,
            LINES_LOST_RULE,
            Severity::Warning,
            AlertState::Event,
            match bytes {
                0 => format!("lines lost: some bytes of {file} were never read ({why})"),
                n => format!("lines lost: at least {n} bytes of {file} were never read ({why})"),
            },
        );
        a.unit = w.unit.clone();
        a.source = Some(file.to_string());
        out.push(a);
    }

    /// The watch's service was (re)started: its rules count afresh from `at`.
    fn on_reset(&mut self, watch: usize, at: Instant) {
        let Some(w) = self.watches.get_mut(watch) else {
            return;
        };
        for r in &mut w.rules {
            match &mut r.state {
                State::Rate(s) => s.reset(),
                State::Stale(s) => s.reset(at),
                State::Absent(s) => s.reset(at),
                State::Anomaly(s) => s.reset(at),
                State::Value(s) => s.reset(),
                State::Ratio(s) => s.reset(),
                State::Match(_) | State::Probe(_) | State::NewKind(_) => {}
            }
        }
    }

    /// Lets time pass to `now`; alerts it causes are pushed to `out`.
    pub fn on_time(&mut self, now: Instant, out: &mut Vec<Alert>) {
        let mut labelled_outcomes = Vec::new();
        for w in &mut self.watches {
            for r in &mut w.rules {
                if !open(r, &self.clock, now) {
                    continue;
                }
                let o = match &mut r.state {
                    State::Value(s) => {
                        s.on_time(now, &mut labelled_outcomes);
                        None
                    }
                    State::Ratio(s) => s.on_time(now),
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
                for l in labelled_outcomes.drain(..) {
                    let mut a = alert(&w.name, &w.unit, r, l.outcome);
                    if let Some(label) = l.label {
                        a.rule = labelled(&a.rule, &label);
                    }
                    out.push(a);
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
                    State::Value(s) => s.deadline(),
                    State::Ratio(s) => s.deadline(),
                    State::Probe(_) | State::NewKind(_) => None,
                };
                match &r.gate {
                    Some(g) => g.deadline(own),
                    None => own,
                }
            })
            .min()
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
                State::Value(s) => s.reset(),
                State::Ratio(s) => s.reset(),
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
