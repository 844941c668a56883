//! `delivery.failed`: an outbound request (a plugin's, or a notification)
//! was given up after its last retry, or refused for good (a 4xx, a host no
//! longer allowed, a secret that is not set). Recorded by the delivery
//! worker so the ticket shows it.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryFailed {
    pub delivery_id: String,
    /// The plugin that asked for the request (absent for notifications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// The notification target (absent for plugins' requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Attempts made, the last one included.
    pub attempts: u32,
    /// Why the last attempt failed, for people.
    pub error: String,
    /// The receiver's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The receiver's error body, truncated to 1 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

impl DeliveryFailed {
    pub const TYPE: &'static str = "delivery.failed";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        validate_delivery("delivery_id", &self.delivery_id)?;
        validate_who(self.plugin.as_deref(), self.target.as_deref())?;
        check::text("error", &self.error, 4096)?;
        if let Some(r) = &self.response {
            check::text("response", r, 1024)?;
        }
        Ok(())
    }
}

pub(super) fn validate_delivery(field: &str, id: &str) -> Result<(), Rejection> {
    crate::id::validate_id(id).map_err(|m| Rejection::invalid(field, format!("delivery id {m}")))
}

/// A delivery outcome names the plugin or the notification target it was for.
pub(super) fn validate_who(plugin: Option<&str>, target: Option<&str>) -> Result<(), Rejection> {
    if let Some(p) = plugin {
        check::name("plugin", p)?;
    }
    if let Some(t) = target {
        check::name("target", t)?;
    }
    if plugin.is_none() && target.is_none() {
        return Err(Rejection::invalid(
            "plugin",
            "names the plugin (or `target`, the notification target)",
        ));
    }
    Ok(())
}
