//! The HTTP endpoint: `GET /health` (200 when every source is live and the pipeline moves,
//! 503 otherwise, with the reasons), `GET /metrics` (Prometheus text format) and
//! `GET /status` (JSON of every watch). Bound to loopback in the shipped config.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::telemetry::Telemetry;

/// Serves until the listener fails (the caller stops it at shutdown).
pub async fn serve(
    listener: tokio::net::TcpListener,
    telemetry: Arc<Telemetry>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(telemetry);
    axum::serve(listener, app).await
}

async fn health(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    let problems = t.problems();
    let code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(serde_json::json!({ "healthy": problems.is_empty(), "problems": problems })),
    )
}

async fn metrics(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        t.render_metrics(),
    )
}

async fn status(State(t): State<Arc<Telemetry>>) -> impl IntoResponse {
    Json(t.status())
}
