//! `GET /v1/tickets/{id}/explain`: a ticket's story, what `escalier
//! explain` prints, from the running server: every event, clock change,
//! ladder step and action, with what produced each and what it reacted to.
//!
//! Read-only, `read` scope. The story is told from the ticket's processed
//! timeline by `escalier_lab::explain`, the code the offline command runs:
//! clock changes derived with the SLA and ladder files in force, policy
//! lines found in the files of the policy set version the ticket follows
//! (its pinned version, else the serving one) as the store keeps them.

use axum::extract::{RawQuery, State};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use escalier_lab::explain::{Sources, explain_with, render};
use http::header;

use super::{Path, query};
use crate::auth::{self, Scope};
use crate::{ApiError, AppState};

pub fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/tickets/{id}/explain", get(explain))
        .route_layer(from_fn_with_state(st.guard(Scope::Read), auth::guard))
}

/// `?format=`: the story as JSON (default) or as the text `escalier
/// explain` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Text,
}

fn format_of(v: Option<&String>) -> Result<Format, ApiError> {
    match v.map(String::as_str) {
        None | Some("json") => Ok(Format::Json),
        Some("text") => Ok(Format::Text),
        Some(other) => Err(ApiError::bad_request(
            "invalid_query",
            "format",
            format!("`{other}` is not a format; use json or text"),
        )),
    }
}

/// The ticket's story: every event, clock change, ladder step and action,
/// with what produced each and what it reacted to.
#[utoipa::path(
    get,
    path = "/v1/tickets/{id}/explain",
    tag = "tickets",
    params(
        ("id" = String, Path, description = "Ticket id", example = "ZD-2003"),
        ("format" = Option<String>, Query, pattern = "^(json|text)$", description = "`json` (default) or `text`, as `escalier explain` prints it"),
        ("wait_for_seq" = Option<u64>, Query, description = "Wait (bounded) until the processor has applied this seq"),
    ),
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "The story", content(
            (super::openapi::schemas::Story = "application/json"),
            (String = "text/plain"),
        )),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 404, response = super::openapi::responses::NotFound),
        (status = 503, response = super::openapi::responses::Unavailable),
        (status = 504, response = super::openapi::responses::ProcessingPending),
    ),
)]
async fn explain(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = query(raw.as_deref(), &["format", "wait_for_seq"])?;
    let format = format_of(q.get("format"))?;
    super::tickets::wait(&st, &q).await?;
    let state = st.clone();
    let lookup = id.clone();
    // Folding the timeline is CPU work proportional to the ticket's history.
    let story = tokio::task::spawn_blocking(move || story(&state, &lookup))
        .await
        .map_err(|_| ApiError::unavailable("internal", "the request was cancelled"))??;
    let Some(story) = story else {
        return Err(ApiError::not_found("id", format!("no ticket `{id}`")));
    };
    Ok(match format {
        Format::Json => Json(story).into_response(),
        Format::Text => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            render(&story),
        )
            .into_response(),
    })
}

/// A ticket's story (blocking: reads the store and folds the timeline);
/// `None` if the log has no record of the ticket. The console's ticket
/// page shows the same.
pub(crate) fn story(
    st: &AppState,
    id: &str,
) -> Result<Option<escalier_lab::explain::Story>, escalier_store::StoreError> {
    let store = &st.store;
    let books = (st.timers.books)();
    let status = st.policies.status();
    let dir = status["dir"].as_str().unwrap_or_default().to_owned();
    let serving = status["version"].as_str().map(str::to_owned);
    let pinned = store.ticket(id)?.and_then(|t| t.policy_version);
    let sources = match pinned.or(serving) {
        Some(version) => store
            .policy_set(&version)?
            .map(|set| Sources::new(&dir, set.files)),
        None => None,
    };
    let records = store.timeline(id)?;
    Ok(explain_with(records, id, Some(&books), &|r, context| {
        sources.as_ref().and_then(|s| s.locate(r, context))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_json_or_text() {
        assert_eq!(format_of(None).unwrap(), Format::Json);
        assert_eq!(format_of(Some(&"text".to_owned())).unwrap(), Format::Text);
        let e = format_of(Some(&"yaml".to_owned())).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("invalid_query", Some("format"))
        );
    }
}
