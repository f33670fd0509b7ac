//! Engine tests: rules driven by constructed `Instant`s, no sleeping.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Engine, Input, MatchedLine};
use crate::config::{RuleConfig, RuleKind, WatchConfig};
use crate::core::alert::Severity;
use crate::core::alert::{Alert, AlertState};
use crate::matcher::pack::{PatternDef, PatternPack};
use crate::matcher::{Matcher, SlotSet};
use crate::source::StartAt;

fn def(name: &str, literals: &[&str]) -> PatternDef {
    PatternDef {
        name: name.into(),
        literals: literals.iter().map(|s| s.to_string()).collect(),
        regexes: vec![],
        ignore: vec![],
        ignore_regexes: vec![],
        case_sensitive: true,
        conditions: vec![],
    }
}

/// error = "ERROR", activity = "Update", critical = "CRITICAL" (slots 0, 1, 2).
fn pack() -> PatternPack {
    PatternPack {
        name: "test".into(),
        origin: "t".into(),
        patterns: vec![
            def("error", &["ERROR"]),
            def("activity", &["Update"]),
            def("critical", &["CRITICAL"]),
        ],
    }
}

fn rule(name: &str, kind: RuleKind) -> RuleConfig {
    RuleConfig {
        name: name.into(),
        severity: Severity::Critical,
        kind,
        then_restart: false,
        apart: false,
        schedule: None,
    }
}

fn watch(name: &str, packs: Vec<PatternPack>, rules: Vec<RuleConfig>) -> WatchConfig {
    WatchConfig {
        name: name.into(),
        unit: Some(format!("{name}.service")),
        files: vec![format!("/var/log/{name}.log").into()],
        packs,
        notify: vec!["console".into()],
        start_at: StartAt::End,
        max_line_bytes: 64 * 1024,
        olddir: None,
        timestamp_format: Default::default(),
        structure: Default::default(),
        multiline: crate::source::multiline::MultilineRule {
            grouping: crate::source::multiline::Grouping::None,
            timeout: Duration::from_millis(300),
            max_lines: 500,
            max_bytes: 256 * 1024,
        },
        journal: None,
        restart: None,
        probes: Vec::new(),
        rules,
    }
}

fn telemetry(watches: &[WatchConfig]) -> std::sync::Arc<crate::telemetry::Telemetry> {
    let config = crate::config::Config {
        daemon: crate::config::DaemonConfig {
            state_dir: "/nonexistent".into(),
            patterns_dir: "/nonexistent".into(),
            poll_interval: Duration::from_secs(1),
            listen: None,
            http: Default::default(),
            heartbeat: None,
        },
        watches: watches.to_vec(),
        channels: Default::default(),
        alerts: Default::default(),
        files_read: Vec::new(),
    };
    crate::telemetry::Telemetry::new(&config)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn rate(threshold: u64, resolve_below: u64, window: u64) -> RuleKind {
    RuleKind::Rate {
        pattern: "error".into(),
        threshold,
        resolve_below,
        window: secs(window),
    }
}

/// An engine over some watches, started at `t0`, fed lines as a source would feed them.
struct Harness {
    engine: Engine,
    matchers: Vec<Arc<Matcher>>,
    t0: Instant,
}

impl Harness {
    fn new(watches: Vec<WatchConfig>) -> Harness {
        let matchers: Vec<Arc<Matcher>> = watches
            .iter()
            .map(|w| Arc::new(Matcher::build(&w.packs).unwrap()))
            .collect();
        let t0 = Instant::now();
        let engine = Engine::new(&watches, &matchers, t0, telemetry(&watches));
        Harness {
            engine,
            matchers,
            t0,
        }
    }

    fn one(rules: Vec<RuleConfig>) -> Harness {
        Harness::new(vec![watch("bot", vec![pack()], rules)])
    }

    fn at(&self, s: u64) -> Instant {
        self.t0 + secs(s)
    }

    fn at_ms(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// One line read by watch `w` at `at`: matched with the watch's matcher, sent as the
    /// pipeline does (the matched line if it matched, then the batch count).
    fn line_to(&mut self, w: usize, at: Instant, text: &str) -> Vec<Alert> {
        let m = self.matchers[w].clone();
        let slots = m.match_line(text.as_bytes(), &mut m.scratch()).slots;
        let mut out = Vec::new();
        if slots != 0 {
            self.engine.handle(&matched(w, at, slots, text), &mut out);
        }
        self.engine.handle(
            &Input::Lines {
                watch: w,
                count: 1,
                fresh: 1,
                at,
            },
            &mut out,
        );
        out
    }

    fn line(&mut self, s: u64, text: &str) -> Vec<Alert> {
        let at = self.at(s);
        self.line_to(0, at, text)
    }

    fn tick(&mut self, now: Instant) -> Vec<Alert> {
        let mut out = Vec::new();
        self.engine.on_time(now, &mut out);
        out
    }

    fn tick_s(&mut self, s: u64) -> Vec<Alert> {
        self.tick(self.at(s))
    }

    fn slot(&self, w: usize, name: &str) -> SlotSet {
        1 << self.matchers[w].slot(name).unwrap()
    }
}

fn matched(watch: usize, at: Instant, slots: SlotSet, text: &str) -> Input {
    Input::Matched(Box::new(MatchedLine {
        watch,
        at,
        slots,
        line: text.into(),
        context: Vec::new(),
        source: Arc::from("/var/log/bot.log"),
        written: None,
    }))
}

fn states(alerts: &[Alert]) -> Vec<(&str, AlertState)> {
    alerts.iter().map(|a| (a.rule.as_str(), a.state)).collect()
}

const ERR: &str = "2026-11-23 09:41:42,123 - bot.broker - ERROR - socket timeout";

// ---------------------------------------------------------------- rate

#[test]
fn rate_fires_exactly_once_for_a_burst_not_on_every_further_line() {
    let mut h = Harness::one(vec![rule("burst", rate(3, 4, 10))]);
    for s in 0..3 {
        assert!(h.line(s, ERR).is_empty(), "3 matches are not above 3");
    }
    let fired = h.line(3, ERR);
    assert_eq!(states(&fired), vec![("burst", AlertState::Firing)]);
    let a = &fired[0];
    assert_eq!(a.watch, "bot");
    assert_eq!(a.unit.as_deref(), Some("bot.service"));
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.line.as_deref(), Some(ERR));
    assert_eq!(a.source.as_deref(), Some("/var/log/bot.log"));
    assert!(a.summary.contains("4 matches"), "{}", a.summary);
    assert!(a.summary.contains("threshold 3"), "{}", a.summary);
    for s in 4..9 {
        assert!(h.line(s, ERR).is_empty(), "no second firing at {s}s");
        assert!(h.tick_s(s).is_empty(), "still firing at {s}s");
    }
}

#[test]
fn rate_resolves_once_when_the_count_falls_below_resolve_below() {
    let mut h = Harness::one(vec![rule("burst", rate(3, 4, 10))]);
    for s in 0..4 {
        h.line(s, ERR);
    }
    // Resolves below 4: when the match at 0s leaves the 10s window.
    assert_eq!(h.engine.deadline(h.at(4)), Some(h.at(10)));
    assert!(h.tick(h.at_ms(9_999)).is_empty());
    let resolved = h.tick_s(10);
    assert_eq!(states(&resolved), vec![("burst", AlertState::Resolved)]);
    assert!(
        resolved[0].summary.contains("3 matches"),
        "{}",
        resolved[0].summary
    );
    assert!(resolved[0].line.is_none());
    for s in [11, 12, 13, 14, 60] {
        assert!(h.tick_s(s).is_empty(), "resolved only once ({s}s)");
    }
    assert_eq!(h.engine.deadline(h.at(60)), None);
}

#[test]
fn rate_hovering_between_resolve_below_and_threshold_does_not_flap() {
    // Fires above 5 in 10s, resolves below 2.
    let mut h = Harness::one(vec![rule("burst", rate(5, 2, 10))]);
    let mut seen = Vec::new();
    for s in 0..6 {
        seen.extend(h.line(s, ERR).into_iter().map(|a| (s, a.state)));
    }
    assert_eq!(seen, vec![(5, AlertState::Firing)]);
    seen.clear();
    // Then one match every 4s: 2 or 3 in any 10s window, between resolve_below and threshold.
    for s in 6..=120 {
        if s % 4 == 2 {
            seen.extend(h.line(s, ERR).into_iter().map(|a| (s, a.state)));
        }
        seen.extend(h.tick_s(s).into_iter().map(|a| (s, a.state)));
    }
    assert_eq!(seen, vec![], "no flapping while the rate hovers");
    // The last matches were at 114s and 118s: the count falls below 2 at 124s.
    for s in 121..200 {
        seen.extend(h.tick_s(s).into_iter().map(|a| (s, a.state)));
    }
    assert_eq!(seen, vec![(124, AlertState::Resolved)]);
}

#[test]
fn rate_hovering_below_the_threshold_after_resolving_does_not_fire_again() {
    let mut h = Harness::one(vec![rule("burst", rate(5, 2, 10))]);
    for s in 0..6 {
        h.line(s, ERR);
    }
    assert_eq!(states(&h.tick_s(15)), vec![("burst", AlertState::Resolved)]);
    let mut seen = Vec::new();
    for s in 16..100 {
        if s % 3 == 0 {
            seen.extend(h.line(s, ERR));
        }
        seen.extend(h.tick_s(s));
    }
    assert!(seen.is_empty(), "{:?}", states(&seen));
}

#[test]
fn rate_fires_again_after_resolving_when_a_new_burst_comes() {
    let mut h = Harness::one(vec![rule("burst", rate(2, 3, 10))]);
    let mut seen = Vec::new();
    for s in [0, 1, 2] {
        seen.extend(h.line(s, ERR).into_iter().map(|a| (s, a.state)));
    }
    for s in 3..40 {
        seen.extend(h.tick_s(s).into_iter().map(|a| (s, a.state)));
    }
    for s in [40, 41, 42, 43] {
        seen.extend(h.line(s, ERR).into_iter().map(|a| (s, a.state)));
    }
    for s in 43..60 {
        seen.extend(h.tick_s(s).into_iter().map(|a| (s, a.state)));
    }
    assert_eq!(
        seen,
        vec![
            (2, AlertState::Firing),
            (10, AlertState::Resolved),
            (42, AlertState::Firing),
            (51, AlertState::Resolved),
        ]
    );
}

#[test]
fn rate_deadline_is_none_until_firing_then_when_the_oldest_match_leaves_the_window() {
    let mut h = Harness::one(vec![rule("burst", rate(2, 1, 10))]);
    assert_eq!(h.engine.deadline(h.t0), None, "nothing to wait for");
    h.line(0, ERR);
    h.line(4, ERR);
    assert_eq!(h.engine.deadline(h.at(4)), None, "not firing: no deadline");
    h.line(6, ERR);
    assert_eq!(h.engine.deadline(h.at(6)), Some(h.at(10)));
    assert!(h.tick_s(10).is_empty(), "2 left, resolves below 1");
    assert_eq!(h.engine.deadline(h.at(10)), Some(h.at(14)));
    assert!(h.tick_s(14).is_empty());
    assert_eq!(h.engine.deadline(h.at(14)), Some(h.at(16)));
    assert_eq!(states(&h.tick_s(16)), vec![("burst", AlertState::Resolved)]);
    assert_eq!(h.engine.deadline(h.at(16)), None);
}

// ---------------------------------------------------------------- stale

fn stale(after: u64) -> RuleConfig {
    rule("stale", RuleKind::Stale { after: secs(after) })
}

#[test]
fn stale_fires_after_the_limit_from_start_when_no_line_ever_arrives() {
    let mut h = Harness::one(vec![stale(30)]);
    assert_eq!(h.engine.deadline(h.t0), Some(h.at(30)));
    assert!(h.tick(h.at_ms(29_999)).is_empty());
    let fired = h.tick_s(30);
    assert_eq!(states(&fired), vec![("stale", AlertState::Firing)]);
    assert!(
        fired[0].summary.contains("since logwarden started"),
        "{}",
        fired[0].summary
    );
}

#[test]
fn stale_does_not_fire_twice() {
    let mut h = Harness::one(vec![stale(30)]);
    assert_eq!(h.tick_s(31).len(), 1);
    assert_eq!(
        h.engine.deadline(h.at(31)),
        None,
        "firing: nothing to wait for"
    );
    for s in [32, 60, 61, 3600] {
        assert!(h.tick_s(s).is_empty(), "fired again at {s}s");
    }
}

#[test]
fn stale_resolves_once_when_lines_resume_and_counts_from_the_last_line() {
    let mut h = Harness::one(vec![stale(30)]);
    assert_eq!(h.tick_s(30).len(), 1);
    let resolved = h.line(100, "INFO - no signal, waiting");
    assert_eq!(states(&resolved), vec![("stale", AlertState::Resolved)]);
    assert!(
        resolved[0].summary.contains("1m40s"),
        "{}",
        resolved[0].summary
    );
    assert!(h.line(101, "INFO - still here").is_empty());
    assert_eq!(h.engine.deadline(h.at(101)), Some(h.at(131)));
    assert!(h.tick_s(130).is_empty());
    let fired = h.tick_s(131);
    assert_eq!(states(&fired), vec![("stale", AlertState::Firing)]);
    assert!(
        fired[0].summary.contains("no new line"),
        "{}",
        fired[0].summary
    );
}

#[test]
fn stale_is_kept_quiet_by_lines_that_match_nothing() {
    let mut h = Harness::one(vec![stale(30)]);
    for s in (0..300).step_by(20) {
        h.line(s, "INFO - no signal, waiting");
        assert!(h.tick_s(s + 19).is_empty());
    }
}

#[test]
fn a_sources_last_write_counts_for_stale_but_ends_no_other_sources_catch_up() {
    let mut h = Harness::one(vec![stale(30)]);
    let read = h.at(100);
    // One source catches up on lines written a minute ago: the rule holds its judgement.
    assert!(h
        .backlog_line(read, read - secs(60), "INFO - old")
        .is_empty());
    // Another source had nothing new; its file was last written 50 s ago.
    let mut out = Vec::new();
    h.engine.handle(
        &Input::LastWritten {
            watch: 0,
            written: h.wall(read - secs(50)),
            at: read,
        },
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    assert!(
        h.tick(read).is_empty(),
        "still catching up: no judgement yet"
    );
    // The catch-up ends: the silence counts from the newest known write, 50 s ago.
    let fired = h.caught_up(read, Some(read - secs(60)));
    let fired = if fired.is_empty() {
        h.tick(read)
    } else {
        fired
    };
    assert_eq!(states(&fired), vec![("stale", AlertState::Firing)]);
    assert!(fired[0].summary.contains("50s"), "{}", fired[0].summary);
}

// ---------------------------------------------------------------- absent

fn absent(min: u64, window: u64) -> RuleConfig {
    rule(
        "no-activity",
        RuleKind::Absent {
            pattern: "activity".into(),
            min,
            window: secs(window),
        },
    )
}

const UPDATE: &str = "2026-11-23 09:41:42,123 - bot.market - INFO - Update VIX=17.20";

#[test]
fn absent_catches_a_bot_that_never_logs_its_first_update() {
    let mut h = Harness::one(vec![absent(1, 60)]);
    assert_eq!(h.engine.deadline(h.t0), Some(h.at(60)));
    // Lines come, but none is activity.
    for s in (0..60).step_by(5) {
        assert!(h.line(s, "INFO - connecting to broker").is_empty());
        assert!(h.line(s, ERR).is_empty());
        assert!(h.tick_s(s).is_empty(), "fired before start + window ({s}s)");
    }
    assert!(h.tick(h.at_ms(59_999)).is_empty());
    let fired = h.tick_s(60);
    assert_eq!(states(&fired), vec![("no-activity", AlertState::Firing)]);
    assert!(
        fired[0].summary.contains("0 matches"),
        "{}",
        fired[0].summary
    );
    assert_eq!(h.engine.deadline(h.at(60)), None);
    assert!(
        h.tick_s(61).is_empty() && h.tick_s(600).is_empty(),
        "fired twice"
    );
}

#[test]
fn absent_does_not_fire_before_start_plus_window_and_counts_from_the_last_match() {
    let mut h = Harness::one(vec![absent(1, 60)]);
    h.line(5, UPDATE);
    assert_eq!(h.engine.deadline(h.at(5)), Some(h.at(65)));
    assert!(
        h.tick_s(60).is_empty(),
        "a match 55s ago is within the window"
    );
    assert!(h.tick_s(64).is_empty());
    assert_eq!(
        states(&h.tick_s(65)),
        vec![("no-activity", AlertState::Firing)]
    );
}

#[test]
fn absent_resolves_when_the_pattern_returns_and_fires_again_when_it_stops() {
    let mut h = Harness::one(vec![absent(1, 60)]);
    assert_eq!(h.tick_s(60).len(), 1);
    let resolved = h.line(90, UPDATE);
    assert_eq!(
        states(&resolved),
        vec![("no-activity", AlertState::Resolved)]
    );
    assert_eq!(resolved[0].line.as_deref(), Some(UPDATE));
    assert!(h.line(91, UPDATE).is_empty(), "resolved only once");
    assert_eq!(h.engine.deadline(h.at(91)), Some(h.at(151)));
    assert!(h.tick_s(150).is_empty());
    assert_eq!(
        states(&h.tick_s(151)),
        vec![("no-activity", AlertState::Firing)]
    );
}

#[test]
fn absent_with_min_needs_that_many_matches_in_the_window() {
    let mut h = Harness::one(vec![absent(3, 60)]);
    h.line(10, UPDATE);
    h.line(20, UPDATE);
    assert_eq!(h.engine.deadline(h.at(20)), Some(h.at(60)));
    assert_eq!(
        states(&h.tick_s(60)),
        vec![("no-activity", AlertState::Firing)]
    );
    // At 75s the one at 10s has left the window: 20s and 75s are only 2.
    assert!(h.line(75, UPDATE).is_empty());
    assert_eq!(
        states(&h.line(76, UPDATE)),
        vec![("no-activity", AlertState::Resolved)]
    );
    // The last three are at 20s, 75s, 76s: fewer than 3 once the one at 20s leaves.
    assert_eq!(h.engine.deadline(h.at(76)), Some(h.at(80)));
    assert!(h.tick_s(79).is_empty());
    assert_eq!(
        states(&h.tick_s(80)),
        vec![("no-activity", AlertState::Firing)]
    );
}

// ---------------------------------------------------------------- match

fn match_rule(cooldown: u64) -> RuleConfig {
    rule(
        "critical-line",
        RuleKind::Match {
            pattern: "critical".into(),
            cooldown: secs(cooldown),
        },
    )
}

fn crit(n: u32) -> String {
    format!("2026-11-23 09:41:42,123 - bot.main - CRITICAL - order rejected #{n}")
}

#[test]
fn match_emits_an_event_for_a_matching_line() {
    let mut h = Harness::one(vec![match_rule(60)]);
    assert_eq!(h.engine.deadline(h.t0), None);
    let ev = h.line(0, &crit(1));
    assert_eq!(states(&ev), vec![("critical-line", AlertState::Event)]);
    assert_eq!(ev[0].line.as_deref(), Some(crit(1).as_str()));
    assert_eq!(ev[0].source.as_deref(), Some("/var/log/bot.log"));
    assert_eq!(h.engine.deadline(h.at(0)), None, "nothing held back");
    assert!(h.tick_s(600).is_empty());
}

#[test]
fn match_holds_back_repeats_within_cooldown_and_sends_one_summary_quoting_the_last() {
    let mut h = Harness::one(vec![match_rule(60)]);
    assert_eq!(h.line(0, &crit(1)).len(), 1);
    for (n, s) in [(2, 10), (3, 20), (4, 30)] {
        assert!(h.line(s, &crit(n)).is_empty(), "repeat {n} not held back");
    }
    assert_eq!(h.engine.deadline(h.at(30)), Some(h.at(60)));
    assert!(h.tick(h.at_ms(59_999)).is_empty());
    let summary = h.tick_s(60);
    assert_eq!(states(&summary), vec![("critical-line", AlertState::Event)]);
    assert_eq!(summary[0].line.as_deref(), Some(crit(4).as_str()));
    assert!(
        summary[0].summary.contains("3 more lines"),
        "{}",
        summary[0].summary
    );
    assert_eq!(h.engine.deadline(h.at(60)), None);
    assert!(
        h.tick_s(61).is_empty() && h.tick_s(500).is_empty(),
        "summary sent twice"
    );
    // Long after: a new line is an event of its own again.
    let ev = h.line(1000, &crit(5));
    assert_eq!(states(&ev), vec![("critical-line", AlertState::Event)]);
    assert_eq!(ev[0].line.as_deref(), Some(crit(5).as_str()));
}

// ---------------------------------------------------------------- deadline, routing

#[test]
fn deadline_is_the_earliest_of_all_rules() {
    let mut h = Harness::one(vec![
        rule("burst", rate(0, 1, 5)),
        stale(30),
        absent(1, 20),
        match_rule(8),
    ]);
    assert_eq!(
        h.engine.deadline(h.t0),
        Some(h.at(20)),
        "absent at start + 20s"
    );
    // At 3s: the critical line fires the match rule; an ERROR fires the rate rule.
    h.line(3, &crit(1));
    h.line(3, ERR);
    assert_eq!(
        h.engine.deadline(h.at(3)),
        Some(h.at(8)),
        "rate: error leaves at 8s"
    );
    h.line(4, &crit(2));
    assert_eq!(h.engine.deadline(h.at(4)), Some(h.at(8)));
    assert_eq!(states(&h.tick_s(8)), vec![("burst", AlertState::Resolved)]);
    assert_eq!(
        h.engine.deadline(h.at(8)),
        Some(h.at(11)),
        "match cooldown ends at 11s"
    );
    assert_eq!(
        states(&h.tick_s(11)),
        vec![("critical-line", AlertState::Event)]
    );
    assert_eq!(h.engine.deadline(h.at(11)), Some(h.at(20)));
    h.line(12, UPDATE);
    assert_eq!(
        h.engine.deadline(h.at(12)),
        Some(h.at(32)),
        "absent 12s + 20s"
    );
    // The stale rule counts from the last line (12s): 42s, after absent's 32s.
    assert_eq!(
        states(&h.tick_s(32)),
        vec![("no-activity", AlertState::Firing)]
    );
    assert_eq!(h.engine.deadline(h.at(32)), Some(h.at(42)));
    assert_eq!(states(&h.tick_s(42)), vec![("stale", AlertState::Firing)]);
    assert_eq!(h.engine.deadline(h.at(42)), None);
}

#[test]
fn rules_only_react_to_lines_of_their_own_pattern_slot() {
    let mut h = Harness::one(vec![rule("burst", rate(0, 1, 10)), match_rule(60)]);
    let (error, activity, critical) = (
        h.slot(0, "error"),
        h.slot(0, "activity"),
        h.slot(0, "critical"),
    );
    let mut out = Vec::new();
    h.engine
        .handle(&matched(0, h.t0, activity, UPDATE), &mut out);
    assert!(out.is_empty(), "activity is nobody's pattern here");
    h.engine.handle(&matched(0, h.t0, critical, "x"), &mut out);
    assert_eq!(states(&out), vec![("critical-line", AlertState::Event)]);
    out.clear();
    h.engine.handle(&matched(0, h.at(1), error, "y"), &mut out);
    assert_eq!(states(&out), vec![("burst", AlertState::Firing)]);
    out.clear();
    // A line with several slots reaches every rule of those slots.
    let mut h = Harness::one(vec![rule("burst", rate(0, 1, 10)), match_rule(60)]);
    let both = "CRITICAL - ERROR everywhere";
    let alerts = h.line(0, both);
    assert_eq!(
        states(&alerts),
        vec![
            ("burst", AlertState::Firing),
            ("critical-line", AlertState::Event)
        ]
    );
}

#[test]
fn rules_only_react_to_lines_of_their_own_watch() {
    // The second watch lists its patterns in another order: its slot numbers differ.
    let reversed = PatternPack {
        name: "reversed".into(),
        origin: "t".into(),
        patterns: pack().patterns.into_iter().rev().collect(),
    };
    let rules = || vec![rule("burst", rate(0, 1, 10)), stale(30)];
    let mut h = Harness::new(vec![
        watch("alpha", vec![pack()], rules()),
        watch("beta", vec![reversed], rules()),
    ]);
    assert_ne!(h.slot(0, "error"), h.slot(1, "error"));
    let at = h.at(1);
    let fired = h.line_to(1, at, ERR);
    assert_eq!(fired.len(), 1);
    assert_eq!(
        (fired[0].watch.as_str(), fired[0].rule.as_str()),
        ("beta", "burst")
    );
    assert_eq!(fired[0].unit.as_deref(), Some("beta.service"));
    // Beta's line kept beta fresh, not alpha; beta's burst resolves, alpha's never fired.
    let later: Vec<_> = h
        .tick_s(30)
        .into_iter()
        .map(|a| (a.watch, a.rule, a.state))
        .collect();
    assert_eq!(
        later,
        vec![
            ("alpha".into(), "stale".into(), AlertState::Firing),
            ("beta".into(), "burst".into(), AlertState::Resolved),
        ]
    );
    // Input for a watch that does not exist is ignored.
    let mut out = Vec::new();
    h.engine.handle(&matched(7, at, u64::MAX, ERR), &mut out);
    h.engine.handle(
        &Input::Lines {
            watch: 7,
            count: 3,
            fresh: 3,
            at,
        },
        &mut out,
    );
    assert!(out.is_empty());
}

// ---------------------------------------------------------------- learning rules, saved

fn new_kind(state_file: &std::path::Path) -> RuleConfig {
    rule(
        "new-errors",
        RuleKind::NewKind {
            pattern: "error".into(),
            learn: secs(60),
            max_templates: 100,
            header: None,
            state_file: state_file.to_path_buf(),
        },
    )
}

#[test]
fn what_a_new_kind_rule_learned_is_saved_and_loaded_by_the_next_engine() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules/bot/new-errors.json");
    let mut h = Harness::one(vec![new_kind(&file)]);
    assert!(h.line(1, "ERROR order 1 failed: ValueError").is_empty());
    let fired = h.line(61, "ERROR order 2 failed: KeyError");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].state, AlertState::Event);
    h.engine.save_changes();
    assert!(file.exists());

    // A restarted logwarden (the wall clock has not moved: its learning still ends 60 s
    // after the first start, not 60 s after this one); both kinds are known.
    let mut again = Harness::one(vec![new_kind(&file)]);
    again.engine.load_saved();
    assert!(again.line(61, "ERROR order 7 failed: KeyError").is_empty());
    assert!(again
        .line(62, "ERROR order 8 failed: ValueError")
        .is_empty());
    assert_eq!(again.line(63, "ERROR order 9 failed: OSError").len(), 1);

    // A corrupt file is reported and learning starts over: nothing fires while learning.
    std::fs::write(&file, b"{not json").unwrap();
    let mut fresh = Harness::one(vec![new_kind(&file)]);
    fresh.engine.load_saved();
    assert!(fresh.line(30, "ERROR order 9 failed: OSError").is_empty());
}

#[test]
fn a_running_engine_forgets_the_kind_logwarden_kinds_asked_it_to() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules/bot/new-errors.json");
    let mut h = Harness::one(vec![new_kind(&file)]);
    assert!(h.line(1, "ERROR order 1 failed: KeyError").is_empty());
    h.engine.save_changes();
    let saved: crate::rules::new_kind::Saved = crate::rules::store::read(&file).unwrap().unwrap();
    let id = saved.templates[0].id;
    // What `logwarden kinds --forget ID` leaves for a running daemon.
    crate::rules::store::request_forget(&file, id).unwrap();
    h.engine.save_changes();
    assert!(
        !file.with_extension("forget").exists(),
        "the request is taken"
    );
    let saved: crate::rules::new_kind::Saved = crate::rules::store::read(&file).unwrap().unwrap();
    assert!(saved.templates.is_empty(), "{:?}", saved.templates);
    // After learning, the forgotten kind is new again.
    assert_eq!(h.line(61, "ERROR order 2 failed: KeyError").len(), 1);
}

// ---------------------------------------------------------------- schedules on probes

#[test]
fn a_probe_down_outside_its_schedule_fires_when_the_schedule_opens() {
    let schedule =
        crate::config::schedule::Schedule::parse("Mon-Fri 09:30-16:00 UTC", Default::default())
            .unwrap();
    let mut w = watch("bot", vec![pack()], vec![]);
    w.probes.push(crate::config::ProbeConfig {
        name: "api".into(),
        kind: crate::config::ProbeKind::Memory {
            warning: 80.0,
            critical: 90.0,
        },
        every: secs(60),
        timeout: secs(10),
        failures: 1,
        severity: Severity::Critical,
        then_restart: false,
        apart: false,
        schedule: Some(Arc::new(schedule)),
    });
    let mut h = Harness::new(vec![w]);
    // Saturday noon, in engine time "now" (probe verdicts are judged at Instant::now()).
    let now = Instant::now();
    h.engine
        .set_wall_clock(now, "2026-11-28T12:00:00Z".parse().unwrap());
    let mut out = Vec::new();
    let down = Input::Probe {
        watch: 0,
        probe: 0,
        healthy: false,
        level: None,
        detail: "HTTP 502".into(),
    };
    h.engine.handle(&down, &mut out);
    assert!(out.is_empty(), "closed at the weekend: {out:?}");
    // The engine's next deadline is Monday's open, 45.5 hours later.
    let open = now + secs(45 * 3600 + 1800);
    assert_eq!(h.engine.deadline(now), Some(open));
    h.engine.on_time(open, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].state, AlertState::Firing);
    assert_eq!(out[0].summary, "HTTP 502");
}

// ---- Backlogs: lines read after downtime carry the time they were written ----

impl Harness {
    /// The wall time of engine instant `at` (the engine's clock anchors `t0` at its start).
    fn wall(&self, at: Instant) -> std::time::SystemTime {
        std::time::SystemTime::from(self.engine.clock.wall(at))
    }

    /// One backlog line read at `read`, written at `written`, sent as a feed sends it.
    fn backlog_line(&mut self, read: Instant, written: Instant, text: &str) -> Vec<Alert> {
        let m = self.matchers[0].clone();
        let slots = m.match_line(text.as_bytes(), &mut m.scratch()).slots;
        let written = self.wall(written);
        let mut out = Vec::new();
        if slots != 0 {
            let Input::Matched(mut ml) = matched(0, read, slots, text) else {
                unreachable!()
            };
            ml.written = Some(written);
            self.engine.handle(&Input::Matched(ml), &mut out);
        }
        for input in [
            Input::Lines {
                watch: 0,
                count: 1,
                fresh: 0,
                at: read,
            },
            Input::Backlog {
                watch: 0,
                written,
                at: read,
            },
        ] {
            self.engine.handle(&input, &mut out);
        }
        out
    }

    fn caught_up(&mut self, at: Instant, written: Option<Instant>) -> Vec<Alert> {
        let written = written.map(|w| self.wall(w));
        let mut out = Vec::new();
        self.engine.handle(
            &Input::CaughtUp {
                watch: 0,
                written,
                at,
            },
            &mut out,
        );
        out
    }
}

const DAY: u64 = 86_400;

#[test]
fn a_backlog_burst_written_within_a_minute_yesterday_fires_marked_and_resolves_when_caught_up() {
    let mut h = Harness::one(vec![rule("error-burst", rate(20, 5, 60))]);
    // Started now (t0 + 100 s: the engine's clock anchors t0 at the real now); reads 50
    // errors written yesterday within 50 s.
    let read = h.at(100);
    let yesterday = read - secs(DAY);
    let mut out = Vec::new();
    for i in 0..50 {
        out.extend(h.backlog_line(read, yesterday + secs(i), "ERROR order rejected"));
    }
    assert_eq!(states(&out), [("error-burst", AlertState::Firing)]);
    let written = out[0].written.expect("marked as from the backlog");
    let want = h.wall(yesterday + secs(20));
    let off = written
        .duration_since(want)
        .unwrap_or_else(|e| e.duration());
    assert!(
        off < Duration::from_millis(5),
        "written at the 21st line's time"
    );
    // Not resolved in the middle of the catch-up ...
    assert!(h.tick(read).is_empty());
    assert_eq!(
        h.engine.deadline(read),
        None,
        "the hold ends with the catch-up"
    );
    // ... but as soon as it is over: yesterday's window is long past.
    assert!(h.caught_up(read, Some(yesterday + secs(49))).is_empty());
    assert_eq!(
        states(&h.tick(read)),
        [("error-burst", AlertState::Resolved)]
    );
}

#[test]
fn backlog_errors_spread_over_yesterday_are_no_burst() {
    let mut h = Harness::one(vec![rule("error-burst", rate(20, 5, 60))]);
    let read = h.at(100);
    let yesterday = read - secs(DAY);
    let mut out = Vec::new();
    for i in 0..50 {
        // One every ten minutes.
        out.extend(h.backlog_line(read, yesterday + secs(600 * i), "ERROR order rejected"));
    }
    out.extend(h.caught_up(read, Some(yesterday + secs(600 * 49))));
    out.extend(h.tick(read));
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_backlog_does_not_add_to_the_live_window() {
    let mut h = Harness::one(vec![rule("error-burst", rate(20, 5, 60))]);
    let read = h.at(100);
    for i in 0..15 {
        assert!(h
            .backlog_line(read, read - secs(DAY) + secs(i), "ERROR old")
            .is_empty());
    }
    h.caught_up(read, None);
    // 15 old + 10 new would pass the threshold of 20 if the old counted now.
    let mut out = Vec::new();
    for i in 0..10 {
        out.extend(h.line(101 + i, "ERROR new"));
    }
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn stale_fires_as_soon_as_a_catch_up_shows_the_log_silent_for_two_hours() {
    let mut h = Harness::one(vec![stale(300)]);
    let read = h.at(1);
    let two_hours_ago = read - secs(7200);
    h.backlog_line(read, two_hours_ago, "INFO last words");
    // While the catch-up goes on, nothing is judged yet.
    assert!(h.tick(h.at(2)).is_empty());
    assert!(h.caught_up(h.at(2), Some(two_hours_ago)).is_empty());
    let out = h.tick(h.at(2));
    assert_eq!(states(&out), [("stale", AlertState::Firing)]);
    assert!(out[0].summary.contains("2h"), "{}", out[0].summary);
    assert_eq!(out[0].written, None, "the silence is now, not old news");
}

#[test]
fn stale_does_not_fire_in_the_middle_of_a_catch_up_of_old_lines() {
    let mut h = Harness::one(vec![stale(300)]);
    // A long catch-up: old lines for 400 s, then a line written just now.
    for s in 0..400 {
        let out = h.backlog_line(h.at(s), h.at(s) - secs(3 * 3600), "INFO old");
        assert!(out.is_empty(), "at {s}: {out:?}");
        assert!(h.tick(h.at(s)).is_empty(), "at {s}");
    }
    h.backlog_line(h.at(400), h.at(399), "INFO recent");
    h.caught_up(h.at(400), Some(h.at(399)));
    assert!(h.tick(h.at(401)).is_empty());
    assert_eq!(states(&h.tick(h.at(700))), [("stale", AlertState::Firing)]);
}

#[test]
fn a_stalled_catch_up_does_not_hold_stale_forever() {
    let mut h = Harness::one(vec![stale(300)]);
    h.backlog_line(h.at(1), h.at(1) - secs(3600), "INFO old");
    assert!(h.tick(h.at(300)).is_empty());
    assert_eq!(states(&h.tick(h.at(301))), [("stale", AlertState::Firing)]);
}

#[test]
fn yesterdays_activity_in_a_backlog_does_not_satisfy_absent() {
    let mut h = Harness::one(vec![rule(
        "activity",
        RuleKind::Absent {
            pattern: "activity".into(),
            min: 1,
            window: secs(60),
        },
    )]);
    let read = h.at(1);
    h.backlog_line(read, read - secs(DAY), "Update positions");
    h.caught_up(read, Some(read - secs(DAY)));
    assert_eq!(states(&h.tick_s(60)), [("activity", AlertState::Firing)]);
    // A backlog line written 10 s ago (a journal that fell behind) is recent activity.
    let read = h.at(70);
    let out = h.backlog_line(read, read - secs(10), "Update positions");
    assert_eq!(states(&out), [("activity", AlertState::Resolved)]);
}
