//! Actions: what a policy or plugin may do to a ticket, one module per action.
//!
//! An action is recorded in the log as an event of type `action.<name>`
//! whose `data` is the action's fields, with the producer (policy file and
//! content hash, or plugin) in the record's source. The reducer applies it
//! like any other event, so ticket state is always a fold over the log.

mod assign;
mod escalate;
mod note;
mod notify;
mod require_approval;
mod require_checklist;
mod route;
mod set_priority;
mod start_ladder;
mod stop_ladder;
mod tag;

use serde::Serializer;
use serde::ser::SerializeStruct;

pub use assign::Assign;
pub use escalate::Escalate;
pub use note::Note;
pub use notify::Notify;
pub use require_approval::RequireApproval;
pub use require_checklist::RequireChecklist;
pub use route::Route;
pub use set_priority::SetPriority;
pub use start_ladder::StartLadder;
pub use stop_ladder::StopLadder;
pub use tag::Tag;

use crate::error::{Rejection, join_path};
use crate::event::clean_serde_message;
use crate::ticket::Ticket;

/// Where an action lands in the log, for history entries that point back at it.
#[derive(Debug, Clone, Copy)]
pub struct ApplyCtx<'a> {
    pub at: jiff::Timestamp,
    pub seq: u64,
    pub index: u32,
    /// Who produced it: policy file or plugin name.
    pub by: &'a str,
}

/// Something a policy or plugin decided to do.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    Escalate(Escalate),
    Route(Route),
    SetPriority(SetPriority),
    Assign(Assign),
    Tag(Tag),
    Notify(Notify),
    Note(Note),
    RequireApproval(RequireApproval),
    RequireChecklist(RequireChecklist),
    StartLadder(StartLadder),
    StopLadder(StopLadder),
}

macro_rules! each_action {
    ($self:expr, $a:ident => $body:expr) => {
        match $self {
            Action::Escalate($a) => $body,
            Action::Route($a) => $body,
            Action::SetPriority($a) => $body,
            Action::Assign($a) => $body,
            Action::Tag($a) => $body,
            Action::Notify($a) => $body,
            Action::Note($a) => $body,
            Action::RequireApproval($a) => $body,
            Action::RequireChecklist($a) => $body,
            Action::StartLadder($a) => $body,
            Action::StopLadder($a) => $body,
        }
    };
}

impl Action {
    pub const TYPE_PREFIX: &'static str = "action.";

    /// `action.<name>`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Action::Escalate(_) => Escalate::TYPE,
            Action::Route(_) => Route::TYPE,
            Action::SetPriority(_) => SetPriority::TYPE,
            Action::Assign(_) => Assign::TYPE,
            Action::Tag(_) => Tag::TYPE,
            Action::Notify(_) => Notify::TYPE,
            Action::Note(_) => Note::TYPE,
            Action::RequireApproval(_) => RequireApproval::TYPE,
            Action::RequireChecklist(_) => RequireChecklist::TYPE,
            Action::StartLadder(_) => StartLadder::TYPE,
            Action::StopLadder(_) => StopLadder::TYPE,
        }
    }

    /// Decode an action's data by its `action.<name>` type. Paths are relative to `data`.
    pub fn decode(type_name: &str, data: &str) -> Result<Action, Rejection> {
        Ok(match type_name {
            Escalate::TYPE => Action::Escalate(decode(data)?),
            Route::TYPE => Action::Route(decode(data)?),
            SetPriority::TYPE => Action::SetPriority(decode(data)?),
            Assign::TYPE => Action::Assign(decode(data)?),
            Tag::TYPE => Action::Tag(decode(data)?),
            Notify::TYPE => Action::Notify(decode(data)?),
            Note::TYPE => Action::Note(decode(data)?),
            RequireApproval::TYPE => Action::RequireApproval(decode(data)?),
            RequireChecklist::TYPE => Action::RequireChecklist(decode(data)?),
            StartLadder::TYPE => Action::StartLadder(decode(data)?),
            StopLadder::TYPE => Action::StopLadder(decode(data)?),
            other => {
                return Err(Rejection::new(
                    crate::error::RejectionCode::UnknownEventType,
                    "type",
                    format!("unknown action type `{other}`"),
                ));
            }
        })
    }

    /// Field rules (lengths, ranges). Paths are relative to `data`.
    pub fn validate(&self) -> Result<(), Rejection> {
        each_action!(self, a => a.validate())
    }

    /// Apply to the ticket. Actions never change the lifecycle (status,
    /// existence): that is what lets ingestion validate transitions without
    /// waiting for policies.
    pub fn apply(&self, ticket: &mut Ticket, ctx: ApplyCtx<'_>) {
        each_action!(self, a => a.apply(ticket, ctx))
    }

    pub(crate) fn serialize_data<S: Serializer>(
        &self,
        st: &mut S::SerializeStruct,
    ) -> Result<(), S::Error> {
        each_action!(self, a => st.serialize_field("data", a))
    }
}

fn decode<T: serde::de::DeserializeOwned>(data: &str) -> Result<T, Rejection> {
    let de = &mut serde_json::Deserializer::from_str(data);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        Rejection::invalid(join_path("", &path), clean_serde_message(&e.into_inner()))
    })
}

/// A reason or other short free text given to an action.
pub(crate) fn check_text(field: &str, s: &str, max: usize) -> Result<(), Rejection> {
    crate::event::check::text(field, s, max)
}
