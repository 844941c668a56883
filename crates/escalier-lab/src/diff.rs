//! Comparing what was recorded with what a candidate policy set does: how
//! derived records are aligned, and the diff's shape.
//!
//! Alignment (documented for users in `docs/policies.md`, "Backtesting
//! with replay"):
//!
//! 1. Records are grouped by **trigger**. For an input from outside (a
//!    webhook event, an API call), the group is everything derived from
//!    that input, recorded at its seq and replayed when the simulator
//!    processes the same input. Records caused by clock ticks form one
//!    group per ticket, since the live scheduler may fire several due
//!    deadlines in one tick when it lags where the simulator ticks each at
//!    its instant.
//! 2. Within a group, a replayed record **matches** a recorded one with
//!    the same type, the same producer (policy file, `clock`, `escalier`)
//!    and the same data, in order. Instants that only say when a clock was
//!    processed (`fired_at`, `late`, `reached_at`, `next_at`, `at`) are
//!    not compared: the simulator fires at the exact due instant, the live
//!    scheduler a few milliseconds later. Nor are delivery ids
//!    (`dlv:<seq>.<index>:...`): they name the position of the record that
//!    asked, and a tick the replay fires may be numbered differently from
//!    the live one.
//! 3. What is left is paired by type, in order: a pair is **changed** (same
//!    trigger and type, different data or producer). Unpaired recorded
//!    records are **removed**, unpaired replayed ones **added**.

use std::collections::BTreeMap;

use escalier_core::event::EventKind;
use escalier_core::{Record, Source, Timestamp};
use serde::Serialize;
use serde_json::Value;

/// What caused a group of records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// An input from outside, at its recorded position.
    Input {
        seq: u64,
        event_id: String,
        #[serde(rename = "type")]
        ty: String,
        at: Timestamp,
    },
    /// A clock tick for a deadline (`sla:first_response:0:breach`). `seq`:
    /// the recorded tick's, for recorded records.
    Clock {
        key: String,
        at: Timestamp,
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// A reload of the SLA or ladder files in the recorded run (the
    /// candidate runs with one set of files throughout).
    Rebound { seq: u64, at: Timestamp },
}

impl Trigger {
    fn order(&self) -> (Timestamp, u64) {
        match self {
            Trigger::Input { seq, at, .. } | Trigger::Rebound { seq, at } => (*at, *seq),
            Trigger::Clock { at, seq, .. } => (*at, seq.unwrap_or(0)),
        }
    }
}

/// One derived record in a diff.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    #[serde(rename = "type")]
    pub ty: String,
    pub data: Value,
    /// Policy file, `clock`, `escalier`.
    pub by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    pub depth: u8,
    pub trigger: Trigger,
}

/// A recorded record the candidate produces differently.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changed {
    pub before: Item,
    pub after: Item,
    /// Data fields that differ (`reason`), and `by` if the producer did.
    pub fields: Vec<String>,
}

/// Every difference on one ticket, in trigger order.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TicketDiff {
    pub ticket_id: String,
    pub added: Vec<Item>,
    pub removed: Vec<Item>,
    pub changed: Vec<Changed>,
}

impl TicketDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    pub(crate) fn sort(&mut self) {
        self.added.sort_by_key(|i| i.trigger.order());
        self.removed.sort_by_key(|i| i.trigger.order());
        self.changed.sort_by_key(|c| c.before.trigger.order());
    }
}

/// Added, removed, changed and unchanged records of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub unchanged: u64,
}

impl Counts {
    pub fn differs(&self) -> bool {
        self.added + self.removed + self.changed > 0
    }

    fn add(&mut self, o: &Counts) {
        self.added += o.added;
        self.removed += o.removed;
        self.changed += o.changed;
        self.unchanged += o.unchanged;
    }
}

/// Counts by record type and by producer.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Tally {
    pub total: Counts,
    pub by_type: BTreeMap<String, Counts>,
    /// Removed records count for the producer that recorded them, added,
    /// changed and unchanged ones for the candidate's producer.
    pub by_policy: BTreeMap<String, Counts>,
}

impl Tally {
    fn bump(&mut self, ty: &str, by: &str, f: impl Fn(&mut Counts)) {
        f(&mut self.total);
        // get_mut first: the keys are nearly always there already.
        for (map, key) in [(&mut self.by_type, ty), (&mut self.by_policy, by)] {
            match map.get_mut(key) {
                Some(c) => f(c),
                None => f(map.entry(key.to_owned()).or_default()),
            }
        }
    }

    pub(crate) fn unchanged(&mut self, ty: &str, by: &str) {
        self.bump(ty, by, |c| c.unchanged += 1);
    }

    pub(crate) fn merge(&mut self, o: &Tally) {
        self.total.add(&o.total);
        for (k, c) in &o.by_type {
            self.by_type.entry(k.clone()).or_default().add(c);
        }
        for (k, c) in &o.by_policy {
            self.by_policy.entry(k.clone()).or_default().add(c);
        }
    }
}

/// Align `recorded` with `replayed` (one trigger group of one ticket) and
/// add the differences to `diff` and the counts to `tally`. Each record
/// carries a tag that `trigger` turns into its [`Trigger`], only for
/// records that end up in the diff (most groups are all unchanged).
pub(crate) fn align<T>(
    recorded: Vec<(Record, T)>,
    replayed: Vec<(Record, T)>,
    trigger: impl Fn(T) -> Trigger,
    diff: &mut TicketDiff,
    tally: &mut Tally,
) {
    let mut recorded: Vec<Option<(Record, T)>> = recorded.into_iter().map(Some).collect();
    let mut leftover: Vec<(Record, T)> = Vec::new();
    for (r, t) in replayed {
        let hit = recorded.iter().position(|slot| {
            slot.as_ref().is_some_and(|(old, _)| {
                old.event.type_name() == r.event.type_name()
                    && old.source.producer_name() == r.source.producer_name()
                    && same_data(&old.event.kind, &r.event.kind)
            })
        });
        match hit {
            Some(i) => {
                recorded[i] = None;
                tally.bump(r.event.type_name(), r.source.producer_name(), |c| {
                    c.unchanged += 1
                });
            }
            None => leftover.push((r, t)),
        }
    }
    let mut recorded: Vec<(Record, T)> = recorded.into_iter().flatten().collect();
    for (r, t) in leftover {
        let pair = recorded
            .iter()
            .position(|(old, _)| old.event.type_name() == r.event.type_name());
        match pair {
            Some(i) => {
                let (old, old_t) = recorded.remove(i);
                tally.bump(r.event.type_name(), r.source.producer_name(), |c| {
                    c.changed += 1
                });
                let before = item(&old, trigger(old_t));
                let after = item(&r, trigger(t));
                let fields = differing_fields(&before, &after);
                diff.changed.push(Changed {
                    before,
                    after,
                    fields,
                });
            }
            None => {
                tally.bump(r.event.type_name(), r.source.producer_name(), |c| {
                    c.added += 1
                });
                diff.added.push(item(&r, trigger(t)));
            }
        }
    }
    for (old, t) in recorded {
        tally.bump(old.event.type_name(), old.source.producer_name(), |c| {
            c.removed += 1
        });
        diff.removed.push(item(&old, trigger(t)));
    }
}

/// Equal data, ignoring when a clock happened to be processed.
pub(crate) fn same_data(a: &EventKind, b: &EventKind) -> bool {
    match (a, b) {
        (EventKind::SlaWarning(x), EventKind::SlaWarning(y))
        | (EventKind::SlaBreached(x), EventKind::SlaBreached(y)) => {
            let (mut x, mut y) = (x.clone(), y.clone());
            (x.fired_at, x.late, y.fired_at, y.late) = (x.due, false, y.due, false);
            x == y
        }
        (EventKind::LadderLevelReached(x), EventKind::LadderLevelReached(y)) => {
            let (mut x, mut y) = (x.clone(), y.clone());
            (x.reached_at, x.late, x.next_at) = (x.due, false, None);
            (y.reached_at, y.late, y.next_at) = (y.due, false, None);
            x == y
        }
        (EventKind::DeliveryRequested(x), EventKind::DeliveryRequested(y)) => {
            let (mut x, mut y) = (x.clone(), y.clone());
            (x.delivery_id, y.delivery_id) = (String::new(), String::new());
            x == y
        }
        (EventKind::LadderExhausted(x), EventKind::LadderExhausted(y)) => {
            let (mut x, mut y) = (x.clone(), y.clone());
            (x.at, x.late, y.at, y.late) = (x.due, false, y.due, false);
            x == y
        }
        _ => a == b,
    }
}

/// Data fields not compared: when a clock happened to be processed, and
/// the log position a delivery id names.
const TIMING_FIELDS: &[&str] = &[
    "fired_at",
    "late",
    "reached_at",
    "next_at",
    "at",
    "delivery_id",
];

fn differing_fields(a: &Item, b: &Item) -> Vec<String> {
    let mut out = Vec::new();
    if a.by != b.by {
        out.push("by".to_owned());
    }
    match (&a.data, &b.data) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                if x.get(k) != y.get(k) && !TIMING_FIELDS.contains(&k.as_str()) {
                    out.push(k.clone());
                }
            }
        }
        (x, y) if x != y => out.push("data".to_owned()),
        _ => {}
    }
    out
}

pub(crate) fn item(r: &Record, trigger: Trigger) -> Item {
    let data = match serde_json::to_value(&r.event) {
        Ok(Value::Object(mut m)) => m.remove("data").unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let hash = match &r.source {
        Source::Policy { hash, .. } | Source::Plugin { hash, .. } => Some(hash.clone()),
        _ => None,
    };
    Item {
        ty: r.event.type_name().to_owned(),
        data,
        by: r.source.producer_name().to_owned(),
        hash,
        depth: r.depth(),
        trigger,
    }
}
