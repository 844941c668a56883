//! Offline consistency check of a store: the log's invariants, checked
//! record by record, then the backend's own (for redb, those written in
//! `redb/tables.rs`). Used by `escalier verify`, the crash
//! tests, and operators after an incident.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::{Store, StoreError};

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
        let committed = self.backend.last_seq()?.max(r.processed);

        // Inputs: contiguous seqs, unique ids; derived records only for
        // processed inputs, indexes 1.. without gaps. Processed records
        // folded into tickets.
        let mut ids: HashMap<String, u64> = HashMap::new();
        let mut expected = 1u64;
        let mut last: Option<(u64, u32)> = None;
        let mut folded: BTreeMap<String, escalier_core::Ticket> = BTreeMap::new();
        let processed = r.processed;
        let problems = &mut r.problems;
        let (mut inputs, mut derived) = (0u64, 0u64);
        self.for_each_record_upto(committed, |rec| {
            let (seq, idx) = (rec.seq, rec.index);
            if idx == 0 {
                inputs += 1;
                if seq != expected {
                    problems.push(format!("input seqs jump from {} to {seq}", expected - 1));
                }
                expected = seq + 1;
                if let Some(first) = ids.insert(rec.event.id.as_str().to_owned(), seq) {
                    problems.push(format!(
                        "event id {} stored twice, at {first} and {seq}",
                        rec.event.id
                    ));
                }
            } else {
                derived += 1;
                if seq > processed {
                    problems.push(format!(
                        "derived record {seq}.{idx} beyond the processed cursor {processed}"
                    ));
                }
                let expect = match last {
                    Some((s, i)) if s == seq => i + 1,
                    _ => 1,
                };
                if idx != expect {
                    problems.push(format!(
                        "derived records of {seq} skip from {} to {idx}",
                        expect - 1
                    ));
                }
            }
            last = Some((seq, idx));
            if seq <= processed {
                let id = rec.event.ticket_id.as_str().to_owned();
                let before = folded.remove(&id);
                if let Some(t) = fold(before, &rec) {
                    folded.insert(id, t);
                }
            }
            Ok(())
        })?;
        r.inputs = inputs;
        r.derived = derived;

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

        // The backend's own indexes (event ids, timelines, deliveries).
        r.problems.extend(self.backend.verify_extra()?);
        Ok(r)
    }
}
