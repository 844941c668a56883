//! What any client may send and how long it may hold a connection:
//! strict webhook parsing, reserved and unaddressable ids, scoped
//! idempotency keys, bounded metric labels, the rate limit on requests
//! without credentials, and the connection limits.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::util::*;

const NO_POLICY: &[(&str, &str)] = &[];

fn with_config(toml: &str) -> (tempfile::TempDir, Server) {
    let conf = tempfile::tempdir().unwrap();
    let path = conf.path().join("escalier.toml");
    std::fs::write(&path, toml).unwrap();
    let s = Server::start_with(NO_POLICY, &["--config", path.to_str().unwrap()]);
    (conf, s)
}

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

#[test]
fn lenient_webhook_forms_are_refused_with_400_naming_the_field() {
    let s = Server::start(NO_POLICY);
    let ok = created("e0", "ZD-1", "");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "positional event",
            r#"["e1","ticket.created","ZD-1","2026-03-02T09:00:00Z",{"subject":"x","requester":{"id":"c"},"channel":"email"}]"#.into(),
            "[0]",
        ),
        (
            "positional event in a batch",
            format!(r#"[{ok},["e2","ticket.created","ZD-2","2026-03-02T09:00:00Z",{{}}]]"#),
            "[1]",
        ),
        (
            "data as an array",
            r#"{"id":"e3","type":"ticket.created","ticket_id":"ZD-1","occurred_at":"2026-03-02T09:00:00Z","data":["x"]}"#.into(),
            "data",
        ),
        (
            "repeated key in data.fields",
            ok.replace(r#""channel":"email""#, r#""channel":"email","fields":{"plan":"pro","plan":"free"}"#),
            "data.fields.plan",
        ),
        (
            "integer beyond 64 bits",
            ok.replace(r#""channel":"email""#, r#""channel":"email","fields":{"n":123456789012345678901234567890}"#),
            "data.fields.n",
        ),
        ("missing ticket_id", ok.replace(r#""ticket_id":"ZD-1","#, ""), "ticket_id"),
        (
            "missing data field",
            ok.replace(r#""subject":"Cannot log in","#, ""),
            "data.subject",
        ),
    ];
    for (what, body, field) in cases {
        let r = s.post_events(&body);
        assert_eq!(r.status, 400, "{what}: {}", r.body);
        assert_eq!(r.code(), "invalid_field", "{what}: {}", r.body);
        assert!(
            r.field().starts_with(field),
            "{what}: field {:?} should start with {field:?} ({})",
            r.field(),
            r.body
        );
    }
    // A second webhook-timestamp, and timestamps not in the signed form.
    let now = jiff::Timestamp::now().as_second();
    let sig = s.sign("m1", now, ok.as_bytes());
    let ts = now.to_string();
    let r = s.post_raw(
        "/v1/events",
        &[
            ("content-type", "application/json"),
            ("webhook-id", "m1"),
            ("webhook-timestamp", &ts),
            ("webhook-timestamp", &ts),
            ("webhook-signature", &sig),
        ],
        ok.clone().into_bytes(),
    );
    assert_eq!(
        (r.status, r.code(), r.field()),
        (400, "header_repeated", "webhook-timestamp"),
        "{}",
        r.body
    );
    for raw in [format!("+{now}"), format!("0{now}")] {
        let r = s.post_signed(&ok, "m1", &raw, &s.sign("m1", now, ok.as_bytes()));
        assert_eq!(
            (r.status, r.code(), r.field()),
            (400, "signature_malformed", "webhook-timestamp"),
            "{raw}: {}",
            r.body
        );
    }
    assert_eq!(s.committed(), 0, "no refused form stored anything");
    assert_eq!(s.post_signed(&ok, "m1", &ts, &sig).status, 202);
}

#[test]
fn reserved_event_ids_and_dot_ticket_ids_are_refused() {
    let s = Server::start(NO_POLICY);
    for id in ["api:X", "esc:1.0", "tick:00ff"] {
        let r = s.post_events(&created(id, "ZD-1", ""));
        assert_eq!((r.status, r.field()), (400, "id"), "{id}: {}", r.body);
    }
    for ticket in [".", "..", "a/../b"] {
        let r = s.post_events(&created("e1", ticket, ""));
        assert_eq!(
            (r.status, r.field()),
            (400, "ticket_id"),
            "{ticket}: {}",
            r.body
        );
    }
    assert_eq!(s.committed(), 0);
}

#[test]
fn idempotency_keys_are_scoped_to_the_call_and_the_ticket() {
    let s = Server::start(NO_POLICY);
    s.ingest(&created("e1", "T-1", ""));
    s.ingest(&created("e2", "T-2", ""));
    let auth = format!("Bearer {TOKEN}");
    let ack = |ticket: &str, key: &str| {
        s.post_raw(
            &format!("/v1/tickets/{ticket}/ack"),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
                ("idempotency-key", key),
            ],
            b"{}".to_vec(),
        )
    };
    let first = ack("T-1", "K");
    assert_eq!(first.status, 202, "{}", first.body);
    let again = ack("T-1", "K");
    assert_eq!(again.status, 200, "a retry is a duplicate: {}", again.body);
    assert_eq!(again.body["seq"], first.body["seq"]);
    let other = ack("T-2", "K");
    assert_eq!(other.status, 202, "same key, other ticket: {}", other.body);
    assert_ne!(other.body["seq"], first.body["seq"]);
    // The id the API made cannot be taken by a webhook.
    let id = first.body["id"].as_str().unwrap();
    assert!(id.starts_with("api:"), "{id}");
    let r = s.post_events(&created(id, "T-3", ""));
    assert_eq!((r.status, r.field()), (400, "id"), "{}", r.body);
    // Nor can the old unscoped form pre-empt a call.
    let r = s.post_events(&created("api:K2", "T-3", ""));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(ack("T-1", "K2").status, 202);
    for bad in ["", &"k".repeat(256)] {
        let r = ack("T-1", bad);
        assert_eq!(
            (r.status, r.field()),
            (400, "idempotency-key"),
            "{bad:?}: {}",
            r.body
        );
    }
}

#[test]
fn odd_methods_are_refused_and_counted_under_one_label() {
    let s = Server::start(NO_POLICY);
    for i in 0..20 {
        let mut c = TcpStream::connect(addr(&s)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(c, "FOO{i} /healthz HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\nconnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 405"), "{out}");
    }
    // A standard method a path does not take: JSON, with `Allow`.
    let r = s.post_json("/v1/tickets", Some(TOKEN), "{}");
    assert_eq!(
        (r.status, r.code()),
        (405, "method_not_allowed"),
        "{}",
        r.body
    );
    assert!(r.headers.get("allow").is_some(), "{:?}", r.headers);
    // A method longer than the head limit never reaches the router.
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let long = "X".repeat(200 * 1024);
    let _ = write!(c, "{long} / HTTP/1.1\r\nhost: x\r\n\r\n");
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    assert!(!out.starts_with("HTTP/1.1 2"), "{out}");
    let metrics = s.get_text("/metrics");
    let methods: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("escalier_http_requests_total{"))
        .filter_map(|l| l.split("method=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(methods.contains("other"), "{methods:?}");
    assert!(
        methods.iter().all(|m| [
            "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other"
        ]
        .contains(m)),
        "{methods:?}"
    );
}

#[test]
fn requests_without_credentials_are_rate_limited() {
    let (_conf, s) =
        with_config("[server]\nopen_rate_limit_per_second = 1\nopen_rate_limit_burst = 3\n");
    let statuses: Vec<u16> = (0..20)
        .map(|i| {
            let path = if i % 2 == 0 {
                "/healthz"
            } else {
                "/v1/nothing-here"
            };
            s.get_as(path, None).status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    let limited = s.get_as("/healthz", None);
    if limited.status == 429 {
        assert_eq!(limited.code(), "rate_limited");
        assert!(limited.headers.get("retry-after").is_some());
    }
    // A request with a valid token is not counted against that budget.
    assert_eq!(s.get("/healthz").status, 200);
    assert_eq!(s.get("/v1/tickets").status, 200);
}

#[test]
fn silent_and_slow_connections_are_closed() {
    let (_conf, s) = with_config("[server]\nheader_read_timeout = \"300ms\"\n");
    // Nothing sent at all.
    let mut idle = TcpStream::connect(addr(&s)).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut buf = [0u8; 256];
    let n = idle.read(&mut buf);
    assert!(
        matches!(n, Ok(0))
            || n.as_ref()
                .is_err_and(|e| e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut),
        "an idle connection is closed, not left open: {n:?}"
    );
    // A head sent a byte at a time, slower than the timeout allows.
    let mut slow = TcpStream::connect(addr(&s)).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: {}\r\n\r\n",
        "a".repeat(200)
    );
    let mut sent_all = true;
    for b in head.bytes() {
        if slow.write_all(&[b]).is_err() {
            sent_all = false;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        // Closed by the server: a read returns at once.
        slow.set_nonblocking(true).unwrap();
        let closed = slow.read(&mut buf).is_ok();
        slow.set_nonblocking(false).unwrap();
        if closed {
            sent_all = false;
            break;
        }
    }
    assert!(!sent_all, "the server waited for a head dribbled over 10 s");
    // An idle keep-alive connection is closed after a response too.
    let mut keep = TcpStream::connect(addr(&s)).unwrap();
    keep.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        keep,
        "GET /healthz HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut got = Vec::new();
    loop {
        match keep.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[test]
fn connections_over_the_cap_get_503_and_the_server_recovers() {
    let (_conf, s) = with_config("[server]\nmax_connections = 3\nheader_read_timeout = \"60s\"\n");
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(addr(&s)).unwrap())
        .collect();
    // The server accepts in order: wait until it answers the next one with 503.
    let mut answer = String::new();
    wait_until("the cap to apply", Duration::from_secs(30), || {
        let mut c = TcpStream::connect(addr(&s)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = write!(
            c,
            "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        );
        answer.clear();
        let _ = c.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 503")
    });
    assert!(answer.contains("too_many_connections"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after"),
        "{answer}"
    );
    drop(held);
    wait_until("a freed connection slot", Duration::from_secs(30), || {
        s.get("/healthz").status == 200
    });
}
