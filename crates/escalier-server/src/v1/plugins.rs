//! Plugins through the API:
//! - `GET /v1/plugins` (`read`): each plugin's version, component hash,
//!   subscriptions, capabilities, health (active, failed, circuit open,
//!   half-open), last error and call counts;
//! - `POST /v1/sources/{source}`: a tool's own webhook, verified and mapped
//!   by the adapter plugin named `source`, then stored exactly like
//!   `/v1/events` (same durability, idempotency and errors). No token: the
//!   adapter checks the tool's signature;
//! - `POST /v1/tickets/{id}/plugins/{plugin}/commands/{command}`
//!   (`ingest`): a plugin-defined command (`{"args": ..., "by"?}`),
//!   appended as `plugin.command` and run by the plugin in log order.

use axum::extract::State;
use axum::handler::Handler;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use escalier_core::Source;
use escalier_store::{AppendError, Appended, InputBatch};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::Path;
use super::decisions::{append, parse};
use super::events::read_body;
use crate::auth::{self, Scope, TokenEntry};
use crate::{ApiError, AppState};

pub fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/v1/plugins",
            get(status.layer(from_fn_with_state(st.guard(Scope::Read), auth::guard))),
        )
        .route(
            "/v1/sources/{source}",
            post(source.layer(from_fn_with_state(
                st.limiter.clone(),
                crate::ratelimit::limit,
            ))),
        )
        .route(
            "/v1/tickets/{id}/plugins/{plugin}/commands/{command}",
            post(
                command
                    .layer(from_fn_with_state(
                        st.limiter.clone(),
                        crate::ratelimit::limit,
                    ))
                    .layer(from_fn_with_state(st.guard(Scope::Ingest), auth::guard)),
            ),
        )
}

fn registry(st: &AppState) -> Result<&std::sync::Arc<escalier_plugin::PluginRegistry>, ApiError> {
    st.plugins
        .as_ref()
        .ok_or_else(|| ApiError::not_found("plugin", "this server runs without plugins"))
}

/// Every plugin: version, component hash, subscriptions, capabilities,
/// health, last error and call counts.
#[utoipa::path(
    get,
    path = "/v1/plugins",
    tag = "plugins",
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "The plugins directory and each plugin", body = super::openapi::schemas::PluginsStatus),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 404, response = super::openapi::responses::NotFound),
    ),
)]
async fn status(State(st): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let r = registry(&st)?;
    Ok(Json(json!({
        "dir": r.plugins_dir().display().to_string(),
        "plugins": r.status(),
    })))
}

/// The answer to an adapter source: what became of each mapped event, as
/// for `POST /v1/events`; `ignored` when the delivery maps to no event.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // describes the answer; `source` builds it with json!
pub(crate) struct SourceOutcome {
    events: Vec<serde_json::Value>,
    /// True when the adapter understood the delivery and it maps to no event.
    #[serde(default)]
    ignored: Option<bool>,
}

/// A tool's own webhook, verified and mapped to events by the adapter
/// plugin named `source`, then stored like `POST /v1/events`. No token:
/// the adapter checks the tool's signature.
#[utoipa::path(
    post,
    path = "/v1/sources/{source}",
    tag = "plugins",
    params(("source" = String, Path, description = "Adapter plugin name", example = "github")),
    request_body(content = Object, content_type = "application/json", description = "The tool's webhook payload, byte for byte as it sent it"),
    responses(
        (status = 202, description = "At least one mapped event is new and stored", body = super::events::BatchOutcome),
        (status = 200, description = "Every mapped event was stored before, or the delivery maps to no event (a ping, a type the adapter does not map: `ignored` is true)", body = SourceOutcome),
        (status = 400, response = super::openapi::responses::BadRequest),
        (status = 401, response = super::openapi::responses::SignatureRefused),
        (status = 404, response = super::openapi::responses::NotFound),
        (status = 413, response = super::openapi::responses::PayloadTooLarge),
        (status = 422, response = super::openapi::responses::Unprocessable),
        (status = 429, response = super::openapi::responses::RateLimited),
        (status = 502, response = super::openapi::responses::BadGateway),
        (status = 503, response = super::openapi::responses::Unavailable),
    ),
)]
async fn source(
    State(st): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body, st.limits.max_body_bytes).await?;
    let set = registry(&st)?.current();
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let name = source.clone();
    // Adapters run wasm synchronously: keep them off the async workers.
    let events = tokio::task::spawn_blocking(move || set.adapt(&name, &pairs, &bytes))
        .await
        .map_err(|_| ApiError::unavailable("internal", "the request was cancelled"))?
        .map_err(|e| {
            metrics::counter!("escalier_ingest_rejected_total", "reason" => e.code()).increment(1);
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
            ApiError::new(status, e.code(), e.to_string()).with_field("body")
        })?;
    if events.is_empty() {
        // The adapter understood the delivery and it maps to nothing (a
        // ping, an event type it does not map). A 2xx: tools retry, and in
        // the end disable, webhooks that keep failing.
        metrics::counter!("escalier_adapter_ignored_total", "source" => source).increment(1);
        return Ok((
            StatusCode::OK,
            Json(json!({ "events": [], "ignored": true })),
        )
            .into_response());
    }
    if events.len() > st.limits.max_batch_events {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "the adapter produced {} events; at most {}",
                events.len(),
                st.limits.max_batch_events
            ),
        ));
    }
    let ids: Vec<String> = events.iter().map(|e| e.id.as_str().to_owned()).collect();
    let outcomes = st
        .writer
        .append(InputBatch {
            events,
            source: Source::Adapter { plugin: source },
        })
        .await
        .map_err(|e| match e {
            AppendError::Rejected { index, rejection } => {
                ApiError::from(rejection.within(&format!("[{index}]")))
            }
            other => ApiError::from(other),
        })?;
    let stored = outcomes
        .iter()
        .any(|o| matches!(o, Appended::Stored { .. }));
    let list: Vec<serde_json::Value> = ids
        .iter()
        .zip(&outcomes)
        .map(|(id, o)| {
            json!({
                "id": id,
                "seq": o.seq(),
                "status": if matches!(o, Appended::Stored { .. }) { "stored" } else { "duplicate" },
            })
        })
        .collect();
    let status = if stored {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "events": list }))).into_response())
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    /// Whatever the command takes (see the plugin's README).
    #[serde(default)]
    args: serde_json::Value,
    #[serde(default)]
    by: Option<String>,
}

/// Run a plugin-defined command on a ticket: appends `plugin.command`,
/// which the plugin handles in log order. An empty body is allowed.
#[utoipa::path(
    post,
    path = "/v1/tickets/{id}/plugins/{plugin}/commands/{command}",
    tag = "plugins",
    params(
        ("id" = String, Path, description = "Ticket id", example = "ZD-2003"),
        ("plugin" = String, Path, description = "Plugin name", example = "checklist"),
        ("command" = String, Path, description = "Command name, from the plugin's manifest", example = "open"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key stores the event once (200 with the original seq)"),
    ),
    request_body(content = Option<CommandBody>, content_type = "application/json"),
    security(("bearer" = ["ingest"])),
    responses(
        (status = 202, description = "Stored", body = super::decisions::Accepted),
        (status = 200, description = "Stored before under this Idempotency-Key", body = super::decisions::Accepted),
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
async fn command(
    State(st): State<AppState>,
    Extension(who): Extension<TokenEntry>,
    Path((id, plugin, command)): Path<(String, String, String)>,
    headers: HeaderMap,
    raw: axum::body::Body,
) -> Result<Response, ApiError> {
    let set = registry(&st)?.current();
    if !set.has_command(&plugin, &command) {
        return Err(ApiError::not_found(
            "command",
            format!("no loaded plugin `{plugin}` with a command `{command}`"),
        ));
    }
    let bytes = read_body(&headers, raw, st.limits.max_body_bytes).await?;
    let b: CommandBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        CommandBody::default()
    } else {
        super::events::require_json(&headers)?;
        parse(&bytes)?
    };
    let data = json!({
        "plugin": plugin,
        "command": command,
        "args": b.args,
        "by": b.by.unwrap_or_else(|| who.name.clone()),
    });
    Ok(append(&st, &headers, &who, id, "plugin.command", data)
        .await?
        .into_response())
}
