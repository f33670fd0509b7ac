//! Config loading tests: validation, positions of errors, drop-ins, pattern packs on disk.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{load, load_texts, ChannelConfig, ChannelKind, Config, RuleKind};
use crate::core::alert::Severity;
use crate::source::StartAt;

/// The config of `logwarden demo` (src/demo.rs), as an operator would write it.
const DEMO_CONFIG: &str = r#"
[daemon]
state_dir = "state"
poll_interval = "500ms"

[[watch]]
name = "demo-bot"
files = ["bot.log"]
patterns = ["python-logging", "trading"]
start_at = "beginning"
notify = ["console"]

  [[watch.rule]]
  name = "error-burst"
  when = "rate"
  pattern = "error"
  threshold = 8
  resolve_below = 2
  window = "5s"
  severity = "critical"

  [[watch.rule]]
  name = "log-stale"
  when = "stale"
  after = "5s"
  severity = "critical"

  [[watch.rule]]
  name = "no-activity"
  when = "absent"
  pattern = "activity"
  min = 1
  window = "6s"
  severity = "warning"

  [[watch.rule]]
  name = "critical-line"
  when = "match"
  pattern = "critical"
  cooldown = "1m"
"#;

/// A minimal valid watch with one rate rule, for tests that add one mistake.
const BASE: &str = r#"[[watch]]
name = "bot"
files = ["/var/log/bot.log"]
patterns = ["python-logging", "trading"]

  [[watch.rule]]
  name = "error-burst"
  when = "rate"
  pattern = "error"
  threshold = 10
  window = "1m"
"#;

fn main_only(text: &str) -> Result<Config, Vec<String>> {
    load_texts(vec![(PathBuf::from("main.toml"), text.to_string())]).map_err(|e| e.problems)
}

fn with_dropin(main: &str, dropin: &str) -> Result<Config, Vec<String>> {
    load_texts(vec![
        (PathBuf::from("main.toml"), main.to_string()),
        (PathBuf::from("logwarden.d/10-x.toml"), dropin.to_string()),
    ])
    .map_err(|e| e.problems)
}

/// The only problem of a config that must not load.
fn one_problem(result: Result<Config, Vec<String>>) -> String {
    let problems = result.expect_err("config should not load");
    assert_eq!(problems.len(), 1, "{problems:#?}");
    problems.into_iter().next().unwrap()
}

/// The problem that mentions `needle` of a config that must not load (an error in a
/// channel also makes the watches naming it fail).
fn problem_with(result: Result<Config, Vec<String>>, needle: &str) -> String {
    let problems = result.expect_err("config should not load");
    problems
        .iter()
        .find(|p| p.contains(needle))
        .unwrap_or_else(|| panic!("no problem with {needle:?}: {problems:#?}"))
        .clone()
}

/// `file:line:column` of the first occurrence of `needle` in `text` (1-based, as editors).
fn at(file: &str, text: &str, needle: &str) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in text"));
    position(file, text, offset)
}

/// `file:line:column` of byte `offset` of `text`.
fn position(file: &str, text: &str, offset: usize) -> String {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    format!("{file}:{line}:{column}")
}

fn assert_starts(problem: &str, prefix: &str) {
    assert!(
        problem.starts_with(&format!("{prefix}: ")),
        "expected it at {prefix}: {problem}"
    );
}

fn rule_kind(c: &Config, watch: &str, rule: &str) -> RuleKind {
    let w = c.watches.iter().find(|w| w.name == watch).expect("watch");
    let r = w.rules.iter().find(|r| r.name == rule).expect("rule");
    r.kind.clone()
}

fn rule_names(c: &Config, watch: &str) -> Vec<String> {
    let w = c.watches.iter().find(|w| w.name == watch).expect("watch");
    w.rules.iter().map(|r| r.name.clone()).collect()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// ---------------------------------------------------------------- valid configs

#[test]
fn the_demo_config_loads_with_every_value_and_default() {
    let c = load_texts(vec![(
        PathBuf::from("/srv/demo/logwarden.toml"),
        DEMO_CONFIG.to_string(),
    )])
    .unwrap();
    assert_eq!(c.daemon.state_dir, Path::new("/srv/demo/state"));
    assert_eq!(c.daemon.poll_interval, Duration::from_millis(500));
    assert_eq!(c.watches.len(), 1);
    let w = &c.watches[0];
    assert_eq!(w.name, "demo-bot");
    assert_eq!(w.unit, None);
    assert_eq!(w.files, vec![PathBuf::from("/srv/demo/bot.log")]);
    let packs: Vec<&str> = w.packs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(packs, ["python-logging", "trading"]);
    assert_eq!(w.notify, ["console"]);
    assert_eq!(w.start_at, StartAt::Beginning);
    assert_eq!(w.max_line_bytes, super::DEFAULT_MAX_LINE_BYTES);
    let kinds: Vec<(&str, Severity, &RuleKind)> = w
        .rules
        .iter()
        .map(|r| (r.name.as_str(), r.severity, &r.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                "error-burst",
                Severity::Critical,
                &RuleKind::Rate {
                    pattern: "error".into(),
                    threshold: 8,
                    resolve_below: 2,
                    window: secs(5)
                }
            ),
            (
                "log-stale",
                Severity::Critical,
                &RuleKind::Stale { after: secs(5) }
            ),
            (
                "no-activity",
                Severity::Warning,
                &RuleKind::Absent {
                    pattern: "activity".into(),
                    min: 1,
                    window: secs(6)
                }
            ),
            (
                "critical-line",
                Severity::Warning,
                &RuleKind::Match {
                    pattern: "critical".into(),
                    cooldown: secs(60)
                }
            ),
        ]
    );
    assert_eq!(c.channels.get("console"), Some(&ChannelConfig::console()));
    assert_eq!(c.files_read[0], Path::new("/srv/demo/logwarden.toml"));
}

#[test]
fn defaults_fill_what_a_minimal_config_leaves_out() {
    let c = main_only(BASE).unwrap();
    assert_eq!(c.daemon.poll_interval, secs(1));
    assert_eq!(c.daemon.state_dir, Path::new("/var/lib/logwarden"));
    let w = &c.watches[0];
    assert_eq!(w.start_at, StartAt::End);
    assert_eq!(w.notify, ["console"]);
    assert_eq!(w.rules[0].severity, Severity::Warning);
    assert_eq!(
        rule_kind(&c, "bot", "error-burst"),
        RuleKind::Rate {
            pattern: "error".into(),
            threshold: 10,
            resolve_below: 11,
            window: secs(60)
        }
    );
}

// ---------------------------------------------------------------- typos and bad values

#[test]
fn an_unknown_key_is_an_error_pointing_at_the_key() {
    let text = BASE.replace("threshold = 10", "treshold = 10");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "treshold"));
    assert!(p.contains("unknown field `treshold`"), "{p}");
    assert!(p.contains("threshold"), "the valid keys are listed: {p}");

    let text = format!("{BASE}\n[daemon]\npoll_intervall = \"1s\"\n");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "poll_intervall"));
}

#[test]
fn a_spelled_out_duration_is_rejected_with_the_accepted_forms_on_its_line() {
    let text = BASE.replace("window = \"1m\"", "window = \"5 minutes\"");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "\"5 minutes\""));
    assert!(p.contains("\"5 minutes\""), "{p}");
    assert!(p.contains(super::duration::ACCEPTED_FORMS), "{p}");
}

#[test]
fn a_bare_number_duration_is_rejected() {
    let text = BASE.replace("window = \"1m\"", "window = 300");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "300"));
    assert!(p.contains("bare number 300 is not a duration"), "{p}");
    assert!(p.contains("\"90s\""), "{p}");
}

#[test]
fn a_zero_duration_is_rejected() {
    let text = BASE.replace("window = \"1m\"", "window = \"0s\"");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "\"0s\""));
    assert!(p.contains("window must be between 100ms and 30d"), "{p}");
}

#[test]
fn an_unknown_pack_is_an_error_listing_the_available_packs() {
    let text = BASE.replace("\"trading\"]", "\"tradng\"]");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "\"tradng\""));
    assert!(p.contains("unknown pattern pack \"tradng\""), "{p}");
    assert!(
        p.ends_with(
            "available: celery, django, gunicorn, nginx, postgresql, python-logging, systemd, trading"
        ),
        "{p}"
    );
}

#[test]
fn an_unknown_channel_is_an_error_listing_the_channels() {
    let text = BASE.replace(
        "patterns = [",
        "notify = [\"console\", \"pager\"]\npatterns = [",
    );
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "\"pager\""));
    assert!(p.contains("unknown channel \"pager\""), "{p}");
    assert!(p.contains("[channels.pager]"), "{p}");
    assert!(p.ends_with("use one of: console"), "{p}");

    // Once defined, it is valid.
    let text = format!("{text}\n[channels.pager]\ntype = \"console\"\n");
    let c = main_only(&text).unwrap();
    assert_eq!(c.watches[0].notify, ["console", "pager"]);
}

#[test]
fn a_rule_pattern_no_pack_of_the_watch_defines_is_an_error_listing_the_defined_ones() {
    // `activity` is in the trading pack, which this watch does not use.
    let text = BASE
        .replace("\"python-logging\", \"trading\"", "\"python-logging\"")
        .replace("pattern = \"error\"", "pattern = \"activity\"");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "\"activity\""));
    assert!(
        p.contains("rule bot/error-burst uses pattern \"activity\""),
        "{p}"
    );
    assert!(
        p.ends_with("defined: critical, error, traceback, warning"),
        "{p}"
    );

    let text = BASE.replace("patterns = [\"python-logging\", \"trading\"]\n", "");
    let p = one_problem(main_only(&text));
    assert!(p.contains("defined: none (add packs"), "{p}");
}

// ---------------------------------------------------------------- rule kinds

#[test]
fn a_threshold_on_a_stale_rule_is_an_error() {
    let text = format!(
        "{BASE}\n  [[watch.rule]]\n  name = \"quiet\"\n  when = \"stale\"\n  after = \"5m\"\n  threshold = 3\n"
    );
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "3\n"));
    assert!(
        p.contains("`threshold` does not apply to a stale rule (rule bot/quiet); it takes: after"),
        "{p}"
    );
}

#[test]
fn a_rule_without_when_is_an_error_listing_the_kinds() {
    let text = BASE.replace("  when = \"rate\"\n", "");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "\"error-burst\""));
    assert!(p.contains("rule bot/error-burst has no `when`"), "{p}");
    assert!(
        p.contains("\"rate\", \"stale\", \"absent\", \"match\""),
        "{p}"
    );
}

#[test]
fn a_rate_rule_without_window_is_an_error() {
    let text = BASE.replace("  window = \"1m\"\n", "");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "\"error-burst\""));
    assert!(
        p.contains("rate rule bot/error-burst needs `window`"),
        "{p}"
    );
}

#[test]
fn a_rule_missing_several_settings_names_each() {
    let text = BASE
        .replace("  window = \"1m\"\n", "")
        .replace("  threshold = 10\n", "");
    let problems = main_only(&text).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].ends_with("needs `threshold`"), "{problems:#?}");
    assert!(problems[1].ends_with("needs `window`"), "{problems:#?}");
}

#[test]
fn resolve_below_must_be_between_one_and_threshold_plus_one() {
    let text = BASE.replace("threshold = 10", "threshold = 10\n  resolve_below = 12");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "12"));
    assert!(p.contains("between 1 and threshold + 1 (11)"), "{p}");

    let text = BASE.replace("threshold = 10", "threshold = 10\n  resolve_below = 0");
    assert!(one_problem(main_only(&text)).contains("between 1 and threshold + 1"));

    let text = BASE.replace("threshold = 10", "threshold = 10\n  resolve_below = 11");
    let c = main_only(&text).unwrap();
    assert!(matches!(
        rule_kind(&c, "bot", "error-burst"),
        RuleKind::Rate {
            resolve_below: 11,
            ..
        }
    ));
}

#[test]
fn several_problems_are_reported_at_once_in_file_order() {
    let text = r#"[[watch]]
name = "bot"
files = ["/var/log/bot.log"]
patterns = ["python-logging", "nope"]
notify = ["pager"]

  [[watch.rule]]
  name = "burst"
  when = "rate"
  pattern = "error"
  threshold = 5
  resolve_below = 9
  window = "1m"

  [[watch.rule]]
  name = "quiet"
  when = "stale"
  after = "10m"
  window = "1m"

[[watch]]
name = "other bot"
"#;
    let problems = main_only(text).unwrap_err();
    let expected = [
        (at("main.toml", text, "\"nope\""), "unknown pattern pack"),
        (at("main.toml", text, "\"pager\""), "unknown channel"),
        (at("main.toml", text, "9\n"), "resolve_below"),
        (
            at("main.toml", text, "\"1m\"\n\n[[watch]]"),
            "`window` does not apply to a stale rule",
        ),
        (at("main.toml", text, "\"other bot\""), "watch name"),
        (at("main.toml", text, "\"other bot\""), "has no source"),
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (p, (pos, what)) in problems.iter().zip(&expected) {
        assert_starts(p, pos);
        assert!(p.contains(what), "{p} should say {what}");
    }
}

#[test]
fn syntax_errors_in_several_files_are_all_reported() {
    let problems = with_dropin(
        &BASE.replace("threshold = 10", "threshold = = 10"),
        "[[watch]]\nname = \"bot\"\nfiless = []\n",
    )
    .unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("main.toml:10:"), "{problems:#?}");
    assert_starts(&problems[1], "logwarden.d/10-x.toml:3:1");
}

// ---------------------------------------------------------------- drop-ins

#[test]
fn a_dropin_overrides_one_rule_of_a_watch_and_adds_a_rule() {
    let dropin = r#"[[watch]]
name = "bot"

  [[watch.rule]]
  name = "error-burst"
  threshold = 3

  [[watch.rule]]
  name = "no-updates"
  when = "absent"
  pattern = "activity"
  window = "10m"
  severity = "critical"
"#;
    let c = with_dropin(BASE, dropin).unwrap();
    assert_eq!(c.watches.len(), 1, "merged by watch name");
    let w = &c.watches[0];
    assert_eq!(
        w.files,
        [PathBuf::from("/var/log/bot.log")],
        "kept from main"
    );
    assert_eq!(rule_names(&c, "bot"), ["error-burst", "no-updates"]);
    assert_eq!(
        rule_kind(&c, "bot", "error-burst"),
        RuleKind::Rate {
            pattern: "error".into(),
            threshold: 3,
            resolve_below: 4,
            window: secs(60)
        },
        "only the threshold changed"
    );
    assert_eq!(
        rule_kind(&c, "bot", "no-updates"),
        RuleKind::Absent {
            pattern: "activity".into(),
            min: 1,
            window: secs(600)
        }
    );
    assert_eq!(w.rules[1].severity, Severity::Critical);
    assert_eq!(c.files_read[1], Path::new("logwarden.d/10-x.toml"));
}

#[test]
fn a_dropin_can_add_a_watch_and_leave_other_watches_alone() {
    let dropin = "[[watch]]\nname = \"bot2\"\nfiles = [\"/var/log/bot2.log\"]\n";
    let c = with_dropin(BASE, dropin).unwrap();
    let names: Vec<&str> = c.watches.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["bot", "bot2"]);
    assert_eq!(rule_names(&c, "bot"), ["error-burst"]);
    assert!(rule_names(&c, "bot2").is_empty());
}

#[test]
fn a_dropin_with_enabled_false_removes_a_rule() {
    let main = format!(
        "{BASE}\n  [[watch.rule]]\n  name = \"quiet\"\n  when = \"stale\"\n  after = \"5m\"\n"
    );
    assert_eq!(
        rule_names(&main_only(&main).unwrap(), "bot"),
        ["error-burst", "quiet"]
    );
    let dropin = "[[watch]]\nname = \"bot\"\n\n  [[watch.rule]]\n  name = \"error-burst\"\n  enabled = false\n";
    let c = with_dropin(&main, dropin).unwrap();
    assert_eq!(rule_names(&c, "bot"), ["quiet"]);
}

#[test]
fn an_error_in_a_dropin_value_points_at_the_dropin() {
    let dropin = "[[watch]]\nname = \"bot\"\n\n  [[watch.rule]]\n  name = \"error-burst\"\n  resolve_below = 50\n";
    let p = one_problem(with_dropin(BASE, dropin));
    assert_starts(&p, &at("logwarden.d/10-x.toml", dropin, "50"));
}

// ---------------------------------------------------------------- files on disk

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn load_resolves_relative_files_against_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("logwarden.toml");
    write(
        &main,
        &BASE.replace(
            "files = [\"/var/log/bot.log\"]",
            "files = [\"logs/bot.log\", \"/abs/other.log\"]",
        ),
    );
    let c = load(&main).unwrap();
    assert_eq!(
        c.watches[0].files,
        [
            dir.path().join("logs/bot.log"),
            PathBuf::from("/abs/other.log")
        ]
    );
    assert_eq!(c.files_read[0], main);
}

#[test]
fn load_merges_dropins_in_name_order_and_skips_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("logwarden.toml");
    write(&main, BASE);
    let rule = |t: u64| {
        format!(
            "[[watch]]\nname = \"bot\"\n[[watch.rule]]\nname = \"error-burst\"\nthreshold = {t}\n"
        )
    };
    write(&dir.path().join("logwarden.d/20-late.toml"), &rule(7));
    write(&dir.path().join("logwarden.d/10-early.toml"), &rule(3));
    write(
        &dir.path().join("logwarden.d/99-off.toml.disabled"),
        "not toml at all [",
    );
    let c = load(&main).unwrap();
    assert!(matches!(
        rule_kind(&c, "bot", "error-burst"),
        RuleKind::Rate { threshold: 7, .. }
    ));
    assert_eq!(
        &c.files_read[..3],
        [
            main.clone(),
            dir.path().join("logwarden.d/10-early.toml"),
            dir.path().join("logwarden.d/20-late.toml")
        ]
    );
}

#[test]
fn load_of_a_missing_file_says_which_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let problems = load(&missing).unwrap_err().problems;
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with(&format!("{}: cannot read config file", missing.display())),
        "{problems:?}"
    );
}

const MY_TRADING: &str = r#"description = "local trading pack"

[[pattern]]
name = "activity"
any = ["Heartbeat"]

[[pattern]]
name = "halt"
regex = ['trading\s+halted']
"#;

#[test]
fn a_pack_in_patterns_dir_overrides_the_shipped_pack_of_that_name() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("patterns/trading.toml"), MY_TRADING);
    write(&dir.path().join("patterns/README.md"), "not a pack");
    let main = dir.path().join("logwarden.toml");
    let text = format!(
        "[daemon]\npatterns_dir = \"patterns\"\n\n{}\n  [[watch.rule]]\n  name = \"halted\"\n  when = \"match\"\n  pattern = \"halt\"\n",
        BASE
    );
    write(&main, &text);
    let c = load(&main).unwrap();
    assert_eq!(c.daemon.patterns_dir, dir.path().join("patterns"));
    let trading = c.watches[0]
        .packs
        .iter()
        .find(|p| p.name == "trading")
        .unwrap();
    assert_eq!(trading.origin, dir.path().join("patterns/trading.toml"));
    let names: Vec<&str> = trading.patterns.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["activity", "halt"]);
    assert_eq!(trading.patterns[0].literals, ["Heartbeat"]);
    assert!(c
        .files_read
        .contains(&dir.path().join("patterns/trading.toml")));
    // The shipped python-logging pack is still there, untouched.
    let python = &c.watches[0].packs[0];
    assert_eq!(python.origin, Path::new("<built-in>/python-logging.toml"));

    // The shipped trading pack's `disconnect` is gone with it.
    let text = text.replace("pattern = \"halt\"", "pattern = \"disconnect\"");
    write(&main, &text);
    let p = one_problem(load(&main).map_err(|e| e.problems));
    assert!(p.contains("uses pattern \"disconnect\""), "{p}");
}

#[test]
fn a_new_pack_in_patterns_dir_becomes_available_by_name() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("patterns/mybot.toml"), MY_TRADING);
    let main = dir.path().join("logwarden.toml");
    let text = format!(
        "[daemon]\npatterns_dir = \"patterns\"\n\n{}",
        BASE.replace("\"trading\"]", "\"mybot\"]")
    );
    write(&main, &text);
    let c = load(&main).unwrap();
    let packs: Vec<&str> = c.watches[0].packs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(packs, ["python-logging", "mybot"]);
}

#[test]
fn a_malformed_pack_in_patterns_dir_is_reported_with_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    let pack_path = dir.path().join("patterns/trading.toml");
    let pack = "[[pattern]]\nname = \"activity\"\nany = [\"VIX\"]\n\n[[pattern]]\nname = \"halt\"\nregex = ['trading(']\n";
    write(&pack_path, pack);
    let main = dir.path().join("logwarden.toml");
    write(
        &main,
        &format!("[daemon]\npatterns_dir = \"patterns\"\n\n{BASE}"),
    );
    let problems = load(&main).unwrap_err().problems;
    // The broken pack is reported where it breaks; the watch using it then names it unknown.
    eprintln!("{problems:#?}");
    assert!(!problems.is_empty());
    let first = &problems[0];
    let expected = at(&pack_path.display().to_string(), pack, "(']");
    assert!(expected.ends_with(":7:18"), "{expected}");
    assert_starts(first, &expected);
    assert!(
        first.contains("regex in pattern trading/halt does not compile"),
        "{first}"
    );

    let pack = "[[pattern]]\nname = \"activity\"\nanyy = [\"VIX\"]\n";
    write(&pack_path, pack);
    let problems = load(&main).unwrap_err().problems;
    assert_starts(&problems[0], &format!("{}:3:1", pack_path.display()));
    assert!(problems[0].contains("anyy"), "{problems:?}");
}

#[test]
fn a_rule_name_used_twice_in_one_watch_is_an_error() {
    let text = format!(
        "{BASE}\n  [[watch.rule]]\n  name = \"error-burst\"\n  when = \"stale\"\n  after = \"5m\"\n"
    );
    let p = one_problem(main_only(&text));
    let second = text.rfind("\"error-burst\"").unwrap();
    assert_starts(&p, &position("main.toml", &text, second));
    assert!(
        p.contains("rule \"error-burst\" is defined twice in watch \"bot\""),
        "{p}"
    );
}

#[test]
fn a_watch_name_used_twice_in_one_file_is_an_error() {
    let text = format!("{BASE}\n[[watch]]\nname = \"bot\"\nfiles = [\"/var/log/other.log\"]\n");
    let p = one_problem(main_only(&text));
    let second = text.rfind("\"bot\"").unwrap();
    assert_starts(&p, &position("main.toml", &text, second));
    assert!(p.contains("watch \"bot\" is defined twice"), "{p}");
}

#[test]
fn an_empty_journal_table_reads_the_unit_as_a_user_unit_when_it_is_restarted_as_one() {
    let watch = |restart: &str| {
        format!("[[watch]]\nname = \"bot\"\nunit = \"bot.service\"\n{restart}[watch.journal]\n")
    };
    let system = main_only(&watch("")).unwrap();
    let filter = &system.watches[0].journal.as_ref().unwrap().filter;
    assert_eq!(filter.units, ["bot.service"]);
    assert!(filter.user_units.is_empty());

    let user = main_only(&watch("[watch.restart]\nuser = \"bot\"\n")).unwrap();
    let filter = &user.watches[0].journal.as_ref().unwrap().filter;
    assert!(filter.units.is_empty());
    assert_eq!(filter.user_units, ["bot.service"]);

    // That user's unit only (by UID: no user database needed), not another's of that name.
    let by_uid = main_only(&watch("[watch.restart]\nuser = \"1000\"\n")).unwrap();
    let filter = &by_uid.watches[0].journal.as_ref().unwrap().filter;
    assert_eq!(filter.user_units, ["bot.service"]);
    assert_eq!(filter.matches, [("_UID".to_string(), "1000".to_string())]);
}

#[test]
fn probe_keys_of_another_kind_and_a_half_json_check_are_errors() {
    let text = format!(
        "{BASE}\n  [[watch.probe]]\n  name = \"disk\"\n  kind = \"disk\"\n  path = \"/\"\n  crash_loop = 3\n\n  [[watch.probe]]\n  name = \"health\"\n  kind = \"http\"\n  url = \"http://127.0.0.1:8000/health\"\n  json_field = \"status\"\n"
    );
    let problems = main_only(&text).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    let value = text.find("crash_loop = 3").unwrap() + "crash_loop = ".len();
    assert_starts(&problems[0], &position("main.toml", &text, value));
    assert!(
        problems[0].contains("`crash_loop` applies only to probes of kind = \"unit\""),
        "{problems:?}"
    );
    let value = text.find("json_field = ").unwrap() + "json_field = ".len();
    assert_starts(&problems[1], &position("main.toml", &text, value));
    assert!(
        problems[1].contains("set both json_field and json_equals"),
        "{problems:?}"
    );
}

#[test]
fn a_json_check_and_a_crash_loop_limit_are_read() {
    use super::recovery::{CrashLoopLimit, JsonCheck, ProbeKind};
    let text = "[[watch]]\nname = \"bot\"\nunit = \"bot.service\"\nfiles = [\"/var/log/bot.log\"]\n\
        [[watch.probe]]\nname = \"health\"\nkind = \"http\"\nurl = \"http://127.0.0.1:8000/health\"\n\
        json_field = \"status\"\njson_equals = \"ok\"\n\
        [[watch.probe]]\nname = \"loop\"\nkind = \"unit\"\ncrash_loop = 3\ncrash_window = \"5m\"\n";
    let c = main_only(text).unwrap();
    let probes = &c.watches[0].probes;
    assert_eq!(
        probes[0].kind,
        ProbeKind::Http {
            url: "http://127.0.0.1:8000/health".into(),
            json: Some(JsonCheck {
                field: "status".into(),
                equals: "ok".into()
            }),
        }
    );
    assert_eq!(
        probes[1].kind,
        ProbeKind::Unit {
            unit: "bot.service".into(),
            user: None,
            crash_loop: Some(CrashLoopLimit {
                restarts: 3,
                window: secs(300)
            }),
        }
    );
}

#[test]
fn a_cert_probe_is_read_and_its_mistakes_are_errors_at_their_place() {
    use super::recovery::{CertTarget, ProbeKind};
    let probe = |body: &str| {
        format!("[[watch]]\nname = \"site\"\nfiles = [\"/var/log/site.log\"]\n[[watch.probe]]\nname = \"cert\"\nkind = \"cert\"\n{body}")
    };
    let c = main_only(&probe(
        "url = \"https://example.org:8443\"\ncritical = \"3d\"\n",
    ))
    .unwrap();
    assert_eq!(
        c.watches[0].probes[0].kind,
        ProbeKind::Cert {
            target: CertTarget::Served {
                host: "example.org".into(),
                port: 8443
            },
            warning: secs(30 * 86_400),
            critical: secs(3 * 86_400),
            ca_file: None,
        }
    );
    let c = main_only(&probe("url = \"https://[::1]\"\n")).unwrap();
    assert!(matches!(
        &c.watches[0].probes[0].kind,
        ProbeKind::Cert { target: CertTarget::Served { host, port: 443 }, .. } if host == "::1"
    ));
    for (body, says) in [
        ("url = \"http://example.org\"\n", "url must be https://HOST"),
        (
            "url = \"https://example.org\"\nwarning = 80\n",
            "a time before expiry here",
        ),
        ("", "needs either `url`"),
        (
            "url = \"https://example.org\"\nwarning = \"5d\"\n",
            "critical must be at most warning",
        ),
    ] {
        let problems = main_only(&probe(body)).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains(says)),
            "{body}: {problems:?}"
        );
    }
    // A duration is for certificates; a disk probe takes percents.
    let text = "[[watch]]\nname = \"box\"\nfiles = [\"/var/log/box.log\"]\n[[watch.probe]]\nname = \"disk\"\nkind = \"disk\"\npath = \"/\"\nwarning = \"30d\"\n";
    let problems = main_only(text).unwrap_err();
    assert!(
        problems.iter().any(|p| p.contains("a percent here")),
        "{problems:?}"
    );
}

#[test]
fn a_long_ntfy_topic_is_redacted_as_a_secret_and_a_word_is_not() {
    let cfg = |topic: &str| {
        format!("[channels.push]\ntype = \"ntfy\"\ntopic = \"{topic}\"\n[[watch]]\nname = \"bot\"\nfiles = [\"/var/log/bot.log\"]\nnotify = [\"push\"]\n")
    };
    let c = main_only(&cfg("bot-alerts-7f3a9c")).unwrap();
    assert!(c.secret_values().contains(&"bot-alerts-7f3a9c"));
    let c = main_only(&cfg("alerts")).unwrap();
    assert!(!c.secret_values().contains(&"alerts"));
    let problems = main_only(&cfg("bad topic!")).unwrap_err();
    assert!(
        problems.iter().any(|p| p.contains("an ntfy topic is")),
        "{problems:?}"
    );
}

#[test]
fn a_webhook_body_template_must_stay_json_whatever_a_line_holds() {
    let cfg = |body: &str| {
        format!("[channels.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\nbody = '{body}'\n[[watch]]\nname = \"bot\"\nfiles = [\"/var/log/bot.log\"]\nnotify = [\"hook\"]\n")
    };
    let good = cfg(r#"{"text": "{watch}: {summary}", "sev": "{severity}"}"#);
    let c = main_only(&good).unwrap();
    let Some(ChannelKind::Webhook(w)) = c.channels.get("hook").map(|c| &c.kind) else {
        panic!("a webhook");
    };
    let body = w.body.as_ref().expect("a body");
    assert!(body.json && body.content_type == "application/json");
    // A placeholder outside a string: a line could add fields or break the JSON.
    let bare = cfg(r#"{"text": {summary}}"#);
    let p = problem_with(main_only(&bare), "body");
    assert_starts(&p, &at("main.toml", &bare, "'{\"text\""));
    assert!(p.contains("inside a JSON string"), "{p}");
    let unknown = cfg(r#"{"text": "{sumary}"}"#);
    problem_with(main_only(&unknown), "unknown placeholder {sumary}");
    // A body on another type is a key of the wrong type.
    let slack = good.replace("type = \"webhook\"", "type = \"slack\"");
    problem_with(
        main_only(&slack),
        "`body` does not apply to a slack channel",
    );
    // Another content type is not checked as JSON.
    let text = cfg("alert {watch}").replace("body =", "content_type = \"text/plain\"\nbody =");
    assert!(main_only(&text).is_ok());
}

#[test]
fn quiet_hours_load_and_their_settings_need_active() {
    let cfg = |keys: &str| {
        format!("[channels.phone]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\n{keys}\n[[watch]]\nname = \"bot\"\nfiles = [\"/var/log/bot.log\"]\nnotify = [\"phone\"]\n")
    };
    let c = main_only(&cfg(
        "active = \"Mon-Sun 07:00-22:00 Europe/Berlin\"\nquiet_min_severity = \"warning\"\nquiet = \"drop\"",
    ))
    .unwrap();
    let q = c.channels["phone"].quiet.as_ref().expect("quiet hours");
    assert_eq!(q.min_severity, Severity::Warning);
    assert_eq!(q.mode, crate::config::channels::QuietMode::Drop);
    let c = main_only(&cfg("active = \"Mon-Fri 08:00-20:00 UTC\"")).unwrap();
    let q = c.channels["phone"].quiet.as_ref().expect("quiet hours");
    assert_eq!(q.min_severity, Severity::Critical, "the default at night");
    assert_eq!(q.mode, crate::config::channels::QuietMode::Hold);
    let stray = cfg("quiet = \"hold\"");
    let p = problem_with(main_only(&stray), "apply outside");
    assert_starts(&p, &at("main.toml", &stray, "\"hold\""));
    assert!(p.contains("set `active"), "{p}");
    let bad = cfg("active = \"Mon-Sun 25:00-22:00 UTC\"");
    problem_with(main_only(&bad), "active:");
}

// ---------------------------------------------------------------- schedules

const SCHEDULED: &str = r#"
[[watch]]
name = "bot"
files = ["/var/log/bot.log"]
patterns = ["trading"]

  [[watch.rule]]
  name = "no-updates"
  when = "absent"
  pattern = "activity"
  window = "30m"
  active = "Mon-Fri 09:30-16:00 America/New_York; Sat 10:00-12:00 Europe/Pariss"
  holidays = ["2026-12-25", "2026-13-01"]
"#;

#[test]
fn schedule_errors_point_at_the_bad_range_and_the_bad_holiday() {
    let problems = main_only(SCHEDULED).expect_err("config should not load");
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_starts(&problems[0], &at("main.toml", SCHEDULED, "\"2026-13-01\""));
    assert!(problems[0].contains("not a date"), "{}", problems[0]);
    assert_starts(&problems[1], &at("main.toml", SCHEDULED, "Sat 10:00"));
    assert!(
        problems[1].contains("unknown time zone \"Europe/Pariss\""),
        "{}",
        problems[1]
    );
}

#[test]
fn holidays_without_a_schedule_are_an_error() {
    let text = SCHEDULED
        .replace(
            "  active = \"Mon-Fri 09:30-16:00 America/New_York; Sat 10:00-12:00 Europe/Pariss\"\n",
            "",
        )
        .replace(", \"2026-13-01\"", "");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "\"2026-12-25\""));
    assert!(p.contains("set `active"), "{p}");
}

#[test]
fn a_valid_schedule_loads() {
    let text = SCHEDULED
        .replace("Pariss", "Paris")
        .replace(", \"2026-13-01\"", "");
    let c = main_only(&text).expect("loads");
    let s = c.watches[0].rules[0].schedule.as_ref().expect("a schedule");
    assert!(s.is_active("2026-11-28T09:30:00Z".parse().unwrap())); // Sat 10:30 Paris
}

// ---------------------------------------------------------------- learning rules

const LEARNING: &str = r#"
[daemon]
state_dir = "/var/lib/lw"

[[watch]]
name = "bot"
files = ["/var/log/bot.log"]
patterns = ["python-logging"]

  [[watch.rule]]
  name = "new-errors"
  when = "new-kind"
  pattern = "error"
  learn = "2h"

  [[watch.rule]]
  name = "error-rate"
  when = "anomaly"
  pattern = "error"
  seasonal = true
  sensitivity = 5.0
"#;

#[test]
fn a_new_kind_header_regex_must_compile_and_belongs_to_new_kind_only() {
    let with = |kind: &str, header: &str| {
        format!("[[watch]]\nname = \"bot\"\nfiles = [\"/var/log/bot.log\"]\npatterns = [\"python-logging\"]\n  [[watch.rule]]\n  name = \"r\"\n  when = \"{kind}\"\n  pattern = \"error\"\n  header = '{header}'\n")
    };
    let c = main_only(&with("new-kind", r"^\S+ \S+ ")).expect("loads");
    assert!(matches!(
        rule_kind(&c, "bot", "r"),
        RuleKind::NewKind { header: Some(h), .. } if h == r"^\S+ \S+ "
    ));
    let bad = with("new-kind", "^(unclosed");
    let p = one_problem(main_only(&bad));
    assert_starts(&p, &at("main.toml", &bad, "'^(unclosed'"));
    assert!(p.contains("header regex does not compile"), "{p}");
    let rate = with("match", r"^\S+ ");
    assert!(one_problem(main_only(&rate)).contains("`header`"));
}

#[test]
fn learning_rules_load_with_defaults_and_a_state_file_per_rule() {
    let c = main_only(LEARNING).expect("loads");
    assert_eq!(
        rule_kind(&c, "bot", "new-errors"),
        RuleKind::NewKind {
            pattern: "error".into(),
            learn: secs(7200),
            max_templates: 1000,
            header: None,
            state_file: "/var/lib/lw/rules/bot/new-errors.json".into(),
        }
    );
    assert_eq!(
        rule_kind(&c, "bot", "error-rate"),
        RuleKind::Anomaly {
            pattern: "error".into(),
            sensitivity: 5.0,
            min_count: 10,
            seasonal: true,
            learn: secs(7 * 86_400),
            state_file: "/var/lib/lw/rules/bot/error-rate.json".into(),
        }
    );
}

#[test]
fn a_key_of_another_learning_rule_kind_is_an_error_at_the_key() {
    let text = LEARNING.replace("  learn = \"2h\"", "  learn = \"2h\"\n  sensitivity = 3.0");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "3.0"));
    assert!(p.contains("does not apply to a new-kind rule"), "{p}");
    let text = LEARNING.replace("sensitivity = 5.0", "sensitivity = -1.0");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "-1.0"));
}

#[test]
fn a_probe_takes_a_schedule_too() {
    let text = r#"
[[watch]]
name = "bot"
files = ["/var/log/bot.log"]

  [[watch.probe]]
  name = "mem"
  kind = "memory"
  active = "Mon-Fri 09:30-16:00 America/New_York"
"#;
    let c = main_only(text).expect("loads");
    assert!(c.watches[0].probes[0].schedule.is_some());
    let bad = text.replace("09:30-16:00", "09:30-16:60");
    let p = one_problem(main_only(&bad));
    // The position is the start of the bad range.
    assert_starts(&p, &at("main.toml", &bad, "Mon-Fri"));
    assert!(p.contains("\"16:60\" is not a time"), "{p}");
}

// ---------------------------------------------------------------- ranges

/// A config that sets every number and duration key once, each as `{{key}}` (replaced by
/// `RANGES`' good value, or by a bad one in the case under test).
const EVERY_NUMBER: &str = r#"
[daemon]
patterns_dir = "@PACKS@"
poll_interval = {{poll_interval}}
heartbeat_every = {{heartbeat_every}}

[alerts]
group_wait = {{alerts.group_wait}}
repeat = {{repeat}}
retry_max = {{retry_max}}
spool_max = {{spool_max}}

[channels.mail]
type = "email"
host = "localhost"
port = {{port}}
from = "lw@example.org"
to = ["ops@example.org"]
group_wait = {{group_wait}}
fallback_after = {{fallback_after}}
timeout = {{timeout}}
rate_limit = {{rate_limit}}

[channels.am]
type = "alertmanager"
urls = ["http://127.0.0.1:9093"]
resend = {{resend}}

[[watch]]
name = "bot"
unit = "bot.service"
files = ["/var/log/bot.log"]
patterns = ["python-logging", "trading"]
notify = ["mail", "am"]
max_line_bytes = {{max_line_bytes}}

  [watch.multiline]
  kind = "python"
  timeout = {{multiline.timeout}}
  max_lines = {{max_lines}}

  [watch.restart]
  stop_timeout = {{stop_timeout}}
  verify_after = {{verify_after}}
  max_restarts = {{max_restarts}}
  window = {{restart.window}}
  backoff = {{backoff}}
  backoff_max = {{backoff_max}}
  healthy_after = {{healthy_after}}
  startup_grace = {{startup_grace}}

  [[watch.probe]]
  name = "api"
  kind = "http"
  url = "http://127.0.0.1:8080/health"
  every = {{every}}
  timeout = {{probe.timeout}}
  failures = {{failures}}

  [[watch.probe]]
  name = "beat"
  kind = "heartbeat"
  path = "/run/bot/heartbeat"
  max_age = {{max_age}}

  [[watch.probe]]
  name = "unit"
  kind = "unit"
  crash_loop = {{crash_loop}}
  crash_window = {{crash_window}}

  [[watch.probe]]
  name = "disk"
  kind = "disk"
  path = "/"
  warning = {{warning}}
  critical = 95.0

  [[watch.rule]]
  name = "burst"
  when = "rate"
  pattern = "error"
  threshold = {{threshold}}
  resolve_below = {{resolve_below}}
  window = {{rate.window}}

  [[watch.rule]]
  name = "stale"
  when = "stale"
  after = {{after}}

  [[watch.rule]]
  name = "quiet"
  when = "absent"
  pattern = "error"
  min = {{min}}
  window = {{absent.window}}

  [[watch.rule]]
  name = "crit"
  when = "match"
  pattern = "critical"
  cooldown = {{cooldown}}

  [[watch.rule]]
  name = "new"
  when = "new-kind"
  pattern = "error"
  learn = {{learn}}
  max_templates = {{max_templates}}

  [[watch.rule]]
  name = "odd"
  when = "anomaly"
  pattern = "error"
  sensitivity = {{sensitivity}}
  min_count = {{min_count}}
  learn = {{anomaly.learn}}

[[watch]]
name = "web"
files = ["/var/log/nginx/access.log"]
patterns = ["access"]

  [[watch.rule]]
  name = "fast"
  when = "value"
  pattern = "request"
  field = "request_time"
  aggregate = "p50"
  window = "5m"
  below = {{below}}
  resolve_above = {{resolve_above}}
  by = "endpoint"
  max_labels = {{max_labels}}

  [[watch.rule]]
  name = "5xx"
  when = "ratio"
  pattern = "server-error"
  over = "request"
  above = {{ratio.above}}
  window = "5m"
"#;

/// Each `{{key}}` of `EVERY_NUMBER`: a value in range, values out of it, and the words of the
/// error (docs/config.md lists the same ranges).
const RANGES: &[(&str, &str, &[&str], &str)] = &[
    (
        "poll_interval",
        "\"1s\"",
        &["\"49ms\"", "\"2m\""],
        "poll_interval must be between 50ms and 1m",
    ),
    (
        "heartbeat_every",
        "\"5m\"",
        &["\"0s\"", "\"2d\""],
        "heartbeat_every must be between 100ms and 1d",
    ),
    (
        "alerts.group_wait",
        "\"10s\"",
        &["\"1000000000d\""],
        "group_wait must be between 0s and 1h",
    ),
    (
        "repeat",
        "\"4h\"",
        &["\"59s\"", "\"31d\""],
        "repeat must be between 1m and 30d",
    ),
    (
        "retry_max",
        "\"5m\"",
        &["\"0s\"", "\"2d\""],
        "retry_max must be between 1s and 1d",
    ),
    (
        "spool_max",
        "100",
        &["0", "1000001"],
        "spool_max must be between 1 and 1000000",
    ),
    (
        "port",
        "587",
        &["0", "65536"],
        "port must be between 1 and 65535",
    ),
    (
        "group_wait",
        "\"0s\"",
        &["\"2h\""],
        "group_wait must be between 0s and 1h",
    ),
    (
        "fallback_after",
        "\"1m\"",
        &["\"1000000000d\""],
        "fallback_after must be between 0s and 1d",
    ),
    (
        "timeout",
        "\"30s\"",
        &["\"0s\"", "\"11m\""],
        "timeout must be between 100ms and 10m",
    ),
    (
        "rate_limit",
        "\"20/1h\"",
        &["\"0/1h\"", "\"10001/1h\"", "\"1/2d\""],
        "rate_limit",
    ),
    (
        "resend",
        "\"1m\"",
        &["\"0s\"", "\"1000000000d\""],
        "resend must be between 1s and 1d",
    ),
    (
        "max_line_bytes",
        "65536",
        &["255", "16777217"],
        "max_line_bytes must be between 256 and 16777216",
    ),
    (
        "multiline.timeout",
        "\"300ms\"",
        &["\"0s\"", "\"61s\""],
        "multiline timeout must be between 10ms and 1m",
    ),
    (
        "max_lines",
        "500",
        &["0", "100001"],
        "max_lines must be between 1 and 100000",
    ),
    (
        "stop_timeout",
        "\"2s\"",
        &["\"0s\"", "\"11m\""],
        "stop_timeout must be between 100ms and 10m",
    ),
    (
        "verify_after",
        "\"10s\"",
        &["\"0s\"", "\"2h\""],
        "verify_after must be between 100ms and 1h",
    ),
    (
        "max_restarts",
        "3",
        &["0", "101"],
        "max_restarts must be between 1 and 100",
    ),
    (
        "restart.window",
        "\"1h\"",
        &["\"0s\"", "\"31d\""],
        "window must be between 1s and 30d",
    ),
    (
        "backoff",
        "\"10s\"",
        &["\"0s\"", "\"2d\""],
        "backoff must be between 1s and 1d",
    ),
    (
        "backoff_max",
        "\"5m\"",
        &["\"8d\""],
        "backoff_max must be between 1s and 7d",
    ),
    (
        "healthy_after",
        "\"10m\"",
        &["\"0s\"", "\"31d\""],
        "healthy_after must be between 1s and 30d",
    ),
    (
        "startup_grace",
        "\"30s\"",
        &["\"1000000000d\""],
        "startup_grace must be between 0s and 1h",
    ),
    (
        "every",
        "\"1m\"",
        &["\"0s\"", "\"2d\""],
        "every must be between 100ms and 1d",
    ),
    (
        "probe.timeout",
        "\"10s\"",
        &["\"0s\"", "\"11m\""],
        "timeout must be between 100ms and 10m",
    ),
    (
        "failures",
        "3",
        &["0", "1001"],
        "failures must be between 1 and 1000",
    ),
    (
        "max_age",
        "\"5m\"",
        &["\"0s\"", "\"31d\""],
        "max_age must be between 1s and 30d",
    ),
    (
        "crash_loop",
        "5",
        &["0", "1001"],
        "crash_loop must be between 1 and 1000",
    ),
    (
        "crash_window",
        "\"10m\"",
        &["\"9s\"", "\"8d\""],
        "crash_window must be between 10s and 7d",
    ),
    (
        "warning",
        "80.0",
        &["-1.0", "101.0"],
        "warning and critical are percents",
    ),
    (
        "threshold",
        "10",
        &["1000001"],
        "threshold must be between 0 and 1000000",
    ),
    (
        "resolve_below",
        "5",
        &["0", "12"],
        "resolve_below must be between 1 and threshold + 1",
    ),
    (
        "rate.window",
        "\"1m\"",
        &["\"0s\"", "\"1000000000d\""],
        "window must be between 100ms and 30d",
    ),
    (
        "after",
        "\"5m\"",
        &["\"0s\"", "\"31d\""],
        "after must be between 100ms and 30d",
    ),
    (
        "min",
        "1",
        &["0", "1000001"],
        "min must be between 1 and 1000000",
    ),
    (
        "absent.window",
        "\"10m\"",
        &["\"0s\"", "\"31d\""],
        "window must be between 100ms and 30d",
    ),
    (
        "cooldown",
        "\"1m\"",
        &["\"8d\""],
        "cooldown must be between 0s and 7d",
    ),
    (
        "learn",
        "\"1h\"",
        &["\"91d\""],
        "learn must be between 0s and 90d",
    ),
    (
        "max_templates",
        "1000",
        &["0", "100001"],
        "max_templates must be between 1 and 100000",
    ),
    (
        "sensitivity",
        "4.0",
        &["0.0", "101.0"],
        "sensitivity must be a z-score above 0 and at most 100",
    ),
    (
        "min_count",
        "10",
        &["0", "1000001"],
        "min_count must be between 1 and 1000000",
    ),
    (
        "anomaly.learn",
        "\"1d\"",
        &["\"1000000000d\""],
        "learn must be between 0s and 90d",
    ),
    ("below", "0.05", &["nan", "inf"], "below must be a number"),
    ("resolve_above", "0.1", &["0.01", "nan"], "resolve_above"),
    (
        "max_labels",
        "50",
        &["0", "1001"],
        "max_labels must be between 1 and 1000",
    ),
    ("ratio.above", "0.01", &["-0.5", "nan"], "above"),
];

/// `EVERY_NUMBER` with every key at its good value except `key`, set to `value`.
fn every_number_with(key: &str, value: &str) -> String {
    let packs = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/packs");
    let mut text = EVERY_NUMBER.replace("@PACKS@", packs);
    for (k, good, _, _) in RANGES {
        text = text.replace(
            &format!("{{{{{k}}}}}"),
            if *k == key { value } else { good },
        );
    }
    assert!(
        !text.contains("{{"),
        "a key of EVERY_NUMBER has no row: {text}"
    );
    text
}

#[test]
fn every_number_and_duration_has_a_range_checked_at_its_place() {
    main_only(&every_number_with("", "")).expect("every good value loads");
    for (key, _, bads, words) in RANGES {
        for bad in *bads {
            let text = every_number_with(key, bad);
            let mut problems = main_only(&text).expect_err(&format!("{key} = {bad} must not load"));
            // A refused channel is also unknown to the watch that notifies it; a backoff
            // above its range is also above backoff_max.
            problems
                .retain(|p| !p.contains("unknown channel") && !p.contains("shorter than backoff"));
            assert_eq!(problems.len(), 1, "{key} = {bad}: {problems:#?}");
            let p = &problems[0];
            // The percent check of a disk probe points at the probe, the rest at the value.
            let place = if *key == "warning" {
                at("main.toml", &text, "\"disk\"")
            } else {
                position("main.toml", &text, value_offset(&text, key, bad))
            };
            assert_starts(p, &place);
            assert!(p.contains(words), "{key} = {bad}: {p}");
        }
    }
}

/// Where `bad`, the value of `key` (the last part of it, after a `.`), is in `text`.
fn value_offset(text: &str, key: &str, bad: &str) -> usize {
    let name = key.rsplit('.').next().unwrap_or(key);
    let needle = format!("{name} = {bad}\n");
    let line = text
        .find(&needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the config"));
    line + name.len() + 3
}

#[test]
fn a_listen_reachable_from_other_machines_needs_a_token_or_an_opt_in() {
    let open = format!("[daemon]\nlisten = \"0.0.0.0:9107\"\n{BASE}");
    let p = one_problem(main_only(&open));
    assert_starts(&p, &at("main.toml", &open, "\"0.0.0.0:9107\""));
    assert!(p.contains("listen_token_file"), "{p}");
    let opted = open.replace("listen = ", "listen_unauthenticated = true\nlisten = ");
    let c = main_only(&opted).expect("an explicit opt-in loads");
    assert!(c.daemon.http.token.is_none());
    let inline = open.replace(
        "listen = ",
        "listen_token = \"0123456789abcdef0123\"\nlisten = ",
    );
    let c = main_only(&inline).expect("a token loads");
    assert!(c.daemon.http.token.is_some());
    assert!(c.secret_values().contains(&"0123456789abcdef0123"));
    let short = open.replace("listen = ", "listen_token = \"short\"\nlisten = ");
    assert!(one_problem(main_only(&short)).contains("at least 16 characters"));
    // Loopback needs nothing; names given for Host are checked and kept in lower case.
    let lo = format!(
        "[daemon]\nlisten = \"127.0.0.1:9107\"\nlisten_hosts = [\"Bot.Example.org\"]\n{BASE}"
    );
    let c = main_only(&lo).expect("loopback loads");
    assert_eq!(c.daemon.http.hosts, vec!["bot.example.org".to_string()]);
    let bad = lo.replace("Bot.Example.org", "http://evil/");
    let p = one_problem(main_only(&bad));
    assert_starts(&p, &at("main.toml", &bad, "\"http://evil/\""));
}

#[test]
fn every_number_key_of_the_schema_has_a_row_in_the_range_table() {
    // A key added to raw.rs without a range (and a row above) fails here.
    let schema = include_str!("raw.rs");
    let mut missing = Vec::new();
    for line in schema.lines() {
        let Some((name, ty)) = line
            .trim()
            .strip_prefix("pub ")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        let numeric = ["Located<ConfigDuration>", "Located<u64>", "Located<f64>"]
            .iter()
            .any(|t| ty.contains(t));
        // `critical` is checked with `warning` (one message for the pair).
        if !numeric || name == "critical" {
            continue;
        }
        if !RANGES
            .iter()
            .any(|(k, ..)| k.rsplit('.').next() == Some(name))
        {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "no range row for: {missing:?}");
}

#[test]
fn incident_apart_is_read_from_a_rule_and_a_drop_in_and_a_wrong_value_is_placed() {
    let main = format!("{BASE}  incident = \"apart\"\n");
    let c = main_only(&main).unwrap();
    assert!(c.watches[0].rules[0].apart);
    let c = with_dropin(
        BASE,
        "[[watch]]\nname = \"bot\"\n  [[watch.rule]]\n  name = \"error-burst\"\n  incident = \"apart\"\n",
    )
    .unwrap();
    assert!(c.watches[0].rules[0].apart, "merged from the drop-in");
    assert!(
        !main_only(BASE).unwrap().watches[0].rules[0].apart,
        "fold by default"
    );
    let bad = format!("{BASE}  incident = \"maybe\"\n");
    let p = one_problem(main_only(&bad));
    assert_starts(&p, &at("main.toml", &bad, "\"maybe\""));
    assert!(p.contains("expected `fold` or `apart`"), "{p}");
}

/// A watch of the access pack (`tests/packs/access.toml`) with one value rule whose keys
/// after `pattern` are `keys`.
fn value_rule(keys: &str) -> String {
    let packs = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/packs");
    format!(
        "[daemon]\npatterns_dir = \"{packs}\"\n\n[[watch]]\nname = \"web\"\nfiles = [\"/var/log/a.log\"]\npatterns = [\"access\"]\n\n  [[watch.rule]]\n  name = \"slow\"\n  when = \"value\"\n  pattern = \"request\"\n  aggregate = \"p95\"\n  window = \"5m\"\n{keys}"
    )
}

#[test]
fn value_rules_read_their_source_unit_and_bounds() {
    let c = main_only(&value_rule(
        "  json = \"http.duration_ms\"\n  unit = \"ms\"\n  below = 0.5\n  by = \"route\"\n",
    ))
    .expect("loads");
    let RuleKind::Value(v) = &c.watches[0].rules[0].kind else {
        panic!("a value rule")
    };
    assert_eq!(v.from, crate::config::FieldFrom::Json);
    assert_eq!(v.scale, 1e-3);
    assert_eq!(v.bound, crate::config::Bound::Below(0.5));
    assert_eq!(v.resolve_at, 0.5, "resolve_above defaults to the threshold");
    assert_eq!(v.max_labels, crate::config::types::DEFAULT_MAX_LABELS);
}

#[test]
fn value_rule_mistakes_are_reported_at_their_key() {
    // A label group the capturing regex lacks.
    let text = value_rule("  field = \"request_time\"\n  above = 2.0\n  by = \"user\"\n");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "\"user\""));
    assert!(p.contains("by \"user\" must be a named group"), "{p}");
    // Two sources, two bounds.
    let text = value_rule("  field = \"request_time\"\n  logfmt = \"t\"\n  above = 2.0\n");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "\"t\""));
    assert!(p.contains("give one of `field`, `json`, `logfmt`"), "{p}");
    let text = value_rule("  field = \"request_time\"\n  above = 2.0\n  below = 1.0\n");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "1.0\n"));
    // A JSON path with an empty part; a resolve bound past the threshold.
    let text = value_rule("  json = \"http..ms\"\n  above = 2.0\n");
    let p = one_problem(main_only(&text));
    assert_starts(&p, &at("main.toml", &text, "\"http..ms\""));
    assert!(p.contains("empty part"), "{p}");
    let text = value_rule("  field = \"request_time\"\n  above = 2.0\n  resolve_below = 3.0\n");
    let p = one_problem(main_only(&text));
    assert!(p.contains("lies past the threshold"), "{p}");
    // A rate rule's resolve_below stays a whole number.
    let text = BASE.replace("threshold = 10", "threshold = 10\n  resolve_below = 2.5");
    let p = one_problem(main_only(&text));
    assert!(
        p.contains("resolve_below must be between 1 and threshold + 1"),
        "{p}"
    );
}

// Telegram control (docs/telegram.md).

fn telegram_channel(extra: &str) -> String {
    format!(
        r#"
[[watch]]
name = "bot"
files = ["/var/log/bot.log"]
notify = ["phone"]

[channels.phone]
type = "telegram"
token = "123:abc"
chat_id = 4242
{extra}
"#
    )
}

#[test]
fn telegram_control_takes_numeric_users_and_refuses_what_would_take_no_command() {
    let c = main_only(&telegram_channel(
        "control = true\ncontrol_users = [111, 222]",
    ))
    .unwrap();
    let crate::config::ChannelKind::Telegram(t) = &c.channels["phone"].kind else {
        panic!("not telegram");
    };
    assert_eq!(
        t.control.as_ref().map(|c| c.users.clone()),
        Some(vec![111, 222])
    );
    let text = telegram_channel("control = true");
    assert_starts(
        &problem_with(main_only(&text), "control_users"),
        &at("main.toml", &text, "true"),
    );
    let text = telegram_channel("control_users = [111]");
    assert!(problem_with(main_only(&text), "without control = true").contains("takes no commands"));
    let text = telegram_channel("control = true\ncontrol_users = []");
    assert!(problem_with(main_only(&text), "empty").contains("nobody"));
    let text = telegram_channel("control = true\ncontrol_users = [-5]");
    assert_starts(
        &problem_with(main_only(&text), "not a Telegram user id"),
        &at("main.toml", &text, "-5"),
    );
    let text =
        telegram_channel("control = true\ncontrol_users = [1]").replace("4242", "\"@alerts\"");
    assert!(problem_with(main_only(&text), "numeric chat_id").contains("@channel"));
}

#[test]
fn a_slack_channel_is_a_webhook_or_a_bot_token_with_a_channel_never_both() {
    let cfg = |keys: &str| {
        format!("[channels.team]\ntype = \"slack\"\n{keys}\n[[watch]]\nname = \"bot\"\nfiles = [\"/var/log/bot.log\"]\nnotify = [\"team\"]\n")
    };
    let team = |c: &Config| match c.channels.get("team").map(|c| &c.kind) {
        Some(ChannelKind::Slack(s)) => s.target.clone(),
        _ => panic!("a slack channel"),
    };
    use crate::config::channels::SlackTarget;
    let hook = main_only(&cfg("url = \"https://hooks.slack.com/services/T0/B0/x\"")).unwrap();
    assert!(matches!(team(&hook), SlackTarget::Webhook(_)));
    let bot = main_only(&cfg("token = \"xoxb-1-2-abc\"\nchannel = \"C0123ABCD\"")).unwrap();
    let SlackTarget::Bot {
        token,
        channel,
        api_url,
    } = team(&bot)
    else {
        panic!("a bot");
    };
    assert_eq!(token.expose(), "xoxb-1-2-abc");
    assert_eq!(channel, "C0123ABCD");
    assert_eq!(api_url, "https://slack.com/api");
    assert!(bot.secret_values().contains(&"xoxb-1-2-abc"));
    let local = main_only(&cfg(
        "token = \"xoxb-1\"\nchannel = \"C1\"\napi_url = \"http://127.0.0.1:9/api/\"",
    ))
    .unwrap();
    assert!(
        matches!(team(&local), SlackTarget::Bot { api_url, .. } if api_url == "http://127.0.0.1:9/api")
    );
    problem_with(
        main_only(&cfg(
            "url = \"https://hooks.slack.com/x\"\ntoken = \"xoxb-1\"\nchannel = \"C1\"",
        )),
        "not both",
    );
    problem_with(main_only(&cfg("token = \"xoxb-1\"")), "needs `channel");
    problem_with(main_only(&cfg("channel = \"C1\"")), "needs `token_file");
    problem_with(main_only(&cfg("")), "needs `url");
    problem_with(
        main_only(&cfg(
            "url = \"https://hooks.slack.com/x\"\napi_url = \"http://x\"",
        )),
        "api_url applies to a bot",
    );
}
