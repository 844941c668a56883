//! Scratch: time replay of an export.
use escalier_lab::policies::Policies;
use escalier_lab::replay::{ReplayOptions, replay_ndjson};
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).unwrap();
    let threads: usize = std::env::var("THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let policies = Policies::load(&dir).unwrap();
    let t = Instant::now();
    let r = replay_ndjson(
        &policies,
        ReplayOptions {
            threads,
            ..Default::default()
        },
        std::path::Path::new(&path),
    )
    .unwrap();
    let took = t.elapsed();
    println!(
        "{} inputs in {:?} = {:.0}/s empty={}",
        r.counts.inputs,
        took,
        r.counts.inputs as f64 / took.as_secs_f64(),
        r.is_empty()
    );
}
