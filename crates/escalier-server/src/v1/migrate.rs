//! `POST /v1/admin/migrate` (`admin`): move open tickets pinned to older
//! policy set versions onto another version (`policies.pin = "ticket"`).
//!
//! `{"to": "<version>" | "latest", "dry_run": true}` lists, per open
//! ticket, the version it follows and which policy files differ from the
//! target; without `dry_run` each ticket gets a `policy.migrated` record
//! (who and from what), so the migration is in the log like everything else.
//! Every ticket listed is either in `tickets` (moved, or would move) or in
//! `skipped` with the reason, never silently left out.
//!
//! A move's event id names the ticket, the target and the ticket's last
//! log position: a retried request is a duplicate, while a later move to
//! a version the ticket followed before (V → W → V) is a new event.
//! With `policies.pin = "latest"` every ticket follows the set in force:
//! nothing is moved and the answer says pinning is off.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::post;
use axum::{Extension, Json, Router};
use escalier_core::event::PolicyMigrated;
use escalier_core::{Event, EventId, EventKind, Source, TicketId};
use escalier_store::{AppendError, Appended, InputBatch, TicketFilter};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::{self, Scope, TokenEntry};
use crate::{ApiError, AppState};

pub fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/admin/migrate", post(migrate))
        .route_layer(from_fn_with_state(st.guard(Scope::Admin), auth::guard))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MigrateRequest)]
#[serde(deny_unknown_fields)]
struct Request {
    /// A stored policy set version, or `latest` (the set in force).
    to: String,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MigratedTicket)]
pub(crate) struct Moved {
    pub(crate) id: String,
    pub(crate) from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) seq: Option<u64>,
}

/// A listed ticket that was not moved, and why.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SkippedTicket)]
pub(crate) struct Skipped {
    pub(crate) id: String,
    pub(crate) from: Option<String>,
    pub(crate) reason: String,
}

/// How a version's files differ from the target's.
#[derive(Serialize, Default, utoipa::ToSchema)]
#[schema(as = VersionChanges)]
pub(crate) struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MigrateAnswer)]
pub(crate) struct Answer {
    pub(crate) to: String,
    pub(crate) dry_run: bool,
    /// `policies.pin` of the server, when it says (`latest`: pinning is off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pin: Option<String>,
    pub(crate) tickets: Vec<Moved>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) skipped: Vec<Skipped>,
    /// Per version migrated from: the files that differ from `to`.
    pub(crate) changes: BTreeMap<String, Changes>,
}

/// The id of moving `ticket` (last applied record `last_seq`) to `to`.
/// Readable when it fits in an event id; else the ticket id is hashed.
fn move_id(ticket: &str, last_seq: u64, to: &str) -> Result<EventId, String> {
    let short: String = {
        let tail: Vec<char> = to.chars().rev().take(16).collect();
        tail.into_iter().rev().collect()
    };
    EventId::new(format!("migrate:{short}:{last_seq}:{ticket}")).or_else(|_| {
        let digest = Sha256::digest(ticket.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        EventId::new(format!("migrate:{short}:{last_seq}:sha256:{hex}"))
    })
}

/// Move open tickets pinned to other policy set versions onto `to`
/// (`policies.pin = "ticket"`), or with `dry_run` list what would move.
#[utoipa::path(
    post,
    path = "/v1/admin/migrate",
    tag = "admin",
    request_body(content = Request, content_type = "application/json"),
    security(("bearer" = ["admin"])),
    responses(
        (status = 202, description = "Tickets moved, each with a `policy.migrated` record", body = Answer),
        (status = 200, description = "A dry run, nothing to move, or pinning is off", body = Answer),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 404, response = super::openapi::responses::NotFound),
        (status = 413, response = super::openapi::responses::PayloadTooLarge),
        (status = 503, response = super::openapi::responses::Unavailable),
    ),
)]
async fn migrate(
    State(st): State<AppState>,
    Extension(who): Extension<TokenEntry>,
    headers: http::HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<Answer>), ApiError> {
    // Bounded like every other body (axum's own limit answers in plain text).
    let body = super::events::read_body(&headers, body, st.limits.max_body_bytes).await?;
    let req: Request = super::decisions::parse(&body)?;
    let (status, answer) = run(&st, &who.name, req.to, req.dry_run).await?;
    Ok((status, Json(answer)))
}

/// Move (or with `dry_run` list) the open tickets onto `to` as token
/// `by`: what `POST /v1/admin/migrate` does, also behind the console's
/// action. The caller has checked the `admin` scope.
pub(crate) async fn run(
    st: &AppState,
    by: &str,
    to: String,
    dry_run: bool,
) -> Result<(StatusCode, Answer), ApiError> {
    let req = Request { to, dry_run };
    let status = st.policies.status();
    let pin = status["pin"].as_str().map(str::to_owned);
    let to = if req.to == "latest" {
        status["version"].as_str().unwrap_or_default().to_owned()
    } else {
        req.to.clone()
    };
    if pin.as_deref() == Some("latest") {
        // Every ticket follows the set in force: there is nothing to move.
        return Ok((
            StatusCode::OK,
            Answer {
                to,
                dry_run: req.dry_run,
                pin,
                tickets: Vec::new(),
                skipped: Vec::new(),
                changes: BTreeMap::new(),
            },
        ));
    }
    let store = st.store.clone();
    let target = to.clone();
    let (target_set, open, sets) =
        tokio::task::spawn_blocking(move || -> Result<_, escalier_store::StoreError> {
            let target_set = store.policy_set(&target)?;
            let mut open = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page =
                    store.tickets(&TicketFilter::default(), after.as_deref(), 500, usize::MAX)?;
                for t in page.items {
                    if t.is_open() && t.policy_version.as_deref() != Some(target.as_str()) {
                        open.push((t.id.into_string(), t.policy_version, t.last_seq));
                    }
                }
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            let froms: BTreeSet<String> = open.iter().filter_map(|(_, f, _)| f.clone()).collect();
            let mut sets = BTreeMap::new();
            for f in froms {
                if let Some(s) = store.policy_set(&f)? {
                    sets.insert(f, s);
                }
            }
            Ok((target_set, open, sets))
        })
        .await
        .map_err(|_| ApiError::unavailable("internal", "the request was cancelled"))??;
    let Some(target_set) = target_set else {
        return Err(ApiError::not_found(
            "to",
            format!("policy set version `{to}` is not stored; GET /v1/policies lists the versions"),
        ));
    };
    let mut changes = BTreeMap::new();
    for (from, set) in &sets {
        let mut c = Changes::default();
        for (name, text) in &target_set.files {
            match set.files.get(name) {
                None => c.added.push(name.clone()),
                Some(t) if t != text => c.changed.push(name.clone()),
                Some(_) => {}
            }
        }
        c.removed = set
            .files
            .keys()
            .filter(|n| !target_set.files.contains_key(*n))
            .cloned()
            .collect();
        changes.insert(from.clone(), c);
    }
    if req.dry_run {
        let tickets = open
            .into_iter()
            .map(|(id, from, _)| Moved {
                id,
                from,
                seq: None,
            })
            .collect();
        return Ok((
            StatusCode::OK,
            Answer {
                to,
                dry_run: true,
                pin,
                tickets,
                skipped: Vec::new(),
                changes,
            },
        ));
    }
    // One request per ticket, so a ticket closed meanwhile is refused
    // alone; queued without `Busy` (waiting for room), answers collected
    // after. Each outcome stays with its own ticket.
    let writer = st.writer.clone();
    let now = st.timers.clock.now();
    let by = by.to_owned();
    let target = to.clone();
    let queued = tokio::task::spawn_blocking(move || {
        open.into_iter()
            .map(|(id, from, last_seq)| {
                let event = match (move_id(&id, last_seq, &target), TicketId::new(id.clone())) {
                    (Ok(event_id), Ok(ticket_id)) => Event {
                        id: event_id,
                        ticket_id,
                        occurred_at: now,
                        kind: EventKind::PolicyMigrated(PolicyMigrated {
                            from: from.clone(),
                            to: target.clone(),
                            by: by.clone(),
                        }),
                    },
                    (Err(e), _) | (_, Err(e)) => return (id, from, Err(e)),
                };
                let batch = InputBatch {
                    events: vec![event],
                    source: Source::Api { token: by.clone() },
                };
                let rx = writer.enqueue_blocking(batch).map_err(|e| e.to_string());
                (id, from, rx)
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|_| ApiError::unavailable("internal", "the request was cancelled"))?;
    let mut tickets = Vec::new();
    let mut skipped = Vec::new();
    for (id, from, rx) in queued {
        let outcome = match rx {
            Ok(rx) => rx
                .await
                .unwrap_or_else(|_| Err(escalier_store::StoreError::Closed.into()))
                .map_err(|e| match e {
                    AppendError::Rejected { rejection, .. } => rejection.to_string(),
                    other => other.to_string(),
                }),
            Err(e) => Err(e),
        };
        match outcome.as_deref().map(|a| a.first().copied()) {
            Ok(Some(Appended::Stored { seq })) => tickets.push(Moved {
                id,
                from,
                seq: Some(seq),
            }),
            Ok(Some(Appended::Duplicate { seq })) => skipped.push(Skipped {
                id,
                from,
                reason: format!("the same move was already requested (seq {seq})"),
            }),
            Ok(None) => skipped.push(Skipped {
                id,
                from,
                reason: "nothing was stored".into(),
            }),
            Err(reason) => skipped.push(Skipped {
                id,
                from,
                reason: reason.to_owned(),
            }),
        }
    }
    let status = if tickets.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        status,
        Answer {
            to,
            dry_run: false,
            pin,
            tickets,
            skipped,
            changes,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_id_fits_whatever_the_ticket_id_and_differs_per_position() {
        let to = "sha256:00112233445566778899aabbccddeeff";
        let short = move_id("T-1", 7, to).unwrap();
        assert_eq!(short.as_str(), "migrate:8899aabbccddeeff:7:T-1");
        for len in [100, 103, 104, escalier_core::id::MAX_ID_LEN] {
            let long = "L".repeat(len);
            let id = move_id(&long, u64::MAX, to).unwrap();
            assert!(id.as_str().len() <= escalier_core::id::MAX_ID_LEN, "{id}");
            assert_ne!(id, move_id(&"M".repeat(len), u64::MAX, to).unwrap());
        }
        assert_ne!(move_id("T-1", 7, to), move_id("T-1", 9, to));
    }
}
