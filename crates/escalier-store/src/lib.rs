//! Escalier's storage: the event log and the projections built from it, in
//! one embedded redb file.
//!
//! Two threads write, one transaction at a time:
//! - the **writer** appends input events (webhooks, adapters, clocks) in
//!   batches: one durable commit serves every request waiting at that
//!   moment (group commit). A request is acknowledged only after the
//!   commit that holds it returns.
//! - the **processor** follows the log in order, runs the reactors
//!   (policies, plugins) through [`escalier_core::process::process`], and
//!   writes the derived records, the tickets and its cursor in one
//!   transaction, so no action is lost or produced twice across crashes.
//!
//! Readers never block writers (redb MVCC).
//!
//! # Layout
//!
//! - [`tables`]: table definitions and the schema version: the on-disk contract.
//! - [`codec`]: how records and tickets are encoded in table values.
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
pub mod scheduler;
pub mod summary;
pub mod tables;
pub mod verify;
pub mod versions;
pub mod writer;

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable};

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

/// The open database plus the watermarks shared by writer, processor and readers.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    progress: Arc<Progress>,
    /// Inputs the writer committed lately, decoded: the processor takes
    /// them from here instead of reading them back (falls back to the
    /// table when it lags further behind or after a restart).
    recent: Arc<std::sync::Mutex<std::collections::VecDeque<Arc<escalier_core::Record>>>>,
    alarm: Arc<scheduler::Alarm>,
    outbox_bell: Arc<tokio::sync::Notify>,
    /// The in-memory ticket index, once started ([`summary`]).
    index: Arc<std::sync::OnceLock<Arc<summary::TicketIndex>>>,
}

impl Store {
    /// Open (or create) the database file at `path`.
    ///
    /// Exclusive: one process owns the file. (redb's shared modes would let
    /// tools read a live file, but they forbid the non-durable commits the
    /// processor relies on to keep fsyncs off the ingest path; tools read a
    /// snapshot or an export instead.)
    pub fn open(path: &Path, opts: &StoreOptions) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let warned = std::sync::atomic::AtomicBool::new(false);
        let db = Database::builder()
            .set_cache_size(opts.cache_bytes)
            .set_repair_callback(move |_session| {
                // Called (repeatedly, with its progress) only when the file
                // was not closed cleanly (a crash, `kill -9`, power loss):
                // redb then checks the whole file before it opens, which
                // takes time with its size. Said once.
                if !warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(
                        path = %shown,
                        "the database was not closed cleanly; checking it before opening (takes time with its size)"
                    );
                }
            })
            .create(path)
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                source: e.into(),
            })?;
        Self::init(db)
    }

    /// A database on any redb storage backend: fault injection in tests,
    /// or a backend of the operator's choosing.
    pub fn with_backend(backend: impl redb::StorageBackend) -> Result<Store, StoreError> {
        let db = Database::builder()
            .create_with_backend(backend)
            .map_err(|e| StoreError::Open {
                path: "(backend)".into(),
                source: e.into(),
            })?;
        Self::init(db)
    }

    /// A database in memory, for tests and simulations.
    pub fn in_memory() -> Result<Store, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| StoreError::Open {
                path: "(memory)".into(),
                source: e.into(),
            })?;
        Self::init(db)
    }

    fn init(db: Database) -> Result<Store, StoreError> {
        tables::ensure(&db)?;
        let (committed, processed) = {
            let rtx = db.begin_read()?;
            let events = rtx.open_table(tables::EVENTS)?;
            let committed = events.last()?.map(|(k, _)| k.value()).unwrap_or(0);
            let meta = rtx.open_table(tables::META)?;
            let processed = meta
                .get(tables::META_PROCESSED)?
                .map(|v| v.value())
                .unwrap_or(0);
            (committed, processed)
        };
        Ok(Store {
            db: Arc::new(db),
            progress: Arc::new(Progress::new(committed, processed)),
            recent: Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new())),
            alarm: Arc::new(scheduler::Alarm::default()),
            outbox_bell: Arc::new(tokio::sync::Notify::new()),
            index: Arc::new(std::sync::OnceLock::new()),
        })
    }

    /// The committed/processed watermarks.
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
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

    pub(crate) fn db(&self) -> &Database {
        &self.db
    }
}
