//! POST /v1/events: signatures, idempotency, validation, limits. Every
//! refusal must leave the log untouched.

use crate::util::*;

const NO_POLICY: &[(&str, &str)] = &[];

#[test]
fn a_signed_event_is_stored_and_its_ticket_appears() {
    let s = Server::start(NO_POLICY);
    let r = s.post_events(&created("evt-1", "ZD-1", r#","priority":"high""#));
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "stored");
    assert_eq!(r.body["id"], "evt-1");
    let seq = r.body["seq"].as_u64().unwrap();
    let t = s.ticket("ZD-1", seq);
    assert_eq!(t["ticket"]["priority"], "high");
    assert_eq!(t["ticket"]["status"], "new");
    assert_eq!(timeline_types(&t), vec!["ticket.created"]);
}

#[test]
fn bad_signatures_are_refused_with_401_and_store_nothing() {
    let s = Server::start(NO_POLICY);
    let body = created("evt-1", "ZD-1", "");
    let now = jiff::Timestamp::now().as_second();
    let good = s.sign("m1", now, body.as_bytes());
    let wrong_secret = escalier_server::Secret::parse(&escalier_server::Secret::generate([5; 32]))
        .unwrap()
        .sign("m1", now, body.as_bytes());
    let truncated = &good[..good.len() - 8];
    let old = now - 301;
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "tampered signature",
            now.to_string(),
            good.replace('A', "B").replace("v1,", "v1,A"),
            "signature_invalid",
        ),
        (
            "empty signature",
            now.to_string(),
            String::new(),
            "signature_invalid",
        ),
        (
            "bare version",
            now.to_string(),
            "v1,".into(),
            "signature_invalid",
        ),
        (
            "truncated signature",
            now.to_string(),
            truncated.to_owned(),
            "signature_invalid",
        ),
        (
            "wrong secret",
            now.to_string(),
            wrong_secret,
            "signature_invalid",
        ),
        (
            "expired timestamp",
            old.to_string(),
            s.sign("m1", old, body.as_bytes()),
            "timestamp_out_of_tolerance",
        ),
    ];
    for (what, ts, sig, code) in cases {
        let r = s.post_signed(&body, "m1", &ts, &sig);
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        assert_eq!(r.code(), code, "{what}");
    }
    // A malformed header is a bad request, not a failed signature.
    let r = s.post_signed(&body, "m1", "yesterday", &good);
    assert_eq!(
        (r.status, r.code(), r.field()),
        (400, "signature_malformed", "webhook-timestamp"),
        "{}",
        r.body
    );
    let r = s.post_raw(
        "/v1/events",
        &[("content-type", "application/json")],
        body.clone().into_bytes(),
    );
    assert_eq!(
        (r.status, r.code(), r.field()),
        (401, "signature_missing", "webhook-id")
    );
    assert_eq!(s.committed(), 0, "nothing was stored");
    // And the right signature still works.
    assert_eq!(
        s.post_signed(&body, "m1", &now.to_string(), &good).status,
        202
    );
}

#[test]
fn a_duplicate_id_is_answered_200_with_the_original_seq_and_stored_once() {
    let s = Server::start(NO_POLICY);
    let first = s.post_events(&created("evt-1", "ZD-1", ""));
    assert_eq!(first.status, 202);
    let again = s.post_events(&created("evt-1", "ZD-1", ""));
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(again.body["seq"], first.body["seq"]);
    // In a batch, only the new one is stored.
    let batch = format!(
        "[{},{}]",
        created("evt-1", "ZD-1", ""),
        status("evt-2", "ZD-1", "open")
    );
    let r = s.post_events(&batch);
    assert_eq!(r.status, 202);
    assert_eq!(r.body["events"][0]["status"], "duplicate");
    assert_eq!(r.body["events"][1]["status"], "stored");
    assert_eq!(s.committed(), 2);
}

#[test]
fn invalid_input_names_the_field_and_stores_nothing() {
    let s = Server::start(NO_POLICY);
    let ok = created("e0", "ZD-1", "");
    let cases: Vec<(&str, String, u16, &str, &str)> = vec![
        ("not JSON", "{\"id\": ".into(), 400, "malformed_json", ""),
        ("trailing garbage", format!("{ok} x"), 400, "malformed_json", ""),
        ("a string", "\"hello\"".into(), 400, "malformed_json", ""),
        ("empty batch", "[]".into(), 400, "invalid_field", ""),
        ("missing id", ok.replace(r#""id":"e0","#, ""), 400, "invalid_field", "id"),
        ("bad id", ok.replace("\"e0\"", "\"has space\""), 400, "invalid_field", "id"),
        ("bad timestamp", ok.replace("2026-03-02T09:00:00Z", "yesterday"), 400, "invalid_field", "occurred_at"),
        ("unknown type", ok.replace("ticket.created", "ticket.create"), 422, "unknown_event_type", "type"),
        ("internal type", ok.replace("ticket.created", "action.escalate"), 422, "unknown_event_type", "type"),
        ("bad channel", ok.replace("\"email\"}", "\"fax\"}"), 400, "invalid_field", "data.channel"),
        ("bad email", ok.replace("a@example.com", "nobody"), 400, "invalid_field", "data.requester.email"),
        ("unknown data field", ok.replace("\"channel\"", "\"chanel\":1,\"channel\""), 400, "invalid_field", "data"),
        ("unknown envelope field", ok.replace("\"type\"", "\"extra\":1,\"type\""), 400, "invalid_field", ""),
        (
            "bad csat score",
            r#"{"id":"e9","type":"csat.received","ticket_id":"ZD-1","occurred_at":"2026-03-02T09:00:00Z","data":{"score":9}}"#.into(),
            400,
            "invalid_field",
            "data.score",
        ),
        ("unknown ticket", status("e5", "ZD-404", "open"), 422, "unknown_ticket", "ticket_id"),
        (
            "second event of a batch is bad",
            format!("[{ok},{}]", ok.replace("\"e0\"", "\"e1\"").replace("\"email\"}", "\"fax\"}")),
            400,
            "invalid_field",
            "[1].data.channel",
        ),
        (
            "third event of a batch breaks the lifecycle",
            format!("[{ok},{},{}]", status("e2", "ZD-1", "closed"), comment("e3", "ZD-1", "customer", "hi")),
            422,
            "ticket_closed",
            "[2].ticket_id",
        ),
    ];
    for (what, body, code_status, code, field) in cases {
        let r = s.post_events(&body);
        assert_eq!(r.status, code_status, "{what}: {}", r.body);
        assert_eq!(r.code(), code, "{what}: {}", r.body);
        if !field.is_empty() {
            assert!(
                r.field().starts_with(field),
                "{what}: field {:?} should start with {field:?}",
                r.field()
            );
        }
        assert!(!r.body["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(s.committed(), 0, "no case stored anything");
}

#[test]
fn lifecycle_violations_are_422() {
    let s = Server::start(NO_POLICY);
    s.ingest(&format!(
        "[{},{}]",
        created("e1", "ZD-1", ""),
        status("e2", "ZD-1", "closed")
    ));
    let r = s.post_events(&comment("e3", "ZD-1", "customer", "hello?"));
    assert_eq!((r.status, r.code()), (422, "ticket_closed"));
    let r = s.post_events(&created("e4", "ZD-1", ""));
    assert_eq!((r.status, r.code()), (422, "ticket_exists"));
    assert_eq!(s.committed(), 2);
}

#[test]
fn oversized_bodies_get_413_and_wrong_content_types_415() {
    let s = Server::start(NO_POLICY);
    let big = created(
        "e1",
        "ZD-1",
        &format!(r#","description":"{}""#, "x".repeat(1_100_000)),
    );
    let r = s.post_events(&big);
    assert_eq!((r.status, r.code()), (413, "body_too_large"), "{}", r.body);
    // The rest of the body was not read: the connection must not be reused.
    assert_eq!(
        r.headers.get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    let body = created("e1", "ZD-1", "");
    let now = jiff::Timestamp::now().as_second();
    let sig = s.sign("m", now, body.as_bytes());
    let r = s.post_raw(
        "/v1/events",
        &[
            ("content-type", "text/plain"),
            ("webhook-id", "m"),
            ("webhook-timestamp", &now.to_string()),
            ("webhook-signature", &sig),
        ],
        body.into_bytes(),
    );
    assert_eq!(
        (r.status, r.code(), r.field()),
        (415, "unsupported_media_type", "content-type")
    );
    assert_eq!(s.committed(), 0);
}

#[test]
fn batches_are_stored_in_order_and_reported_per_event() {
    let s = Server::start(NO_POLICY);
    let batch = format!(
        "[{},{},{}]",
        created("e1", "ZD-1", ""),
        comment("e2", "ZD-1", "agent", "On it"),
        status("e3", "ZD-1", "solved")
    );
    let r = s.post_events(&batch);
    assert_eq!(r.status, 202);
    let seqs: Vec<u64> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    let t = s.ticket("ZD-1", 3);
    assert_eq!(t["ticket"]["status"], "solved");
    assert!(t["ticket"]["first_response_at"].is_string());
    assert!(t["ticket"]["solved_at"].is_string());
}

#[test]
fn a_client_over_its_rate_gets_429_and_nothing_is_stored() {
    let conf = tempfile::tempdir().unwrap();
    let path = conf.path().join("escalier.toml");
    std::fs::write(
        &path,
        "[server]\nrate_limit_per_second = 1\nrate_limit_burst = 3\n",
    )
    .unwrap();
    let s = Server::start_with(NO_POLICY, &["--config", path.to_str().unwrap()]);
    let mut statuses = Vec::new();
    for i in 0..8 {
        let r = s.post_events(&created(&format!("e{i}"), &format!("T-{i}"), ""));
        if r.status == 429 {
            assert_eq!(r.code(), "rate_limited");
            assert!(r.headers.get("retry-after").is_some());
        }
        statuses.push(r.status);
    }
    let accepted = statuses.iter().filter(|s| **s == 202).count() as u64;
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(accepted >= 3, "the burst is allowed: {statuses:?}");
    assert_eq!(s.committed(), accepted, "refused requests stored nothing");
}
