//! The worker against a scripted [`Deliver`] and a manual clock: what it
//! records in the outbox, the deliveries table and its index, and on the
//! ticket's timeline.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use escalier_core::event::{DeliveryRequested, Origin};
use escalier_core::{Clock, Event, EventKind, ManualClock, Source, Timestamp};
use escalier_store::outbox::{DeliveryRow, DeliveryState, OutboxEntry, OutboxRequest};
use escalier_store::{InputBatch, Processor, ProcessorConfig, Store, Writer, WriterConfig};
use jiff::SignedDuration;

use super::{NO_NOTIFIER, Worker};
use crate::retry::RetrySchedule;
use crate::{Deliver, DeliverFuture, DeliveryOutcome};

/// Answers with the scripted outcomes in order (then 200), and counts calls.
#[derive(Default)]
struct Script {
    outcomes: Mutex<VecDeque<DeliveryOutcome>>,
    seen: Mutex<Vec<String>>,
}

impl Script {
    fn new(outcomes: Vec<DeliveryOutcome>) -> Arc<Script> {
        Arc::new(Script {
            outcomes: Mutex::new(outcomes.into()),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Deliver for Script {
    fn deliver<'a>(&'a self, entry: &'a OutboxEntry) -> DeliverFuture<'a> {
        self.seen
            .lock()
            .unwrap()
            .push(entry.request.delivery_id().to_owned());
        let next = self
            .outcomes
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(DeliveryOutcome::Delivered { status: 200 });
        Box::pin(async move { next })
    }
}

struct Rig {
    store: Store,
    clock: Arc<ManualClock>,
    worker: Worker,
    processor: Option<Processor>,
}

fn start() -> Timestamp {
    "2026-03-02T09:00:00Z".parse().unwrap()
}

impl Rig {
    async fn new(http: Arc<Script>, notifications: Option<Arc<Script>>) -> Rig {
        let store = Store::in_memory().unwrap();
        let clock = Arc::new(ManualClock::new(start()));
        let (writer, _wh) = Writer::spawn(store.clone(), clock.clone(), WriterConfig::default());
        let processor = Processor::spawn(store.clone(), Arc::new(()), ProcessorConfig::default());
        let created = Event::decode_one(
            r#"{"id":"c1","type":"ticket.created","ticket_id":"T-1","occurred_at":"2026-03-02T09:00:00Z",
                "data":{"subject":"Printer on fire","requester":{"id":"c1"},"channel":"email"}}"#,
            Origin::External,
        )
        .unwrap();
        writer
            .append(InputBatch {
                events: vec![created],
                source: Source::Webhook { delivery: None },
            })
            .await
            .unwrap();
        let worker = Worker {
            store: store.clone(),
            writer,
            http,
            notifications: notifications.map(|n| n as Arc<dyn Deliver>),
            clock: clock.clone(),
            concurrency: 8,
            schedule: RetrySchedule::default(),
        };
        Rig {
            store,
            clock,
            worker,
            processor: Some(processor),
        }
    }

    fn enqueue(&self, request: OutboxRequest, due: Timestamp) {
        self.store
            .outbox_enqueue(&OutboxEntry::new("T-1", request), due, self.clock.now())
            .unwrap();
    }

    fn advance(&self, secs: i64) {
        self.clock.advance(SignedDuration::from_secs(secs)).unwrap();
    }

    fn row(&self, id: &str) -> DeliveryRow {
        self.store.delivery(id).unwrap().expect("a delivery row")
    }

    /// The ids listed under each state, and all ids of the ticket.
    fn listed(&self, state: DeliveryState) -> Vec<String> {
        let (rows, _) = self.store.deliveries(Some(state), None, 100, None).unwrap();
        rows.into_iter().map(|r| r.delivery_id).collect()
    }

    /// Every state's listing agrees with every row: each delivery is
    /// listed exactly under its own state, under all, and under its ticket.
    fn assert_index_agrees(&self, ids: &[&str]) {
        for id in ids {
            let row = self.row(id);
            for st in DeliveryState::ALL {
                let listed = self.listed(st).iter().any(|x| x == id);
                assert_eq!(listed, st == row.state, "{id} listed under {st:?}");
            }
            let (all, _) = self.store.deliveries(None, None, 100, None).unwrap();
            assert_eq!(all.iter().filter(|r| r.delivery_id == *id).count(), 1);
            let (mine, _) = self.store.deliveries(None, Some("T-1"), 100, None).unwrap();
            assert_eq!(mine.iter().filter(|r| r.delivery_id == *id).count(), 1);
        }
    }

    /// The ticket's timeline after everything appended so far is processed.
    async fn timeline(&self) -> Vec<EventKind> {
        let committed = self.store.progress().committed();
        assert!(
            self.store
                .progress()
                .wait_processed(committed, Duration::from_secs(30))
                .await,
            "the processor caught up"
        );
        self.store
            .timeline("T-1")
            .unwrap()
            .into_iter()
            .map(|r| r.event.kind)
            .collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        // The writer stops when its last handle goes; the processor then.
        drop(self.processor.take());
    }
}

fn http(id: &str) -> OutboxRequest {
    OutboxRequest::Http(DeliveryRequested {
        delivery_id: id.to_owned(),
        plugin: "zendesk-writeback".into(),
        method: "PUT".into(),
        url: "https://acme.zendesk.com/api/v2/tickets/1.json".into(),
        headers: Vec::new(),
        body: "{}".into(),
        sign: false,
        auth: None,
    })
}

fn notification(id: &str, hold_until: Option<Timestamp>) -> OutboxRequest {
    let mut v = serde_json::json!({
        "delivery_id": id,
        "target": "duty-manager",
        "kind": "email",
        "urgent": false,
        "channel": "duty-manager",
        "message": "Ticket T-1 needs you",
        "why": {"producer": "policies/vip.rhai"},
        "ticket": {"id": "T-1", "subject": "Printer on fire", "status": "open", "priority": "normal", "tier": 1}
    });
    if let Some(h) = hold_until {
        v["hold_until"] = serde_json::json!(h.to_string());
    }
    OutboxRequest::Notification(serde_json::from_value(v).unwrap())
}

fn unavailable() -> DeliveryOutcome {
    DeliveryOutcome::Retry {
        reason: "HTTP 503: maintenance".into(),
        after: Some(Duration::from_secs(120)),
        status: Some(503),
    }
}

#[tokio::test]
async fn a_retried_delivery_is_recorded_retrying_then_delivered() {
    let script = Script::new(vec![
        unavailable(),
        DeliveryOutcome::Delivered { status: 204 },
    ]);
    let rig = Rig::new(script.clone(), None).await;
    let id = "dlv:2.1:zendesk-writeback:0";
    rig.enqueue(http(id), rig.clock.now());
    assert_eq!(rig.row(id).state, DeliveryState::Pending);
    rig.assert_index_agrees(&[id]);

    assert_eq!(rig.worker.run_once().await.unwrap(), 1);
    let row = rig.row(id);
    assert_eq!(row.state, DeliveryState::Retrying);
    assert_eq!(row.attempts, 1);
    assert_eq!(row.status, Some(503));
    let next = row.next_at.expect("a next attempt");
    assert!(next >= start() + SignedDuration::from_secs(120), "{next}");
    assert_eq!(row.reason.as_deref(), Some("HTTP 503: maintenance"));
    rig.assert_index_agrees(&[id]);

    // Not due yet: nothing is attempted.
    assert_eq!(rig.worker.run_once().await.unwrap(), 0);
    assert_eq!(script.calls(), 1);

    rig.advance(3600);
    assert_eq!(rig.worker.run_once().await.unwrap(), 1);
    let row = rig.row(id);
    assert_eq!(row.state, DeliveryState::Delivered);
    assert_eq!(
        (row.attempts, row.status, row.next_at),
        (2, Some(204), None)
    );
    assert_eq!(rig.store.outbox_len().unwrap(), 0);
    rig.assert_index_agrees(&[id]);

    let timeline = rig.timeline().await;
    let retrying = timeline.iter().find_map(|k| match k {
        EventKind::DeliveryRetrying(r) => Some(r.clone()),
        _ => None,
    });
    let retrying = retrying.expect("delivery.retrying on the timeline");
    assert_eq!(retrying.attempt, 1);
    assert_eq!(retrying.next_at, next);
    assert_eq!(retrying.status, Some(503));
    assert_eq!(retrying.plugin.as_deref(), Some("zendesk-writeback"));
    let delivered = timeline.iter().find_map(|k| match k {
        EventKind::DeliveryDelivered(d) => Some(d.clone()),
        _ => None,
    });
    let delivered = delivered.expect("delivery.delivered on the timeline");
    assert_eq!((delivered.attempts, delivered.status), (2, 204));
    assert!(
        rig.store
            .seq_of(&format!("delivered:{id}"))
            .unwrap()
            .is_some()
    );
    assert!(
        rig.store
            .seq_of(&format!("retrying:{id}:1"))
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_client_error_fails_at_once_with_the_receivers_body() {
    let script = Script::new(vec![DeliveryOutcome::Failed {
        reason: "HTTP 422: invalid".into(),
        status: Some(422),
        body: Some("{\"error\":\"RecordInvalid\"}".into()),
    }]);
    let rig = Rig::new(script.clone(), None).await;
    let id = "dlv:3.1:zendesk-writeback:0";
    rig.enqueue(http(id), rig.clock.now());
    assert_eq!(rig.worker.run_once().await.unwrap(), 1);
    let row = rig.row(id);
    assert_eq!(row.state, DeliveryState::Failed);
    assert_eq!((row.attempts, row.status), (1, Some(422)));
    assert_eq!(rig.store.outbox_len().unwrap(), 0, "never retried");
    rig.assert_index_agrees(&[id]);
    rig.advance(86_400);
    assert_eq!(rig.worker.run_once().await.unwrap(), 0);
    assert_eq!(script.calls(), 1);

    let timeline = rig.timeline().await;
    let failed = timeline
        .iter()
        .find_map(|k| match k {
            EventKind::DeliveryFailed(f) => Some(f.clone()),
            _ => None,
        })
        .expect("delivery.failed on the timeline");
    assert_eq!(failed.status, Some(422));
    assert_eq!(
        failed.response.as_deref(),
        Some("{\"error\":\"RecordInvalid\"}")
    );
    assert_eq!(failed.plugin.as_deref(), Some("zendesk-writeback"));
    assert_eq!(failed.attempts, 1);
    assert!(!timeline.iter().any(|k| matches!(
        k,
        EventKind::DeliveryRetrying(_) | EventKind::DeliveryDelivered(_)
    )));
}

#[tokio::test]
async fn a_conflict_is_retried_and_fails_on_the_third() {
    let conflict = || DeliveryOutcome::Retry {
        reason: "HTTP 409: conflict".into(),
        after: None,
        status: Some(409),
    };
    let script = Script::new(vec![conflict(), conflict(), conflict(), conflict()]);
    let rig = Rig::new(script.clone(), None).await;
    let id = "dlv:4.1:zendesk-writeback:0";
    rig.enqueue(http(id), rig.clock.now());
    for attempt in 1..=3 {
        assert_eq!(rig.worker.run_once().await.unwrap(), 1, "attempt {attempt}");
        rig.advance(3600);
    }
    assert_eq!(script.calls(), 3);
    let row = rig.row(id);
    assert_eq!((row.state, row.attempts), (DeliveryState::Failed, 3));
    assert!(row.reason.unwrap().contains("conflict on 3 attempts"));
    assert_eq!(rig.worker.run_once().await.unwrap(), 0);
    rig.assert_index_agrees(&[id]);
}

#[tokio::test]
async fn a_held_notification_waits_and_goes_to_the_notifier() {
    let http_script = Script::new(Vec::new());
    let notifier = Script::new(vec![DeliveryOutcome::Delivered { status: 250 }]);
    let rig = Rig::new(http_script.clone(), Some(notifier.clone())).await;
    let id = "ntf:5.1:duty-manager";
    let opens = start() + SignedDuration::from_hours(48);
    rig.enqueue(notification(id, Some(opens)), opens);
    let row = rig.row(id);
    assert_eq!((row.state, row.next_at), (DeliveryState::Held, Some(opens)));
    assert_eq!(row.kind, "email");
    assert_eq!(row.target.as_deref(), Some("duty-manager"));
    rig.assert_index_agrees(&[id]);

    rig.advance(47 * 3600);
    assert_eq!(
        rig.worker.run_once().await.unwrap(),
        0,
        "held until it opens"
    );
    rig.advance(3600);
    assert_eq!(rig.worker.run_once().await.unwrap(), 1);
    assert_eq!((notifier.calls(), http_script.calls()), (1, 0));
    assert_eq!(rig.row(id).state, DeliveryState::Delivered);
    rig.assert_index_agrees(&[id]);
    let timeline = rig.timeline().await;
    assert!(timeline.iter().any(|k| matches!(k,
        EventKind::DeliveryDelivered(d) if d.target.as_deref() == Some("duty-manager") && d.plugin.is_none() && d.status == 250)));
}

#[tokio::test]
async fn a_notification_without_a_notifier_fails_saying_so() {
    let rig = Rig::new(Script::new(Vec::new()), None).await;
    let id = "ntf:6.1:duty-manager";
    rig.enqueue(notification(id, None), rig.clock.now());
    assert_eq!(rig.worker.run_once().await.unwrap(), 1);
    let row = rig.row(id);
    assert_eq!(row.state, DeliveryState::Failed);
    assert_eq!(row.reason.as_deref(), Some(NO_NOTIFIER));
}

#[tokio::test]
async fn listings_page_newest_first() {
    let script = Script::new(Vec::new());
    let rig = Rig::new(script, None).await;
    let ids: Vec<String> = (0..5).map(|n| format!("dlv:{}.1:p:0", 10 + n)).collect();
    for id in &ids {
        rig.enqueue(http(id), rig.clock.now());
        rig.advance(1);
    }
    let (page, next) = rig
        .store
        .deliveries(Some(DeliveryState::Pending), None, 2, None)
        .unwrap();
    let got: Vec<&str> = page.iter().map(|r| r.delivery_id.as_str()).collect();
    assert_eq!(got, [ids[4].as_str(), ids[3].as_str()]);
    let cursor = next.expect("more to come");
    let parsed = escalier_store::outbox::DeliveryCursor::parse(&cursor.to_string()).unwrap();
    assert_eq!(parsed, cursor);
    let (page, next) = rig
        .store
        .deliveries(Some(DeliveryState::Pending), None, 3, Some(&cursor))
        .unwrap();
    let got: Vec<&str> = page.iter().map(|r| r.delivery_id.as_str()).collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]);
    assert_eq!(next, None);
    let (none, _) = rig
        .store
        .deliveries(Some(DeliveryState::Failed), Some("T-1"), 10, None)
        .unwrap();
    assert!(none.is_empty());
}

/// Panics on every attempt.
struct Panics;

impl Deliver for Panics {
    fn deliver<'a>(&'a self, _: &'a OutboxEntry) -> DeliverFuture<'a> {
        Box::pin(async move { panic!("a bug in a Deliver") })
    }
}

#[tokio::test]
async fn a_panicking_deliver_is_a_retried_attempt_not_a_stuck_entry() {
    let mut rig = Rig::new(Script::new(Vec::new()), None).await;
    rig.worker.http = Arc::new(Panics);
    let id = "dlv:7.1:p:0";
    rig.enqueue(http(id), rig.clock.now());
    assert_eq!(rig.worker.run_once().await.unwrap(), 1);
    let row = rig.row(id);
    assert_eq!((row.state, row.attempts), (DeliveryState::Retrying, 1));
    assert_eq!(row.reason.as_deref(), Some("the delivery attempt panicked"));
    assert_eq!(
        rig.worker.run_once().await.unwrap(),
        0,
        "not due again at once"
    );
}
