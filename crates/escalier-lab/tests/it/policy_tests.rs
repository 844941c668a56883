//! Policy tests against the repository's example policies: the shipped
//! tests pass, and wrong expectations are caught and traced to the policy
//! file and line that produced what the step did.

use std::path::{Path, PathBuf};

use escalier_lab::policy_test::{self, FileReport, Runner, Summary, TestOptions};

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn run(text: &str) -> FileReport {
    let mut runner = Runner::new(TestOptions::new(policies_dir()));
    runner.run_text(text, "wrong.test.toml", Path::new("."))
}

#[test]
fn every_shipped_policy_test_passes() {
    let files = policy_test::discover(&policies_dir()).unwrap();
    assert!(files.len() >= 9, "{files:?}");
    let mut runner = Runner::new(TestOptions::new(policies_dir()));
    let reports: Vec<FileReport> = files.iter().map(|f| runner.run_file(f)).collect();
    let summary = Summary::of(&reports);
    assert!(
        summary.ok(),
        "{}",
        policy_test::report::render(&reports, false)
    );
    assert!(summary.tests >= 25);
}

/// Each example policy has a test that names it in an expectation, and
/// the SLA and ladder files have breach and ladder scenarios.
#[test]
fn every_example_policy_is_covered_by_a_test() {
    let mut text = String::new();
    for f in policy_test::discover(&policies_dir()).unwrap() {
        text.push_str(&std::fs::read_to_string(f).unwrap());
    }
    let mut pending = vec![policies_dir()];
    let mut policies = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rhai") {
                let name = path
                    .strip_prefix(policies_dir())
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                policies.push(name);
            }
        }
    }
    assert!(policies.len() >= 8, "{policies:?}");
    for policy in policies {
        assert!(
            text.contains(&format!("policy = \"{policy}\"")),
            "no test names {policy}"
        );
    }
    for event in [
        "sla.warning",
        "sla.breached",
        "sla.met",
        "ladder.level_reached",
        "ladder.exhausted",
    ] {
        assert!(
            text.contains(&format!("type = \"{event}\"")),
            "no test expects {event}"
        );
    }
}

const WRONG_TIER: &str = r#"
start = 2026-03-09T08:00:00Z

[[test]]
name = "churn words send the ticket to tier 3 (wrong: the policy says 2)"

[[test.step]]
event = "ticket.created"
data = { subject = "I will cancel", channel = "email", requester = { id = "c-1" } }

[[test.step.expect]]
type = "escalate"
data = { tier = 3 }
"#;

#[test]
fn a_wrong_expectation_is_reported_with_the_policy_file_and_line() {
    let report = run(WRONG_TIER);
    assert!(!report.passed());
    let test = &report.tests[0];
    assert_eq!((test.steps_run, test.failures.len()), (1, 1));
    let f = &test.failures[0];
    assert_eq!(f.code, "missing_record");
    assert_eq!(f.step_at, "wrong.test.toml:7");
    assert_eq!(f.expectation_at.as_deref(), Some("wrong.test.toml:11"));
    assert!(
        f.message.contains("data.tier: expected 3, got 2"),
        "{}",
        f.message
    );
    let escalation = f
        .records
        .iter()
        .find(|r| r.ty == "action.escalate")
        .unwrap();
    assert_eq!(escalation.by, "escalation/churn-risk.rhai");
    let at = escalation.location.as_ref().unwrap().to_string();
    assert!(
        at.ends_with("policies/escalation/churn-risk.rhai:24"),
        "{at}"
    );
    assert!(escalation.hash.as_deref().unwrap().starts_with("sha256:"));

    let text = policy_test::report::render(&[report], false);
    assert!(
        text.contains("FAIL  churn words send the ticket to tier 3"),
        "{text}"
    );
    assert!(
        text.contains("policies/escalation/churn-risk.rhai:24 (sha256:"),
        "{text}"
    );
    assert!(
        text.contains("policies/escalation/churn-risk.rhai:21"),
        "the tag is located too:\n{text}"
    );
}

#[test]
fn a_forbidden_action_names_the_policy_that_took_it() {
    let report = run(r#"
start = 2026-03-09T08:00:00Z
[[test]]
name = "no routing for invoices (wrong)"
[[test.step]]
event = "ticket.created"
data = { subject = "Wrong invoice", channel = "email", requester = { id = "c-1" } }
[[test.step.forbid]]
type = "route"
"#);
    let f = &report.tests[0].failures[0];
    assert_eq!(f.code, "forbidden_record");
    assert_eq!(f.records.len(), 1);
    let loc = f.records[0].location.as_ref().unwrap();
    assert!(
        loc.to_string()
            .ends_with("policies/routing/functional.rhai:16"),
        "{loc}"
    );
}

#[test]
fn wrong_ticket_state_and_counts_say_expected_and_got() {
    let report = run(r#"
start = 2026-03-09T08:00:00Z
[[test]]
name = "vip"
[[test.step]]
event = "ticket.created"
data = { subject = "Hi", channel = "email", requester = { id = "c-1", vip = true } }
[[test.step.expect]]
type = "notify"
count = 2
[test.step.ticket]
tier = 3
"#);
    let codes: Vec<&str> = report.tests[0].failures.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["wrong_count", "ticket_state"]);
    let state = &report.tests[0].failures[1];
    assert_eq!(state.message, "ticket T-1: tier: expected 3, got 2");
}

#[test]
fn file_problems_name_the_line() {
    let cases = [
        (
            "start = 2026-03-09T08:00:00Z\n[[test]]\nname = \"x\"\n[[test.step]]\nevnt = \"ticket.created\"\n",
            ":5:",
            "evnt",
        ),
        (
            "start = 2026-03-09T08:00:00Z\n[[test]]\nname = \"x\"\n[[test.step]]\nevent = \"ticket.created\"\n[[test.step.expect]]\ntype = \"escalte\"\n",
            ":6:",
            "escalte",
        ),
        (
            "[[test]]\nname = \"x\"\n[[test.step]]\nadvance = \"1h\"\n",
            ":1:",
            "start",
        ),
        (
            "start = 2026-03-09T08:00:00Z\n[[test]]\nname = \"x\"\n[[test.step]]\nadvance = \"soon\"\n",
            ":4:",
            "e.g. 15m",
        ),
    ];
    for (text, line, word) in cases {
        let report = run(text);
        let e = report
            .error
            .unwrap_or_else(|| panic!("no error for {text}"));
        assert!(e.starts_with(&format!("wrong.test.toml{line}")), "{e}");
        assert!(e.contains(word), "{e}");
    }
}

#[test]
fn a_bad_event_or_time_fails_its_step_with_the_reason() {
    let report = run(r#"
start = 2026-03-09T08:00:00Z
[[test]]
name = "bad"
[[test.step]]
event = "ticket.created"
data = { subject = "Hi", channel = "fax", requester = { id = "c-1" } }
"#);
    let f = &report.tests[0].failures[0];
    assert_eq!(f.code, "invalid_step");
    assert!(f.message.contains("data.channel"), "{}", f.message);

    let report = run(r#"
start = 2026-03-09T08:00:00Z
[[test]]
name = "refused"
[[test.step]]
event = "comment.added"
data = { author = { kind = "customer" }, body = "hello?" }
refused = "unknown_ticket"
[[test.step]]
event = "comment.added"
data = { author = { kind = "customer" }, body = "hello?" }
"#);
    let t = &report.tests[0];
    assert_eq!(t.steps_run, 2, "the first step expected its refusal");
    assert_eq!(t.failures[0].code, "refused");
}
