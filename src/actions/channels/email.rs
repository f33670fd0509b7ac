//! The `email` channel: SMTP through `lettre` over tokio and rustls. STARTTLS (587),
//! implicit TLS (465) or, for a relay on this machine only, plain; login when a username is
//! set; one message per batch to every recipient. An incident's opening gets a `Message-ID`
//! made from its thread key and the host, its end `In-Reply-To` and `References` naming that
//! id: mail clients show the two as one thread, across restarts of logwarden, with nothing
//! to remember.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::actions::notification::Notification;
use crate::actions::{render, Channel, SendError, SendFuture};
use crate::config::channels::{EmailConfig, EmailTls};

/// Sends alerts as mail.
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: Option<String>,
    template: Option<String>,
    timeout: Duration,
}

impl Email {
    pub fn new(
        cfg: &EmailConfig,
        template: Option<String>,
        timeout: Duration,
    ) -> Result<Email, String> {
        let tls = match cfg.tls {
            EmailTls::None => Tls::None,
            mode => {
                let mut params = TlsParameters::builder(cfg.host.clone());
                if let Some(ca) = &cfg.ca_file {
                    let pem = std::fs::read(ca)
                        .map_err(|e| format!("cannot read ca_file {}: {e}", ca.display()))?;
                    let cert = Certificate::from_pem(&pem)
                        .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
                    params = params.add_root_certificate(cert);
                }
                let params = params
                    .build_rustls()
                    .map_err(|e| format!("TLS setup: {e}"))?;
                if mode == EmailTls::Implicit {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.as_str())
                .port(cfg.port)
                .tls(tls)
                // lettre's own timeout covers each SMTP command; the worker bounds the whole send.
                .timeout(Some(timeout));
        if let (Some(user), Some(pw)) = (&cfg.username, &cfg.password) {
            builder = builder.credentials(Credentials::new(user.clone(), pw.expose().to_string()));
        }
        let parse = |a: &str| {
            a.parse::<Mailbox>()
                .map_err(|e| format!("{a:?} is not an address: {e}"))
        };
        Ok(Email {
            transport: builder.build(),
            from: parse(&cfg.from)?,
            to: cfg.to.iter().map(|a| parse(a)).collect::<Result<_, _>>()?,
            subject: cfg.subject.clone(),
            template,
            timeout,
        })
    }
}

impl Channel for Email {
    fn send<'a>(&'a self, batch: &'a [Notification]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut msg = Message::builder()
                .from(self.from.clone())
                .subject(render::subject(batch, self.subject.as_deref()))
                .header(ContentType::TEXT_PLAIN);
            for to in &self.to {
                msg = msg.to(to.clone());
            }
            if let Some(n) = batch.iter().find(|n| n.thread.is_some()) {
                if let Some(t) = &n.thread {
                    let id = thread_message_id(&t.key, &n.host);
                    msg = if t.opens {
                        msg.message_id(Some(id))
                    } else {
                        msg.in_reply_to(id.clone()).references(id)
                    };
                }
            }
            let body = render::body(batch, self.template.as_deref());
            let msg = msg
                .body(body)
                .map_err(|e| SendError::permanent(format!("cannot build the message: {e}")))?;
            // lettre's async timeouts cover only parts of the exchange: bound the whole of it.
            match tokio::time::timeout(self.timeout, self.transport.send(msg)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(classify(e)),
                Err(_) => Err(SendError::transient(format!(
                    "the SMTP server did not finish within {}s",
                    self.timeout.as_secs()
                ))),
            }
        })
    }
}

/// The `Message-ID` of the mail that opens thread `key` about `host`: `<KEY@HOST>`, the host
/// reduced to what a message id may hold.
pub fn thread_message_id(key: &str, host: &str) -> String {
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    let host = if host.is_empty() { "logwarden" } else { &host };
    format!("<{key}.logwarden@{host}>")
}

/// A permanent SMTP answer (5xx: bad login, refused recipient) will not pass by retrying.
fn classify(e: lettre::transport::smtp::Error) -> SendError {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_permanent() {
        SendError::permanent(format!("SMTP: {reason}"))
    } else {
        SendError::transient(format!("SMTP: {reason}"))
    }
}
