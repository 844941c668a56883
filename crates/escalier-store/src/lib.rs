//! Escalier's storage: the event log and the projections built from it,
//! behind one trait ([`backend::Backend`]) with two implementations: one
//! embedded redb file ([`redb::RedbBackend`], the default) and a PostgreSQL
//! database shared by several nodes (`escalier_store_postgres`).
//!
//! [`Store`] is what every caller holds: the backend plus the in-memory
//! parts (watermarks, recent inputs, the scheduler's alarm, the outbox
//! bell, the ticket index). The threads are generic over the backend:
//! - the **writer** appends input events (webhooks, adapters, clocks) in
//!   batches: one durable commit serves every request waiting at that
//!   moment (group commit). A request is acknowledged only after the
//!   commit that holds it returns.
//! - the **processor** follows the log in order, partition by partition
//!   for the partitions this node holds a lease on (redb: one, always
//!   held), runs the reactors (policies, plugins) through
//!   [`escalier_core::process::process`], and writes the derived records,
//!   the tickets and the partition's cursor in one transaction, so no
//!   action is lost or produced twice across crashes.
//! - the **scheduler** fires due clocks of the held partitions.
//!
//! # Layout
//!
//! - [`backend`]: the storage trait, partitions and leases.
//! - [`redb`]: the embedded backend; [`tables`] is its on-disk contract.
//! - [`codec`]: how records and tickets are encoded (the same bytes in every backend).
//! - [`writer`]: the group-commit writer and its request handle.
//! - [`processor`]: the in-order processor and the reactor source it pulls from.
//! - [`progress`]: committed/processed watermarks that threads and tasks wait on.
//! - [`scheduler`]: fires due clocks through the writer, never early, once.
//! - [`read`]: queries for the API (tickets, timelines, log tail) and replay.
//! - [`outbox`]: side effects recorded with their actions, delivered after commit.
//! - [`import`]: bulk load of an exported log into a new store.
//! - [`versions`]: stored policy set versions (pinning, migration).
//! - [`summary`]: the in-memory ticket index behind the console's queue and the statistics.
//! - [`verify`]: the offline consistency check behind `escalier verify`.
//! - [`error`]: the `StoreError` type.

pub mod backend;
pub mod codec;
pub mod error;
pub mod import;
pub mod outbox;
pub mod processor;
pub mod progress;
pub mod read;
pub mod redb;
pub mod scheduler;
pub mod summary;
pub mod verify;
pub mod versions;
pub mod writer;

pub use self::redb::tables;

use std::path::Path;
use std::sync::{Arc, RwLock};

pub use backend::{Backend, partition_of};
pub use error::StoreError;
pub use processor::{Processor, ProcessorConfig, ReactorSource};
pub use progress::Progress;
pub use read::{Page, TicketFilter};
pub use scheduler::{Scheduler, SchedulerConfig, SchedulerHandle, Settled};
pub use writer::{AppendError, Appended, InputBatch, Writer, WriterConfig};

/// Tunables for opening the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// redb page cache, in bytes.
    pub cache_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_bytes: 256 << 20,
        }
    }
}

/// The storage backend plus the watermarks shared by writer, processor and readers.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    progress: Arc<Progress>,
    /// Inputs the writer committed lately, decoded: the processor takes
    /// them from here instead of reading them back (falls back to the
    /// backend when it lags further behind or after a restart).
    recent: Arc<std::sync::Mutex<std::collections::VecDeque<Arc<escalier_core::Record>>>>,
    alarm: Arc<scheduler::Alarm>,
    outbox_bell: Arc<tokio::sync::Notify>,
    /// The in-memory ticket index, once started ([`summary`]).
    index: Arc<std::sync::OnceLock<Arc<summary::TicketIndex>>>,
    /// The partitions this node's processor holds (`None`: the backend is
    /// this process's alone, one partition, always held).
    held: Arc<RwLock<Option<Vec<u32>>>>,
}

impl Store {
    /// Open (or create) the redb database file at `path` (see
    /// [`redb::RedbBackend::open`]).
    pub fn open(path: &Path, opts: &StoreOptions) -> Result<Store, StoreError> {
        Self::from_backend(Arc::new(redb::RedbBackend::open(path, opts)?))
    }

    /// A redb database on any redb storage backend: fault injection in
    /// tests, or a backend of the operator's choosing.
    pub fn with_backend(backend: impl ::redb::StorageBackend) -> Result<Store, StoreError> {
        Self::from_backend(Arc::new(redb::RedbBackend::with_storage(backend)?))
    }

    /// A redb database in memory, for tests and simulations.
    pub fn in_memory() -> Result<Store, StoreError> {
        Self::from_backend(Arc::new(redb::RedbBackend::in_memory()?))
    }

    /// A store on any [`Backend`]; the watermarks start from its [`Backend::marks`].
    pub fn from_backend(backend: Arc<dyn Backend>) -> Result<Store, StoreError> {
        let marks = backend.marks()?;
        let held = backend.shared().then(Vec::new);
        Ok(Store {
            backend,
            progress: Arc::new(Progress::new(marks.committed, marks.processed)),
            recent: Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new())),
            alarm: Arc::new(scheduler::Alarm::default()),
            outbox_bell: Arc::new(tokio::sync::Notify::new()),
            index: Arc::new(std::sync::OnceLock::new()),
            held: Arc::new(RwLock::new(held)),
        })
    }

    /// The storage backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The partitions this node's processor holds leases on, for the
    /// scheduler and the outbox worker: `None` when the backend is not
    /// shared (every clock and outbox entry is this node's).
    pub fn held_partitions(&self) -> Option<Vec<u32>> {
        self.held.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Set by the processor when its leases change.
    pub(crate) fn set_held_partitions(&self, partitions: Option<Vec<u32>>) {
        *self.held.write().unwrap_or_else(|p| p.into_inner()) = partitions;
    }

    /// Where the data is: a file path, or a URL without its password.
    pub fn location(&self) -> String {
        self.backend.location()
    }

    /// `redb` or `postgres`.
    pub fn kind(&self) -> &'static str {
        self.backend.kind()
    }

    /// Nodes, partitions, owners and lag (`GET /v1/cluster`).
    pub fn cluster(&self) -> Result<backend::ClusterView, StoreError> {
        self.backend.cluster()
    }

    /// The committed/processed watermarks.
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// The last committed seq, asking the database when other nodes write
    /// to it too (this node's watermark follows theirs only by polling).
    pub fn committed_now(&self) -> Result<u64, StoreError> {
        if self.backend.shared() {
            let last = self.backend.last_seq()?;
            self.progress.set_committed(last);
        }
        Ok(self.progress.committed())
    }

    /// Rung when the processor adds outbox entries.
    pub fn outbox_bell(&self) -> &Arc<tokio::sync::Notify> {
        &self.outbox_bell
    }

    /// The scheduler's wake-up bell.
    pub fn alarm(&self) -> &Arc<scheduler::Alarm> {
        &self.alarm
    }

    /// Most recent inputs kept for the processor.
    const RECENT: usize = 16_384;

    /// Remember committed inputs (in seq order) for the processor.
    pub(crate) fn remember_inputs(&self, records: Vec<Arc<escalier_core::Record>>) {
        let mut r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        r.extend(records);
        while r.len() > Self::RECENT {
            r.pop_front();
        }
    }

    /// Inputs `first..=last` if all are still kept.
    pub(crate) fn recent_inputs(
        &self,
        first: u64,
        last: u64,
    ) -> Option<Vec<Arc<escalier_core::Record>>> {
        let r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let front = r.front()?.seq;
        if first < front {
            return None;
        }
        let start = usize::try_from(first - front).ok()?;
        let len = usize::try_from(last + 1 - first).ok()?;
        let out: Vec<_> = r.iter().skip(start).take(len).cloned().collect();
        // Seqs are contiguous in commit order; check the ends to be sure.
        (out.len() == len && out.first()?.seq == first && out.last()?.seq == last).then_some(out)
    }
}
