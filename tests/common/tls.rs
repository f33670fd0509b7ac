//! A throw-away certificate authority and a server certificate signed by it, made with the
//! `openssl` CLI, for the TLS servers of the alert tests (SMTP with STARTTLS or implicit TLS).
//!
//! rustls refuses a CA certificate presented as a server certificate, so this is a real CA
//! (`CA:TRUE`) and a leaf (`CA:FALSE`, `serverAuth`) with `localhost` and `127.0.0.1` in its
//! subject alternative names. Clients trust `ca_pem`; servers present `cert_pem` + `key_pem`.
//! Keys are ECDSA P-256 (quick to make); both certificates are valid for three days from now.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestCa {
    /// Holds every file below; removed when dropped.
    pub dir: tempfile::TempDir,
    /// The CA certificate (PEM): the trust root to give clients.
    pub ca_pem: PathBuf,
    /// The leaf certificate (PEM) for the server, signed by the CA.
    pub cert_pem: PathBuf,
    /// The leaf's private key (PEM, PKCS#8, unencrypted).
    pub key_pem: PathBuf,
}

impl TestCa {
    /// Makes a CA and a leaf for `host` (a DNS name or an IP address); the leaf also names
    /// `localhost` and `127.0.0.1`.
    pub fn new(host: &str) -> TestCa {
        let dir = tempfile::tempdir().expect("tempdir for the test CA");
        let d = dir.path();
        let ca_key = d.join("ca.key");
        let ca_pem = d.join("ca.pem");
        let csr = d.join("server.csr");
        let cert_pem = d.join("server.pem");
        let key_pem = d.join("server.key");

        let mut sans = vec!["DNS:localhost".to_string(), "IP:127.0.0.1".to_string()];
        let own = if host.parse::<std::net::IpAddr>().is_ok() {
            format!("IP:{host}")
        } else {
            format!("DNS:{host}")
        };
        if !sans.contains(&own) {
            sans.insert(0, own);
        }
        // Our own config file: the system's openssl.cnf may add extensions of its own.
        let cnf = d.join("openssl.cnf");
        std::fs::write(
            &cnf,
            format!(
                "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n\
                 [ca_ext]\nbasicConstraints = critical, CA:TRUE\n\
                 keyUsage = critical, keyCertSign, cRLSign\n\
                 subjectKeyIdentifier = hash\n\
                 [leaf_ext]\nbasicConstraints = critical, CA:FALSE\n\
                 keyUsage = critical, digitalSignature, keyEncipherment\n\
                 extendedKeyUsage = serverAuth\n\
                 subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n\
                 subjectAltName = {}\n",
                sans.join(", ")
            ),
        )
        .expect("write openssl.cnf");

        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        openssl(
            d,
            &[
                &["req", "-x509", "-nodes", "-days", "3"],
                &ec[..],
                &["-subj", "/CN=logwarden test CA", "-extensions", "ca_ext"],
                &[
                    "-config",
                    s(&cnf),
                    "-keyout",
                    s(&ca_key),
                    "-out",
                    s(&ca_pem),
                ],
            ]
            .concat(),
        );
        openssl(
            d,
            &[
                &["req", "-new", "-nodes"],
                &ec[..],
                &["-subj", &format!("/CN={host}"), "-config", s(&cnf)],
                &["-keyout", s(&key_pem), "-out", s(&csr)],
            ]
            .concat(),
        );
        let serial = format!("0x{:x}{:08x}", std::process::id(), rand_u32());
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                s(&csr),
                "-CA",
                s(&ca_pem),
                "-CAkey",
                s(&ca_key),
                "-set_serial",
                &serial,
                "-days",
                "3",
                "-extfile",
                s(&cnf),
                "-extensions",
                "leaf_ext",
                "-out",
                s(&cert_pem),
            ],
        );
        TestCa {
            dir,
            ca_pem,
            cert_pem,
            key_pem,
        }
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (bash scripts/deps.sh --test installs it)");
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Some bits that differ between calls, for certificate serial numbers.
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u32
}
