//! The status page at `/`: the `/status` report as one server-rendered HTML page for a
//! person with a browser or a phone. Per watch: its state, each source's last line, the open
//! alerts, rules and probes with their last result, restarts with their reasons, and a chart
//! of matches per minute over the last day per pattern (`chart.rs`).
//!
//! It shows only what `/status` reports (already redacted of secrets), plus the per-minute
//! counts of the patterns `/status` names. Every text from config or logs is HTML-escaped
//! with `html::escape`. No script, no external asset (it works offline), and it reloads itself
//! every 30 seconds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::core::html::escape;
use crate::core::rule_names::RESTART_RULE;
use crate::core::timefmt::rfc3339;
use crate::telemetry::chart;
use crate::telemetry::history::{unix_minute, PatternHistory, MINUTES};
use crate::telemetry::status::{StatusReport, WatchState, WatchStatus};
use crate::telemetry::Telemetry;

/// Bytes the day charts' paths of a page may take together (each drawn series gets its
/// share; the hour charts, at most 60 points a series, come on top):
/// keeps the page well under 100 KB with several watches and busy patterns.
const CHART_BUDGET: usize = 40 * 1024;

/// A quoted text (an alert summary, a reason) is cut to this many characters on the page.
const MAX_TEXT: usize = 300;

/// Restarts listed per watch (the newest).
const MAX_RESTARTS: usize = 10;

/// Recent alerts (other than restarts) listed per watch (the newest).
const MAX_RECENT: usize = 5;

const STYLE: &str = "\
body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:8px;color:#222;background:#f6f6f4}\
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:0 0 .4em}h3{font-size:1em;margin:.8em 0 .2em;color:#555}\
section{background:#fff;border:1px solid #ddd;border-left:6px solid #2b8a3e;border-radius:4px;padding:8px 12px;margin:10px 0}\
section.w-warning{border-left-color:#e67700}section.w-critical{border-left-color:#c92a2a}\
.st{display:inline-block;padding:0 .5em;border-radius:3px;color:#fff;font-size:.85em;vertical-align:middle}\
.ok{background:#2b8a3e}.warning{background:#e67700}.critical{background:#c92a2a}.info{background:#1971c2}\
table{border-collapse:collapse;width:100%;font-size:.92em}td,th{text-align:left;padding:2px 6px;border-bottom:1px solid #eee;vertical-align:top}\
td.n{text-align:right;white-space:nowrap}.muted{color:#777}.wrap{overflow-x:auto}\
.chart{width:100%;height:120px;background:#fafafa;border:1px solid #eee;display:block}\
.axis{display:flex;justify-content:space-between;font-size:.8em;color:#777}\
.sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;vertical-align:middle}\
code{font-size:.9em;word-break:break-all}\
@media(max-width:600px){body{font-size:14px;padding:4px}td,th{padding:2px 3px}.hide-s{display:none}}";

/// `escape` of `s` cut to `MAX_TEXT` characters.
fn quote(s: &str) -> String {
    match s.char_indices().nth(MAX_TEXT) {
        Some((i, _)) => format!("{}…", escape(&s[..i])),
        None => escape(s),
    }
}

/// "4s", "12m", "3h 5m", "2d 4h": how long `d` is, for a glance.
fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn state_word(s: WatchState) -> &'static str {
    match s {
        WatchState::Ok => "ok",
        WatchState::Warning => "warning",
        WatchState::Critical => "critical",
    }
}

/// How long ago `t` was, as seen at `now` (a time in the future reads as 0s).
fn ago(now: SystemTime, t: SystemTime) -> String {
    age(now.duration_since(t).unwrap_or_default())
}

impl Telemetry {
    /// The status page, now.
    pub fn status_page(&self) -> String {
        let now = SystemTime::now();
        render(&self.status(), &self.match_history(unix_minute(now)), now)
    }
}

/// The page of `report`, with the charts of `history` (per watch), as seen at `now`.
pub fn render(
    report: &StatusReport,
    history: &BTreeMap<String, Vec<PatternHistory>>,
    now: SystemTime,
) -> String {
    let drawn: usize = report
        .watches
        .iter()
        .map(|w| drawn(history.get(&w.name)).len())
        .sum();
    let budget = CHART_BUDGET / drawn.max(1);
    let mut out = String::with_capacity(16 * 1024);
    out.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"30\">",
    );
    let worst = report.watches.iter().map(|w| w.state).max();
    let _ = write!(
        out,
        "<title>logwarden: {}</title><style>{STYLE}</style></head><body><h1>logwarden</h1><p>",
        state_word(worst.unwrap_or(WatchState::Ok))
    );
    if report.healthy {
        out.push_str("<span class=\"st ok\">healthy</span>");
    } else {
        out.push_str("<span class=\"st critical\">not healthy</span>");
    }
    let _ = write!(
        out,
        " <span class=\"muted\">started {} · page of {} (reloads every 30 s)</span></p>",
        escape(&report.started_at),
        rfc3339(now)
    );
    if !report.problems.is_empty() {
        out.push_str("<ul>");
        for p in &report.problems {
            let _ = write!(out, "<li>{}</li>", quote(p));
        }
        out.push_str("</ul>");
    }
    silences(&mut out, report);
    if report.watches.is_empty() {
        out.push_str("<p>No watch is configured.</p>");
    }
    for w in &report.watches {
        watch(&mut out, w, history.get(&w.name), budget, now);
    }
    out.push_str("<p class=\"muted\">The same as JSON: <code>/status</code>; metrics: <code>/metrics</code>.</p></body></html>\n");
    out
}

/// The active silences and the operator file's error, if any.
fn silences(out: &mut String, report: &StatusReport) {
    if let Some(e) = &report.operator_error {
        let _ = write!(out, "<p><b>Silences:</b> {}</p>", quote(e));
    }
    if report.silences.is_empty() {
        return;
    }
    out.push_str("<section><h2>Silences</h2><div class=\"wrap\"><table><tr><th>id</th><th>scope</th><th>until</th><th>who</th><th>reason</th></tr>");
    for s in &report.silences {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.id),
            escape(&s.scope),
            escape(&s.ends_at),
            escape(&s.who),
            quote(&s.reason)
        );
    }
    out.push_str("</table></div></section>");
}

/// The series of a watch the chart draws: those that matched in the day, busiest first, at
/// most as many as there are colours.
fn drawn(history: Option<&Vec<PatternHistory>>) -> Vec<&PatternHistory> {
    let mut v: Vec<(&PatternHistory, u64)> = history
        .into_iter()
        .flatten()
        .map(|h| (h, h.per_minute.iter().map(|&n| u64::from(n)).sum::<u64>()))
        .filter(|(_, n)| *n > 0)
        .collect();
    v.sort_by_key(|h| std::cmp::Reverse(h.1));
    v.into_iter()
        .take(chart::COLOURS.len())
        .map(|(h, _)| h)
        .collect()
}

/// One watch's section.
fn watch(
    out: &mut String,
    w: &WatchStatus,
    history: Option<&Vec<PatternHistory>>,
    budget: usize,
    now: SystemTime,
) {
    let st = state_word(w.state);
    let _ = write!(
        out,
        "<section class=\"w-{st}\"><h2>{} <span class=\"st {st}\">{st}</span></h2>",
        escape(&w.name)
    );
    sources(out, w);
    open_alerts(out, w, now);
    checks(out, w, now);
    restarts(out, w, now);
    recent(out, w, now);
    matches(out, w, history, budget);
    out.push_str("</section>");
}

fn sources(out: &mut String, w: &WatchStatus) {
    out.push_str("<h3>Sources</h3><div class=\"wrap\"><table><tr><th>source</th><th>last line</th><th class=\"hide-s\">lines</th><th class=\"hide-s\">behind</th></tr>");
    if w.sources.is_empty() {
        out.push_str("<tr><td colspan=\"4\" class=\"muted\">none running</td></tr>");
    }
    for s in &w.sources {
        let last = match s.last_line_seconds {
            Some(secs) => {
                let d = Duration::try_from_secs_f64(secs).unwrap_or_default();
                format!("{} ago", age(d))
            }
            None => "none yet".to_string(),
        };
        let behind = match (s.lag_bytes, s.lag_seconds) {
            (Some(b), _) => format!("{b} B"),
            (None, Some(secs)) => format!("{secs:.0} s"),
            (None, None) => String::new(),
        };
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"n\">{last}</td><td class=\"n hide-s\">{}</td><td class=\"n hide-s\">{behind}</td></tr>",
            escape(&s.source),
            s.lines
        );
    }
    out.push_str("</table></div>");
}

fn open_alerts(out: &mut String, w: &WatchStatus, now: SystemTime) {
    let firing: Vec<_> = w.rules.iter().filter(|(_, r)| r.firing).collect();
    out.push_str("<h3>Open alerts</h3>");
    if firing.is_empty() {
        out.push_str("<p class=\"muted\">none</p>");
        return;
    }
    out.push_str("<table>");
    for (name, r) in firing {
        let sev = r.severity.label().to_ascii_lowercase();
        let _ = write!(
            out,
            "<tr><td><span class=\"st {sev}\">{sev}</span> <b>{}</b>",
            escape(name),
        );
        if let Some(id) = &r.silenced {
            let _ = write!(
                out,
                " <span class=\"st info\">silenced {}</span>",
                escape(id)
            );
        }
        if let Some(who) = &r.acked_by {
            let _ = write!(
                out,
                " <span class=\"st info\">acked by {}</span>",
                escape(who)
            );
        }
        let _ = write!(out, "</td><td>{}", quote(&r.summary));
        // The line behind it, from the rule's last alert.
        let line = w
            .recent_alerts
            .iter()
            .rev()
            .find(|a| &a.rule == name)
            .and_then(|a| a.line.as_deref());
        if let Some(line) = line {
            let _ = write!(out, "<br><code>{}</code>", quote(line));
        }
        let _ = write!(
            out,
            "</td><td class=\"n\">for {}</td></tr>",
            ago(now, r.since)
        );
    }
    out.push_str("</table>");
}

/// Rules and probes with their last result.
fn checks(out: &mut String, w: &WatchStatus, now: SystemTime) {
    for (title, probe) in [("Probes", true), ("Rules", false)] {
        let list: Vec<_> = w.rules.iter().filter(|(_, r)| r.probe == probe).collect();
        if list.is_empty() {
            continue;
        }
        let _ = write!(out, "<h3>{title}</h3><div class=\"wrap\"><table>");
        for (name, r) in list {
            let (class, word) = if r.firing {
                let sev = r.severity.label().to_ascii_lowercase();
                (sev, "firing")
            } else {
                ("ok".to_string(), "ok")
            };
            let _ = write!(
                out,
                "<tr><td><b>{}</b></td><td><span class=\"st {class}\">{word}</span></td><td>{}</td><td class=\"n\">{} ago</td></tr>",
                escape(name),
                quote(&r.summary),
                ago(now, r.since)
            );
        }
        out.push_str("</table></div>");
    }
}

fn restarts(out: &mut String, w: &WatchStatus, now: SystemTime) {
    let list: Vec<_> = w
        .recent_alerts
        .iter()
        .filter(|a| a.rule == RESTART_RULE)
        .rev()
        .take(MAX_RESTARTS)
        .collect();
    if w.restarts == 0 && list.is_empty() {
        return;
    }
    let _ = write!(out, "<h3>Restarts: {} since start</h3><table>", w.restarts);
    for a in list {
        let _ = write!(
            out,
            "<tr><td class=\"n\">{} ago</td><td>{}",
            ago(now, a.at),
            quote(&a.summary)
        );
        if let Some(action) = &a.action {
            let _ = write!(out, " <span class=\"muted\">({})</span>", quote(action));
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</table>");
}

/// The newest alerts other than restarts (events of `match` rules are never open).
fn recent(out: &mut String, w: &WatchStatus, now: SystemTime) {
    let list: Vec<_> = w
        .recent_alerts
        .iter()
        .filter(|a| a.rule != RESTART_RULE)
        .rev()
        .take(MAX_RECENT)
        .collect();
    if list.is_empty() {
        return;
    }
    out.push_str("<h3>Recent alerts</h3><div class=\"wrap\"><table>");
    for a in list {
        let _ = write!(
            out,
            "<tr><td class=\"n\">{} ago</td><td><b>{}</b> {}</td><td>{}",
            ago(now, a.at),
            escape(&a.rule),
            a.state.word(),
            quote(&a.summary)
        );
        if let Some(line) = &a.line {
            let _ = write!(out, "<br><code>{}</code>", quote(line));
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</table></div>");
}

/// The chart and its legend: every pattern with its counts, the drawn ones with their colour.
fn matches(
    out: &mut String,
    w: &WatchStatus,
    history: Option<&Vec<PatternHistory>>,
    budget: usize,
) {
    if w.patterns.is_empty() {
        return;
    }
    let drawn = drawn(history);
    let peak = drawn
        .iter()
        .flat_map(|h| h.per_minute.iter().copied())
        .max()
        .unwrap_or(0);
    let _ = write!(
        out,
        "<h3>Matches per minute, last 24 h <span class=\"muted\">(peak {peak}/min)</span></h3>"
    );
    let day = chart::svg(&drawn, MINUTES, budget);
    if day.is_empty() {
        out.push_str("<p class=\"muted\">no match in the last 24 hours</p>");
    } else {
        out.push_str(&day);
        out.push_str("<div class=\"axis\"><span>24 h ago</span><span>18 h</span><span>12 h</span><span>6 h</span><span>now</span></div>");
        // The last hour, where a day's chart shows a minute as a sliver.
        let hour = chart::svg(&drawn, 60, budget);
        if hour.is_empty() {
            out.push_str("<p class=\"muted\">no match in the last hour</p>");
        } else {
            out.push_str("<h3>Last hour</h3>");
            out.push_str(&hour);
            out.push_str("<div class=\"axis\"><span>60 min ago</span><span>45</span><span>30</span><span>15</span><span>now</span></div>");
        }
    }
    out.push_str("<div class=\"wrap\"><table><tr><th>pattern</th><th class=\"n\">24 h</th><th class=\"n\">since start</th></tr>");
    for p in &w.patterns {
        let swatch = drawn
            .iter()
            .position(|h| h.pattern == p.pattern)
            .map(|i| {
                format!(
                    "<span class=\"sw\" style=\"background:{}\"></span> ",
                    chart::COLOURS[i]
                )
            })
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{swatch}<code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&p.pattern),
            p.last_24h,
            p.total
        );
    }
    out.push_str("</table></div>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::alert::{Alert, AlertState, Severity};
    use crate::telemetry::status::{PatternStatus, SourceStatus};
    use crate::telemetry::RuleStatus;

    #[test]
    fn a_long_text_is_cut_on_a_character() {
        let s = "é".repeat(MAX_TEXT + 5);
        let q = quote(&s);
        assert_eq!(q.chars().count(), MAX_TEXT + 1);
        assert!(q.ends_with('…'));
    }

    fn hostile_report(now: SystemTime) -> StatusReport {
        let evil = "<script>alert(1)</script>";
        let mut rules = BTreeMap::new();
        rules.insert(
            format!("rule{evil}"),
            RuleStatus {
                firing: true,
                severity: Severity::Critical,
                summary: format!("line {evil} & \"quoted\" 'too'"),
                since: now - Duration::from_secs(90),
                probe: false,
                silenced: Some(format!("id{evil}")),
                acked_by: Some(format!("u{evil}")),
            },
        );
        rules.insert(
            "disk".to_string(),
            RuleStatus {
                firing: false,
                severity: Severity::Warning,
                summary: "ok".to_string(),
                since: now,
                probe: true,
                silenced: None,
                acked_by: None,
            },
        );
        let mut restart = Alert::new(
            evil,
            RESTART_RULE,
            Severity::Warning,
            AlertState::Event,
            format!("restarted: {evil}"),
        );
        restart.action = Some(format!("systemctl {evil}"));
        let mut event = Alert::new(
            evil,
            &format!("rule{evil}"),
            Severity::Critical,
            AlertState::Firing,
            "a line matched".to_string(),
        );
        event.line = Some(format!("ERROR {evil}"));
        StatusReport {
            started_at: evil.to_string(),
            healthy: false,
            problems: vec![format!("source {evil} silent")],
            watches: vec![WatchStatus {
                name: format!("w{evil}"),
                state: WatchState::Critical,
                rules,
                sources: vec![SourceStatus {
                    source: format!("/var/log/{evil}.log"),
                    lines: 12,
                    lag_bytes: Some(0),
                    lag_seconds: None,
                    last_line_seconds: Some(3.5),
                }],
                restarts: 1,
                recent_alerts: vec![restart, event],
                patterns: vec![PatternStatus {
                    pattern: format!("p{evil}"),
                    total: 3,
                    last_24h: 3,
                }],
            }],
            silences: vec![crate::telemetry::status::SilenceStatus {
                id: format!("i{evil}"),
                scope: format!("w{evil}"),
                ends_at: evil.to_string(),
                reason: format!("deploy {evil}"),
                who: format!("u{evil}"),
            }],
            acks: Vec::new(),
            operator_error: Some(format!("bad {evil}")),
        }
    }

    #[test]
    fn nothing_quoted_from_config_or_logs_reaches_the_page_unescaped() {
        let now = SystemTime::now();
        let report = hostile_report(now);
        let mut history = BTreeMap::new();
        let mut per_minute = vec![0; MINUTES];
        per_minute[MINUTES - 1] = 3;
        history.insert(
            report.watches[0].name.clone(),
            vec![PatternHistory {
                pattern: "p<script>alert(1)</script>".to_string(),
                per_minute,
            }],
        );
        let page = render(&report, &history, now);
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("'too'") && !page.contains("\"quoted\""));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        for part in [
            "<meta http-equiv=\"refresh\" content=\"30\">",
            "name=\"viewport\"",
            "<svg",
            "not healthy",
            "critical",
            "Restarts: 1 since start",
            "3s ago",
            "for 1m",
            "<h3>Probes</h3>",
            "<h3>Recent alerts</h3>",
            "<code>ERROR &lt;script&gt;",
        ] {
            assert!(page.contains(part), "{part}\n{page}");
        }
    }

    #[test]
    fn a_page_of_several_busy_watches_stays_under_100_kb() {
        let now = SystemTime::now();
        let mut report = hostile_report(now);
        let mut history = BTreeMap::new();
        let one = report.watches[0].clone();
        report.watches.clear();
        for w in 0..6 {
            let mut watch = one.clone();
            watch.name = format!("watch-{w}");
            watch.patterns.clear();
            let mut series = Vec::new();
            for p in 0..12 {
                let name = format!("pattern-{p}");
                watch.patterns.push(PatternStatus {
                    pattern: name.clone(),
                    total: 1,
                    last_24h: 1,
                });
                series.push(PatternHistory {
                    pattern: name,
                    per_minute: (0..MINUTES).map(|m| ((m * (p + 3)) % 101) as u32).collect(),
                });
            }
            history.insert(watch.name.clone(), series);
            report.watches.push(watch);
        }
        let page = render(&report, &history, now);
        println!("6 busy watches of 12 patterns: {} bytes", page.len());
        assert!(page.len() <= 100 * 1024, "{} bytes", page.len());
        assert_eq!(
            page.matches("<svg").count(),
            12,
            "a day and an hour per watch"
        );
    }

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age(Duration::from_secs(4)), "4s");
        assert_eq!(age(Duration::from_secs(125)), "2m");
        assert_eq!(age(Duration::from_secs(3 * 3600 + 5 * 60)), "3h 5m");
        assert_eq!(age(Duration::from_secs(2 * 86_400 + 4 * 3600)), "2d 4h");
    }
}
