//! The HTTP endpoint: `GET /health` (200 when every source is live and the pipeline moves,
//! 503 otherwise, with the reasons), `GET /metrics` (Prometheus text format),
//! `GET /status` (JSON of every watch) and `GET /` (the same as an HTML page for a person,
//! `telemetry/page.rs`, with a strict Content-Security-Policy: no script, nothing
//! fetched). Bound to loopback in the shipped config.
//!
//! Every request is checked before any route sees it: a `Host` that names neither the
//! listen address, loopback, `localhost` nor a name in `listen_hosts` gets 421 (a web page
//! using DNS rebinding sends its own name); with a token configured, a request without
//! `Authorization: Bearer TOKEN` gets 401, except `/health`, which then answers only whether
//! logwarden is healthy, for load balancers and uptime checks that cannot send a header.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use subtle::ConstantTimeEq;

use crate::config::HttpAccess;
use crate::telemetry::Telemetry;

/// What every handler and the gate share.
#[derive(Clone)]
struct Shared {
    telemetry: Arc<Telemetry>,
    access: Arc<HttpAccess>,
    listen: SocketAddr,
}

/// Serves until the listener fails (the caller stops it at shutdown).
pub async fn serve(
    listener: tokio::net::TcpListener,
    telemetry: Arc<Telemetry>,
    access: HttpAccess,
) -> std::io::Result<()> {
    let shared = Shared {
        telemetry,
        access: Arc::new(access),
        listen: listener.local_addr()?,
    };
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/", get(page))
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared);
    axum::serve(listener, app).await
}

/// Whether the request carries the token (always, when none is configured).
#[derive(Clone, Copy)]
struct Authorized(bool);

/// Refuses requests for another host (421) and, with a token configured, requests without
/// it (401; `/health` goes on, marked unauthorized).
async fn gate(State(s): State<Shared>, mut req: Request, next: Next) -> Response {
    let authority = req.uri().authority().map(|a| a.as_str().to_string());
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let named = [host.as_deref(), authority.as_deref()];
    let hosts_ok = host.is_some()
        && named
            .into_iter()
            .flatten()
            .all(|h| host_allowed(h, s.listen, &s.access.hosts));
    if !hosts_ok {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this endpoint answers only to its listen address, localhost and the names in [daemon] listen_hosts\n",
        )
            .into_response();
    }
    let authorized = match &s.access.token {
        None => true,
        Some(t) => bearer_matches(req.headers(), t.expose()),
    };
    if !authorized && req.uri().path() != "/health" {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "send Authorization: Bearer <the token in [daemon] listen_token_file>\n",
        )
            .into_response();
    }
    req.extensions_mut().insert(Authorized(authorized));
    next.run(req).await
}

/// Whether `host` (a `Host` header or URI authority, maybe with a port) is one the endpoint
/// answers to. The port is not checked: an SSH tunnel may forward another one, and DNS
/// rebinding is about the name.
fn host_allowed(host: &str, listen: SocketAddr, names: &[String]) -> bool {
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        // `[::1]` or `[::1]:9107`.
        Some(rest) => match rest.split_once(']') {
            Some((ip, tail)) if tail.is_empty() || is_port(tail) => ip,
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        },
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name == "localhost" {
        return true;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        // An address is never a rebinding: the page's origin is that address itself. On an
        // unspecified listen address (0.0.0.0, ::) the machine's own addresses are not known
        // up front, so every address is taken.
        return ip == listen.ip() || ip.is_loopback() || listen.ip().is_unspecified();
    }
    !name.is_empty() && names.contains(&name)
}

/// `:PORT` with PORT a number.
fn is_port(tail: &str) -> bool {
    let digits = tail.strip_prefix(':').unwrap_or(tail);
    !digits.is_empty() && digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `Authorization: Bearer X` holds `token`, compared in constant time (the length
/// of the token is all a timing can tell).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes().trim_ascii())
    else {
        return false;
    };
    let Some((scheme, given)) = value.split_at_checked(6) else {
        return false;
    };
    scheme.eq_ignore_ascii_case(b"bearer")
        && given.first() == Some(&b' ')
        && bool::from(given.trim_ascii().ct_eq(token.as_bytes()))
}

async fn health(
    State(s): State<Shared>,
    authorized: Option<axum::Extension<Authorized>>,
) -> impl IntoResponse {
    let problems = s.telemetry.problems();
    let code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let full = authorized.is_some_and(|a| a.0 .0);
    let body = if full {
        serde_json::json!({ "healthy": problems.is_empty(), "problems": problems })
    } else {
        // Without the token: whether, not why (the reasons name files and units).
        serde_json::json!({ "healthy": problems.is_empty() })
    };
    (code, Json(body))
}

async fn metrics(State(s): State<Shared>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.telemetry.render_metrics(),
    )
}

async fn status(State(s): State<Shared>) -> impl IntoResponse {
    Json(s.telemetry.status())
}

/// The status page: HTML that may load nothing (no script, no asset; styles inline).
async fn page(State(s): State<Shared>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        s.telemetry.status_page(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_name_the_endpoint_are_allowed_and_others_not() {
        let lo: SocketAddr = "127.0.0.1:9107".parse().unwrap_or_else(|_| unreachable!());
        let any: SocketAddr = "0.0.0.0:9107".parse().unwrap_or_else(|_| unreachable!());
        let names = vec!["bot.example.org".to_string()];
        for h in [
            "localhost",
            "localhost:9107",
            "LOCALHOST:8080",
            "127.0.0.1",
            "127.0.0.1:9107",
            "[::1]",
            "[::1]:9107",
            "bot.example.org",
            "Bot.Example.Org.:443",
        ] {
            assert!(host_allowed(h, lo, &names), "{h}");
        }
        for h in [
            "evil.example",
            "evil.example:9107",
            "localhost.evil.example",
            "10.0.0.5:9107",
            "[::1",
            "localhost:port",
            "",
            "127.0.0.1:9107:1",
        ] {
            assert!(!host_allowed(h, lo, &names), "{h}");
        }
        assert!(host_allowed("203.0.113.7:9107", any, &names));
        assert!(!host_allowed("evil.example", any, &names));
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::AUTHORIZATION,
                v.parse().unwrap_or_else(|_| unreachable!()),
            );
            h
        };
        let t = "0123456789abcdef";
        assert!(bearer_matches(&with("Bearer 0123456789abcdef"), t));
        assert!(bearer_matches(&with("bearer  0123456789abcdef "), t));
        assert!(!bearer_matches(&with("Bearer 0123456789abcde"), t));
        assert!(!bearer_matches(&with("Bearer 0123456789abcdef0"), t));
        assert!(!bearer_matches(&with("Basic 0123456789abcdef"), t));
        assert!(!bearer_matches(&with("Bearer0123456789abcdef"), t));
        assert!(!bearer_matches(&HeaderMap::new(), t));
    }
}
