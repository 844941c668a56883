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
    /// (`sla:first_response:0:breach`, `ladder:major-incident:0:2`,
    /// `plugin:approval:7:apr-7.1`).
    pub key: String,
    /// When the index said it was due. Informational: firing re-derives
    /// the due instant from the ticket.
    pub due: Timestamp,
}

impl ClockDue {
    pub const TYPE: &'static str = "clock.due";

    /// Longest key, in bytes: a plugin timer's key holds the plugin's
    /// name (64), a seq (20) and the timer's own key (64).
    pub const MAX_KEY_LEN: usize = 256;

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        if self.key.trim().is_empty() {
            return Err(Rejection::invalid("key", "must not be empty"));
        }
        check::text("key", &self.key, Self::MAX_KEY_LEN)
    }
}
