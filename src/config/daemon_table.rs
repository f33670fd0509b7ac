//! The `[daemon]` table: where state and packs live, the HTTP endpoint and who it answers,
//! the dead-man's switch.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::error::Diagnostics;
use crate::config::located::{resolve_path, SourceMap};
use crate::config::range::{self, days, ms, secs};
use crate::config::raw::RawDaemon;
use crate::config::secret::{self, Secret};
use crate::config::types::{DaemonConfig, HttpAccess};

/// `[daemon]` after defaults and checks.
pub(super) fn resolve_daemon(
    d: RawDaemon,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> DaemonConfig {
    let daemon = DaemonConfig {
        state_dir: d
            .state_dir
            .as_ref()
            .map(|v| resolve_path(sources, v))
            .unwrap_or_else(|| PathBuf::from("/var/lib/logwarden")),
        patterns_dir: d
            .patterns_dir
            .as_ref()
            .map(|v| resolve_path(sources, v))
            .unwrap_or_else(|| PathBuf::from("/etc/logwarden/patterns")),
        poll_interval: range::duration_or(
            &d.poll_interval,
            "poll_interval",
            (ms(50), secs(60)),
            secs(1),
            sources,
            diags,
        ),
        listen: match &d.listen {
            Some(l) if l.value.trim().is_empty() => None,
            Some(l) => match l.value.parse() {
                Ok(a) => Some(a),
                Err(_) => {
                    diags.at(
                        sources,
                        l,
                        format!(
                            "listen {:?} is not an address:port like \"127.0.0.1:9107\"",
                            l.value
                        ),
                    );
                    None
                }
            },
            None => None,
        },
        http: HttpAccess::default(),
        heartbeat: None,
    };
    let mut daemon = daemon;
    daemon.http = resolve_http(&d, daemon.listen, sources, diags);
    daemon.heartbeat = resolve_heartbeat(&d, sources, diags);
    daemon
}

/// `listen_hosts`, `listen_token*` and `listen_unauthenticated`: a `listen` other machines
/// can reach needs a token unless the operator opts out in so many words.
fn resolve_http(
    d: &RawDaemon,
    listen: Option<std::net::SocketAddr>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> HttpAccess {
    let mut hosts = Vec::new();
    for h in d.listen_hosts.iter().flat_map(|h| h.value.iter()) {
        let name = h.value.trim().trim_end_matches('.').to_ascii_lowercase();
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if plain {
            hosts.push(name);
        } else {
            diags.at(
                sources,
                h,
                format!(
                    "listen_hosts entry {:?} is not a host name like \"bot.example.org\" (no port, no scheme)",
                    h.value
                ),
            );
        }
    }
    let token = secret::SecretSource {
        key: "listen_token",
        owner: "[daemon]",
        inline: d.listen_token.as_ref(),
        file: d.listen_token_file.as_ref(),
        env: d.listen_token_env.as_ref(),
        credential: d.listen_token_credential.as_ref(),
    };
    let given = token.is_given();
    let token = token.resolve(sources, diags);
    if let Some(t) = &token {
        if t.expose().len() < 16 || t.expose().chars().any(|c| c.is_whitespace()) {
            diags.plain("[daemon]: `listen_token` must be at least 16 characters without spaces (e.g. `openssl rand -hex 32`)".into());
        }
    }
    let open = d.listen_unauthenticated.as_ref().is_some_and(|o| o.value);
    match (listen, &d.listen) {
        (Some(addr), Some(at)) if !addr.ip().is_loopback() && !given && !open => diags.at(
            sources,
            at,
            format!(
                "listen {:?} is reachable from other machines, and /status and /metrics would answer anyone: set `listen_token_file` (a bearer token), bind to 127.0.0.1, or set `listen_unauthenticated = true` to serve them without authentication",
                at.value
            ),
        ),
        (None, _) => {
            let stray = d
                .listen_token_file
                .as_ref()
                .or(d.listen_token.as_ref())
                .or(d.listen_token_env.as_ref())
                .or(d.listen_token_credential.as_ref());
            if let Some(s) = stray {
                diags.at(sources, s, "a listen token is set but `listen` is not: there is no endpoint to protect".into());
            }
        }
        _ => {}
    }
    HttpAccess { hosts, token }
}

/// `heartbeat_url` (inline, with a warning), `heartbeat_url_env` or `heartbeat_url_file`.
fn resolve_heartbeat(
    d: &RawDaemon,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<(Secret, Duration)> {
    // Checked whether or not a URL is set: a drop-in may add the URL later.
    let every = range::duration_or(
        &d.heartbeat_every,
        "heartbeat_every",
        (ms(100), days(1)),
        secs(300),
        sources,
        diags,
    );
    let url = secret::SecretSource {
        key: "heartbeat_url",
        owner: "[daemon]",
        inline: d.heartbeat_url.as_ref(),
        file: d.heartbeat_url_file.as_ref(),
        env: d.heartbeat_url_env.as_ref(),
        credential: d.heartbeat_url_credential.as_ref(),
    }
    .resolve(sources, diags)?
    .0;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        diags.plain("heartbeat URL must start with http:// or https://".into());
        return None;
    }
    Some((Secret(url), every))
}
