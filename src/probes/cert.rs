//! The `cert` probe: a TLS certificate, served at `host:port` or in a PEM file, judged by the
//! time left before it expires (a warning within `warning`, 30 days by default; critical
//! within `critical`, 7 days), and critical when it is expired, not valid yet, for another
//! host name, not trusted, or cannot be had. The alert names the subject, the issuer, the
//! expiry date and the days left.
//!
//! A served certificate is fetched with logwarden's own handshake (rustls, the ring
//! provider): its chain is verified against the web PKI's roots and `ca_file`, and the host
//! name is the one of the URL (also sent as SNI). The handshake is never completed with a
//! certificate that does not verify: the certificate is only read, and the verification's
//! error says what is wrong. A certificate in a file is judged by its dates only (no chain
//! is verified: the file may hold only the leaf).
//!
//! The certificate is read with a small, bounded DER reader: only the fields named above.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::config::recovery::CertTarget;
use crate::core::alert::Severity;

/// What a check saw of a certificate, beside its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct CertSeen {
    pub not_after: jiff::Timestamp,
    /// Whole days until `not_after` (negative once expired).
    pub days_left: i64,
    /// Tells one certificate from another (a renewal changes it).
    pub fingerprint: u64,
    /// Down only because it nears its expiry (within `warning`): what a renewal mends.
    pub expiring: bool,
}

/// The verdict of one check: healthy, or the level and why, with the certificate if one was
/// read.
#[derive(Debug, Clone, PartialEq)]
pub struct CertVerdict {
    pub level: Option<Severity>,
    pub detail: String,
    pub seen: Option<CertSeen>,
}

/// What the config says about a `cert` probe.
pub struct CertCheck<'a> {
    pub target: &'a CertTarget,
    pub warning: Duration,
    pub critical: Duration,
    pub ca_file: Option<&'a Path>,
}

/// Runs one check (the caller bounds it with the probe's timeout).
pub async fn check(c: &CertCheck<'_>) -> CertVerdict {
    let (der, verified) = match c.target {
        CertTarget::File(path) => match first_pem_cert(path) {
            Ok(der) => (der, Ok(())),
            Err(e) => return critical(format!("{}: {e}", path.display())),
        },
        CertTarget::Served { host, port } => match served(host, *port, c.ca_file).await {
            Ok(got) => got,
            Err(e) => return critical(e),
        },
    };
    let Some(facts) = parse(&der) else {
        return critical("the certificate cannot be read (not X.509 DER)".into());
    };
    judge(c, &facts, &der, verified, jiff::Timestamp::now())
}

fn critical(detail: String) -> CertVerdict {
    CertVerdict {
        level: Some(Severity::Critical),
        detail,
        seen: None,
    }
}

/// The level of a certificate with `facts`, whose chain verified or not, at `now`.
fn judge(
    c: &CertCheck<'_>,
    facts: &Facts,
    der: &[u8],
    verified: Result<(), String>,
    now: jiff::Timestamp,
) -> CertVerdict {
    let left = facts.not_after.as_second() - now.as_second();
    let days_left = left.div_euclid(86_400);
    let who = format!("{} (issuer {})", facts.subject, facts.issuer);
    let until = facts.not_after.strftime("%Y-%m-%d %H:%M UTC");
    let mut expiring = false;
    let (level, detail) = if left <= 0 {
        (
            Some(Severity::Critical),
            format!("{who}: expired on {until}, {} ago", days(-days_left)),
        )
    } else if now < facts.not_before {
        (
            Some(Severity::Critical),
            format!(
                "{who}: not valid yet (from {})",
                facts.not_before.strftime("%Y-%m-%d %H:%M UTC")
            ),
        )
    } else if let Err(why) = verified {
        (Some(Severity::Critical), format!("{who}: {why}"))
    } else {
        let level = if left <= c.critical.as_secs() as i64 {
            Some(Severity::Critical)
        } else if left <= c.warning.as_secs() as i64 {
            Some(Severity::Warning)
        } else {
            None
        };
        expiring = level.is_some();
        (
            level,
            format!("{who}: expires on {until}, {} left", days(days_left)),
        )
    };
    CertVerdict {
        level,
        detail,
        seen: Some(CertSeen {
            not_after: facts.not_after,
            days_left,
            fingerprint: crate::source::identity::fnv1a(der),
            expiring,
        }),
    }
}

/// `1 day`, `N days`.
fn days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

/// The first certificate of a PEM file.
fn first_pem_cert(path: &Path) -> Result<Vec<u8>, String> {
    match CertificateDer::pem_file_iter(path) {
        Ok(mut certs) => match certs.next() {
            Some(Ok(c)) => Ok(c.to_vec()),
            Some(Err(e)) => Err(format!("not a PEM certificate: {e}")),
            None => Err("holds no PEM certificate".into()),
        },
        Err(e) => Err(format!("cannot read: {e}")),
    }
}

/// The certificate `host:port` serves, and whether its chain and name verified (`Err`: why
/// not). `Err` of the whole: it could not be had (unreachable, no TLS).
async fn served(
    host: &str,
    port: u16,
    ca_file: Option<&Path>,
) -> Result<(Vec<u8>, Result<(), String>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = ca_file {
        let certs = CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
        }
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot set up certificate verification: {e}"))?;
    let recorder = Arc::new(Recorder {
        inner,
        seen: Mutex::new(None),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host:?} is not a host name: {e}"))?;
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let handshake = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await;
    let seen = recorder.seen.lock().ok().and_then(|mut s| s.take());
    match (seen, handshake) {
        (Some((der, verified)), _) => Ok((der, verified.map_err(|e| why_not_trusted(&e, host)))),
        (None, Err(e)) => Err(format!("TLS handshake with {host}:{port} failed: {e}")),
        (None, Ok(_)) => Err(format!("{host}:{port} sent no certificate")),
    }
}

/// What a failed verification means, in an operator's words.
fn why_not_trusted(e: &rustls::Error, host: &str) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("not valid for the host name {host}")
            }
            CertificateError::UnknownIssuer => {
                "not trusted: its issuer is not a known CA (set `ca_file` for a private CA)".into()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired".into(),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not valid yet".into()
            }
            other => format!("not trusted: {other:?}"),
        },
        other => format!("not trusted: {other}"),
    }
}

/// The end-entity certificate a server presented (DER), and whether it verified.
type Presented = (Vec<u8>, Result<(), rustls::Error>);

/// Verifies like rustls' web PKI verifier, and keeps the end-entity certificate and the
/// result, so that a certificate that does not verify can still be read.
#[derive(Debug)]
struct Recorder {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<Presented>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some((
                end_entity.to_vec(),
                result.as_ref().map(|_| ()).map_err(Clone::clone),
            ));
        }
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The fields of a certificate the probe reports.
#[derive(Debug, Clone, PartialEq)]
struct Facts {
    subject: String,
    issuer: String,
    not_before: jiff::Timestamp,
    not_after: jiff::Timestamp,
}

/// One DER element: (tag, content, what follows). `None` when it does not fit.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, mut b) = b.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n].iter().fold(0usize, |l, &x| l << 8 | usize::from(x));
        b = &b[n..];
        len
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// Reads the subject, issuer and validity of a DER certificate.
fn parse(der: &[u8]) -> Option<Facts> {
    let (0x30, cert, _) = tlv(der)? else {
        return None;
    };
    let (0x30, tbs, _) = tlv(cert)? else {
        return None;
    };
    let (tag, _, mut rest) = tlv(tbs)?;
    if tag == 0xa0 {
        // [0] version, then the serial number.
        rest = tlv(rest)?.2;
    }
    let rest = tlv(rest)?.2; // the signature algorithm
    let (0x30, issuer, rest) = tlv(rest)? else {
        return None;
    };
    let (0x30, validity, rest) = tlv(rest)? else {
        return None;
    };
    let (0x30, subject, _) = tlv(rest)? else {
        return None;
    };
    let (t1, nb, after) = tlv(validity)?;
    let (t2, na, _) = tlv(after)?;
    Some(Facts {
        subject: name(subject),
        issuer: name(issuer),
        not_before: time(t1, nb)?,
        not_after: time(t2, na)?,
    })
}

/// `CN=…, O=…` of a distinguished name (its other parts left out).
fn name(mut rdns: &[u8]) -> String {
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    let mut parts = Vec::new();
    while let Some((_, set, rest)) = tlv(rdns) {
        rdns = rest;
        let Some((0x30, atv, _)) = tlv(set) else {
            continue;
        };
        let Some((0x06, oid, value)) = tlv(atv) else {
            continue;
        };
        let Some((_, text, _)) = tlv(value) else {
            continue;
        };
        let key = match oid {
            CN => "CN",
            O => "O",
            _ => continue,
        };
        parts.push(format!("{key}={}", printable(text)));
    }
    if parts.is_empty() {
        "(no name)".into()
    } else {
        parts.join(", ")
    }
}

/// A name's text as safe to quote anywhere: controls replaced, at most 64 characters.
fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(64)
        .collect()
}

/// A `UTCTime` (tag 0x17, `YYMMDDHHMMSSZ`) or `GeneralizedTime` (0x18, `YYYYMMDDHHMMSSZ`).
fn time(tag: u8, text: &[u8]) -> Option<jiff::Timestamp> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (tag, text.len()) {
        (0x17, 12) => {
            let yy: i16 = text[..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        (0x18, 14) => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    let n = |i: usize| rest[i..i + 2].parse::<i8>().ok();
    jiff::civil::DateTime::new(year, n(0)?, n(2)?, n(4)?, n(6)?, n(8)?, 0)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_both_kinds_are_read_and_bad_ones_are_not() {
        let t = time(0x17, b"270102030405Z").unwrap();
        assert_eq!(t.to_string(), "2027-01-02T03:04:05Z");
        let t = time(0x18, b"20491231235959Z").unwrap();
        assert_eq!(t.to_string(), "2049-12-31T23:59:59Z");
        assert_eq!(
            time(0x17, b"991231235959Z").unwrap().to_string(),
            "1999-12-31T23:59:59Z"
        );
        for bad in [
            &b"2701020304Z"[..],
            b"27010203040xZ",
            b"270102030405",
            b"271302030405Z",
        ] {
            assert!(time(0x17, bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn only_a_certificate_nearing_its_expiry_is_one_a_renewal_would_mend() {
        let now = jiff::Timestamp::now();
        let facts = |days: i64| Facts {
            subject: "CN=a".into(),
            issuer: "CN=b".into(),
            not_before: now - jiff::SignedDuration::from_hours(24),
            not_after: now + jiff::SignedDuration::from_hours(24 * days),
        };
        let target = CertTarget::File("/x.pem".into());
        let c = CertCheck {
            target: &target,
            warning: Duration::from_secs(30 * 86_400),
            critical: Duration::from_secs(7 * 86_400),
            ca_file: None,
        };
        let v = judge(&c, &facts(10), b"der", Ok(()), now);
        assert_eq!(v.level, Some(Severity::Warning));
        assert!(v.seen.unwrap().expiring);
        let v = judge(
            &c,
            &facts(40),
            b"der",
            Err("not valid for the host name x".into()),
            now,
        );
        assert_eq!(v.level, Some(Severity::Critical));
        assert!(
            !v.seen.unwrap().expiring,
            "a wrong name is not mended by renewing"
        );
        let v = judge(&c, &facts(40), b"der", Ok(()), now);
        assert_eq!((v.level, v.seen.unwrap().expiring), (None, false));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_read_or_refused_never_panicked_on(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = parse(&bytes);
        }
    }
}
