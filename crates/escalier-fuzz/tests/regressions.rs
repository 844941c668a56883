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
