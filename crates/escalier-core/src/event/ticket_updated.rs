//! `ticket.updated`: fields changed in the sending tool.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check;
use super::ticket_created::Requester;
use crate::error::Rejection;
use crate::vocab::{Channel, Priority};

/// Only the fields present change. A custom field set to `null` is removed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketUpdated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Replaces the requester (plan upgrades, VIP flag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<Requester>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_removed: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl TicketUpdated {
    pub const TYPE: &'static str = "ticket.updated";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        if self == &TicketUpdated::default() {
            return Err(Rejection::invalid(
                "",
                "ticket.updated carries no change; set at least one of subject, priority, channel, \
                 requester, tags_added, tags_removed, fields",
            ));
        }
        if let Some(s) = &self.subject {
            if s.trim().is_empty() {
                return Err(Rejection::invalid("subject", "must not be empty"));
            }
            check::text("subject", s, 1024)?;
        }
        if let Some(r) = &self.requester {
            r.validate("requester")?;
        }
        check::tags("tags_added", &self.tags_added)?;
        check::tags("tags_removed", &self.tags_removed)?;
        check::fields("fields", &self.fields)
    }
}
