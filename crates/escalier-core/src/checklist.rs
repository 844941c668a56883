//! Checklists on a ticket and the escalations they hold.
//!
//! A checklist (`checklist.opened`, put there by the checklist plugin)
//! lists items to do before a hand-off. If it names a `required_for_tier`,
//! an escalation to that tier or above is not applied while any item is
//! open: it is kept in `ticket.held_escalations` and applied, in the order
//! it was asked for, when the last blocking checklist completes
//! (`checklist.item_checked`). Pure functions of the ticket, so replay
//! holds and releases exactly as the live run did.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ticket::{EscalationStep, Ticket};
use crate::vocab::Tier;

/// Most escalations a ticket keeps on hold; later ones are dropped (the
/// first held escalation to a tier already covers them).
pub const MAX_HELD: usize = 32;

/// One checklist on a ticket, with its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistProgress {
    pub items: Vec<ChecklistItem>,
    /// Escalations to this tier or above wait until every item is done.
    #[serde(default)]
    pub required_for_tier: Option<Tier>,
    /// Plugin (or policy) that opened it.
    pub opened_by: String,
    pub opened_at: Timestamp,
    /// Items done, for display (`3` of `items.len()`).
    pub done: u32,
    /// When the last item was ticked; cleared if one is unticked.
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub id: String,
    pub text: String,
    pub done: bool,
    /// Who ticked it last, and when.
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub at: Option<Timestamp>,
}

impl ChecklistProgress {
    pub fn is_complete(&self) -> bool {
        self.items.iter().all(|i| i.done)
    }

    /// Whether this checklist holds an escalation to `tier`.
    pub fn blocks(&self, tier: Tier) -> bool {
        self.required_for_tier.is_some_and(|r| tier >= r) && !self.is_complete()
    }
}

/// An escalation waiting for checklists to complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldEscalation {
    pub tier: Tier,
    pub reason: String,
    /// Policy or plugin that asked for it.
    pub by: String,
    /// When it was asked for, and the record that asked.
    pub at: Timestamp,
    pub seq: u64,
    pub index: u32,
    /// The checklist that held it when it was asked for.
    pub checklist: String,
}

/// The first checklist (by name) that holds an escalation to `tier`.
pub fn blocking(t: &Ticket, tier: Tier) -> Option<&str> {
    t.checklist_progress
        .iter()
        .find(|(_, c)| c.blocks(tier))
        .map(|(name, _)| name.as_str())
}

/// Keep an escalation until its checklists complete.
pub(crate) fn hold(t: &mut Ticket, held: HeldEscalation) {
    if t.held_escalations.len() < MAX_HELD {
        t.held_escalations.push(held);
    }
}

/// Raise the tier if `step.to` is above it; `step.from` is filled in here.
pub(crate) fn raise(t: &mut Ticket, mut step: EscalationStep) {
    if step.to <= t.tier {
        return;
    }
    step.from = t.tier;
    t.tier = step.to;
    t.escalations.push(step);
}

/// Apply held escalations that nothing holds any more, oldest first.
/// Ones at or below the current tier by then are dropped: they are done.
pub(crate) fn release(t: &mut Ticket, at: Timestamp, seq: u64, index: u32) {
    let held = std::mem::take(&mut t.held_escalations);
    for h in held {
        if h.tier <= t.tier {
            continue;
        }
        if blocking(t, h.tier).is_some() {
            t.held_escalations.push(h);
            continue;
        }
        raise(
            t,
            EscalationStep {
                at,
                from: t.tier,
                to: h.tier,
                reason: h.reason,
                by: h.by,
                seq,
                index,
                held_since: Some(h.at),
            },
        );
    }
}

#[cfg(test)]
mod tests;
