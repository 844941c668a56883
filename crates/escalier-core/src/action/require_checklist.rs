//! `require_checklist(name)`: a hand-off checklist (repro steps, account id)
//! that must be complete before the ticket moves on. The checklist plugin
//! tracks the items.

use serde::{Deserialize, Serialize};

use super::ApplyCtx;
use crate::error::Rejection;
use crate::ticket::Ticket;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequireChecklist {
    pub name: String,
}

impl RequireChecklist {
    pub const TYPE: &'static str = "action.require_checklist";

    pub fn validate(&self) -> Result<(), Rejection> {
        crate::event::check::name("name", &self.name)
    }

    pub fn apply(&self, t: &mut Ticket, _: ApplyCtx<'_>) {
        if !t.checklists.contains(&self.name) {
            t.checklists.push(self.name.clone());
        }
    }
}
