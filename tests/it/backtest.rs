//! Backtests on the running server: `policies.candidate_dir` replayed over
//! the stored log through `POST /v1/backtests`, the per-ticket diff in
//! `GET /v1/backtests/{id}` and on the console's `/backtest` page, the
//! candidate's compile errors with file:line:col and the source line, and
//! the scopes (`read` sees, `admin` starts).

use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::util::*;

const VIP: &str =
    "const ON = [\"ticket.created\"];\nif ticket.vip { escalate(2, \"VIP customer\"); }\n";
const ROUTE: &str =
    "const ON = [\"ticket.created\"];\nroute(\"billing\", \"everything to billing\");\n";

fn vip_ticket(event_id: &str, ticket: &str) -> String {
    created(event_id, ticket, "").replace(
        r#""email":"a@example.com"}"#,
        r#""email":"a@example.com","vip":true}"#,
    )
}

fn token(s: &Server, name: &str, scope: &str) -> String {
    let out = s.cli(&["token", "create", "--name", name, "--scope", scope]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Poll a run until it is over; its final state.
fn finished(s: &Server, id: &str) -> Value {
    let mut last = Value::Null;
    wait_until("the backtest finishes", Duration::from_secs(60), || {
        last = s.get(&format!("/v1/backtests/{id}")).body;
        last["state"] != "running"
    });
    last
}

fn types(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn backtest_of_the_candidate_dir_diffs_each_ticket_over_the_api_and_in_the_console() {
    let mut s = Server::start(&[("vip.rhai", VIP), ("route.rhai", ROUTE)]);
    // Not configured: refused, saying how to configure it.
    let r = s.post_json("/v1/backtests", Some(TOKEN), "{}");
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.code(), "backtest_unconfigured");

    // The candidate: VIPs go to tier 3, nothing is routed, everything tagged.
    let candidate = s.dir.path().join("candidate");
    std::fs::create_dir_all(&candidate).unwrap();
    write_policy(
        &candidate,
        "vip.rhai",
        &VIP.replace("escalate(2,", "escalate(3,"),
    );
    write_policy(
        &candidate,
        "tag.rhai",
        "const ON = [\"ticket.created\"];\ntag(\"backtested\");\n",
    );
    std::fs::write(
        s.dir.path().join("escalier.toml"),
        "[policies]\ncandidate_dir = \"candidate\"\n",
    )
    .unwrap();
    s.restart();

    s.ingest(&vip_ticket("e1", "T-1"));
    let seq = s.ingest(&created("e2", "T-2", ""));
    // A backtest replays what has been processed: wait for it.
    s.ticket("T-2", seq);

    // A read token sees runs but cannot start one.
    let read = token(&s, "viewer", "read");
    let r = s.post_json("/v1/backtests", Some(&read), "{}");
    assert_eq!(r.status, 403, "{:?}", r.body);

    let r = s.post_json("/v1/backtests", Some(TOKEN), "{}");
    assert_eq!(r.status, 202, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["candidate_dir"], "candidate");
    let run = finished(&s, &id);
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(run["requested_by"], "ESCALIER_API_TOKEN");
    let by_read = s.get_as(&format!("/v1/backtests/{id}"), Some(&read));
    assert_eq!(by_read.status, 200);
    assert_eq!(by_read.body["id"], id.as_str());

    let report = &run["report"];
    assert_eq!(report["summary"]["total"]["added"], 2, "{report}");
    assert_eq!(report["summary"]["total"]["removed"], 2, "{report}");
    assert_eq!(report["summary"]["total"]["changed"], 1, "{report}");
    let tickets = report["tickets"].as_array().unwrap();
    let ids: Vec<&str> = tickets
        .iter()
        .map(|t| t["ticket_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["T-1", "T-2"], "{report}");
    // T-1: tier 3 instead of 2, no route, a tag.
    let t1 = &tickets[0];
    assert_eq!(types(&t1["removed"]), ["action.route"]);
    assert_eq!(types(&t1["added"]), ["action.tag"]);
    assert_eq!(t1["added"][0]["by"], "tag.rhai", "{t1}");
    let changed = &t1["changed"][0];
    assert_eq!(changed["before"]["type"], "action.escalate", "{t1}");
    assert_eq!(changed["before"]["data"]["tier"], 2, "{t1}");
    assert_eq!(changed["after"]["data"]["tier"], 3, "{t1}");
    // T-2: not a VIP, so only the route and the tag.
    let t2 = &tickets[1];
    assert_eq!(types(&t2["removed"]), ["action.route"]);
    assert_eq!(types(&t2["added"]), ["action.tag"]);
    assert!(t2["changed"].as_array().unwrap().is_empty(), "{t2}");

    // The console shows the same diff, ticket links included; a read
    // session sees it without the form, and a POST without CSRF is refused.
    let c = Client::builder().redirect(Policy::none()).build().unwrap();
    let cookie = |token: &str| {
        let r = c
            .post(s.url("/signin"))
            .form(&[("token", token)])
            .send()
            .unwrap();
        assert_eq!(r.status(), 303);
        let set = r.headers()["set-cookie"].to_str().unwrap();
        set.split(';').next().unwrap().to_owned()
    };
    let admin = cookie(TOKEN);
    let page = c
        .get(s.url(&format!("/backtest?id={id}")))
        .header("cookie", &admin)
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().unwrap();
    for want in [
        r#"href="/tickets/T-1""#,
        r#"href="/tickets/T-2""#,
        "action.escalate",
        "tier: 2 → 3",
        "+ added",
        "− removed",
        "<strong>2</strong> tickets differ",
        r#"action="/backtest""#,
    ] {
        assert!(page.contains(want), "{want} missing in\n{page}");
    }
    let viewer = cookie(&read);
    let page = c
        .get(s.url("/backtest"))
        .header("cookie", &viewer)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains(r#"href="/tickets/T-1""#), "{page}");
    assert!(!page.contains(r#"action="/backtest""#), "no form for read");
    let refused = c
        .post(s.url("/backtest"))
        .header("cookie", &admin)
        .form(&[("from", "2026-01-01")])
        .send()
        .unwrap();
    assert_eq!(refused.status(), 403);

    // A candidate that does not compile: every error, with the source line.
    write_policy(
        &candidate,
        "vip.rhai",
        "const ON = [\"ticket.created\"];\nif ticket.vip {\n  escalate(3, \"x\"\n}\n",
    );
    let r = s.post_json("/v1/backtests", Some(TOKEN), "{}");
    assert_eq!(r.status, 202, "{:?}", r.body);
    let id2 = r.body["id"].as_str().unwrap().to_owned();
    assert_ne!(id2, id);
    let run = finished(&s, &id2);
    assert_eq!(run["state"], "failed", "{run}");
    let d = &run["diagnostics"][0];
    assert!(d["file"].as_str().unwrap().ends_with("vip.rhai"), "{run}");
    assert!(
        d["line"].as_u64().is_some() && d["column"].as_u64().is_some(),
        "{run}"
    );
    assert!(d["source_line"].is_string(), "{run}");
    let page = c
        .get(s.url(&format!("/backtest?id={id2}")))
        .header("cookie", &admin)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("vip.rhai:"), "{page}");
    assert!(page.contains("<pre>"), "{page}");
    // The first run is still there.
    assert_eq!(s.get(&format!("/v1/backtests/{id}")).body["state"], "done");
    assert_eq!(s.get("/v1/backtests/latest").body["id"], id2.as_str());
    assert_eq!(s.get("/v1/backtests/bt-99").status, 404);
}

#[test]
fn backtesting_the_example_set_against_itself_shows_no_difference() {
    // The example policies, SLA, ladders and notify.toml, live and as the
    // candidate: the backtest runs the same reactors as the server
    // (policies, plugins, notifications), so nothing differs.
    let mut s = Server::start_with_examples();
    copy_dir(&s.policies_dir(), &s.dir.path().join("candidate"));
    std::fs::write(
        s.dir.path().join("escalier.toml"),
        "[policies]\ncandidate_dir = \"candidate\"\n",
    )
    .unwrap();
    s.restart();
    let sent = std::process::Command::new(env!("CARGO_BIN_EXE_escalier"))
        .args(["send", "--quiet", "--url"])
        .arg(s.url("/v1/events"))
        .arg(repo().join("examples/support-day/events.json"))
        .env("ESCALIER_WEBHOOK_SECRET", SECRET)
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let last = s.committed();
    let _ = s.get(&format!("/v1/tickets?limit=1&wait_for_seq={last}"));

    let r = s.post_json("/v1/backtests", Some(TOKEN), "{}");
    assert_eq!(r.status, 202, "{:?}", r.body);
    let run = finished(&s, r.body["id"].as_str().unwrap());
    assert_eq!(run["state"], "done", "{run}");
    let report = &run["report"];
    assert!(
        report["counts"]["inputs"].as_u64().unwrap() > 100,
        "{}",
        report["counts"]
    );
    assert_eq!(
        run["differs"], false,
        "an unchanged set must backtest clean: {:#}",
        report["tickets"]
    );
    assert!(
        report["summary"]["by_type"]["notification.requested"]["unchanged"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "notifications are compared: {}",
        report["summary"]["by_type"]
    );
}
