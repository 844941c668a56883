//! `sla.met`: an SLA clock was stopped by what it measures (a reply, a
//! solve). Internal. `breached` tells whether it was met late.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::sla::ClockKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaMet {
    pub clock: ClockKind,
    pub cycle: u32,
    /// The SLA policy in force; `None` if none matched the ticket.
    #[serde(default)]
    pub sla: Option<String>,
    /// `None`: the clock had no target.
    #[serde(default)]
    pub target: Option<SignedDuration>,
    /// Business time used.
    pub elapsed: SignedDuration,
    /// Met after the target ran out.
    pub breached: bool,
}

impl SlaMet {
    pub const TYPE: &'static str = "sla.met";
}
