//! The sandbox: limits stop runaway policies with a precise `policy.error`,
//! and nothing dangerous is reachable.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use escalier_core::event::EventKind;
use escalier_policy::{Code, PolicyEngine, PolicyLimits, PolicySet};
use serde_json::json;

use crate::util::*;

/// Default limits except the clock, so a slow debug build on a busy
/// machine hits the limit under test and not the time limit.
fn engine() -> Arc<PolicyEngine> {
    static E: OnceLock<Arc<PolicyEngine>> = OnceLock::new();
    E.get_or_init(|| {
        Arc::new(PolicyEngine::new(PolicyLimits {
            max_time: Duration::from_secs(600),
            ..PolicyLimits::default()
        }))
    })
    .clone()
}

fn run_one(src: &str) -> Vec<escalier_core::Reaction> {
    let s = PolicySet::from_sources_with(&engine(), [("p.rhai", src)])
        .unwrap_or_else(|e| panic!("{e}"));
    react(&s, &ticket(json!({})), &created("T-1", json!({})))
}

fn compile_error(src: &str) -> escalier_policy::Diagnostic {
    let e =
        PolicySet::from_sources_with(&engine(), [("p.rhai", src)]).expect_err("must not compile");
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    e.diagnostics[0].clone()
}

#[test]
fn an_endless_loop_is_stopped_by_the_operation_limit_with_its_position() {
    let rs = run_one("const ON = [\"ticket.created\"];\ntag(\"seen\");\nloop {\n  let x = 1;\n}\n");
    let e = the_error(&rs);
    assert_eq!(e.code, "too_many_operations");
    assert_eq!(e.policy, "p.rhai");
    assert!(matches!(e.line, Some(3) | Some(4)), "{e:?}");
    assert!(e.column.is_some());
    assert_eq!(
        rs.len(),
        1,
        "the tag before the loop is dropped: {:?}",
        describe_all(&rs)
    );
}

#[test]
fn catching_does_not_escape_the_operation_limit() {
    let rs = run_one(
        "const ON = [\"ticket.created\"];\ntry { loop {} } catch (e) { tag(\"escaped\"); }\n",
    );
    assert_eq!(the_error(&rs).code, "too_many_operations");
    assert_eq!(rs.len(), 1);
}

#[test]
fn deep_recursion_is_stopped_as_call_depth() {
    let rs = run_one("const ON = [\"ticket.created\"];\nfn down(n) { down(n + 1) }\ndown(0);\n");
    let e = the_error(&rs);
    assert_eq!(e.code, "call_depth");
    // Rhai reports where the recursion was entered from.
    assert_eq!((e.line, e.column), (Some(3), Some(1)), "{e:?}");
}

#[test]
fn a_huge_string_is_stopped_as_data_too_large() {
    let rs =
        run_one("const ON = [\"ticket.created\"];\nlet s = \"x\";\nwhile true {\n  s += s;\n}\n");
    let e = the_error(&rs);
    assert_eq!(e.code, "data_too_large", "{e:?}");
    assert_eq!(e.line, Some(4));
}

#[test]
fn a_huge_array_is_stopped_as_data_too_large() {
    let rs = run_one("const ON = [\"ticket.created\"];\nlet a = [1];\nloop { a += a; }\n");
    let e = the_error(&rs);
    assert_eq!(e.code, "data_too_large");
    assert!(e.message.contains("10000 items"), "{}", e.message);
}

#[test]
fn wall_clock_limit_stops_a_run_as_timeout() {
    let engine = Arc::new(PolicyEngine::new(PolicyLimits {
        max_operations: u64::MAX,
        max_time: Duration::from_millis(1),
        ..PolicyLimits::default()
    }));
    let s = PolicySet::from_sources_with(
        &engine,
        [("slow.rhai", "const ON = [\"ticket.created\"];\nloop {}\n")],
    )
    .unwrap();
    let rs = react(&s, &ticket(json!({})), &created("T-1", json!({})));
    let e = the_error(&rs);
    assert_eq!(e.code, "timeout", "{e:?}");
    assert_eq!(e.line, Some(2));
}

#[test]
fn eval_is_unavailable() {
    let d = compile_error("const ON = [\"ticket.created\"];\nlet x = eval(\"1 + 1\");\n");
    assert_eq!(d.code, Code::ForbiddenKeyword);
    assert_eq!((d.line, d.column), (Some(2), Some(9)));
}

#[test]
fn import_is_rejected_at_compile_time() {
    let d = compile_error("import \"helpers\" as h;\nconst ON = [\"ticket.created\"];\n");
    assert_eq!(d.code, Code::ForbiddenKeyword);
    assert_eq!((d.line, d.column), (Some(1), Some(1)));
}

#[test]
fn no_file_process_or_clock_functions_exist() {
    for call in [
        "open(\"/etc/passwd\")",
        "read_file(\"/etc/passwd\")",
        "system(\"ls\")",
        "exec(\"ls\")",
        "sleep(10)",
        "timestamp()",
        "exit()",
        "parse_json(\"{}\")",
    ] {
        let d = compile_error(&format!("const ON = [\"ticket.created\"];\n{call};\n"));
        assert_eq!(d.code, Code::UnknownFunction, "{call}: {d}");
    }
}

#[test]
fn scripts_cannot_change_the_ticket_or_event() {
    let d = compile_error("const ON = [\"ticket.created\"];\nticket = 1;\n");
    assert_eq!(d.code, Code::ReadOnly, "{d}");
    assert_eq!((d.line, d.column), (Some(2), Some(1)));
    let d = compile_error("const ON = [\"ticket.created\"];\nticket.tier = 3;\n");
    assert_eq!(d.code, Code::ReadOnly, "{d}");
    let d = compile_error("const ON = [\"ticket.created\"];\nlet event = 1;\n");
    assert_eq!(d.code, Code::ReservedName, "{d}");
}

#[test]
fn a_failing_policy_contributes_no_actions_and_others_still_run() {
    let s = PolicySet::from_sources_with(
        &engine(),
        [
            ("a.rhai", "const ON = [\"ticket.created\"];\ntag(\"from-a\");"),
            ("b.rhai", "const ON = [\"ticket.created\"];\ntag(\"from-b\");\nthrow \"refund rules not configured\";"),
            ("c.rhai", "const ON = [\"ticket.created\"];\ntag(\"from-c\");"),
        ],
    )
    .unwrap();
    let rs = react(&s, &ticket(json!({})), &created("T-1", json!({})));
    assert_eq!(
        describe_all(&rs),
        [
            "a.rhai: tag from-a",
            "b.rhai: error runtime_error at 3:1",
            "c.rhai: tag from-c"
        ]
    );
    let e = the_error(&rs);
    assert_eq!(e.message, "refund rules not configured");
}

#[test]
fn bad_arguments_fail_at_the_call_site_with_a_suggestion() {
    let rs = run_one("const ON = [\"ticket.created\"];\n\nset_priority(\"hgh\");\n");
    let e = the_error(&rs);
    assert_eq!(e.code, "invalid_argument");
    assert_eq!((e.line, e.column), (Some(3), Some(1)));
    assert!(e.message.contains("did you mean \"high\""), "{}", e.message);

    let rs = run_one("const ON = [\"ticket.created\"];\nescalate(7, \"too far\");\n");
    let e = the_error(&rs);
    assert_eq!(e.code, "invalid_argument");
    assert!(e.message.contains("tiers are 0 to 4"), "{}", e.message);

    let rs = run_one("const ON = [\"ticket.created\"];\nescalate(\"2\", \"wrong type\");\n");
    assert!(
        the_error(&rs).message.contains("got the string \"2\""),
        "{:?}",
        the_error(&rs)
    );

    let rs = run_one("const ON = [\"ticket.created\"];\ntag(\"two words\");\n");
    assert_eq!(the_error(&rs).code, "invalid_argument");
}

#[test]
fn errors_inside_functions_point_into_the_function() {
    let rs = run_one(
        "const ON = [\"ticket.created\"];\nfn raise_to(t) {\n  escalate(t, \"x\")\n}\nraise_to(9);\n",
    );
    let e = the_error(&rs);
    assert_eq!(e.code, "invalid_argument");
    assert_eq!(e.line, Some(3));
    assert!(
        e.message.contains("in function `raise_to`"),
        "{}",
        e.message
    );
}

#[test]
fn acting_in_a_loop_is_capped() {
    let rs = run_one("const ON = [\"ticket.created\"];\nfor i in 0..1000 { note(`n${i}`); }\n");
    let e = the_error(&rs);
    assert_eq!(e.code, "too_many_actions");
    assert_eq!(e.line, Some(2));
    assert_eq!(rs.len(), 1);
    // Catching the error does not keep the actions taken so far.
    let rs = run_one(
        "const ON = [\"ticket.created\"];\ntry { for i in 0..1000 { note(`n${i}`); } } catch {}\n",
    );
    assert_eq!(the_error(&rs).code, "too_many_actions");
}

#[test]
fn policy_errors_carry_the_producer() {
    let rs = run_one("const ON = [\"ticket.created\"];\nthrow \"x\";");
    match &rs[0].producer {
        escalier_core::Producer::Policy { policy, hash } => {
            assert_eq!(policy, "p.rhai");
            assert!(hash.starts_with("sha256:"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(rs[0].kind, EventKind::PolicyError(_)));
}
