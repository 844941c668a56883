//! `ladder.acknowledged`: someone took ownership; the named running ladder
//! (all running ladders if `ladder` is absent) stops climbing. Sent by
//! tools (paging, chat) or through `POST /v1/tickets/{id}/ack`. An
//! acknowledgement when nothing is running is recorded and changes nothing.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderAcknowledged {
    /// The ladder acknowledged; every running ladder if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ladder: Option<String>,
    /// Who acknowledged: an agent id or name.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl LadderAcknowledged {
    pub const TYPE: &'static str = "ladder.acknowledged";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        if let Some(l) = &self.ladder {
            check::name("ladder", l)?;
        }
        check::name("by", &self.by)?;
        if let Some(n) = &self.note {
            check::text("note", n, 4096)?;
        }
        Ok(())
    }
}
