//! `delivery.delivered`: the receiver accepted an outbound request (a
//! plugin's, or a notification). Recorded by the delivery worker so the
//! ticket's timeline shows each delivery's fate. Event id
//! `delivered:<delivery id>`.

use serde::{Deserialize, Serialize};

use super::delivery_failed::{validate_delivery, validate_who};
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryDelivered {
    pub delivery_id: String,
    /// The plugin that asked for the request (absent for notifications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// The notification target (absent for plugins' requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// The receiver's HTTP status (2xx; 250 for an accepted email).
    pub status: u16,
}

impl DeliveryDelivered {
    pub const TYPE: &'static str = "delivery.delivered";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        validate_delivery("delivery_id", &self.delivery_id)?;
        validate_who(self.plugin.as_deref(), self.target.as_deref())
    }
}
