//! `delivery.requested`: a plugin asked for an outbound HTTP request.
//!
//! Plugins do not perform I/O while they handle an event. Their requests
//! are recorded as these; the store puts each one in the outbox in the same
//! transaction, and a delivery worker sends it after commit (at least once,
//! with retries). The id is derived from the log position, so a replay
//! asks for the same deliveries with the same ids.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRequested {
    /// `dlv:<seq>.<index>:<plugin>:<n>`: unique, stable across replays, and
    /// the `webhook-id` when the request is signed.
    pub delivery_id: String,
    pub plugin: String,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
    #[serde(default)]
    pub body: String,
    /// Sign per Standard Webhooks with the plugin's signing secret.
    #[serde(default)]
    pub sign: bool,
}

impl DeliveryRequested {
    pub const TYPE: &'static str = "delivery.requested";
    /// Largest request body, in bytes.
    pub const MAX_BODY_LEN: usize = 256 * 1024;
    pub const METHODS: &'static [&'static str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        crate::id::validate_id(&self.delivery_id)
            .map_err(|m| Rejection::invalid("delivery_id", format!("delivery id {m}")))?;
        check::name("plugin", &self.plugin)?;
        if !Self::METHODS.contains(&self.method.as_str()) {
            return Err(Rejection::invalid(
                "method",
                format!(
                    "`{}` is not one of {}",
                    self.method,
                    Self::METHODS.join(", ")
                ),
            ));
        }
        check::text("url", &self.url, 2048)?;
        if self.headers.len() > 64 {
            return Err(Rejection::invalid("headers", "at most 64 headers"));
        }
        for (i, h) in self.headers.iter().enumerate() {
            check::text(&format!("headers[{i}].name"), &h.name, 256)?;
            check::text(&format!("headers[{i}].value"), &h.value, 8192)?;
        }
        check::text("body", &self.body, Self::MAX_BODY_LEN)
    }
}
