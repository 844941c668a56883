//! The Python plugin (componentize-py), in warm-instance mode.

use escalier_plugin::{CacheOutcome, HostConfig, PluginRegistry};

use crate::util::*;

#[test]
fn keywords_set_priority_tag_and_route_new_tickets() {
    let h = host(&[(&example("triage-py"), "triage-py", None)]);
    let mut run = Run::new(h.set());
    let out = run.send(
        "ticket.created",
        r#"{"subject":"Outage: data loss after import","requester":{"id":"c-1"},"channel":"chat"}"#,
        at(0),
    );
    let t = run.ticket();
    assert_eq!(t.priority.as_str(), "urgent", "{:#?}", summary(&out));
    assert!(t.has_tag("outage") && t.has_tag("data-loss"));
    assert_eq!(t.team.as_deref(), Some("engineering"));
    for r in &out {
        assert_eq!(r.source.producer_name(), "triage-py");
    }
}

#[test]
fn frustrated_customers_are_counted_per_ticket_and_escalated() {
    let h = host(&[(&example("triage-py"), "triage-py", None)]);
    let mut run = Run::new(h.set());
    run.create();
    let out = run.send(
        "comment.added",
        &comment("customer", "This is unacceptable."),
        at(1),
    );
    assert!(run.ticket().has_tag("frustrated"), "{:#?}", summary(&out));
    assert_eq!(run.ticket().plugin_state["triage-py"]["frustrated"], "1");
    run.send("comment.added", &comment("agent", "We are on it"), at(2));
    let out = run.send(
        "comment.added",
        &comment("customer", "Third time I ask, still broken"),
        at(3),
    );
    let esc = data(of_type(&out, "action.escalate")[0]);
    assert_eq!(esc["tier"], 2);
    assert_eq!(run.ticket().tier.get(), 2);

    // Another ticket on the same warm instance starts from zero: kv is per ticket.
    let mut other = Run::new(h.set());
    other.create();
    other.send("comment.added", &comment("customer", "unacceptable"), at(4));
    assert_eq!(other.ticket().plugin_state["triage-py"]["frustrated"], "1");
}

#[test]
fn a_second_start_maps_the_compiled_component_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &example("triage-py"), "triage-py", None);
    let open = || {
        let mut c = HostConfig::new(dir.path());
        c.cache_dir = Some(test_cache());
        let (r, report) = PluginRegistry::open(c).unwrap();
        assert!(report.failed.is_empty(), "{:#?}", report.failed);
        r.status().remove(0)
    };
    // The first start compiles (unless an earlier test run did); the second maps.
    let first = open();
    let second = open();
    assert_eq!(second.compile_cache, Some(CacheOutcome::Hit));
    assert_eq!(first.component_hash, second.component_hash);
}
