//! `route(team, reason)`: functional escalation. Hands the ticket to the
//! team with the skill; routing history is kept.

use serde::{Deserialize, Serialize};

use super::{ApplyCtx, check_text};
use crate::error::Rejection;
use crate::ticket::{RouteStep, Ticket};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub team: String,
    pub reason: String,
}

impl Route {
    pub const TYPE: &'static str = "action.route";

    pub fn validate(&self) -> Result<(), Rejection> {
        crate::event::check::name("team", &self.team)?;
        check_text("reason", &self.reason, 1024)
    }

    pub fn apply(&self, t: &mut Ticket, ctx: ApplyCtx<'_>) {
        if t.team.as_deref() == Some(self.team.as_str()) {
            return;
        }
        t.routes.push(RouteStep {
            at: ctx.at,
            from: t.team.clone(),
            to: self.team.clone(),
            reason: self.reason.clone(),
            by: ctx.by.to_owned(),
            seq: ctx.seq,
            index: ctx.index,
        });
        t.team = Some(self.team.clone());
    }
}
