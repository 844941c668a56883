//! The approval plugin: approvers told, decisions recorded, undecided
//! approvals escalated after the configured time (record time).

use escalier_core::ticket::ApprovalState;

use crate::util::*;

fn run() -> (Run, Host) {
    let h = host(&[(&example("approval"), "approval", None)]);
    let mut run = Run::with_policy(h.set());
    run.create();
    (run, h)
}

#[test]
fn a_required_approval_notifies_the_approvers_and_remembers_its_deadline() {
    let (mut run, _h) = run();
    let out = run.send("comment.added", &comment("agent", "approve refund"), at(1));
    let t = run.ticket();
    assert_eq!(t.approvals.len(), 1);
    let id = t.approvals[0].id.clone();
    assert_eq!(t.approvals[0].state, ApprovalState::Pending);
    let notify = data(of_type(&out, "action.notify")[0]);
    assert_eq!(notify["channel"], "duty-manager");
    let msg = notify["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("/v1/tickets/T-1/approvals/{id}")),
        "{msg}"
    );
    let due = t.plugin_state["approval"][&format!("due:{id}")]
        .parse::<i64>()
        .unwrap();
    assert_eq!(
        due,
        at(1 + 240).as_millisecond(),
        "timeout_minutes = 240 from record time"
    );
}

#[test]
fn a_decision_is_recorded_with_who_and_why() {
    let (mut run, _h) = run();
    run.send("comment.added", &comment("agent", "approve refund"), at(1));
    let id = run.ticket().approvals[0].id.clone();
    let out = run.send(
        "approval.decided",
        &format!(r#"{{"approval_id":"{id}","decision":"approved","by":"mgr-ana","reason":"loyal customer"}}"#),
        at(30),
    );
    let t = run.ticket();
    assert_eq!(t.approvals[0].state, ApprovalState::Approved);
    let d = t.approvals[0].decision.as_ref().unwrap();
    assert_eq!(
        (d.by.as_str(), d.reason.as_str(), d.at),
        ("mgr-ana", "loyal customer", at(30))
    );
    assert!(t.has_tag("refund-approved"), "{:#?}", summary(&out));
    let note = data(of_type(&out, "action.note")[0]);
    assert_eq!(note["text"], "refund approved by mgr-ana: loyal customer");
    assert!(
        !t.plugin_state
            .get("approval")
            .is_some_and(|s| s.contains_key(&format!("due:{id}")))
    );
}

#[test]
fn an_undecided_approval_escalates_once_its_time_is_up() {
    let (mut run, _h) = run();
    run.send("comment.added", &comment("agent", "approve refund"), at(1));
    let out = run.send("comment.added", &comment("customer", "any news?"), at(200));
    assert!(of_type(&out, "action.escalate").is_empty(), "not yet due");
    let out = run.send("comment.added", &comment("customer", "hello??"), at(250));
    let esc = data(of_type(&out, "action.escalate")[0]);
    assert_eq!(esc["tier"], 3);
    assert!(
        esc["reason"].as_str().unwrap().contains("undecided"),
        "{esc}"
    );
    assert_eq!(run.ticket().tier.get(), 3);
    let out = run.send("comment.added", &comment("customer", "again"), at(260));
    assert!(of_type(&out, "action.escalate").is_empty(), "only once");
}
