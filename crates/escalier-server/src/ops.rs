//! Operations endpoints: `/healthz` (liveness plus log watermarks) and
//! `/metrics` (Prometheus text); the middleware that counts requests, and
//! the one that bounds what any request may be before routing: a known
//! method, a URI of sane length, and a per-address rate for requests that
//! carry no valid credential.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{Method, StatusCode, header};
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

/// Methods the API knows; any other is refused before routing, and
/// counted under `other`, so a client cannot mint metric series.
const KNOWN_METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
];

/// Longest request target (path and query) accepted, in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The `method` label for a request: one of [`KNOWN_METHODS`] or `other`.
pub fn method_label(m: &Method) -> &'static str {
    KNOWN_METHODS
        .iter()
        .find(|k| *k == m)
        .map_or("other", Method::as_str)
}

/// Refuse unknown methods (405) and overlong URIs (414), and rate-limit
/// requests without a valid credential (429).
///
/// Signed ingest (`POST /v1/events`, `POST /v1/sources/...`) has its own
/// per-address limit and is authenticated by its signature, so it is not
/// counted here; neither are console requests with a live session (a
/// team of leads behind one address polls the console). Everything else
/// without a token the server knows (open endpoints, unknown routes, bad
/// tokens, unknown or expired session cookies, and every sign-in
/// attempt) shares the `open` limit.
pub async fn bound_request(
    State(st): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if method_label(req.method()) == "other" {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "the API uses GET and POST; see docs/api.md",
        ));
    }
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is {uri_len} bytes; at most {MAX_URI_BYTES} allowed"),
        ));
    }
    let path = req.uri().path();
    let signed =
        req.method() == Method::POST && (path == "/v1/events" || path.starts_with("/v1/sources/"));
    // Signing in guesses at a credential: always counted.
    let signin = req.method() == Method::POST && path == "/signin";
    if signed {
        return Ok(next.run(req).await);
    }
    if let Some(entry) = auth::bearer(req.headers()).and_then(|t| st.tokens.check(t)) {
        // Checked once: the scope guard behind takes this entry as found.
        req.extensions_mut().insert(auth::Authenticated(entry));
        return Ok(next.run(req).await);
    }
    if !signin && console_session(&st, req.headers()) {
        return Ok(next.run(req).await);
    }
    crate::ratelimit::limit(State(st.open_limiter.clone()), req, next).await
}

/// Whether the request carries the cookie of a live console session whose
/// token is still valid. Only the limiter asks: the console checks the
/// session (and its scopes, and CSRF on a `POST`) again itself. An unknown
/// or expired cookie is no credential.
fn console_session(st: &AppState, headers: &http::HeaderMap) -> bool {
    let Some(sessions) = &st.console else {
        return false;
    };
    sessions
        .cookie_id(headers)
        .and_then(|id| sessions.peek(id))
        .is_some_and(|s| st.tokens.by_hash(&s.token_sha256).is_some())
}

/// Count requests and their latency by route and status.
pub async fn record_request(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("escalier_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("escalier_http_request_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    resp
}
