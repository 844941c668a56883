//! `GET /v1/notify/targets` (`read`): the notification targets of
//! `policies/notify.toml` in force — each one's kind, whether it can send
//! and, if not, why (an unset secret, `enabled = false`, no SMTP server).
//! Secrets appear by name only, never by value.

use axum::extract::State;
use axum::handler::Handler;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};

use crate::auth::{self, Scope};
use crate::{ApiError, AppState};

pub fn router(st: &AppState) -> Router<AppState> {
    Router::new().route(
        "/v1/notify/targets",
        get(targets.layer(from_fn_with_state(st.guard(Scope::Read), auth::guard))),
    )
}

/// Every notification target: kind, enabled or why not, the secrets it
/// needs (names), its quiet-hours calendar and urgent priorities; and the
/// teams of targets.
#[utoipa::path(
    get,
    path = "/v1/notify/targets",
    tag = "notify",
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "The targets and teams of notify.toml in force", body = super::openapi::schemas::NotifyTargets),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
    ),
)]
pub(crate) async fn targets(
    State(st): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(match &st.notify {
        Some(source) => source.status(),
        None => serde_json::json!({"configured": false, "targets": [], "teams": {}}),
    }))
}
