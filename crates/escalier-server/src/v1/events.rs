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

/// What became of one event.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = EventOutcome)]
pub(crate) struct EventOutcome<'a> {
    id: &'a str,
    /// The event's position in the log (the original one for a duplicate).
    seq: u64,
    #[schema(value_type = String, pattern = "^(stored|duplicate)$")]
    status: &'static str,
}

/// What became of each event of a batch, in request order.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BatchOutcome)]
pub(crate) struct BatchOutcome<'a> {
    events: Vec<EventOutcome<'a>>,
}

/// The answer to `POST /v1/events`: one outcome, or one per event of a batch.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes the answer; `ingest` builds it from the two shapes
enum IngestOutcome<'a> {
    One(EventOutcome<'a>),
    Batch(BatchOutcome<'a>),
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

/// Ingest one event or a batch, signed per Standard Webhooks.
///
/// Answers only after the events are durably committed. Checks, cheapest
/// first: content type, size, signature (before any JSON parsing), JSON
/// and fields, batch size, then duplicates and the ticket lifecycle.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    request_body(content = super::openapi::schemas::EventsBody, content_type = "application/json"),
    params(
        ("webhook-id" = String, Header, description = "A unique id for this delivery; a retry keeps it"),
        ("webhook-timestamp" = i64, Header, description = "Unix seconds; within 5 minutes of the server's clock"),
        ("webhook-signature" = String, Header, description = "`v1,<base64 HMAC-SHA256 of \"{webhook-id}.{webhook-timestamp}.{body}\">`, space-separated entries allowed"),
    ),
    responses(
        (status = 202, description = "At least one event is new and stored", body = IngestOutcome),
        (status = 200, description = "Every event was stored before (duplicates)", body = IngestOutcome),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::SignatureRefused),
        (status = 413, response = super::openapi::responses::PayloadTooLarge),
        (status = 415, response = super::openapi::responses::UnsupportedMediaType),
        (status = 422, response = super::openapi::responses::Unprocessable),
        (status = 429, response = super::openapi::responses::RateLimited),
        (status = 503, response = super::openapi::responses::Unavailable),
    ),
)]
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
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            ApiError::new(status, e.code(), e.to_string()).with_field(e.header())
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

#[derive(Serialize, utoipa::ToSchema)]
struct Tail {
    #[schema(value_type = Vec<super::openapi::schemas::Record>)]
    records: Vec<Record>,
    /// Pass as `after` to continue.
    next_after: u64,
    /// Highest input seq whose effects are applied (records stop here).
    processed: u64,
    /// Highest input seq durably stored.
    committed: u64,
}

/// Tail the log: processed records only, each input followed by the
/// records it caused.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    params(
        ("after" = Option<u64>, Query, description = "Continue after this input seq (`next_after` of the previous page)"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 1000, description = "Inputs per page (default 100)"),
    ),
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "A page of the log", body = Tail),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 503, response = super::openapi::responses::Unavailable),
    ),
)]
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
