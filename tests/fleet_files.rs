//! The fleet files in `examples/`: the Prometheus alerting rules pass `promtool check rules`
//! and their unit tests (`promtool test rules`), every metric they query is one a real
//! logwarden's `/metrics` exposes, with the labels their summaries name; the Alertmanager
//! routing passes `amtool check-config`; the Grafana dashboard is JSON whose every query uses
//! metrics `/metrics` has.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{append, config_dir, Daemon};

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} (bash scripts/deps.sh --test installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_prometheus_rules_pass_promtool_and_their_unit_tests() {
    let dir = examples().join("prometheus");
    run(&dir, "promtool", &["check", "rules", "logwarden-rules.yml"]);
    run(
        &dir,
        "promtool",
        &["test", "rules", "logwarden-rules.test.yml"],
    );
}

#[test]
fn the_alertmanager_routing_passes_amtool() {
    let dir = examples().join("alertmanager");
    run(&dir, "amtool", &["check-config", "alertmanager.yml"]);
}

/// Every `logwarden_*` metric in the rules is in a real scrape, with the labels the rule's
/// summary names (`{{ $labels.X }}`, `instance` and `job` aside: Prometheus adds them).
#[test]
fn every_metric_and_label_the_rules_use_is_in_a_real_scrape() {
    let port = common::free_port();
    let (dir, config) = config_dir(&format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"
listen = "127.0.0.1:{port}"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]
notify = ["console"]

  [[watch.rule]]
  name = "every-error"
  when = "match"
  pattern = "error"
"#
    ));
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(
        &log,
        &["2026-11-23 09:41:42,123 - bot - ERROR - one".to_string()],
    );
    d.wait_alert("every-error", "event", Duration::from_secs(10));
    let (code, scrape) = common::http_get(port, "/metrics").expect("/metrics");
    assert_eq!(code, 200, "{scrape}");

    let rules = std::fs::read_to_string(examples().join("prometheus/logwarden-rules.yml")).unwrap();
    let mut checked = BTreeSet::new();
    for block in rules.split("- alert:").skip(1) {
        let metric = block
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .find(|w| w.starts_with("logwarden_"));
        let Some(metric) = metric else { continue };
        assert!(
            scrape.contains(&format!("# TYPE {metric} ")),
            "{metric} is not in /metrics:\n{scrape}"
        );
        let labels: Vec<&str> = block
            .match_indices("$labels.")
            .map(|(i, _)| {
                let rest = &block[i + "$labels.".len()..];
                &rest[..rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len())]
            })
            .filter(|l| *l != "instance" && *l != "job")
            .collect();
        // A sample of it, if this scrape has one, must carry each label.
        if let Some(sample) = scrape
            .lines()
            .find(|l| l.starts_with(&format!("{metric}{{")))
        {
            for label in &labels {
                assert!(
                    sample.contains(&format!("{label}=\"")),
                    "{metric} has no label {label}: {sample}"
                );
            }
        }
        checked.insert(metric.to_string());
    }
    assert!(checked.len() >= 6, "rules checked: {checked:?}");
    println!("metrics the rules use, all in /metrics: {checked:?}");

    // The Grafana dashboard: valid JSON, and every metric of every query is in the scrape.
    let text = std::fs::read_to_string(examples().join("grafana/logwarden.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs: Vec<String> = dash["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    exprs.extend(
        dash["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["definition"].as_str().map(str::to_string)),
    );
    assert!(exprs.len() >= 8, "{exprs:?}");
    let mut used = BTreeSet::new();
    for e in &exprs {
        for metric in e
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("logwarden_"))
        {
            assert!(
                scrape.contains(&format!("# TYPE {metric} ")),
                "the dashboard queries {metric}, which /metrics does not have: {e}"
            );
            used.insert(metric.to_string());
        }
    }
    println!("metrics the dashboard uses, all in /metrics: {used:?}");
}
