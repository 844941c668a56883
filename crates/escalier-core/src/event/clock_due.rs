//! `clock.due`: the scheduler's tick. An internal input (source
//! `scheduler`) recorded when an indexed due instant has passed; processing
//! it fires that one deadline through `timers::fire`, or nothing if it is
//! not due yet, already fired or stale. Refused on closed tickets.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockDue {
    /// The deadline's key, as `timers::deadlines` gave it
    /// (`sla:first_response:0:breach`, `ladder:major-incident:0:2`).
    pub key: String,
    /// When the index said it was due. Informational: firing re-derives
    /// the due instant from the ticket.
    pub due: Timestamp,
}

impl ClockDue {
    pub const TYPE: &'static str = "clock.due";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        check::name("key", &self.key)
    }
}
