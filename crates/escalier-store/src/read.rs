//! Queries: tickets, a ticket's timeline, the log tail, and a full replay.
//!
//! Reads see only what the processor has applied for tickets and derived
//! records; the log tail stops at the processed cursor so that a client
//! tailing it sees every input together with what it caused.

use std::collections::BTreeMap;

use crate::{Store, StoreError};
use escalier_core::{Priority, Record, Status, Ticket, Tier};

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
    /// A ticket as of the last processed input.
    pub fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        self.backend.ticket(id)
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
        let mut items = Vec::new();
        let mut last: Option<String> = after.map(str::to_owned);
        let mut more = false;
        let mut scanned = 0usize;
        let unfiltered = filter.status.is_none()
            && filter.tier.is_none()
            && filter.team.is_none()
            && filter.priority.is_none();
        'pages: loop {
            // One more than can be taken, to know whether there is more:
            // without a filter every ticket read is taken.
            let budget = scan_budget - scanned.min(scan_budget);
            let want = if unfiltered {
                (limit - items.len().min(limit)).min(budget)
            } else {
                budget
            }
            .saturating_add(1)
            .min(PAGE);
            let page = self.backend.tickets_after(last.as_deref(), want)?;
            let full = page.len() == want;
            for (id, t) in page {
                if items.len() == limit || scanned == scan_budget {
                    more = true;
                    break 'pages;
                }
                scanned += 1;
                last = Some(id);
                if filter.matches(&t) {
                    items.push(t);
                }
            }
            if !full {
                break;
            }
        }
        Ok(Page {
            items,
            next: if more { last } else { None },
        })
    }

    /// Every processed record of a ticket, in log order.
    pub fn timeline(&self, id: &str) -> Result<Vec<Record>, StoreError> {
        self.backend.timeline(id)
    }

    /// Processed records after input `after`: at most `limit` inputs, each
    /// followed by its derived records. Returns the records and the seq to
    /// pass as `after` next time.
    pub fn tail(&self, after: u64, limit: usize) -> Result<(Vec<Record>, u64), StoreError> {
        let processed = self.progress().processed();
        if after >= processed {
            return Ok((Vec::new(), after));
        }
        let out = self.backend.records(after, processed, limit)?;
        let next = out
            .iter()
            .rev()
            .find(|r| r.index == 0)
            .map_or(after, |r| r.seq);
        Ok((out, next))
    }

    /// Visit every processed record in log order.
    pub fn for_each_record(
        &self,
        f: impl FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.for_each_record_upto(self.progress().processed(), f)
    }

    /// Visit every record of inputs up to `upto`, in log order.
    pub(crate) fn for_each_record_upto(
        &self,
        upto: u64,
        mut f: impl FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut after = 0u64;
        while after < upto {
            let page = self.backend.records(after, upto, PAGE)?;
            if page.is_empty() {
                break;
            }
            for r in page {
                if r.index == 0 {
                    after = r.seq;
                }
                f(r)?;
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
        let mut out = BTreeMap::new();
        let mut last: Option<String> = None;
        loop {
            let page = self.backend.tickets_after(last.as_deref(), PAGE)?;
            let full = page.len() == PAGE;
            for (id, t) in page {
                last = Some(id.clone());
                out.insert(id, t);
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// Number of input events stored (cheap).
    pub fn input_count(&self) -> Result<u64, StoreError> {
        self.backend.input_count()
    }

    /// Number of input events and tickets stored. Counting tickets visits
    /// every one of them: for tools and tests, not for hot paths.
    pub fn counts(&self) -> Result<(u64, u64), StoreError> {
        self.backend.counts()
    }

    /// The seq an event id was stored at, if any.
    pub fn seq_of(&self, event_id: &str) -> Result<Option<u64>, StoreError> {
        self.backend.seq_of(event_id)
    }

    /// Clock index rows due in `[from, until]`, soonest first: (due ms, ticket, key).
    pub fn due_between(
        &self,
        from: escalier_core::Timestamp,
        until: escalier_core::Timestamp,
    ) -> Result<Vec<(u64, String, String)>, StoreError> {
        self.backend.due_between(
            crate::processor::due_ms(from),
            crate::processor::due_ms(until),
        )
    }
}

/// Inputs (or tickets) read per call when walking the whole store.
const PAGE: usize = 1024;
