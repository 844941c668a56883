//! `assign(agent)`: give the ticket to a named agent.

use serde::{Deserialize, Serialize};

use super::ApplyCtx;
use crate::error::Rejection;
use crate::ticket::Ticket;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    pub agent: String,
}

impl Assign {
    pub const TYPE: &'static str = "action.assign";

    pub fn validate(&self) -> Result<(), Rejection> {
        crate::event::check::name("agent", &self.agent)
    }

    pub fn apply(&self, t: &mut Ticket, _: ApplyCtx<'_>) {
        t.agent = Some(self.agent.clone());
    }
}
