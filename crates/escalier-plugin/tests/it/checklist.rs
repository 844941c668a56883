//! The checklist plugin with the real processor: checklists opened,
//! escalations held and released, progress on the ticket, the `open` command.

use crate::util::*;

fn run() -> (Run, Host) {
    let h = host(&[(&example("checklist"), "checklist", None)]);
    let mut run = Run::with_policy(h.set());
    let out = run.create();
    assert!(
        of_type(&out, "checklist.opened").is_empty(),
        "no checklist opens by itself"
    );
    let out = run.send(
        "plugin.command",
        r#"{"plugin":"checklist","command":"open","args":{"name":"handoff"},"by":"agent-7"}"#,
        at(0),
    );
    assert_eq!(
        of_type(&out, "checklist.opened").len(),
        1,
        "{:#?}",
        summary(&out)
    );
    (run, h)
}

fn tick(run: &mut Run, item: &str, minute: i64) -> Vec<escalier_core::Record> {
    run.send(
        "checklist.item_checked",
        &format!(r#"{{"checklist":"handoff","item":"{item}","by":"agent-7"}}"#),
        at(minute),
    )
}

#[test]
fn an_opened_checklist_has_its_items_and_tier() {
    let (run, _h) = run();
    let c = &run.ticket().checklist_progress["handoff"];
    let ids: Vec<&str> = c.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["repro", "account", "history"]);
    assert_eq!(c.required_for_tier.map(|t| t.get()), Some(2));
    assert_eq!(c.opened_by, "checklist");
    assert!(
        !run.ticket()
            .checklist_progress
            .contains_key("engineering-handoff"),
        "only what was opened"
    );
}

#[test]
fn an_escalation_is_held_until_the_checklist_is_done() {
    let (mut run, _h) = run();
    let out = run.send("comment.added", &comment("agent", "escalate 2"), at(1));
    assert_eq!(run.ticket().tier.get(), 1, "held");
    let notes = of_type(&out, "action.note");
    let text = data(notes[0])["text"].as_str().unwrap().to_owned();
    assert!(text.contains("on hold until checklist `handoff`"), "{text}");
    assert!(
        text.contains("Steps to reproduce"),
        "lists what is still open: {text}"
    );

    tick(&mut run, "repro", 2);
    tick(&mut run, "account", 3);
    assert_eq!(run.ticket().checklist_progress["handoff"].done, 2);
    assert_eq!(run.ticket().tier.get(), 1);
    let out = tick(&mut run, "history", 4);
    let t = run.ticket();
    assert_eq!(t.tier.get(), 2, "released when the last item was ticked");
    assert!(t.held_escalations.is_empty());
    assert_eq!(t.escalations[0].by, "test.rhai");
    assert_eq!(t.escalations[0].held_since, Some(at(1)));
    assert!(t.has_tag("checklist-handoff-done"), "{:#?}", summary(&out));
}

#[test]
fn a_policy_can_require_a_configured_checklist_and_unknown_ones_are_noted() {
    let (mut run, _h) = run();
    run.send(
        "comment.added",
        &comment("agent", "checklist engineering-handoff"),
        at(1),
    );
    assert_eq!(
        run.ticket().checklist_progress["engineering-handoff"]
            .items
            .len(),
        2
    );
    let out = run.send(
        "comment.added",
        &comment("agent", "checklist nonsense"),
        at(2),
    );
    let note = data(of_type(&out, "action.note")[0]);
    assert!(
        note["text"].as_str().unwrap().contains("not configured"),
        "{note}"
    );
}

#[test]
fn the_open_command_opens_a_checklist_on_request() {
    let (mut run, h) = run();
    assert!(h.set().has_command("checklist", "open"));
    assert!(!h.set().has_command("checklist", "close"));
    let out = run.send(
        "plugin.command",
        r#"{"plugin":"checklist","command":"open","args":{"name":"engineering-handoff"},"by":"agent-7"}"#,
        at(1),
    );
    assert_eq!(
        of_type(&out, "checklist.opened").len(),
        1,
        "{:#?}",
        summary(&out)
    );
    assert!(
        run.ticket()
            .checklist_progress
            .contains_key("engineering-handoff")
    );
    let out = run.send(
        "plugin.command",
        r#"{"plugin":"checklist","command":"open","args":"engineering-handoff","by":"agent-7"}"#,
        at(2),
    );
    let e = data(of_type(&out, "plugin.error")[0]);
    assert_eq!(e["code"], "guest_error");
    assert!(
        e["message"].as_str().unwrap().starts_with("invalid-input"),
        "{e}"
    );
}

#[test]
fn a_command_for_a_plugin_that_is_not_loaded_is_reported() {
    let (mut run, _h) = run();
    let out = run.send(
        "plugin.command",
        r#"{"plugin":"gone","command":"open","args":{},"by":"agent-7"}"#,
        at(1),
    );
    let e = data(of_type(&out, "plugin.error")[0]);
    assert_eq!(
        (e["plugin"].as_str(), e["code"].as_str()),
        (Some("gone"), Some("unknown_plugin"))
    );
    let out = run.send(
        "plugin.command",
        r#"{"plugin":"checklist","command":"close","args":{},"by":"agent-7"}"#,
        at(2),
    );
    assert_eq!(
        data(of_type(&out, "plugin.error")[0])["code"],
        "unknown_command"
    );
}
