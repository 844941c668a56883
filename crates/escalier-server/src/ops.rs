//! Operations endpoints: `/healthz` (liveness plus log watermarks) and
//! `/metrics` (Prometheus text), and the middleware that counts requests.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::header;
use serde::Serialize;

use crate::auth::{self, Scope};
use crate::{ApiError, AppState};
use axum::handler::Handler;
use axum::middleware::from_fn_with_state;

/// `/healthz` is open (load balancers); `/metrics` needs `read`.
pub fn router(st: &AppState) -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route(
        "/metrics",
        get(metrics_text.layer(from_fn_with_state(st.guard(Scope::Read), auth::guard))),
    )
}

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    #[schema(value_type = String, pattern = "^ok$")]
    status: &'static str,
    /// Highest input seq durably stored.
    committed: u64,
    /// Highest input seq whose effects are applied.
    processed: u64,
}

/// Liveness, and the log's watermarks. Open (load balancers).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    responses((status = 200, description = "The server is up", body = Health)),
)]
async fn healthz(State(st): State<AppState>) -> Json<Health> {
    let p = st.store.progress();
    Json(Health {
        status: "ok",
        committed: p.committed(),
        processed: p.processed(),
    })
}

/// Prometheus metrics (docs/api.md lists the notable series).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"),
        (status = 401, response = crate::v1::openapi::responses::Unauthorized),
        (status = 403, response = crate::v1::openapi::responses::Forbidden),
        (status = 404, response = crate::v1::openapi::responses::NotFound),
    ),
)]
async fn metrics_text(State(st): State<AppState>) -> Result<Response, ApiError> {
    let render = st
        .metrics
        .as_ref()
        .ok_or_else(|| ApiError::not_found("route", "metrics are disabled"))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render(),
    )
        .into_response())
}

/// Count requests and their latency by route and status.
pub async fn record_request(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("escalier_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("escalier_http_request_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    resp
}
