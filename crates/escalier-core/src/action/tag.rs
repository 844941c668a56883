//! `tag(t)`: add a tag to the ticket (adding a present tag changes nothing).

use serde::{Deserialize, Serialize};

use super::ApplyCtx;
use crate::error::Rejection;
use crate::ticket::{MAX_TAGS, Ticket};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    pub tag: String,
}

impl Tag {
    pub const TYPE: &'static str = "action.tag";

    pub fn validate(&self) -> Result<(), Rejection> {
        crate::event::check::tag("tag", &self.tag)
    }

    pub fn apply(&self, t: &mut Ticket, _: ApplyCtx<'_>) {
        if t.tags.len() < MAX_TAGS {
            t.tags.insert(self.tag.clone());
        }
    }
}
