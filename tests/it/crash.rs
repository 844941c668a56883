//! Crash durability: concurrent signed ingest, SIGKILL at random moments,
//! restart, and check that nothing acknowledged was lost or duplicated,
//! that every action was produced exactly once, that the outbox delivered
//! every side effect at least once, and that the store is consistent
//! (`escalier verify`).
//!
//! 20 kills here; `ESCALIER_CRASH_ROUNDS=500 cargo test -p escalier --test it crash`
//! (or `scripts/crash-test`) runs the long form.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::plugins::{NOTIFY_POLICY, NOTIFY_SECRET, notify_manifest};
use crate::util::*;

const NOTE_EVERY_COMMENT: &str = r#"
const ON = ["comment.added"];
note(`seen ${event.id}`);
"#;

#[derive(Default)]
struct Ledger {
    /// Event id → seq, for every 200/202 answer.
    acked: HashMap<String, u64>,
    /// Comment ids acknowledged (each must have exactly one note).
    comments: Vec<String>,
}

fn client(base: String, c: usize, round: usize, stop: Arc<AtomicBool>, ledger: Arc<Mutex<Ledger>>) {
    let http = load_client(Duration::from_secs(5));
    let ticket = format!("K-{round}-{c}");
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let id = format!("k{round}-{c}-{n}");
        let body = if n == 1 {
            created(&id, &ticket, "")
        } else {
            comment(&id, &ticket, "customer", "still broken")
        };
        let resp = send_signed(&http, &base, &id, body);
        let Ok(resp) = resp else { return };
        let status = resp.status().as_u16();
        let Ok(json) = resp.json::<serde_json::Value>() else {
            return;
        };
        if status == 200 || status == 202 {
            let mut l = ledger.lock().unwrap();
            l.acked.insert(id.clone(), json["seq"].as_u64().unwrap());
            if n > 1 {
                l.comments.push(id);
            }
        } else if n == 1 {
            return; // the ticket was not created; nothing else would be accepted
        }
    }
}

#[test]
fn nothing_acknowledged_is_lost_across_kill_9() {
    let rounds: usize = std::env::var("ESCALIER_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    kills(1, rounds);
}

/// `rounds` times: clients send to every one of `nodes` nodes (on one
/// PostgreSQL store when there are several), one node is killed with
/// SIGKILL at a random moment and started again; the others carry on and
/// take over its partitions once its leases expire. Then the checks above.
pub fn kills(nodes: usize, rounds: usize) {
    // Every ticket.created notifies through notify-http and the outbox, to
    // a receiver that stays up while the server is killed around it.
    let rx = Receiver::start();
    let conf = tempfile::tempdir().unwrap();
    let config = conf.path().join("escalier.toml");
    // A short lease: a killed node's partitions move within a second.
    std::fs::write(
        &config,
        "[plugins]\nallow_private = [\"127.0.0.0/8\"]\n[cluster]\nlease = \"1s\"\n",
    )
    .unwrap();
    let manifest = notify_manifest(&rx.url);
    let mut s = Server::start_with_plugins(
        &[
            ("note.rhai", NOTE_EVERY_COMMENT),
            ("notify.rhai", NOTIFY_POLICY),
        ],
        &[("notify-http", Some(&manifest))],
        &["--config", config.to_str().unwrap()],
    );
    s.set_env(&[("ESCALIER_SECRET_NOTIFY_SIGNING_SECRET", NOTIFY_SECRET)]);
    if nodes > 1 {
        s.move_to_postgres();
    }
    s.restart();
    let mut others: Vec<Server> = (1..nodes).map(|_| s.another_node()).collect();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let bases: Vec<String> = std::iter::once(&s)
            .chain(others.iter())
            .map(|n| n.base.clone())
            .collect();
        let clients: Vec<_> = (0..6)
            .map(|c| {
                let base = bases[c % bases.len()].clone();
                let (stop, ledger) = (stop.clone(), ledger.clone());
                std::thread::spawn(move || client(base, c, round, stop, ledger))
            })
            .collect();
        // Kill one node at a random moment while requests are in flight.
        std::thread::sleep(Duration::from_millis(20 + rand::random::<u64>() % 200));
        let victim = round % nodes;
        let node = if victim == 0 {
            &mut s
        } else {
            &mut others[victim - 1]
        };
        node.stop(true);
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
        node.kill_and_restart();
    }

    // Let the processor catch up, then read the whole log through the API.
    let committed = s.committed();
    let mut log = Vec::new();
    let mut after = 0;
    loop {
        let page = s.get(&format!("/v1/events?after={after}&limit=1000"));
        let records = page.body["records"].as_array().unwrap().clone();
        if records.is_empty() {
            if after >= committed {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        after = page.body["next_after"].as_u64().unwrap();
        log.extend(records);
    }

    let ledger = ledger.lock().unwrap();
    let mut inputs: HashMap<String, u64> = HashMap::new();
    let mut notes: BTreeMap<u64, usize> = BTreeMap::new();
    let mut seq_of_comment: HashMap<u64, String> = HashMap::new();
    // The delivery id of every request the plugin made (a notify action
    // whose plugin call timed out under load requested nothing: its
    // plugin.error is in the log instead).
    let mut deliveries: Vec<String> = Vec::new();
    for r in &log {
        let seq = r["seq"].as_u64().unwrap();
        if r["event"]["type"] == "delivery.requested" {
            deliveries.push(
                r["event"]["data"]["delivery_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        if r["index"] == 0 {
            let id = r["event"]["id"].as_str().unwrap().to_owned();
            assert!(
                inputs.insert(id.clone(), seq).is_none(),
                "event {id} stored twice"
            );
            if r["event"]["type"] == "comment.added" {
                seq_of_comment.insert(seq, id);
            }
        } else if r["event"]["type"] == "action.note" {
            *notes.entry(seq).or_default() += 1;
        }
    }
    assert!(!ledger.acked.is_empty());
    for (id, seq) in &ledger.acked {
        assert_eq!(
            inputs.get(id),
            Some(seq),
            "acknowledged {id} at {seq} is missing or moved"
        );
    }
    // Every stored comment (acknowledged or not) has exactly one note: no action lost or repeated.
    for (seq, id) in &seq_of_comment {
        assert_eq!(
            notes.get(seq),
            Some(&1),
            "comment {id} at {seq} has {:?} notes",
            notes.get(seq)
        );
    }
    for id in &ledger.comments {
        assert!(inputs.contains_key(id));
    }

    // Every side effect delivered at least once (retries after a restart
    // may deliver some twice; receivers deduplicate by webhook-id).
    assert!(!deliveries.is_empty(), "tickets were created and notified");
    let delivered = || -> HashMap<String, usize> {
        let mut by_id = HashMap::new();
        for r in rx.received() {
            if let Some(id) = r.header("webhook-id") {
                *by_id.entry(id.to_owned()).or_default() += 1;
            }
        }
        by_id
    };
    let waiting = std::time::Instant::now();
    loop {
        let got = delivered();
        let missing: Vec<&String> = deliveries
            .iter()
            .filter(|d| !got.contains_key(*d))
            .collect();
        if missing.is_empty() {
            break;
        }
        // A bound on waiting for the delivery worker, not a timed assertion:
        // an attempt that failed under the suite's load is retried after
        // 10 s, then 30 s, then 90 s (the default schedule), so the bound
        // leaves room for three failed attempts.
        assert!(
            waiting.elapsed() < Duration::from_secs(300),
            "{} of {} side effects never delivered: {missing:?}",
            missing.len(),
            deliveries.len()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    let got = delivered();
    let redelivered = got.values().filter(|n| **n > 1).count();
    eprintln!(
        "crash test: {nodes} node(s), {rounds} kills, {} acknowledged, {} stored, lost 0, duplicated 0; \
         {} side effects, all delivered ({redelivered} more than once)",
        ledger.acked.len(),
        inputs.len(),
        deliveries.len(),
    );

    for n in &mut others {
        n.stop(false);
    }
    s.stop(false);
    let out = s.cli(&["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("consistent"), "{text}");
}
