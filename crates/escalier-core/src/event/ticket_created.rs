//! `ticket.created`: a customer reached out; the ticket starts here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;
use crate::vocab::{Channel, Priority, Status, Tier};

/// The customer who asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Commercial plan (`free`, `pro`, `enterprise`, ...): free text, policies decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default)]
    pub vip: bool,
}

impl Requester {
    pub(crate) fn validate(&self, at: &str) -> Result<(), Rejection> {
        check::name(&format!("{at}.id"), &self.id)?;
        if let Some(n) = &self.name {
            check::text(&format!("{at}.name"), n, 256)?;
        }
        if let Some(e) = &self.email {
            check::text(&format!("{at}.email"), e, 320)?;
            if !e.contains('@') {
                return Err(Rejection::invalid(
                    format!("{at}.email"),
                    format!("{e:?} is not an email address"),
                ));
            }
        }
        if let Some(p) = &self.plan {
            check::name(&format!("{at}.plan"), p)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketCreated {
    pub subject: String,
    #[serde(default)]
    pub description: String,
    pub requester: Requester,
    pub channel: Channel,
    #[serde(default = "default_priority")]
    pub priority: Priority,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom fields, as the sending tool defines them.
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Initial status; `new` unless the tool created it already open or pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Initial tier; frontline (1) unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

fn default_priority() -> Priority {
    Priority::Normal
}

impl TicketCreated {
    pub const TYPE: &'static str = "ticket.created";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        if self.subject.trim().is_empty() {
            return Err(Rejection::invalid("subject", "must not be empty"));
        }
        check::text("subject", &self.subject, 1024)?;
        check::text("description", &self.description, 64 * 1024)?;
        self.requester.validate("requester")?;
        check::tags("tags", &self.tags)?;
        check::fields("fields", &self.fields)?;
        if let Some(s) = self.status
            && matches!(s, Status::Solved | Status::Closed)
        {
            return Err(Rejection::invalid(
                "status",
                format!("a ticket cannot be created `{s}`; use new, open, pending or on_hold"),
            ));
        }
        if let Some(t) = &self.team {
            check::name("team", t)?;
        }
        if let Some(a) = &self.agent {
            check::name("agent", a)?;
        }
        Ok(())
    }
}
