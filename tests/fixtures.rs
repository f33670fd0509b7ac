//! The test fixtures of the alert channels, proven on their own (without logwarden): the test
//! CA's certificate is accepted by rustls, the real SMTP server takes mail only over STARTTLS
//! with the right password and survives a restart, the Alertmanager cluster forms and shows
//! alerts and their resolution, and the fake Telegram and Slack servers answer like the real
//! ones, 429s included.

#[path = "common/alertmanager.rs"]
mod alertmanager;
#[path = "common/fake_http.rs"]
mod fake_http;
#[path = "common/smtp.rs"]
mod smtp;
#[path = "common/tls.rs"]
mod tls;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use alertmanager::AlertmanagerCluster;
use fake_http::{request, slack_webhook, telegram_api, FakeHttp, Response};
use serde_json::{json, Value};
use smtp::{envelope, SmtpOptions, SmtpServer};
use tls::TestCa;

#[test]
fn test_ca_leaf_is_a_server_certificate_signed_by_the_ca() {
    let ca = TestCa::new("mail.test");
    let verify = Command::new("openssl")
        .args(["verify", "-purpose", "sslserver", "-CAfile"])
        .arg(&ca.ca_pem)
        .arg(&ca.cert_pem)
        .output()
        .expect("openssl verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let text = |p: &Path| {
        let o = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(p)
            .output()
            .expect("openssl x509");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let leaf = text(&ca.cert_pem);
    for want in [
        "CA:FALSE",
        "TLS Web Server Authentication",
        "DNS:mail.test",
        "DNS:localhost",
        "IP Address:127.0.0.1",
    ] {
        assert!(leaf.contains(want), "leaf lacks {want}:\n{leaf}");
    }
    assert!(text(&ca.ca_pem).contains("CA:TRUE"));
}

/// rustls (through reqwest, as logwarden uses it) accepts the leaf when it trusts the CA.
#[test]
fn rustls_accepts_the_test_ca_leaf_for_localhost_and_127_0_0_1() {
    let ca = TestCa::new("localhost");
    let script = "import http.server, ssl, sys\n\
        s = http.server.HTTPServer(('127.0.0.1', 0), http.server.BaseHTTPRequestHandler)\n\
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[1], sys.argv[2])\n\
        s.socket = c.wrap_socket(s.socket, server_side=True)\n\
        print(s.server_port, flush=True); s.serve_forever()\n";
    let child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(&ca.cert_pem)
        .arg(&ca.key_pem)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 https server");
    let mut child = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    let port: u16 = line.trim().parse().expect("a port");
    let pem = std::fs::read(&ca.ca_pem).expect("ca.pem");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // reqwest arms its timeout when the request is built: that needs the runtime.
    let _in_runtime = rt.enter();
    for host in ["localhost", "127.0.0.1"] {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA"))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        // The handler answers 501 to GET: what matters is that the TLS handshake succeeded.
        let r = rt.block_on(client.get(format!("https://{host}:{port}/")).send());
        let status = r
            .unwrap_or_else(|e| panic!("TLS to {host}: {e:?}"))
            .status();
        assert_eq!(status.as_u16(), 501);
        // And without the CA, rustls refuses the certificate.
        let bare = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        assert!(rt
            .block_on(bare.get(format!("https://{host}:{port}/")).send())
            .is_err());
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends one message with Python's smtplib. `mode`: "starttls", "implicit" or "plain".
/// Returns Ok or the error smtplib raised (its class and the server's answer).
fn smtplib_send(
    port: u16,
    mode: &str,
    ca: Option<&Path>,
    login: Option<(&str, &str)>,
    to: &[&str],
    message: &str,
) -> Result<(), String> {
    let script = r#"
import smtplib, ssl, sys
port, mode, ca, user, password, to = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca) if ca else None
try:
    if mode == "implicit":
        s = smtplib.SMTP_SSL("localhost", int(port), context=ctx, timeout=10)
    else:
        s = smtplib.SMTP("localhost", int(port), timeout=10)
        if mode == "starttls":
            s.starttls(context=ctx)
    if user:
        s.login(user, password)
    s.sendmail("logwarden@example.org", to.split(","), sys.stdin.buffer.read())
    s.quit()
    print("ok")
except Exception as e:
    print(type(e).__name__, e)
"#;
    let (user, pass) = login.unwrap_or(("", ""));
    let mut child = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(port.to_string())
        .arg(mode)
        .arg(ca.map(|p| p.display().to_string()).unwrap_or_default())
        .args([user, pass, &to.join(",")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 smtplib");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), message.as_bytes())
        .expect("write message");
    let out = child.wait_with_output().expect("smtplib");
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if said == "ok" {
        Ok(())
    } else {
        Err(said)
    }
}

const MESSAGE: &str = "From: logwarden <logwarden@example.org>\r\n\
    To: ops@example.org\r\n\
    Subject: [CRITICAL] bot: error-burst firing\r\n\
    \r\n\
    Traceback (most recent call last):\r\n  File \"bot.py\", line 3, in <module>\r\n\
    ValueError: boom\r\n";

fn starttls_server(ca: &TestCa) -> SmtpServer {
    SmtpServer::start(SmtpOptions {
        starttls: Some((ca.cert_pem.clone(), ca.key_pem.clone())),
        auth: Some(("alerts".into(), "s3cret".into())),
        ..Default::default()
    })
}

#[test]
fn smtp_takes_a_message_over_starttls_with_login_and_records_the_envelope() {
    let ca = TestCa::new("localhost");
    let server = starttls_server(&ca);
    let to = ["ops@example.org", "oncall@example.org"];
    smtplib_send(
        server.port(),
        "starttls",
        Some(&ca.ca_pem),
        Some(("alerts", "s3cret")),
        &to,
        MESSAGE,
    )
    .expect("send over STARTTLS");
    let got = server.wait_messages(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    let (from, rcpts, raw) = envelope(&got[0]);
    assert_eq!(from, "logwarden@example.org");
    assert_eq!(rcpts, to);
    assert!(raw.starts_with("From: logwarden"), "{raw}");
    assert!(raw.contains("Subject: [CRITICAL] bot: error-burst firing"));
    assert!(raw.contains("ValueError: boom"));
}

#[test]
fn smtp_refuses_a_wrong_password_and_auth_or_mail_without_starttls() {
    let ca = TestCa::new("localhost");
    let server = starttls_server(&ca);
    let port = server.port();
    let wrong = smtplib_send(
        port,
        "starttls",
        Some(&ca.ca_pem),
        Some(("alerts", "wrong")),
        &["ops@example.org"],
        MESSAGE,
    );
    assert!(
        wrong.as_ref().is_err_and(|e| e.contains("535")),
        "{wrong:?}"
    );
    // No STARTTLS: AUTH is not even offered, so smtplib cannot log in.
    let plain_login = smtplib_send(
        port,
        "plain",
        None,
        Some(("alerts", "s3cret")),
        &["ops@example.org"],
        MESSAGE,
    );
    assert!(plain_login.is_err(), "{plain_login:?}");
    // No STARTTLS, no AUTH: MAIL is refused (530).
    let plain = smtplib_send(port, "plain", None, None, &["ops@example.org"], MESSAGE);
    assert!(
        plain.as_ref().is_err_and(|e| e.contains("530")),
        "{plain:?}"
    );
    // STARTTLS without AUTH: refused too (530, authentication required).
    let anon = smtplib_send(
        port,
        "starttls",
        Some(&ca.ca_pem),
        None,
        &["ops@example.org"],
        MESSAGE,
    );
    assert!(anon.as_ref().is_err_and(|e| e.contains("530")), "{anon:?}");
    assert!(server.messages().is_empty());
}

#[test]
fn smtp_restart_keeps_the_port_and_the_messages() {
    let ca = TestCa::new("localhost");
    let mut server = starttls_server(&ca);
    let port = server.port();
    let send = |port| {
        smtplib_send(
            port,
            "starttls",
            Some(&ca.ca_pem),
            Some(("alerts", "s3cret")),
            &["ops@example.org"],
            MESSAGE,
        )
    };
    send(port).expect("first");
    server.stop();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(send(port).is_err());
    server.restart();
    assert_eq!(server.port(), port);
    send(port).expect("after restart");
    assert_eq!(server.wait_messages(2, Duration::from_secs(10)).len(), 2);
}

#[test]
fn smtp_implicit_tls_with_login() {
    let ca = TestCa::new("localhost");
    let server = SmtpServer::start(SmtpOptions {
        starttls: Some((ca.cert_pem.clone(), ca.key_pem.clone())),
        implicit_tls: true,
        auth: Some(("alerts".into(), "s3cret".into())),
        ..Default::default()
    });
    smtplib_send(
        server.port(),
        "implicit",
        Some(&ca.ca_pem),
        Some(("alerts", "s3cret")),
        &["ops@example.org"],
        MESSAGE,
    )
    .expect("send over implicit TLS");
    assert_eq!(server.wait_messages(1, Duration::from_secs(10)).len(), 1);
}

#[test]
fn smtp_hang_after_connect_never_greets() {
    let server = SmtpServer::start(SmtpOptions {
        hang_after_connect: true,
        ..Default::default()
    });
    let mut conn = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    conn.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = [0; 16];
    let err = conn.read(&mut buf).expect_err("no greeting");
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
}

/// `SystemTime` as RFC 3339 UTC with milliseconds.
fn rfc3339(t: SystemTime) -> String {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn alertmanager_pair_clusters_shows_alerts_and_their_resolution() {
    let am = AlertmanagerCluster::start(2);
    am.wait_ready();
    assert_eq!(am.urls().len(), 2);
    let now = SystemTime::now();
    let alert = |ends: SystemTime| {
        json!([{
            "labels": { "alertname": "error-burst", "watch": "bot", "rule": "error-burst",
                        "severity": "critical", "host": "pi" },
            "annotations": { "summary": "12 errors in 1m" },
            "startsAt": rfc3339(now),
            "endsAt": rfc3339(ends),
        }])
    };
    let firing = alert(now + Duration::from_secs(3600));
    assert_eq!(am.post_alerts(0, &firing), 200);
    wait_until("the alert on peer 0", Duration::from_secs(10), || {
        am.alerts(0).as_array().is_some_and(|a| a.len() == 1)
    });
    let got = &am.alerts(0)[0];
    assert_eq!(got["labels"]["rule"], "error-burst");
    assert_eq!(got["labels"]["severity"], "critical");
    assert_eq!(got["annotations"]["summary"], "12 errors in 1m");

    // The peers gossip silences...
    let silence = json!({
        "matchers": [{ "name": "alertname", "value": "nothing", "isRegex": false }],
        "startsAt": rfc3339(now), "endsAt": rfc3339(now + Duration::from_secs(600)),
        "createdBy": "fixtures", "comment": "gossip check",
    });
    assert_eq!(am.post_silence(0, &silence).0, 200);
    wait_until("the silence on peer 1", Duration::from_secs(10), || {
        let (_, b) = am.get(1, "/api/v2/silences");
        b.contains("gossip check")
    });
    // ...but not alerts: each peer has to be sent each alert.
    assert_eq!(am.alerts(1), json!([]));
    assert_eq!(am.post_alerts(1, &firing), 200);
    wait_until("the alert on peer 1", Duration::from_secs(10), || {
        am.alerts(1).as_array().is_some_and(|a| a.len() == 1)
    });

    // Resolved (endsAt now): gone from /api/v2/alerts on both.
    let resolved = alert(SystemTime::now());
    for peer in 0..2 {
        assert_eq!(am.post_alerts(peer, &resolved), 200);
    }
    wait_until("the alert resolved", Duration::from_secs(10), || {
        am.alerts(0) == json!([]) && am.alerts(1) == json!([])
    });
}

const TOKEN: &str = "123456:ABC-def_ghi";

fn post_json(url: &str, body: &Value) -> (u16, Value) {
    let (status, _, body) = request(
        "POST",
        url,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    (
        status,
        serde_json::from_slice(&body).expect("a JSON answer"),
    )
}

#[test]
fn fake_telegram_answers_like_the_bot_api_429_first() {
    let tg = FakeHttp::start(telegram_api(TOKEN, Some(3)));
    let url = format!("{}/bot{TOKEN}/SendMessage", tg.url());
    let msg =
        json!({ "chat_id": 42, "text": "<b>bot</b>: error-burst firing", "parse_mode": "HTML" });

    let (status, body) = post_json(&url, &msg);
    assert_eq!(status, 429);
    assert_eq!(body["ok"], false);
    assert_eq!(body["parameters"]["retry_after"], 3);

    let (status, body) = post_json(&url, &msg);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    let m = &body["result"];
    assert_eq!(m["message_id"], 1);
    assert_eq!(m["chat"]["id"], 42);
    assert_eq!(m["chat"]["type"], "private");
    assert_eq!(m["text"], "<b>bot</b>: error-burst firing");
    assert!(m["date"].as_u64().is_some());
    assert_eq!(m["from"]["is_bot"], true);

    // Case-insensitive method names, a channel by name, a form body.
    let (status, _, body) = request(
        "POST",
        &format!("{}/bot{TOKEN}/sendmessage", tg.url()),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"chat_id=%40alerts&text=hello+there",
    );
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["chat"]["type"], "channel");
    assert_eq!(body["result"]["text"], "hello there");

    let (status, body) = post_json(&format!("{}/bot123:wrong/SendMessage", tg.url()), &msg);
    assert_eq!(status, 401);
    assert_eq!(body["description"], "Unauthorized");

    // A traceback in HTML mode must be escaped, as Telegram insists.
    let tb = json!({ "chat_id": 42, "parse_mode": "HTML",
                     "text": "File \"bot.py\", line 3, in <module>" });
    let (status, body) = post_json(&url, &tb);
    assert_eq!(status, 400);
    assert!(body["description"]
        .as_str()
        .is_some_and(|d| d.contains("can't parse entities")));
    let long = json!({ "chat_id": 42, "text": "x".repeat(4097) });
    assert_eq!(post_json(&url, &long).0, 400);
    // The limit counts what is shown: tags are free, an entity is one character.
    let html = format!("<b>{}</b>&lt;", "x".repeat(4095));
    let at_limit = json!({ "chat_id": 42, "parse_mode": "HTML", "text": html });
    assert_eq!(post_json(&url, &at_limit).0, 200);

    let reqs = tg.wait_requests(7, Duration::from_secs(5));
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, format!("/bot{TOKEN}/SendMessage"));
    assert_eq!(reqs[0].json(), Some(msg));
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
}

#[test]
fn fake_slack_answers_like_an_incoming_webhook_429_first() {
    let slack = FakeHttp::start(slack_webhook(Some(2)));
    let url = format!("{}/services/T000/B000/XXXX", slack.url());
    let text = json!({ "text": "error-burst firing" });
    let post = |body: &[u8]| {
        let (s, h, b) = request("POST", &url, &[("Content-Type", "application/json")], body);
        (s, h, String::from_utf8(b).expect("utf-8"))
    };
    let (status, headers, _) = post(text.to_string().as_bytes());
    assert_eq!(status, 429);
    assert!(headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("retry-after") && v == "2"));
    let (status, _, body) = post(text.to_string().as_bytes());
    assert_eq!((status, body.as_str()), (200, "ok"));
    let blocks =
        json!({ "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": "*x*" } }] });
    assert_eq!(post(blocks.to_string().as_bytes()).0, 200);
    let (status, _, body) = post(b"{not json");
    assert_eq!((status, body.as_str()), (400, "invalid_payload"));
    let (status, _, body) = post(b"{}");
    assert_eq!((status, body.as_str()), (400, "no_text"));
    let reqs = slack.wait_requests(5, Duration::from_secs(5));
    assert_eq!(reqs[1].path, "/services/T000/B000/XXXX");
    assert_eq!(reqs[1].json(), Some(text));
}

#[test]
fn fake_http_records_chunked_bodies_and_answers_from_the_script() {
    let srv = FakeHttp::start(|r| {
        if r.path == "/slow" {
            std::thread::sleep(Duration::from_millis(50));
        }
        Response::json(201, json!({ "len": r.body.len() })).with_header("X-Test", "yes")
    });
    let mut conn = TcpStream::connect(("127.0.0.1", srv.port())).expect("connect");
    std::io::Write::write_all(
        &mut conn,
        b"POST /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )
    .expect("send");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
    assert!(answer.contains("X-Test: yes"));
    assert!(answer.ends_with("{\"len\":11}"), "{answer}");
    let r = &srv.requests()[0];
    assert_eq!(r.body, b"hello world");
    assert_eq!(r.header("host"), Some("x"));
}
