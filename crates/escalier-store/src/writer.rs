//! The group-commit writer: one thread, one durable transaction per batch
//! of waiting requests ([`crate::Backend::append_group`]), one fsync for
//! all of them.
//!
//! Per request, all-or-nothing: its events are checked for duplicates and
//! against the lifecycle (using `heads` plus what earlier requests in the
//! same batch staged) before anything of it is written. A rejected request
//! writes nothing and does not affect the others in its batch. Replies go
//! out only after the durable commit has returned.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use escalier_core::{Clock, Event, Rejection, Source};
use tokio::sync::oneshot;

use crate::backend::Appends;
use crate::{Store, StoreError};

/// Events to append, from one request.
#[derive(Debug, Clone)]
pub struct InputBatch {
    pub events: Vec<Event>,
    pub source: Source,
}

/// The outcome for one event of an accepted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// New: stored durably at `seq`.
    Stored { seq: u64 },
    /// Seen before (in an earlier request or earlier in this one) at `seq`.
    Duplicate { seq: u64 },
}

impl Appended {
    pub fn seq(self) -> u64 {
        match self {
            Appended::Stored { seq } | Appended::Duplicate { seq } => seq,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// Event `index` of the request breaks a rule; nothing was stored.
    #[error("event {index}: {rejection}")]
    Rejected { index: usize, rejection: Rejection },
    /// The queue is full: the writer cannot keep up. Retry later.
    #[error("the ingest queue is full")]
    Busy,
    /// The commit failed; nothing of the request is acknowledged.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Requests that may wait for the writer before new ones get `Busy`.
    pub queue_capacity: usize,
    /// Most events in one transaction; a larger backlog spills into the next one.
    pub max_batch_events: usize,
    /// After the first request of a batch, wait this long for more before
    /// committing. A durable commit costs about the same for one event or
    /// a hundred (the fsync), so gathering trades a little latency for
    /// throughput when many clients send at once. Zero commits at once.
    pub gather: std::time::Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_capacity: 4096,
            max_batch_events: 2048,
            gather: std::time::Duration::ZERO,
        }
    }
}

struct Request {
    batch: InputBatch,
    reply: oneshot::Sender<Result<Vec<Appended>, AppendError>>,
}

/// Handle to the writer thread. Cloneable; the thread stops when every
/// handle is dropped, after committing what is queued.
#[derive(Clone)]
pub struct Writer {
    tx: Sender<Request>,
}

impl Writer {
    /// Start the writer thread.
    pub fn spawn(
        store: Store,
        clock: Arc<dyn Clock>,
        cfg: WriterConfig,
    ) -> (Writer, JoinHandle<()>) {
        let (tx, rx) = crossbeam_channel::bounded(cfg.queue_capacity);
        let handle = std::thread::Builder::new()
            .name("escalier-writer".into())
            .spawn(move || run(store, clock, cfg, rx))
            .unwrap_or_else(|e| panic!("cannot start the writer thread: {e}"));
        (Writer { tx }, handle)
    }

    /// Append a batch; resolves once it is durably committed (or refused).
    pub async fn append(&self, batch: InputBatch) -> Result<Vec<Appended>, AppendError> {
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(Request { batch, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::counter!("escalier_ingest_busy_total").increment(1);
                return Err(AppendError::Busy);
            }
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::Closed.into()),
        }
        rx.await
            .unwrap_or(Err(AppendError::Storage(StoreError::Closed)))
    }

    /// Queue a batch without waiting for its commit (waits for room in the
    /// queue instead of answering `Busy`). For the scheduler and tools that
    /// submit many batches and then collect the answers.
    pub fn enqueue_blocking(
        &self,
        batch: InputBatch,
    ) -> Result<oneshot::Receiver<Result<Vec<Appended>, AppendError>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request { batch, reply })
            .map_err(|_| StoreError::Closed)?;
        Ok(rx)
    }

    /// Blocking variant for threads outside the async runtime (scheduler, tools).
    pub fn append_blocking(&self, batch: InputBatch) -> Result<Vec<Appended>, AppendError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request { batch, reply })
            .map_err(|_| AppendError::Storage(StoreError::Closed))?;
        rx.blocking_recv()
            .unwrap_or(Err(AppendError::Storage(StoreError::Closed)))
    }
}

fn run(store: Store, clock: Arc<dyn Clock>, cfg: WriterConfig, rx: Receiver<Request>) {
    let backend = store.backend().clone();
    let mut group: Vec<Request> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut events = first.batch.events.len();
        group.push(first);
        let until = Instant::now() + cfg.gather;
        while events < cfg.max_batch_events {
            let next = if cfg.gather.is_zero() {
                rx.try_recv().ok()
            } else {
                rx.recv_deadline(until).ok()
            };
            match next {
                Some(r) => {
                    events += r.batch.events.len();
                    group.push(r);
                }
                None => break,
            }
        }
        let started = Instant::now();
        let batches: Vec<&InputBatch> = group.iter().map(|r| &r.batch).collect();
        let result = backend.append_group(clock.now(), &batches);
        drop(batches);
        match result {
            Ok(Appends { outcomes, records }) => {
                let last = records.last().map(|r| r.seq);
                store.remember_inputs(records);
                let elapsed = started.elapsed().as_secs_f64();
                metrics::histogram!("escalier_commit_seconds").record(elapsed);
                metrics::histogram!("escalier_batch_events").record(events as f64);
                metrics::histogram!("escalier_batch_requests").record(group.len() as f64);
                if let Some(last) = last {
                    store.progress().set_committed(last);
                }
                for (req, outcome) in group.drain(..).zip(outcomes) {
                    if let Ok(list) = &outcome {
                        let stored = list
                            .iter()
                            .filter(|a| matches!(a, Appended::Stored { .. }))
                            .count();
                        metrics::counter!("escalier_events_stored_total").increment(stored as u64);
                        metrics::counter!("escalier_events_duplicate_total")
                            .increment((list.len() - stored) as u64);
                    }
                    let _ = req.reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, requests = group.len(), "commit failed; nothing in this batch is acknowledged");
                metrics::counter!("escalier_commit_failures_total").increment(1);
                // A database that cannot be reached stays "unavailable" for
                // every request of the group (the API answers 503
                // database_unavailable, retry later); anything else is a
                // failed commit.
                let unavailable = matches!(e, StoreError::Unavailable(_));
                let msg = match &e {
                    StoreError::Unavailable(m) | StoreError::CommitFailed(m) => m.clone(),
                    other => other.to_string(),
                };
                for req in group.drain(..) {
                    let err = if unavailable {
                        StoreError::Unavailable(msg.clone())
                    } else {
                        StoreError::CommitFailed(msg.clone())
                    };
                    let _ = req.reply.send(Err(AppendError::Storage(err)));
                }
            }
        }
    }
    store.progress().close();
}
