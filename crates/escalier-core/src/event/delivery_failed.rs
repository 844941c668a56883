//! `delivery.failed`: an outbound request a plugin asked for was given up
//! after its last retry, or refused for good (a 4xx, a host no longer
//! allowed). Recorded by the delivery worker so the ticket shows it.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryFailed {
    pub delivery_id: String,
    pub plugin: String,
    /// Attempts made, the last one included.
    pub attempts: u32,
    /// Why the last attempt failed, for people.
    pub error: String,
}

impl DeliveryFailed {
    pub const TYPE: &'static str = "delivery.failed";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        crate::id::validate_id(&self.delivery_id)
            .map_err(|m| Rejection::invalid("delivery_id", format!("delivery id {m}")))?;
        check::name("plugin", &self.plugin)?;
        check::text("error", &self.error, 4096)
    }
}
