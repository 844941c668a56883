//! `approval.decided`: someone with authority approved or rejected a
//! pending approval. Sent through `POST /v1/tickets/{id}/approvals/{id}`
//! (not accepted on `/v1/events`), so the API can check the approver.
//! The first decision wins; deciding again changes nothing.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::{Rejection, RejectionCode};
use crate::ticket::{ApprovalDecision, ApprovalState, Ticket};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecided {
    pub approval_id: String,
    pub decision: Decision,
    /// Who decided (an agent or manager id).
    pub by: String,
    #[serde(default)]
    pub reason: String,
}

impl ApprovalDecided {
    pub const TYPE: &'static str = "approval.decided";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        check::name("approval_id", &self.approval_id)?;
        check::name("by", &self.by)?;
        check::text("reason", &self.reason, 1024)
    }

    /// For the API, before appending: the approval exists and is pending.
    pub fn check(&self, t: &Ticket) -> Result<(), Rejection> {
        match t.approvals.iter().find(|a| a.id == self.approval_id) {
            None => Err(Rejection::new(
                RejectionCode::NotFound,
                "approval_id",
                format!("ticket `{}` has no approval `{}`", t.id, self.approval_id),
            )),
            Some(a) if a.state != ApprovalState::Pending => Err(Rejection::new(
                RejectionCode::InvalidTransition,
                "approval_id",
                format!("approval `{}` was already decided", self.approval_id),
            )),
            Some(_) => Ok(()),
        }
    }

    pub(crate) fn apply(&self, t: &mut Ticket, at: jiff::Timestamp) {
        let Some(a) = t
            .approvals
            .iter_mut()
            .find(|a| a.id == self.approval_id && a.state == ApprovalState::Pending)
        else {
            return;
        };
        a.state = match self.decision {
            Decision::Approved => ApprovalState::Approved,
            Decision::Rejected => ApprovalState::Rejected,
        };
        a.decision = Some(ApprovalDecision {
            by: self.by.clone(),
            at,
            reason: self.reason.clone(),
        });
    }
}
