//! Version 1 of the API: one module per resource, each with its handlers,
//! request/response shapes and `router()`.

pub mod admin;
pub mod decisions;
pub mod events;
pub mod explain;
pub mod migrate;
pub mod plugins;
pub mod policies;
pub mod stats;
pub mod tickets;

use std::collections::HashMap;

use crate::ApiError;

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
