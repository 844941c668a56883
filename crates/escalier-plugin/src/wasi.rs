//! WASI for plugins: linked so that guests built with a standard library
//! instantiate, but granting nothing.
//!
//! - filesystem: no preopened directories, so every path fails;
//! - environment and arguments: empty;
//! - stdin empty; stdout discarded; stderr kept (bounded) so a panic
//!   message can go into `plugin.error`;
//! - sockets and name lookup: denied (the defaults of `WasiCtxBuilder`);
//! - wall clock: with `capabilities.clock`, the time of the record being
//!   handled (the request's arrival in an adapter), like `clock.now`;
//!   without it, a fixed 1970-01-01T00:00:00Z that tells nothing;
//!   monotonic clock: stands still, so a guest cannot time anything;
//! - randomness: generators seeded from the plugin's hash and the record's
//!   position, and seeded again right before every export call, so a
//!   replay draws the same numbers whether the instance is fresh or warm.
//!   The insecure seed (which language runtimes read once, at start, for
//!   hash tables) derives from the plugin's hash alone: it cannot change
//!   under a warm instance. Plugins must not use any of it for secrets.

use std::convert::Infallible;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng, TryRng};
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

/// The wall clock of a plugin without `capabilities.clock`: always the
/// Unix epoch.
struct EpochWallClock;

impl HostWallClock for EpochWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
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

/// A generator the host can seed again after the WASI context is built
/// (`WasiCtx` offers no way to swap its generators).
#[derive(Clone)]
struct SharedRng(Arc<Mutex<StdRng>>);

impl SharedRng {
    fn new(seed: u64) -> SharedRng {
        SharedRng(Arc::new(Mutex::new(StdRng::seed_from_u64(seed))))
    }

    fn reseed(&self, seed: u64) {
        *self.lock() = StdRng::seed_from_u64(seed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StdRng> {
        // Only this store's calls use it; a poisoned lock still holds a generator.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TryRng for SharedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.lock().next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.lock().next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.lock().fill_bytes(dst);
        Ok(())
    }
}

/// The two WASI generators of one store, to seed again per call.
#[derive(Clone)]
pub(crate) struct Seeds {
    secure: SharedRng,
    insecure: SharedRng,
}

impl Seeds {
    fn new(seed: u64) -> Seeds {
        Seeds {
            secure: SharedRng::new(seed),
            insecure: SharedRng::new(insecure_seed(seed)),
        }
    }

    /// Seed both generators from `seed` as a new context would.
    pub fn reseed(&self, seed: u64) {
        self.secure.reseed(seed);
        self.insecure.reseed(insecure_seed(seed));
    }
}

fn insecure_seed(seed: u64) -> u64 {
    seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15
}

/// What a plugin's WASI context reveals; everything else is denied.
pub(crate) struct Sandbox<'a> {
    pub now: &'a SharedNow,
    /// `capabilities.clock`: whether the wall clock tells record time.
    pub clock: bool,
    /// Seeds the generators: the plugin's hash and the record's position.
    pub seed: u64,
    /// The plugin's hash alone: the insecure seed.
    pub plugin_seed: u64,
    pub stderr: &'a MemoryOutputPipe,
}

pub(crate) fn sandbox(s: Sandbox<'_>) -> (WasiCtx, Seeds) {
    let seeds = Seeds::new(s.seed);
    let mut b = WasiCtxBuilder::new();
    if s.clock {
        b.wall_clock(RecordWallClock(s.now.clone()));
    } else {
        b.wall_clock(EpochWallClock);
    }
    b.monotonic_clock(StillClock)
        .secure_random(seeds.secure.clone())
        .insecure_random(seeds.insecure.clone())
        .insecure_random_seed(u128::from(s.plugin_seed))
        .stderr(s.stderr.clone())
        .allow_blocking_current_thread(true);
    (b.build(), seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reseeding_restarts_the_sequence_a_new_context_would_draw() {
        let fresh = Seeds::new(7);
        let mut secure = fresh.secure.clone();
        let mut insecure = fresh.insecure.clone();
        let first = (secure.next_u64(), insecure.next_u64());
        let _ = (secure.next_u64(), insecure.next_u64());
        fresh.reseed(7);
        assert_eq!((secure.next_u64(), insecure.next_u64()), first);
        fresh.reseed(8);
        assert_ne!(secure.next_u64(), first.0);
    }
}
