//! Plugin call and load costs, against components built by
//! `scripts/build-plugins`.
//!
//! - `call/noop_fresh`: `PluginSet::react` with a no-op handler, fresh
//!   instance per call (the default): instantiate + lower ticket and event
//!   + call + drop the store.
//! - `call/noop_warm`: the same plugin with `instances = "reuse"`.
//! - `phases/*`: the fresh call split into instantiate, call and drop.
//! - `load/*`: a start with a warm compile cache: `PluginRegistry::open`
//!   of one plugin directory (engine start included), Rust and Python.
//!
//! Run: `scripts/build-plugins && cargo bench -p escalier-plugin`.
//! `BENCH_KEEP_RESIDENT=<bytes>` overrides `PoolConfig::keep_resident_bytes`
//! to compare pool settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use escalier_core::event::{Event, Origin};
use escalier_core::{Reactor, Record, Source, Ticket, Timestamp, reduce};
use escalier_plugin::{HostConfig, PluginRegistry};

fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn built(kind: &str, name: &str) -> PathBuf {
    let d = target().join(kind).join(name);
    assert!(
        d.join("plugin.toml").is_file(),
        "{} missing: run scripts/build-plugins first",
        d.display()
    );
    d
}

fn copy_plugin(from: &Path, root: &Path, name: &str, manifest: Option<String>) {
    let dest = root.join(name);
    std::fs::create_dir_all(&dest).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dest.join(e.file_name())).unwrap();
    }
    if let Some(m) = manifest {
        std::fs::write(dest.join("plugin.toml"), m).unwrap();
    }
}

fn record(seq: u64, ty: &str, data: &str) -> Arc<Record> {
    let at: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
    let json = format!(
        r#"{{"id":"ev-{seq}","type":"{ty}","ticket_id":"T-1","occurred_at":"{at}","data":{data}}}"#
    );
    Arc::new(Record {
        seq,
        index: 0,
        recorded_at: at,
        source: Source::Webhook { delivery: None },
        event: Event::decode_one(&json, Origin::Internal).unwrap(),
    })
}

fn ticket() -> Arc<Ticket> {
    let created = record(
        1,
        "ticket.created",
        r#"{"subject":"Export to CSV fails","requester":{"id":"c-42","plan":"enterprise"},"channel":"email","tags":["billing","export"]}"#,
    );
    Arc::new(reduce::apply(None, &created).unwrap())
}

fn registry(
    plugins: &[(&Path, &str, Option<String>)],
    cache: &Path,
) -> (tempfile::TempDir, Arc<PluginRegistry>) {
    let dir = tempfile::tempdir().unwrap();
    for (from, name, m) in plugins {
        copy_plugin(from, dir.path(), name, m.clone());
    }
    let mut c = HostConfig::new(dir.path());
    c.cache_dir = Some(cache.to_owned());
    if let Some(k) = std::env::var("BENCH_KEEP_RESIDENT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        c.pool.keep_resident_bytes = k;
    }
    let (r, report) = PluginRegistry::open(c).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    (dir, r)
}

fn calls(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let noop = built("plugin-fixtures", "noop");
    let warm_manifest = std::fs::read_to_string(noop.join("plugin.toml")).unwrap()
        + "\n[limits]\ninstances = \"reuse\"\n";
    let (_d1, fresh) = registry(&[(&noop, "noop", None)], cache.path());
    let (_d2, warm) = registry(&[(&noop, "noop", Some(warm_manifest))], cache.path());
    let ticket = ticket();
    let rec = record(
        2,
        "comment.added",
        r#"{"author":{"kind":"customer"},"body":"Any news on my export?"}"#,
    );
    let mut out = Vec::new();

    let mut g = c.benchmark_group("call");
    let set = fresh.current();
    g.bench_function("noop_fresh", |b| {
        b.iter(|| {
            set.react(&ticket, &rec, &mut out);
            out.clear();
        })
    });
    let set = warm.current();
    g.bench_function("noop_warm", |b| {
        b.iter(|| {
            set.react(&ticket, &rec, &mut out);
            out.clear();
        })
    });
    g.finish();

    let set = fresh.current();
    let mut g = c.benchmark_group("phases");
    for (i, name) in ["instantiate", "call", "drop"].into_iter().enumerate() {
        g.bench_function(name, |b| {
            b.iter_custom(|n| {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    total += set.time_phases("noop", &ticket, &rec).unwrap()[i];
                }
                total
            })
        });
    }
    g.finish();
}

fn loads(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("load");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    let python = target().join("plugins/triage-py");
    let mut cases = vec![("rust_checklist", built("plugins", "checklist"))];
    if python.join("plugin.toml").is_file() {
        cases.push(("python_triage", python));
    }
    for (label, src) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_plugin(&src, dir.path(), "p", None);
        let open = || {
            let mut c = HostConfig::new(dir.path());
            c.cache_dir = Some(cache.path().to_owned());
            PluginRegistry::open(c).unwrap().0
        };
        drop(open()); // fill the compile cache
        // Per-plugin load (read + hash + map from cache + pre-link), as status reports it.
        for st in open().status() {
            eprintln!(
                "load/{label}: plugin `{}` load_ms = {:.2} (compile cache: {:?})",
                st.name,
                st.load_ms.unwrap_or(f64::NAN),
                st.compile_cache
            );
        }
        g.bench_function(label, |b| {
            b.iter_custom(|n| {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    let t0 = Instant::now();
                    let r = open();
                    total += t0.elapsed();
                    drop(r);
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, calls, loads);
criterion_main!(benches);
