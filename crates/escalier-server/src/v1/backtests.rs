//! `POST /v1/backtests` (`admin`: a run costs CPU) starts a backtest of the
//! candidate policy directory (`policies.candidate_dir`) over the inputs
//! stored for a period; `GET /v1/backtests/{id}` (`read`) answers its state
//! and, once done, the replay report (the JSON of `escalier replay
//! --format json`). See [`crate::backtest`].

use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use escalier_core::Timestamp;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Path;
use crate::auth::{self, Scope, TokenEntry};
use crate::backtest::{Backtests, StartError, default_period};
use crate::{ApiError, AppState};

pub fn router(st: &AppState) -> Router<AppState> {
    let start = Router::new()
        .route("/v1/backtests", post(start))
        .route_layer(from_fn_with_state(st.guard(Scope::Admin), auth::guard));
    let read = Router::new()
        .route("/v1/backtests/{id}", get(one))
        .route_layer(from_fn_with_state(st.guard(Scope::Read), auth::guard));
    start.merge(read)
}

/// The period to replay; both default to the last 7 days up to now.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[schema(as = BacktestRequest)]
#[serde(deny_unknown_fields)]
struct Request {
    /// Replay inputs recorded at or after this instant (RFC 3339).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    from: Option<Timestamp>,
    /// Replay inputs recorded before this instant (RFC 3339).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    to: Option<Timestamp>,
}

/// A backtest run.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BacktestRun)]
#[allow(dead_code)] // documents the answer only
struct Run {
    /// `bt-<n>`, counted from the server's start.
    id: String,
    #[schema(value_type = BacktestState)]
    state: String,
    #[schema(value_type = String, format = DateTime)]
    from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    to: Timestamp,
    /// The name of the token that started it.
    requested_by: String,
    #[schema(value_type = String, format = DateTime)]
    started_at: Timestamp,
    /// When it finished, failed or was cancelled.
    #[schema(value_type = Option<String>, format = DateTime)]
    finished_at: Option<Timestamp>,
    /// The candidate policy directory.
    candidate_dir: String,
    /// What ran after the policies.
    plugins: String,
    progress: Progress,
    /// `failed`: why.
    error: Option<String>,
    /// `failed` because the candidate does not compile: every error, with
    /// `file`, `line`, `column`, `code`, `message`, `hint` and the
    /// offending `source_line`.
    diagnostics: Option<Vec<Value>>,
    /// `done`: whether any record was added, removed or changed.
    differs: Option<bool>,
    /// `done`: how many tickets differ.
    tickets_differing: Option<u64>,
    /// `done` (`GET` only): the replay report, as `escalier replay
    /// --format json` prints it: `window`, `candidate`, `counts`,
    /// `summary` (totals by record type and producer) and `tickets` (each
    /// ticket's `added`, `removed` and `changed` records).
    report: Option<Value>,
}

/// How far a run has read the log.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BacktestProgress)]
#[allow(dead_code)] // documents the answer only
struct Progress {
    /// The last input seq read.
    read: u64,
    /// The last input seq processed when the run started.
    total: u64,
}

/// A backtest's state.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the values only
#[schema(rename_all = "lowercase")]
enum BacktestState {
    Running,
    Done,
    Failed,
    Cancelled,
}

fn backtests(st: &AppState) -> Result<&std::sync::Arc<Backtests>, ApiError> {
    st.backtests
        .as_ref()
        .ok_or_else(|| ApiError::not_found("backtests", "this server runs no backtests"))
}

/// Start a backtest of the candidate policy directory over the inputs
/// recorded in a period, against what the set in force recorded. It runs
/// in the background; a run in progress is cancelled. Poll
/// `GET /v1/backtests/{id}`.
#[utoipa::path(
    post,
    path = "/v1/backtests",
    tag = "policies",
    request_body(content = Request, content_type = "application/json"),
    security(("bearer" = ["admin"])),
    responses(
        (status = 202, description = "Started; poll the run", body = Run),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 404, response = super::openapi::responses::NotFound),
        (status = 409, response = super::openapi::responses::Conflict),
        (status = 413, response = super::openapi::responses::PayloadTooLarge),
    ),
)]
async fn start(
    State(st): State<AppState>,
    Extension(who): Extension<TokenEntry>,
    headers: http::HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let b = backtests(&st)?;
    let body = super::events::read_body(&headers, body, st.limits.max_body_bytes).await?;
    let req: Request = if body.iter().all(u8::is_ascii_whitespace) {
        Request::default()
    } else {
        super::decisions::parse(&body)?
    };
    let (from, to) = default_period(b.now());
    let (from, to) = (req.from.unwrap_or(from), req.to.unwrap_or(to));
    match b.start(&who.name, from, to) {
        Ok(v) => Ok((StatusCode::ACCEPTED, Json(v))),
        Err(e @ StartError::NotConfigured) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "backtest_unconfigured",
            e.to_string(),
        )),
        Err(e @ StartError::EmptyPeriod) => Err(ApiError::bad_request(
            "invalid_field",
            "from",
            e.to_string(),
        )),
    }
}

/// A backtest run: its state and progress, and once done the per-ticket
/// diff. Runs are kept in memory, the last few only.
#[utoipa::path(
    get,
    path = "/v1/backtests/{id}",
    tag = "policies",
    params(("id" = String, Path, description = "The run's id (`bt-<n>`), or `latest`")),
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "The run", body = Run),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 404, response = super::openapi::responses::NotFound),
    ),
)]
async fn one(State(st): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let b = backtests(&st)?;
    let want = (id != "latest").then_some(id.as_str());
    b.get(want).map(Json).ok_or_else(|| {
        ApiError::not_found(
            "id",
            format!("no backtest run `{id}` (runs are kept in memory, the last few only)"),
        )
    })
}
