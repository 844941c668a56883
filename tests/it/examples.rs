//! The shipped examples work end to end: the support day through the real
//! server with the example policies gives the escalations its README promises.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::util::*;

#[test]
fn support_day() {
    let s = Server::start_with_examples();
    let file = repo().join("examples/support-day/events.json");
    let send = |expect: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_escalier"))
            .args(["send", "--url"])
            .arg(s.url("/v1/events"))
            .arg(&file)
            .env("ESCALIER_WEBHOOK_SECRET", SECRET)
            .current_dir(s.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "send failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(expect), "{stdout}");
    };
    send("175 stored, 0 duplicate");
    send("0 stored, 175 duplicate");
    let last = s.committed();
    assert_eq!(last, 175);

    let page = s.get(&format!("/v1/tickets?limit=100&wait_for_seq={last}"));
    let tickets: BTreeMap<String, Value> = page.body["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_owned(), t.clone()))
        .collect();
    assert_eq!(tickets.len(), 32);
    let tier = |id: &str| tickets[id]["tier"].as_u64().unwrap();
    let team = |id: &str| tickets[id]["team"].as_str().unwrap_or("").to_owned();
    let tagged = |id: &str, tag: &str| {
        tickets[id]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == tag)
    };
    let approval = |id: &str| {
        tickets[id]["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "refund")
    };

    for id in ["ZD-2003", "ZD-2017", "ZD-2030", "ZD-2011", "ZD-2027"] {
        assert!(tier(id) >= 2, "{id} public or VIP: tier {}", tier(id));
        assert!(tagged(id, "duty-manager-notified"), "{id}");
    }
    for id in ["ZD-2006", "ZD-2025"] {
        assert_eq!(team(id), "on-call", "{id} is urgent");
    }
    for id in ["ZD-2004", "ZD-2010", "ZD-2030"] {
        assert!(approval(id), "{id} asks for a refund above the limit");
    }
    for id in ["ZD-2001", "ZD-2023"] {
        assert!(!approval(id), "{id} is under the limit");
    }
    for id in ["ZD-2013", "ZD-2014", "ZD-2021", "ZD-2030"] {
        assert!(tagged(id, "churn-risk"), "{id} churn wording");
        assert!(tier(id) >= 2, "{id}");
    }
    for id in ["ZD-2009", "ZD-2020", "ZD-2032"] {
        assert_eq!(tier(id), 3, "{id} reopened twice");
        assert!(
            tickets[id]["checklists"]
                .to_string()
                .contains("engineering-handoff"),
            "{id}: {}",
            tickets[id]["checklists"]
        );
    }
    assert_eq!(team("ZD-2001"), "billing");
    assert_eq!(team("ZD-2002"), "technical");
    for id in ["ZD-2007", "ZD-2015", "ZD-2024"] {
        assert_eq!(tier(id), 1, "{id} stays with frontline");
    }
    // Follow-up figures for the day.
    let stats = s.get("/v1/stats?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z");
    assert_eq!(stats.status, 200, "{}", stats.body);
    assert_eq!(stats.body["tickets"], 32);
    let escalated = stats.body["escalation"]["overall"]["escalated"]
        .as_u64()
        .unwrap();
    let by_hand = tickets
        .values()
        .filter(|t| !t["escalations"].as_array().unwrap().is_empty())
        .count() as u64;
    assert_eq!(escalated, by_hand, "{}", stats.body["escalation"]);
    assert!(
        stats.body["escalation"]["by_channel"]["social_public"]["escalated"]
            .as_u64()
            .unwrap()
            >= 3
    );
    assert!(
        stats.body["csat"]["without_escalation"]
            .to_string()
            .contains("count"),
        "{}",
        stats.body["csat"]
    );
    let r = s.get("/v1/stats?from=2026-03-03T00:00:00Z&to=2026-03-02T00:00:00Z");
    assert_eq!((r.status, r.field()), (400, "from"));

    // Every escalation names the policy file that made it.
    for t in tickets.values() {
        for e in t["escalations"].as_array().unwrap() {
            assert!(e["by"].as_str().unwrap().ends_with(".rhai"), "{e}");
        }
    }
}
