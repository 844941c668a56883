//! `event`: a read-only view of the record a policy is reacting to.
//!
//! Envelope getters (`type`, `seq`, `by`, ...) work on every event. The
//! common data fields have their own getters that read the typed event
//! directly (`event.body`, `event.tier`); a field the event's type does not
//! carry reads as `()`. `event.data` builds the full data map, only when a
//! script asks for it.

use std::sync::Arc;

use escalier_core::event::EventKind;
use escalier_core::{Action, Record, Source};
use rhai::{Dynamic, Engine, EvalAltResult, INT, ImmutableString, NativeCallContext};

use super::value;
use crate::sink::Meter;

/// What `event` is in a script. Lives only for one `react` call.
#[derive(Clone)]
pub(crate) struct EventView {
    pub record: Arc<Record>,
}

impl EventView {
    pub fn new(record: Arc<Record>) -> Self {
        EventView { record }
    }

    fn kind(&self) -> &EventKind {
        &self.record.event.kind
    }

    fn action(&self) -> Option<&Action> {
        match self.kind() {
            EventKind::Action(a) => Some(a),
            _ => None,
        }
    }

    /// The event's `data` as JSON, the same shape the API shows. Its size
    /// is charged to the run's budget (an event may carry up to a request
    /// body's worth of custom fields).
    fn data(&self, meter: &mut Meter) -> Result<Dynamic, Box<EvalAltResult>> {
        let Ok(serde_json::Value::Object(mut envelope)) = serde_json::to_value(&self.record.event)
        else {
            return Ok(Dynamic::UNIT);
        };
        let Some(d) = envelope.remove("data") else {
            return Ok(Dynamic::UNIT);
        };
        // Serialising and converting each cost about a walk over it.
        meter.add(value::json_size(&d).saturating_mul(2))?;
        meter.flush()?;
        Ok(value::json(&d))
    }
}

/// Register a getter that reads one data field, `()` where it does not apply.
fn field(engine: &mut Engine, name: &str, get: fn(&EventView) -> Dynamic) {
    engine.register_get(name, move |e: &mut EventView| get(e));
}

pub(super) fn register(engine: &mut Engine) {
    engine.register_type_with_name::<EventView>("Event");
    engine.register_fn("to_string", |e: &mut EventView| e.record.event.to_string());
    engine.register_fn("to_debug", |e: &mut EventView| e.record.event.to_string());

    engine.register_get("id", |e: &mut EventView| -> ImmutableString {
        e.record.event.id.as_str().into()
    });
    engine.register_get("type", |e: &mut EventView| {
        value::type_name(e.record.event.type_name())
    });
    engine.register_get("seq", |e: &mut EventView| -> INT {
        INT::try_from(e.record.seq).unwrap_or(INT::MAX)
    });
    engine.register_get("index", |e: &mut EventView| -> INT {
        e.record.index.into()
    });
    engine.register_get("depth", |e: &mut EventView| -> INT {
        e.record.depth().into()
    });
    engine.register_get("ticket_id", |e: &mut EventView| -> ImmutableString {
        e.record.event.ticket_id.as_str().into()
    });
    engine.register_get("occurred_at", |e: &mut EventView| {
        value::timestamp(e.record.event.occurred_at)
    });
    engine.register_get("recorded_at", |e: &mut EventView| {
        value::timestamp(e.record.recorded_at)
    });
    engine.register_get("by", |e: &mut EventView| -> ImmutableString {
        match &e.record.source {
            Source::Webhook { .. } | Source::System { .. } => {
                value::type_name(e.record.source.producer_name())
            }
            other => other.producer_name().into(),
        }
    });
    engine.register_get("is_input", |e: &mut EventView| e.record.source.is_input());
    engine.register_get(
        "data",
        |ctx: NativeCallContext, e: &mut EventView| -> Result<Dynamic, Box<EvalAltResult>> {
            e.data(&mut Meter::new(ctx.call_position()))
        },
    );

    // comment.added
    field(engine, "body", |e| match e.kind() {
        EventKind::CommentAdded(c) => value::string(&c.body),
        _ => Dynamic::UNIT,
    });
    field(engine, "is_public", |e| match e.kind() {
        EventKind::CommentAdded(c) => Dynamic::from_bool(c.public),
        _ => Dynamic::UNIT,
    });
    field(engine, "author", |e| match e.kind() {
        EventKind::CommentAdded(c) => Dynamic::from(value::word(c.author.kind.as_str())),
        _ => Dynamic::UNIT,
    });
    field(engine, "author_id", |e| match e.kind() {
        EventKind::CommentAdded(c) => value::opt_string(c.author.id.as_deref()),
        _ => Dynamic::UNIT,
    });

    // status.changed, ticket.created
    field(engine, "status", |e| match e.kind() {
        EventKind::StatusChanged(s) => Dynamic::from(value::word(s.status.as_str())),
        EventKind::TicketCreated(t) => t
            .status
            .map_or(Dynamic::UNIT, |s| Dynamic::from(value::word(s.as_str()))),
        _ => Dynamic::UNIT,
    });
    field(engine, "reason", |e| match e.kind() {
        EventKind::StatusChanged(s) => value::opt_string(s.reason.as_deref()),
        EventKind::Action(Action::Escalate(a)) => value::string(&a.reason),
        EventKind::Action(Action::Route(a)) => value::string(&a.reason),
        EventKind::Action(Action::RequireApproval(a)) => value::string(&a.reason),
        EventKind::Action(Action::StartLadder(a)) => value::string(&a.reason),
        EventKind::Action(Action::StopLadder(a)) => value::string(&a.reason),
        _ => Dynamic::UNIT,
    });

    // csat.received
    field(engine, "score", |e| match e.kind() {
        EventKind::CsatReceived(c) => value::int(c.score),
        _ => Dynamic::UNIT,
    });
    field(engine, "comment", |e| match e.kind() {
        EventKind::CsatReceived(c) => value::opt_string(c.comment.as_deref()),
        _ => Dynamic::UNIT,
    });

    // Actions, and the input events that carry the same fields.
    field(engine, "tier", |e| match e.kind() {
        EventKind::Action(Action::Escalate(a)) => value::int(a.tier.get()),
        EventKind::TicketCreated(t) => t.tier.map_or(Dynamic::UNIT, |t| value::int(t.get())),
        _ => Dynamic::UNIT,
    });
    field(engine, "team", |e| match e.kind() {
        EventKind::Action(Action::Route(a)) => value::string(&a.team),
        EventKind::TicketAssigned(a) => value::opt_string(a.team.as_deref()),
        EventKind::TicketCreated(t) => value::opt_string(t.team.as_deref()),
        _ => Dynamic::UNIT,
    });
    field(engine, "agent", |e| match e.kind() {
        EventKind::Action(Action::Assign(a)) => value::string(&a.agent),
        EventKind::TicketAssigned(a) => value::opt_string(a.agent.as_deref()),
        EventKind::TicketCreated(t) => value::opt_string(t.agent.as_deref()),
        _ => Dynamic::UNIT,
    });
    field(engine, "priority", |e| match e.kind() {
        EventKind::Action(Action::SetPriority(a)) => {
            Dynamic::from(value::word(a.priority.as_str()))
        }
        EventKind::TicketCreated(t) => Dynamic::from(value::word(t.priority.as_str())),
        EventKind::TicketUpdated(t) => t
            .priority
            .map_or(Dynamic::UNIT, |p| Dynamic::from(value::word(p.as_str()))),
        _ => Dynamic::UNIT,
    });
    field(engine, "channel", |e| match e.kind() {
        EventKind::Action(Action::Notify(a)) => value::string(&a.channel),
        EventKind::TicketCreated(t) => Dynamic::from(value::word(t.channel.as_str())),
        EventKind::TicketUpdated(t) => t
            .channel
            .map_or(Dynamic::UNIT, |c| Dynamic::from(value::word(c.as_str()))),
        _ => Dynamic::UNIT,
    });
    field(engine, "tag", |e| match e.action() {
        Some(Action::Tag(a)) => value::string(&a.tag),
        _ => Dynamic::UNIT,
    });
    field(engine, "text", |e| match e.action() {
        Some(Action::Note(a)) => value::string(&a.text),
        _ => Dynamic::UNIT,
    });
    field(engine, "kind", |e| match e.action() {
        Some(Action::RequireApproval(a)) => value::string(&a.kind),
        _ => Dynamic::UNIT,
    });
    field(engine, "name", |e| match e.action() {
        Some(Action::RequireChecklist(a)) => value::string(&a.name),
        _ => Dynamic::UNIT,
    });
    field(engine, "ladder", |e| match e.action() {
        Some(Action::StartLadder(a)) => value::string(&a.ladder),
        Some(Action::StopLadder(a)) => value::string(&a.ladder),
        _ => Dynamic::UNIT,
    });
    field(engine, "message", |e| match e.kind() {
        EventKind::Action(Action::Notify(a)) => value::string(&a.message),
        EventKind::PolicyError(p) => value::string(&p.message),
        EventKind::PluginError(p) => value::string(&p.message),
        _ => Dynamic::UNIT,
    });

    // policy.error, plugin.error
    field(engine, "code", |e| match e.kind() {
        EventKind::PolicyError(p) => value::string(&p.code),
        EventKind::PluginError(p) => value::string(&p.code),
        _ => Dynamic::UNIT,
    });
    field(engine, "policy", |e| match e.kind() {
        EventKind::PolicyError(p) => value::string(&p.policy),
        _ => Dynamic::UNIT,
    });
    field(engine, "plugin", |e| match e.kind() {
        EventKind::PluginError(p) => value::string(&p.plugin),
        _ => Dynamic::UNIT,
    });
}
