//! `comment.added`: someone wrote on the ticket. The first public agent
//! comment is the first response.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;
use crate::vocab::AuthorKind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Author {
    pub kind: AuthorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentAdded {
    pub author: Author,
    /// Public comments reach the customer; private ones are internal notes.
    #[serde(default = "yes")]
    pub public: bool,
    pub body: String,
}

fn yes() -> bool {
    true
}

impl CommentAdded {
    pub const TYPE: &'static str = "comment.added";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        if let Some(id) = &self.author.id {
            check::name("author.id", id)?;
        }
        check::text("body", &self.body, 64 * 1024)
    }

    /// A public reply by an agent: what stops first- and next-response clocks.
    pub fn is_public_agent_reply(&self) -> bool {
        self.public && self.author.kind == AuthorKind::Agent
    }
}
