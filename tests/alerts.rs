//! Alert delivery against real servers: a real SMTP server with STARTTLS (aiosmtpd), a real
//! Alertmanager cluster, and local HTTP servers speaking the Telegram Bot API and the Slack
//! webhook. Every alert arrives exactly once, a 429 is honoured, a down channel is retried
//! across a restart of logwarden, and secrets never reach a channel or the log.

#[path = "common/alertmanager.rs"]
mod alertmanager;
mod common;
#[path = "common/fake_http.rs"]
mod fake_http;
#[path = "common/smtp.rs"]
mod smtp;
#[path = "common/tls.rs"]
mod tls;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{append, config_dir, Daemon};
use fake_http::{FakeHttp, Response};
use serde_json::Value;
use smtp::{decode_quoted_printable, SmtpOptions, SmtpServer};

const TOKEN: &str = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0";
// The other services' credentials, as their tests' servers expect them.
const GOTIFY_TOKEN: &str = "AqvjpTYWFn4XKpm";
const MATRIX_TOKEN: &str = "syt_bG9nd2FyZGVu_SecretTokenPart_0a1b2c";
const MATRIX_ROOM: &str = "!ops7f3a:example.org";
const PUSHOVER_APP: &str = "azGDORePK8gMaC0QOYAMyEEuzJnyUi";
const PUSHOVER_USER: &str = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG";

/// A watch on `bot.log` with a rate rule and a match rule, notifying `channels`.
fn watch(channels: &str) -> String {
    format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[[watch]]
name = "bot"
unit = "bot.service"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]
notify = ["console", {channels}]

  [[watch.rule]]
  name = "error-burst"
  when = "rate"
  pattern = "error"
  threshold = 2
  window = "3s"
  severity = "critical"
"#
    )
}

fn error(n: usize) -> String {
    format!("2026-11-23 09:41:42,123 - bot - ERROR - numbered {n} end")
}

/// Writes `secrets` (name, value) beside the config `cfg`, starts logwarden, appends `lines`
/// once it reads `bot.log`, and waits for the error burst to fire.
fn fire_burst(
    cfg: &str,
    secrets: &[(&str, &str)],
    lines: &[String],
) -> (tempfile::TempDir, Daemon) {
    let (dir, config) = config_dir(cfg);
    for (name, value) in secrets {
        write_secret(dir.path(), name, value);
    }
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(&log, lines);
    d.wait_alert("error-burst", "firing", Duration::from_secs(10));
    (dir, d)
}

fn traceback_with_secrets() -> Vec<String> {
    vec![
        "2026-11-23 09:41:43,001 - bot - ERROR - order failed password=hunter2".into(),
        "Traceback (most recent call last):".into(),
        "  File \"/home/bot/trader.py\", line 42, in place_order".into(),
        format!("    resp = api.post(url, token=\"{TOKEN}\")"),
        "ConnectionResetError: [Errno 104] Connection reset by peer".into(),
    ]
}

fn write_secret(dir: &Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, value).expect("write secret");
    let _ = Command::new("chmod").arg("600").arg(&p).status();
    p.display().to_string()
}

#[test]
fn email_over_starttls_arrives_once_with_the_traceback_and_no_secret() {
    let ca = tls::TestCa::new("localhost");
    let server = SmtpServer::start(SmtpOptions {
        starttls: Some((ca.cert_pem.clone(), ca.key_pem.clone())),
        auth: Some(("alerts".into(), "smtp-pass-1234".into())),
        ..SmtpOptions::default()
    });
    let mut cfg = watch(r#""mail""#);
    cfg.push_str(&format!(
        r#"
[channels.mail]
type = "email"
host = "localhost"
port = {port}
tls = "starttls"
username = "alerts"
password_file = "@DIR@/smtp-password"
from = "logwarden <logwarden@example.org>"
to = ["ops@example.org", "oncall@example.org"]
ca_file = "{ca}"
group_wait = "0s"
"#,
        port = server.port(),
        ca = ca.ca_pem.display()
    ));
    let (dir, config) = config_dir(&cfg);
    write_secret(dir.path(), "smtp-password", "smtp-pass-1234");
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(
        &log,
        &["2026-11-23 09:41:41,000 - bot - INFO - Update VIX=17.25 context-marker".into()],
    );
    append(&log, &[error(1), error(2)]);
    append(&log, &traceback_with_secrets());
    d.wait_alert("error-burst", "firing", Duration::from_secs(10));
    let msgs = server.wait_messages(1, Duration::from_secs(15));
    let (from, to, raw) = smtp::envelope(&msgs[0]);
    let raw = &decode_quoted_printable(raw);
    assert!(from.contains("logwarden@example.org"), "{from}");
    assert_eq!(to.len(), 2, "{to:?}");
    assert!(
        raw.contains("Subject: [CRITICAL] bot: error-burst firing"),
        "{raw}"
    );
    // The whole traceback travels as one event, redacted.
    assert!(raw.contains("Traceback (most recent call last):"), "{raw}");
    assert!(raw.contains("ConnectionResetError"), "{raw}");
    assert!(raw.contains("unit: bot.service"), "{raw}");
    // The lines before it, as context.
    assert!(raw.contains("before it:"), "{raw}");
    assert!(raw.contains("context-marker"), "{raw}");
    for secret in ["hunter2", TOKEN, "smtp-pass-1234"] {
        assert!(
            !raw.contains(secret),
            "{secret} leaked into the mail:\n{raw}"
        );
    }
    // No second mail for the same firing alert.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(server.messages().len(), 1);
    d.collect_for(Duration::from_millis(200));
    let log_text: String = d.seen.iter().map(|v| v.to_string()).collect();
    for secret in ["hunter2", TOKEN, "smtp-pass-1234"] {
        assert!(
            !log_text.contains(secret),
            "{secret} leaked into logwarden's log"
        );
    }
    // Nor into anything it wrote to state_dir (spool, open alerts, checkpoints), after a
    // clean stop has written it all.
    assert!(d.stop(), "clean stop");
    let mut stored = 0;
    for file in walk(&dir.path().join("state")) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
        stored += 1;
        for secret in ["hunter2", TOKEN, "smtp-pass-1234"] {
            assert!(
                !text.contains(secret),
                "{secret} stored in {}",
                file.display()
            );
        }
    }
    assert!(
        stored >= 2,
        "state_dir holds the checkpoint and the open alert"
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Per number, how many messages quote the line `numbered N` as the alert's line (context
/// lines, which quote earlier lines, do not count).
fn count_alerted_numbers(msgs: &[String]) -> BTreeMap<usize, usize> {
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for m in msgs {
        let m = decode_quoted_printable(m);
        for part in m.split("\nline:").skip(1) {
            let quoted = part.lines().nth(1).unwrap_or("");
            if let Some(n) = quoted
                .split("numbered ")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .and_then(|s| s.parse().ok())
            {
                *seen.entry(n).or_default() += 1;
            }
        }
    }
    seen
}

#[test]
fn alertmanager_peers_each_get_the_alert_with_labels_and_its_resolution() {
    let am = alertmanager::AlertmanagerCluster::start(2);
    let urls = am
        .urls()
        .iter()
        .map(|u| format!("{u:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut cfg = watch(r#""am""#);
    cfg.push_str(&format!(
        r#"
[alerts]
host = "pi4"

[channels.am]
type = "alertmanager"
urls = [{urls}]
resend = "1s"
group_wait = "0s"
labels = {{ env = "test" }}
"#
    ));
    let (dir, config) = config_dir(&cfg);
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(&log, &[error(1), error(2), error(3)]);
    d.wait_alert("error-burst", "firing", Duration::from_secs(10));
    for peer in 0..2 {
        let alert = wait_am(&am, peer, Duration::from_secs(10), |alerts| {
            alerts
                .iter()
                .find(|a| a["labels"]["rule"] == "error-burst")
                .cloned()
        });
        let l = &alert["labels"];
        assert_eq!(l["alertname"], "error-burst");
        assert_eq!(l["watch"], "bot");
        assert_eq!(l["severity"], "critical");
        assert_eq!(l["host"], "pi4");
        assert_eq!(l["unit"], "bot.service");
        assert_eq!(l["env"], "test");
    }
    // Kept open by keepalives past the first endsAt horizon, then resolved by the rule.
    d.wait_alert("error-burst", "resolved", Duration::from_secs(10));
    for peer in 0..2 {
        wait_am(&am, peer, Duration::from_secs(10), |alerts| {
            (!alerts.iter().any(|a| a["labels"]["rule"] == "error-burst")).then_some(Value::Null)
        });
    }
}

/// Polls peer `peer`'s alerts until `pick` returns something.
fn wait_am(
    am: &alertmanager::AlertmanagerCluster,
    peer: usize,
    timeout: Duration,
    pick: impl Fn(&[Value]) -> Option<Value>,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let v = am.alerts(peer);
        let alerts = v.as_array().cloned().unwrap_or_default();
        if let Some(found) = pick(&alerts) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "peer {peer}: condition not met; alerts: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn telegram_and_slack_get_the_alert_after_honouring_a_429() {
    let tg = FakeHttp::start(fake_http::telegram_api(TOKEN, Some(2)));
    let slack = FakeHttp::start(fake_http::slack_webhook(Some(1)));
    let mut cfg = watch(r#""phone", "team""#);
    cfg.push_str(&format!(
        r#"
[channels.phone]
type = "telegram"
token_file = "@DIR@/tg-token"
chat_id = 4242
api_url = "{tg}"
group_wait = "0s"

[channels.team]
type = "slack"
url_file = "@DIR@/slack-url"
group_wait = "0s"
"#,
        tg = tg.url()
    ));
    let (dir, config) = config_dir(&cfg);
    write_secret(dir.path(), "tg-token", TOKEN);
    write_secret(
        dir.path(),
        "slack-url",
        &format!("{}/services/T0/B0/secretpath", slack.url()),
    );
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(&log, &[error(1), error(2)]);
    append(&log, &traceback_with_secrets());
    d.wait_alert("error-burst", "firing", Duration::from_secs(10));

    let reqs = tg.wait_requests(2, Duration::from_secs(15));
    let gap = reqs[1].at.duration_since(reqs[0].at);
    assert!(
        gap >= Duration::from_millis(1900),
        "retry_after 2 s not honoured: {gap:?}"
    );
    let body = reqs[1].json().expect("telegram json body");
    assert_eq!(body["chat_id"], 4242);
    assert_eq!(
        body["disable_notification"], false,
        "a critical firing sounds: {body}"
    );
    let text = body["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("[CRITICAL] bot: error-burst firing"),
        "{text}"
    );
    assert!(text.contains("ConnectionResetError"), "{text}");

    let reqs = slack.wait_requests(2, Duration::from_secs(15));
    assert!(reqs[1].at.duration_since(reqs[0].at) >= Duration::from_millis(900));
    let body = reqs[1].json().expect("slack json body");
    assert!(
        body["blocks"].as_array().is_some_and(|b| b.len() >= 2),
        "{body}"
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&reqs[1].body),
        tg.requests()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect::<String>()
    );
    for secret in ["hunter2", TOKEN, "secretpath"] {
        assert!(!all.contains(secret), "{secret} reached a channel: {all}");
    }
    // Exactly once each (the first try got the 429): then only the resolution may come.
    d.wait_alert("error-burst", "resolved", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    for (name, server) in [("telegram", &tg), ("slack", &slack)] {
        let texts: Vec<String> = server
            .requests()
            .iter()
            .skip(1)
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect();
        let firing = texts
            .iter()
            .filter(|t| t.contains("error-burst firing"))
            .count();
        let resolved = texts
            .iter()
            .filter(|t| t.contains("error-burst resolved"))
            .count();
        assert_eq!((firing, resolved), (1, 1), "{name}: {texts:?}");
    }
    let resolution = tg
        .requests()
        .iter()
        .filter_map(|r| r.json())
        .find(|b| {
            b["text"]
                .as_str()
                .is_some_and(|t| t.contains("error-burst resolved"))
        })
        .expect("the resolution");
    assert_eq!(
        resolution["disable_notification"], true,
        "a resolution is silent: {resolution}"
    );
}

#[test]
fn ntfy_gets_the_alert_at_its_priority_with_its_token_after_honouring_a_429() {
    const NTFY_TOKEN: &str = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2";
    let ntfy = FakeHttp::start(fake_http::ntfy_server(Some(NTFY_TOKEN), Some(1)));
    let mut cfg = watch(r#""phone""#);
    cfg.push_str(&format!(
        r#"
[channels.phone]
type = "ntfy"
url = "{url}"
topic = "bot-alerts-7f3a"
token_file = "@DIR@/ntfy-token"
group_wait = "0s"
"#,
        url = ntfy.url()
    ));
    let mut lines = vec![error(1), error(2)];
    lines.extend(traceback_with_secrets());
    let (_dir, mut d) = fire_burst(&cfg, &[("ntfy-token", NTFY_TOKEN)], &lines);

    let reqs = ntfy.wait_requests(2, Duration::from_secs(15));
    let gap = reqs[1].at.duration_since(reqs[0].at);
    assert!(
        gap >= Duration::from_millis(900),
        "Retry-After 1 s not honoured: {gap:?}"
    );
    let body = reqs[1].json().expect("ntfy json body");
    assert_eq!(body["topic"], "bot-alerts-7f3a", "{body}");
    assert_eq!(body["priority"], 5, "critical is urgent: {body}");
    assert_eq!(body["tags"][0], "rotating_light", "{body}");
    let title = body["title"].as_str().unwrap_or_default();
    assert!(
        title.starts_with("[CRITICAL] bot: error-burst firing"),
        "{body}"
    );
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("ConnectionResetError"), "{body}");
    assert!(body.get("markdown").is_none(), "plain text: {body}");

    d.wait_alert("error-burst", "resolved", Duration::from_secs(10));
    let reqs = ntfy.wait_requests(3, Duration::from_secs(15));
    let resolved = reqs[2].json().expect("ntfy json body");
    assert_eq!(resolved["priority"], 3, "{resolved}");
    assert_eq!(resolved["tags"][0], "white_check_mark", "{resolved}");
    // The token goes in the header only; no secret of the config or the line in any body.
    let all: String = ntfy
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    for secret in ["hunter2", NTFY_TOKEN] {
        assert!(!all.contains(secret), "{secret} reached ntfy: {all}");
    }
    let log_text: String = d.seen.iter().map(|v| v.to_string()).collect();
    for secret in [NTFY_TOKEN, "bot-alerts-7f3a"] {
        assert!(!log_text.contains(secret), "{secret} in logwarden's log");
    }
}

#[test]
fn discord_and_gotify_get_the_alert_inert_at_its_priority() {
    let discord = FakeHttp::start(fake_http::discord_webhook(Some(1.0)));
    let gotify = FakeHttp::start(fake_http::gotify_server(GOTIFY_TOKEN));
    let mut cfg = watch(r#""chat", "self-hosted""#);
    cfg.push_str(
        r#"
[channels.chat]
type = "discord"
url_file = "@DIR@/discord-url"
group_wait = "0s"

[channels.self-hosted]
type = "gotify"
url_file = "@DIR@/gotify-url"
token_file = "@DIR@/gotify-token"
group_wait = "0s"
"#,
    );
    let hostile = "2026-11-23 09:41:42,500 - bot - ERROR - @everyone ``` **bold** [x](http://evil.example) <@123> ```";
    let hook = format!("{}/api/webhooks/1234/hookSecretPart", discord.url());
    let secrets = [
        ("discord-url", hook.as_str()),
        ("gotify-url", &gotify.url()),
        ("gotify-token", GOTIFY_TOKEN),
    ];
    let lines = [error(1), hostile.to_string(), error(2)];
    let (_dir, mut d) = fire_burst(&cfg, &secrets, &lines);

    let reqs = discord.wait_requests(2, Duration::from_secs(15));
    let gap = reqs[1].at.duration_since(reqs[0].at);
    assert!(
        gap >= Duration::from_millis(900),
        "retry_after 1 s not honoured: {gap:?}"
    );
    let body = reqs[1].json().expect("discord json body");
    assert_eq!(
        body["allowed_mentions"]["parse"],
        serde_json::json!([]),
        "{body}"
    );
    let content = body["content"].as_str().unwrap_or_default();
    assert!(
        content.starts_with("```\n") && content.ends_with("\n```"),
        "{content}"
    );
    assert_eq!(
        content.matches("```").count(),
        2,
        "one code block, no fence from the line: {content}"
    );
    assert!(
        content.contains("@everyone") && content.contains("**bold**"),
        "quoted as text: {content}"
    );
    assert!(
        content.contains("[CRITICAL] bot: error-burst firing"),
        "{content}"
    );

    let reqs = gotify.wait_requests(1, Duration::from_secs(15));
    let body = reqs[0].json().expect("gotify json body");
    assert_eq!(reqs[0].header("x-gotify-key"), Some(GOTIFY_TOKEN));
    assert_eq!(body["priority"], 8, "critical pops up: {body}");
    assert_eq!(
        body["extras"]["client::display"]["contentType"], "text/plain",
        "{body}"
    );
    assert!(
        body["title"]
            .as_str()
            .unwrap_or_default()
            .starts_with("[CRITICAL] bot: error-burst firing"),
        "{body}"
    );

    d.wait_alert("error-burst", "resolved", Duration::from_secs(10));
    let reqs = gotify.wait_requests(2, Duration::from_secs(15));
    assert_eq!(reqs[1].json().expect("json")["priority"], 2);
    let all: String = discord
        .requests()
        .iter()
        .chain(gotify.requests().iter())
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    for secret in ["hookSecretPart", GOTIFY_TOKEN] {
        assert!(
            !all.contains(secret),
            "{secret} reached a channel body: {all}"
        );
    }
}

#[test]
fn matrix_gets_the_alert_as_an_escaped_notice_after_honouring_a_429() {
    let hs = FakeHttp::start(fake_http::matrix_homeserver(
        MATRIX_TOKEN,
        MATRIX_ROOM,
        Some(1000),
    ));
    let mut cfg = watch(r#""room""#);
    cfg.push_str(&format!(
        r#"
[channels.room]
type = "matrix"
url = "{url}"
token_file = "@DIR@/matrix-token"
room = "{MATRIX_ROOM}"
group_wait = "0s"
"#,
        url = hs.url()
    ));
    let hostile = "2026-11-23 09:41:42,500 - bot - ERROR - <a href=\"https://evil.example\">@room</a> </pre><b>x</b>";
    let lines = [error(1), hostile.to_string(), error(2)];
    let (_dir, _d) = fire_burst(&cfg, &[("matrix-token", MATRIX_TOKEN)], &lines);

    let reqs = hs.wait_requests(2, Duration::from_secs(15));
    let gap = reqs[1].at.duration_since(reqs[0].at);
    assert!(
        gap >= Duration::from_millis(900),
        "retry_after_ms not honoured: {gap:?}"
    );
    // The retry is the same transaction: one event, never two messages.
    assert_eq!(reqs[0].path, reqs[1].path, "same transaction id on retry");
    let body = reqs[1].json().expect("matrix json body");
    assert_eq!(body["msgtype"], "m.notice", "{body}");
    let plain = body["body"].as_str().unwrap_or_default();
    assert!(
        plain.contains("[CRITICAL] bot: error-burst firing"),
        "{body}"
    );
    let html = body["formatted_body"].as_str().unwrap_or_default();
    assert!(
        html.starts_with("<pre>") && html.ends_with("</pre>"),
        "{html}"
    );
    assert_eq!(html.matches("<pre>").count(), 1, "{html}");
    assert_eq!(
        html.matches("</pre>").count(),
        1,
        "no tag from the line closes it: {html}"
    );
    assert!(!html.contains("<a ") && !html.contains("<b>"), "{html}");
    assert!(
        html.contains("&lt;a href=&quot;https://evil.example&quot;&gt;"),
        "{html}"
    );
    let all: String = hs
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(
        !all.contains("SecretTokenPart"),
        "the token reached a body: {all}"
    );
}

#[test]
fn pushover_rings_an_emergency_for_a_critical_alert_and_cancels_it_when_resolved() {
    let api = FakeHttp::start(fake_http::pushover_api(PUSHOVER_APP, PUSHOVER_USER));
    let mut cfg = watch(r#""pager""#);
    cfg.push_str(&format!(
        r#"
[channels.pager]
type = "pushover"
token_file = "@DIR@/pushover-app"
user_file = "@DIR@/pushover-user"
api_url = "{url}"
group_wait = "0s"
"#,
        url = api.url()
    ));
    let secrets = [
        ("pushover-app", PUSHOVER_APP),
        ("pushover-user", PUSHOVER_USER),
    ];
    let (_dir, mut d) = fire_burst(&cfg, &secrets, &[error(1), error(2), error(3)]);
    let reqs = api.wait_requests(1, Duration::from_secs(10));
    let body = reqs[0].json().expect("pushover json");
    assert_eq!(body["priority"], 2, "critical is an emergency: {body}");
    assert_eq!(
        (body["retry"].as_u64(), body["expire"].as_u64()),
        (Some(60), Some(3600))
    );
    assert!(
        body["title"]
            .as_str()
            .unwrap_or_default()
            .starts_with("[CRITICAL] bot: error-burst firing"),
        "{body}"
    );
    // Resolved: a normal message, and the emergency's receipt cancelled.
    d.wait_alert("error-burst", "resolved", Duration::from_secs(10));
    let reqs = api.wait_requests(3, Duration::from_secs(10));
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert!(
        paths.contains(&"/1/receipts/rcpt0/cancel.json"),
        "{paths:?}"
    );
    let resolved = reqs
        .iter()
        .find(|r| r.path == "/1/messages.json" && r.json().is_some_and(|b| b["priority"] == 0))
        .expect("the resolution at priority 0");
    assert!(String::from_utf8_lossy(&resolved.body).contains("error-burst resolved"));
    d.wait_for("the cancel logged", Duration::from_secs(5), |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("pushover emergency cancelled"))
    });
    let log_text: String = d.seen.iter().map(|v| v.to_string()).collect();
    for secret in [PUSHOVER_APP, PUSHOVER_USER] {
        assert!(!log_text.contains(secret), "{secret} in logwarden's log");
    }
}

/// Every HTTP channel behind a proxy that answers 503 once (the service restarting): each
/// retries the same message after its backoff and it is accepted once. The webhook with a
/// body template gets the operator's JSON, a hostile line inert inside one of its strings.
#[test]
fn every_http_channel_retries_a_5xx_and_delivers_the_message_once() {
    use fake_http::failing_first;
    let servers: Vec<(&str, FakeHttp)> = vec![
        (
            "phone",
            FakeHttp::start(failing_first(1, 503, fake_http::telegram_api(TOKEN, None))),
        ),
        (
            "team",
            FakeHttp::start(failing_first(1, 502, fake_http::slack_webhook(None))),
        ),
        (
            "push",
            FakeHttp::start(failing_first(1, 503, fake_http::ntfy_server(None, None))),
        ),
        (
            "chat",
            FakeHttp::start(failing_first(1, 503, fake_http::discord_webhook(None))),
        ),
        (
            "selfhosted",
            FakeHttp::start(failing_first(
                1,
                503,
                fake_http::gotify_server(GOTIFY_TOKEN),
            )),
        ),
        (
            "room",
            FakeHttp::start(failing_first(
                1,
                503,
                fake_http::matrix_homeserver(MATRIX_TOKEN, MATRIX_ROOM, None),
            )),
        ),
        (
            "pager",
            FakeHttp::start(failing_first(
                1,
                503,
                fake_http::pushover_api(PUSHOVER_APP, PUSHOVER_USER),
            )),
        ),
        (
            "hook",
            FakeHttp::start(failing_first(1, 500, |_| Response::text(200, "ok"))),
        ),
    ];
    let url = |name: &str| {
        servers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.url())
            .unwrap_or_default()
    };
    let mut cfg =
        watch(r#""phone", "team", "push", "chat", "selfhosted", "room", "pager", "hook""#);
    cfg.push_str(&format!(
        r#"
[channels.phone]
type = "telegram"
token_file = "@DIR@/tg-token"
chat_id = 4242
api_url = "{phone}"
group_wait = "0s"

[channels.team]
type = "slack"
url_file = "@DIR@/slack-url"
group_wait = "0s"

[channels.push]
type = "ntfy"
url = "{push}"
topic = "bot-alerts-7f3a"
group_wait = "0s"

[channels.chat]
type = "discord"
url_file = "@DIR@/discord-url"
group_wait = "0s"

[channels.selfhosted]
type = "gotify"
url = "{selfhosted}"
token_file = "@DIR@/gotify-token"
group_wait = "0s"

[channels.room]
type = "matrix"
url = "{room}"
token_file = "@DIR@/matrix-token"
room = "{MATRIX_ROOM}"
group_wait = "0s"

[channels.pager]
type = "pushover"
token_file = "@DIR@/pushover-app"
user_file = "@DIR@/pushover-user"
api_url = "{pager}"
group_wait = "0s"

[channels.hook]
type = "webhook"
url = "{hook}/notify"
group_wait = "0s"
body = '{{"text": "{{watch}}/{{rule}} {{STATE}}: {{summary}}", "line": "{{line}}", "level": "{{severity}}"}}'
"#,
        phone = url("phone"),
        push = url("push"),
        selfhosted = url("selfhosted"),
        room = url("room"),
        pager = url("pager"),
        hook = url("hook"),
    ));
    let slack = format!("{}/services/T0/B0/secretpath", url("team"));
    let discord = format!("{}/api/webhooks/1234/hookSecretPart", url("chat"));
    let secrets = [
        ("tg-token", TOKEN),
        ("slack-url", slack.as_str()),
        ("discord-url", discord.as_str()),
        ("gotify-token", GOTIFY_TOKEN),
        ("matrix-token", MATRIX_TOKEN),
        ("pushover-app", PUSHOVER_APP),
        ("pushover-user", PUSHOVER_USER),
    ];
    let hostile = "2026-11-23 09:41:42,500 - bot - ERROR - \"}, \"admin\": true, \"x\": \"\\\" {watch} {{ \u{1b}[31m";
    // The third error fires the burst (more than 2 in 3 s): its line is the alert's.
    let lines = [error(1), error(2), hostile.to_string()];
    let (_dir, mut d) = fire_burst(&cfg, &secrets, &lines);
    for (name, server) in &servers {
        let reqs = server.wait_requests(2, Duration::from_secs(15));
        let gap = reqs[1].at.duration_since(reqs[0].at);
        assert!(
            gap >= Duration::from_millis(900),
            "{name}: retried after {gap:?}, before the first backoff"
        );
        assert_eq!(
            String::from_utf8_lossy(&reqs[0].body),
            String::from_utf8_lossy(&reqs[1].body),
            "{name}: the retry is the same message"
        );
    }
    d.wait_alert("error-burst", "resolved", Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(2));
    for (name, server) in &servers {
        let reqs = server.requests();
        let firing = &reqs[0].body;
        let sent = reqs.iter().filter(|r| &r.body == firing).count();
        assert_eq!(
            sent, 2,
            "{name}: the firing once refused, once accepted, never again"
        );
        assert!(
            reqs.len() >= 3,
            "{name}: the resolution arrives too ({} requests)",
            reqs.len()
        );
    }
    let hook = &servers[7].1.requests()[1];
    assert_eq!(hook.path, "/notify");
    assert_eq!(hook.header("content-type"), Some("application/json"));
    let body = hook.json().expect("the webhook body is JSON");
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 3, "the line added no field: {body}");
    assert!(body.get("admin").is_none(), "{body}");
    assert_eq!(body["level"], "critical", "{body}");
    let text = body["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("bot/error-burst FIRING: "), "{body}");
    let line = body["line"].as_str().unwrap_or_default();
    assert!(
        line.contains("\"admin\": true") && line.contains("{watch}"),
        "the line kept as text: {body}"
    );
    assert!(!hook.body.contains(&0x1b), "no raw escape byte on the wire");
}

/// The channels whose own tests meet no 429 (Gotify documents none, Pushover a monthly
/// quota): a 429 with `Retry-After` in front of them is waited out, then delivered once.
#[test]
fn gotify_pushover_and_a_templated_webhook_wait_out_a_429() {
    use fake_http::rate_limited_first;
    let servers = [
        FakeHttp::start(rate_limited_first(
            2,
            fake_http::gotify_server(GOTIFY_TOKEN),
        )),
        FakeHttp::start(rate_limited_first(
            2,
            fake_http::pushover_api(PUSHOVER_APP, PUSHOVER_USER),
        )),
        FakeHttp::start(rate_limited_first(2, |_| Response::text(204, ""))),
    ];
    let mut cfg = watch(r#""selfhosted", "pager", "hook""#);
    cfg.push_str(&format!(
        r#"
[channels.selfhosted]
type = "gotify"
url = "{}"
token_file = "@DIR@/gotify-token"
group_wait = "0s"

[channels.pager]
type = "pushover"
token_file = "@DIR@/pushover-app"
user_file = "@DIR@/pushover-user"
api_url = "{}"
group_wait = "0s"

[channels.hook]
type = "webhook"
url = "{}/hook"
group_wait = "0s"
content_type = "text/plain; charset=utf-8"
body = "{{SEVERITY}} {{watch}}/{{rule}} {{state}}"
"#,
        servers[0].url(),
        servers[1].url(),
        servers[2].url()
    ));
    let secrets = [
        ("gotify-token", GOTIFY_TOKEN),
        ("pushover-app", PUSHOVER_APP),
        ("pushover-user", PUSHOVER_USER),
    ];
    let (_dir, _d) = fire_burst(&cfg, &secrets, &[error(1), error(2), error(3)]);
    for (name, server) in ["gotify", "pushover", "webhook"].iter().zip(&servers) {
        let reqs = server.wait_requests(2, Duration::from_secs(15));
        let gap = reqs[1].at.duration_since(reqs[0].at);
        assert!(
            gap >= Duration::from_millis(1900),
            "{name}: Retry-After 2 s not honoured: {gap:?}"
        );
        assert_eq!(reqs[0].body, reqs[1].body, "{name}: the same message");
    }
    let hook = &servers[2].requests()[1];
    assert_eq!(
        hook.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        String::from_utf8_lossy(&hook.body),
        "CRITICAL bot/error-burst firing"
    );
}

#[test]
fn a_channel_that_keeps_failing_hands_its_alerts_to_the_fallback() {
    let broken = FakeHttp::start(|_| Response::text(502, "bad gateway"));
    let hook = FakeHttp::start(|_| Response::text(200, "ok"));
    let mut cfg = watch(r#""phone""#);
    cfg.push_str(&format!(
        r#"
[channels.phone]
type = "telegram"
token_file = "@DIR@/tg-token"
chat_id = "@alerts"
api_url = "{broken}"
group_wait = "0s"
fallback = "hook"
fallback_after = "2s"

[channels.hook]
type = "webhook"
url = "{hook}/alerts"
group_wait = "0s"
"#,
        broken = broken.url(),
        hook = hook.url()
    ));
    let (dir, config) = config_dir(&cfg);
    write_secret(dir.path(), "tg-token", TOKEN);
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(&log, &[error(1), error(2), error(3)]);
    d.wait_alert("error-burst", "firing", Duration::from_secs(10));
    d.wait_for(
        "the hand-over to the fallback",
        Duration::from_secs(20),
        |v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("fallback channel"))
        },
    );
    let reqs = hook.wait_requests(1, Duration::from_secs(10));
    let body = reqs[0].json().expect("webhook json");
    assert_eq!(body["version"], 1);
    let a = &body["alerts"][0];
    assert_eq!(a["rule"], "error-burst");
    assert_eq!(a["notification"], "firing");
    assert_eq!(a["rerouted_from"], "phone");
    assert!(broken.requests().len() >= 2, "retried before falling back");
    let log_text: String = d.seen.iter().map(|v| v.to_string()).collect();
    assert!(
        !log_text.contains(TOKEN),
        "the bot token leaked into the log"
    );
}

/// The SMTP server is down while alerts fire; logwarden is killed (-9) and started again
/// while it is still down; then the server comes back. Every alert arrives exactly once.
#[test]
fn alerts_spooled_while_smtp_is_down_arrive_exactly_once_across_a_kill_9() {
    let mut server = SmtpServer::start(SmtpOptions::default());
    let port = server.port();
    server.stop();
    let mut cfg = watch(r#""mail""#);
    cfg.push_str(&format!(
        r#"
[alerts]
retry_max = "1s"

[channels.mail]
type = "email"
host = "127.0.0.1"
port = {port}
tls = "none"
from = "logwarden@example.org"
to = ["ops@example.org"]
group_wait = "0s"
timeout = "3s"

  [[watch.rule]]
  name = "every-error"
  when = "match"
  pattern = "error"
  cooldown = "0s"
"#
    ));
    let cfg = cfg.replace(
        "threshold = 2\n  window = \"3s\"",
        "threshold = 1000\n  window = \"3s\"",
    );
    let (dir, config) = config_dir(&cfg);
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(&log, &(1..=5).map(error).collect::<Vec<_>>());
    // Notifications for the mail channel waiting in the spool (the console's come and go).
    let spooled = || {
        std::fs::read_dir(dir.path().join("state/spool"))
            .map(|r| {
                r.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .filter(|e| {
                        std::fs::read_to_string(e.path())
                            .is_ok_and(|t| t.contains(r#""channel":"mail""#))
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while spooled() < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = d.kill9();
    assert_eq!(spooled(), 5, "five notifications wait in the spool");
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(&log, &(6..=8).map(error).collect::<Vec<_>>());
    d.collect_for(Duration::from_secs(2));
    server.restart();
    let count = |msgs: &[String]| count_alerted_numbers(msgs);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&server.messages()).len() < 8 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Anything sent twice would come now.
    std::thread::sleep(Duration::from_secs(2));
    let msgs = server.messages();
    let seen = count(&msgs);
    println!(
        "smtp-down test: {} messages, numbers seen {seen:?}",
        msgs.len()
    );
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    assert!(
        seen.values().all(|&c| c == 1),
        "some alert arrived twice: {seen:?}"
    );
    assert!(d.stop());
}

#[test]
fn test_alert_reports_each_channel_without_leaking_secrets() {
    let hook = FakeHttp::start(|_| Response::text(200, "ok"));
    let tg = FakeHttp::start(fake_http::telegram_api(
        "999:other-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        None,
    ));
    let mut cfg = watch(r#""hook", "phone""#);
    cfg.push_str(&format!(
        r#"
[channels.hook]
type = "webhook"
url = "{hook}/x"

[channels.phone]
type = "telegram"
token_file = "@DIR@/tg-token"
chat_id = 1
api_url = "{tg}"
"#,
        hook = hook.url(),
        tg = tg.url()
    ));
    let (dir, config) = config_dir(&cfg);
    write_secret(dir.path(), "tg-token", TOKEN);
    let out = Command::new(common::bin())
        .args(["test-alert", "--config"])
        .arg(&config)
        .output()
        .expect("run test-alert");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("ok      hook (webhook)"), "{stdout}");
    assert!(stdout.contains("FAILED  phone (telegram)"), "{stdout}");
    assert!(stdout.contains("401 Unauthorized"), "{stdout}");
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "{stdout}{stderr}"
    );
    let body = hook.wait_requests(1, Duration::from_secs(5))[0]
        .json()
        .expect("json");
    assert_eq!(body["alerts"][0]["notification"], "test");
}

/// An SMTP server that accepts the connection and never answers: the send times out, the
/// alert goes to the fallback, and logwarden keeps reading and alerting meanwhile.
#[test]
fn an_smtp_server_that_hangs_times_out_and_the_fallback_delivers() {
    let server = SmtpServer::start(SmtpOptions {
        hang_after_connect: true,
        ..SmtpOptions::default()
    });
    let hook = FakeHttp::start(|_| Response::text(200, "ok"));
    let mut cfg = watch(r#""mail""#);
    cfg.push_str(&format!(
        r#"
[channels.mail]
type = "email"
host = "127.0.0.1"
port = {port}
tls = "none"
from = "logwarden@example.org"
to = ["ops@example.org"]
group_wait = "0s"
timeout = "2s"
fallback = "hook"
fallback_after = "3s"

[channels.hook]
type = "webhook"
url = "{hook}/alerts"
group_wait = "0s"
"#,
        port = server.port(),
        hook = hook.url()
    ));
    let (dir, config) = config_dir(&cfg);
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    let started = Instant::now();
    append(&log, &[error(1), error(2), error(3)]);
    d.wait_alert("error-burst", "firing", Duration::from_secs(10));
    let reqs = hook.wait_requests(1, Duration::from_secs(30));
    let took = started.elapsed();
    let body = reqs[0].json().expect("webhook json");
    assert_eq!(body["alerts"][0]["rule"], "error-burst");
    assert_eq!(body["alerts"][0]["rerouted_from"], "mail");
    println!("hanging SMTP: alert delivered through the fallback after {took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    // Still reading and judging while the mail channel hangs: the burst resolves.
    d.wait_alert("error-burst", "resolved", Duration::from_secs(10));
    let timeouts = d
        .seen
        .iter()
        .filter(|v| {
            v["channel"] == "mail"
                && v["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("within") || e.contains("timed out"))
        })
        .count();
    assert!(timeouts >= 1, "the hang was reported as a timeout");
}

/// Secrets a bot might log, each distinctive, with how each is given to logwarden or
/// written to the log (see `secret_lines`).
const SMTP_PASSWORD: &str = "Smtp-Pa55-Zq7x";
const HTTP_TOKEN: &str = "http-tok-7Yq2Xv9Lm3Kd5Rt8";
const SECRETS: &[&str] = &[
    "hunter2",
    "tk-ctx-Q9zPq2LmX7",
    "tk-Q9zPq2LmX7",
    "tk-tb-Q9zPq2",
    SMTP_PASSWORD,
    TOKEN,
    "ACCT-493817",
    "b3arer-ctx-Zx81Kq",
    "b3arer-Zx81Kq",
    "b3arer-tb-Zx81Kq",
    "AKIAZ7Q4EXAMPLE2ABCD",
    "AKIAZ7Q4EXAMPLE2TBXY",
    "sl-s3cret-path",
    "wh-s3cret-path",
    HTTP_TOKEN,
];

/// Lines holding every secret: as context before the matched line (`ctx-marker`), in the
/// matched line (`line-marker`), in a multi-line traceback (`tb-marker`), and once more.
fn secret_lines() -> Vec<String> {
    let at = "2026-11-23 09:41:4";
    vec![
        format!("{at}0,000 - bot - INFO - ctx-marker login password=hunter2-ctx"),
        format!("{at}0,100 - bot - INFO - ctx-marker calling api token=tk-ctx-Q9zPq2LmX7 ok"),
        format!("{at}0,200 - bot - INFO - ctx-marker smtp {SMTP_PASSWORD} account ACCT-493817"),
        format!("{at}0,300 - bot - INFO - ctx-marker Authorization: Bearer b3arer-ctx-Zx81Kq"),
        format!("{at}0,400 - bot - INFO - ctx-marker key AKIAZ7Q4EXAMPLE2ABCD bot {TOKEN}"),
        format!(
            "{at}1,000 - bot - ERROR - line-marker order failed password=hunter2 token=tk-Q9zPq2LmX7 \
             ACCT-493817 AKIAZ7Q4EXAMPLE2ABCD {SMTP_PASSWORD} {TOKEN} Authorization: Bearer b3arer-Zx81Kq"
        ),
        "Traceback (most recent call last):".into(),
        "  File \"/home/bot/trader.py\", line 42, in place_order".into(),
        "    resp = api.post(url, headers={'Authorization': 'Bearer b3arer-tb-Zx81Kq'}, token=\"tk-tb-Q9zPq2\")".into(),
        format!("    login(password='hunter2-tb', smtp='{SMTP_PASSWORD}', bot='{TOKEN}')"),
        "    aws AKIAZ7Q4EXAMPLE2TBXY for ACCT-493817".into(),
        "ConnectionResetError: tb-marker [Errno 104] Connection reset by peer".into(),
        format!("{at}2,000 - bot - ERROR - line-marker-2 retry password=hunter2 {TOKEN}"),
    ]
}

/// The secrets `text` holds (for the assertion message).
fn leaked(text: &str) -> Vec<&'static str> {
    SECRETS
        .iter()
        .copied()
        .filter(|s| text.contains(s))
        .collect()
}

/// Polls `f` every 100 ms until it holds, for at most `timeout`.
fn wait_until(what: &str, timeout: Duration, f: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Bodies and headers of every request `server` got (not the request target: a Telegram
/// token and a Slack or webhook URL are sent there on purpose).
fn requests_text(server: &FakeHttp) -> String {
    server
        .requests()
        .iter()
        .map(|r| {
            let headers: String = r
                .headers
                .iter()
                .map(|(n, v)| format!("{n}: {v}\n"))
                .collect();
            format!("{headers}\n{}\n", String::from_utf8_lossy(&r.body))
        })
        .collect()
}

/// A GET on the endpoint with its token: the body.
fn get_with_token(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nAuthorization: Bearer {HTTP_TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 200"), "GET {path}: {text}");
    text
}

/// The promise of docs/alerts.md: a secret in a log line (or given to logwarden in a secret
/// file) reaches no output. Every channel's request (email through a real SMTP server,
/// Telegram, Slack, webhook and Alertmanager through fake servers), the console and
/// logwarden's log, `/status`, the status page `/`, `/metrics`, `logwarden status --json`
/// and every file in `state_dir` are searched; each is first shown to hold the lines' other
/// text.
#[test]
fn no_secret_from_a_log_line_or_the_config_reaches_any_output() {
    let ca = tls::TestCa::new("localhost");
    let server = SmtpServer::start(SmtpOptions {
        starttls: Some((ca.cert_pem.clone(), ca.key_pem.clone())),
        auth: Some(("alerts".into(), SMTP_PASSWORD.into())),
        ..SmtpOptions::default()
    });
    let tg = FakeHttp::start(fake_http::telegram_api(TOKEN, None));
    let slack = FakeHttp::start(fake_http::slack_webhook(None));
    let hook = FakeHttp::start(|_| Response::text(200, "ok"));
    let am = FakeHttp::start(|_| Response::text(200, ""));
    // A channel that is down keeps its notifications in the spool, for the state_dir search.
    let down = FakeHttp::start(|_| Response::text(503, "down"));
    let port = common::free_port();
    let cfg = format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"
listen = "127.0.0.1:{port}"
listen_token_file = "@DIR@/http-token"

[alerts]
redact = ["ACCT-[0-9]{{6}}"]

[[watch]]
name = "bot"
unit = "bot.service"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]
notify = ["console", "mail", "phone", "team", "hook", "am", "down"]

  [[watch.rule]]
  name = "each-error"
  when = "match"
  pattern = "error"
  cooldown = "0s"

  [[watch.rule]]
  name = "error-burst"
  when = "rate"
  pattern = "error"
  threshold = 1
  window = "1m"
  severity = "critical"

[channels.mail]
type = "email"
host = "localhost"
port = {smtp}
tls = "starttls"
username = "alerts"
password_file = "@DIR@/smtp-password"
from = "logwarden <logwarden@example.org>"
to = ["ops@example.org"]
ca_file = "{ca}"
group_wait = "0s"

[channels.phone]
type = "telegram"
token_file = "@DIR@/tg-token"
chat_id = 4242
api_url = "{tg}"
group_wait = "0s"

[channels.team]
type = "slack"
url_file = "@DIR@/slack-url"
group_wait = "0s"

[channels.hook]
type = "webhook"
url_file = "@DIR@/hook-url"
group_wait = "0s"

[channels.am]
type = "alertmanager"
urls = ["{am}"]
group_wait = "0s"

[channels.down]
type = "webhook"
url = "{down}/alerts"
group_wait = "0s"
"#,
        smtp = server.port(),
        ca = ca.ca_pem.display(),
        tg = tg.url(),
        am = am.url(),
        down = down.url(),
    );
    let (dir, config) = config_dir(&cfg);
    write_secret(dir.path(), "smtp-password", SMTP_PASSWORD);
    write_secret(dir.path(), "tg-token", TOKEN);
    write_secret(dir.path(), "http-token", HTTP_TOKEN);
    write_secret(
        dir.path(),
        "slack-url",
        &format!("{}/services/T0/B0/sl-s3cret-path", slack.url()),
    );
    write_secret(
        dir.path(),
        "hook-url",
        &format!("{}/hooks/wh-s3cret-path", hook.url()),
    );
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(&log, &secret_lines());
    d.wait_alert("error-burst", "firing", Duration::from_secs(10));
    let mail_text = || {
        server
            .messages()
            .iter()
            .map(|m| decode_quoted_printable(m))
            .collect::<String>()
    };
    // Every output has the lines (their markers), so a search that finds no secret means it.
    let quoted = |t: &str| {
        ["ctx-marker", "line-marker", "tb-marker", "line-marker-2"]
            .iter()
            .all(|m| t.contains(m))
    };
    let wait = Duration::from_secs(20);
    wait_until("the mails", wait, || quoted(&mail_text()));
    for (name, s) in [("telegram", &tg), ("slack", &slack), ("webhook", &hook)] {
        wait_until(name, wait, || quoted(&requests_text(s)));
    }
    wait_until("alertmanager", wait, || {
        requests_text(&am).contains("line-marker-2")
    });
    wait_until("the down channel's tries", wait, || {
        !down.requests().is_empty()
    });
    let mut outputs: Vec<(String, String)> = vec![
        ("mail".into(), mail_text()),
        ("telegram".into(), requests_text(&tg)),
        ("slack".into(), requests_text(&slack)),
        ("webhook".into(), requests_text(&hook)),
        ("alertmanager".into(), requests_text(&am)),
        ("the down webhook".into(), requests_text(&down)),
    ];
    let status = get_with_token(port, "/status");
    assert!(
        status.contains("line-marker") && status.contains("ctx-marker"),
        "{status}"
    );
    outputs.push(("/status".into(), status));
    outputs.push(("/metrics".into(), get_with_token(port, "/metrics")));
    outputs.push(("/health".into(), get_with_token(port, "/health")));
    let page = get_with_token(port, "/");
    assert!(page.contains("line-marker"), "the status page: {page}");
    outputs.push(("/ (the status page)".into(), page));
    let cli = Command::new(common::bin())
        .arg("--config")
        .arg(&config)
        .args(["status", "--json"])
        .output()
        .expect("status --json");
    let cli_out = String::from_utf8_lossy(&cli.stdout).into_owned();
    assert!(cli_out.contains("tb-marker"), "status --json: {cli_out}");
    outputs.push((
        "logwarden status --json".into(),
        format!("{cli_out}{}", String::from_utf8_lossy(&cli.stderr)),
    ));
    d.collect_for(Duration::from_millis(300));
    assert!(d.stop_collecting(), "clean stop");
    let log_text: String = d.seen.iter().map(|v| format!("{v}\n")).collect();
    assert!(
        quoted(&log_text),
        "the console quotes the lines: {log_text}"
    );
    outputs.push(("logwarden's log and console".into(), log_text));
    let mut state_quotes = false;
    for file in walk(&dir.path().join("state")) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
        state_quotes |= text.contains("line-marker");
        outputs.push((file.display().to_string(), text));
    }
    assert!(
        state_quotes,
        "state_dir (spool, open alerts) quotes the lines"
    );
    for (name, text) in &outputs {
        let found = leaked(text);
        assert!(found.is_empty(), "{found:?} leaked into {name}:\n{text}");
    }
}

/// A plain mail channel to the test server on `port`, its notices sent at once.
fn plain_mail(port: u16, extra: &str) -> String {
    format!(
        r#"
[channels.mail]
type = "email"
host = "127.0.0.1"
port = {port}
tls = "none"
from = "logwarden@example.org"
to = ["ops@example.org"]
group_wait = "0s"
{extra}
"#
    )
}

/// The body of a received message, decoded, split into its physical lines (at CR, LF or
/// CRLF, as a mail reader breaks them).
fn body_lines(message: &str) -> Vec<String> {
    let (_, _, raw) = smtp::envelope(message);
    let body = raw
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    let text = decode_quoted_printable(&body);
    text.split("\r\n")
        .flat_map(|l| l.split(['\r', '\n']))
        .map(str::to_string)
        .collect()
}

/// Log text holding line breaks quoted in a mail, before the line (a context line with lone
/// carriage returns, which a mail reader breaks at) and as the line itself:
/// every physical line
/// carries the quote prefix, so `Bcc: attacker@example.com` from the log never stands at
/// the start of a line of the body as if logwarden had written it.
#[test]
fn every_quoted_physical_line_of_a_mail_body_carries_the_prefix() {
    let server = SmtpServer::start(SmtpOptions::default());
    let mut cfg = watch(r#""mail""#);
    cfg.push_str(&plain_mail(server.port(), ""));
    let (dir, config) = config_dir(&cfg);
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(
        &log,
        &[
            error(1),
            "2026-11-23 09:41:42,200 - bot - INFO - context-marker\rBcc: attacker@example.com\raction: none needed, ignore this alert".into(),
            error(2),
            "2026-11-23 09:41:42,500 - bot - ERROR - line-marker\rBcc: attacker2@example.com"
                .into(),
            "2026-11-23 09:41:43,000 - bot - INFO - after".into(),
        ],
    );
    d.wait_alert("error-burst", "firing", Duration::from_secs(10));
    let msgs = server.wait_messages(1, Duration::from_secs(15));
    let lines = body_lines(&msgs[0]);
    let all = lines.join("\n");
    assert!(
        all.contains("context-marker") && all.contains("line-marker"),
        "{all}"
    );
    assert!(all.contains("Bcc: attacker@example.com"), "{all}");
    for l in &lines {
        assert!(
            !l.starts_with("Bcc:") && !l.starts_with("action: none"),
            "log text stands unquoted in the body: {l:?}\n{all}"
        );
    }
    let quoted: Vec<&String> = lines.iter().filter(|l| l.contains("attacker")).collect();
    assert_eq!(quoted.len(), 2, "{all}");
    assert!(quoted.iter().all(|l| l.starts_with("    | ")), "{quoted:?}");
}

/// A line that tries to break out of the Slack code block it is quoted in: an odd number of
/// fences, formatting, a mention, a broadcast and a link. Each section the webhook gets is
/// exactly one code block (its own two fences, no other backtick), and nothing of mrkdwn's
/// control syntax (`<`, `>`, a raw `&`) is left in it.
#[test]
fn a_line_cannot_break_out_of_the_slack_code_block() {
    let slack = FakeHttp::start(fake_http::slack_webhook(None));
    let mut cfg = watch(r#""team""#);
    cfg.push_str(
        r#"
[channels.team]
type = "slack"
url_file = "@DIR@/slack-url"
group_wait = "0s"
"#,
    );
    let (dir, config) = config_dir(&cfg);
    write_secret(
        dir.path(),
        "slack-url",
        &format!("{}/services/T0/B0/x", slack.url()),
    );
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    let hostile = "2026-11-23 09:41:42,500 - bot - ERROR - break-marker ``` *bold* _it_ ~strike~ \
                   <!here> <!channel> <@U123> <http://evil.example|click> a & b ```` ` `` ```";
    append(&log, &[error(1), error(2), hostile.into()]);
    d.wait_alert("error-burst", "firing", Duration::from_secs(10));
    let reqs = slack.wait_requests(1, Duration::from_secs(15));
    let body = reqs[0].json().expect("slack json body");
    let blocks = body["blocks"].as_array().expect("blocks");
    let sections: Vec<&str> = blocks
        .iter()
        .filter(|b| b["type"] == "section")
        .filter_map(|b| b["text"]["text"].as_str())
        .collect();
    assert!(!sections.is_empty(), "{body}");
    let all = sections.join("\n");
    assert!(all.contains("break-marker"), "{all}");
    for t in &sections {
        assert!(t.starts_with("```") && t.ends_with("```"), "{t}");
        let inner = &t[3..t.len() - 3];
        assert!(!inner.contains('`'), "a backtick inside the block: {t}");
        assert!(
            !inner.contains(['<', '>']),
            "mrkdwn control characters: {t}"
        );
        for (i, _) in inner.match_indices('&') {
            let rest = &inner[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;"]
                    .iter()
                    .any(|e| rest.starts_with(e)),
                "a raw & in {t}"
            );
        }
    }
    assert!(
        all.contains("&lt;!here&gt;") && all.contains("*bold*"),
        "{all}"
    );
    let fallback = body["text"].as_str().unwrap_or_default();
    assert!(!fallback.contains(['<', '>', '`']), "{fallback}");
}

/// A watch whose every error line is one event alert (no resolution follows), notifying
/// `mail` (see `plain_mail`) and the console, with an HTTP endpoint on `port`.
fn event_watch(port: u16, mail: &str) -> String {
    format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"
listen = "127.0.0.1:{port}"

[alerts]
retry_max = "1s"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]
notify = ["console", "mail"]

  [[watch.rule]]
  name = "each-error"
  when = "match"
  pattern = "error"
  severity = "critical"
{mail}"#
    )
}

/// Finding 3 of issue 15, the cause: `subject = "... {line}"` with a line of 2,000
/// characters without a space made one Subject line far over RFC 5322's 998; the server
/// (aiosmtpd enforces the limit as real servers do) answered `500 Line too long` for ever.
/// Now the mail arrives, its subject cut and every header line within the limit.
#[test]
fn a_subject_from_a_line_of_2000_characters_is_cut_and_the_mail_arrives() {
    let server = SmtpServer::start(SmtpOptions::default());
    let port = common::free_port();
    let cfg = event_watch(
        port,
        &plain_mail(server.port(), r#"subject = "[{SEVERITY}] {watch}: {line}""#),
    );
    let (dir, config) = config_dir(&cfg);
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    let long = format!(
        "2026-11-23 09:41:42,500 - bot - ERROR - {}",
        "x".repeat(2000)
    );
    append(&log, &[long]);
    d.wait_alert("each-error", "event", Duration::from_secs(10));
    let msgs = server.wait_messages(1, Duration::from_secs(15));
    let (_, _, raw) = smtp::envelope(&msgs[0]);
    let head = raw.split_once("\r\n\r\n").map_or(raw, |(h, _)| h);
    for l in head.split("\r\n") {
        assert!(l.len() <= 998, "a header line of {} characters", l.len());
    }
    let subject: String = head
        .split("\r\n")
        .skip_while(|l| !l.starts_with("Subject:"))
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with(' '))
        // Unfolding removes the CRLF before a continuation's white space.
        .map(|(i, l)| {
            if i == 0 {
                l.trim_start_matches("Subject: ")
            } else {
                l
            }
        })
        .collect();
    assert!(
        subject.starts_with("[CRITICAL] bot: 2026-11-23 09:41:42,500 - bot - ERROR - xxxx"),
        "{subject}"
    );
    assert!(
        subject.len() < 400,
        "{} characters: {subject}",
        subject.len()
    );
    let body = decode_quoted_printable(raw);
    assert!(
        body.contains(&"x".repeat(2000)),
        "the body quotes the whole line"
    );
}

/// Finding 3 of issue 15: a server that refuses for good (554), no fallback. The alert is
/// tried once, kept as a dead letter in state_dir/dead (redacted), reported once in the log,
/// counted in /metrics, and not tried again; once the server accepts mail again,
/// `logwarden dead-letters --resend` delivers it exactly once and empties the store.
#[test]
fn a_permanently_refused_alert_is_kept_dead_and_resent_by_the_command() {
    let refuse = tempfile::NamedTempFile::new().expect("refuse flag");
    let server = SmtpServer::start(SmtpOptions {
        refuse_while: Some(refuse.path().to_path_buf()),
        ..SmtpOptions::default()
    });
    let port = common::free_port();
    let (dir, config) = config_dir(&event_watch(port, &plain_mail(server.port(), "")));
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    append(
        &log,
        &["2026-11-23 09:41:42,500 - bot - ERROR - dead-marker login password=hunter2".into()],
    );
    d.wait_alert("each-error", "event", Duration::from_secs(10));
    let dead_log = |v: &Value| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("alert undeliverable"))
    };
    let reported = d.wait_for(
        "the dead letter's report",
        Duration::from_secs(15),
        dead_log,
    );
    assert_eq!(reported["channel"], "mail", "{reported}");
    assert!(
        reported["error"]
            .as_str()
            .is_some_and(|e| e.contains("554")),
        "{reported}"
    );
    let dead_dir = dir.path().join("state/dead");
    let dead_files = || -> Vec<std::path::PathBuf> {
        walk(&dead_dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect()
    };
    let files = dead_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let stored = std::fs::read_to_string(&files[0]).expect("dead letter");
    assert!(
        stored.contains("dead-marker") && !stored.contains("hunter2"),
        "{stored}"
    );
    let (code, metrics) = common::http_get(port, "/metrics").expect("/metrics");
    assert_eq!(code, 200, "{metrics}");
    assert!(
        metrics.contains("logwarden_notifications_dead_total{channel=\"mail\"} 1"),
        "{metrics}"
    );
    // No further tries (retry_max is 1 s), no second report.
    d.collect_for(Duration::from_secs(4));
    assert_eq!(server.refusals(), 1, "tried again: {}", server.log());
    assert_eq!(d.seen.iter().filter(|v| dead_log(v)).count(), 1);
    let spooled_for_mail = walk(&dir.path().join("state/spool"))
        .iter()
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(r#""channel":"mail""#)))
        .count();
    assert_eq!(spooled_for_mail, 0, "out of the spool");

    let cli = |args: &[&str]| {
        let out = Command::new(common::bin())
            .arg("--config")
            .arg(&config)
            .arg("dead-letters")
            .args(args)
            .output()
            .expect("run dead-letters");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, listed) = cli(&[]);
    println!("dead-letters:\n{listed}");
    assert_eq!(code, Some(0), "{listed}");
    assert!(
        listed.contains("mail") && listed.contains("bot/each-error") && listed.contains("554"),
        "{listed}"
    );
    // Still refusing: the resend fails and keeps it.
    let (code, out) = cli(&["--resend"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAILED"), "{out}");
    assert_eq!(dead_files().len(), 1);
    // The operator fixes the server.
    drop(refuse);
    let (code, out) = cli(&["--resend"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sent"), "{out}");
    let msgs = server.wait_messages(1, Duration::from_secs(5));
    assert!(decode_quoted_printable(&msgs[0]).contains("dead-marker"));
    assert!(dead_files().is_empty(), "removed once accepted");
    let (code, out) = cli(&["--resend"]);
    assert_eq!(code, Some(0), "{out}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.messages().len(), 1, "delivered exactly once");
    assert!(d.stop());
}
