//! `POST /v1/admin/migrate` (`admin`): move open tickets pinned to older
//! policy set versions onto another version (`policies.pin = "ticket"`).
//!
//! `{"to": "<version>" | "latest", "dry_run": true}` lists, per open
//! ticket, the version it follows and which policy files differ from the
//! target; without `dry_run` each ticket gets a `policy.migrated` record
//! (who and from what), so the migration is in the log like everything else.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::post;
use axum::{Extension, Json, Router};
use escalier_core::event::PolicyMigrated;
use escalier_core::{Event, EventId, EventKind, Source, TicketId};
use escalier_store::{InputBatch, TicketFilter};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::{self, Scope, TokenEntry};
use crate::{ApiError, AppState};

pub fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/admin/migrate", post(migrate))
        .route_layer(from_fn_with_state(st.guard(Scope::Admin), auth::guard))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    to: String,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize)]
struct Moved {
    id: String,
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
}

/// How a version's files differ from the target's.
#[derive(Serialize, Default)]
struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
}

#[derive(Serialize)]
struct Answer {
    to: String,
    dry_run: bool,
    tickets: Vec<Moved>,
    /// Per version migrated from: the files that differ from `to`.
    changes: BTreeMap<String, Changes>,
}

async fn migrate(
    State(st): State<AppState>,
    Extension(who): Extension<TokenEntry>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Answer>), ApiError> {
    let req: Request = super::decisions::parse(&body)?;
    let to = if req.to == "latest" {
        st.policies.status()["version"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    } else {
        req.to.clone()
    };
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
                        open.push((t.id.into_string(), t.policy_version));
                    }
                }
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            let froms: BTreeSet<String> = open.iter().filter_map(|(_, f)| f.clone()).collect();
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
    let mut tickets: Vec<Moved> = open
        .into_iter()
        .map(|(id, from)| Moved {
            id,
            from,
            seq: None,
        })
        .collect();
    if !req.dry_run {
        // One request per ticket: a ticket closed meanwhile is refused alone.
        let mut pending = Vec::new();
        for t in &tickets {
            let (Ok(id), Ok(ticket_id)) = (
                EventId::new(format!(
                    "migrate:{}:{}",
                    t.id,
                    &to[to.len().saturating_sub(16)..]
                )),
                TicketId::new(t.id.clone()),
            ) else {
                continue;
            };
            let event = Event {
                id,
                ticket_id,
                occurred_at: st.timers.clock.now(),
                kind: EventKind::PolicyMigrated(PolicyMigrated {
                    from: t.from.clone(),
                    to: to.clone(),
                    by: who.name.clone(),
                }),
            };
            let writer = st.writer.clone();
            let source = Source::Api {
                token: who.name.clone(),
            };
            pending.push(tokio::spawn(async move {
                writer
                    .append(InputBatch {
                        events: vec![event],
                        source,
                    })
                    .await
            }));
        }
        for (t, p) in tickets.iter_mut().zip(pending) {
            if let Ok(Ok(out)) = p.await {
                t.seq = out.first().map(|o| o.seq());
            }
        }
        tickets.retain(|t| t.seq.is_some());
    }
    let status = if req.dry_run || tickets.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        status,
        Json(Answer {
            to,
            dry_run: req.dry_run,
            tickets,
            changes,
        }),
    ))
}
