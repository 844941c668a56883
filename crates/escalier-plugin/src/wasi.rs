//! WASI for plugins: linked so that guests built with a standard library
//! instantiate, but granting nothing.
//!
//! - filesystem: no preopened directories, so every path fails;
//! - environment and arguments: empty;
//! - stdin empty; stdout discarded; stderr kept (bounded) so a panic
//!   message can go into `plugin.error`;
//! - sockets and name lookup: denied (the defaults of `WasiCtxBuilder`);
//! - wall clock: the time of the record being handled, like `clock.now`;
//!   monotonic clock: stands still, so a guest cannot time anything;
//! - randomness: a generator seeded from the plugin's hash and the record's
//!   position, so a replay draws the same numbers. Plugins must not use it
//!   for secrets.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// Bytes of stderr kept per instance.
pub const STDERR_BYTES: usize = 4096;

/// The record time, shared with the store data so warm instances see each
/// call's time.
#[derive(Clone, Default)]
pub(crate) struct SharedNow(Arc<AtomicI64>);

impl SharedNow {
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::Relaxed);
    }

    pub fn ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct RecordWallClock(SharedNow);

impl HostWallClock for RecordWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_millis(self.0.ms().max(0) as u64)
    }
}

struct StillClock;

impl HostMonotonicClock for StillClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

pub(crate) fn sandbox(now: &SharedNow, seed: u64, stderr: &MemoryOutputPipe) -> WasiCtx {
    let mut b = WasiCtxBuilder::new();
    b.wall_clock(RecordWallClock(now.clone()))
        .monotonic_clock(StillClock)
        .secure_random(StdRng::seed_from_u64(seed))
        .insecure_random(StdRng::seed_from_u64(
            seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15,
        ))
        .insecure_random_seed(u128::from(seed))
        .stderr(stderr.clone())
        .allow_blocking_current_thread(true);
    b.build()
}
