//! The processor queues plugin requests and notifications in the outbox in
//! the same transaction as the records that ask for them, each with a row
//! in `deliveries` (pending, or held until `hold_until`).

use std::sync::Arc;

use escalier_core::event::{EventKind, Origin};
use escalier_core::{
    Event, ManualClock, Producer, Reaction, Reactor, Record, Source, Ticket, Timestamp,
};
use escalier_store::outbox::{DeliveryState, OutboxEntry, OutboxRequest};
use escalier_store::{
    InputBatch, Processor, ProcessorConfig, ReactorSource, Store, Writer, WriterConfig,
};

const HOLD: &str = "2026-03-03T09:00:00Z";

/// On a new ticket: one plugin request, and one notification held by quiet hours.
struct Asks;

impl Reactor for Asks {
    fn wants(&self, t: &str) -> bool {
        t == "ticket.created"
    }

    fn react(&self, _: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        let producer = Producer::Policy {
            policy: "test.rhai".into(),
            hash: "sha256:0".into(),
        };
        let seq = record.seq;
        let http = format!(
            r#"{{"delivery_id":"dlv:{seq}.1:writeback:0","plugin":"writeback","method":"PUT","url":"https://acme.zendesk.com/api/v2/tickets/1.json","body":"{{}}"}}"#
        );
        let ntf = format!(
            r#"{{"delivery_id":"ntf:{seq}.2:duty","target":"duty","kind":"email","channel":"duty","message":"m",
                "hold_until":"{HOLD}","why":{{"producer":"test.rhai"}},
                "ticket":{{"id":"T-1","subject":"s","status":"new","priority":"normal","tier":1}}}}"#
        );
        for (t, data) in [
            ("delivery.requested", http),
            ("notification.requested", ntf),
        ] {
            out.push(Reaction {
                producer: producer.clone(),
                kind: EventKind::decode(t, &data, Origin::Internal).unwrap(),
            });
        }
    }
}

struct Source1;
impl ReactorSource for Source1 {
    fn reactors(&self, _: Option<&str>) -> Vec<Arc<dyn Reactor + Send + Sync>> {
        vec![Arc::new(Asks)]
    }
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn requests_and_notifications_enter_the_outbox_with_their_delivery_rows() {
    let store = Store::in_memory().unwrap();
    let clock = Arc::new(ManualClock::new(t("2026-03-02T09:00:00Z")));
    let (writer, wh) = Writer::spawn(store.clone(), clock, WriterConfig::default());
    let processor = Processor::spawn(store.clone(), Arc::new(Source1), ProcessorConfig::default());
    let created = Event::decode_one(
        r#"{"id":"c1","type":"ticket.created","ticket_id":"T-1","occurred_at":"2026-03-02T09:00:00Z",
            "data":{"subject":"s","requester":{"id":"c1"},"channel":"email"}}"#,
        Origin::External,
    )
    .unwrap();
    writer
        .append_blocking(InputBatch {
            events: vec![created],
            source: Source::Webhook { delivery: None },
        })
        .unwrap();
    drop(writer);
    wh.join().unwrap();
    processor.join().unwrap();

    let timeline = store.timeline("T-1").unwrap();
    assert!(
        timeline
            .iter()
            .any(|r| r.event.type_name() == "notification.requested")
    );
    assert_eq!(store.outbox_len().unwrap(), 2);
    // Due now: only the plugin request; the notification waits for its hold.
    let now = store.outbox_due(t("2026-03-02T09:00:00Z"), 10).unwrap();
    let ids: Vec<&str> = now.iter().map(|(_, e)| e.request.delivery_id()).collect();
    assert_eq!(ids, ["dlv:1.1:writeback:0"]);
    assert!(matches!(now[0].1.request, OutboxRequest::Http(_)));
    let later = store.outbox_due(t(HOLD), 10).unwrap();
    assert_eq!(later.len(), 2);
    assert!(
        later
            .iter()
            .any(|(_, e)| matches!(e.request, OutboxRequest::Notification(_)))
    );

    let http = store.delivery("dlv:1.1:writeback:0").unwrap().unwrap();
    assert_eq!(
        (http.state, http.kind.as_str()),
        (DeliveryState::Pending, "http")
    );
    assert_eq!(http.plugin.as_deref(), Some("writeback"));
    assert_eq!((http.attempts, http.next_at), (0, None));
    let ntf = store.delivery("ntf:1.2:duty").unwrap().unwrap();
    assert_eq!(
        (ntf.state, ntf.kind.as_str()),
        (DeliveryState::Held, "email")
    );
    assert_eq!(
        (ntf.target.as_deref(), ntf.next_at),
        (Some("duty"), Some(t(HOLD)))
    );
    assert_eq!(ntf.ticket_id, "T-1");

    let listed = |st| {
        let (rows, next) = store.deliveries(Some(st), None, 10, None).unwrap();
        assert_eq!(next, None);
        rows.into_iter().map(|r| r.delivery_id).collect::<Vec<_>>()
    };
    assert_eq!(listed(DeliveryState::Pending), ["dlv:1.1:writeback:0"]);
    assert_eq!(listed(DeliveryState::Held), ["ntf:1.2:duty"]);
    assert!(listed(DeliveryState::Failed).is_empty());
    let (mine, _) = store.deliveries(None, Some("T-1"), 10, None).unwrap();
    assert_eq!(mine.len(), 2);
    let (other, _) = store.deliveries(None, Some("T-2"), 10, None).unwrap();
    assert!(other.is_empty());

    // `escalier verify` finds the deliveries, their index and the outbox in agreement.
    let books = escalier_core::Books::empty();
    let report = store
        .verify(|t, r| {
            escalier_core::timers::replay(t.clone(), r, &books)
                .ok()
                .or(t)
        })
        .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

#[test]
fn outbox_rows_written_before_notifications_still_read() {
    // An entry as stored before `OutboxRequest` existed: a plain DeliveryRequested.
    let old = r#"{"ticket_id":"T-1","request":{"delivery_id":"dlv:7.1:notify-http:0","plugin":"notify-http","method":"POST","url":"https://hooks.example.com/x","body":"{}","sign":true},"attempts":2,"first_attempt_at":"2026-03-02T09:00:00Z","last_error":"HTTP 503"}"#;
    let entry: OutboxEntry = serde_json::from_str(old).unwrap();
    let OutboxRequest::Http(d) = &entry.request else {
        panic!("{entry:?}")
    };
    assert!(d.sign);
    assert_eq!((entry.attempts, entry.conflicts), (2, 0));
    // Written back the same way: still a plain request, readable by an older build.
    let again = serde_json::to_value(&entry).unwrap();
    assert_eq!(again["request"]["plugin"], "notify-http");
    assert!(again.get("conflicts").is_none());
}
