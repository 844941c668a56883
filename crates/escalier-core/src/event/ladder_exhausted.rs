//! `ladder.exhausted`: every level of an escalation ladder timed out, the
//! repeats included, and nobody acknowledged. Internal; policies subscribe
//! to it to escalate beyond the ladder.

use crate::ladder::LadderExhausted;

impl LadderExhausted {
    pub const TYPE: &'static str = "ladder.exhausted";
}
