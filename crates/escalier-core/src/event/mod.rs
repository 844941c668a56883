//! Events: the envelope every tool sends, and one module per event type.
//!
//! On the wire an event is
//! `{"id", "type", "ticket_id", "occurred_at", "data"}`. The envelope is
//! parsed first, then `data` by its `type`, so errors name the exact field
//! (`[2].data.requester.email`). Types starting with `action.`, `policy.`
//! and the other internal prefixes are produced by Escalier itself and
//! refused from outside.

mod approval_decided;
mod checklist_item_checked;
mod checklist_opened;
mod clock_due;
mod clock_rebound;
mod comment_added;
mod csat_received;
mod delivery_delivered;
mod delivery_failed;
mod delivery_requested;
mod delivery_retrying;
mod ladder_acknowledged;
mod ladder_exhausted;
mod ladder_level_reached;
mod notification_requested;
mod plugin_command;
mod plugin_error;
mod plugin_state;
mod plugin_timer;
mod policy_error;
mod policy_migrated;
mod sla_fired;
mod sla_met;
mod status_changed;
mod ticket_assigned;
mod ticket_created;
mod ticket_updated;

use std::fmt;

use jiff::Timestamp;
use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

pub use crate::ladder::{LadderExhausted, LevelReached};
pub use crate::sla::ClockFired;
pub use approval_decided::{ApprovalDecided, Decision};
pub use checklist_item_checked::ChecklistItemChecked;
pub use checklist_opened::{ChecklistItemDef, ChecklistOpened};
pub use clock_due::ClockDue;
pub use clock_rebound::ClockRebound;
pub use comment_added::{Author, CommentAdded};
pub use csat_received::CsatReceived;
pub use delivery_delivered::DeliveryDelivered;
pub use delivery_failed::DeliveryFailed;
pub use delivery_requested::{AuthScheme, DeliveryAuth, DeliveryRequested, Header};
pub use delivery_retrying::DeliveryRetrying;
pub use ladder_acknowledged::LadderAcknowledged;
pub use notification_requested::{
    NotificationRequested, NotificationTicket, NotificationWhy, NotifyKind, PdAction,
};
pub use plugin_command::PluginCommand;
pub use plugin_error::PluginError;
pub use plugin_state::{PluginState, valid_timer_key};
pub use plugin_timer::PluginTimer;
pub use policy_error::PolicyError;
pub use policy_migrated::PolicyMigrated;
pub use sla_met::SlaMet;
pub use status_changed::StatusChanged;
pub use ticket_assigned::TicketAssigned;
pub use ticket_created::{Requester, TicketCreated};
pub use ticket_updated::TicketUpdated;

use crate::action::Action;
use crate::error::{Rejection, RejectionCode, join_path};
use crate::id::{EventId, TicketId};

/// Event types external tools may send.
pub const EXTERNAL_TYPES: &[&str] = &[
    TicketCreated::TYPE,
    TicketUpdated::TYPE,
    CommentAdded::TYPE,
    StatusChanged::TYPE,
    TicketAssigned::TYPE,
    CsatReceived::TYPE,
    ChecklistItemChecked::TYPE,
    LadderAcknowledged::TYPE,
];

/// Event types Escalier produces itself (policies may subscribe to them).
pub const INTERNAL_TYPES: &[&str] = &[
    "action.escalate",
    "action.route",
    "action.set_priority",
    "action.assign",
    "action.tag",
    "action.notify",
    "action.note",
    "action.require_approval",
    "action.require_checklist",
    PolicyError::TYPE,
    PluginError::TYPE,
    PluginState::TYPE,
    PluginTimer::TYPE,
    DeliveryRequested::TYPE,
    DeliveryFailed::TYPE,
    DeliveryDelivered::TYPE,
    DeliveryRetrying::TYPE,
    NotificationRequested::TYPE,
    ChecklistOpened::TYPE,
    "action.start_ladder",
    "action.stop_ladder",
    ClockFired::WARNING_TYPE,
    ClockFired::BREACHED_TYPE,
    SlaMet::TYPE,
    LevelReached::TYPE,
    LadderExhausted::TYPE,
    ClockDue::TYPE,
    ClockRebound::TYPE,
];

/// Input event types accepted only through their own API endpoints, which
/// check them against the ticket first (not on `/v1/events`).
pub const COMMAND_TYPES: &[&str] = &[
    ApprovalDecided::TYPE,
    PluginCommand::TYPE,
    PolicyMigrated::TYPE,
];

/// Every event type, external first.
pub fn all_types() -> impl Iterator<Item = &'static str> {
    EXTERNAL_TYPES
        .iter()
        .chain(COMMAND_TYPES)
        .chain(INTERNAL_TYPES)
        .copied()
}

/// One event: something that happened to a ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Idempotency key: a repeated id is a duplicate delivery.
    pub id: EventId,
    pub ticket_id: TicketId,
    /// When it happened, according to the sender.
    pub occurred_at: Timestamp,
    pub kind: EventKind,
}

/// What happened, with its data.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    TicketCreated(TicketCreated),
    TicketUpdated(TicketUpdated),
    CommentAdded(CommentAdded),
    StatusChanged(StatusChanged),
    TicketAssigned(TicketAssigned),
    CsatReceived(CsatReceived),
    /// An action taken by a policy or plugin (`action.<name>`).
    Action(Action),
    /// A policy failed while handling an event.
    PolicyError(PolicyError),
    /// A plugin trapped, timed out or hit a limit while handling an event.
    PluginError(PluginError),
    /// A plugin's key-value writes and timer changes for this ticket.
    PluginState(PluginState),
    /// A timer a plugin set came due.
    PluginTimer(PluginTimer),
    /// A plugin asked for an outbound HTTP request (sent after commit).
    DeliveryRequested(DeliveryRequested),
    /// An outbound request was given up.
    DeliveryFailed(DeliveryFailed),
    /// An outbound request reached its receiver.
    DeliveryDelivered(DeliveryDelivered),
    /// An outbound request will be tried again.
    DeliveryRetrying(DeliveryRetrying),
    /// A notification target is to be told (sent after commit).
    NotificationRequested(NotificationRequested),
    /// A checklist was put on the ticket.
    ChecklistOpened(ChecklistOpened),
    /// A checklist item was ticked or unticked.
    ChecklistItemChecked(ChecklistItemChecked),
    /// An approval was decided.
    ApprovalDecided(ApprovalDecided),
    /// A person sent a plugin-defined command.
    PluginCommand(PluginCommand),
    /// The ticket follows another policy set version.
    PolicyMigrated(PolicyMigrated),
    /// An SLA clock reached its warning point.
    SlaWarning(ClockFired),
    /// An SLA clock reached its target.
    SlaBreached(ClockFired),
    /// An SLA clock was stopped by what it measures.
    SlaMet(SlaMet),
    /// An escalation ladder reached a level.
    LadderLevelReached(LevelReached),
    /// An escalation ladder ran out of levels and repeats.
    LadderExhausted(LadderExhausted),
    /// Someone acknowledged: running ladders stop.
    LadderAcknowledged(LadderAcknowledged),
    /// The scheduler's tick for one due instant.
    ClockDue(ClockDue),
    /// The ticket's timers were re-bound to reloaded SLA/ladder files.
    ClockRebound(ClockRebound),
}

/// Who is asking to decode an event: outside senders may not use internal types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    External,
    Internal,
}

impl EventKind {
    /// The `type` string on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::TicketCreated(_) => TicketCreated::TYPE,
            EventKind::TicketUpdated(_) => TicketUpdated::TYPE,
            EventKind::CommentAdded(_) => CommentAdded::TYPE,
            EventKind::StatusChanged(_) => StatusChanged::TYPE,
            EventKind::TicketAssigned(_) => TicketAssigned::TYPE,
            EventKind::CsatReceived(_) => CsatReceived::TYPE,
            EventKind::Action(a) => a.type_name(),
            EventKind::PolicyError(_) => PolicyError::TYPE,
            EventKind::PluginError(_) => PluginError::TYPE,
            EventKind::PluginState(_) => PluginState::TYPE,
            EventKind::PluginTimer(_) => PluginTimer::TYPE,
            EventKind::DeliveryRequested(_) => DeliveryRequested::TYPE,
            EventKind::DeliveryFailed(_) => DeliveryFailed::TYPE,
            EventKind::DeliveryDelivered(_) => DeliveryDelivered::TYPE,
            EventKind::DeliveryRetrying(_) => DeliveryRetrying::TYPE,
            EventKind::NotificationRequested(_) => NotificationRequested::TYPE,
            EventKind::ChecklistOpened(_) => ChecklistOpened::TYPE,
            EventKind::ChecklistItemChecked(_) => ChecklistItemChecked::TYPE,
            EventKind::ApprovalDecided(_) => ApprovalDecided::TYPE,
            EventKind::PluginCommand(_) => PluginCommand::TYPE,
            EventKind::PolicyMigrated(_) => PolicyMigrated::TYPE,
            EventKind::SlaWarning(_) => ClockFired::WARNING_TYPE,
            EventKind::SlaBreached(_) => ClockFired::BREACHED_TYPE,
            EventKind::SlaMet(_) => SlaMet::TYPE,
            EventKind::LadderLevelReached(_) => LevelReached::TYPE,
            EventKind::LadderExhausted(_) => LadderExhausted::TYPE,
            EventKind::LadderAcknowledged(_) => LadderAcknowledged::TYPE,
            EventKind::ClockDue(_) => ClockDue::TYPE,
            EventKind::ClockRebound(_) => ClockRebound::TYPE,
        }
    }

    /// Whether outside tools may send this kind.
    pub fn is_external(&self) -> bool {
        EXTERNAL_TYPES.contains(&self.type_name())
    }

    /// Decode `data` for `type_name`. Field paths in errors are relative to
    /// the event (`data.priority`).
    pub fn decode(type_name: &str, data: &str, origin: Origin) -> Result<EventKind, Rejection> {
        let internal = !EXTERNAL_TYPES.contains(&type_name);
        if internal && origin == Origin::External {
            return Err(unknown_type(type_name));
        }
        let kind = match type_name {
            TicketCreated::TYPE => EventKind::TicketCreated(decode_data(data)?),
            TicketUpdated::TYPE => EventKind::TicketUpdated(decode_data(data)?),
            CommentAdded::TYPE => EventKind::CommentAdded(decode_data(data)?),
            StatusChanged::TYPE => EventKind::StatusChanged(decode_data(data)?),
            TicketAssigned::TYPE => EventKind::TicketAssigned(decode_data(data)?),
            CsatReceived::TYPE => EventKind::CsatReceived(decode_data(data)?),
            PolicyError::TYPE => EventKind::PolicyError(decode_data(data)?),
            PluginError::TYPE => EventKind::PluginError(decode_data(data)?),
            PluginState::TYPE => EventKind::PluginState(decode_data(data)?),
            PluginTimer::TYPE => EventKind::PluginTimer(decode_data(data)?),
            DeliveryRequested::TYPE => EventKind::DeliveryRequested(decode_data(data)?),
            DeliveryFailed::TYPE => EventKind::DeliveryFailed(decode_data(data)?),
            DeliveryDelivered::TYPE => EventKind::DeliveryDelivered(decode_data(data)?),
            DeliveryRetrying::TYPE => EventKind::DeliveryRetrying(decode_data(data)?),
            NotificationRequested::TYPE => EventKind::NotificationRequested(decode_data(data)?),
            ChecklistOpened::TYPE => EventKind::ChecklistOpened(decode_data(data)?),
            ChecklistItemChecked::TYPE => EventKind::ChecklistItemChecked(decode_data(data)?),
            ApprovalDecided::TYPE => EventKind::ApprovalDecided(decode_data(data)?),
            PluginCommand::TYPE => EventKind::PluginCommand(decode_data(data)?),
            PolicyMigrated::TYPE => EventKind::PolicyMigrated(decode_data(data)?),
            ClockFired::WARNING_TYPE => EventKind::SlaWarning(decode_data(data)?),
            ClockFired::BREACHED_TYPE => EventKind::SlaBreached(decode_data(data)?),
            SlaMet::TYPE => EventKind::SlaMet(decode_data(data)?),
            LevelReached::TYPE => EventKind::LadderLevelReached(decode_data(data)?),
            LadderExhausted::TYPE => EventKind::LadderExhausted(decode_data(data)?),
            LadderAcknowledged::TYPE => EventKind::LadderAcknowledged(decode_data(data)?),
            ClockDue::TYPE => EventKind::ClockDue(decode_data(data)?),
            ClockRebound::TYPE => EventKind::ClockRebound(decode_data(data)?),
            t if t.starts_with(Action::TYPE_PREFIX) => {
                EventKind::Action(Action::decode(t, data).map_err(|r| r.within("data"))?)
            }
            t => return Err(unknown_type(t)),
        };
        kind.validate().map_err(|r| r.within("data"))?;
        Ok(kind)
    }

    /// Rules serde cannot express (ranges, lengths, "at least one").
    /// Paths are relative to `data`.
    pub fn validate(&self) -> Result<(), Rejection> {
        match self {
            EventKind::TicketCreated(d) => d.validate(),
            EventKind::TicketUpdated(d) => d.validate(),
            EventKind::CommentAdded(d) => d.validate(),
            EventKind::StatusChanged(d) => d.validate(),
            EventKind::TicketAssigned(d) => d.validate(),
            EventKind::CsatReceived(d) => d.validate(),
            EventKind::Action(a) => a.validate(),
            EventKind::PolicyError(_) | EventKind::PluginError(_) => Ok(()),
            EventKind::PluginState(d) => d.validate(),
            EventKind::PluginTimer(d) => d.validate(),
            EventKind::DeliveryRequested(d) => d.validate(),
            EventKind::DeliveryFailed(d) => d.validate(),
            EventKind::DeliveryDelivered(d) => d.validate(),
            EventKind::DeliveryRetrying(d) => d.validate(),
            EventKind::NotificationRequested(d) => d.validate(),
            EventKind::ChecklistOpened(d) => d.validate(),
            EventKind::ChecklistItemChecked(d) => d.validate(),
            EventKind::ApprovalDecided(d) => d.validate(),
            EventKind::PluginCommand(d) => d.validate(),
            EventKind::PolicyMigrated(d) => d.validate(),
            EventKind::SlaWarning(d) => d.validate_as(crate::sla::Threshold::Warning),
            EventKind::SlaBreached(d) => d.validate_as(crate::sla::Threshold::Breach),
            EventKind::SlaMet(_)
            | EventKind::LadderLevelReached(_)
            | EventKind::LadderExhausted(_) => Ok(()),
            EventKind::LadderAcknowledged(d) => d.validate(),
            EventKind::ClockDue(d) => d.validate(),
            EventKind::ClockRebound(d) => d.validate(),
        }
    }

    fn serialize_data<S: Serializer>(&self, st: &mut S::SerializeStruct) -> Result<(), S::Error> {
        match self {
            EventKind::TicketCreated(d) => st.serialize_field("data", d),
            EventKind::TicketUpdated(d) => st.serialize_field("data", d),
            EventKind::CommentAdded(d) => st.serialize_field("data", d),
            EventKind::StatusChanged(d) => st.serialize_field("data", d),
            EventKind::TicketAssigned(d) => st.serialize_field("data", d),
            EventKind::CsatReceived(d) => st.serialize_field("data", d),
            EventKind::Action(a) => a.serialize_data::<S>(st),
            EventKind::PolicyError(d) => st.serialize_field("data", d),
            EventKind::PluginError(d) => st.serialize_field("data", d),
            EventKind::PluginState(d) => st.serialize_field("data", d),
            EventKind::PluginTimer(d) => st.serialize_field("data", d),
            EventKind::DeliveryRequested(d) => st.serialize_field("data", d),
            EventKind::DeliveryFailed(d) => st.serialize_field("data", d),
            EventKind::DeliveryDelivered(d) => st.serialize_field("data", d),
            EventKind::DeliveryRetrying(d) => st.serialize_field("data", d),
            EventKind::NotificationRequested(d) => st.serialize_field("data", d),
            EventKind::ChecklistOpened(d) => st.serialize_field("data", d),
            EventKind::ChecklistItemChecked(d) => st.serialize_field("data", d),
            EventKind::ApprovalDecided(d) => st.serialize_field("data", d),
            EventKind::PluginCommand(d) => st.serialize_field("data", d),
            EventKind::PolicyMigrated(d) => st.serialize_field("data", d),
            EventKind::SlaWarning(d) | EventKind::SlaBreached(d) => st.serialize_field("data", d),
            EventKind::SlaMet(d) => st.serialize_field("data", d),
            EventKind::LadderLevelReached(d) => st.serialize_field("data", d),
            EventKind::LadderExhausted(d) => st.serialize_field("data", d),
            EventKind::LadderAcknowledged(d) => st.serialize_field("data", d),
            EventKind::ClockDue(d) => st.serialize_field("data", d),
            EventKind::ClockRebound(d) => st.serialize_field("data", d),
        }
    }
}

fn unknown_type(t: &str) -> Rejection {
    let hint = match crate::suggest::nearest(t, EXTERNAL_TYPES.iter().copied()) {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    };
    Rejection::new(
        RejectionCode::UnknownEventType,
        "type",
        format!(
            "unknown event type `{t}`{hint} Accepted types: {}",
            EXTERNAL_TYPES.join(", ")
        ),
    )
}

/// Decode a typed payload, reporting the path of the first bad field.
fn decode_data<T: serde::de::DeserializeOwned>(data: &str) -> Result<T, Rejection> {
    let de = &mut serde_json::Deserializer::from_str(data);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = clean_serde_message(&e.into_inner());
        let path = match missing_field(&message) {
            Some(name) => join_path(&path, name),
            None => path,
        };
        Rejection::invalid(join_path("data", &path), message)
    })
}

/// The field a serde "missing field `x`" message names: serde reports the
/// path of the object it is missing from, the API names the field itself.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .split_once('`')
        .map(|(name, _)| name)
}

/// serde_json messages end with " at line 1 column 42"; the path already says where.
pub(crate) fn clean_serde_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}

impl Event {
    /// Decode one or many events from a request body: a JSON object or a
    /// JSON array of objects. All-or-nothing: the first bad event rejects
    /// the body, with its index in the field path (`[3].data.priority`).
    pub fn decode_body(body: &[u8], origin: Origin) -> Result<Vec<Event>, Rejection> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        match first {
            Some(b'[') => {
                let wire: Vec<&RawValue> = serde_json::from_slice(body).map_err(malformed)?;
                if wire.is_empty() {
                    return Err(Rejection::invalid(
                        "",
                        "the batch is empty; send at least one event",
                    ));
                }
                wire.iter()
                    .enumerate()
                    .map(|(i, raw)| {
                        Self::decode_one(raw.get(), origin).map_err(|r| r.within(&format!("[{i}]")))
                    })
                    .collect()
            }
            Some(b'{') => {
                // Parse as RawValue first so trailing garbage is a syntax error.
                let raw: &RawValue = serde_json::from_slice(body).map_err(malformed)?;
                Ok(vec![Self::decode_one(raw.get(), origin)?])
            }
            Some(_) => Err(Rejection::new(
                RejectionCode::MalformedJson,
                "",
                "the body must be a JSON object (one event) or array (a batch)",
            )),
            None => Err(Rejection::new(
                RejectionCode::MalformedJson,
                "",
                "the body is empty",
            )),
        }
    }

    /// Decode one event from its JSON text.
    pub fn decode_one(json: &str, origin: Origin) -> Result<Event, Rejection> {
        if origin == Origin::External {
            strict::check_event(json)?;
        }
        let de = &mut serde_json::Deserializer::from_str(json);
        let wire: WireEvent<'_> = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                malformed(inner)
            } else {
                let path = if path == "." { String::new() } else { path };
                let message = clean_serde_message(&inner);
                let path = match missing_field(&message) {
                    Some(name) => join_path(&path, name),
                    None => path,
                };
                Rejection::invalid(path, message)
            }
        })?;
        wire.into_event(origin)
    }

    /// The `type` string.
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }
}

fn malformed(e: serde_json::Error) -> Rejection {
    Rejection::new(
        RejectionCode::MalformedJson,
        "",
        format!("the body is not valid JSON: {e}"),
    )
}

/// The envelope as it arrives; `data` stays raw until the type is known.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEvent<'a> {
    id: String,
    #[serde(rename = "type")]
    type_name: String,
    ticket_id: String,
    occurred_at: String,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

impl WireEvent<'_> {
    fn into_event(self, origin: Origin) -> Result<Event, Rejection> {
        if origin == Origin::External {
            crate::id::check_external_event_id(&self.id)
                .map_err(|m| Rejection::invalid("id", format!("event id {m}")))?;
            crate::id::check_ticket_id_addressable(&self.ticket_id)
                .map_err(|m| Rejection::invalid("ticket_id", format!("ticket id {m}")))?;
        }
        let id =
            EventId::new(self.id).map_err(|m| Rejection::invalid("id", format!("event id {m}")))?;
        let ticket_id = TicketId::new(self.ticket_id)
            .map_err(|m| Rejection::invalid("ticket_id", format!("ticket id {m}")))?;
        let occurred_at: Timestamp = self.occurred_at.parse().map_err(|_| {
            Rejection::invalid(
                "occurred_at",
                format!(
                    "`{}` is not an RFC 3339 timestamp with an offset, e.g. 2026-03-02T09:15:00Z",
                    self.occurred_at
                ),
            )
        })?;
        let data = self.data.map(RawValue::get).unwrap_or("{}");
        let kind = EventKind::decode(&self.type_name, data, origin)?;
        Ok(Event {
            id,
            ticket_id,
            occurred_at,
            kind,
        })
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Event", 5)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("type", self.kind.type_name())?;
        st.serialize_field("ticket_id", &self.ticket_id)?;
        st.serialize_field("occurred_at", &self.occurred_at)?;
        self.kind.serialize_data::<S>(&mut st)?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Event {
    /// Decodes stored events (internal types allowed). Only for serde_json.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Event::decode_one(raw.get(), Origin::Internal).map_err(D::Error::custom)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} on {}",
            self.kind.type_name(),
            self.id,
            self.ticket_id
        )
    }
}

/// Shared field checks used by the event modules. Paths are relative to `data`.
pub(crate) mod check {
    use crate::error::Rejection;

    pub fn text(field: &str, s: &str, max: usize) -> Result<(), Rejection> {
        if s.len() > max {
            return Err(Rejection::invalid(
                field,
                format!("is {} bytes long; at most {max} allowed", s.len()),
            ));
        }
        Ok(())
    }

    pub fn name(field: &str, s: &str) -> Result<(), Rejection> {
        if s.trim().is_empty() {
            return Err(Rejection::invalid(field, "must not be empty"));
        }
        text(field, s, 128)
    }

    pub fn tag(field: &str, s: &str) -> Result<(), Rejection> {
        if s.is_empty() || s.len() > 64 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Rejection::invalid(
                field,
                format!("tag {s:?} must be 1 to 64 characters without spaces"),
            ));
        }
        Ok(())
    }

    pub fn tags(field: &str, tags: &[String]) -> Result<(), Rejection> {
        if tags.len() > super::super::ticket::MAX_TAGS {
            return Err(Rejection::invalid(
                field,
                format!(
                    "{} tags; at most {} allowed",
                    tags.len(),
                    super::super::ticket::MAX_TAGS
                ),
            ));
        }
        for (i, t) in tags.iter().enumerate() {
            tag(&format!("{field}[{i}]"), t)?;
        }
        Ok(())
    }

    pub fn fields(
        field: &str,
        fields: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<(), Rejection> {
        if fields.len() > super::super::ticket::MAX_FIELDS {
            return Err(Rejection::invalid(
                field,
                format!(
                    "{} custom fields; at most {} allowed",
                    fields.len(),
                    super::super::ticket::MAX_FIELDS
                ),
            ));
        }
        for k in fields.keys() {
            if k.is_empty() || k.len() > 64 {
                return Err(Rejection::invalid(
                    format!("{field}.{k}"),
                    "custom field names are 1 to 64 characters",
                ));
            }
        }
        Ok(())
    }
}

pub mod strict;

#[cfg(test)]
mod tests;
