//! `escalate(tier, reason)`: hierarchical escalation. Raises the ticket's
//! tier and appends to its escalation history. Escalating to a tier at or
//! below the current one is recorded but changes nothing: tiers only go up
//! through escalation.

use serde::{Deserialize, Serialize};

use super::{ApplyCtx, check_text};
use crate::error::Rejection;
use crate::ticket::{EscalationStep, Ticket};
use crate::vocab::Tier;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalate {
    pub tier: Tier,
    pub reason: String,
}

impl Escalate {
    pub const TYPE: &'static str = "action.escalate";

    pub fn validate(&self) -> Result<(), Rejection> {
        check_text("reason", &self.reason, 1024)
    }

    pub fn apply(&self, t: &mut Ticket, ctx: ApplyCtx<'_>) {
        if self.tier <= t.tier {
            return;
        }
        t.escalations.push(EscalationStep {
            at: ctx.at,
            from: t.tier,
            to: self.tier,
            reason: self.reason.clone(),
            by: ctx.by.to_owned(),
            seq: ctx.seq,
            index: ctx.index,
        });
        t.tier = self.tier;
    }
}
