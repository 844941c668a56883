//! Version 1 of the API: one module per resource, each with its handlers,
//! request/response shapes and `router()`.

pub mod admin;
pub mod backtests;
pub mod cluster;
pub mod decisions;
pub mod deliveries;
pub mod events;
pub mod explain;
pub mod migrate;
pub mod notify;
pub mod openapi;
pub mod plugins;
pub mod policies;
pub mod stats;
pub mod tickets;

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// axum's `Path` extractor, refusing in the API's JSON error shape: axum's
/// own refusal of a path segment that is not UTF-8 once percent-decoded
/// (`/v1/tickets/%FF`) is a plain-text `400` that no client expects.
pub(crate) struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e) => Err(ApiError::bad_request(
                "invalid_field",
                "path",
                format!("{}; percent-encode path segments as UTF-8", e.body_text()),
            )),
        }
    }
}

/// Parse a query string, refusing parameters the endpoint does not know
/// (a typo like `?statsu=open` should not silently list everything).
pub(crate) fn query(
    raw: Option<&str>,
    allowed: &[&str],
) -> Result<HashMap<String, String>, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| {
            ApiError::bad_request(
                "invalid_query",
                "",
                format!("the query string does not parse: {e}"),
            )
        })?;
    let mut out = HashMap::new();
    for (k, v) in pairs {
        if !allowed.contains(&k.as_str()) {
            let hint = escalier_core::suggest::nearest(&k, allowed.iter().copied())
                .map(|s| format!(" Did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(ApiError::bad_request(
                "invalid_query",
                &k,
                format!(
                    "unknown query parameter `{k}`.{hint} Accepted: {}",
                    allowed.join(", ")
                ),
            ));
        }
        out.insert(k, v);
    }
    Ok(out)
}

/// A numeric query parameter within `[min, max]`, or `default`.
pub(crate) fn number(
    q: &HashMap<String, String>,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    name,
                    format!("`{name}` must be a whole number from {min} to {max}, got `{v}`"),
                )
            }),
    }
}

/// Parse a human duration like `30m`, `2h`, `1d`, naming the parameter on error.
pub(crate) fn duration(name: &str, v: &str) -> Result<jiff::SignedDuration, ApiError> {
    escalier_core::sla::parse_duration(v).map_err(|e| {
        ApiError::bad_request(
            "invalid_field",
            name,
            format!("`{v}` is not a duration like 30m, 2h or 1d: {e}"),
        )
    })
}
