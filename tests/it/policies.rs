//! Policies against the real server: actions in the timeline with what
//! produced them, hot reload, rejected reloads, sandbox limits.

use std::time::Duration;

use serde_json::Value;

use crate::util::*;

const VIP: &str = r#"
//! VIP customers skip the queue.
const ON = ["ticket.created"];
if ticket.vip && ticket.tier < 2 {
    escalate(2, "VIP customer");
    notify("duty-manager", `VIP ticket ${ticket.id}: ${ticket.subject}`);
}
"#;

fn vip_ticket(event_id: &str, ticket: &str) -> String {
    created(event_id, ticket, "").replace(
        r#""email":"a@example.com"}"#,
        r#""email":"a@example.com","vip":true}"#,
    )
}

fn policy_hash(s: &Server, name: &str) -> Option<String> {
    let status = s.get("/v1/policies").body;
    find_policy(&status, name).and_then(|p| p["hash"].as_str().map(str::to_owned))
}

fn find_policy<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status["policies"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
}

#[test]
fn a_policy_action_appears_in_the_timeline_with_file_and_hash() {
    let s = Server::start(&[("vip.rhai", VIP)]);
    let seq = s.ingest(&vip_ticket("e1", "T-1"));
    let t = s.ticket("T-1", seq);
    assert_eq!(t["ticket"]["tier"], 2);
    assert_eq!(t["ticket"]["escalations"][0]["by"], "vip.rhai");
    let timeline = t["timeline"].as_array().unwrap();
    assert_eq!(
        timeline_types(&t),
        vec!["ticket.created", "action.escalate", "action.notify"]
    );
    let action = &timeline[1];
    assert_eq!(action["source"]["kind"], "policy");
    assert_eq!(action["source"]["policy"], "vip.rhai");
    let hash = action["source"]["hash"].as_str().unwrap();
    assert!(hash.starts_with("sha256:"), "{hash}");
    assert_eq!(Some(hash.to_owned()), policy_hash(&s, "vip.rhai"));
    assert_eq!(action["seq"], seq);
    assert_eq!(action["source"]["trigger"], 0);
    assert_eq!(action["event"]["data"]["reason"], "VIP customer");
}

#[test]
fn editing_a_policy_changes_behaviour_without_restart() {
    let s = Server::start(&[("vip.rhai", VIP)]);
    let seq = s.ingest(&vip_ticket("e1", "T-1"));
    assert_eq!(s.ticket("T-1", seq)["ticket"]["tier"], 2);
    let old = policy_hash(&s, "vip.rhai").unwrap();

    write_policy(
        &s.policies_dir(),
        "vip.rhai",
        &VIP.replace("escalate(2,", "escalate(3,"),
    );
    wait_until("the edited policy to load", Duration::from_secs(20), || {
        policy_hash(&s, "vip.rhai").is_some_and(|h| h != old)
    });
    let seq = s.ingest(&vip_ticket("e2", "T-2"));
    let t = s.ticket("T-2", seq);
    assert_eq!(t["ticket"]["tier"], 3);
    assert_eq!(
        t["timeline"][1]["source"]["hash"].as_str(),
        policy_hash(&s, "vip.rhai").as_deref()
    );

    // A new file joins the set; removing it takes it out again.
    write_policy(
        &s.policies_dir(),
        "tagger.rhai",
        "const ON = [\"ticket.created\"];\ntag(\"seen\");\n",
    );
    wait_until("the new policy to load", Duration::from_secs(20), || {
        policy_hash(&s, "tagger.rhai").is_some()
    });
    let seq = s.ingest(&created("e3", "T-3", ""));
    assert_eq!(s.ticket("T-3", seq)["ticket"]["tags"][0], "seen");
    std::fs::remove_file(s.policies_dir().join("tagger.rhai")).unwrap();
    wait_until(
        "the removed policy to unload",
        Duration::from_secs(20),
        || policy_hash(&s, "tagger.rhai").is_none(),
    );
}

#[test]
fn a_broken_policy_is_rejected_with_its_position_and_the_old_set_keeps_serving() {
    let s = Server::start(&[("vip.rhai", VIP)]);
    let old = policy_hash(&s, "vip.rhai").unwrap();
    write_policy(
        &s.policies_dir(),
        "vip.rhai",
        "const ON = [\"ticket.created\"];\nif ticket.vip {\n  escalate(2, \"x\"\n}\n",
    );
    wait_until("the reload to be rejected", Duration::from_secs(20), || {
        !s.get("/v1/policies").body["last_error"].is_null()
    });
    let status = s.get("/v1/policies").body;
    let text = status["last_error"].to_string();
    assert!(text.contains("vip.rhai"), "{text}");
    assert!(
        status["last_error"]["diagnostics"][0]["line"]
            .as_u64()
            .unwrap()
            >= 3,
        "{text}"
    );
    assert_eq!(
        policy_hash(&s, "vip.rhai"),
        Some(old),
        "the previous set is still in force"
    );
    let seq = s.ingest(&vip_ticket("e1", "T-1"));
    assert_eq!(
        s.ticket("T-1", seq)["ticket"]["tier"],
        2,
        "and still escalates"
    );
}

#[test]
fn a_runaway_policy_is_stopped_and_recorded_while_others_still_act() {
    let s = Server::start(&[
        (
            "a-loop.rhai",
            "const ON = [\"ticket.created\"];\nlet n = 0;\nloop { n += 1; }\n",
        ),
        ("b-vip.rhai", VIP),
    ]);
    let seq = s.ingest(&vip_ticket("e1", "T-1"));
    let t = s.ticket("T-1", seq);
    let errors: Vec<&Value> = t["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"]["type"] == "policy.error")
        .collect();
    assert_eq!(errors.len(), 1, "{t}");
    let data = &errors[0]["event"]["data"];
    assert_eq!(data["policy"], "a-loop.rhai");
    assert!(
        data["code"] == "too_many_operations" || data["code"] == "timeout",
        "{data}"
    );
    assert_eq!(data["line"], 3);
    assert_eq!(t["ticket"]["tier"], 2, "the other policy still ran");
    // And ingest carries on.
    assert_eq!(s.post_events(&created("e2", "T-2", "")).status, 202);
    // The run's time is in the metrics: buckets above 1 s, and the longest run.
    let m = s.get_text("/metrics");
    assert!(
        m.contains("escalier_policy_eval_seconds_bucket{policy=\"a-loop.rhai\",le=\"30\"}"),
        "{m}"
    );
    assert!(
        m.contains("escalier_policy_eval_max_seconds{policy=\"a-loop.rhai\"}"),
        "{m}"
    );
}

fn tags(s: &Server, id: &str, seq: u64) -> Vec<String> {
    s.ticket(id, seq)["ticket"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn pinned_tickets_keep_their_policy_version_until_migrated() {
    let conf = tempfile::tempdir().unwrap();
    let path = conf.path().join("escalier.toml");
    std::fs::write(&path, "[policies]\npin = \"ticket\"\n").unwrap();
    let old = "const ON = [\"comment.added\"];\ntag(\"old-rules\");\n";
    let s = Server::start_with(
        &[("tagger.rhai", old)],
        &["--config", path.to_str().unwrap()],
    );
    let seq = s.ingest(&created("e1", "T-1", ""));
    let t1 = s.ticket("T-1", seq);
    let pinned = t1["ticket"]["policy_version"]
        .as_str()
        .unwrap_or_else(|| panic!("{t1}"))
        .to_owned();
    assert!(pinned.starts_with("sha256:"));

    write_policy(
        &s.policies_dir(),
        "tagger.rhai",
        &old.replace("old-rules", "new-rules"),
    );
    wait_until("the new version", Duration::from_secs(20), || {
        s.get("/v1/policies").body["version"].as_str() != Some(pinned.as_str())
    });
    let latest = s.get("/v1/policies").body["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let seq = s.ingest(&format!(
        "[{},{},{}]",
        created("e2", "T-2", ""),
        comment("e3", "T-1", "customer", "hi"),
        comment("e4", "T-2", "customer", "hi")
    ));
    assert_eq!(
        tags(&s, "T-1", seq),
        vec!["old-rules"],
        "created before the change: old rules"
    );
    assert_eq!(
        tags(&s, "T-2", seq),
        vec!["new-rules"],
        "created after: new rules"
    );
    let versions = s.get("/v1/policies").body["versions"]
        .as_array()
        .unwrap()
        .len();
    assert!(versions >= 2, "every version that served is kept");

    let dry = s.post_json(
        "/v1/admin/migrate",
        Some(TOKEN),
        r#"{"to": "latest", "dry_run": true}"#,
    );
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(
        dry.body["tickets"].as_array().unwrap().len(),
        1,
        "{}",
        dry.body
    );
    assert_eq!(dry.body["tickets"][0]["id"], "T-1");
    assert_eq!(dry.body["changes"][&pinned]["changed"][0], "tagger.rhai");
    assert_eq!(
        tags(&s, "T-1", s.committed()),
        vec!["old-rules"],
        "a dry run moves nothing"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_escalier"))
        .args([
            "migrate", "--to", &latest, "--url", &s.base, "--token", TOKEN,
        ])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("moved 1 open tickets"));
    let seq = s.ingest(&comment("e5", "T-1", "customer", "again"));
    let t = s.ticket("T-1", seq);
    assert_eq!(t["ticket"]["policy_version"], latest.as_str());
    assert!(timeline_types(&t).iter().any(|x| x == "policy.migrated"));
    assert!(
        tags(&s, "T-1", seq).contains(&"new-rules".to_owned()),
        "migrated: new rules"
    );
    let r = s.post_json(
        "/v1/admin/migrate",
        Some(TOKEN),
        r#"{"to": "sha256:0000000000000000"}"#,
    );
    assert_eq!(r.status, 404);
}

#[test]
fn replay_and_explain_read_a_stopped_servers_data() {
    let mut s = Server::start(&[("vip.rhai", VIP)]);
    s.ingest(&vip_ticket("e1", "T-1"));
    s.ingest(&created("e2", "T-2", ""));
    s.stop(false);
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();

    // The policies that recorded the log: nothing changes.
    let same = s.cli(&["replay", "--fail-on-diff"]);
    assert!(same.status.success(), "{}", text(&same));
    assert!(
        text(&same).contains("replayed seq 1..=2"),
        "{}",
        text(&same)
    );

    // A candidate without the VIP rule: T-1 loses its escalation.
    let candidate = s.dir.path().join("candidate");
    std::fs::create_dir_all(&candidate).unwrap();
    write_policy(&candidate, "vip.rhai", "const ON = [\"ticket.created\"];\n");
    let changed = s.cli(&[
        "replay",
        "--policies",
        candidate.to_str().unwrap(),
        "--fail-on-diff",
        "--format",
        "json",
    ]);
    assert!(!changed.status.success(), "a diff fails the run");
    let report: Value = serde_json::from_slice(&changed.stdout).unwrap();
    assert!(report.to_string().contains("T-1"), "{report}");
    assert!(!report.to_string().contains("T-2"), "{report}");

    let story = s.cli(&["explain", "T-1"]);
    assert!(story.status.success(), "{}", text(&story));
    assert!(text(&story).contains("vip.rhai"), "{}", text(&story));
    let missing = s.cli(&["explain", "T-9"]);
    assert!(!missing.status.success());
}
