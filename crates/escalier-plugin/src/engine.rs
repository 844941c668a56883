//! The wasmtime engine every plugin runs on: configuration (pooling
//! allocator, epoch interruption), the linker with the host capabilities
//! and a deny-by-default WASI, the epoch ticker thread, and the compile
//! cache.
//!
//! Limits in one place: the epoch deadline and memory limiter are set on
//! every store by [`crate::call`]; the pool bounds here are host-wide
//! ceilings that manifests cannot exceed.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings::Plugin;
use crate::cache::CompileCache;
use crate::call::CallState;
use crate::error::HostError;

/// Host-wide bounds of the instance pool.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Instances alive at once (fresh calls in flight plus warm instances).
    pub max_instances: u32,
    /// Largest linear memory any plugin may have; `limits.memory_mib` above
    /// this is refused at load.
    pub max_memory_mib: u32,
    /// Bytes of each linear-memory slot kept mapped (reset in place instead
    /// of released) between instances. Measured here with a Rust guest
    /// (memory about 1.1 MiB): when this covers the whole memory, a fresh
    /// instance takes no page faults and a call costs about 18 µs; at 0 the
    /// faults and unmapping make it 35 to 45 µs on a loaded machine, and a
    /// value just under the memory size is worst (a 1 MiB reset, ~30 µs).
    /// Costs up to this much resident memory per recently used slot.
    pub keep_resident_bytes: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_instances: 128,
            max_memory_mib: 512,
            keep_resident_bytes: 4 << 20,
        }
    }
}

/// The engine, linker, compile cache and epoch ticker, shared by every
/// plugin loaded through one registry.
pub(crate) struct Runtime {
    pub engine: Engine,
    pub linker: Linker<CallState>,
    pub cache: Option<CompileCache>,
    pub tick: Duration,
    pub pool: PoolConfig,
    _ticker: Ticker,
}

impl Runtime {
    pub fn new(
        pool: PoolConfig,
        cache_dir: Option<PathBuf>,
        tick: Duration,
    ) -> Result<Arc<Runtime>, HostError> {
        let mut p = PoolingAllocationConfig::new();
        let n = pool.max_instances.max(1);
        p.total_component_instances(n)
            // componentize-py guests hold a dozen core instances and several
            // memories and tables each; Rust guests one or two.
            .total_core_instances(n * 32)
            .total_memories(n * 4)
            .total_tables(n * 8)
            .max_core_instances_per_component(64)
            .max_memories_per_component(8)
            .max_tables_per_component(16)
            .max_tables_per_module(8)
            .max_memories_per_module(2)
            .table_elements(64 * 1024)
            .max_core_instance_size(4 << 20)
            .max_component_instance_size(1 << 20)
            .max_memory_size((pool.max_memory_mib as usize) << 20)
            .linear_memory_keep_resident(pool.keep_resident_bytes)
            .table_keep_resident(64 << 10);
        let mut cfg = Config::new();
        cfg.wasm_component_model(true)
            .epoch_interruption(true)
            .parallel_compilation(true)
            .memory_init_cow(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(p));
        let engine = Engine::new(&cfg).map_err(|e| HostError::Engine(format!("{e:#}")))?;

        let mut linker = Linker::<CallState>::new(&engine);
        // Guests built with a language's standard library import WASI even
        // if they never use it. Link it, backed by a context that grants
        // nothing (see `wasi.rs`): reads find nothing, clocks show record time.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| HostError::Engine(format!("{e:#}")))?;
        Plugin::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)
            .map_err(|e| HostError::Engine(format!("{e:#}")))?;

        let cache = match cache_dir {
            Some(dir) => Some(CompileCache::open(&dir, &engine)?),
            None => None,
        };
        let ticker = Ticker::start(engine.clone(), tick);
        Ok(Arc::new(Runtime {
            engine,
            linker,
            cache,
            tick,
            pool,
            _ticker: ticker,
        }))
    }

    /// Epoch ticks for a time limit: rounded up, plus one for the tick
    /// already under way when the call starts.
    pub fn deadline_ticks(&self, time_ms: u32) -> u64 {
        let tick_us = self.tick.as_micros().max(1) as u64;
        (u64::from(time_ms) * 1000).div_ceil(tick_us) + 1
    }
}

/// One thread that advances the engine's epoch every tick; the deadline of
/// every store is counted in these ticks. Stops when the runtime is dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine, tick: Duration) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("escalier-plugin-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .ok();
        Ticker { stop, thread }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
