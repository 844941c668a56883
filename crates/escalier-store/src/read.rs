//! Queries: tickets, a ticket's timeline, the log tail, and a full replay.
//!
//! Reads see only what the processor has applied for tickets and derived
//! records; the log tail stops at the processed cursor so that a client
//! tailing it sees every input together with what it caused.

use std::collections::BTreeMap;
use std::ops::Bound;

use escalier_core::{Priority, Record, Status, Ticket, Tier};
use redb::{ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTableMetadata};

use crate::{Store, StoreError, codec, tables};

/// Which tickets to list. `None` fields match everything.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<Status>,
    pub tier: Option<Tier>,
    pub team: Option<String>,
    pub priority: Option<Priority>,
}

impl TicketFilter {
    pub fn matches(&self, t: &Ticket) -> bool {
        self.status.is_none_or(|s| t.status == s)
            && self.tier.is_none_or(|x| t.tier == x)
            && self.priority.is_none_or(|p| t.priority == p)
            && self
                .team
                .as_deref()
                .is_none_or(|team| t.team.as_deref() == Some(team))
    }
}

/// One page of a listing; `next` is the cursor for the following page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl Store {
    fn read(&self) -> Result<ReadTransaction, StoreError> {
        Ok(self.db().begin_read()?)
    }

    /// A ticket as of the last processed input.
    pub fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        let rtx = self.read()?;
        let t = rtx.open_table(tables::TICKET_DATA)?;
        t.get(tables::ticket_key(id, tables::BODY))?
            .map(|v| codec::decode_ticket(v.value()))
            .transpose()
    }

    /// Tickets in id order after `after`, filtered, at most `limit`.
    ///
    /// Filtering scans in id order; a selective filter over many tickets
    /// reads more rows than it returns (bounded by `scan_budget`, after
    /// which the page ends early with a cursor to continue).
    pub fn tickets(
        &self,
        filter: &TicketFilter,
        after: Option<&str>,
        limit: usize,
        scan_budget: usize,
    ) -> Result<Page<Ticket>, StoreError> {
        let rtx = self.read()?;
        let table = rtx.open_table(tables::TICKET_DATA)?;
        let mut items = Vec::new();
        let mut last: Option<String> = after.map(str::to_owned);
        let mut more = false;
        let mut scanned = 0usize;
        while let Some((id, bytes)) = next_body(&table, last.as_deref())? {
            if items.len() == limit || scanned == scan_budget {
                more = true;
                break;
            }
            scanned += 1;
            let t = codec::decode_ticket(&bytes)?;
            last = Some(id);
            if filter.matches(&t) {
                items.push(t);
            }
        }
        Ok(Page {
            items,
            next: if more { last } else { None },
        })
    }

    /// Every processed record of a ticket, in log order.
    pub fn timeline(&self, id: &str) -> Result<Vec<Record>, StoreError> {
        let rtx = self.read()?;
        let index = rtx.open_table(tables::TICKET_DATA)?;
        let events = rtx.open_table(tables::EVENTS)?;
        let derived = rtx.open_table(tables::DERIVED)?;
        let mut out = Vec::new();
        for row in
            index.range((id, tables::LOG, 0u64, 0u32)..=(id, tables::LOG, u64::MAX, u32::MAX))?
        {
            let (k, _) = row?;
            let (_, _, seq, idx) = k.value();
            let bytes = if idx == 0 {
                events.get(seq)?.map(|v| v.value().to_vec())
            } else {
                derived.get((seq, idx))?.map(|v| v.value().to_vec())
            };
            match bytes {
                Some(b) => out.push(codec::decode_record(&b)?),
                None => {
                    return Err(StoreError::Corrupt {
                        what: "ticket_log",
                        detail: format!("{id} points at missing record {seq}.{idx}"),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Processed records after input `after`: at most `limit` inputs, each
    /// followed by its derived records. Returns the records and the seq to
    /// pass as `after` next time.
    pub fn tail(&self, after: u64, limit: usize) -> Result<(Vec<Record>, u64), StoreError> {
        let processed = self.progress().processed();
        let rtx = self.read()?;
        let events = rtx.open_table(tables::EVENTS)?;
        let derived = rtx.open_table(tables::DERIVED)?;
        let mut out = Vec::new();
        let mut next = after;
        if after >= processed {
            return Ok((out, after));
        }
        for row in events.range(after + 1..=processed)?.take(limit) {
            let (k, v) = row?;
            let seq = k.value();
            out.push(codec::decode_record(v.value())?);
            push_derived(&derived, seq, &mut out)?;
            next = seq;
        }
        Ok((out, next))
    }

    /// Visit every processed record in log order.
    pub fn for_each_record(
        &self,
        mut f: impl FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let processed = self.progress().processed();
        let rtx = self.read()?;
        let events = rtx.open_table(tables::EVENTS)?;
        let derived = rtx.open_table(tables::DERIVED)?;
        let mut derived_rows = derived.range((0u64, 0u32)..)?.peekable();
        for row in events.range(1..=processed)? {
            let (k, v) = row?;
            let seq = k.value();
            f(codec::decode_record(v.value())?)?;
            loop {
                match derived_rows.peek() {
                    Some(Ok((dk, _))) if dk.value().0 <= seq => {}
                    Some(Err(_)) => {}
                    _ => break,
                }
                if let Some(row) = derived_rows.next() {
                    let (_, dv) = row?;
                    f(codec::decode_record(dv.value())?)?;
                }
            }
        }
        Ok(())
    }

    /// Fold the whole log from scratch the way the processor did (the
    /// reducer plus the clock and ladder updates, with `books`). Equal to
    /// the stored tickets when the invariants hold and `books` are the ones
    /// the log was processed with; tests and `escalier verify` compare the two.
    pub fn replay_tickets(
        &self,
        books: &escalier_core::timers::Books,
    ) -> Result<BTreeMap<String, Ticket>, StoreError> {
        let mut tickets: BTreeMap<String, Ticket> = BTreeMap::new();
        self.for_each_record(|r| {
            let id = r.event.ticket_id.as_str().to_owned();
            let before = tickets.remove(&id);
            match escalier_core::timers::replay(before.clone(), &r, books) {
                Ok(t) => {
                    tickets.insert(id, t);
                }
                Err(_) => {
                    // The live processor skipped it too (see processor.rs).
                    if let Some(t) = before {
                        tickets.insert(id, t);
                    }
                }
            }
            Ok(())
        })?;
        Ok(tickets)
    }

    /// Every stored ticket, by id.
    pub fn all_tickets(&self) -> Result<BTreeMap<String, Ticket>, StoreError> {
        let rtx = self.read()?;
        let table = rtx.open_table(tables::TICKET_DATA)?;
        let mut out = BTreeMap::new();
        let mut last: Option<String> = None;
        while let Some((id, bytes)) = next_body(&table, last.as_deref())? {
            out.insert(id.clone(), codec::decode_ticket(&bytes)?);
            last = Some(id);
        }
        Ok(out)
    }

    /// Number of input events stored (cheap).
    pub fn input_count(&self) -> Result<u64, StoreError> {
        let rtx = self.read()?;
        Ok(rtx.open_table(tables::EVENTS)?.len()?)
    }

    /// Number of input events and tickets stored. Counting tickets visits
    /// every one of them: for tools and tests, not for hot paths.
    pub fn counts(&self) -> Result<(u64, u64), StoreError> {
        let rtx = self.read()?;
        let events = rtx.open_table(tables::EVENTS)?.len()?;
        let table = rtx.open_table(tables::TICKET_DATA)?;
        let mut tickets = 0u64;
        let mut last: Option<String> = None;
        while let Some((id, _)) = next_body(&table, last.as_deref())? {
            tickets += 1;
            last = Some(id);
        }
        Ok((events, tickets))
    }

    /// The seq an event id was stored at, if any.
    pub fn seq_of(&self, event_id: &str) -> Result<Option<u64>, StoreError> {
        let rtx = self.read()?;
        let d = rtx.open_table(tables::DEDUPE)?;
        Ok(d.get(event_id)?.map(|v| v.value()))
    }
}

/// The first ticket after `after` (in id order) that has a stored body:
/// its id and encoded body. A ticket's rows are together in `ticket_data`,
/// so this seeks past each ticket's timeline rows instead of reading them.
pub(crate) fn next_body(
    table: &ReadOnlyTable<(&'static str, u8, u64, u32), &'static [u8]>,
    after: Option<&str>,
) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let mut after: Option<String> = after.map(str::to_owned);
    loop {
        let lower = match &after {
            Some(a) => Bound::Excluded((a.as_str(), u8::MAX, u64::MAX, u32::MAX)),
            None => Bound::Unbounded,
        };
        let mut skip_to = None;
        for row in table.range::<(&str, u8, u64, u32)>((lower, Bound::Unbounded))? {
            let (k, v) = row?;
            let (id, kind, _, _) = k.value();
            if kind == tables::BODY {
                return Ok(Some((id.to_owned(), v.value().to_vec())));
            }
            if kind > tables::BODY {
                // This ticket has no body (committed, not processed yet): skip it.
                skip_to = Some(id.to_owned());
                break;
            }
        }
        match skip_to {
            Some(id) => after = Some(id),
            None => return Ok(None),
        }
    }
}

fn push_derived(
    derived: &ReadOnlyTable<(u64, u32), &[u8]>,
    seq: u64,
    out: &mut Vec<Record>,
) -> Result<(), StoreError> {
    for row in derived.range((seq, 1u32)..=(seq, u32::MAX))? {
        let (_, v) = row?;
        out.push(codec::decode_record(v.value())?);
    }
    Ok(())
}

impl Store {
    /// Clock index rows due in `[from, until]`, soonest first: (due ms, ticket, key).
    pub fn due_between(
        &self,
        from: escalier_core::Timestamp,
        until: escalier_core::Timestamp,
    ) -> Result<Vec<(u64, String, String)>, StoreError> {
        let lo = crate::processor::due_ms(from);
        let hi = crate::processor::due_ms(until);
        let rtx = self.read()?;
        let clocks = rtx.open_table(tables::CLOCKS)?;
        let mut out = Vec::new();
        for row in clocks.range((lo, "", "")..)? {
            let (k, _) = row?;
            let (ms, ticket, key) = k.value();
            if ms > hi {
                break;
            }
            out.push((ms, ticket.to_owned(), key.to_owned()));
        }
        Ok(out)
    }
}
