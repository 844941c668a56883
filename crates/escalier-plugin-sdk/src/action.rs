//! Constructors for the actions a plugin returns. They are recorded as
//! `action.<name>` with the plugin as producer, exactly like a policy's.

use crate::{Action, ApprovalRequest, Checklist, ChecklistItem, Escalation, Notification, Routing};

/// Raise the ticket to `tier` (0 to 4).
pub fn escalate(tier: u8, reason: impl Into<String>) -> Action {
    Action::Escalate(Escalation {
        tier,
        reason: reason.into(),
    })
}

/// Hand the ticket to `team`.
pub fn route(team: impl Into<String>, reason: impl Into<String>) -> Action {
    Action::Route(Routing {
        team: team.into(),
        reason: reason.into(),
    })
}

/// `low`, `normal`, `high` or `urgent`.
pub fn set_priority(priority: impl Into<String>) -> Action {
    Action::SetPriority(priority.into())
}

pub fn assign(agent: impl Into<String>) -> Action {
    Action::Assign(agent.into())
}

pub fn tag(tag: impl Into<String>) -> Action {
    Action::Tag(tag.into())
}

/// Tell a channel; notification plugins deliver it.
pub fn notify(channel: impl Into<String>, message: impl Into<String>) -> Action {
    Action::Notify(Notification {
        channel: channel.into(),
        message: message.into(),
    })
}

/// An internal note on the ticket's timeline.
pub fn note(text: impl Into<String>) -> Action {
    Action::Note(text.into())
}

pub fn require_approval(kind: impl Into<String>, reason: impl Into<String>) -> Action {
    Action::RequireApproval(ApprovalRequest {
        kind: kind.into(),
        reason: reason.into(),
    })
}

pub fn require_checklist(name: impl Into<String>) -> Action {
    Action::RequireChecklist(name.into())
}

/// Put a checklist on the ticket; `items` are `(id, text)` pairs.
pub fn open_checklist<I, S, T>(
    name: impl Into<String>,
    items: I,
    required_for_tier: Option<u8>,
) -> Action
where
    I: IntoIterator<Item = (S, T)>,
    S: Into<String>,
    T: Into<String>,
{
    Action::OpenChecklist(Checklist {
        name: name.into(),
        items: items
            .into_iter()
            .map(|(id, text)| ChecklistItem {
                id: id.into(),
                text: text.into(),
            })
            .collect(),
        required_for_tier,
    })
}
