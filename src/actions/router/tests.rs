//! The router's tests: spool reconciliation after a crash, reminders, carried alerts.

use super::*;
use crate::actions::notification::VERSION;
use crate::config::ChannelConfig;
use crate::core::alert::Severity;
use crate::source::{FileIdentity, FilePosition};

fn config(dir: &std::path::Path) -> Config {
    // Channels that hold what they get for a minute: the spool can be looked at.
    let holding = ChannelConfig {
        group_wait: Duration::from_secs(60),
        ..ChannelConfig::console()
    };
    let mut channels = BTreeMap::new();
    channels.insert("console".to_string(), holding.clone());
    channels.insert("second".to_string(), holding);
    Config {
        daemon: crate::config::DaemonConfig {
            state_dir: dir.into(),
            patterns_dir: dir.into(),
            poll_interval: Duration::from_secs(1),
            listen: None,
            http: Default::default(),
            heartbeat: None,
        },
        watches: Vec::new(),
        channels,
        alerts: Default::default(),
        files_read: Vec::new(),
    }
}

fn at(offset: u64) -> Position {
    Position::File(FilePosition {
        path: "/var/log/bot.log".into(),
        id: FileIdentity {
            dev: 1,
            ino: 2,
            head_len: 10,
            checksum: 3,
        },
        offset,
        len: 0,
        mtime_ns: 0,
        born_ns: 0,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_crash_between_spool_and_checkpoint_resumes_past_the_line_and_repairs_siblings() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    // What a crash left: the alert's console copy spooled with its position, the copy for
    // "second" not yet renamed into place, the checkpoint still before the line.
    let spool = Spool::new(dir.path());
    let n = Notification {
        version: VERSION,
        id: next_id(),
        channel: "console".into(),
        kind: Kind::Notice,
        alert: Alert::new(
            "bot",
            "burst",
            Severity::Critical,
            AlertState::Event,
            "s".into(),
        ),
        host: "h".into(),
        since_ms: None,
        rerouted: None,
        origin: 7,
        siblings: vec!["console".into(), "second".into()],
        position: Some(at(100)),
        thread: None,
    };
    spool.write(&n).unwrap();
    let (_trigger, shutdown) = crate::core::shutdown::channel();
    let telemetry = Telemetry::new(&cfg);
    let mut router = Router::start(&cfg, LogFormat::Json, telemetry, shutdown).unwrap();
    let mut saved = BTreeMap::new();
    saved.insert("/var/log/bot.log".to_string(), at(50));
    let ahead = router.reconcile_spool(&saved);
    assert_eq!(ahead, vec![at(100)]);
    let channels: Vec<String> = spool.load().into_iter().map(|n| n.channel).collect();
    assert!(channels.contains(&"second".to_string()), "{channels:?}");

    // A checkpoint at or past the line: nothing to do (the sibling was delivered).
    saved.insert("/var/log/bot.log".to_string(), at(100));
    assert!(!at(100).is_past(saved.get("/var/log/bot.log")));
}

/// An alert spooled for a channel that is down, then a copytruncate: the same inode now
/// holds new content, read and checkpointed up to a smaller offset. The old offset must
/// not move the resume position (it pointed past the end of the new content, so the
/// whole file was read and alerted again; or into it, skipping lines).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_notification_spooled_before_a_copytruncate_does_not_move_the_resume_position() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let before_truncation = Position::File(FilePosition {
        path: "/var/log/bot.log".into(),
        id: FileIdentity {
            dev: 1,
            ino: 2,
            head_len: 256,
            checksum: 3,
        },
        offset: 900_000,
        len: 0,
        mtime_ns: 0,
        born_ns: 0,
    });
    let after_truncation = |offset| {
        Position::File(FilePosition {
            path: "/var/log/bot.log".into(),
            id: FileIdentity {
                dev: 1,
                ino: 2,
                head_len: 256,
                checksum: 4,
            },
            offset,
            len: 0,
            mtime_ns: 0,
            born_ns: 0,
        })
    };
    let spool = Spool::new(dir.path());
    spool
        .write(&Notification {
            version: VERSION,
            id: next_id(),
            channel: "console".into(),
            kind: Kind::Notice,
            alert: Alert::new(
                "bot",
                "every-error",
                Severity::Warning,
                AlertState::Event,
                "s".into(),
            ),
            host: "h".into(),
            since_ms: None,
            rerouted: None,
            origin: 7,
            siblings: vec!["console".into()],
            position: Some(before_truncation.clone()),
            thread: None,
        })
        .unwrap();
    let (_trigger, shutdown) = crate::core::shutdown::channel();
    let telemetry = Telemetry::new(&cfg);
    let mut router = Router::start(&cfg, LogFormat::Json, telemetry, shutdown).unwrap();
    let mut saved = BTreeMap::new();
    saved.insert("/var/log/bot.log".to_string(), after_truncation(40_000));
    assert!(router.reconcile_spool(&saved).is_empty());
    // Within one content, a further offset is still ahead.
    assert!(after_truncation(50_000).is_past(Some(&after_truncation(40_000))));
    assert!(!before_truncation.is_past(Some(&after_truncation(40_000))));
}

/// The one watch `bot` of the tests below, notifying `notify`.
fn bot_watch(notify: &[&str]) -> crate::config::WatchConfig {
    crate::config::WatchConfig {
        name: "bot".into(),
        unit: None,
        files: Vec::new(),
        packs: Vec::new(),
        notify: notify.iter().map(|n| n.to_string()).collect(),
        start_at: crate::source::StartAt::End,
        max_line_bytes: 1024,
        olddir: None,
        timestamp_format: Default::default(),
        structure: Default::default(),
        multiline: crate::source::multiline::MultilineRule {
            grouping: crate::source::multiline::Grouping::None,
            timeout: Duration::from_millis(300),
            max_lines: 10,
            max_bytes: 1024,
        },
        journal: None,
        restart: None,
        probes: Vec::new(),
        rules: Vec::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_firing_alert_is_reminded_every_repeat_and_a_repeat_firing_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.alerts.repeat = Duration::from_secs(4 * 3600);
    // Nothing is delivered within the test: the spool shows every notification made.
    if let Some(c) = cfg.channels.get_mut("second") {
        c.group_wait = Duration::from_secs(100 * 86_400);
    }
    cfg.watches = vec![bot_watch(&["second"])];
    let (_trigger, shutdown) = crate::core::shutdown::channel();
    let telemetry = Telemetry::new(&cfg);
    let mut router = Router::start(&cfg, LogFormat::Json, telemetry, shutdown).unwrap();
    let firing = Alert::new(
        "bot",
        "burst",
        Severity::Critical,
        AlertState::Firing,
        "s".into(),
    );
    router.accept(firing.clone());
    router.accept(firing);
    router.flush_pending(None);
    router.release_written();
    let kinds = |spool: &Spool| {
        let mut k: Vec<Kind> = spool.load().into_iter().map(|n| n.kind).collect();
        k.sort_by_key(|k| *k as u8);
        k
    };
    let spool = Spool::new(dir.path());
    assert_eq!(
        kinds(&spool),
        vec![Kind::Notice],
        "the repeat firing is dropped"
    );
    tokio::time::sleep(Duration::from_secs(4 * 3600 + 1)).await;
    assert_eq!(kinds(&spool), vec![Kind::Notice, Kind::Reminder]);
    tokio::time::sleep(Duration::from_secs(4 * 3600)).await;
    assert_eq!(
        kinds(&spool),
        vec![Kind::Notice, Kind::Reminder, Kind::Reminder]
    );
    router.accept(Alert::new(
        "bot",
        "burst",
        Severity::Critical,
        AlertState::Resolved,
        "ok".into(),
    ));
    router.flush_pending(None);
    tokio::time::sleep(Duration::from_secs(5 * 3600)).await;
    assert_eq!(kinds(&spool).len(), 4, "resolved: no more reminders");
}

/// `quiet = "drop"`: a warning that fires at night is not sent to the quiet channel, and
/// neither is its resolution in the morning; the other channel gets both, and a critical
/// goes to both.
#[tokio::test(start_paused = true)]
async fn quiet_drop_leaves_a_channel_out_of_a_night_warning_and_of_its_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    for c in cfg.channels.values_mut() {
        c.group_wait = Duration::from_secs(100 * 86_400);
    }
    if let Some(c) = cfg.channels.get_mut("second") {
        let active =
            crate::config::schedule::Schedule::parse("Mon-Sun 07:00-22:00 UTC", Default::default())
                .unwrap();
        c.quiet = Some(crate::config::channels::QuietHours {
            active: std::sync::Arc::new(active),
            min_severity: Severity::Critical,
            mode: crate::config::channels::QuietMode::Drop,
        });
    }
    cfg.watches = vec![bot_watch(&["console", "second"])];
    let night: jiff::Timestamp = "2026-12-03T23:00:00Z".parse().unwrap();
    let wall = crate::rules::gate::WallTime::Anchored(crate::rules::gate::WallClock::new(
        tokio::time::Instant::now(),
        night,
    ));
    let (_trigger, shutdown) = crate::core::shutdown::channel();
    let telemetry = Telemetry::new(&cfg);
    let mut router =
        Router::start_with_wall(&cfg, LogFormat::Json, telemetry, shutdown, wall).unwrap();
    let spool = Spool::new(dir.path());
    let sent = |rule: &str| {
        let mut c: Vec<(String, AlertState)> = spool
            .load()
            .into_iter()
            .filter(|n| n.alert.rule == rule)
            .map(|n| (n.channel, n.alert.state))
            .collect();
        c.sort_by(|a, b| a.0.cmp(&b.0));
        c
    };
    for (rule, severity) in [("stale", Severity::Warning), ("down", Severity::Critical)] {
        router.accept(Alert::new(
            "bot",
            rule,
            severity,
            AlertState::Firing,
            "s".into(),
        ));
    }
    router.flush_pending(None);
    router.release_written();
    assert_eq!(sent("stale"), vec![("console".into(), AlertState::Firing)]);
    assert_eq!(
        sent("down"),
        vec![
            ("console".into(), AlertState::Firing),
            ("second".into(), AlertState::Firing)
        ]
    );
    // 09:00: the warning resolves; only the channel that saw it hears so.
    tokio::time::sleep(Duration::from_secs(10 * 3600)).await;
    router.accept(Alert::new(
        "bot",
        "stale",
        Severity::Warning,
        AlertState::Resolved,
        "ok".into(),
    ));
    router.flush_pending(None);
    router.release_written();
    // (console also got the reminders of the night.)
    let stale = sent("stale");
    assert!(stale.iter().all(|(c, _)| c == "console"), "{stale:?}");
    assert!(
        stale.contains(&("console".into(), AlertState::Resolved)),
        "{stale:?}"
    );
}

/// An acknowledgement (written to the operator's file as `logwarden ack` does) stops the
/// reminders of the open alert, is announced once, lets its resolution through, and does not
/// cover the next firing, which is reminded again.
#[tokio::test(start_paused = true)]
async fn an_ack_stops_reminders_until_the_alert_resolves_and_is_announced_once() {
    use crate::actions::operator::store::{self, Ack};
    use crate::core::rule_names::ACK_RULE;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.alerts.repeat = Duration::from_secs(4 * 3600);
    if let Some(c) = cfg.channels.get_mut("second") {
        c.group_wait = Duration::from_secs(100 * 86_400);
    }
    cfg.watches = vec![bot_watch(&["second"])];
    let (_trigger, shutdown) = crate::core::shutdown::channel();
    let telemetry = Telemetry::new(&cfg);
    let mut router = Router::start(&cfg, LogFormat::Json, telemetry.clone(), shutdown).unwrap();
    let spool = Spool::new(dir.path());
    // (reminders of burst, announcements, resolutions of burst)
    let counts = || {
        let all = spool.load();
        let of = |f: &dyn Fn(&Notification) -> bool| all.iter().filter(|n| f(n)).count();
        (
            of(&|n| n.kind == Kind::Reminder && n.alert.rule == "burst"),
            of(&|n| n.alert.rule == ACK_RULE),
            of(&|n| n.alert.rule == "burst" && n.alert.state == AlertState::Resolved),
        )
    };
    let firing = Alert::new(
        "bot",
        "burst",
        Severity::Critical,
        AlertState::Firing,
        "s".into(),
    );
    router.accept(firing.clone());
    router.flush_pending(None);
    router.release_written();
    tokio::time::sleep(Duration::from_secs(4 * 3600 + 1)).await;
    assert_eq!(counts(), (1, 0, 0), "reminded before the ack");

    let open = crate::actions::router::open_alerts(dir.path());
    assert_eq!(open.len(), 1);
    store::update::<_, store::StoreError>(dir.path(), unix_ms(SystemTime::now()), |st| {
        st.acks.push(Ack {
            watch: "bot".into(),
            rule: "burst".into(),
            since_ms: open[0].since_ms,
            who: "alice".into(),
            at_ms: 0,
        });
        Ok(())
    })
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(counts(), (1, 1, 0), "announced");
    let announced = spool
        .load()
        .into_iter()
        .find(|n| n.alert.rule == ACK_RULE)
        .unwrap();
    assert_eq!(
        announced.alert.summary,
        "acknowledged by alice: bot/burst (no more reminders until it resolves)"
    );
    assert_eq!(announced.alert.state, AlertState::Event);
    assert_eq!(
        crate::actions::router::open_alerts(dir.path())[0]
            .acked_by
            .as_deref(),
        Some("alice")
    );
    assert_eq!(telemetry.status().acks.len(), 1);
    tokio::time::sleep(Duration::from_secs(3 * 4 * 3600)).await;
    assert_eq!(
        counts(),
        (1, 1, 0),
        "no reminder after the ack, one announcement"
    );

    router.accept(Alert::new(
        "bot",
        "burst",
        Severity::Critical,
        AlertState::Resolved,
        "ok".into(),
    ));
    router.flush_pending(None);
    router.release_written();
    assert_eq!(counts(), (1, 1, 1), "the resolution goes out");

    // A new firing: the ack (of the earlier one) does not cover it.
    let mut again = firing;
    again.at = SystemTime::now() + Duration::from_secs(1);
    router.accept(again);
    router.flush_pending(None);
    router.release_written();
    tokio::time::sleep(Duration::from_secs(4 * 3600 + 1)).await;
    assert_eq!(counts(), (2, 1, 1), "the new firing is reminded");
}

/// Firings held by a silence, then a restart of logwarden after the silence was lifted: the
/// one the rules confirm is sent (once), the one they do not is dropped without a word (it
/// was never sent, so there is nothing to resolve).
#[tokio::test(start_paused = true)]
async fn held_firings_after_a_restart_are_sent_if_confirmed_and_dropped_if_not() {
    use crate::actions::operator::store::{self, Scope, Silence, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    if let Some(c) = cfg.channels.get_mut("second") {
        c.group_wait = Duration::from_secs(100 * 86_400);
    }
    cfg.watches = vec![bot_watch(&["second"])];
    let now_ms = unix_ms(SystemTime::now());
    store::update::<_, StoreError>(dir.path(), now_ms, |st| {
        st.silences.push(Silence {
            id: "0000abcd".into(),
            scope: Scope {
                watch: "bot".into(),
                rule: None,
            },
            starts_ms: now_ms,
            ends_ms: now_ms + 3_600_000,
            reason: String::new(),
            who: "root".into(),
        });
        Ok(())
    })
    .unwrap();
    let spool = Spool::new(dir.path());
    let sent = |rule: &str| {
        spool
            .load()
            .into_iter()
            .filter(|n| n.alert.rule == rule)
            .count()
    };
    let fire = |rule: &str| {
        Alert::new(
            "bot",
            rule,
            Severity::Critical,
            AlertState::Firing,
            "s".into(),
        )
    };
    {
        let (trigger, shutdown) = crate::core::shutdown::channel();
        let telemetry = Telemetry::new(&cfg);
        let mut router = Router::start(&cfg, LogFormat::Json, telemetry, shutdown).unwrap();
        router.accept(fire("confirmed"));
        router.accept(fire("gone"));
        router.flush_pending(None);
        router.release_written();
        assert_eq!((sent("confirmed"), sent("gone")), (0, 0), "held");
        // (The book is saved at each firing: what a crash or a stop leaves.)
        trigger.trigger();
        drop(router);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Lifted while logwarden was down.
    store::update::<_, StoreError>(dir.path(), now_ms, |st| {
        st.silences.clear();
        Ok(())
    })
    .unwrap();
    let (_trigger, shutdown) = crate::core::shutdown::channel();
    let telemetry = Telemetry::new(&cfg);
    let mut router = Router::start(&cfg, LogFormat::Json, telemetry, shutdown).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sent("confirmed"), 0, "not before the rules confirm it");
    router.accept(fire("confirmed"));
    router.flush_pending(None);
    router.release_written();
    assert_eq!(
        sent("confirmed"),
        1,
        "confirmed and no longer silenced: sent"
    );
    // Past the carry horizon (120 s for these rules): the unconfirmed one is dropped.
    tokio::time::sleep(Duration::from_secs(200)).await;
    assert_eq!((sent("confirmed"), sent("gone")), (1, 0));
    let open: Vec<String> = crate::actions::router::open_alerts(dir.path())
        .into_iter()
        .map(|o| o.rule)
        .collect();
    assert_eq!(open, ["confirmed"]);
}

/// The watch `bot` with automatic restarts: `log-stale` asks for one, `no-activity` does not,
/// `noise` is marked `incident = "apart"`.
fn restarting_bot() -> crate::config::WatchConfig {
    use crate::config::recovery::{RestartConfig, RestartMethod};
    use crate::config::{RuleConfig, RuleKind};
    let rule = |name: &str, then_restart: bool, apart: bool| RuleConfig {
        name: name.into(),
        severity: Severity::Critical,
        kind: RuleKind::Stale {
            after: Duration::from_secs(60),
        },
        then_restart,
        apart,
        schedule: None,
    };
    let mut w = bot_watch(&["second"]);
    w.unit = Some("bot.service".into());
    w.restart = Some(RestartConfig {
        method: RestartMethod::Systemd {
            unit: "bot.service".into(),
            user: None,
        },
        stop_timeout: Duration::from_secs(2),
        verify_after: Duration::from_secs(10),
        max_restarts: 3,
        window: Duration::from_secs(3600),
        backoff: Duration::from_secs(1),
        backoff_max: Duration::from_secs(4),
        healthy_after: Duration::from_secs(60),
        startup_grace: Duration::from_secs(1),
        confirm: Vec::new(),
    });
    w.rules = vec![
        rule("log-stale", true, false),
        rule("no-activity", false, false),
        rule("noise", false, true),
    ];
    w
}

/// A router for `restarting_bot` whose channel `second` holds everything (the spool shows
/// every notification made), reminding every 4 h.
fn incident_router(dir: &std::path::Path) -> (Router, crate::core::shutdown::ShutdownTrigger) {
    let mut cfg = config(dir);
    cfg.alerts.repeat = Duration::from_secs(4 * 3600);
    // A person's channel (the console is a record: it gets folded alerts too).
    if let Some(c) = cfg.channels.get_mut("second") {
        c.group_wait = Duration::from_secs(100 * 86_400);
        c.kind = ChannelKind::Webhook(crate::config::channels::WebhookConfig {
            url: crate::config::Secret("http://127.0.0.1:9/hook".into()),
            body: None,
        });
    }
    cfg.watches = vec![restarting_bot()];
    let (trigger, shutdown) = crate::core::shutdown::channel();
    let telemetry = Telemetry::new(&cfg);
    let router = Router::start(&cfg, LogFormat::Json, telemetry, shutdown).unwrap();
    (router, trigger)
}

/// An alert of `bot`: critical, but a `restart` event is a warning (a verified restart, as
/// the supervisor sends it; a failed one is critical).
fn bot_alert(rule: &str, state: AlertState, summary: &str) -> Alert {
    let severity = if rule == crate::core::rule_names::RESTART_RULE {
        Severity::Warning
    } else {
        Severity::Critical
    };
    Alert::new("bot", rule, severity, state, summary.into())
}

fn send(router: &mut Router, a: Alert) {
    router.accept(a);
    router.flush_pending(None);
    router.release_written();
}

/// (rule, state, thread opens?) of every notification made, in order.
fn made(dir: &std::path::Path) -> Vec<(String, AlertState, Kind, Option<bool>)> {
    let mut all = Spool::new(dir).load();
    all.sort_by_key(|n| n.id);
    all.into_iter()
        .map(|n| {
            (
                n.alert.rule,
                n.alert.state,
                n.kind,
                n.thread.map(|t| t.opens),
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_restart_incident_is_one_opening_and_one_threaded_end_and_a_folded_alert_outliving_it_is_its_own(
) {
    use crate::core::rule_names::RESTART_RULE;
    let dir = tempfile::tempdir().unwrap();
    let (mut router, _trigger) = incident_router(dir.path());
    send(
        &mut router,
        bot_alert("log-stale", AlertState::Firing, "no new line for 5m"),
    );
    send(
        &mut router,
        bot_alert(
            "no-activity",
            AlertState::Firing,
            "0 matches of \"activity\" within 5m",
        ),
    );
    send(
        &mut router,
        bot_alert(
            "log-stale",
            AlertState::Resolved,
            "lines resumed after 5m of silence",
        ),
    );
    let opening = Spool::new(dir.path()).load();
    assert_eq!(opening.len(), 1, "folded: {:?}", made(dir.path()));
    assert!(
        opening[0]
            .alert
            .action
            .as_deref()
            .is_some_and(|a| a.starts_with("logwarden restarts bot.service")),
        "{:?}",
        opening[0].alert.action
    );
    // Folded, but judged and booked (what /status shows).
    let booked = crate::actions::router::open_alerts(dir.path());
    assert_eq!(
        booked.iter().map(|o| o.rule.as_str()).collect::<Vec<_>>(),
        ["no-activity"]
    );

    send(&mut router, bot_alert(RESTART_RULE, AlertState::Event,
        "restarted (1 of at most 3 per window) because log-stale: no new line for 5m; verified healthy 2.1s after the problem was detected: the new process (PID 4242) wrote 12 log lines since its start"));
    // `noise` stays apart, even inside an incident... (none is open now: it is its own anyway)
    let m = made(dir.path());
    assert_eq!(
        m,
        vec![
            ("log-stale".into(), AlertState::Firing, Kind::Notice, Some(true)),
            ("log-stale".into(), AlertState::Resolved, Kind::Notice, Some(false)),
            ("no-activity".into(), AlertState::Firing, Kind::Notice, None),
        ],
        "the end replies in the thread; the folded no-activity still fires, so it becomes its own alert"
    );
    let mut all = Spool::new(dir.path()).load();
    all.sort_by_key(|n| n.id);
    let end = &all[1].alert.summary;
    assert!(
        end.starts_with("incident over: log-stale resolved: lines resumed"),
        "{end}"
    );
    assert!(
        end.contains("new process (PID 4242) wrote 12 log lines"),
        "{end}"
    );
    assert_eq!(
        all[0].thread.as_ref().map(|t| &t.key),
        all[1].thread.as_ref().map(|t| &t.key)
    );

    // Its own now: reminded, and its resolution is sent.
    tokio::time::sleep(Duration::from_secs(4 * 3600 + 1)).await;
    send(
        &mut router,
        bot_alert("no-activity", AlertState::Resolved, "activity again"),
    );
    let m = made(dir.path());
    assert_eq!(
        &m[3..],
        &[
            (
                "no-activity".into(),
                AlertState::Firing,
                Kind::Reminder,
                None
            ),
            (
                "no-activity".into(),
                AlertState::Resolved,
                Kind::Notice,
                None
            ),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn folded_resolutions_are_never_lost_and_an_incident_without_a_restart_report_ends_after_settling(
) {
    let dir = tempfile::tempdir().unwrap();
    let (mut router, _trigger) = incident_router(dir.path());
    send(
        &mut router,
        bot_alert("log-stale", AlertState::Firing, "no new line for 5m"),
    );
    send(
        &mut router,
        bot_alert("no-activity", AlertState::Firing, "0 matches"),
    );
    send(&mut router, bot_alert("noise", AlertState::Firing, "apart"));
    send(
        &mut router,
        bot_alert("no-activity", AlertState::Resolved, "activity again"),
    );
    // A reminder of the incident is the cause's; the folded alert gets none.
    tokio::time::sleep(Duration::from_secs(4 * 3600 + 1)).await;
    send(
        &mut router,
        bot_alert("log-stale", AlertState::Resolved, "lines resumed"),
    );
    let m = made(dir.path());
    assert_eq!(
        m,
        vec![
            (
                "log-stale".into(),
                AlertState::Firing,
                Kind::Notice,
                Some(true)
            ),
            ("noise".into(), AlertState::Firing, Kind::Notice, None),
            ("log-stale".into(), AlertState::Firing, Kind::Reminder, None),
            ("noise".into(), AlertState::Firing, Kind::Reminder, None),
        ],
        "the restart asked for has not reported yet: the incident waits"
    );
    tokio::time::sleep(super::incident::SETTLE + Duration::from_secs(1)).await;
    let mut all = Spool::new(dir.path()).load();
    all.sort_by_key(|n| n.id);
    assert_eq!(all.len(), 5, "{:?}", made(dir.path()));
    let end = &all[4];
    assert_eq!(
        (end.alert.rule.as_str(), end.alert.state),
        ("log-stale", AlertState::Resolved)
    );
    assert_eq!(end.thread.as_ref().map(|t| t.opens), Some(false));
    assert_eq!(
        end.alert.summary,
        "incident over: no-activity resolved: activity again; log-stale resolved: lines resumed"
    );
    assert!(crate::actions::router::open_alerts(dir.path())
        .iter()
        .all(|o| o.rule == "noise"));
}

/// A silence over the watch holds the incident's opening (and what folds into it); once it
/// ends while the cause still fires, the opening is sent, and the end follows in its thread.
#[tokio::test(start_paused = true)]
async fn a_silence_holds_an_incident_and_its_end_follows_the_released_opening_in_its_thread() {
    use crate::actions::operator::store::{self, Scope, Silence, StoreError};
    use crate::core::rule_names::RESTART_RULE;
    let dir = tempfile::tempdir().unwrap();
    let now_ms = unix_ms(SystemTime::now());
    store::update::<_, StoreError>(dir.path(), now_ms, |st| {
        st.silences.push(Silence {
            id: "0000abcd".into(),
            scope: Scope {
                watch: "bot".into(),
                rule: None,
            },
            starts_ms: now_ms,
            ends_ms: now_ms + 60_000,
            reason: String::new(),
            who: "root".into(),
        });
        Ok(())
    })
    .unwrap();
    let (mut router, _trigger) = incident_router(dir.path());
    tokio::time::sleep(Duration::from_secs(2)).await;
    send(
        &mut router,
        bot_alert("log-stale", AlertState::Firing, "no new line for 5m"),
    );
    send(
        &mut router,
        bot_alert("no-activity", AlertState::Firing, "0 matches"),
    );
    assert_eq!(made(dir.path()), vec![], "held by the silence");
    // The silence ends (it is wall-clock time; the test's clock is tokio's).
    store::update::<_, StoreError>(dir.path(), now_ms, |st| {
        st.silences.clear();
        Ok(())
    })
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        made(dir.path()),
        vec![
            (
                "log-stale".into(),
                AlertState::Firing,
                Kind::Notice,
                Some(true)
            ),
            ("silence".into(), AlertState::Event, Kind::Notice, None),
        ],
        "the opening is released; the folded alert stays folded; the unsilence is announced"
    );
    send(
        &mut router,
        bot_alert("no-activity", AlertState::Resolved, "activity again"),
    );
    send(
        &mut router,
        bot_alert("log-stale", AlertState::Resolved, "lines resumed"),
    );
    send(
        &mut router,
        bot_alert(
            RESTART_RULE,
            AlertState::Event,
            "restarted; verified healthy",
        ),
    );
    assert_eq!(
        made(dir.path()),
        vec![
            (
                "log-stale".into(),
                AlertState::Firing,
                Kind::Notice,
                Some(true)
            ),
            ("silence".into(), AlertState::Event, Kind::Notice, None),
            (
                "log-stale".into(),
                AlertState::Resolved,
                Kind::Notice,
                Some(false)
            ),
        ]
    );
}

/// A silence written to the operator's file (as `logwarden silence` does) is announced once
/// to its watch's channels, past itself; one in force at the start is no news; one removed
/// before its end (`unsilence`) is announced once.
#[tokio::test(start_paused = true)]
async fn silences_set_and_ended_by_the_cli_are_announced_once() {
    use crate::actions::operator::store::{self, Scope, Silence, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let now_ms = unix_ms(SystemTime::now());
    let silence = |id: &str, ends_ms: u64| Silence {
        id: id.into(),
        scope: Scope {
            watch: "bot".into(),
            rule: None,
        },
        starts_ms: now_ms,
        ends_ms,
        reason: "deploy".into(),
        who: "root".into(),
    };
    store::update::<_, StoreError>(dir.path(), now_ms, |st| {
        st.silences.push(silence("00000old", now_ms + 3_600_000));
        Ok(())
    })
    .unwrap();
    let (_router, _trigger) = incident_router(dir.path());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(made(dir.path()), vec![], "in force at the start: no news");
    store::update::<_, StoreError>(dir.path(), now_ms, |st| {
        st.silences.push(silence("0000abcd", now_ms + 7_200_000));
        Ok(())
    })
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let texts = || -> Vec<String> {
        let mut all = Spool::new(dir.path()).load();
        all.sort_by_key(|n| n.id);
        all.into_iter()
            .filter(|n| n.alert.rule == crate::core::rule_names::SILENCE_RULE)
            .map(|n| n.alert.summary)
            .collect()
    };
    assert_eq!(
        texts(),
        vec!["silenced bot for 2h by root (id 0000abcd; `logwarden unsilence 0000abcd` ends it): deploy".to_string()],
        "announced once, though the silence covers its watch"
    );
    store::update::<_, StoreError>(dir.path(), now_ms, |st| {
        st.silences.retain(|s| s.id != "0000abcd");
        Ok(())
    })
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t = texts();
    assert_eq!(t.len(), 2, "{t:?}");
    assert!(
        t[1].starts_with("silence 0000abcd of bot ended before its time"),
        "{t:?}"
    );
}
