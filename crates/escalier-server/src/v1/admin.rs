//! `/v1/admin/clock`: read the server's time, and — only when the server
//! was started with `--simulated-clock` — set or advance it. Moving the
//! clock answers once every SLA and ladder deadline up to the new time has
//! fired and been processed, so tests and demos run a week of clocks in a
//! second without sleeping.

use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};
use escalier_core::Timestamp;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::auth::{self, Scope};
use crate::{ApiError, AppState};

pub fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/admin/clock", get(now).post(move_clock))
        .route_layer(from_fn_with_state(st.guard(Scope::Admin), auth::guard))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ClockState {
    #[schema(value_type = String, format = DateTime)]
    now: Timestamp,
    simulated: bool,
    /// Clock ticks fired by this move.
    #[serde(skip_serializing_if = "Option::is_none")]
    fired: Option<u64>,
}

/// Exactly one of `set` and `advance`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(min_properties = 1, max_properties = 1)]
#[serde(deny_unknown_fields)]
struct Move {
    /// Set the time (RFC 3339). Never backwards.
    #[serde(default)]
    #[schema(format = DateTime)]
    set: Option<String>,
    /// Move forward by a duration (`90m`, `2d`, `1h30m`).
    #[serde(default)]
    #[schema(pattern = "^([0-9]+[wdhms])+$")]
    advance: Option<String>,
}

/// The server's time, and whether it is simulated.
#[utoipa::path(
    get,
    path = "/v1/admin/clock",
    tag = "admin",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The server's time", body = ClockState),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
    ),
)]
async fn now(State(st): State<AppState>) -> Json<ClockState> {
    Json(ClockState {
        now: st.timers.clock.now(),
        simulated: st.timers.simulated.is_some(),
        fired: None,
    })
}

/// Set or advance the simulated clock (servers started with
/// `--simulated-clock` only). Answers once every deadline due by the new
/// time has fired and been processed.
#[utoipa::path(
    post,
    path = "/v1/admin/clock",
    tag = "admin",
    request_body(content = Move, content_type = "application/json"),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The new time, and how many clock ticks fired", body = ClockState),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 409, response = super::openapi::responses::Conflict),
        (status = 413, response = super::openapi::responses::PayloadTooLarge),
        (status = 422, response = super::openapi::responses::Unprocessable),
        (status = 503, response = super::openapi::responses::Unavailable),
    ),
)]
async fn move_clock(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<ClockState>, ApiError> {
    // Bounded like every other body (axum's own limit answers in plain text).
    let body = super::events::read_body(&headers, body, st.limits.max_body_bytes).await?;
    let Some(sim) = &st.timers.simulated else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "simulated_clock_disabled",
            "this server runs on real time; start it with `escalier serve --simulated-clock` to move time",
        ));
    };
    let m: Move = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_field",
            "",
            format!("expected {{\"set\": \"<RFC 3339>\"}} or {{\"advance\": \"90m\"}}: {e}"),
        )
    })?;
    let result = match (m.set, m.advance) {
        (Some(t), None) => {
            let to: Timestamp = t.parse().map_err(|_| {
                ApiError::bad_request(
                    "invalid_field",
                    "set",
                    format!("`{t}` is not an RFC 3339 time"),
                )
            })?;
            sim.set(to)
        }
        (None, Some(d)) => {
            let by = super::duration("advance", &d)?;
            sim.advance(by)
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "",
                "give exactly one of `set` and `advance`",
            ));
        }
    };
    let now = result.map_err(|current| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "clock_backwards",
            format!("time never goes backwards; it is {current}"),
        )
    })?;
    let fired = match &st.timers.scheduler {
        Some(s) => Some(s.settle().await.map_err(ApiError::from)?.ticks),
        None => None,
    };
    Ok(Json(ClockState {
        now,
        simulated: true,
        fired,
    }))
}
