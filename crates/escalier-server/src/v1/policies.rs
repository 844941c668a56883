//! `GET /v1/policies`: the policy set in force — each policy's content
//! hash, subscriptions and load time — and the last reload error
//! (file:line:col) if a reload was rejected.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;
use crate::auth::{self, Scope};
use axum::middleware::from_fn_with_state;

pub fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/policies", get(status))
        .route_layer(from_fn_with_state(st.guard(Scope::Read), auth::guard))
}

/// The policy set in force: version, each policy's content hash and
/// subscriptions, the last rejected reload, and every stored version.
#[utoipa::path(
    get,
    path = "/v1/policies",
    tag = "policies",
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "The policy set", body = super::openapi::schemas::PolicySet),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
    ),
)]
async fn status(State(st): State<AppState>) -> Json<serde_json::Value> {
    Json(st.policies.status())
}
