//! Replay throughput on a generated log through the example policy set.
//!
//! `cargo bench -p escalier-lab --bench replay` (release profile). Phases,
//! each timed on its own, wall-clock and CPU (all threads):
//!
//! 1. generate `EVENTS` inputs (default 1,000,000) of synthetic traffic;
//! 2. simulate them with `policies/` (the processing step alone: policies,
//!    SLA clocks, ladders, reducer, scheduler ticks; nothing written);
//! 3. simulate again, writing the log as an NDJSON export (what
//!    `escalier export` writes) — not timed;
//! 4. read and decode the export, nothing else (the floor for `--log`);
//! 5. replay the export with the same policies on 1 and on `THREADS`
//!    (default 2) worker threads: must give an empty diff.
//!
//! Environment: `EVENTS`, `THREADS`, `KEEP` (keep the export at this path).
//! The machine is shared: CPU time says more than wall time when it is
//! busy. Figures: `docs/performance.md`.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use escalier_core::process::Limits;
use escalier_core::{Event, Source, Timestamp};
use escalier_lab::policies::Policies;
use escalier_lab::replay::ReplayOptions;
use escalier_lab::sim::Simulator;
use escalier_lab::traffic::{GenOptions, Generator};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// CPU time of the whole process so far (user + system, every thread),
/// from /proc; zero where there is none. Ticks are 1/100 s on Linux.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // After the command name come fields 3 (state), 4, ...: utime and
    // stime are fields 14 and 15 (proc(5)).
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ticks = field(14) + field(15);
    Duration::from_millis(ticks * 10)
}

/// Time `f`: (result, wall, cpu).
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let (w, c) = (Instant::now(), cpu());
    let r = f();
    (r, w.elapsed(), cpu().saturating_sub(c))
}

fn report(what: &str, inputs: usize, wall: Duration, cpu: Duration) {
    println!(
        "{what:<34} {:>8.2} s wall {:>8.2} s cpu  {:>9.0} inputs/s wall  {:>9.0} inputs per cpu-second  {:>6.2} µs cpu/input",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        inputs as f64 / wall.as_secs_f64(),
        inputs as f64 / cpu.as_secs_f64().max(1e-9),
        cpu.as_secs_f64() * 1e6 / inputs as f64
    );
}

fn simulator(policies: &Policies, start: Timestamp) -> Simulator {
    let mut sim = Simulator::with_policies(Arc::clone(policies.set()), Limits::default());
    sim.keep_log(false).start_at(start);
    sim
}

fn main() {
    let events = env("EVENTS", 1_000_000);
    let threads = env("THREADS", 2);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let policies = Policies::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = std::env::var_os("KEEP")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("log.ndjson"));
    println!(
        "{events} inputs through {} policies ({}), {} cores available",
        policies.set().len(),
        dir.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let (traffic, wall, cpu_t) = timed(|| {
        Generator::new(GenOptions::default())
            .take(events)
            .collect::<Vec<(Event, Timestamp)>>()
    });
    report("generate", events, wall, cpu_t);
    let start = traffic[0].1;

    let (sim, wall, cpu_t) = timed(|| {
        let mut sim = simulator(&policies, start);
        let mut buf = Vec::new();
        for (event, at) in traffic.iter().cloned() {
            let _ = sim.submit_into(event, Source::Webhook { delivery: None }, at, &mut buf);
            buf.clear();
        }
        sim
    });
    report("simulate (1 thread)", events, wall, cpu_t);
    let c = sim.counters();
    println!(
        "  {} ticks, {} derived records, {} refused, {} tickets",
        c.ticks,
        c.derived,
        c.refused,
        sim.tickets().count()
    );
    drop(sim);

    let mut out = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(&path).expect("create export"),
    );
    let mut sim = simulator(&policies, start);
    let mut buf = Vec::new();
    let mut records = 0u64;
    for (event, at) in traffic {
        let _ = sim.submit_into(event, Source::Webhook { delivery: None }, at, &mut buf);
        for r in buf.drain(..) {
            serde_json::to_writer(&mut out, &r).expect("write");
            out.write_all(b"\n").expect("write");
            records += 1;
        }
    }
    out.flush().expect("flush");
    drop((out, sim));
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("export: {records} records, {:.0} MB", size as f64 / 1e6);

    let (n, wall, cpu_t) = timed(|| {
        let mut n = 0u64;
        escalier_lab::log::read_ndjson(&path, |_| n += 1).expect("read export");
        n
    });
    report(&format!("read + decode {n} records"), events, wall, cpu_t);

    for t in [1, threads]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let opts = ReplayOptions {
            threads: t,
            ..ReplayOptions::default()
        };
        let (report_, wall, cpu_t) =
            timed(|| escalier_lab::replay::replay_ndjson(&policies, opts, &path).expect("replay"));
        assert!(
            report_.is_empty(),
            "replaying with the recording policies must give an empty diff: {:?}",
            report_.summary.total
        );
        report(
            &format!("replay --log, {t} thread(s)"),
            report_.counts.inputs as usize,
            wall,
            cpu_t,
        );
    }
}
