//! `stop_ladder(name, reason)`: stop a running escalation ladder without
//! an acknowledgement (the incident was downgraded, another process took
//! over). Like `start_ladder`, the timers do the work right after the
//! record; stopping a ladder that is not running does nothing.

use serde::{Deserialize, Serialize};

use super::{ApplyCtx, check_text};
use crate::error::Rejection;
use crate::ticket::Ticket;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopLadder {
    pub ladder: String,
    pub reason: String,
}

impl StopLadder {
    pub const TYPE: &'static str = "action.stop_ladder";

    pub fn validate(&self) -> Result<(), Rejection> {
        crate::event::check::name("ladder", &self.ladder)?;
        check_text("reason", &self.reason, 1024)
    }

    pub fn apply(&self, _: &mut Ticket, _: ApplyCtx<'_>) {}
}
