//! Building tickets and events the way the processor sees them, and
//! running a policy set over them.

use std::sync::Arc;

use escalier_core::event::{EventKind, Origin};
use escalier_core::process::{self, Limits, Processed};
use escalier_core::timers::Books;
use escalier_core::{
    Action, Event, Producer, Reaction, Reactor, Record, Source, Ticket, Timestamp,
};
use escalier_policy::PolicySet;
use serde_json::{Value, json};

pub fn at() -> Timestamp {
    "2026-03-02T09:15:00Z".parse().unwrap()
}

/// An input record, as the writer commits it.
pub fn record(seq: u64, ticket: &str, type_name: &str, data: Value) -> Arc<Record> {
    let json = json!({
        "id": format!("evt-{seq}"),
        "type": type_name,
        "ticket_id": ticket,
        "occurred_at": at().to_string(),
        "data": data,
    });
    let event = Event::decode_one(&json.to_string(), Origin::Internal).expect("test event decodes");
    Arc::new(Record {
        seq,
        index: 0,
        recorded_at: at(),
        source: Source::Webhook { delivery: None },
        event,
    })
}

/// `ticket.created` data with sensible defaults, overridden by `extra`.
pub fn created_data(extra: Value) -> Value {
    let mut base = json!({
        "subject": "Cannot log in",
        "description": "Since this morning the login page says my password is wrong.",
        "requester": {"id": "cust-1", "name": "Ada", "email": "ada@example.com", "plan": "pro"},
        "channel": "email",
        "priority": "normal",
    });
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

pub fn created(ticket: &str, extra: Value) -> Arc<Record> {
    record(1, ticket, "ticket.created", created_data(extra))
}

/// The ticket after `ticket.created` with `extra`.
pub fn ticket(extra: Value) -> Ticket {
    escalier_core::reduce::apply(None, &created("T-1", extra)).expect("test ticket applies")
}

/// Process `input` through the real processor with `set` as the only reactor.
pub fn process(set: &PolicySet, before: Option<Ticket>, input: &Arc<Record>) -> Processed {
    let reactors: [&dyn Reactor; 1] = [set];
    process::process(
        before,
        input,
        &reactors,
        &Limits::default(),
        &Books::empty(),
    )
    .expect("input applies")
}

/// Just the reactions of one `react` call.
pub fn react(set: &PolicySet, ticket: &Ticket, rec: &Arc<Record>) -> Vec<Reaction> {
    let mut out = Vec::new();
    set.react(&Arc::new(ticket.clone()), rec, &mut out);
    out
}

/// Reactions in a short readable form: `vip.rhai: escalate 2`.
pub fn describe(r: &Reaction) -> String {
    let who = r.producer.name();
    match &r.kind {
        EventKind::Action(a) => format!("{who}: {}", action(a)),
        EventKind::PolicyError(e) => format!(
            "{who}: error {} at {}:{}",
            e.code,
            e.line.map_or("-".into(), |l| l.to_string()),
            e.column.map_or("-".into(), |c| c.to_string())
        ),
        other => format!("{who}: {}", other.type_name()),
    }
}

pub fn action(a: &Action) -> String {
    match a {
        Action::Escalate(x) => format!("escalate {}", x.tier),
        Action::Route(x) => format!("route {}", x.team),
        Action::SetPriority(x) => format!("set_priority {}", x.priority),
        Action::Assign(x) => format!("assign {}", x.agent),
        Action::Tag(x) => format!("tag {}", x.tag),
        Action::Notify(x) => format!("notify {}", x.channel),
        Action::Note(x) => format!("note {}", x.text),
        Action::RequireApproval(x) => format!("require_approval {}", x.kind),
        Action::RequireChecklist(x) => format!("require_checklist {}", x.name),
        Action::StartLadder(x) => format!("start_ladder {}", x.ladder),
        Action::StopLadder(x) => format!("stop_ladder {}", x.ladder),
        _ => "other".into(),
    }
}

pub fn describe_all(rs: &[Reaction]) -> Vec<String> {
    rs.iter().map(describe).collect()
}

/// Derived records of a processed input, described.
pub fn derived(p: &Processed) -> Vec<String> {
    p.derived
        .iter()
        .map(|r| {
            describe(&Reaction {
                producer: match &r.source {
                    Source::Policy { policy, hash, .. } => Producer::Policy {
                        policy: policy.clone(),
                        hash: hash.clone(),
                    },
                    _ => Producer::System,
                },
                kind: r.event.kind.clone(),
            })
        })
        .collect()
}

/// The single `policy.error` in `rs`, or a panic saying what was there.
pub fn the_error(rs: &[Reaction]) -> &escalier_core::event::PolicyError {
    let errors: Vec<_> = rs
        .iter()
        .filter_map(|r| match &r.kind {
            EventKind::PolicyError(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one policy.error, got {:?}",
        describe_all(rs)
    );
    errors[0]
}

pub fn set(sources: &[(&str, &str)]) -> PolicySet {
    match PolicySet::from_sources(sources.iter().copied()) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}
