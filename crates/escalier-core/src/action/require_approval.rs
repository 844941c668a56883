//! `require_approval(kind, reason)`: something frontline may not grant on
//! its own (a refund above a limit). Opens a pending approval on the ticket;
//! the approval plugin decides it.

use serde::{Deserialize, Serialize};

use super::{ApplyCtx, check_text};
use crate::error::Rejection;
use crate::ticket::{Approval, ApprovalState, Ticket};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequireApproval {
    /// What needs approving: `refund`, `credit`, `exception`.
    pub kind: String,
    pub reason: String,
}

impl RequireApproval {
    pub const TYPE: &'static str = "action.require_approval";

    pub fn validate(&self) -> Result<(), Rejection> {
        crate::event::check::name("kind", &self.kind)?;
        check_text("reason", &self.reason, 1024)
    }

    /// One pending approval per kind: asking again while one is pending changes nothing.
    pub fn apply(&self, t: &mut Ticket, ctx: ApplyCtx<'_>) {
        if t.approvals
            .iter()
            .any(|a| a.kind == self.kind && a.state == ApprovalState::Pending)
        {
            return;
        }
        t.approvals.push(Approval {
            id: format!("apr-{}.{}", ctx.seq, ctx.index),
            kind: self.kind.clone(),
            reason: self.reason.clone(),
            state: ApprovalState::Pending,
            requested_at: ctx.at,
            requested_by: ctx.by.to_owned(),
            decision: None,
        });
    }
}
