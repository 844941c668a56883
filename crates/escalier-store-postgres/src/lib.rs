//! Escalier's storage on PostgreSQL: [`PgBackend`], the
//! [`escalier_store::backend::Backend`] of a database shared by several
//! Escalier nodes.
//!
//! The database is the single source of truth. Ingest allocates seqs from
//! one counter row locked until commit, so inputs become visible in seq
//! order ([`log`]); processing is partitioned by ticket, each partition
//! held by one node at a time through a lease row whose expiry the owner
//! renews with the database's clock ([`cluster`]); a partition's cursor is
//! written in the same transaction as what its inputs produced, fenced by
//! the lease ([`process`]).
//!
//! The trait is blocking; the client is async. A [`PgBackend`] owns a small
//! tokio runtime (two worker threads) that runs every query; a call spawns
//! its future there and waits on a channel, so it works from plain threads
//! and from inside other runtimes alike.
//!
//! # Layout
//!
//! - [`conn`]: URL, TLS, pool, error mapping, the runtime bridge.
//! - [`migrate`]: versioned schema migrations (`src/migrations/*.sql`).
//! - [`log`]: appending inputs (group commit), seqs, watermarks.
//! - [`process`]: inputs by partition, tickets, the fenced chunk commit.
//! - [`cluster`]: nodes, leases, the cluster view, the clock index.
//! - `read`, `outbox`, `versions`, `import`: reads, the outbox and
//!   deliveries, stored versions, import and verify.

pub mod cluster;
pub mod conn;
pub mod import;
pub mod log;
pub mod migrate;
pub mod outbox;
pub mod process;
pub mod read;
pub mod versions;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use escalier_core::{Record, Ticket, Timestamp};
use escalier_store::StoreError;
use escalier_store::backend::{
    Appends, Backend, Chunk, ClockRow, ClusterView, Held, ImportChunk, Loaded, Marks, Node,
};
use escalier_store::outbox::{
    DeliveryCursor, DeliveryRow, DeliveryState, OutboxEntry, OutboxKey, Settled,
};
use escalier_store::writer::InputBatch;

pub use conn::{PgOptions, SslMode, is_postgres_url, redact};

/// Schema version this build reads and writes (the last migration).
pub const SCHEMA_VERSION: u64 = migrate::LATEST;

/// A PostgreSQL database shared by several Escalier nodes.
pub struct PgBackend {
    /// Runs every query; shut down in the background on drop (dropping a
    /// runtime inside another one's async context would panic).
    rt: Option<tokio::runtime::Runtime>,
    pub(crate) inner: Arc<Inner>,
}

/// What the queries need, shared with the futures on the runtime.
pub(crate) struct Inner {
    pub(crate) pool: deadpool_postgres::Pool,
    /// One connection, for [`Backend::leases`] and [`Backend::release`].
    pub(crate) lease_pool: deadpool_postgres::Pool,
    /// The URL without its password.
    pub(crate) shown: String,
    /// The password, only to scrub it from error messages.
    pub(crate) secret: Option<String>,
    pub(crate) partitions: u32,
    pub(crate) lease_ms: u64,
    /// This instance among the processes that ever ran with one node id:
    /// the database's clock when it connected (µs, fixed-width hex, so
    /// later sorts higher) and a random part. See [`cluster`].
    pub(crate) incarnation: String,
    /// The owner key (`<node id>/<incarnation>`) of the node last seen by
    /// [`Backend::leases`]: what the chunk commits are fenced with.
    pub(crate) node: Mutex<Option<String>>,
}

impl PgBackend {
    /// Connect to the database at `url` (`postgres://` or `postgresql://`,
    /// libpq URL syntax), create or migrate its schema, and read its
    /// partition count. See [`PgOptions`] and [`SslMode`].
    pub fn connect(url: &str, opts: PgOptions) -> Result<PgBackend, StoreError> {
        conn::connect(url, opts)
    }

    /// Run `f`'s future on the backend's runtime and wait for its result.
    /// Safe from any thread, including a tokio runtime's (it blocks that
    /// thread, as every [`Backend`] method does). Error messages never
    /// contain the password.
    pub(crate) fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Arc<Inner>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let rt = self.rt.as_ref().ok_or(StoreError::Closed)?;
        let result = conn::block_on(rt.handle(), f(Arc::clone(&self.inner)));
        if let Err(StoreError::Unavailable(m)) = &result
            && !m.starts_with(conn::POOL_BUSY)
        {
            // The server went away or is restarting: the idle connections
            // (the one that failed among them, back in the pool by now)
            // are most likely dead too, and the pool would notice only
            // when handing them out. Drop them; the next calls connect anew.
            self.inner.pool.retain(|_, _| false);
            self.inner.lease_pool.retain(|_, _| false);
        }
        result.map_err(|e| conn::scrub(e, self.inner.secret.as_deref()))
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("location", &self.inner.shown)
            .field("partitions", &self.inner.partitions)
            .finish_non_exhaustive()
    }
}

impl Backend for PgBackend {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> String {
        self.inner.shown.clone()
    }

    // ---- the log (log.rs) ----------------------------------------------

    fn last_seq(&self) -> Result<u64, StoreError> {
        self.pg_last_seq()
    }

    fn append_group(&self, now: Timestamp, group: &[&InputBatch]) -> Result<Appends, StoreError> {
        self.pg_append_group(now, group)
    }

    fn seq_of(&self, event_id: &str) -> Result<Option<u64>, StoreError> {
        self.pg_seq_of(event_id)
    }

    fn marks(&self) -> Result<Marks, StoreError> {
        self.pg_marks()
    }

    // ---- processing (process.rs, cluster.rs) ---------------------------

    fn partitions(&self) -> u32 {
        self.inner.partitions
    }

    fn shared(&self) -> bool {
        true
    }

    fn leases(&self, node: &Node) -> Result<Vec<Held>, StoreError> {
        self.pg_leases(node)
    }

    fn release(&self, node: &Node) -> Result<(), StoreError> {
        self.pg_release(node)
    }

    fn inputs(
        &self,
        partition: u32,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Record>>, StoreError> {
        self.pg_inputs(partition, after, limit)
    }

    fn load_tickets(&self, ids: &[&str]) -> Result<HashMap<String, Loaded>, StoreError> {
        self.pg_load_tickets(ids)
    }

    fn commit_chunk(&self, chunk: &Chunk) -> Result<(), StoreError> {
        self.pg_commit_chunk(chunk)
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every commit is synchronous: nothing to flush.
        Ok(())
    }

    fn stale_tickets(
        &self,
        version: &str,
        partitions: Option<&[u32]>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.pg_stale_tickets(version, partitions)
    }

    // ---- clocks (cluster.rs) --------------------------------------------

    fn due_clocks(
        &self,
        partitions: Option<&[u32]>,
        now_ms: u64,
        limit: usize,
    ) -> Result<(Vec<ClockRow>, Option<u64>), StoreError> {
        self.pg_due_clocks(partitions, now_ms, limit)
    }

    fn due_between(&self, from_ms: u64, until_ms: u64) -> Result<Vec<ClockRow>, StoreError> {
        self.pg_due_between(from_ms, until_ms)
    }

    // ---- the outbox (outbox.rs) -----------------------------------------

    fn outbox_due(
        &self,
        partitions: Option<&[u32]>,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>, StoreError> {
        self.pg_outbox_due(partitions, now_ms, limit)
    }

    fn outbox_next(&self, partitions: Option<&[u32]>) -> Result<Option<u64>, StoreError> {
        self.pg_outbox_next(partitions)
    }

    fn outbox_len(&self) -> Result<u64, StoreError> {
        self.pg_outbox_len()
    }

    fn outbox_settle(&self, results: &[Settled]) -> Result<(), StoreError> {
        self.pg_outbox_settle(results)
    }

    fn outbox_enqueue(
        &self,
        due_ms: u64,
        entry: &OutboxEntry,
        row: &DeliveryRow,
    ) -> Result<(), StoreError> {
        self.pg_outbox_enqueue(due_ms, entry, row)
    }

    fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        self.pg_delivery(id)
    }

    fn deliveries(
        &self,
        state: Option<DeliveryState>,
        ticket: Option<&str>,
        limit: usize,
        after: Option<&DeliveryCursor>,
    ) -> Result<(Vec<DeliveryRow>, Option<DeliveryCursor>), StoreError> {
        self.pg_deliveries(state, ticket, limit, after)
    }

    // ---- reads (read.rs) ------------------------------------------------

    fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        self.pg_ticket(id)
    }

    fn tickets_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Ticket)>, StoreError> {
        self.pg_tickets_after(after, limit)
    }

    fn timeline(&self, id: &str) -> Result<Vec<Record>, StoreError> {
        self.pg_timeline(id)
    }

    fn records(&self, after: u64, upto: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.pg_records(after, upto, limit)
    }

    fn counts(&self) -> Result<(u64, u64), StoreError> {
        self.pg_counts()
    }

    fn tickets_changed(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<(u64, Ticket)>, u64), StoreError> {
        self.pg_tickets_changed(after, limit)
    }

    // ---- versions (versions.rs) -----------------------------------------

    fn put_version_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        self.pg_put_version_if_absent(key, value)
    }

    fn put_version(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.pg_put_version(key, value)
    }

    fn version(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.pg_version(key)
    }

    fn versions(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.pg_versions(prefix)
    }

    // ---- import and verify (import.rs) ----------------------------------

    fn import_chunk(&self, chunk: &ImportChunk) -> Result<(), StoreError> {
        self.pg_import_chunk(chunk)
    }

    fn verify_extra(&self) -> Result<Vec<String>, StoreError> {
        self.pg_verify_extra()
    }

    // ---- cluster (cluster.rs) -------------------------------------------

    fn cluster(&self) -> Result<ClusterView, StoreError> {
        self.pg_cluster()
    }
}
