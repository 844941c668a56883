//! `POST /v1/events`: ingest signed events. `GET /v1/events`: tail the log.
//!
//! Ingest order of checks, cheapest and least trusting first: content
//! type, declared length, body size, signature (before any JSON parsing of
//! an unauthenticated body), JSON and fields, batch size, then the writer
//! (duplicates and lifecycle). Every refusal stores nothing.

use axum::body::{Body, to_bytes};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use escalier_core::event::Origin;
use escalier_core::{Event, Record, Source};
use escalier_store::{AppendError, Appended, InputBatch};
use http::{HeaderMap, StatusCode, header};
use serde::Serialize;

use super::{number, query};
use crate::auth::{self, Scope};
use crate::{ApiError, AppState};
use axum::handler::Handler;
use axum::middleware::from_fn_with_state;

/// Ingest is authenticated by its webhook signature; the tail needs `read`.
pub fn router(st: &AppState) -> Router<AppState> {
    Router::new().route(
        "/v1/events",
        post(ingest.layer(from_fn_with_state(
            st.limiter.clone(),
            crate::ratelimit::limit,
        )))
        .get(tail.layer(from_fn_with_state(st.guard(Scope::Read), auth::guard))),
    )
}

#[derive(Serialize)]
struct EventOutcome<'a> {
    id: &'a str,
    seq: u64,
    status: &'static str,
}

#[derive(Serialize)]
struct BatchOutcome<'a> {
    events: Vec<EventOutcome<'a>>,
}

fn rejected(code: &'static str) {
    metrics::counter!("escalier_ingest_rejected_total", "reason" => code).increment(1);
}

/// Read a request body up to `limit` bytes; 413 past it.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        rejected("body_too_large");
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {limit} bytes; split the batch"),
        )
        .body_unread()
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    to_bytes(body, limit).await.map_err(|_| too_large())
}

/// JSON only: `application/json`, optionally with parameters.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if ok {
        Ok(())
    } else {
        rejected("unsupported_media_type");
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the events as `Content-Type: application/json`",
        )
        .with_field("content-type")
        .body_unread())
    }
}

async fn ingest(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let bytes = read_body(&headers, body, st.limits.max_body_bytes).await?;
    // Signatures are checked against the real clock even when ticket time is
    // simulated: the tolerance window protects against replayed deliveries.
    let verified = st
        .verifier
        .verify(&headers, &bytes, jiff::Timestamp::now().as_second())
        .map_err(|e| {
            rejected(e.code());
            ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string()).with_field(e.header())
        })?;
    let events = Event::decode_body(&bytes, Origin::External).map_err(|r| {
        rejected(r.code.as_str());
        ApiError::from(r)
    })?;
    if events.len() > st.limits.max_batch_events {
        rejected("batch_too_large");
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "the batch has {} events; at most {} per request",
                events.len(),
                st.limits.max_batch_events
            ),
        ));
    }
    let is_batch = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let ids: Vec<String> = events.iter().map(|e| e.id.as_str().to_owned()).collect();
    let outcomes = st
        .writer
        .append(InputBatch {
            events,
            source: Source::Webhook {
                delivery: Some(verified.id),
            },
        })
        .await
        .map_err(|e| match e {
            AppendError::Rejected { index, rejection } => {
                rejected(rejection.code.as_str());
                let r = if is_batch {
                    rejection.within(&format!("[{index}]"))
                } else {
                    rejection
                };
                ApiError::from(r)
            }
            other => ApiError::from(other),
        })?;
    let any_stored = outcomes
        .iter()
        .any(|o| matches!(o, Appended::Stored { .. }));
    let status = if any_stored {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let list: Vec<EventOutcome<'_>> = ids
        .iter()
        .zip(&outcomes)
        .map(|(id, o)| EventOutcome {
            id,
            seq: o.seq(),
            status: match o {
                Appended::Stored { .. } => "stored",
                Appended::Duplicate { .. } => "duplicate",
            },
        })
        .collect();
    let resp = if is_batch {
        (status, Json(BatchOutcome { events: list })).into_response()
    } else {
        let one = list.into_iter().next();
        (status, Json(one)).into_response()
    };
    Ok(resp)
}

#[derive(Serialize)]
struct Tail {
    records: Vec<Record>,
    /// Pass as `after` to continue.
    next_after: u64,
    /// Highest input seq whose effects are applied (records stop here).
    processed: u64,
    /// Highest input seq durably stored.
    committed: u64,
}

async fn tail(State(st): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<Tail>, ApiError> {
    let q = query(raw.as_deref(), &["after", "limit"])?;
    let after = number(&q, "after", 0, 0, u64::MAX)?;
    let limit = number(&q, "limit", 100, 1, 1000)? as usize;
    let store = st.store.clone();
    let (records, next_after) = tokio::task::spawn_blocking(move || store.tail(after, limit))
        .await
        .map_err(|_| ApiError::unavailable("internal", "the request was cancelled"))??;
    Ok(Json(Tail {
        records,
        next_after,
        processed: st.store.progress().processed(),
        committed: st.store.progress().committed(),
    }))
}
