//! `ticket.assigned`: the sending tool assigned a team and/or an agent.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketAssigned {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

impl TicketAssigned {
    pub const TYPE: &'static str = "ticket.assigned";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        if self.team.is_none() && self.agent.is_none() {
            return Err(Rejection::invalid(
                "",
                "ticket.assigned needs a team, an agent, or both",
            ));
        }
        if let Some(t) = &self.team {
            check::name("team", t)?;
        }
        if let Some(a) = &self.agent {
            check::name("agent", a)?;
        }
        Ok(())
    }
}
