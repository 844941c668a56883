//! `GET /v1/deliveries`: the state of every outbound delivery — plugins'
//! requests (write-backs, webhooks) and notifications — most recently
//! changed first, filtered by state and ticket, cursor-paginated. Read from
//! the store's `deliveries` table, which the processor fills when a request
//! is recorded and the delivery worker updates after every attempt.

use axum::extract::{RawQuery, State};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};
use escalier_store::outbox::{DeliveryCursor, DeliveryRow, DeliveryState};
use serde::Serialize;

use super::{number, query};
use crate::auth::{self, Scope};
use crate::{ApiError, AppState};

pub fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/deliveries", get(list))
        .route_layer(from_fn_with_state(st.guard(Scope::Read), auth::guard))
}

/// The state of one delivery.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Delivery)]
struct Delivery {
    /// `dlv:<seq>.<index>:<plugin>:<n>` (a plugin's request) or
    /// `ntf:<seq>.<index>:<target>` (a notification).
    delivery_id: String,
    ticket_id: String,
    /// The plugin that asked (plugin requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    plugin: Option<String>,
    /// The notification target (notifications).
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    /// `http` (a plugin's request), or the notification's kind: `email`,
    /// `slack`, `teams`, `pagerduty`, `webhook` (`none`: no such target).
    kind: String,
    #[schema(value_type = DeliveryStateName)]
    state: &'static str,
    /// Attempts made so far.
    attempts: u32,
    /// `held` or `retrying`: when the next attempt is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    next_at: Option<escalier_core::Timestamp>,
    /// The receiver's last HTTP status (250 for an accepted email).
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    /// Why the last attempt did not deliver, or why it was given up.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    requested_at: escalier_core::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: escalier_core::Timestamp,
}

/// A delivery's state.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the values only
#[schema(rename_all = "lowercase")]
enum DeliveryStateName {
    Pending,
    Held,
    Retrying,
    Delivered,
    Failed,
}

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Delivery {
            delivery_id: r.delivery_id,
            ticket_id: r.ticket_id,
            plugin: r.plugin,
            target: r.target,
            kind: r.kind,
            state: r.state.as_str(),
            attempts: r.attempts,
            next_at: r.next_at,
            status: r.status,
            reason: r.reason,
            requested_at: r.requested_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = DeliveryPage)]
struct List {
    deliveries: Vec<Delivery>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required = true)]
    next: Option<String>,
}

/// List deliveries, most recently changed first.
#[utoipa::path(
    get,
    path = "/v1/deliveries",
    tag = "deliveries",
    params(
        ("state" = Option<DeliveryStateName>, Query, description = "Only deliveries in this state"),
        ("ticket" = Option<String>, Query, description = "Only the deliveries of this ticket"),
        ("after" = Option<String>, Query, description = "Cursor: `next` of the previous page"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 500, description = "Deliveries per page (default 50)"),
    ),
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "A page of deliveries", body = List),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 503, response = super::openapi::responses::Unavailable),
    ),
)]
async fn list(State(st): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<List>, ApiError> {
    let q = query(raw.as_deref(), &["state", "ticket", "after", "limit"])?;
    let state = match q.get("state") {
        None => None,
        Some(v) => Some(DeliveryState::parse(v).ok_or_else(|| {
            let names: Vec<&str> = DeliveryState::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(
                "invalid_query",
                "state",
                format!(
                    "`{v}` is not a delivery state; use one of {}",
                    names.join(", ")
                ),
            )
        })?),
    };
    let after = match q.get("after") {
        None => None,
        Some(v) => Some(DeliveryCursor::parse(v).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                "after",
                format!("`{v}` is not a cursor; pass `next` from the previous page"),
            )
        })?),
    };
    let ticket = q.get("ticket").cloned();
    let limit = number(&q, "limit", 50, 1, 500)? as usize;
    let store = st.store.clone();
    let (rows, next) = tokio::task::spawn_blocking(move || {
        store.deliveries(state, ticket.as_deref(), limit, after.as_ref())
    })
    .await
    .map_err(|_| ApiError::unavailable("internal", "the request was cancelled"))??;
    Ok(Json(List {
        deliveries: rows.into_iter().map(Delivery::from).collect(),
        next: next.map(|c| c.to_string()),
    }))
}
