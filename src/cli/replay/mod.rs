//! `logwarden replay`: runs the configured rules over historical lines, on the time written in
//! the lines, and reports the alerts that would have fired. No channel is called and nothing
//! is restarted: the alerts are only collected.
//!
//! Rules are state machines driven by `Instant`s. Replay maps line time onto a synthetic
//! `Instant` axis: the first timestamp seen is `base`, every later one is `base + (t - first)`.
//! Lines without a timestamp (traceback frames) get the last time seen; a timestamp earlier
//! than the last one (interleaved writers, a DST fall-back hour) is clamped to it, since rule
//! time never goes backwards. Before each line, every rule deadline that passed is played
//! (so a `stale` or `absent` rule fires at the moment the silence reached its limit, not at the
//! next line), and after the last line, time stops: the log's end is not silence.
//!
//! The per-line path does what the daemon's feed does (multi-line grouping, one matcher pass)
//! plus a timestamp read from the bytes; a line that matches nothing allocates nothing.

pub mod command;

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Serialize;
use tokio::time::Instant;

use crate::config::{Config, WatchConfig};
use crate::core::alert::{Alert, AlertState};
use crate::matcher::{BuildError, Matcher, Scratch};
use crate::rules::{Engine, Input, MatchedLine};
use crate::source::context_lines::ContextLines;
use crate::source::line_reader::LineReader;
use crate::source::multiline::Assembler;
use crate::source::timestamp::LineClock;
use crate::source::{FileIdentity, FilePosition, LineFlags, LineSink};
use crate::telemetry::Telemetry;

/// An alert that would have fired, at the time of the line (or deadline) that caused it.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayedAlert {
    /// The same time as `alert.at` (which is what JSON shows).
    #[serde(skip)]
    pub at: Timestamp,
    #[serde(flatten)]
    pub alert: Alert,
}

/// Per rule: how often it changed state, and how long it fired in all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleSummary {
    pub firing: u64,
    pub resolved: u64,
    pub events: u64,
    /// Time spent firing (a rule still firing at the end counts until the last line).
    pub firing_for: Duration,
    /// When it started firing, while it does.
    #[serde(skip)]
    firing_since: Option<Timestamp>,
}

/// What one replay found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplayReport {
    /// Lines read (physical lines, before multi-line grouping).
    pub lines: u64,
    /// Lines (events) with no timestamp of their own.
    pub without_timestamp: u64,
    /// Timestamps earlier than the one before them (clamped).
    pub out_of_order: u64,
    #[serde(serialize_with = "serialize_opt_ts")]
    pub first: Option<Timestamp>,
    #[serde(serialize_with = "serialize_opt_ts")]
    pub last: Option<Timestamp>,
    pub alerts: Vec<ReplayedAlert>,
    /// Keyed `watch/rule`, for every rule of the replayed watches.
    pub rules: BTreeMap<String, RuleSummary>,
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("cannot read {what}: {source}")]
    Read { what: String, source: io::Error },
}

/// Rules of one watch, replayed on line time.
pub struct WatchReplay {
    watch: WatchConfig,
    matcher: Arc<Matcher>,
    scratch: Scratch,
    engine: Engine,
    clock: LineClock,
    /// The `Instant` that stands for `origin`.
    base: Instant,
    /// The first timestamp seen (`None` until one is).
    origin: Option<Timestamp>,
    /// The newest line time, as an `Instant` (never decreases).
    now: Instant,
    /// Lines counted at `now` but not yet handed to the engine (one `Lines` input per
    /// distinct time, not per line).
    pending_lines: u64,
    /// The lines just before the current one, quoted with alerts as the daemon does.
    context: ContextLines,
    out: Vec<Alert>,
    /// Masks secrets in the alerts as the daemon does (`pipeline.rs`).
    redactor: crate::actions::redact::Redactor,
    report: ReplayReport,
}

impl WatchReplay {
    /// Rules of `watch` (as configured in `config`), reading naive times in `tz`.
    pub fn new(config: &Config, watch: usize, tz: TimeZone) -> Result<WatchReplay, ReplayError> {
        let w = config.watches[watch].clone();
        let matcher = Arc::new(Matcher::build(&w.packs)?.with_structure(w.structure.clone()));
        let base = Instant::now();
        let telemetry = Telemetry::new(config);
        let engine = Engine::new(
            std::slice::from_ref(&w),
            std::slice::from_ref(&matcher),
            base,
            telemetry,
        );
        let clock = LineClock::new(w.timestamp_format.clone(), tz, Timestamp::now());
        let rules = w
            .rules
            .iter()
            .map(|r| r.name.clone())
            .chain(w.probes.iter().map(|p| p.name.clone()))
            .map(|r| (format!("{}/{r}", w.name), RuleSummary::default()))
            .collect();
        Ok(WatchReplay {
            scratch: matcher.scratch(),
            matcher,
            engine,
            clock,
            base,
            origin: None,
            now: base,
            pending_lines: 0,
            context: ContextLines::new(crate::source::context_lines::DEFAULT_LINES),
            out: Vec::new(),
            redactor: crate::actions::redact::Redactor::new(
                &config.alerts,
                &config.secret_values(),
            ),
            report: ReplayReport {
                rules,
                ..ReplayReport::default()
            },
            watch: w,
        })
    }

    /// Replays every line of `input` (`source` names it in alerts).
    pub fn read<R: Read>(&mut self, source: &str, mut input: R) -> Result<(), ReplayError> {
        let source: Arc<str> = Arc::from(source);
        let mut reader = LineReader::new(self.watch.max_line_bytes);
        let multiline = self.watch.multiline.clone();
        let mut sink = Assembler::new(
            Sink {
                replay: self,
                source: source.clone(),
            },
            multiline,
        );
        loop {
            let n = reader
                .read_from(&mut input, |line, flags| sink.line(line, flags))
                .map_err(|e| ReplayError::Read {
                    what: source.to_string(),
                    source: e,
                })?;
            if n == 0 {
                break;
            }
        }
        reader.flush_partial(|line, flags| sink.line(line, flags));
        // A new "file" ends the pending multi-line event.
        sink.file_changed(&FileIdentity {
            dev: 0,
            ino: 0,
            head_len: 0,
            checksum: 0,
        });
        Ok(())
    }

    /// Replays one line whose time is known (a journal entry's).
    pub fn entry(&mut self, at: Timestamp, message: &[u8], source: &Arc<str>) {
        self.report.lines += 1;
        self.line_at(Some(at), message, false, source);
    }

    /// One line (or multi-line event): its time, then its match.
    fn line_at(&mut self, at: Option<Timestamp>, line: &[u8], truncated: bool, source: &Arc<str>) {
        let at = match at {
            Some(t) => {
                let origin = match self.origin {
                    Some(o) => o,
                    None => {
                        // Schedules judge line time: the engine's base is the first timestamp.
                        self.origin = Some(t);
                        self.engine.set_wall_clock(self.base, t);
                        t
                    }
                };
                self.report.first.get_or_insert(t);
                let since = t.duration_since(origin);
                let mapped = self.base + since.try_into().unwrap_or(Duration::ZERO);
                if since.is_negative() || mapped < self.now {
                    self.report.out_of_order += 1;
                }
                mapped.max(self.now)
            }
            None => {
                self.report.without_timestamp += 1;
                self.now
            }
        };
        if at > self.now {
            self.flush_lines();
            self.advance(at);
            self.now = at;
        }
        self.pending_lines += 1;
        let slots = self.matcher.match_line(line, &mut self.scratch).slots;
        if slots == 0 {
            self.context.push(line);
            return;
        }
        self.flush_lines();
        // Replay reads lines at the time they carry: none is a backlog.
        let matched = MatchedLine::new(
            0,
            self.now,
            slots,
            line,
            truncated,
            &mut self.context,
            source.clone(),
            None,
        );
        let input = Input::Matched(Box::new(matched));
        self.engine.handle(&input, &mut self.out);
        self.collect(self.now);
    }

    /// Hands the lines counted at `now` to the engine.
    fn flush_lines(&mut self) {
        if self.pending_lines == 0 {
            return;
        }
        let count = std::mem::take(&mut self.pending_lines);
        let input = Input::Lines {
            watch: 0,
            count,
            fresh: count,
            at: self.now,
        };
        self.engine.handle(&input, &mut self.out);
        self.collect(self.now);
    }

    /// Plays every rule deadline up to `to`, in order.
    fn advance(&mut self, to: Instant) {
        let mut now = self.now;
        // Bounded: a rule whose deadline does not move after its time was played would
        // otherwise spin here.
        for _ in 0..100_000 {
            let Some(d) = self.engine.deadline(now) else {
                return;
            };
            if d > to {
                return;
            }
            let d = d.max(now);
            let before = self.report.alerts.len();
            self.engine.on_time(d, &mut self.out);
            self.collect(d);
            let stuck = self.report.alerts.len() == before && self.engine.deadline(d) == Some(d);
            if stuck {
                return;
            }
            now = d;
        }
    }

    /// Moves the engine's new alerts into the report, stamped with line time.
    fn collect(&mut self, at: Instant) {
        if self.out.is_empty() {
            return;
        }
        let wall = self.wall(at);
        for mut alert in self.out.drain(..) {
            alert.at = std::time::SystemTime::from(wall);
            self.redactor.redact_alert(&mut alert);
            let s = self
                .report
                .rules
                .entry(format!("{}/{}", alert.watch, alert.rule))
                .or_default();
            match alert.state {
                AlertState::Firing => {
                    s.firing += 1;
                    s.firing_since = Some(wall);
                }
                AlertState::Resolved => {
                    s.resolved += 1;
                    if let Some(since) = s.firing_since.take() {
                        s.firing_for += wall.duration_since(since).try_into().unwrap_or_default();
                    }
                }
                AlertState::Event => s.events += 1,
            }
            self.report.alerts.push(ReplayedAlert { at: wall, alert });
        }
    }

    /// The line time an `Instant` of this replay stands for.
    fn wall(&self, at: Instant) -> Timestamp {
        let origin = self.origin.unwrap_or(Timestamp::UNIX_EPOCH);
        let since = at.saturating_duration_since(self.base);
        jiff::SignedDuration::try_from(since)
            .ok()
            .and_then(|d| origin.checked_add(d).ok())
            .unwrap_or(origin)
    }

    /// Writes what `new-kind` and `anomaly` rules learned from the replayed lines to their
    /// files in `state_dir`, where the daemon reads them at its next start (seeding it with
    /// history). Their learning ends `learn` after the first line, in log time.
    pub fn save_learned(&mut self) {
        self.engine.save_changes();
    }

    /// Ends the replay at the last line's time.
    pub fn finish(mut self) -> ReplayReport {
        self.flush_lines();
        let end = self.wall(self.now);
        if self.origin.is_some() {
            self.report.last = Some(end);
        }
        for s in self.report.rules.values_mut() {
            if let Some(since) = s.firing_since {
                s.firing_for += end.duration_since(since).try_into().unwrap_or_default();
            }
        }
        self.report
    }
}

/// The sink the line reader (through the multi-line assembler) hands lines to.
struct Sink<'a> {
    replay: &'a mut WatchReplay,
    source: Arc<str>,
}

impl LineSink for Sink<'_> {
    fn file_changed(&mut self, _: &FileIdentity) {}

    fn line(&mut self, line: &[u8], flags: LineFlags) {
        let r = &mut *self.replay;
        // Physical lines of a multi-line event are counted by the reader side.
        r.report.lines += 1 + memchr::memchr_iter(b'\n', line).count() as u64;
        let at = r.clock.parse(line);
        r.line_at(at, line, flags.truncated, &self.source);
    }

    fn batch_end(&mut self, _: Option<&FilePosition>) -> bool {
        true
    }
}

/// Merges the reports of several watches (alerts in time order).
pub fn merge(reports: Vec<ReplayReport>) -> ReplayReport {
    let mut all = ReplayReport::default();
    for r in reports {
        all.lines += r.lines;
        all.without_timestamp += r.without_timestamp;
        all.out_of_order += r.out_of_order;
        all.first = match (all.first, r.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        all.last = all.last.max(r.last);
        all.alerts.extend(r.alerts);
        all.rules.extend(r.rules);
    }
    all.alerts.sort_by_key(|a| a.at);
    all
}

/// Renders a report for a person: the alerts, then one line per rule.
pub fn render_human(r: &ReplayReport) -> String {
    let span = match (r.first, r.last) {
        (Some(a), Some(b)) => format!("{a} .. {b}"),
        _ => "no timestamp found".to_string(),
    };
    let mut s = format!(
        "Replayed {} lines ({span}); {} without a timestamp of their own, {} out of order\n\n",
        r.lines, r.without_timestamp, r.out_of_order
    );
    if r.alerts.is_empty() {
        s.push_str("No alert would have fired.\n");
    }
    for a in &r.alerts {
        s.push_str(&format!(
            "{}  {}/{}  {}  {}\n",
            a.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            a.alert.watch,
            a.alert.rule,
            a.alert.state.word().to_uppercase(),
            a.alert.summary
        ));
        if let Some(line) = &a.alert.line {
            let first = line.lines().next().unwrap_or("");
            s.push_str(&format!("    {}\n", clip(first)));
        }
    }
    s.push_str("\nPer rule:\n");
    let width = r.rules.keys().map(String::len).max().unwrap_or(4).max(4);
    s.push_str(&format!(
        "{:<width$}  {:>7}  {:>8}  {:>7}  firing for\n",
        "rule", "firing", "resolved", "events"
    ));
    for (name, x) in &r.rules {
        s.push_str(&format!(
            "{name:<width$}  {:>7}  {:>8}  {:>7}  {}\n",
            x.firing,
            x.resolved,
            x.events,
            crate::config::duration::format_duration(Duration::from_secs(x.firing_for.as_secs()))
        ));
    }
    s
}

fn clip(line: &str) -> String {
    const MAX: usize = 160;
    if line.chars().count() <= MAX {
        return line.to_string();
    }
    let mut s: String = line.chars().take(MAX).collect();
    s.push('…');
    s
}

fn serialize_opt_ts<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(t),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests;
