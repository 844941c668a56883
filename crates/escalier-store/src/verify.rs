//! Offline consistency check of a data directory: the invariants written
//! in `tables.rs`, checked row by row. Used by `escalier verify`, the crash
//! tests, and operators after an incident.

use std::collections::{BTreeMap, HashMap, HashSet};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::Serialize;

use crate::{Store, StoreError, codec, tables};

/// What [`Store::verify`] found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub inputs: u64,
    pub derived: u64,
    pub tickets: u64,
    pub processed: u64,
    /// Each problem in words; empty means consistent.
    pub problems: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Check every invariant. Reads only; safe on a copy of a live file.
    /// `fold` rebuilds a ticket from its records the way the processor did
    /// (the reducer plus clocks), so stored tickets can be compared with it.
    pub fn verify(
        &self,
        mut fold: impl FnMut(
            Option<escalier_core::Ticket>,
            &escalier_core::Record,
        ) -> Option<escalier_core::Ticket>,
    ) -> Result<Report, StoreError> {
        let mut r = Report {
            processed: self.progress().processed(),
            ..Report::default()
        };
        let rtx = self.db().begin_read()?;
        let events = rtx.open_table(tables::EVENTS)?;
        let derived = rtx.open_table(tables::DERIVED)?;
        let dedupe = rtx.open_table(tables::DEDUPE)?;
        let index = rtx.open_table(tables::TICKET_DATA)?;

        // Inputs: contiguous seqs, unique ids, each in dedupe at its seq.
        let mut ids: HashMap<String, u64> = HashMap::new();
        let mut expected = 1u64;
        for row in events.iter()? {
            let (k, v) = row?;
            let seq = k.value();
            let rec = codec::decode_record(v.value())?;
            r.inputs += 1;
            if seq != expected {
                r.problems
                    .push(format!("input seqs jump from {} to {seq}", expected - 1));
            }
            expected = seq + 1;
            if rec.seq != seq || rec.index != 0 {
                r.problems
                    .push(format!("input at {seq} claims position {}", rec.pos()));
            }
            if let Some(first) = ids.insert(rec.event.id.as_str().to_owned(), seq) {
                r.problems.push(format!(
                    "event id {} stored twice, at {first} and {seq}",
                    rec.event.id
                ));
            }
            match dedupe.get(rec.event.id.as_str())? {
                Some(d) if d.value() == seq => {}
                other => r.problems.push(format!(
                    "dedupe for {} points at {:?}, not {seq}",
                    rec.event.id,
                    other.map(|g| g.value())
                )),
            }
        }
        if dedupe.len()? as usize != ids.len() {
            r.problems.push(format!(
                "dedupe has {} ids for {} inputs",
                dedupe.len()?,
                ids.len()
            ));
        }

        // Derived: only for processed inputs, indexes 1.. without gaps.
        let mut last: Option<(u64, u32)> = None;
        for row in derived.iter()? {
            let (k, _) = row?;
            let (seq, idx) = k.value();
            r.derived += 1;
            if seq > r.processed {
                r.problems.push(format!(
                    "derived record {seq}.{idx} beyond the processed cursor {}",
                    r.processed
                ));
            }
            let expect = match last {
                Some((s, i)) if s == seq => i + 1,
                _ => 1,
            };
            if idx != expect {
                r.problems.push(format!(
                    "derived records of {seq} skip from {} to {idx}",
                    expect - 1
                ));
            }
            last = Some((seq, idx));
        }

        // Every processed record is in its ticket's timeline index.
        let mut indexed: HashSet<(String, u64, u32)> = HashSet::new();
        for row in index.iter()? {
            let (k, _) = row?;
            let (t, kind, s, i) = k.value();
            if kind == tables::LOG {
                indexed.insert((t.to_owned(), s, i));
            }
        }
        let mut folded: BTreeMap<String, escalier_core::Ticket> = BTreeMap::new();
        let mut seen_in_log = 0usize;
        drop((events, derived, dedupe, index));
        drop(rtx);
        self.for_each_record(|rec| {
            seen_in_log += 1;
            let id = rec.event.ticket_id.as_str().to_owned();
            if !indexed.contains(&(id.clone(), rec.seq, rec.index)) {
                r.problems.push(format!(
                    "record {} missing from the timeline of {id}",
                    rec.pos()
                ));
            }
            let before = folded.remove(&id);
            if let Some(t) = fold(before, &rec) {
                folded.insert(id, t);
            }
            Ok(())
        })?;
        if seen_in_log != indexed.len() {
            r.problems.push(format!(
                "timeline index has {} rows for {seen_in_log} processed records",
                indexed.len()
            ));
        }

        // Stored tickets equal the fold of the log.
        let stored = self.all_tickets()?;
        r.tickets = stored.len() as u64;
        for (id, t) in &stored {
            match folded.get(id) {
                Some(f) if f == t => {}
                Some(_) => r
                    .problems
                    .push(format!("ticket {id} differs from the fold of its records")),
                None => r
                    .problems
                    .push(format!("ticket {id} is stored but has no records")),
            }
        }
        for id in folded.keys() {
            if !stored.contains_key(id) {
                r.problems
                    .push(format!("ticket {id} has records but is not stored"));
            }
        }

        // Delivery states agree with their index and the outbox.
        r.problems.extend(self.verify_deliveries()?);
        Ok(r)
    }
}
