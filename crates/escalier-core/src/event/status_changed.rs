//! `status.changed`: the ticket moved in its lifecycle. Which moves are
//! allowed lives in [`crate::reduce::check_transition`].

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;
use crate::vocab::Status;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChanged {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl StatusChanged {
    pub const TYPE: &'static str = "status.changed";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        if let Some(r) = &self.reason {
            check::text("reason", r, 1024)?;
        }
        Ok(())
    }
}
