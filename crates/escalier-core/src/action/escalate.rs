//! `escalate(tier, reason)`: hierarchical escalation. Raises the ticket's
//! tier and appends to its escalation history. Escalating to a tier at or
//! below the current one is recorded but changes nothing: tiers only go up
//! through escalation.

use serde::{Deserialize, Serialize};

use super::{ApplyCtx, check_text};
use crate::checklist::{self, HeldEscalation};
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
        // A checklist required for this tier and not complete holds it.
        if let Some(name) = checklist::blocking(t, self.tier) {
            let held = HeldEscalation {
                tier: self.tier,
                reason: self.reason.clone(),
                by: ctx.by.to_owned(),
                at: ctx.at,
                seq: ctx.seq,
                index: ctx.index,
                checklist: name.to_owned(),
            };
            checklist::hold(t, held);
            return;
        }
        checklist::raise(
            t,
            EscalationStep {
                at: ctx.at,
                from: t.tier,
                to: self.tier,
                reason: self.reason.clone(),
                by: ctx.by.to_owned(),
                seq: ctx.seq,
                index: ctx.index,
                held_since: None,
            },
        );
    }
}
