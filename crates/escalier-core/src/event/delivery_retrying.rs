//! `delivery.retrying`: an attempt at an outbound request failed in a way
//! worth retrying (a 429 or 5xx, a timeout, a connection error); the next
//! attempt is at `next_at`. Recorded by the delivery worker. Event id
//! `retrying:<delivery id>:<attempt>`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::check;
use super::delivery_failed::{validate_delivery, validate_who};
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRetrying {
    pub delivery_id: String,
    /// The plugin that asked for the request (absent for notifications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// The notification target (absent for plugins' requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// When the next attempt is due.
    pub next_at: Timestamp,
    /// Why the attempt failed, for people.
    pub reason: String,
    /// The receiver's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl DeliveryRetrying {
    pub const TYPE: &'static str = "delivery.retrying";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        validate_delivery("delivery_id", &self.delivery_id)?;
        validate_who(self.plugin.as_deref(), self.target.as_deref())?;
        check::text("reason", &self.reason, 4096)
    }
}
