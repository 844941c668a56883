//! A fresh instance per call: guest globals never carry over, unless the
//! manifest asks for warm reuse (and then they do, as documented).

use crate::util::*;

fn counts(reuse: bool) -> Vec<String> {
    let extra = if reuse {
        "[capabilities]\nconfig = [\"mode\"]\n[limits]\ninstances = \"reuse\"\n"
    } else {
        "[capabilities]\nconfig = [\"mode\"]\n"
    };
    let h = host(&[(
        &fixture("hostile"),
        "counter",
        Some(&hostile_manifest("counter", extra)),
    )]);
    let mut run = Run::new(h.set());
    run.create();
    (1..=3)
        .map(|m| {
            let out = run.send("comment.added", &comment("customer", "count"), at(m));
            data(of_type(&out, "action.note")[0])["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn a_global_counter_starts_over_on_every_call() {
    assert_eq!(counts(false), ["count 1", "count 1", "count 1"]);
}

#[test]
fn warm_reuse_keeps_globals_as_its_manifest_says() {
    assert_eq!(counts(true), ["count 1", "count 2", "count 3"]);
}

/// `keeper` stores a value in kv; `peeker` (granted `snapshot`, subscribed
/// to `plugin.state` too) reports everything it is handed.
fn peeks() -> (Vec<String>, escalier_core::Ticket) {
    let keeper = hostile_manifest(
        "keeper",
        "[capabilities]\nkv = true\nconfig = [\"mode\"]\n[limits]\ntime_ms = 5000\n",
    );
    let peeker = "name = \"peeker\"\nversion = \"0.1.0\"\ncomponent = \"hostile.wasm\"\n\
                  subscribe = [\"comment.added\", \"plugin.state\"]\n\
                  [capabilities]\nsnapshot = true\nconfig = [\"mode\"]\n[limits]\ntime_ms = 5000\n\
                  [config]\nmode = \"peek\"\n";
    let h = host(&[
        (&fixture("hostile"), "keeper", Some(&keeper)),
        (&fixture("hostile"), "peeker", Some(peeker)),
    ]);
    let mut run = Run::new(h.set());
    run.create();
    let mut out = run.send("comment.added", &comment("customer", "kv"), at(1));
    out.extend(run.send("comment.added", &comment("customer", "later"), at(2)));
    let notes = of_type(&out, "action.note")
        .into_iter()
        .map(|r| data(r)["text"].as_str().unwrap().to_owned())
        .filter(|t| t.starts_with("peek "))
        .collect();
    (notes, run.ticket().clone())
}

#[test]
fn a_plugin_sees_no_other_plugins_state_in_the_snapshot_or_the_records_it_is_handed() {
    let (notes, ticket) = peeks();
    assert_eq!(
        ticket.plugin_state["keeper"]["stolen"], "yes",
        "the keeper's state is on the ticket"
    );
    assert!(
        notes.iter().any(|n| n.starts_with("peek plugin.state ")),
        "the peeker was handed the keeper's plugin.state: {notes:#?}"
    );
    assert!(
        notes
            .iter()
            .filter(|n| n.starts_with("peek comment.added "))
            .count()
            >= 2,
        "{notes:#?}"
    );
    for n in &notes {
        assert!(
            !n.contains("stolen") && !n.contains("\"yes\""),
            "another plugin's state leaked: {n}"
        );
        assert!(n.ends_with(" state {}"), "{n}");
    }
    let handed = notes
        .iter()
        .find(|n| n.starts_with("peek plugin.state "))
        .unwrap();
    assert!(
        handed.starts_with(r#"peek plugin.state {"plugin":"keeper"} "#),
        "{handed}"
    );
}

#[test]
fn the_full_ticket_is_opt_in() {
    let manifest = "name = \"peeker\"\nversion = \"0.1.0\"\ncomponent = \"hostile.wasm\"\n\
                    subscribe = [\"comment.added\"]\n\
                    [capabilities]\nconfig = [\"mode\"]\n[limits]\ntime_ms = 5000\n\
                    [config]\nmode = \"peek\"\n";
    let h = host(&[(&fixture("hostile"), "peeker", Some(manifest))]);
    let mut run = Run::new(h.set());
    run.create();
    let out = run.send("comment.added", &comment("customer", "peek"), at(1));
    let errors = of_type(&out, "plugin.error");
    assert_eq!(errors.len(), 1, "{:#?}", summary(&out));
    assert_eq!(data(errors[0])["code"], "capability_denied");
    assert!(of_type(&out, "action.note").is_empty());
}

/// What the fixture draws from WASI's two generators, called twice for
/// the same record on one plugin.
fn draws(reuse: bool, seq: u64) -> Vec<String> {
    let extra = if reuse {
        "[capabilities]\nconfig = [\"mode\"]\n[limits]\ntime_ms = 5000\ninstances = \"reuse\"\n"
    } else {
        "[capabilities]\nconfig = [\"mode\"]\n[limits]\ntime_ms = 5000\n"
    };
    let h = host(&[(
        &fixture("hostile"),
        "dice",
        Some(&hostile_manifest("dice", extra)),
    )]);
    let ticket = std::sync::Arc::new(new_ticket());
    let rec = input(
        seq,
        "comment.added",
        "T-1",
        &comment("customer", "draw"),
        at(1),
    );
    let set = h.set();
    (0..2)
        .map(|_| {
            let mut out = Vec::new();
            escalier_core::Reactor::react(&*set, &ticket, &rec, &mut out);
            let [reaction] = out.as_slice() else {
                panic!("{out:?}")
            };
            let escalier_core::EventKind::Action(escalier_core::action::Action::Note(n)) =
                &reaction.kind
            else {
                panic!("{reaction:?}")
            };
            n.text.clone()
        })
        .collect()
}

#[test]
fn a_warm_instance_draws_what_a_fresh_one_draws_for_the_same_record() {
    let fresh = draws(false, 2);
    assert_eq!(fresh[0], fresh[1], "fresh instances replay");
    assert!(fresh[0].starts_with("draw "), "{}", fresh[0]);
    assert_eq!(draws(true, 2), fresh, "a warm instance is seeded per call");
    assert_ne!(draws(true, 3), fresh, "another record draws other numbers");
}
