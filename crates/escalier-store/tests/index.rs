//! The in-memory ticket index ([`escalier_store::summary`]) agrees with a
//! full recomputation from the stored tickets, whatever arrives and
//! whenever the index starts (before, during or after the traffic).

use std::sync::Arc;

use escalier_core::event::{EventKind, Origin};
use escalier_core::stats::{from_facts, stats};
use escalier_core::timers::Books;
use escalier_core::{Event, ManualClock, Producer, Reaction, Reactor, Record, Source, Ticket};
use escalier_store::summary::Summary;
use escalier_store::{
    InputBatch, Processor, ProcessorConfig, ReactorSource, Store, Writer, WriterConfig,
};
use proptest::prelude::*;

const SLA: &str = r#"
[calendars.always]
time_zone = "UTC"
always = true

[[policy]]
name = "vip"
calendar = "always"
when.priority = ["urgent"]
targets.urgent = { first_response = "30m", resolution = "8h" }

[[policy]]
name = "standard"
calendar = "always"
targets.normal = { first_response = "4h", resolution = "2d" }
targets.high = { first_response = "1h", resolution = "1d" }
"#;

fn books() -> Arc<Books> {
    Arc::new(Books::parse(Some(SLA), None).expect("test SLA parses"))
}

/// Escalates to tier 2 when a comment says "urgent".
struct Escalator;

impl Reactor for Escalator {
    fn wants(&self, t: &str) -> bool {
        t == "comment.added"
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        if let EventKind::CommentAdded(c) = &record.event.kind
            && c.body.contains("urgent")
            && ticket.tier.get() < 2
        {
            out.push(Reaction {
                producer: Producer::Policy {
                    policy: "test.rhai".into(),
                    hash: "sha256:0".into(),
                },
                kind: EventKind::decode(
                    "action.escalate",
                    r#"{"tier":2,"reason":"said urgent"}"#,
                    Origin::Internal,
                )
                .unwrap(),
            });
        }
    }
}

struct Src(Arc<Books>);
impl ReactorSource for Src {
    fn reactors(&self, _: Option<&str>) -> Vec<Arc<dyn Reactor + Send + Sync>> {
        vec![Arc::new(Escalator)]
    }
    fn books(&self) -> Arc<Books> {
        self.0.clone()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        t: u8,
        channel: u8,
        team: u8,
        tier: u8,
        prio: u8,
        day: u8,
    },
    Comment {
        t: u8,
        agent: bool,
        urgent: bool,
        minutes: u16,
    },
    Status {
        t: u8,
        to: &'static str,
    },
    Csat {
        t: u8,
        score: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..20, 0u8..3, 0u8..4, 0u8..3, 0u8..4, 0u8..5).prop_map(
            |(t, channel, team, tier, prio, day)| Op::Create {
                t,
                channel,
                team,
                tier,
                prio,
                day
            }
        ),
        (0u8..20, any::<bool>(), any::<bool>(), 0u16..3000).prop_map(
            |(t, agent, urgent, minutes)| Op::Comment {
                t,
                agent,
                urgent,
                minutes
            }
        ),
        (
            0u8..20,
            prop::sample::select(vec!["open", "pending", "solved", "closed"])
        )
            .prop_map(|(t, to)| Op::Status { t, to }),
        (0u8..20, 1u8..6).prop_map(|(t, score)| Op::Csat { t, score }),
    ]
}

fn at(day: u8, minutes: u16) -> String {
    let t: escalier_core::Timestamp = "2026-03-01T09:00:00Z".parse().unwrap();
    let mins = 24 * 60 * i64::from(day) + i64::from(minutes);
    t.checked_add(std::time::Duration::from_secs(60 * mins as u64))
        .unwrap()
        .to_string()
}

fn event(i: usize, op: &Op) -> Event {
    let json = match op {
        Op::Create {
            t,
            channel,
            team,
            tier,
            prio,
            day,
        } => {
            let channel = ["email", "chat", "phone"][*channel as usize];
            let team = match team {
                0 => String::new(),
                n => format!(r#","team":"team-{n}""#),
            };
            let prio = ["low", "normal", "high", "urgent"][*prio as usize];
            format!(
                r#"{{"id":"e{i}","type":"ticket.created","ticket_id":"T-{t}","occurred_at":"{}",
                    "data":{{"subject":"s{t}","requester":{{"id":"c"}},"channel":"{channel}","priority":"{prio}","tier":{}{team}}}}}"#,
                at(*day, 0),
                tier
            )
        }
        Op::Comment {
            t,
            agent,
            urgent,
            minutes,
        } => format!(
            r#"{{"id":"e{i}","type":"comment.added","ticket_id":"T-{t}","occurred_at":"{}",
                "data":{{"author":{{"kind":"{}"}},"public":true,"body":"{}"}}}}"#,
            at(2, *minutes),
            if *agent { "agent" } else { "customer" },
            if *urgent { "urgent" } else { "hi" }
        ),
        Op::Status { t, to } => format!(
            r#"{{"id":"e{i}","type":"status.changed","ticket_id":"T-{t}","occurred_at":"{}","data":{{"status":"{to}"}}}}"#,
            at(3, 0)
        ),
        Op::Csat { t, score } => format!(
            r#"{{"id":"e{i}","type":"csat.received","ticket_id":"T-{t}","occurred_at":"{}","data":{{"score":{score}}}}}"#,
            at(4, 0)
        ),
    };
    Event::decode_one(&json, Origin::External).expect("test event decodes")
}

fn seed() -> proptest::test_runner::RngSeed {
    use proptest::test_runner::RngSeed;
    match ProptestConfig::default().rng_seed {
        RngSeed::Random => RngSeed::Fixed(0x1dec_5a75_0001),
        chosen => chosen,
    }
}

/// When the index starts, relative to the traffic.
#[derive(Debug, Clone, Copy)]
enum Start {
    Before,
    Midway,
    After,
}

fn run(ops: &[Op], start: Start) -> (Store, Arc<Books>) {
    let books = books();
    let store = Store::in_memory().unwrap();
    let clock = Arc::new(ManualClock::new("2026-03-06T00:00:00Z".parse().unwrap()));
    let (writer, wh) = Writer::spawn(store.clone(), clock, WriterConfig::default());
    let processor = Processor::spawn(
        store.clone(),
        Arc::new(Src(books.clone())),
        ProcessorConfig::default(),
    );
    if matches!(start, Start::Before) {
        store.start_index(books.clone());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for (i, o) in ops.iter().enumerate() {
            if i == ops.len() / 2 && matches!(start, Start::Midway) {
                // Built in the background while events keep coming.
                store.start_index(books.clone());
            }
            let _ = writer
                .append(InputBatch {
                    events: vec![event(i, o)],
                    source: Source::Webhook { delivery: None },
                })
                .await;
        }
    });
    drop(writer);
    wh.join().unwrap();
    processor.join().unwrap();
    if matches!(start, Start::After) {
        store.build_index(&books).unwrap();
    }
    (store, books)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, rng_seed: seed(), ..ProptestConfig::default() })]

    #[test]
    fn the_index_and_its_statistics_equal_a_full_recomputation(
        ops in prop::collection::vec(op(), 1..80),
        start in prop::sample::select(vec![Start::Before, Start::Midway, Start::After]),
    ) {
        let (store, books) = run(&ops, start);
        let ix = store.index().expect("index started").clone();
        // Wait for a background build (bounded by the test's own run).
        while !ix.is_ready() {
            std::thread::yield_now();
        }
        let tickets = store.all_tickets().unwrap();
        let expected: Vec<Summary> = tickets.values().map(|t| Summary::of(t, &books)).collect();
        let mut got: Vec<Summary> = ix.read(|s| s.all().to_vec()).unwrap();
        got.sort_by(|a, b| a.id.cmp(&b.id));
        prop_assert_eq!(&got, &expected);
        for (from, to) in [
            ("2026-03-01T00:00:00Z", "2026-03-08T00:00:00Z"),
            ("2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z"),
            ("2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z"),
        ] {
            let (from, to) = (from.parse().unwrap(), to.parse().unwrap());
            let full = stats(tickets.values(), from, to);
            let indexed = ix.read(|s| from_facts(s.all().iter().map(|x| &x.facts), from, to)).unwrap();
            prop_assert_eq!(indexed, full);
        }
    }
}

#[test]
fn summaries_carry_the_clock_state_the_queue_sorts_on() {
    let ops = vec![
        Op::Create {
            t: 1,
            channel: 0,
            team: 1,
            tier: 1,
            prio: 3,
            day: 0,
        },
        Op::Create {
            t: 2,
            channel: 1,
            team: 0,
            tier: 0,
            prio: 1,
            day: 0,
        },
        Op::Status {
            t: 2,
            to: "pending",
        },
    ];
    let (store, _) = run(&ops, Start::Before);
    let ix = store.index().unwrap();
    while !ix.is_ready() {
        std::thread::yield_now();
    }
    ix.read(|s| {
        let vip = s.get("T-1").unwrap();
        assert_eq!(vip.facts.sla.as_deref(), Some("vip"));
        assert_eq!(vip.sla, escalier_store::summary::SlaState::Running);
        assert_eq!(
            vip.next_breach,
            Some("2026-03-06T00:30:00Z".parse().unwrap()),
            "first response 30 minutes after it was recorded"
        );
        assert_eq!(vip.facts.team.as_deref(), Some("team-1"));
        let paused = s.get("T-2").unwrap();
        assert_eq!(paused.sla, escalier_store::summary::SlaState::Paused);
        assert_eq!(paused.next_breach, None);
    })
    .unwrap();
}
