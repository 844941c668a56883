//! People acting on a ticket through the API: acknowledging a running
//! escalation ladder, deciding an approval, ticking a checklist item.
//!
//! Each call appends an input event (`ladder.acknowledged`,
//! `approval.decided`, `checklist.item_checked`) through the writer, with
//! the caller's token name as its source, so it is durable, ordered with
//! everything else, seen by policies and plugins, and replayable. The
//! answer comes after the commit: `202 {"id", "seq", "status"}`. Send an
//! `Idempotency-Key` header to make a retried call store the event once:
//! the key is scoped to the token, the ticket and the call (a key reused
//! elsewhere is a new call), and a retry answers `200` with the first
//! call's seq.
//! All need the `ingest` scope.

use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::post;
use axum::{Extension, Json, Router};
use escalier_core::event::Origin;
use escalier_core::{Event, EventId, EventKind, Source, TicketId};
use escalier_store::{Appended, InputBatch};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Path;
use super::events::{read_body, require_json};
use crate::auth::{self, Scope, TokenEntry};
use crate::{ApiError, AppState};

pub fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/tickets/{id}/ack", post(ack))
        .route("/v1/tickets/{id}/approvals/{approval}", post(decide))
        .route(
            "/v1/tickets/{id}/checklists/{checklist}/items/{item}",
            post(tick),
        )
        .route_layer(from_fn_with_state(
            st.limiter.clone(),
            crate::ratelimit::limit,
        ))
        .route_layer(from_fn_with_state(st.guard(Scope::Ingest), auth::guard))
}

/// The answer to an action on a ticket, after its event is committed.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Accepted {
    /// The appended event's id.
    id: String,
    /// Its position in the log.
    pub(crate) seq: u64,
    #[schema(value_type = String, pattern = "^(stored|duplicate)$")]
    status: &'static str,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AckBody {
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    ladder: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DecideBody {
    /// `approved` or `rejected` (`approve` and `reject` are accepted too).
    #[schema(pattern = "^(approved?|rejected?)$")]
    decision: String,
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TickBody {
    #[serde(default)]
    checked: Option<bool>,
    #[serde(default)]
    by: Option<String>,
}

/// Parse an optional JSON body (empty means defaults).
pub(crate) async fn body<T: for<'de> Deserialize<'de> + Default>(
    st: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<T, ApiError> {
    let bytes = read_body(headers, body, st.limits.max_body_bytes).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    require_json(headers)?;
    parse(&bytes)
}

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad_request(
            "invalid_field",
            if path == "." { "" } else { &path },
            e.inner().to_string(),
        )
    })
}

/// Like [`append`], after checking the event against the ticket as
/// processed so far (the approval or checklist item exists and is open):
/// `404` when what it names does not exist, `409` when already decided.
pub(crate) async fn append_checked(
    st: &AppState,
    headers: &HeaderMap,
    who: &TokenEntry,
    ticket: String,
    type_name: &str,
    data: serde_json::Value,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let kind = EventKind::decode(type_name, &data.to_string(), Origin::Internal)
        .map_err(ApiError::from)?;
    let store = st.store.clone();
    let lookup = ticket.clone();
    let current = tokio::task::spawn_blocking(move || store.ticket(&lookup))
        .await
        .map_err(|_| ApiError::unavailable("internal", "the request was cancelled"))??
        .ok_or_else(|| ApiError::not_found("id", format!("no ticket `{ticket}`")))?;
    let checked = match &kind {
        EventKind::ApprovalDecided(d) => d.check(&current),
        EventKind::ChecklistItemChecked(d) => d.check(&current),
        _ => Ok(()),
    };
    checked.map_err(|r| match r.code {
        escalier_core::RejectionCode::NotFound => ApiError::not_found(&r.field, r.message),
        escalier_core::RejectionCode::InvalidTransition => {
            ApiError::new(StatusCode::CONFLICT, "already_decided", r.message).with_field(r.field)
        }
        _ => ApiError::from(r),
    })?;
    append(st, headers, who, ticket, type_name, data).await
}

/// Append one API event for a ticket and answer 202 after its commit.
pub(crate) async fn append(
    st: &AppState,
    headers: &HeaderMap,
    who: &TokenEntry,
    ticket: String,
    type_name: &str,
    data: serde_json::Value,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let ticket_id = TicketId::new(ticket)
        .map_err(|m| ApiError::bad_request("invalid_field", "id", format!("ticket id {m}")))?;
    let id = match idempotency_key(headers)? {
        Some(key) => scoped_id(who, type_name, ticket_id.as_str(), &data, key),
        None => EventId::new(format!("api:{:032x}", rand_id()))
            .map_err(|_| ApiError::unavailable("internal", "id"))?,
    };
    let kind = EventKind::decode(type_name, &data.to_string(), Origin::Internal)
        .map_err(|r| ApiError::from(r.within("")))?;
    let event = Event {
        id: id.clone(),
        ticket_id,
        occurred_at: st.timers.clock.now(),
        kind,
    };
    let out = st
        .writer
        .append(InputBatch {
            events: vec![event],
            source: Source::Api {
                token: who.name.clone(),
            },
        })
        .await?;
    let (status, label) = match out[0] {
        Appended::Stored { .. } => (StatusCode::ACCEPTED, "stored"),
        Appended::Duplicate { .. } => (StatusCode::OK, "duplicate"),
    };
    Ok((
        status,
        Json(Accepted {
            id: id.into_string(),
            seq: out[0].seq(),
            status: label,
        }),
    ))
}

/// Longest `Idempotency-Key` accepted, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bad = |why: &str| {
        ApiError::bad_request(
            "invalid_field",
            "idempotency-key",
            format!("Idempotency-Key {why}"),
        )
    };
    if values.next().is_some() {
        return Err(bad("appears more than once; send it once"));
    }
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| bad("must be 1 to 255 visible ASCII characters"))?;
    if key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(bad("must be 1 to 255 visible ASCII characters"));
    }
    Ok(Some(key))
}

/// The event id for an API call made with an idempotency key: scoped to
/// the token, the kind of call, the ticket and what the call names on it
/// (approval, checklist item, ladder, plugin command), so one key reused
/// on another ticket or another approval is a new call, and only a retry
/// of the same call is a duplicate. The `api:` prefix is refused on
/// events from outside, so no webhook can pre-empt a decision.
fn scoped_id(
    who: &TokenEntry,
    type_name: &str,
    ticket: &str,
    data: &serde_json::Value,
    key: &str,
) -> EventId {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [who.sha256.as_str(), type_name, ticket] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for name in [
        "approval_id",
        "checklist",
        "item",
        "ladder",
        "plugin",
        "command",
    ] {
        if let Some(v) = data.get(name).and_then(|v| v.as_str()) {
            h.update(name.as_bytes());
            h.update([1]);
            h.update(v.as_bytes());
            h.update([0]);
        }
    }
    h.update(key.as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    // 4 + 32 characters from the id alphabet: always a valid id.
    EventId::new(format!("api:{hex}")).unwrap_or_else(|_| unreachable!("hex ids are valid"))
}

fn rand_id() -> u128 {
    // Uniqueness, not secrecy: time plus a process-wide counter.
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = jiff::Timestamp::now().as_nanosecond() as u128;
    (t << 20) ^ u128::from(N.fetch_add(1, Ordering::Relaxed))
}

/// Acknowledge the ticket's running escalation ladders: they stop
/// climbing. Appends `ladder.acknowledged`; an empty body is allowed.
#[utoipa::path(
    post,
    path = "/v1/tickets/{id}/ack",
    tag = "tickets",
    params(
        ("id" = String, Path, description = "Ticket id", example = "ZD-2003"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key stores the event once (200 with the original seq)"),
    ),
    request_body(content = Option<AckBody>, content_type = "application/json"),
    security(("bearer" = ["ingest"])),
    responses(
        (status = 202, description = "Stored", body = Accepted),
        (status = 200, description = "Stored before under this Idempotency-Key", body = Accepted),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 404, response = super::openapi::responses::NotFound),
        (status = 413, response = super::openapi::responses::PayloadTooLarge),
        (status = 415, response = super::openapi::responses::UnsupportedMediaType),
        (status = 422, response = super::openapi::responses::Unprocessable),
        (status = 429, response = super::openapi::responses::RateLimited),
        (status = 503, response = super::openapi::responses::Unavailable),
    ),
)]
async fn ack(
    State(st): State<AppState>,
    Extension(who): Extension<TokenEntry>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let b: AckBody = body(&st, &headers, raw).await?;
    ack_as(&st, &headers, &who, id, b.ladder, b.by, b.note).await
}

/// Acknowledge as `who`: what `POST /v1/tickets/{id}/ack` and the
/// console do.
pub(crate) async fn ack_as(
    st: &AppState,
    headers: &HeaderMap,
    who: &TokenEntry,
    id: String,
    ladder: Option<String>,
    by: Option<String>,
    note: Option<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let data = json!({
        "ladder": ladder,
        "by": by.unwrap_or_else(|| who.name.clone()),
        "note": note,
    });
    append(
        st,
        headers,
        who,
        id,
        "ladder.acknowledged",
        strip_nulls(data),
    )
    .await
}

/// Decide a pending approval. Appends `approval.decided`.
#[utoipa::path(
    post,
    path = "/v1/tickets/{id}/approvals/{approval}",
    tag = "tickets",
    params(
        ("id" = String, Path, description = "Ticket id", example = "ZD-2004"),
        ("approval" = String, Path, description = "Approval id, as in the ticket's `approvals`", example = "apr-15.1"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key stores the event once (200 with the original seq)"),
    ),
    request_body(content = DecideBody, content_type = "application/json"),
    security(("bearer" = ["ingest"])),
    responses(
        (status = 202, description = "Stored", body = Accepted),
        (status = 200, description = "Stored before under this Idempotency-Key", body = Accepted),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 404, response = super::openapi::responses::NotFound),
        (status = 409, response = super::openapi::responses::Conflict),
        (status = 413, response = super::openapi::responses::PayloadTooLarge),
        (status = 415, response = super::openapi::responses::UnsupportedMediaType),
        (status = 422, response = super::openapi::responses::Unprocessable),
        (status = 429, response = super::openapi::responses::RateLimited),
        (status = 503, response = super::openapi::responses::Unavailable),
    ),
)]
async fn decide(
    State(st): State<AppState>,
    Extension(who): Extension<TokenEntry>,
    Path((id, approval)): Path<(String, String)>,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    require_json(&headers)?;
    let bytes = read_body(&headers, raw, st.limits.max_body_bytes).await?;
    let b: DecideBody = parse(&bytes)?;
    let decision = match b.decision.as_str() {
        "approved" | "approve" => "approved",
        "rejected" | "reject" => "rejected",
        other => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "decision",
                format!("`{other}` is not a decision; use approved or rejected"),
            ));
        }
    };
    decide_as(&st, &headers, &who, id, approval, decision, b.by, b.reason).await
}

/// Decide an approval as `who` (`decision`: `approved` or `rejected`):
/// what `POST /v1/tickets/{id}/approvals/{approval}` and the console do.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn decide_as(
    st: &AppState,
    headers: &HeaderMap,
    who: &TokenEntry,
    id: String,
    approval: String,
    decision: &str,
    by: Option<String>,
    reason: Option<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let data = json!({
        "approval_id": approval,
        "decision": decision,
        "by": by.unwrap_or_else(|| who.name.clone()),
        "reason": reason.unwrap_or_default(),
    });
    append_checked(st, headers, who, id, "approval.decided", data).await
}

/// Tick (or untick) a checklist item. Appends `checklist.item_checked`;
/// an empty body ticks it.
#[utoipa::path(
    post,
    path = "/v1/tickets/{id}/checklists/{checklist}/items/{item}",
    tag = "tickets",
    params(
        ("id" = String, Path, description = "Ticket id", example = "ZD-2009"),
        ("checklist" = String, Path, description = "Checklist name", example = "engineering-handoff"),
        ("item" = String, Path, description = "Item id", example = "logs"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key stores the event once (200 with the original seq)"),
    ),
    request_body(content = Option<TickBody>, content_type = "application/json"),
    security(("bearer" = ["ingest"])),
    responses(
        (status = 202, description = "Stored", body = Accepted),
        (status = 200, description = "Stored before under this Idempotency-Key", body = Accepted),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 404, response = super::openapi::responses::NotFound),
        (status = 409, response = super::openapi::responses::Conflict),
        (status = 413, response = super::openapi::responses::PayloadTooLarge),
        (status = 415, response = super::openapi::responses::UnsupportedMediaType),
        (status = 422, response = super::openapi::responses::Unprocessable),
        (status = 429, response = super::openapi::responses::RateLimited),
        (status = 503, response = super::openapi::responses::Unavailable),
    ),
)]
async fn tick(
    State(st): State<AppState>,
    Extension(who): Extension<TokenEntry>,
    Path((id, checklist, item)): Path<(String, String, String)>,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let b: TickBody = body(&st, &headers, raw).await?;
    let checked = b.checked.unwrap_or(true);
    tick_as(&st, &headers, &who, id, checklist, item, checked, b.by).await
}

/// Tick or untick a checklist item as `who`: what `POST
/// /v1/tickets/{id}/checklists/{checklist}/items/{item}` and the console do.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn tick_as(
    st: &AppState,
    headers: &HeaderMap,
    who: &TokenEntry,
    id: String,
    checklist: String,
    item: String,
    checked: bool,
    by: Option<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let data = json!({
        "checklist": checklist,
        "item": item,
        "checked": checked,
        "by": by.unwrap_or_else(|| who.name.clone()),
    });
    append_checked(st, headers, who, id, "checklist.item_checked", data).await
}

fn strip_nulls(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(m) = v.as_object_mut() {
        m.retain(|_, x| !x.is_null());
    }
    v
}
