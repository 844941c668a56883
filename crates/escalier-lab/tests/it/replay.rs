//! Replay against the real pipeline: logs recorded by the store's writer,
//! processor and scheduler (in memory, on a manual clock moved from one
//! due instant to the next) replay to an empty diff with the same
//! policies, and to exactly the expected diff with a changed threshold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use escalier_core::action::Note;
use escalier_core::event::{EventKind, Origin};
use escalier_core::ticket::ApprovalState;
use escalier_core::timers::Books;
use escalier_core::{
    Action, Clock, Event, ManualClock, Producer, Reaction, Reactor, Record, Source, Status, Ticket,
    Timestamp,
};
use escalier_lab::policies::{Extras, Policies};
use escalier_lab::replay::{
    Notifier, PluginRef, PluginRunner, Replay, ReplayOptions, ReplayReport,
};
use escalier_lab::sim::SharedReactor;
use escalier_lab::traffic::{GenOptions, Generator};
use escalier_policy::PolicyEngine;
use escalier_store::{
    InputBatch, Processor, ProcessorConfig, ReactorSource, Scheduler, SchedulerConfig, Store,
    Writer, WriterConfig,
};
use jiff::SignedDuration;
use proptest::prelude::*;

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

/// An urgent outage starts the major-incident ladder, so ladders run too.
const LADDER_POLICY: &str = r#"
const ON = ["ticket.created", "ticket.updated"];
if ticket.priority == "urgent" && ticket.has_tag("outage") {
    start_ladder("major-incident", "Outage reported");
}
"#;

fn load(dir: &Path) -> Policies {
    let extras = Extras {
        policies: vec![(
            "test/major-incident.rhai".into(),
            LADDER_POLICY.into(),
            "(test)".into(),
        )],
        ..Extras::default()
    };
    Policies::load_with(&PolicyEngine::shared_default(), dir, &extras)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The policies, then (as the server runs them) the plugins and the
/// notifier, each a reactor of its own.
struct Serve(Arc<Policies>, Vec<SharedReactor>);

impl ReactorSource for Serve {
    fn reactors(&self, _pinned: Option<&str>) -> Vec<Arc<dyn Reactor + Send + Sync>> {
        let mut out = vec![Arc::clone(self.0.set()) as Arc<dyn Reactor + Send + Sync>];
        out.extend(self.1.clone());
        out
    }

    fn books(&self) -> Arc<Books> {
        Arc::clone(self.0.books())
    }
}

fn web() -> Source {
    Source::Webhook { delivery: None }
}

/// Run `events` through the store's writer, processor and scheduler, and
/// return the log. The clock visits every due instant before each event,
/// so ticks are recorded exactly when due; now and then an approval a
/// policy asked for is decided through the API path.
fn record(policies: &Arc<Policies>, events: Vec<(Event, Timestamp)>) -> Vec<Record> {
    record_with(policies, None, events)
}

/// [`record`] with a plugin reactor run after the policies.
fn record_with(
    policies: &Arc<Policies>,
    plugins: Option<SharedReactor>,
    events: Vec<(Event, Timestamp)>,
) -> Vec<Record> {
    record_after(policies, plugins.into_iter().collect(), events)
}

/// [`record`] with reactors run after the policies, in turn.
fn record_after(
    policies: &Arc<Policies>,
    after: Vec<SharedReactor>,
    events: Vec<(Event, Timestamp)>,
) -> Vec<Record> {
    let store = Store::in_memory().unwrap();
    let start = events.first().map(|e| e.1).unwrap_or(Timestamp::UNIX_EPOCH);
    let clock = Arc::new(ManualClock::new(start));
    let (writer, writer_thread) =
        Writer::spawn(store.clone(), clock.clone(), WriterConfig::default());
    let processor = Processor::spawn(
        store.clone(),
        Arc::new(Serve(Arc::clone(policies), after)),
        ProcessorConfig {
            clock: clock.clone(),
            ..ProcessorConfig::default()
        },
    );
    let (scheduler, sched) = Scheduler::spawn(
        store.clone(),
        writer.clone(),
        clock.clone(),
        SchedulerConfig::default(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Settle once processing caught up: the scheduler then answers at once.
    let settle = async || {
        let committed = store.progress().committed();
        store
            .progress()
            .wait_processed(committed, std::time::Duration::from_secs(10))
            .await;
        sched.settle().await.unwrap();
    };
    rt.block_on(async {
        for (i, (event, at)) in events.into_iter().enumerate() {
            // Every deadline due before the event fires at its instant.
            loop {
                let at_ms = u64::try_from(at.as_millisecond()).unwrap();
                let next = store
                    .due_between(clock.now(), at)
                    .unwrap()
                    .into_iter()
                    .map(|(ms, _, _)| ms)
                    .find(|ms| *ms < at_ms);
                let Some(ms) = next else { break };
                clock.set(Timestamp::from_millisecond(ms as i64).unwrap()).unwrap();
                settle().await;
            }
            clock.set(at).unwrap();
            let ticket = event.ticket_id.clone();
            let _ = writer
                .append(InputBatch {
                    events: vec![event],
                    source: web(),
                })
                .await;
            settle().await;
            let pending = store.ticket(ticket.as_str()).unwrap().filter(|t| t.status != Status::Closed).and_then(|t| {
                t.approvals.iter().find(|a| a.state == ApprovalState::Pending).map(|a| a.id.clone())
            });
            if let Some(approval) = pending.filter(|_| i % 3 == 0) {
                let json = serde_json::json!({
                    "id": format!("decision-{i}"), "type": "approval.decided", "ticket_id": ticket, "occurred_at": at,
                    "data": {"approval_id": approval, "decision": "approved", "by": "supervisor"},
                });
                let decision = Event::decode_one(&json.to_string(), Origin::Internal).unwrap();
                writer
                    .append(InputBatch {
                        events: vec![decision],
                        source: Source::Api { token: "ops".into() },
                    })
                    .await
                    .unwrap();
                settle().await;
            }
        }
    });
    sched.stop();
    scheduler.join().unwrap();
    drop(writer);
    writer_thread.join().unwrap();
    processor.join().unwrap();
    let mut log = Vec::new();
    store
        .for_each_record(|r| {
            log.push(r);
            Ok(())
        })
        .unwrap();
    log
}

fn traffic(seed: u64, n: usize, open: usize, gap_minutes: i64) -> Vec<(Event, Timestamp)> {
    let opts = GenOptions {
        seed,
        open_tickets: open,
        mean_gap: SignedDuration::from_mins(gap_minutes),
        ..GenOptions::default()
    };
    Generator::new(opts).take(n).collect()
}

fn replay(policies: &Policies, log: &[Record], threads: usize) -> ReplayReport {
    let opts = ReplayOptions {
        threads,
        ..ReplayOptions::default()
    };
    Replay::run(policies, opts, log.iter().cloned())
}

fn inputs_from_outside(log: &[Record]) -> u64 {
    log.iter()
        .filter(|r| r.index == 0 && r.source != Source::Scheduler)
        .count() as u64
}

/// Reproducible runs: cases come from a fixed seed unless
/// `PROPTEST_RNG_SEED` names another.
fn seed() -> proptest::test_runner::RngSeed {
    use proptest::test_runner::RngSeed;
    match ProptestConfig::default().rng_seed {
        RngSeed::Random => RngSeed::Fixed(0x7e91_a400_0001),
        chosen => chosen,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, rng_seed: seed(), ..ProptestConfig::default() })]

    /// Whatever the traffic, replaying a log with the policies that
    /// recorded it reproduces every derived record: actions, errors, SLA
    /// warnings, breaches and ladder steps.
    #[test]
    fn replaying_with_the_same_policies_gives_an_empty_diff(
        seed in any::<u64>(),
        n in 20usize..120,
        open in 2usize..8,
        gap in 1i64..90,
    ) {
        let policies = Arc::new(load(&policies_dir()));
        let log = record(&policies, traffic(seed, n, open, gap));
        for threads in [1, 2] {
            let report = replay(&policies, &log, threads);
            prop_assert!(report.is_empty(), "{threads} thread(s): {:#?}", report.tickets);
            prop_assert_eq!(report.counts.inputs, inputs_from_outside(&log));
            prop_assert_eq!(report.counts.refused, 0);
            prop_assert_eq!(report.counts.replayed, report.counts.recorded);
        }
    }
}

/// A copy of the example policies with the refund limit at `limit`.
fn with_refund_limit(limit: u32) -> (tempfile::TempDir, Policies) {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&policies_dir(), tmp.path());
    let file = tmp.path().join("approvals/refund-limit.rhai");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("const LIMIT = 100;"));
    std::fs::write(
        &file,
        text.replace("const LIMIT = 100;", &format!("const LIMIT = {limit};")),
    )
    .unwrap();
    let p = load(tmp.path());
    (tmp, p)
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What raising the refund limit must change, computed from the recorded
/// inputs alone: per ticket, the first create/update with an amount above
/// the old limit asked (recorded); the first above the new one asks now.
fn expected_refund_diff(
    log: &[Record],
    old: f64,
    new: f64,
) -> BTreeMap<String, (Option<u64>, Option<u64>)> {
    let mut amount: BTreeMap<String, Option<f64>> = BTreeMap::new();
    let mut asks: BTreeMap<String, (Option<u64>, Option<u64>)> = BTreeMap::new();
    for r in log.iter().filter(|r| r.index == 0) {
        let id = r.event.ticket_id.as_str().to_owned();
        let fields = match &r.event.kind {
            EventKind::TicketCreated(c) => &c.fields,
            EventKind::TicketUpdated(u) => &u.fields,
            _ => continue,
        };
        let slot = amount.entry(id.clone()).or_default();
        if let Some(v) = fields.get("refund_amount") {
            *slot = v.as_f64();
        }
        let a = asks.entry(id).or_default();
        if let Some(x) = *slot {
            if x > old && a.0.is_none() {
                a.0 = Some(r.seq);
            }
            if x > new && a.1.is_none() {
                a.1 = Some(r.seq);
            }
        }
    }
    asks.retain(|_, (a, b)| a.is_some() || b.is_some());
    asks
}

/// Trigger seqs of the approvals removed, added and changed on a ticket.
type Moves = (Vec<u64>, Vec<u64>, Vec<u64>);

#[test]
fn a_raised_refund_limit_changes_exactly_the_expected_approvals() {
    let policies = Arc::new(load(&policies_dir()));
    let (_tmp, candidate) = with_refund_limit(500);
    let mut checked = 0;
    for seed in [7, 8, 9] {
        let log = record(&policies, traffic(seed, 150, 6, 20));
        let report = replay(&candidate, &log, 2);
        let expected = expected_refund_diff(&log, 100.0, 500.0);
        let mut got: BTreeMap<String, Moves> = BTreeMap::new();
        let seq_of = |t: &escalier_lab::diff::Trigger| match t {
            escalier_lab::diff::Trigger::Input { seq, .. } => *seq,
            other => panic!("refund approvals follow inputs, not {other:?}"),
        };
        for t in &report.tickets {
            let e = got.entry(t.ticket_id.clone()).or_default();
            e.0.extend(t.removed.iter().map(|i| seq_of(&i.trigger)));
            e.1.extend(t.added.iter().map(|i| seq_of(&i.trigger)));
            e.2.extend(t.changed.iter().map(|c| seq_of(&c.before.trigger)));
            for item in t
                .removed
                .iter()
                .chain(&t.added)
                .chain(t.changed.iter().map(|c| &c.after))
            {
                assert_eq!(
                    (item.ty.as_str(), item.by.as_str()),
                    ("action.require_approval", "approvals/refund-limit.rhai")
                );
            }
            for c in &t.changed {
                assert_eq!(c.fields, ["reason"]);
                assert!(
                    c.after.data["reason"]
                        .as_str()
                        .unwrap()
                        .ends_with("frontline limit of 500")
                );
            }
        }
        let want: BTreeMap<String, Moves> = expected
            .iter()
            .filter_map(|(id, (old, new))| {
                let entry = match (old, new) {
                    (Some(a), Some(b)) if a == b => (vec![], vec![], vec![*a]),
                    (Some(a), Some(b)) => (vec![*a], vec![*b], vec![]),
                    (Some(a), None) => (vec![*a], vec![], vec![]),
                    _ => return None,
                };
                Some((id.clone(), entry))
            })
            .collect();
        assert_eq!(got, want, "seed {seed}");
        if !want.is_empty() {
            let text = escalier_lab::replay::render(&report, 100);
            assert!(text.contains("action.require_approval"), "{text}");
            assert!(
                text.contains(&format!("{} tickets differ", want.len())),
                "{text}"
            );
        }
        let types: Vec<&String> = report
            .summary
            .by_type
            .iter()
            .filter(|(_, c)| c.differs())
            .map(|(t, _)| t)
            .collect();
        assert!(
            types.is_empty() || types == ["action.require_approval"],
            "{types:?}"
        );
        checked += want.len();
    }
    assert!(
        checked >= 5,
        "the traffic must hit the threshold: {checked} tickets"
    );
}

#[test]
fn a_window_starts_from_the_recorded_tickets() {
    let policies = Arc::new(load(&policies_dir()));
    let log = record(&policies, traffic(11, 120, 5, 15));
    let mid = log.iter().filter(|r| r.index == 0).nth(60).unwrap();
    let opts = ReplayOptions {
        from_seq: Some(mid.seq),
        ..ReplayOptions::default()
    };
    let report = Replay::run(&policies, opts, log.iter().cloned());
    assert!(report.is_empty(), "{:#?}", report.tickets);
    assert_eq!(report.window.first_seq, Some(mid.seq));
    assert!(report.counts.before_window >= 60);
    let since = mid.recorded_at;
    let opts = ReplayOptions {
        since: Some(since),
        threads: 2,
        ..ReplayOptions::default()
    };
    assert!(Replay::run(&policies, opts, log.iter().cloned()).is_empty());
}

#[test]
fn the_traffic_exercises_what_replay_must_reproduce() {
    let policies = Arc::new(load(&policies_dir()));
    let log = record(&policies, traffic(3, 300, 6, 30));
    let has = |pred: &dyn Fn(&Record) -> bool| log.iter().any(pred);
    assert!(has(&|r| r.event.type_name() == "sla.breached"));
    assert!(has(&|r| r.event.type_name() == "ladder.level_reached"));
    assert!(has(&|r| matches!(
        r.event.kind,
        EventKind::ApprovalDecided(_)
    )));
    assert!(has(&|r| matches!(
        r.event.kind,
        EventKind::Action(Action::Escalate(_))
    )));
    assert!(has(&|r| r.source == Source::Scheduler));
    let report = replay(&policies, &log, 1);
    assert!(report.is_empty(), "{:#?}", report.tickets);
}

/// A plugin stand-in: notes every escalation and SLA breach, naming the
/// record it saw, whose id carries its log position (as a real plugin's
/// approval and delivery ids do).
struct Noter;

impl Reactor for Noter {
    fn wants(&self, event_type: &str) -> bool {
        event_type == "action.escalate" || event_type == "sla.breached"
    }

    fn react(&self, _: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        out.push(Reaction {
            producer: Producer::Plugin {
                plugin: "noter".into(),
                version: "1.0.0".into(),
                hash: "sha256:0123456789abcdef".into(),
            },
            kind: EventKind::Action(Action::Note(Note {
                text: format!("saw {} {}", record.event.type_name(), record.event.id),
            })),
        });
    }
}

impl PluginRunner for Noter {
    fn reactor(&self) -> SharedReactor {
        Arc::new(Noter)
    }

    fn plugins(&self) -> Vec<PluginRef> {
        vec![PluginRef {
            name: "noter".into(),
            version: "1.0.0".into(),
            hash: "sha256:0123456789abcdef".into(),
        }]
    }
}

#[test]
fn plugins_replay_at_the_recorded_positions_and_their_records_are_compared() {
    let policies = Arc::new(load(&policies_dir()));
    let log = record_with(&policies, Some(Arc::new(Noter)), traffic(3, 300, 6, 30));
    let notes = |f: &dyn Fn(&str) -> bool| {
        log.iter()
            .filter(|r| r.source.producer_name() == "noter")
            .filter(|r| matches!(&r.event.kind, EventKind::Action(Action::Note(n)) if f(&n.text)))
            .count()
    };
    assert!(
        notes(&|t| t.starts_with("saw sla.breached")) > 0,
        "ticks' records are noted"
    );
    assert!(notes(&|t| t.starts_with("saw action.escalate")) > 0);
    for threads in [1, 2] {
        let opts = ReplayOptions {
            plugins: Some(Arc::new(Noter)),
            threads,
            ..ReplayOptions::default()
        };
        let report = Replay::run(&policies, opts, log.iter().cloned());
        assert!(
            report.is_empty(),
            "{threads} thread(s): {:#?}",
            report.tickets
        );
        assert_eq!(report.counts.plugin_records, 0);
        assert_eq!(report.counts.replayed, report.counts.recorded);
        assert_eq!(
            report.summary.by_policy["noter"].unchanged as usize,
            notes(&|_| true)
        );
        assert_eq!(report.candidate.plugins.len(), 1);
    }
    // Without the plugin its records are left out, counted, and said so.
    let report = replay(&policies, &log, 1);
    assert_eq!(report.counts.plugin_records as usize, notes(&|_| true));
    assert!(
        report.notes[0].contains("no plugins were run"),
        "{:?}",
        report.notes
    );
}

/// A plugin stand-in that lowers the priority of every escalated ticket.
struct Lowerer;

impl Reactor for Lowerer {
    fn wants(&self, event_type: &str) -> bool {
        event_type == "action.escalate"
    }

    fn react(&self, _: &Arc<Ticket>, _: &Arc<Record>, out: &mut Vec<Reaction>) {
        out.push(Reaction {
            producer: Producer::Plugin {
                plugin: "lowerer".into(),
                version: "1.0.0".into(),
                hash: "sha256:0123456789abcdef".into(),
            },
            kind: EventKind::Action(Action::SetPriority(escalier_core::action::SetPriority {
                priority: escalier_core::vocab::Priority::Low,
            })),
        });
    }
}

impl PluginRunner for Lowerer {
    fn reactor(&self) -> SharedReactor {
        Arc::new(Lowerer)
    }

    fn plugins(&self) -> Vec<PluginRef> {
        vec![PluginRef {
            name: "lowerer".into(),
            version: "1.0.0".into(),
            hash: "sha256:0123456789abcdef".into(),
        }]
    }
}

/// A notifier stand-in: on every escalation, a system record naming the
/// ticket's priority as it sees it (the real notifier's urgency and
/// PagerDuty severity come from the priority).
struct Pager;

impl Reactor for Pager {
    fn wants(&self, event_type: &str) -> bool {
        event_type == "action.escalate"
    }

    fn react(&self, ticket: &Arc<Ticket>, _: &Arc<Record>, out: &mut Vec<Reaction>) {
        out.push(Reaction {
            producer: Producer::System,
            kind: EventKind::Action(Action::Note(Note {
                text: format!("page at priority {}", ticket.priority),
            })),
        });
    }
}

fn pages(log: &[Record], priority: &str) -> usize {
    log.iter()
        .filter(|r| {
            matches!(&r.event.kind, EventKind::Action(Action::Note(n))
                if n.text == format!("page at priority {priority}"))
        })
        .count()
}

#[test]
fn the_notifier_runs_after_the_plugins_as_its_own_reactor_as_in_the_server() {
    let policies = Arc::new(load(&policies_dir()));
    // Recorded as the server runs them: policies, plugins, notifier.
    let log = record_after(
        &policies,
        vec![Arc::new(Lowerer), Arc::new(Pager)],
        traffic(3, 300, 6, 30),
    );
    assert!(
        pages(&log, "low") > 0,
        "the notifier saw the priority the plugin set"
    );
    for threads in [1, 2] {
        let opts = ReplayOptions {
            plugins: Some(Arc::new(Lowerer)),
            notify: Some(Notifier(Arc::new(Pager))),
            threads,
            ..ReplayOptions::default()
        };
        let report = Replay::run(&policies, opts, log.iter().cloned());
        assert!(
            report.is_empty(),
            "{threads} thread(s): {:#?}",
            report.tickets
        );
        assert!(
            report.notes.iter().any(|n| n.contains("notify.toml")),
            "{:?}",
            report.notes
        );
    }
    // Run in the plugins' step instead, the notifier sees the priority
    // before the plugin's change, and its records differ.
    let opts = ReplayOptions {
        plugins: Some(Arc::new(OneStep)),
        ..ReplayOptions::default()
    };
    let report = Replay::run(&policies, opts, log.iter().cloned());
    assert!(
        report.summary.by_type["action.note"].changed > 0,
        "{:#?}",
        report.summary
    );
}

/// The plugin and the notifier in one reactor: what a replay must not do.
struct OneStep;

impl Reactor for OneStep {
    fn wants(&self, event_type: &str) -> bool {
        event_type == "action.escalate"
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        Lowerer.react(ticket, record, out);
        Pager.react(ticket, record, out);
    }
}

impl PluginRunner for OneStep {
    fn reactor(&self) -> SharedReactor {
        Arc::new(OneStep)
    }

    fn plugins(&self) -> Vec<PluginRef> {
        Lowerer.plugins()
    }
}

#[test]
fn the_notifier_runs_without_plugins_and_its_records_compare() {
    let policies = Arc::new(load(&policies_dir()));
    let log = record_after(&policies, vec![Arc::new(Pager)], traffic(3, 300, 6, 30));
    let paged = log
        .iter()
        .filter(|r| matches!(&r.event.kind, EventKind::Action(Action::Note(n)) if n.text.starts_with("page at")))
        .count();
    assert!(paged > 0);
    // `escalier replay --no-plugins`: no plugin runner, the notifier still.
    let opts = ReplayOptions {
        notify: Some(Notifier(Arc::new(Pager))),
        ..ReplayOptions::default()
    };
    let report = Replay::run(&policies, opts, log.iter().cloned());
    assert!(report.is_empty(), "{:#?}", report.tickets);
    assert_eq!(report.counts.plugin_records, 0);
    // Without it, its records show as removed.
    let report = replay(&policies, &log, 1);
    assert_eq!(
        report.summary.total.removed as usize, paged,
        "{:#?}",
        report.summary
    );
}
