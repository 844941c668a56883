//! `plugin.error`: a plugin trapped, ran out of time or memory, returned an
//! error, or was skipped because its circuit breaker is open. Recorded for
//! the ticket; the triggering event is kept and ingestion carries on.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginError {
    pub plugin: String,
    /// Stable code: `trap`, `timeout`, `memory_limit`, `guest_error`,
    /// `invalid_action`, `circuit_open`, ...
    pub code: String,
    pub message: String,
}

impl PluginError {
    pub const TYPE: &'static str = "plugin.error";
}
