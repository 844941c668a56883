//! `set_priority(p)`: change the ticket's priority.

use serde::{Deserialize, Serialize};

use super::ApplyCtx;
use crate::error::Rejection;
use crate::ticket::Ticket;
use crate::vocab::Priority;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPriority {
    pub priority: Priority,
}

impl SetPriority {
    pub const TYPE: &'static str = "action.set_priority";

    pub fn validate(&self) -> Result<(), Rejection> {
        Ok(())
    }

    pub fn apply(&self, t: &mut Ticket, _: ApplyCtx<'_>) {
        t.priority = self.priority;
    }
}
