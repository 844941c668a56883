//! `policy.error`: a policy failed (runtime error, operation limit, time
//! limit, loop depth) while handling an event. Recorded for the ticket so
//! the failure is visible in its timeline; ingestion carries on.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyError {
    /// Policy file, relative to the policies directory.
    pub policy: String,
    /// Stable error code: `runtime_error`, `too_many_operations`, `timeout`,
    /// `depth_limit`, `too_many_actions`, `invalid_action`, ...
    pub code: String,
    pub message: String,
    /// 1-based position in the policy file, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl PolicyError {
    pub const TYPE: &'static str = "policy.error";
}
