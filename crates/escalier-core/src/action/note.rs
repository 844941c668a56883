//! `note(text)`: an internal note on the ticket's timeline.

use serde::{Deserialize, Serialize};

use super::{ApplyCtx, check_text};
use crate::error::Rejection;
use crate::ticket::Ticket;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub text: String,
}

impl Note {
    pub const TYPE: &'static str = "action.note";

    pub fn validate(&self) -> Result<(), Rejection> {
        check_text("text", &self.text, 4096)
    }

    pub fn apply(&self, _: &mut Ticket, _: ApplyCtx<'_>) {}
}
