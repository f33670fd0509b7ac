//! The `slack` channel's bot form (`token` + `channel`, `chat.postMessage`) against a fake
//! Slack Web API (`common/fake_slack.rs`) and the real binary: Slack's HTTP 200 with
//! `{"ok":false,...}` is a failure, never a silent success — `internal_error` is retried and
//! the message delivered once; `channel_not_found` is permanent and dead-lettered at once;
//! `ratelimited` (HTTP 429) waits and is retried. The token goes as `Authorization: Bearer`,
//! never in a URL or a log line, and a hostile log line reaches Slack inert.

mod common;
#[path = "common/fake_http.rs"]
mod fake_http;
#[path = "common/fake_slack.rs"]
mod fake_slack;

use std::time::Duration;

use common::{append, config_dir, Daemon};
use fake_slack::FakeSlack;

const TOKEN: &str = "xoxb-1234-5678-SlackBotTokenValue";
const CHANNEL: &str = "C0123ABCD";

fn error(n: usize) -> String {
    format!("2026-11-23 09:41:42,123 - bot - ERROR - numbered {n} end")
}

/// A watch whose error burst goes to `team` (retries a failure) and `lost` (a channel
/// the bot is not in).
fn config(team: &str, lost: &str) -> String {
    format!(
        r#"
[daemon]
state_dir = "@DIR@/state"
poll_interval = "100ms"

[alerts]
retry_max = "1s"

[[watch]]
name = "bot"
files = ["@DIR@/bot.log"]
patterns = ["python-logging"]
notify = ["console", "team", "lost"]

  [[watch.rule]]
  name = "error-burst"
  when = "rate"
  pattern = "error"
  threshold = 2
  window = "3s"
  severity = "critical"

[channels.team]
type = "slack"
token_file = "@DIR@/slack-token"
channel = "{CHANNEL}"
api_url = "{team}"
group_wait = "0s"

[channels.lost]
type = "slack"
token_file = "@DIR@/slack-token"
channel = "C0NOTHERE"
api_url = "{lost}"
group_wait = "0s"
"#
    )
}

#[test]
fn ok_false_is_a_failure_retried_or_dead_lettered_never_a_silent_success() {
    let team = FakeSlack::start(TOKEN, CHANNEL, &["internal_error", "ratelimited"]);
    let lost = FakeSlack::start(TOKEN, CHANNEL, &[]);
    let (dir, config) = config_dir(&config(&team.url(), &lost.url()));
    let token = dir.path().join("slack-token");
    std::fs::write(&token, TOKEN).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = dir.path().join("bot.log");
    append(&log, &[]);
    let mut d = Daemon::start(&config);
    d.wait_reading(&log);
    let hostile = "2026-11-23 09:41:42,500 - bot - ERROR - <!channel> <@U024BE7LH> `rm -rf` &amp;";
    append(&log, &[error(1), error(2), hostile.to_string()]);
    d.wait_alert("error-burst", "firing", Duration::from_secs(10));

    // team: refused with ok:false (internal_error), then rate limited, then accepted.
    let reqs = team.http.wait_requests(3, Duration::from_secs(20));
    assert_eq!(
        String::from_utf8_lossy(&reqs[0].body),
        String::from_utf8_lossy(&reqs[2].body),
        "the retry is the same message"
    );
    for r in &reqs {
        assert!(r.path.ends_with("/chat.postMessage"), "{}", r.path);
        assert!(!r.path.contains(TOKEN), "the token is never in the URL");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    // lost: channel_not_found is for good: dead-lettered, not retried.
    let dead = d.wait_for("lost's dead letter", Duration::from_secs(15), |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("alert undeliverable"))
            && v["channel"] == "lost"
    });
    assert!(
        dead["error"]
            .as_str()
            .is_some_and(|e| e.contains("channel_not_found")),
        "{dead}"
    );
    d.collect_for(Duration::from_secs(3));
    let tries = lost.http.requests();
    let firing = &tries[0].body;
    assert_eq!(
        tries.iter().filter(|r| &r.body == firing).count(),
        1,
        "a permanent failure is not retried"
    );
    assert!(lost.posted().is_empty());
    let posted = team.posted();
    let firings: Vec<_> = posted
        .iter()
        .filter(|(_, b)| b["text"].as_str().is_some_and(|t| t.contains("firing")))
        .collect();
    assert_eq!(firings.len(), 1, "delivered once: {posted:?}");
    let body = posted[0].1.to_string();
    assert!(body.contains("error-burst"), "{body}");
    assert!(
        !body.contains("<!channel>") && !body.contains("<@U024BE7LH>") && !body.contains("`rm"),
        "the line is inert: {body}"
    );
    assert!(body.contains("&lt;!channel&gt;"), "{body}");
    assert_eq!(posted[0].1["channel"], CHANNEL);
    assert_eq!(posted[0].1["unfurl_links"], false);
    for v in &d.seen {
        assert!(
            !v.to_string().contains(TOKEN),
            "the token in a log line: {v}"
        );
    }
    assert!(d.stop());
}
