//! Several nodes on one PostgreSQL store: any node ingests and answers,
//! processing is shared out by partition, a delivery sent to two nodes at
//! once is stored once, a killed node's partitions, clocks and deliveries
//! are taken over, deadlines fire once whichever node is alive, and the
//! database restarting under load loses nothing acknowledged.
//!
//! These need a PostgreSQL server (`ESCALIER_TEST_POSTGRES`, which
//! scripts/test starts); they run in the suite's redb pass only, since
//! they make their own databases.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

const NOTE_EVERY_COMMENT: &str = r#"
const ON = ["comment.added"];
note(`seen ${event.id}`);
"#;

/// A short lease, so a killed node's partitions move within a second.
fn short_lease() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("escalier.toml");
    std::fs::write(&path, "[cluster]\nlease = \"1s\"\n").unwrap();
    let p = path.to_str().unwrap().to_owned();
    (dir, p)
}

fn skip(test: &str) -> bool {
    on_postgres() || !postgres_available(test)
}

/// The cluster as a node shows it.
fn cluster(s: &Server) -> Value {
    let r = s.get("/v1/cluster");
    assert_eq!(r.status, 200, "GET /v1/cluster: {}", r.body);
    r.body
}

/// Partitions held per live node.
fn holders(view: &Value) -> HashMap<String, usize> {
    let mut by: HashMap<String, usize> = HashMap::new();
    for p in view["partitions"].as_array().unwrap() {
        if let Some(owner) = p["owner"].as_str() {
            *by.entry(owner.to_owned()).or_default() += 1;
        }
    }
    by
}

fn wait_for_owners(s: &Server, what: &str, cond: impl Fn(&HashMap<String, usize>, usize) -> bool) {
    wait_until(what, Duration::from_secs(60), || {
        let view = cluster(s);
        let total = view["partitions"].as_array().unwrap().len();
        cond(&holders(&view), total)
    });
}

#[test]
fn two_nodes_share_the_partitions_and_either_answers_for_any_ticket() {
    if skip("two_nodes_share_the_partitions_and_either_answers_for_any_ticket") {
        return;
    }
    let (_conf, config) = short_lease();
    let mut a = Server::start_with(&[("note.rhai", NOTE_EVERY_COMMENT)], &["--config", &config]);
    a.move_to_postgres();
    let view = cluster(&a);
    assert_eq!(view["store"], "postgres");
    wait_for_owners(&a, "one node holds every partition", |h, total| {
        h.len() == 1 && h.values().sum::<usize>() == total
    });

    // A second node joins: the first gives back about half, without a restart.
    let mut b = a.another_node();
    wait_for_owners(&a, "two nodes share the partitions", |h, total| {
        h.len() == 2 && h.values().sum::<usize>() == total && h.values().all(|n| *n >= total / 2)
    });
    let view = cluster(&b);
    assert_eq!(view["nodes"].as_array().unwrap().len(), 2, "{view}");

    // Tickets written through one node, read through the other, with what
    // the policy did (processed by whichever node holds the partition).
    let mut last = 0;
    for i in 0..40 {
        let via = if i % 2 == 0 { &a } else { &b };
        via.ingest(&created(&format!("c{i}"), &format!("T-{i}"), ""));
        last = via.ingest(&comment(
            &format!("m{i}"),
            &format!("T-{i}"),
            "customer",
            "hello",
        ));
    }
    for i in 0..40 {
        let other = if i % 2 == 0 { &b } else { &a };
        let t = other.ticket(&format!("T-{i}"), last);
        let types = timeline_types(&t);
        assert!(
            types.contains(&"action.note".to_owned()),
            "T-{i} through the other node: {types:?}"
        );
    }

    // Each node's in-memory ticket index (the console's queue, the
    // statistics) holds every ticket, the other node's partitions too.
    for node in [&a, &b] {
        wait_until(
            "both indexes hold every ticket",
            Duration::from_secs(60),
            || {
                let r = node.get("/v1/stats?from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z");
                r.status == 200 && r.body["tickets"] == 40
            },
        );
    }

    // The second node leaves cleanly (SIGTERM): it gives its partitions
    // back and the first takes them.
    b.stop(false);
    wait_for_owners(
        &a,
        "the first node holds every partition again",
        |h, total| h.len() == 1 && h.values().sum::<usize>() == total,
    );
}

#[test]
fn one_delivery_sent_to_two_nodes_at_once_is_stored_once() {
    if skip("one_delivery_sent_to_two_nodes_at_once_is_stored_once") {
        return;
    }
    let mut a = Server::start(&[]);
    a.move_to_postgres();
    let b = a.another_node();
    let a = Arc::new(a);
    let b = Arc::new(b);
    let answers: Arc<Mutex<Vec<(String, u16, u64)>>> = Arc::default();
    for i in 0..100 {
        let id = format!("dup-{i}");
        let body = created(&id, &format!("D-{i}"), "");
        let gate = Arc::new(Barrier::new(2));
        let threads: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|node| {
                let (gate, body, id, answers) =
                    (gate.clone(), body.clone(), id.clone(), answers.clone());
                std::thread::spawn(move || {
                    gate.wait();
                    let r = node.post_events(&body);
                    let seq = r.body["seq"].as_u64().unwrap_or(0);
                    answers.lock().unwrap().push((id, r.status, seq));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
    let answers = answers.lock().unwrap();
    let mut seqs: HashMap<&str, HashSet<u64>> = HashMap::new();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for (id, status, seq) in answers.iter() {
        assert!(*status == 202 || *status == 200, "{id}: {status}");
        *statuses.entry(*status).or_default() += 1;
        seqs.entry(id.as_str()).or_default().insert(*seq);
    }
    // Both answers name the one seq the event is stored at.
    for (id, s) in &seqs {
        assert_eq!(s.len(), 1, "{id} answered with seqs {s:?}");
    }
    assert_eq!(
        statuses.get(&202),
        Some(&100),
        "one 202 per event: {statuses:?}"
    );
    assert_eq!(
        statuses.get(&200),
        Some(&100),
        "one 200 per duplicate: {statuses:?}"
    );
    let url = a.store_url.clone().unwrap();
    assert_eq!(psql(&url, "SELECT count(*) FROM events"), "100");
}

/// 20 kills of one of two nodes under load (`ESCALIER_CRASH_ROUNDS` for more).
#[test]
fn killing_one_of_two_nodes_loses_and_repeats_nothing() {
    if skip("killing_one_of_two_nodes_loses_and_repeats_nothing") {
        return;
    }
    let rounds: usize = std::env::var("ESCALIER_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    crate::crash::kills(2, rounds);
}

#[test]
fn a_deadline_fires_once_whichever_node_is_alive() {
    if skip("a_deadline_fires_once_whichever_node_is_alive") {
        return;
    }
    // Monday 09:00 Paris; first response due at 10:00.
    let t0 = "2026-03-09T08:00:00Z";
    let (_conf, config) = short_lease();
    let mut files = crate::clocks::files();
    files.push(("note.rhai", NOTE_EVERY_COMMENT));
    let mut a = Server::start_with(&files, &["--simulated-clock", t0, "--config", &config]);
    a.move_to_postgres();
    let mut b = a.another_node();
    wait_for_owners(&a, "two nodes share the partitions", |h, total| {
        h.len() == 2 && h.values().sum::<usize>() == total
    });
    let mut last = 0;
    for i in 0..30 {
        let via = if i % 2 == 0 { &a } else { &b };
        last = via.ingest(&crate::clocks::created_at(
            &format!("e{i}"),
            &format!("S-{i}"),
            t0,
            "normal",
        ));
    }
    b.ticket("S-29", last);
    a.ticket("S-0", last);

    // One node dies; the other takes its partitions and fires every
    // deadline, its own and the dead node's.
    a.stop(true);
    wait_for_owners(&b, "the live node holds every partition", |h, total| {
        h.len() == 1 && h.values().sum::<usize>() == total
    });
    b.clock(r#"{"set": "2026-03-09T10:00:00Z"}"#);
    for i in 0..30 {
        assert_eq!(
            b.records_of(&format!("S-{i}"), "sla.breached").len(),
            1,
            "S-{i}: one first-response breach"
        );
    }

    // The dead node comes back (at the same time) and both clocks move on:
    // nothing fires twice.
    a.kill_and_restart_with(&[
        "--simulated-clock",
        "2026-03-09T10:00:00Z",
        "--config",
        &config,
    ]);
    wait_for_owners(&a, "two nodes share the partitions again", |h, total| {
        h.len() == 2 && h.values().sum::<usize>() == total
    });
    a.clock(r#"{"set": "2026-03-09T11:00:00Z"}"#);
    b.clock(r#"{"set": "2026-03-09T11:00:00Z"}"#);
    for i in 0..30 {
        let via = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            via.records_of(&format!("S-{i}"), "sla.breached").len(),
            1,
            "S-{i}: still one breach"
        );
    }
    b.stop(false);
}

#[test]
fn the_database_restarting_under_load_loses_nothing_acknowledged() {
    if skip("the_database_restarting_under_load_loses_nothing_acknowledged") {
        return;
    }
    // A PostgreSQL server of this test's own, to restart.
    let pg = tempfile::tempdir().unwrap();
    let pg_dir = pg.path().join("pg");
    let start = || {
        let out = std::process::Command::new(repo().join("scripts/pg"))
            .arg("start")
            .arg(&pg_dir)
            .output()
            .expect("run scripts/pg");
        assert!(
            out.status.success(),
            "scripts/pg start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .last()
            .unwrap_or("")
            .to_owned()
    };
    let stop = || {
        let out = std::process::Command::new(repo().join("scripts/pg"))
            .arg("stop")
            .arg(&pg_dir)
            .output()
            .expect("run scripts/pg");
        assert!(
            out.status.success(),
            "scripts/pg stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let url = start();
    // `--store` in the arguments: the server is on this test's database.
    let mut s = Server::start_with(&[("note.rhai", NOTE_EVERY_COMMENT)], &["--store", &url]);

    let acked: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let unavailable = Arc::new(AtomicU64::new(0));
    let halt = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (base, acked, unavailable, halt) = (
                s.base.clone(),
                acked.clone(),
                unavailable.clone(),
                halt.clone(),
            );
            std::thread::spawn(move || {
                let http = load_client(Duration::from_secs(10));
                let mut n = 0;
                while !halt.load(Ordering::Relaxed) {
                    n += 1;
                    let id = format!("r{c}-{n}");
                    let body = created(&id, &format!("R-{c}-{n}"), "");
                    let Ok(resp) = send_signed(&http, &base, &id, body) else {
                        continue;
                    };
                    let status = resp.status().as_u16();
                    if status == 503 {
                        assert!(
                            resp.headers().get("retry-after").is_some(),
                            "a 503 says when to retry"
                        );
                        unavailable.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    let json: Value = resp.json().unwrap_or_default();
                    if status == 200 || status == 202 {
                        acked
                            .lock()
                            .unwrap()
                            .insert(id, json["seq"].as_u64().unwrap_or(0));
                    }
                }
            })
        })
        .collect();
    wait_until("some events acknowledged", Duration::from_secs(60), || {
        acked.lock().unwrap().len() >= 50
    });
    stop();
    wait_until(
        "clients told the database is unavailable",
        Duration::from_secs(60),
        || unavailable.load(Ordering::Relaxed) > 0,
    );
    let before = acked.lock().unwrap().len();
    start();
    wait_until("ingest recovers", Duration::from_secs(120), || {
        acked.lock().unwrap().len() > before + 50
    });
    halt.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    // Processing, stalled while the database was away, catches up.
    wait_until("processing catches up", Duration::from_secs(120), || {
        let h = s.get("/healthz").body;
        h["processed"].as_u64() >= h["committed"].as_u64() && h["committed"].as_u64() > Some(0)
    });
    let acked = acked.lock().unwrap();
    let stored = psql(&url, "SELECT event_id || ' ' || seq FROM events");
    let stored: HashMap<&str, u64> = stored
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(id, seq)| (id, seq.parse().unwrap()))
        .collect();
    for (id, seq) in acked.iter() {
        assert_eq!(
            stored.get(id.as_str()),
            Some(seq),
            "acknowledged {id} at {seq}"
        );
    }
    eprintln!(
        "database restart: {} acknowledged, all stored; {} answers were 503",
        acked.len(),
        unavailable.load(Ordering::Relaxed)
    );
    s.stop(false);
    let out = s.cli(&["verify", "--store", &url]);
    assert!(
        out.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    drop(s);
    stop();
}

/// A deployment moves from redb to PostgreSQL and back with `escalier
/// export` / `import`, and `escalier verify` finds both sides consistent.
#[test]
fn export_and_import_move_a_deployment_between_redb_and_postgres() {
    if skip("export_and_import_move_a_deployment_between_redb_and_postgres") {
        return;
    }
    let mut s = Server::start_with(&[("note.rhai", NOTE_EVERY_COMMENT)], &[]);
    let mut last = 0;
    for i in 0..20 {
        s.ingest(&created(&format!("x{i}"), &format!("X-{i}"), ""));
        last = s.ingest(&comment(
            &format!("y{i}"),
            &format!("X-{i}"),
            "customer",
            "hi",
        ));
    }
    s.ticket("X-19", last);
    s.stop(false);
    let work = tempfile::tempdir().unwrap();
    let from_redb = work.path().join("redb.ndjson");
    let out = s.cli(&["export", "--out", from_redb.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let db = PgDb::create();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_escalier"))
            .args(args)
            .current_dir(work.path())
            .output()
            .expect("run escalier");
        assert!(
            out.status.success(),
            "escalier {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let policies = s.policies_dir();
    let policies = policies.to_str().unwrap();
    run(&[
        "import",
        from_redb.to_str().unwrap(),
        "--store",
        &db.url,
        "--policies",
        policies,
    ]);
    assert!(run(&["verify", "--store", &db.url, "--policies", policies]).contains("consistent"));
    let from_pg = work.path().join("pg.ndjson");
    run(&[
        "export",
        "--out",
        from_pg.to_str().unwrap(),
        "--store",
        &db.url,
    ]);
    assert_eq!(
        std::fs::read_to_string(&from_redb).unwrap(),
        std::fs::read_to_string(&from_pg).unwrap(),
        "the log exported from PostgreSQL is the one imported"
    );
    let back = work.path().join("back");
    let back = back.to_str().unwrap();
    run(&[
        "import",
        from_pg.to_str().unwrap(),
        "--data-dir",
        back,
        "--policies",
        policies,
    ]);
    assert!(run(&["verify", "--data-dir", back, "--policies", policies]).contains("consistent"));
}
