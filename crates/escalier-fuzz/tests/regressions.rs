//! Inputs that once broke (or nearly broke) a parser, kept so they never do
//! again. Add every crash `scripts/fuzz` finds here, named after what it
//! guards.

#[test]
fn deeply_nested_json_is_refused_not_a_stack_overflow() {
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    escalier_fuzz::event_json(body.as_bytes());
    let data = format!(
        r#"{{"id":"e","type":"ticket.created","ticket_id":"T","occurred_at":"2026-03-02T09:00:00Z","data":{{"subject":"s","requester":{{"id":"c"}},"channel":"email","fields":{{"x":{}1{}}}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    escalier_fuzz::event_json(data.as_bytes());
}

#[test]
fn control_characters_and_huge_numbers_in_events() {
    for body in [
        "{\"id\":\"e\u{0}\",\"type\":\"x\",\"ticket_id\":\"T\",\"occurred_at\":\"x\"}",
        r#"{"id":"e","type":"csat.received","ticket_id":"T","occurred_at":"2026-03-02T09:00:00Z","data":{"score":1e999}}"#,
        r#"{"id":"e","type":"csat.received","ticket_id":"T","occurred_at":"2026-03-02T09:00:00Z","data":{"score":-9223372036854775809}}"#,
        r#"{"id":"e","type":"ticket.created","ticket_id":"T","occurred_at":"+999999-01-01T00:00:00Z","data":{}}"#,
    ] {
        escalier_fuzz::event_json(body.as_bytes());
    }
}

#[test]
fn webhook_headers_with_odd_bytes() {
    for data in [
        &b"\n\n\n"[..],
        b"id\n99999999999999999999\nv1,\x00\nbody",
        b"id\n-1\nv1,AAAA v1,\xff\xfe\n",
    ] {
        escalier_fuzz::webhook(data);
    }
}

#[test]
fn policies_that_stress_the_compiler() {
    for src in [
        format!("const ON = [\"*\"];\n{}", "(".repeat(5_000)),
        "const ON = [\"ticket.created\"];\nfn f(x) { f(x) }\nf(1);".to_owned(),
        format!(
            "const ON = [\"ticket.created\"];\n{}",
            "let a = 1;\n".repeat(5_000)
        ),
    ] {
        escalier_fuzz::policy_source(src.as_bytes());
    }
}

// Found by `scripts/fuzz`: a lone carriage return ends a Rhai comment and
// counts as a line, so diagnostics may name a line that `str::lines()`
// does not see.
#[test]
fn lone_carriage_returns_in_policy_comments() {
    escalier_fuzz::policy_source(include_bytes!("lone-cr-in-comments.rhai"));
    escalier_fuzz::policy_source(b"// one\rlet x = ;\r// three\r(");
}

mod github {
    //! Payloads that once made the GitHub adapter return an event Escalier
    //! refused (an adapter failure, HTTP 502, instead of a ticket or a 422).

    use std::sync::OnceLock;

    use escalier_core::EventKind;
    use escalier_fuzz::{Adapter, Tool};
    use serde_json::Value;

    fn adapter() -> &'static Adapter {
        static ADAPTER: OnceLock<Adapter> = OnceLock::new();
        ADAPTER.get_or_init(|| Adapter::built(Tool::GitHub))
    }

    fn fixture(file: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../escalier-plugin/tests/fixtures/github")
            .join(file);
        let text = std::fs::read_to_string(&path).expect("fixture");
        serde_json::from_str(&text).expect("fixture is JSON")
    }

    /// The one event `payload` maps to, as the host accepted it.
    fn adapt(kind: &str, payload: &Value) -> escalier_core::Event {
        let body = payload.to_string().into_bytes();
        assert_eq!(adapter().check_payload(kind, &body), 1);
        let mut events = adapter().adapt(kind, &body).expect("mapped");
        events.remove(0)
    }

    // Found by the bounded run (`adapter_maps_or_refuses_any_payload`): a
    // whitespace-only title became an empty subject, which Escalier refuses
    // ("invalid_field at `data.subject`: must not be empty").
    #[test]
    fn a_blank_issue_title_still_names_the_ticket() {
        for title in ["", " ", "\t\n", "\u{a0}\u{3000}", "\u{2028}"] {
            let mut opened = fixture("issues.opened.json");
            opened["issue"]["title"] = title.into();
            let ev = adapt("issues", &opened);
            let EventKind::TicketCreated(t) = &ev.kind else {
                panic!("{ev}")
            };
            assert_eq!(t.subject, "GitHub issue #42", "title {title:?}");

            let mut edited = fixture("issues.edited.json");
            edited["issue"]["title"] = title.into();
            let ev = adapt("issues", &edited);
            let EventKind::TicketUpdated(u) = &ev.kind else {
                panic!("{ev}")
            };
            assert_eq!(u.subject.as_deref(), Some("GitHub issue #42"));
        }
        // A title past the limit after leading blanks is cut, not emptied.
        let mut opened = fixture("issues.opened.json");
        opened["issue"]["title"] = format!("{}Refund{}", " ".repeat(2000), "!".repeat(2000)).into();
        let ev = adapt("issues", &opened);
        let EventKind::TicketCreated(t) = &ev.kind else {
            panic!("{ev}")
        };
        assert!(t.subject.starts_with("Refund!") && t.subject.len() == 1024);
    }

    #[test]
    fn more_labels_than_escalier_keeps_tags() {
        let mut opened = fixture("issues.opened.json");
        opened["issue"]["labels"] = (0..150)
            .map(|i| serde_json::json!({ "name": format!("label {}", i % 120) }))
            .collect();
        let ev = adapt("issues", &opened);
        let EventKind::TicketCreated(t) = &ev.kind else {
            panic!("{ev}")
        };
        assert_eq!(t.tags.len(), 100);
        assert_eq!(t.tags[0], "github");
        assert_eq!(t.tags[1], "label-0");
        let mut unique = t.tags.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), t.tags.len(), "each tag once");
    }

    #[test]
    fn event_times_with_an_offset_are_passed_on_as_utc() {
        let mut opened = fixture("issues.opened.json");
        opened["issue"]["created_at"] = "2026-03-02T10:15:00+01:00".into();
        let ev = adapt("issues", &opened);
        assert_eq!(ev.occurred_at.to_string(), "2026-03-02T09:15:00Z");
    }
}
