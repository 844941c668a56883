//! `checklist.opened`: a plugin put a checklist with its items on the
//! ticket. Opening a checklist that is already there changes nothing, so a
//! plugin may open it on every event that needs it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::check;
use crate::checklist::{ChecklistItem, ChecklistProgress};
use crate::error::Rejection;
use crate::ticket::Ticket;
use crate::vocab::Tier;

/// Most items in one checklist.
pub const MAX_ITEMS: usize = 50;
/// Most checklists on one ticket.
pub const MAX_CHECKLISTS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItemDef {
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistOpened {
    pub name: String,
    pub items: Vec<ChecklistItemDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_for_tier: Option<Tier>,
}

impl ChecklistOpened {
    pub const TYPE: &'static str = "checklist.opened";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        check::name("name", &self.name)?;
        if self.items.is_empty() || self.items.len() > MAX_ITEMS {
            return Err(Rejection::invalid(
                "items",
                format!("a checklist has 1 to {MAX_ITEMS} items"),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, item) in self.items.iter().enumerate() {
            check::tag(&format!("items[{i}].id"), &item.id)?;
            check::text(&format!("items[{i}].text"), &item.text, 512)?;
            if !seen.insert(item.id.as_str()) {
                return Err(Rejection::invalid(
                    format!("items[{i}].id"),
                    format!("item id `{}` appears twice", item.id),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn apply(&self, t: &mut Ticket, at: jiff::Timestamp, by: &str) {
        if t.checklist_progress.contains_key(&self.name)
            || t.checklist_progress.len() >= MAX_CHECKLISTS
        {
            return;
        }
        let items = self
            .items
            .iter()
            .map(|d| ChecklistItem {
                id: d.id.clone(),
                text: d.text.clone(),
                done: false,
                by: None,
                at: None,
            })
            .collect();
        t.checklist_progress.insert(
            self.name.clone(),
            ChecklistProgress {
                items,
                required_for_tier: self.required_for_tier,
                opened_by: by.to_owned(),
                opened_at: at,
                done: 0,
                completed_at: None,
            },
        );
    }
}
