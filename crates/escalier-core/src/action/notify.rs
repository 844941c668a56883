//! `notify(channel, message)`: tell someone (a manager, a chat room). The
//! action records the intent; delivery is the job of notification plugins
//! through the outbox.

use serde::{Deserialize, Serialize};

use super::{ApplyCtx, check_text};
use crate::error::Rejection;
use crate::ticket::Ticket;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// Who or where: `duty-manager`, `#support-escalations`, `team-lead`.
    pub channel: String,
    pub message: String,
}

impl Notify {
    pub const TYPE: &'static str = "action.notify";

    pub fn validate(&self) -> Result<(), Rejection> {
        crate::event::check::name("channel", &self.channel)?;
        check_text("message", &self.message, 4096)
    }

    pub fn apply(&self, t: &mut Ticket, _: ApplyCtx<'_>) {
        t.notifications += 1;
    }
}
