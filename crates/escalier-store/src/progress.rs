//! Watermarks: the last committed input seq and the last processed one.
//!
//! The processor thread blocks on `committed` (a condvar); HTTP handlers
//! that want read-your-writes await `processed` (a tokio watch).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// What [`Progress::wait_committed_beyond`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Committed(u64),
    TimedOut,
    Closed,
}

pub struct Progress {
    committed: Mutex<Committed>,
    wake: Condvar,
    processed: watch::Sender<u64>,
}

struct Committed {
    seq: u64,
    closing: bool,
}

impl Progress {
    pub fn new(committed: u64, processed: u64) -> Self {
        Progress {
            committed: Mutex::new(Committed {
                seq: committed,
                closing: false,
            }),
            wake: Condvar::new(),
            processed: watch::Sender::new(processed),
        }
    }

    pub fn committed(&self) -> u64 {
        self.lock().seq
    }

    pub fn processed(&self) -> u64 {
        *self.processed.borrow()
    }

    /// Called by the writer after a durable commit.
    pub fn set_committed(&self, seq: u64) {
        let mut c = self.lock();
        if seq > c.seq {
            c.seq = seq;
        }
        self.wake.notify_all();
    }

    /// Called by the processor after its commit.
    pub fn set_processed(&self, seq: u64) {
        self.processed.send_if_modified(|p| {
            let moved = seq > *p;
            if moved {
                *p = seq;
            }
            moved
        });
    }

    /// Ask the processor to finish: it drains what is committed, then stops.
    pub fn close(&self) {
        self.lock().closing = true;
        self.wake.notify_all();
    }

    /// Block until the committed seq passes `seen`, the store closes, or
    /// `timeout` passes.
    pub fn wait_committed_beyond(&self, seen: u64, timeout: Duration) -> Wait {
        let deadline = std::time::Instant::now() + timeout;
        let mut c = self.lock();
        loop {
            if c.seq > seen {
                return Wait::Committed(c.seq);
            }
            if c.closing {
                return Wait::Closed;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Wait::TimedOut;
            }
            c = match self.wake.wait_timeout(c, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Whether the writer has stopped.
    pub fn is_closing(&self) -> bool {
        self.lock().closing
    }

    /// Blocking variant of [`Progress::wait_processed`], for threads.
    pub fn wait_processed_blocking(&self, seq: u64, timeout: Duration) -> bool {
        let mut rx = self.processed.subscribe();
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if *rx.borrow_and_update() >= seq {
                return true;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            // watch has no blocking wait; poll it briefly. Used off the hot path only.
            std::thread::sleep(left.min(Duration::from_millis(2)));
        }
    }

    /// Wait until the processor has applied `seq` (or `timeout` passes).
    /// Returns whether it has.
    pub async fn wait_processed(&self, seq: u64, timeout: Duration) -> bool {
        let mut rx = self.processed.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|p| *p >= seq))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Committed> {
        self.committed.lock().unwrap_or_else(|p| p.into_inner())
    }
}
