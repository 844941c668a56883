//! The storage seam: what the writer, processor, scheduler, outbox worker,
//! readers and tools need from a database, as one trait with two
//! implementations that read alike:
//!
//! - [`crate::redb::RedbBackend`]: one embedded redb file owned by one
//!   process (the default);
//! - `escalier_store_postgres::PgBackend`: a PostgreSQL database shared by
//!   several Escalier nodes.
//!
//! The threads and the in-memory parts (watermarks, the recent-inputs
//! cache, the ticket index) live in [`crate::Store`] and are the same for
//! both. Both backends store the same bytes ([`crate::codec`]): records as
//! JSON, tickets as MessagePack, beside whatever key columns the backend
//! needs.
//!
//! # Partitions
//!
//! Processing is partitioned by ticket ([`partition_of`]). A node processes
//! a partition only while it holds that partition's [`Lease`]; the
//! partition's cursor is written in the same transaction as the records,
//! tickets, clocks and outbox entries its inputs produced
//! ([`Backend::commit_chunk`]), and that write is refused once the lease has
//! moved on ([`crate::StoreError::LeaseLost`]). An embedded store has one
//! partition and one node, which always holds it.

use std::collections::HashMap;
use std::sync::Arc;

use escalier_core::{Record, Ticket, Timestamp};
use serde::Serialize;

use crate::StoreError;
use crate::outbox::{DeliveryCursor, DeliveryRow, DeliveryState, OutboxEntry, OutboxKey, Settled};
use crate::processor::Indexed;
use crate::writer::{AppendError, Appended, InputBatch};

/// The outcome of one request of a group: its events' positions, or why
/// nothing of it was stored.
pub type Outcome = Result<Vec<Appended>, AppendError>;

/// What [`Backend::append_group`] wrote.
#[derive(Debug, Default)]
pub struct Appends {
    /// One per request, in order.
    pub outcomes: Vec<Outcome>,
    /// The inputs stored, in seq order (handed to the processor).
    pub records: Vec<Arc<Record>>,
}

/// The partition of a ticket among `n`: FNV-1a of the id, modulo `n`.
/// Stable across versions and platforms: it decides where a ticket's
/// inputs are processed, and is stored with them.
pub fn partition_of(ticket_id: &str, n: u32) -> u32 {
    // FNV-1a, 64 bits: a few lines, no dependency, and the same everywhere
    // (std's hasher is randomly seeded and may change between releases).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in ticket_id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    u32::try_from(h % u64::from(n.max(1))).unwrap_or(0)
}

/// This node, as the cluster knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// Unique among live nodes (random at start unless configured).
    pub id: String,
    /// Where its API listens, for `GET /v1/cluster`.
    pub addr: String,
}

/// The right to process one partition, until the lease expires or another
/// node takes it over (which bumps `epoch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Lease {
    pub partition: u32,
    pub epoch: u64,
}

/// A lease this node holds, with the partition's cursor: the last input
/// seq of the partition that has been processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub lease: Lease,
    pub cursor: u64,
}

/// A ticket as the processor loads it: its body (none if new) and the
/// rows it has in the clock index.
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    pub ticket: Option<Ticket>,
    pub indexed: Indexed,
}

/// Everything one processing step writes, in one transaction.
#[derive(Debug, Default)]
pub struct Chunk {
    /// `Some`: advance this lease's partition cursor to `upto` (refused,
    /// and nothing written, if the lease is no longer held). `None`: a
    /// maintenance write (clocks re-bound) that moves no cursor.
    pub cursor: Option<(Lease, u64)>,
    /// For a maintenance write on a shared store: the leases of the
    /// partitions its tickets are in. Refused with
    /// [`StoreError::LeaseLost`], nothing written, if any of them is no
    /// longer held, so a node that lost a partition cannot overwrite what
    /// the new owner processed. Empty on a store of one process.
    pub fence: Vec<Lease>,
    /// Derived records, encoded ([`crate::codec::encode_record`]), with
    /// their ticket.
    pub derived: Vec<DerivedRow>,
    /// The inputs of this step that belong to each ticket's timeline
    /// (seq, ticket id): backends that do not index inputs by ticket store
    /// them as timeline rows.
    pub inputs: Vec<(u64, String)>,
    /// New outbox entries: due (ms), and the entry with its delivery row.
    pub outbox: Vec<(u64, OutboxEntry, DeliveryRow)>,
    /// Ticket bodies, encoded ([`crate::codec::encode_ticket`]).
    pub tickets: Vec<(String, Vec<u8>)>,
    /// Clock index changes: ticket, rows before, rows after.
    pub index_moves: Vec<(String, Indexed, Indexed)>,
    /// Commit with an fsync of its own. Backends that cannot commit any
    /// other way ignore `false`.
    pub durable: bool,
}

#[derive(Debug, Clone)]
pub struct DerivedRow {
    pub seq: u64,
    pub index: u32,
    pub ticket_id: String,
    pub bytes: Vec<u8>,
}

/// Part of an exported log being imported (see [`Backend::import_chunk`]).
#[derive(Debug, Default)]
pub struct ImportChunk {
    pub inputs: Vec<Arc<Record>>,
    pub derived: Vec<DerivedRow>,
    /// Lifecycle status after the last input, per ticket.
    pub heads: Vec<(String, escalier_core::Status)>,
    /// Tickets (encoded) and their clock index rows.
    pub tickets: Vec<(String, Vec<u8>, Indexed)>,
    /// The last input seq imported so far: every partition's cursor.
    pub processed: u64,
}

/// A row of the clock index: due (ms), ticket id, clock key.
pub type ClockRow = (u64, String, String);

/// Committed and processed watermarks as the database sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Marks {
    /// Highest committed input seq.
    pub committed: u64,
    /// Every input with a seq up to this one has been processed.
    pub processed: u64,
}

/// The cluster as `GET /v1/cluster` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterView {
    /// `redb` or `postgres`.
    pub store: String,
    pub lease_ms: u64,
    pub nodes: Vec<NodeView>,
    pub partitions: Vec<PartitionView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub id: String,
    pub addr: String,
    pub started_at: Option<Timestamp>,
    pub heartbeat_at: Option<Timestamp>,
    /// Heartbeat within the lease time.
    pub live: bool,
    pub partitions: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartitionView {
    pub partition: u32,
    pub owner: Option<String>,
    pub epoch: u64,
    pub expires_at: Option<Timestamp>,
    pub cursor: u64,
    /// Inputs of the partition committed but not yet processed.
    pub lag: u64,
}

/// A storage backend. Every method is a complete unit: it either commits
/// what it says or changes nothing. Methods block the calling thread.
pub trait Backend: Send + Sync + 'static {
    /// `redb` or `postgres`.
    fn kind(&self) -> &'static str;

    /// Where the data is: a file path, or a URL without its password.
    fn location(&self) -> String;

    // ---- the log ----------------------------------------------------

    /// Highest committed input seq (0 when empty).
    fn last_seq(&self) -> Result<u64, StoreError>;

    /// Append every request of `group` in one durable transaction, with
    /// seqs following the last committed one, in commit order.
    ///
    /// Per request, all-or-nothing: an event id seen before (in the store
    /// or earlier in the group) is a duplicate with its original seq; a
    /// lifecycle rejection refuses that request alone. `Err` means the
    /// transaction did not commit and nothing of the group is stored.
    fn append_group(&self, now: Timestamp, group: &[&InputBatch]) -> Result<Appends, StoreError>;

    /// The seq of a stored event id.
    fn seq_of(&self, event_id: &str) -> Result<Option<u64>, StoreError>;

    /// The database's watermarks (see [`Marks`]).
    fn marks(&self) -> Result<Marks, StoreError>;

    // ---- processing -------------------------------------------------

    /// Number of partitions (fixed when the store is created).
    fn partitions(&self) -> u32;

    /// Whether other nodes may write to and process this store too (a
    /// shared database). A shared store is processed partition by
    /// partition under leases, and its watermarks and ticket changes are
    /// polled, whatever its number of partitions; a store owned by one
    /// process is followed through its own writer.
    fn shared(&self) -> bool;

    /// Heartbeat for `node`, renew its leases, take expired or free ones
    /// up to its share and give back those above it. Returns what it holds now.
    fn leases(&self, node: &Node) -> Result<Vec<Held>, StoreError>;

    /// Give back every lease of `node` (a clean stop).
    fn release(&self, node: &Node) -> Result<(), StoreError>;

    /// Inputs of `partition` with seq > `after`, in seq order, at most `limit`.
    fn inputs(
        &self,
        partition: u32,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Record>>, StoreError>;

    /// Tickets by id, with their clock index rows.
    fn load_tickets(&self, ids: &[&str]) -> Result<HashMap<String, Loaded>, StoreError>;

    /// Write one processing step (see [`Chunk`]). `Err(LeaseLost)`: the
    /// chunk's lease is no longer held and nothing was written.
    fn commit_chunk(&self, chunk: &Chunk) -> Result<(), StoreError>;

    /// Make every earlier commit durable (a no-op where all are).
    fn flush(&self) -> Result<(), StoreError>;

    /// Tickets of `partitions` (all if `None`) whose clock index was built
    /// with books other than `version`: (ticket id, that version).
    fn stale_tickets(
        &self,
        version: &str,
        partitions: Option<&[u32]>,
    ) -> Result<Vec<(String, String)>, StoreError>;

    // ---- clocks -------------------------------------------------------

    /// Clock index rows due at `now_ms` in `partitions` (all if `None`),
    /// soonest first, at most `limit`; and the due time of the first row
    /// not yet due.
    fn due_clocks(
        &self,
        partitions: Option<&[u32]>,
        now_ms: u64,
        limit: usize,
    ) -> Result<(Vec<ClockRow>, Option<u64>), StoreError>;

    /// Clock index rows due in `[from_ms, until_ms]`, soonest first.
    fn due_between(&self, from_ms: u64, until_ms: u64) -> Result<Vec<ClockRow>, StoreError>;

    // ---- the outbox -------------------------------------------------

    /// Entries due at `now_ms` in `partitions` (all if `None`), oldest
    /// first, at most `limit`.
    fn outbox_due(
        &self,
        partitions: Option<&[u32]>,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>, StoreError>;

    /// Due time of the first entry in `partitions` (all if `None`).
    fn outbox_next(&self, partitions: Option<&[u32]>) -> Result<Option<u64>, StoreError>;

    fn outbox_len(&self) -> Result<u64, StoreError>;

    /// Record attempts: move or remove each entry and update its delivery
    /// row, in one transaction. A result whose entry is no longer at its
    /// key (settled or moved meanwhile, by another node or by hand) is
    /// skipped: the newer state stands.
    fn outbox_settle(&self, results: &[Settled]) -> Result<(), StoreError>;

    /// Queue one entry with its delivery row (tools and tests).
    fn outbox_enqueue(
        &self,
        due_ms: u64,
        entry: &OutboxEntry,
        row: &DeliveryRow,
    ) -> Result<(), StoreError>;

    fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError>;

    /// Deliveries, most recently updated first (see `Store::deliveries`).
    fn deliveries(
        &self,
        state: Option<DeliveryState>,
        ticket: Option<&str>,
        limit: usize,
        after: Option<&DeliveryCursor>,
    ) -> Result<(Vec<DeliveryRow>, Option<DeliveryCursor>), StoreError>;

    // ---- reads --------------------------------------------------------

    /// A ticket as of the last processed input.
    fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError>;

    /// Tickets in id order after `after`, at most `limit`.
    fn tickets_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Ticket)>, StoreError>;

    /// A ticket's records in (seq, index) order, inputs and derived.
    fn timeline(&self, id: &str) -> Result<Vec<Record>, StoreError>;

    /// Records with seq in `(after, upto]`, in (seq, index) order, inputs
    /// followed by what they caused; at most `limit` inputs (with all
    /// their derived records).
    fn records(&self, after: u64, upto: u64, limit: usize) -> Result<Vec<Record>, StoreError>;

    /// Number of stored inputs and of tickets.
    fn counts(&self) -> Result<(u64, u64), StoreError>;

    /// Number of stored inputs, cheaply. Seqs are contiguous from 1, so by
    /// default the last one.
    fn input_count(&self) -> Result<u64, StoreError> {
        self.last_seq()
    }

    /// Tickets whose processing committed a change since watermark
    /// `after` (another node's partitions included), oldest change first,
    /// about `limit` of them, with the seq of each one's change; and the
    /// watermark to pass next time. Nothing changed at or below a returned
    /// watermark can appear later. For stores processed by one node, which
    /// sees every change itself: none.
    fn tickets_changed(
        &self,
        after: u64,
        _limit: usize,
    ) -> Result<(Vec<(u64, Ticket)>, u64), StoreError> {
        Ok((Vec::new(), after))
    }

    // ---- versions (policy sets, books changes) ----------------------

    /// Store `value` under `key` unless the key exists. Returns whether it was stored.
    fn put_version_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError>;

    /// Store `value` under `key`, replacing what was there.
    fn put_version(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    fn version(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every version row whose key starts with `prefix`, in key order.
    fn versions(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    // ---- import and verify ------------------------------------------

    /// Write exported records into an empty store as they are (inputs with
    /// their seqs, times and sources; derived records at their positions),
    /// with the event ids, lifecycle heads, tickets and clock index they
    /// imply, and set every partition's cursor to the last input. One
    /// transaction per call; the caller checks order and emptiness.
    fn import_chunk(&self, chunk: &ImportChunk) -> Result<(), StoreError>;

    /// Backend-specific invariants (indexes against the rows they index),
    /// each problem in words. The generic checks are in [`crate::verify`].
    fn verify_extra(&self) -> Result<Vec<String>, StoreError>;

    // ---- cluster ------------------------------------------------------

    /// Nodes, partitions, owners and lag.
    fn cluster(&self) -> Result<ClusterView, StoreError>;
}
