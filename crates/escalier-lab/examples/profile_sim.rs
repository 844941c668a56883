//! Scratch: time the simulator alone over pre-generated traffic.
use escalier_core::Source;
use escalier_core::process::Limits;
use escalier_lab::policies::Policies;
use escalier_lab::sim::Simulator;
use escalier_lab::traffic::{GenOptions, Generator};
use std::time::Instant;

fn main() {
    let n: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let policies = Policies::load(&dir).unwrap();
    let t = Instant::now();
    let events: Vec<_> = Generator::new(GenOptions::default()).take(n).collect();
    println!("generate {:?}", t.elapsed());
    let mut sim =
        Simulator::with_policies(std::sync::Arc::clone(policies.set()), Limits::default());
    sim.keep_log(false).start_at(events[0].1);
    let mut buf = Vec::new();
    let t = Instant::now();
    for (e, at) in events {
        let _ = sim.submit_into(e, Source::Webhook { delivery: None }, at, &mut buf);
        buf.clear();
    }
    let took = t.elapsed();
    println!(
        "sim {:?} = {:.2} us/input",
        took,
        took.as_secs_f64() * 1e6 / n as f64
    );
}
