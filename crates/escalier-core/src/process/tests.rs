//! Reactor semantics: order, visibility of earlier reactions, feedback,
//! depth and flood limits, invalid reactions.

use std::sync::Arc;

use super::*;
use crate::event::Origin;
use crate::record::{Producer, Source};

fn input(json: &str) -> Arc<Record> {
    Arc::new(Record {
        seq: 7,
        index: 0,
        recorded_at: "2026-03-02T09:00:30Z".parse().unwrap(),
        source: Source::Webhook { delivery: None },
        event: Event::decode_one(json, Origin::External).unwrap(),
    })
}

fn created() -> Arc<Record> {
    input(
        r#"{"id":"e1","type":"ticket.created","ticket_id":"T","occurred_at":"2026-03-02T09:00:00Z",
            "data":{"subject":"s","requester":{"id":"c"},"channel":"email"}}"#,
    )
}

fn action(policy: &str, type_name: &str, data: &str) -> Reaction {
    Reaction {
        producer: Producer::Policy {
            policy: policy.into(),
            hash: "sha256:0".into(),
        },
        kind: EventKind::decode(type_name, data, Origin::Internal).unwrap(),
    }
}

/// Escalates to `tier` if the ticket is below it, reacting to `on`.
struct Guarded {
    name: &'static str,
    on: &'static str,
    tier: u8,
}

impl Reactor for Guarded {
    fn wants(&self, t: &str) -> bool {
        t == self.on
    }
    fn react(&self, ticket: &Arc<Ticket>, _: &Arc<Record>, out: &mut Vec<Reaction>) {
        if ticket.tier.get() < self.tier {
            out.push(action(
                self.name,
                "action.escalate",
                &format!(r#"{{"tier":{},"reason":"r"}}"#, self.tier),
            ));
        }
    }
}

/// Notes every record of the given type: reacts to its own output if asked.
struct Echo(&'static str);

impl Reactor for Echo {
    fn wants(&self, t: &str) -> bool {
        t == self.0
    }
    fn react(&self, _: &Arc<Ticket>, _: &Arc<Record>, out: &mut Vec<Reaction>) {
        out.push(action("echo.rhai", "action.note", r#"{"text":"again"}"#));
    }
}

#[test]
fn later_reactors_see_earlier_reactions() {
    let a = Guarded {
        name: "a.rhai",
        on: "ticket.created",
        tier: 2,
    };
    let b = Guarded {
        name: "b.rhai",
        on: "ticket.created",
        tier: 2,
    };
    let p = process(
        None,
        &created(),
        &[&a, &b],
        &Limits::default(),
        &Books::empty(),
    )
    .unwrap();
    assert_eq!(p.derived.len(), 1, "the second policy saw tier 2 already");
    assert_eq!(p.ticket.tier.get(), 2);
    let r = &p.derived[0];
    assert_eq!((r.seq, r.index), (7, 1));
    assert_eq!(
        r.recorded_at,
        created().recorded_at,
        "derived records carry the input's time"
    );
    assert_eq!(r.event.id.as_str(), "esc:7.1");
}

#[test]
fn actions_feed_back_breadth_first_with_depth_and_trigger() {
    let a = Guarded {
        name: "a.rhai",
        on: "ticket.created",
        tier: 2,
    };
    let n = Guarded {
        name: "n.rhai",
        on: "action.escalate",
        tier: 3,
    };
    let p = process(
        None,
        &created(),
        &[&a, &n],
        &Limits::default(),
        &Books::empty(),
    )
    .unwrap();
    let got: Vec<_> = p
        .derived
        .iter()
        .map(|r| match &r.source {
            Source::Policy {
                policy,
                trigger,
                depth,
                ..
            } => (policy.as_str(), *trigger, *depth),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, vec![("a.rhai", 0, 1), ("n.rhai", 1, 2)]);
    assert_eq!(p.ticket.tier.get(), 3);
}

#[test]
fn feedback_stops_at_the_depth_limit_with_one_error() {
    let echo = Echo("action.note");
    let start = Echo("ticket.created");
    let limits = Limits {
        max_depth: 4,
        max_derived: 256,
    };
    let p = process(None, &created(), &[&start, &echo], &limits, &Books::empty()).unwrap();
    let types: Vec<_> = p.derived.iter().map(|r| r.event.type_name()).collect();
    assert_eq!(
        types,
        vec![
            "action.note",
            "action.note",
            "action.note",
            "action.note",
            "policy.error"
        ]
    );
    let EventKind::PolicyError(e) = &p.derived[4].event.kind else {
        panic!()
    };
    assert_eq!(e.code, "depth_limit");
    assert!(matches!(
        p.derived[4].source,
        Source::System { depth: 5, .. }
    ));
}

#[test]
fn floods_stop_at_the_cap() {
    struct Flood;
    impl Reactor for Flood {
        fn wants(&self, t: &str) -> bool {
            t == "ticket.created"
        }
        fn react(&self, _: &Arc<Ticket>, _: &Arc<Record>, out: &mut Vec<Reaction>) {
            for _ in 0..1000 {
                out.push(action("flood.rhai", "action.tag", r#"{"tag":"x"}"#));
            }
        }
    }
    let p = process(
        None,
        &created(),
        &[&Flood],
        &Limits {
            max_depth: 4,
            max_derived: 10,
        },
        &Books::empty(),
    )
    .unwrap();
    assert_eq!(p.derived.len(), 10);
    let EventKind::PolicyError(e) = &p.derived[9].event.kind else {
        panic!()
    };
    assert_eq!(e.code, "too_many_actions");
}

#[test]
fn invalid_reactions_become_errors_not_actions() {
    struct Bad;
    impl Reactor for Bad {
        fn wants(&self, _: &str) -> bool {
            true
        }
        fn react(&self, _: &Arc<Ticket>, r: &Arc<Record>, out: &mut Vec<Reaction>) {
            if r.index == 0 {
                out.push(Reaction {
                    producer: Producer::Policy {
                        policy: "bad.rhai".into(),
                        hash: String::new(),
                    },
                    kind: EventKind::Action(crate::Action::Tag(crate::action::Tag {
                        tag: "has space".into(),
                    })),
                });
            }
        }
    }
    let p = process(
        None,
        &created(),
        &[&Bad],
        &Limits::default(),
        &Books::empty(),
    )
    .unwrap();
    let EventKind::PolicyError(e) = &p.derived[0].event.kind else {
        panic!()
    };
    assert_eq!(
        (e.code.as_str(), e.policy.as_str()),
        ("invalid_action", "bad.rhai")
    );
    assert!(p.ticket.tags.is_empty());
    assert_eq!(p.ticket.policy_errors, 1);
}

#[test]
fn a_rejected_input_produces_nothing() {
    let status = input(
        r#"{"id":"s","type":"status.changed","ticket_id":"T","occurred_at":"2026-03-02T09:00:00Z","data":{"status":"open"}}"#,
    );
    assert!(process(None, &status, &[], &Limits::default(), &Books::empty()).is_err());
}
