//! Replay throughput on a generated log through the example policy set.
//!
//! `cargo bench -p escalier-lab --bench replay` (release profile). Steps,
//! each timed on its own:
//!
//! 1. generate `EVENTS` inputs (default 1,000,000) of synthetic traffic and
//!    record them through the simulator with `policies/`, writing the log
//!    as an NDJSON export (what `escalier export` writes);
//! 2. read and parse the export alone (the floor for `replay --log`);
//! 3. replay the export with the same policies, on 1 thread and on
//!    `THREADS` (default 2): must give an empty diff.
//!
//! Environment: `EVENTS`, `THREADS`, `KEEP` (keep the export at this path).
//! Figures and their interpretation: `docs/stats.md` has none; see the
//! report in `docs/policies.md`, "Backtesting with replay".

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use escalier_core::Source;
use escalier_core::process::Limits;
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

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let events = env("EVENTS", 1_000_000);
    let threads = env("THREADS", 2);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let policies = Policies::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = std::env::var_os("KEEP")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("log.ndjson"));

    // 1. Record.
    let started = Instant::now();
    let mut sim =
        Simulator::with_policies(std::sync::Arc::clone(policies.set()), Limits::default());
    sim.keep_log(false);
    let mut traffic = Generator::new(GenOptions::default());
    let first = traffic.next().expect("traffic");
    sim.start_at(first.1);
    let mut out = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(&path).expect("create export"),
    );
    let mut buf = Vec::new();
    let mut records = 0u64;
    for (event, at) in std::iter::once(first).chain(traffic).take(events) {
        let _ = sim.submit_into(event, Source::Webhook { delivery: None }, at, &mut buf);
        for r in buf.drain(..) {
            serde_json::to_writer(&mut out, &r).expect("write");
            out.write_all(b"\n").expect("write");
            records += 1;
        }
    }
    out.flush().expect("flush");
    drop(out);
    let recorded = started.elapsed();
    let c = sim.counters();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "recorded {events} inputs ({} refused, {} ticks, {} derived; {} tickets) = {records} records, {:.0} MB, in {:.2?} ({:.0} inputs/s, incl. JSON writing)",
        c.refused,
        c.ticks,
        c.derived,
        sim.tickets().count(),
        size as f64 / 1e6,
        recorded,
        events as f64 / recorded.as_secs_f64()
    );
    drop(sim);

    // 2. Parse only.
    let started = Instant::now();
    let mut n = 0u64;
    escalier_lab::log::read_ndjson(&path, |_| n += 1).expect("read export");
    let parsed = started.elapsed();
    println!(
        "parse only: {n} records in {parsed:.2?} ({:.0} records/s, {:.0} inputs/s)",
        n as f64 / parsed.as_secs_f64(),
        events as f64 / parsed.as_secs_f64()
    );

    // 3. Replay.
    for t in [1, threads]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let started = Instant::now();
        let opts = ReplayOptions {
            threads: t,
            ..ReplayOptions::default()
        };
        let report = escalier_lab::replay::replay_ndjson(&policies, opts, &path).expect("replay");
        let took = started.elapsed();
        assert!(
            report.is_empty(),
            "replaying with the recording policies must give an empty diff: {:?}",
            report.summary.total
        );
        println!(
            "replay --log, {t} thread(s): {} inputs in {took:.2?} = {:.0} events/s (empty diff: {})",
            report.counts.inputs,
            report.counts.inputs as f64 / took.as_secs_f64(),
            report.is_empty()
        );
    }
}
