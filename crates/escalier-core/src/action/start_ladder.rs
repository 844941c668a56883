//! `start_ladder(name, reason)`: start an escalation ladder from
//! `policies/ladders.toml` on the ticket. Recording the action changes
//! nothing by itself; the timers (`crate::timers`) start the run right
//! after it and record level 1 and its actions. Starting a ladder that is
//! already running on the ticket, or on a solved or closed ticket, does
//! nothing; an unknown name becomes a `policy.error`.

use serde::{Deserialize, Serialize};

use super::{ApplyCtx, check_text};
use crate::error::Rejection;
use crate::ticket::Ticket;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartLadder {
    pub ladder: String,
    pub reason: String,
}

impl StartLadder {
    pub const TYPE: &'static str = "action.start_ladder";

    pub fn validate(&self) -> Result<(), Rejection> {
        crate::event::check::name("ladder", &self.ladder)?;
        check_text("reason", &self.reason, 1024)
    }

    pub fn apply(&self, _: &mut Ticket, _: ApplyCtx<'_>) {}
}
