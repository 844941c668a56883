//! `GET /v1/tickets` (filtered, cursor-paginated) and `GET /v1/tickets/{id}`
//! (state plus timeline: every event and every action, with what produced it).
//!
//! Both read the processed projection. A client that just ingested an
//! event and wants to see its effects passes `wait_for_seq=<seq from the
//! ingest answer>`; the request then waits (bounded) until the processor
//! has applied it.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use escalier_core::{Priority, Record, Status, Ticket, Tier};
use escalier_store::TicketFilter;
use http::StatusCode;
use serde::Serialize;

use super::{Path, number, query};
use crate::auth::{self, Scope};
use crate::{ApiError, AppState};
use axum::middleware::from_fn_with_state;

pub fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/tickets", get(list))
        .route("/v1/tickets/{id}", get(one))
        .route_layer(from_fn_with_state(st.guard(Scope::Read), auth::guard))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = TicketPage)]
struct List {
    #[schema(value_type = Vec<super::openapi::schemas::Ticket>)]
    tickets: Vec<Ticket>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required = true)]
    next: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = TicketDetail)]
struct One {
    #[schema(value_type = super::openapi::schemas::Ticket)]
    ticket: Ticket,
    /// SLA clocks and ladders as of now: state, due time, time remaining.
    #[schema(value_type = super::openapi::schemas::TimersView)]
    timers: escalier_core::timers::TimersView,
    /// Every event and every action on the ticket, in log order.
    #[schema(value_type = Vec<super::openapi::schemas::Record>)]
    timeline: Vec<Record>,
}

fn vocab<T>(
    q: &HashMap<String, String>,
    name: &str,
    parse: fn(&str) -> Option<T>,
    names: String,
) -> Result<Option<T>, ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => parse(v).map(Some).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                name,
                format!("`{v}` is not a {name}; use one of {names}"),
            )
        }),
    }
}

/// Wait until the processor has applied `wait_for_seq`, if asked.
pub(crate) async fn wait(st: &AppState, q: &HashMap<String, String>) -> Result<(), ApiError> {
    let seq = number(q, "wait_for_seq", 0, 0, u64::MAX)?;
    if seq == 0 {
        return Ok(());
    }
    if seq > st.store.progress().committed() {
        // Another node may have stored it a moment ago: ask the store.
        let store = st.store.clone();
        let committed = tokio::task::spawn_blocking(move || store.committed_now())
            .await
            .map_err(|_| ApiError::unavailable("internal", "the log end could not be read"))??;
        if seq > committed {
            return Err(ApiError::bad_request(
                "invalid_query",
                "wait_for_seq",
                format!("seq {seq} has not been stored; the log ends at {committed}"),
            ));
        }
    }
    if st
        .store
        .progress()
        .wait_processed(seq, st.limits.max_wait)
        .await
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "processing_pending",
            format!("seq {seq} is stored but not processed yet; retry the read"),
        )
        .with_field("wait_for_seq"))
    }
}

/// List tickets, filtered, ordered by id and paged by cursor; or, with
/// `breaching_within`, those whose SLA breach is due within the window,
/// soonest first (not paged).
#[utoipa::path(
    get,
    path = "/v1/tickets",
    tag = "tickets",
    params(
        ("status" = Option<super::openapi::schemas::TicketStatus>, Query, description = "Only tickets in this status"),
        ("tier" = Option<super::openapi::schemas::SupportTier>, Query, description = "Only tickets at this tier"),
        ("team" = Option<String>, Query, description = "Only tickets with this team"),
        ("priority" = Option<super::openapi::schemas::TicketPriority>, Query, description = "Only tickets of this priority"),
        ("after" = Option<String>, Query, description = "Cursor: `next` of the previous page"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 500, description = "Tickets per page (default 50)"),
        ("wait_for_seq" = Option<u64>, Query, description = "Wait (bounded) until the processor has applied this seq"),
        ("breaching_within" = Option<String>, Query, description = "A duration like `30m`, `2h`, `1d`: tickets whose SLA breach is due within it"),
    ),
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "A page of tickets", body = List),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 503, response = super::openapi::responses::Unavailable),
        (status = 504, response = super::openapi::responses::ProcessingPending),
    ),
)]
async fn list(State(st): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<List>, ApiError> {
    let q = query(
        raw.as_deref(),
        &[
            "status",
            "tier",
            "team",
            "priority",
            "after",
            "limit",
            "wait_for_seq",
            "breaching_within",
        ],
    )?;
    wait(&st, &q).await?;
    if let Some(window) = q.get("breaching_within") {
        if q.contains_key("after") {
            return Err(ApiError::bad_request(
                "invalid_query",
                "after",
                "`breaching_within` lists tickets by due time and does not page; raise `limit` instead",
            ));
        }
        let window = super::duration("breaching_within", window)?;
        return breaching(&st, &q, window).await;
    }
    let filter = filter_from(&q)?;
    let limit = number(&q, "limit", 50, 1, 500)? as usize;
    let after = q.get("after").cloned();
    let store = st.store.clone();
    let page = tokio::task::spawn_blocking(move || {
        store.tickets(&filter, after.as_deref(), limit, 50_000)
    })
    .await
    .map_err(|_| ApiError::unavailable("internal", "the request was cancelled"))??;
    Ok(Json(List {
        tickets: page.items,
        next: page.next,
    }))
}

/// Tickets with an SLA breach due within `window` from now, soonest first.
async fn breaching(
    st: &AppState,
    q: &HashMap<String, String>,
    window: jiff::SignedDuration,
) -> Result<Json<List>, ApiError> {
    let limit = number(q, "limit", 50, 1, 500)? as usize;
    let now = st.timers.clock.now();
    let until = now.checked_add(window).unwrap_or(now);
    let filter = filter_from(q)?;
    let store = st.store.clone();
    let tickets =
        tokio::task::spawn_blocking(move || -> Result<Vec<Ticket>, escalier_store::StoreError> {
            let mut out = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for (_, id, key) in store.due_between(now, until)? {
                let is_breach = key.starts_with("sla:") && key.ends_with(":breach");
                if !is_breach || !seen.insert(id.clone()) {
                    continue;
                }
                if let Some(t) = store.ticket(&id)?
                    && filter.matches(&t)
                {
                    out.push(t);
                    if out.len() == limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(|_| ApiError::unavailable("internal", "the request was cancelled"))??;
    Ok(Json(List {
        tickets,
        next: None,
    }))
}

fn filter_from(q: &HashMap<String, String>) -> Result<TicketFilter, ApiError> {
    let tier = match q.get("tier") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ())
                .and_then(|n| Tier::new(n).map_err(|_| ()))
                .map_err(|_| {
                    ApiError::bad_request(
                        "invalid_query",
                        "tier",
                        format!("`{v}` is not a tier (0 to 4)"),
                    )
                })?,
        ),
    };
    Ok(TicketFilter {
        status: vocab(q, "status", Status::parse, Status::names())?,
        tier,
        team: q.get("team").cloned(),
        priority: vocab(q, "priority", Priority::parse, Priority::names())?,
    })
}

/// One ticket: its state, its SLA clocks and ladders as of now, and its
/// timeline (every event and action, with what produced it).
#[utoipa::path(
    get,
    path = "/v1/tickets/{id}",
    tag = "tickets",
    params(
        ("id" = String, Path, description = "Ticket id", example = "ZD-2003"),
        ("wait_for_seq" = Option<u64>, Query, description = "Wait (bounded) until the processor has applied this seq"),
    ),
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "The ticket", body = One),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 404, response = super::openapi::responses::NotFound),
        (status = 503, response = super::openapi::responses::Unavailable),
        (status = 504, response = super::openapi::responses::ProcessingPending),
    ),
)]
async fn one(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<One>, ApiError> {
    let q = query(raw.as_deref(), &["wait_for_seq"])?;
    wait(&st, &q).await?;
    let store = st.store.clone();
    let lookup = id.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<_, escalier_store::StoreError> {
        match store.ticket(&lookup)? {
            Some(t) => Ok(Some((t, store.timeline(&lookup)?))),
            None => Ok(None),
        }
    })
    .await
    .map_err(|_| ApiError::unavailable("internal", "the request was cancelled"))??;
    match found {
        Some((ticket, timeline)) => {
            let timers =
                escalier_core::timers::view(&ticket, &(st.timers.books)(), st.timers.clock.now());
            Ok(Json(One {
                ticket,
                timers,
                timeline,
            }))
        }
        None => Err(ApiError::not_found("id", format!("no ticket `{id}`"))),
    }
}
