//! `clock.rebound`: the SLA or ladders file changed and this ticket's
//! timers were re-bound to it. An internal input (source `scheduler`)
//! carrying the ticket's clock and ladder state after the rebind, so a
//! replay restores it exactly without the old file. What the new file
//! makes due is fired while processing it, like any other record.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;
use crate::ladder::LadderSet;
use crate::sla::ClockSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockRebound {
    /// Version of the books before and after (`timers::Books::version`).
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub clocks: ClockSet,
    #[serde(default)]
    pub ladders: LadderSet,
}

impl ClockRebound {
    pub const TYPE: &'static str = "clock.rebound";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        check::text("from", &self.from, 128)?;
        check::text("to", &self.to, 128)
    }
}
