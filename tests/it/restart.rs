//! Durability across restarts, graceful and not.

use crate::util::*;

const ESCALATE_ON_URGENT: &str = r#"
const ON = ["comment.added"];
if event.body.contains("urgent") && ticket.tier < 2 {
    escalate(2, "customer says urgent");
}
"#;

#[test]
fn data_survives_a_graceful_restart() {
    let mut s = Server::start(&[("urgent.rhai", ESCALATE_ON_URGENT)]);
    let seq = s.ingest(&format!(
        "[{},{}]",
        created("e1", "T-1", ""),
        comment("e2", "T-1", "customer", "urgent please")
    ));
    let before = s.ticket("T-1", seq);
    s.restart();
    let after = s.ticket("T-1", seq);
    // `timers` is computed at read time; the stored state and log must be identical.
    assert_eq!(before["ticket"], after["ticket"]);
    assert_eq!(before["timeline"], after["timeline"]);
    assert_eq!(after["ticket"]["tier"], 2);
    // Ingest continues after the restart with the next seq, and dedupe still knows old ids.
    assert_eq!(s.post_events(&created("e1", "T-1", "")).status, 200);
    let r = s.post_events(&status("e3", "T-1", "open"));
    assert_eq!(r.body["seq"], 3);
}

#[test]
fn acknowledged_events_survive_kill_9() {
    let mut s = Server::start(&[("urgent.rhai", ESCALATE_ON_URGENT)]);
    let mut acked = Vec::new();
    for i in 0..20 {
        let r = s.post_events(&created(&format!("e{i}"), &format!("T-{i}"), ""));
        assert_eq!(r.status, 202);
        acked.push(r.body["seq"].as_u64().unwrap());
    }
    let last = s.ingest(&comment("c1", "T-3", "customer", "urgent"));
    s.kill_and_restart();
    assert_eq!(s.committed(), last);
    let t = s.ticket("T-3", last);
    assert_eq!(
        t["ticket"]["tier"], 2,
        "the policy ran exactly once for the comment"
    );
    let escalations = timeline_types(&t)
        .iter()
        .filter(|t| *t == "action.escalate")
        .count();
    assert_eq!(escalations, 1);
    for (i, _) in acked.iter().enumerate() {
        assert_eq!(
            s.post_events(&created(&format!("e{i}"), &format!("T-{i}"), ""))
                .status,
            200
        );
    }
}

#[test]
fn an_export_imported_elsewhere_gives_the_same_tickets_and_log() {
    let mut s = Server::start(&[("urgent.rhai", ESCALATE_ON_URGENT)]);
    let seq = s.ingest(&format!(
        "[{},{},{},{}]",
        created("e1", "T-1", ""),
        comment("e2", "T-1", "customer", "urgent please"),
        created("e3", "T-2", ""),
        status("e4", "T-2", "solved")
    ));
    let before: Vec<_> = ["T-1", "T-2"].iter().map(|t| s.ticket(t, seq)).collect();
    s.stop(false);
    let export = s.dir.path().join("log.ndjson");
    let out = s.cli(&["export", "--out", export.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&export).unwrap();
    assert_eq!(
        text.lines().count(),
        5,
        "4 inputs and 1 escalation:\n{text}"
    );

    let mut other = Server::start(&[("urgent.rhai", ESCALATE_ON_URGENT)]);
    other.stop(false);
    let new_data = other.dir.path().join("imported");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_escalier"))
        .args([
            "import",
            export.to_str().unwrap(),
            "--data-dir",
            new_data.to_str().unwrap(),
        ])
        // On PostgreSQL: into the other server's (empty) database.
        .args(other.store_url.iter().flat_map(|u| ["--store", u.as_str()]))
        .current_dir(other.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(other.dir.path().join("data")).unwrap();
    std::fs::rename(&new_data, other.dir.path().join("data")).unwrap();
    other.restart();
    for (t, b) in ["T-1", "T-2"].iter().zip(&before) {
        let a = other.ticket(t, seq);
        assert_eq!(a["ticket"], b["ticket"], "{t}");
        assert_eq!(a["timeline"], b["timeline"], "{t}");
    }
    // Importing twice into the same directory is refused.
    other.stop(false);
    let out = other.cli(&["import", export.to_str().unwrap()]);
    assert!(!out.status.success());
}

/// A graceful stop closes the database file, so the next start opens it
/// at once; after `kill -9` the next start checks the whole file first and
/// says so. (A handle that outlives `serve` — a reference cycle, a thread
/// holding the store — leaves the file unclosed on every stop.)
#[test]
fn a_graceful_stop_closes_the_database_and_an_unclean_one_is_noticed_at_the_next_start() {
    if on_postgres() {
        return; // about the embedded redb file
    }
    let mut s = Server::start_with_examples();
    s.set_log_level("warn");
    s.ingest(&created("e1", "T-1", ""));
    s.restart();
    assert!(
        !s.log().contains("not closed cleanly"),
        "a graceful stop left the database unclosed:\n{}",
        s.log()
    );
    s.ingest(&created("e2", "T-2", ""));
    s.kill_and_restart();
    assert!(
        s.log().contains("the database was not closed cleanly"),
        "{}",
        s.log()
    );
}
