//! The scheduler: fires clocks exactly when they are due, durably.
//!
//! Due instants live in the clock index ([`crate::Backend::due_clocks`]), ordered by time (the processor
//! keeps it equal to every ticket's next deadlines). The scheduler reads
//! the earliest rows, sleeps until the first is due (no sweep over
//! tickets), and when rows come due appends a `clock.due` tick for each
//! through the writer — the same durable path as webhooks. Processing the
//! tick fires the deadline (`sla.breached`, `ladder.level_reached`, ...),
//! or nothing if it is stale, and moves the ticket's rows on.
//!
//! Properties:
//! - never early: a row is due at its instant rounded up to the
//!   millisecond, ticks are emitted only once `clock.now()` has passed it,
//!   and processing refuses a tick recorded before its due instant;
//! - nothing lost on restart: the index is durable; rows that passed while
//!   the server was down are emitted first, in due order, and fire once
//!   (flagged `late`);
//! - idempotent: a tick's event id is derived from (ticket, key, due), so
//!   emitting it twice stores it once;
//! - each tick is its own request, so one refused tick (a ticket closed in
//!   between) does not hold back the others; they still share commits.

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use escalier_core::event::ClockDue;
use escalier_core::{Clock, Event, EventId, EventKind, Source, TicketId, Timestamp};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::writer::Writer;
use crate::{AppendError, Appended, InputBatch, Store, StoreError};

/// A bell the scheduler sleeps on: rung when the index gains an earlier
/// row, when a simulated clock moves, and on shutdown.
#[derive(Default)]
pub struct Alarm {
    generation: Mutex<u64>,
    bell: Condvar,
}

impl Alarm {
    pub fn ring(&self) {
        let mut g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        *g += 1;
        self.bell.notify_all();
    }

    fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleep until rung after `seen`, or `timeout`.
    fn wait(&self, seen: u64, timeout: Duration) {
        let g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.bell.wait_timeout_while(g, timeout, |g| *g == seen);
    }
}

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Most ticks emitted per round.
    pub batch: usize,
    /// Longest sleep without looking at the index (guards against a wall
    /// clock jumping; correctness does not depend on it).
    pub max_sleep: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            batch: 10_000,
            max_sleep: Duration::from_secs(1),
        }
    }
}

enum Command {
    /// Reply once nothing is due at the current time and all ticks are processed.
    Settle(oneshot::Sender<Settled>),
    /// Finish the current round and exit, releasing the writer.
    Stop,
}

/// What a settle request reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Ticks emitted since the request arrived.
    pub ticks: u64,
    /// The time settled at.
    pub now: Timestamp,
}

/// Handle to the scheduler thread.
#[derive(Clone)]
pub struct SchedulerHandle {
    tx: crossbeam_channel::Sender<Command>,
    alarm: Arc<Alarm>,
}

impl SchedulerHandle {
    /// Wait until every deadline due at the clock's current time has fired
    /// and been processed. For simulated clocks and tests.
    pub async fn settle(&self) -> Result<Settled, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Settle(tx))
            .map_err(|_| StoreError::Closed)?;
        self.alarm.ring();
        rx.await.map_err(|_| StoreError::Closed)
    }

    /// Wake the scheduler (the clock moved).
    pub fn wake(&self) {
        self.alarm.ring();
    }

    /// Ask the scheduler to stop; join the [`Scheduler`] to wait for it. It
    /// holds a writer handle, so stop it before waiting for the writer.
    pub fn stop(&self) {
        let _ = self.tx.send(Command::Stop);
        self.alarm.ring();
    }
}

pub struct Scheduler {
    handle: JoinHandle<Result<(), StoreError>>,
}

impl Scheduler {
    /// Start the scheduler. Stop it with [`SchedulerHandle::stop`].
    pub fn spawn(
        store: Store,
        writer: Writer,
        clock: Arc<dyn Clock>,
        cfg: SchedulerConfig,
    ) -> (Scheduler, SchedulerHandle) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let alarm = store.alarm().clone();
        let handle = std::thread::Builder::new()
            .name("escalier-scheduler".into())
            .spawn(move || {
                let r = run(&store, &writer, clock.as_ref(), &cfg, &rx);
                if let Err(e) = &r {
                    tracing::error!(error = %e, "scheduler stopped");
                }
                r
            })
            .unwrap_or_else(|e| panic!("cannot start the scheduler thread: {e}"));
        (Scheduler { handle }, SchedulerHandle { tx, alarm })
    }

    pub fn join(self) -> Result<(), StoreError> {
        self.handle.join().unwrap_or(Err(StoreError::Closed))
    }
}

type Row = (u64, String, String);

fn run(
    store: &Store,
    writer: &Writer,
    clock: &dyn Clock,
    cfg: &SchedulerConfig,
    rx: &crossbeam_channel::Receiver<Command>,
) -> Result<(), StoreError> {
    let alarm = store.alarm().clone();
    let mut settling: Vec<(oneshot::Sender<Settled>, u64)> = Vec::new();
    let mut emitted: u64 = 0;
    // Ticks the writer refused (ticket closed meanwhile); skipped until the index changes.
    let mut refused: HashSet<Row> = HashSet::new();
    loop {
        if store.progress().is_closing() {
            return Ok(());
        }
        while let Ok(cmd) = rx.try_recv() {
            match cmd {
                Command::Settle(tx) => settling.push((tx, emitted)),
                Command::Stop => return Ok(()),
            }
        }
        let seen = alarm.generation();
        let now = clock.now();
        let now_ms = u64::try_from(now.as_millisecond()).unwrap_or(0);
        // A shared database that cannot be reached (down, restarting): try
        // again shortly; nothing is lost, the rows stay due until fired.
        let (due, next) = match due_rows(store, now_ms, cfg.batch) {
            Err(e @ StoreError::Unavailable(_)) => {
                tracing::warn!(error = %e, "cannot read due clocks; retrying");
                alarm.wait(seen, cfg.max_sleep);
                continue;
            }
            other => other?,
        };
        let due: Vec<Row> = due.into_iter().filter(|r| !refused.contains(r)).collect();
        if !due.is_empty() {
            let (ticks, last_seq, newly_refused) = match emit(writer, &due) {
                Err(e @ StoreError::Unavailable(_)) => {
                    tracing::warn!(error = %e, "cannot store clock ticks; retrying");
                    alarm.wait(seen, cfg.max_sleep);
                    continue;
                }
                other => other?,
            };
            emitted += ticks;
            metrics::counter!("escalier_clock_ticks_total").increment(ticks);
            let lag = now_ms.saturating_sub(due[0].0);
            metrics::histogram!("escalier_clock_fire_lag_seconds").record(lag as f64 / 1000.0);
            refused.extend(newly_refused);
            // Let the processor move the fired rows before looking again.
            while store.progress().processed() < last_seq && !store.progress().is_closing() {
                store
                    .progress()
                    .wait_processed_blocking(last_seq, Duration::from_millis(200));
            }
            continue;
        }
        // Nothing due now: answer settle requests once processing caught up.
        if !settling.is_empty() && store.progress().processed() >= store.progress().committed() {
            for (tx, at) in settling.drain(..) {
                let _ = tx.send(Settled {
                    ticks: emitted - at,
                    now,
                });
            }
        }
        let sleep = match next {
            Some(ms) => Duration::from_millis(ms.saturating_sub(now_ms)).min(cfg.max_sleep),
            None => cfg.max_sleep,
        };
        let sleep = if settling.is_empty() {
            sleep
        } else {
            sleep.min(Duration::from_millis(20))
        };
        if !refused.is_empty() && alarm.generation() != seen {
            refused.clear();
        }
        alarm.wait(seen, sleep.max(Duration::from_millis(1)));
    }
}

/// Rows due at or before `now_ms` (at most `limit`), and the first row
/// after, in the partitions this node holds (all on a store that is not shared).
fn due_rows(
    store: &Store,
    now_ms: u64,
    limit: usize,
) -> Result<(Vec<Row>, Option<u64>), StoreError> {
    let held = store.held_partitions();
    store.backend().due_clocks(held.as_deref(), now_ms, limit)
}

/// Append one tick per row; returns ticks stored, the highest seq, and rows refused.
fn emit(writer: &Writer, rows: &[Row]) -> Result<(u64, u64, Vec<Row>), StoreError> {
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(event) = tick(row) else {
            tracing::error!(ticket = %row.1, key = %row.2, "clock index row does not make a valid tick; skipped");
            continue;
        };
        let rx = writer.enqueue_blocking(InputBatch {
            events: vec![event],
            source: Source::Scheduler,
        })?;
        pending.push((row, rx));
    }
    let (mut stored, mut last, mut refused) = (0, 0, Vec::new());
    for (row, rx) in pending {
        match rx
            .blocking_recv()
            .unwrap_or(Err(AppendError::Storage(StoreError::Closed)))
        {
            Ok(outcomes) => {
                for o in outcomes {
                    if let Appended::Stored { .. } = o {
                        stored += 1;
                    }
                    last = last.max(o.seq());
                }
            }
            Err(AppendError::Rejected { rejection, .. }) => {
                tracing::debug!(ticket = %row.1, key = %row.2, %rejection, "tick refused");
                refused.push(row.clone());
            }
            Err(AppendError::Storage(e)) => return Err(e),
            Err(e) => tracing::warn!(error = %e, "tick not stored; will retry"),
        }
    }
    Ok((stored, last, refused))
}

/// The tick for an index row. Its id is derived from the row, so a repeat is a duplicate.
fn tick((ms, ticket, key): &Row) -> Option<Event> {
    let due = Timestamp::from_millisecond(i64::try_from(*ms).ok()?).ok()?;
    let digest = Sha256::digest(format!("{ticket}\u{0}{key}\u{0}{ms}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Some(Event {
        id: EventId::new(format!("tick:{hex}")).ok()?,
        ticket_id: TicketId::new(ticket.clone()).ok()?,
        occurred_at: due,
        kind: EventKind::ClockDue(ClockDue {
            key: key.clone(),
            due,
        }),
    })
}
