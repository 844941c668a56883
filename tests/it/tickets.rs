//! Reading: ticket listing with filters and pagination, the log tail,
//! health and metrics.

use crate::util::*;

#[test]
fn tickets_can_be_filtered_and_paged() {
    let s = Server::start(&[]);
    let mut batch = Vec::new();
    for i in 0..7 {
        let prio = if i % 2 == 0 { "urgent" } else { "low" };
        batch.push(created(
            &format!("c{i}"),
            &format!("T-{i}"),
            &format!(r#","priority":"{prio}""#),
        ));
    }
    batch.push(status("s1", "T-0", "open"));
    let seq = s.ingest(&format!("[{}]", batch.join(",")));
    s.ticket("T-0", seq);

    let urgent = s.get("/v1/tickets?priority=urgent");
    let ids: Vec<&str> = urgent.body["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["T-0", "T-2", "T-4", "T-6"]);
    let open = s.get("/v1/tickets?status=open&priority=urgent");
    assert_eq!(open.body["tickets"].as_array().unwrap().len(), 1);

    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = s.get(&format!("/v1/tickets?limit=3{after}"));
        for t in page.body["tickets"].as_array().unwrap() {
            seen.push(t["id"].as_str().unwrap().to_owned());
        }
        match page.body["next"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("T-{i}")).collect::<Vec<_>>());
}

#[test]
fn bad_queries_name_the_parameter() {
    let s = Server::start(&[]);
    let r = s.get("/v1/tickets?statsu=open");
    assert_eq!(
        (r.status, r.code(), r.field()),
        (400, "invalid_query", "statsu")
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("status")
    );
    let r = s.get("/v1/tickets?status=opn");
    assert_eq!((r.status, r.field()), (400, "status"));
    let r = s.get("/v1/tickets?tier=9");
    assert_eq!((r.status, r.field()), (400, "tier"));
    let r = s.get("/v1/tickets/nope");
    assert_eq!((r.status, r.code()), (404, "not_found"));
}

#[test]
fn the_log_tail_pages_through_processed_records() {
    let s = Server::start(&[]);
    let seq = s.ingest(&format!(
        "[{},{}]",
        created("e1", "T-1", ""),
        created("e2", "T-2", "")
    ));
    s.ticket("T-2", seq);
    let r = s.get("/v1/events?after=0&limit=1");
    assert_eq!(r.body["records"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["next_after"], 1);
    let r = s.get("/v1/events?after=1");
    assert_eq!(r.body["records"][0]["event"]["id"], "e2");
    assert_eq!(r.body["records"][0]["source"]["kind"], "webhook");
}

#[test]
fn health_and_metrics_report_the_pipeline() {
    let s = Server::start(&[]);
    s.ingest(&created("e1", "T-1", ""));
    let _ = s.post_events("{");
    let h = s.get("/healthz");
    assert_eq!(h.body["status"], "ok");
    assert_eq!(h.body["committed"], 1);
    let m = s.get_text("/metrics");
    assert!(m.contains("escalier_events_stored_total 1"), "{m}");
    assert!(
        m.contains("escalier_ingest_rejected_total{reason=\"malformed_json\"} 1"),
        "{m}"
    );
    assert!(m.contains("escalier_commit_seconds"), "{m}");
}
