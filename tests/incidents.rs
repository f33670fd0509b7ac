//! One frozen bot, one incident, one thread: a real systemd (PID 1 in a namespace) runs a bot
//! that logs `Update VIX=...`; it is frozen (SIGSTOP), logwarden restarts and verifies it, and
//! each channel — a real SMTP server (aiosmtpd), a fake Telegram Bot API and a fake Slack Web
//! API (`chat.postMessage` with a bot token) — gets exactly one "opened" message and one
//! "ended" message, the ended one a reply to the opened one (`In-Reply-To`/`References` = its
//! `Message-ID`; `reply_to_message_id` = its `message_id`; `thread_ts` = its `ts`). While the
//! incident is open, `/status` and `logwarden status` show it: the rule that opened it and
//! the alerts folded into it.

mod common;
#[path = "common/fake_http.rs"]
mod fake_http;
#[path = "common/fake_slack.rs"]
mod fake_slack;
#[path = "common/smtp.rs"]
mod smtp;
#[path = "common/systemd.rs"]
mod systemd;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Daemon;
use fake_http::FakeHttp;
use fake_slack::FakeSlack;
use smtp::{SmtpOptions, SmtpServer};
use systemd::{shared_tempdir, SystemdNs};

const TOKEN: &str = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0";
const SLACK_TOKEN: &str = "xoxb-1234-5678-AbCdEfGhIjKlMnOp";
const SLACK_CHANNEL: &str = "C0123ABCD";

/// Logs a line every 200 ms until it is frozen.
const BOT: &str = r#"#!/usr/bin/python3
import sys, time
log = sys.argv[1]
i = 0
while True:
    i += 1
    with open(log, "a") as f:
        f.write("2026-11-23 09:41:42,123 - bot - INFO - Update VIX=17.%d\n" % i)
    time.sleep(0.2)
"#;

/// The value of header `name` in a raw mail (first occurrence, unfolded).
fn header(raw: &str, name: &str) -> Option<String> {
    let mut lines = raw.lines();
    let prefix = format!("{}:", name.to_ascii_lowercase());
    while let Some(l) = lines.next() {
        if l.is_empty() {
            return None;
        }
        if l.to_ascii_lowercase().starts_with(&prefix) {
            let mut v = l[prefix.len()..].trim().to_string();
            for more in lines.by_ref() {
                if more.starts_with(' ') || more.starts_with('\t') {
                    v.push(' ');
                    v.push_str(more.trim());
                } else {
                    break;
                }
            }
            return Some(v);
        }
    }
    None
}

/// What `/status` and `logwarden status` showed while an incident was open.
#[derive(Default)]
struct Seen {
    /// The first `/status` that shows an alert folded into an incident opened by another.
    json: Option<serde_json::Value>,
    /// `logwarden status` right after it.
    text: Option<String>,
    /// The last `/status` read, for a failure's message.
    last: serde_json::Value,
}

/// Polls `/status` (bounded by `stop`) until it shows an incident holding an alert other
/// than the one that opened it, then asks `logwarden status` once too.
fn watch_status(
    port: u16,
    config: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Seen> {
    std::thread::spawn(move || {
        let mut seen = Seen::default();
        while !stop.load(Ordering::SeqCst) && seen.json.is_none() {
            if let Ok((200, body)) = common::http_get(port, "/status") {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let rules = &v["watches"][0]["rules"];
                let folded = rules.as_object().is_some_and(|r| {
                    r.iter()
                        .any(|(name, r)| r["incident"].as_str().is_some_and(|by| by != name))
                });
                if folded {
                    seen.text = Some(cli_status(&config));
                    seen.json = Some(v);
                } else if rules
                    .as_object()
                    .is_some_and(|r| r.values().any(|r| r["firing"] == true))
                {
                    seen.last = v;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        seen
    })
}

/// `logwarden status --config CONFIG` (a second process), its standard output.
fn cli_status(config: &Path) -> String {
    let out = std::process::Command::new(common::bin())
        .arg("status")
        .arg("--config")
        .arg(config)
        .output()
        .expect("run logwarden status");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_frozen_and_restarted_bot_is_one_opened_and_one_ended_message_per_channel_threaded() {
    let ns = SystemdNs::boot();
    let dir = shared_tempdir();
    let log = dir.path().join("bot.log");
    let bot = SystemdNs::script(&dir.path().join("bot.py"), BOT);
    ns.install_unit(
        "bot.service",
        &format!(
            // Started again, the bot takes 3 s (as a bot that logs in first does): the log
            // stays quiet past no-activity's window, which fires into the open incident.
            "[Service]\nExecStartPre=/bin/sh -c 'test -e {started} && sleep 3; touch {started}'\nExecStart=/usr/bin/python3 {} {}\nTimeoutStopSec=1s\n",
            bot.display(),
            log.display(),
            started = dir.path().join("started-once").display()
        ),
    );
    let mail = SmtpServer::start(SmtpOptions::default());
    let tg = FakeHttp::start(fake_http::telegram_api(TOKEN, None));
    std::fs::write(dir.path().join("tg-token"), TOKEN).unwrap();
    let slack = FakeSlack::start(SLACK_TOKEN, SLACK_CHANNEL, &[]);
    std::fs::write(dir.path().join("slack-token"), SLACK_TOKEN).unwrap();
    let listen = common::free_port();
    let config = dir.path().join("logwarden.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
state_dir = "{state}"
poll_interval = "200ms"
listen = "127.0.0.1:{listen}"

[alerts]
group_wait = "0s"

[[watch]]
name = "bot"
unit = "bot.service"
files = ["{log}"]
patterns = ["trading"]
notify = ["console", "mail", "phone", "team"]

  [watch.restart]
  stop_timeout = "1s"
  verify_after = "1500ms"
  backoff = "1s"
  max_restarts = 3
  window = "1h"
  startup_grace = "1s"

  [[watch.rule]]
  name = "log-stale"
  when = "stale"
  after = "2s"
  severity = "critical"
  then = ["alert", "restart"]

  [[watch.rule]]
  name = "no-activity"
  when = "absent"
  pattern = "activity"
  window = "2500ms"
  severity = "warning"

[channels.mail]
type = "email"
host = "127.0.0.1"
port = {port}
tls = "none"
from = "logwarden <logwarden@example.org>"
to = ["ops@example.org"]

[channels.phone]
type = "telegram"
token_file = "{dir}/tg-token"
chat_id = 4242
api_url = "{tg}"

[channels.team]
type = "slack"
token_file = "{dir}/slack-token"
channel = "{slack_channel}"
api_url = "{slack}"
"#,
            state = dir.path().join("state").display(),
            log = log.display(),
            dir = dir.path().display(),
            port = mail.port(),
            tg = tg.url(),
            slack = slack.url(),
            slack_channel = SLACK_CHANNEL,
        ),
    )
    .unwrap();
    let mut d = Daemon::start_in_pid_ns(&config, ns.pid(), &systemd::bin());
    ns.systemctl(&["start", "bot.service"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0) < 400 {
        assert!(Instant::now() < deadline, "the bot does not log");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stop_watching = Arc::new(AtomicBool::new(false));
    let watcher = watch_status(listen, config.clone(), stop_watching.clone());
    ns.systemctl(&[
        "kill",
        "--kill-whom=main",
        "--signal=SIGSTOP",
        "bot.service",
    ]);
    // The supervisor logs its outcome (whether or not the alert is folded into an incident).
    d.wait_for("verified restart", Duration::from_secs(40), |v| {
        v["message"]
            .as_str()
            .is_some_and(|t| t.starts_with("restarted") && t.contains("verified healthy"))
    });
    stop_watching.store(true, Ordering::SeqCst);
    let seen = watcher.join().expect("the status watcher");
    // Everything that follows the restart (resolutions, a late no-activity) has time to
    // arrive and be grouped, then more than a group_wait to be sent.
    d.collect_for(Duration::from_secs(8));
    let mails = mail.messages();
    let sent: Vec<serde_json::Value> = tg
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/sendMessage"))
        .filter_map(|r| r.json())
        .collect();
    println!(
        "frozen bot: {} mails, {} Telegram messages",
        mails.len(),
        sent.len()
    );
    for m in &mails {
        let (_, _, raw) = smtp::envelope(m);
        println!("--- mail: {}\n", header(raw, "Subject").unwrap_or_default());
    }
    for b in &sent {
        println!("--- telegram: {}\n", b["text"]);
    }
    let posted = slack.posted();
    println!("frozen bot: {} Slack messages", posted.len());
    for (ts, b) in &posted {
        println!("--- slack {ts}: {}\n", b["text"]);
    }
    assert_eq!(mails.len(), 2, "one opened and one ended mail");
    assert_eq!(sent.len(), 2, "one opened and one ended Telegram message");
    assert_eq!(posted.len(), 2, "one opened and one ended Slack message");
    assert!(
        slack.http.requests().len() == 2,
        "no Slack request was refused or repeated"
    );

    let (_, _, opened) = smtp::envelope(&mails[0]);
    let (_, _, ended) = smtp::envelope(&mails[1]);
    let id = header(opened, "Message-ID").expect("the opened mail has a Message-ID");
    assert_eq!(header(ended, "In-Reply-To").as_deref(), Some(id.as_str()));
    assert!(
        header(ended, "References").is_some_and(|r| r.contains(&id)),
        "{ended}"
    );
    let opened_subject = header(opened, "Subject").unwrap_or_default();
    assert!(opened_subject.contains("log-stale"), "{opened_subject}");

    // The fake Bot API numbers its messages 1, 2, ...: the ended one replies to the first.
    assert!(sent[0].get("reply_to_message_id").is_none(), "{}", sent[0]);
    assert_eq!(sent[1]["reply_to_message_id"], 1, "{}", sent[1]);
    let end_text = sent[1]["text"].as_str().unwrap_or_default();
    assert!(end_text.contains("verified healthy"), "{end_text}");
    assert!(end_text.contains("log-stale"), "{end_text}");
    assert!(
        end_text.contains("no-activity resolved"),
        "the folded alert's resolution is in the end: {end_text}"
    );

    // Slack: the ended message is posted in the opened one's thread, and to the channel.
    let (opened_ts, opened) = &posted[0];
    let (_, ended) = &posted[1];
    assert!(opened.get("thread_ts").is_none(), "{opened}");
    assert_eq!(ended["thread_ts"], opened_ts.as_str(), "{ended}");
    assert_eq!(ended["reply_broadcast"], true, "{ended}");
    assert_eq!(ended["channel"], SLACK_CHANNEL);
    assert!(ended.to_string().contains("verified healthy"), "{ended}");

    // While it was open, /status showed the incident: the rule that opened it and the
    // alerts folded into it.
    let Some(status) = seen.json else {
        panic!(
            "/status never showed an alert folded into the incident; last: {}",
            seen.last["watches"][0]["rules"]
        )
    };
    let rules = &status["watches"][0]["rules"];
    println!("status while open: {rules}");
    assert_eq!(rules["log-stale"]["firing"], true, "{rules}");
    assert_eq!(rules["log-stale"]["incident"], "log-stale", "{rules}");
    assert_eq!(rules["no-activity"]["incident"], "log-stale", "{rules}");
    let text = seen.text.unwrap_or_default();
    println!("logwarden status while open:\n{text}");
    assert!(
        text.lines().any(|l| l.contains("FIRING no-activity")
            && l.contains("(in the incident log-stale opened)")),
        "{text}"
    );
    assert!(d.stop_in_pid_ns());
    drop(dir);
}
