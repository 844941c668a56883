//! `checklist.item_checked`: someone ticked (or unticked) a checklist item.
//! Sent by tools on `/v1/events` or through the checklist endpoint. When
//! the last item of a checklist is ticked, the escalations it held are
//! applied (see [`crate::checklist`]).

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::{Rejection, RejectionCode};
use crate::ticket::Ticket;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItemChecked {
    pub checklist: String,
    pub item: String,
    /// `false` unticks it.
    #[serde(default = "yes")]
    pub checked: bool,
    /// Who ticked it.
    pub by: String,
}

fn yes() -> bool {
    true
}

impl ChecklistItemChecked {
    pub const TYPE: &'static str = "checklist.item_checked";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        check::name("checklist", &self.checklist)?;
        check::name("item", &self.item)?;
        check::name("by", &self.by)
    }

    /// For the API, before appending: the checklist and item exist.
    pub fn check(&self, t: &Ticket) -> Result<(), Rejection> {
        let Some(c) = t.checklist_progress.get(&self.checklist) else {
            return Err(Rejection::new(
                RejectionCode::NotFound,
                "checklist",
                format!("ticket `{}` has no checklist `{}`", t.id, self.checklist),
            ));
        };
        if !c.items.iter().any(|i| i.id == self.item) {
            let ids = c
                .items
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Rejection::new(
                RejectionCode::NotFound,
                "item",
                format!(
                    "checklist `{}` has no item `{}`; its items: {ids}",
                    self.checklist, self.item
                ),
            ));
        }
        Ok(())
    }

    /// Unknown checklists or items change nothing (a tool may tick before
    /// the plugin opened the checklist; the API refuses that up front).
    pub(crate) fn apply(&self, t: &mut Ticket, at: jiff::Timestamp, seq: u64, index: u32) {
        let Some(c) = t.checklist_progress.get_mut(&self.checklist) else {
            return;
        };
        let Some(item) = c.items.iter_mut().find(|i| i.id == self.item) else {
            return;
        };
        if item.done == self.checked {
            return;
        }
        item.done = self.checked;
        item.by = Some(self.by.clone());
        item.at = Some(at);
        c.done = c.items.iter().filter(|i| i.done).count() as u32;
        if c.is_complete() {
            c.completed_at = Some(at);
            crate::checklist::release(t, at, seq, index);
        } else {
            c.completed_at = None;
        }
    }
}
