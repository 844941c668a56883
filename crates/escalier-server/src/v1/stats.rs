//! `GET /v1/stats?from=&to=` (`read`): follow-up and review figures for the
//! tickets created in `[from, to)` — escalation rate (overall, per channel,
//! team and tier reached), time to first response and to resolution per
//! tier, SLA breaches per SLA, CSAT after escalation vs without. Defaults:
//! the last 30 days. Definitions: `docs/stats.md`.
//!
//! Computed from the store's in-memory ticket index (a summary of every
//! ticket, kept by the processor after each commit), or, while that
//! index is being built at start, by reading every ticket.

use axum::extract::{RawQuery, State};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};
use escalier_core::Timestamp;
use escalier_store::TicketFilter;

use super::query;
use crate::auth::{self, Scope};
use crate::{ApiError, AppState};

pub fn router(st: &AppState) -> Router<AppState> {
    // The index the figures (and the console's queue) are computed from:
    // built in the background from now on, fed by the processor.
    st.store.start_index((st.timers.books)());
    Router::new()
        .route("/v1/stats", get(stats))
        .route_layer(from_fn_with_state(st.guard(Scope::Read), auth::guard))
}

fn time(
    q: &std::collections::HashMap<String, String>,
    name: &str,
    default: Timestamp,
) -> Result<Timestamp, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            ApiError::bad_request(
                "invalid_query",
                name,
                format!("`{v}` is not an RFC 3339 time like 2026-03-01T00:00:00Z"),
            )
        }),
    }
}

/// Follow-up and review figures for the tickets created in `[from, to)`
/// (default: the last 30 days). Definitions: docs/stats.md.
#[utoipa::path(
    get,
    path = "/v1/stats",
    tag = "stats",
    params(
        ("from" = Option<String>, Query, format = DateTime, description = "Start (RFC 3339; default `to` minus 30 days)"),
        ("to" = Option<String>, Query, format = DateTime, description = "End, excluded (RFC 3339; default now)"),
    ),
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "The figures", body = super::openapi::schemas::Stats),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 503, response = super::openapi::responses::Unavailable),
    ),
)]
async fn stats(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<escalier_core::stats::Stats>, ApiError> {
    let q = query(raw.as_deref(), &["from", "to"])?;
    let now = st.timers.clock.now();
    let to = time(&q, "to", now)?;
    let from = time(
        &q,
        "from",
        to.checked_sub(jiff::SignedDuration::from_hours(24 * 30))
            .unwrap_or(to),
    )?;
    if from >= to {
        return Err(ApiError::bad_request(
            "invalid_query",
            "from",
            "`from` must be before `to`",
        ));
    }
    let st2 = st.clone();
    let out = tokio::task::spawn_blocking(move || compute(&st2, from, to))
        .await
        .map_err(|_| ApiError::unavailable("internal", "the request was cancelled"))??;
    Ok(Json(out))
}

/// The figures for `[from, to)`: from the ticket index when it is ready,
/// else by reading every ticket (the same function of the same facts).
pub(crate) fn compute(
    st: &AppState,
    from: Timestamp,
    to: Timestamp,
) -> Result<escalier_core::stats::Stats, escalier_store::StoreError> {
    if let Some(s) = st.store.index().and_then(|ix| {
        ix.read(|slots| {
            escalier_core::stats::from_facts(slots.all().iter().map(|s| &s.facts), from, to)
        })
    }) {
        return Ok(s);
    }
    let mut tickets = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page =
            st.store
                .tickets(&TicketFilter::default(), after.as_deref(), 1000, usize::MAX)?;
        tickets.extend(
            page.items
                .into_iter()
                .filter(|t| t.created_at >= from && t.created_at < to),
        );
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(escalier_core::stats::stats(tickets.iter(), from, to))
}
