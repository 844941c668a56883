//! `policy.migrated`: the ticket now follows another version of the policy
//! set. With `policies.pin = "ticket"` a new ticket is pinned to the set in
//! force when it is created (recorded as this event, from `None`), and an
//! operator moves open tickets on with `escalier migrate`
//! (`POST /v1/admin/migrate`; not accepted on `/v1/events`).

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMigrated {
    /// The version the ticket followed; `None` when it is being pinned at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The policy set version (`sha256:...`) the ticket follows from now on.
    pub to: String,
    /// Who moved it; `escalier` for the pin at creation.
    pub by: String,
}

impl PolicyMigrated {
    pub const TYPE: &'static str = "policy.migrated";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        check::name("to", &self.to)?;
        check::name("by", &self.by)
    }
}
