//! `escalier migrate` and `POST /v1/admin/migrate` end to end: every move
//! is recorded (V → W → V → W included), every ticket gets its own outcome
//! whatever the length of its id, the CLI takes the token the README
//! exports, and with pinning off it says so instead of listing tickets.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

const TAGGER: &str = "const ON = [\"comment.added\"];\ntag(\"old-rules\");\n";

/// `escalier migrate ARGS` with the admin token in `TOKEN`, as the README
/// has it, and nothing else.
fn migrate_cli(s: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_escalier"))
        .arg("migrate")
        .args(args)
        .args(["--url", &s.base])
        .current_dir(s.dir.path())
        .env_remove("ESCALIER_API_TOKEN")
        .env("TOKEN", TOKEN)
        .output()
        .expect("run escalier migrate")
}

fn version(s: &Server, id: &str, seq: u64) -> String {
    s.ticket(id, seq)["ticket"]["policy_version"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn migrate(s: &Server, to: &str) -> Value {
    let r = s.post_json(
        "/v1/admin/migrate",
        Some(TOKEN),
        &format!(r#"{{"to": "{to}"}}"#),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    r.body
}

#[test]
fn moves_back_and_forth_and_long_ticket_ids_each_get_their_own_outcome() {
    let conf = tempfile::tempdir().unwrap();
    let path = conf.path().join("escalier.toml");
    std::fs::write(&path, "[policies]\npin = \"ticket\"\n").unwrap();
    let s = Server::start_with(
        &[("tagger.rhai", TAGGER)],
        &["--config", path.to_str().unwrap()],
    );
    // Longer than the 103 bytes a readable move id leaves for it.
    let long = format!("L-{}", "x".repeat(118));
    let ids = ["A-1", long.as_str(), "Z-9"];
    let mut seq = 0;
    for (i, id) in ids.iter().enumerate() {
        seq = s.ingest(&created(&format!("e{i}"), id, ""));
    }
    let v = version(&s, "A-1", seq);
    assert!(v.starts_with("sha256:"), "pinned at creation: {v}");

    write_policy(
        &s.policies_dir(),
        "tagger.rhai",
        &TAGGER.replace("old-rules", "new-rules"),
    );
    wait_until("the new version", Duration::from_secs(20), || {
        s.get("/v1/policies").body["version"].as_str() != Some(v.as_str())
    });
    let w = s.get("/v1/policies").body["version"]
        .as_str()
        .unwrap()
        .to_owned();
    // A version is stored when it comes into force, before it has
    // processed anything: W can be named right away.

    // V -> W (through the CLI), W -> V, V -> W again: every move happens.
    let out = migrate_cli(&s, &["--to", &w]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("moved 3 open tickets"), "{stdout}");
    let seq = s.committed();
    for id in ids {
        assert_eq!(version(&s, id, seq), w, "{id}");
    }
    for target in [&v, &w] {
        let answer = migrate(&s, target);
        let moved = answer["tickets"].as_array().unwrap();
        assert_eq!(moved.len(), 3, "{answer}");
        assert!(answer["skipped"].is_null(), "{answer}");
        for t in moved {
            let id = t["id"].as_str().unwrap();
            let seq = t["seq"].as_u64().unwrap();
            assert_eq!(
                &version(&s, id, seq),
                target,
                "{id} follows the version it was reported moved to"
            );
        }
        let mut seqs: Vec<u64> = moved.iter().map(|t| t["seq"].as_u64().unwrap()).collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), 3, "one new record per ticket: {answer}");
    }
    let t = s.ticket(&long, s.committed());
    let migrations = timeline_types(&t)
        .iter()
        .filter(|x| *x == "policy.migrated")
        .count();
    assert_eq!(migrations, 4, "pinned at creation, then moved three times");
}

#[test]
fn with_pinning_off_migrate_says_so() {
    let s = Server::start(&[("tagger.rhai", TAGGER)]);
    s.ingest(&created("e1", "T-1", ""));
    let out = migrate_cli(&s, &["--to", "latest", "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("pinning is off"), "{stdout}");
    assert!(!stdout.contains("would move"), "{stdout}");
    let r = s.post_json(
        "/v1/admin/migrate",
        Some(TOKEN),
        r#"{"to": "latest", "dry_run": true}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pin"], "latest");
    assert_eq!(r.body["tickets"], serde_json::json!([]));
}
