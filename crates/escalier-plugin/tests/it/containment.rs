//! Hostile plugins: each misbehaviour is contained, recorded as
//! `plugin.error` with the right code, the triggering event is kept, and
//! a well-behaved plugin on the same event is unaffected.

use escalier_plugin::status::Health;

use crate::util::*;

const BYSTANDER: &str = "[capabilities]\nconfig = [\"mode\"]\n[config]\nmode = \"ok\"\n";

/// `hostile` with `extra` manifest lines, beside a bystander that tags
/// every comment `hostile-ok`. Returns the records derived from one
/// comment with `body`, and the run.
fn misbehave(extra: &str, body: &str) -> (Vec<escalier_core::Record>, Run, Host) {
    let hostile = hostile_manifest(
        "hostile",
        &format!("[capabilities]\nconfig = [\"mode\"]\n{extra}"),
    );
    let bystander = hostile_manifest("bystander", BYSTANDER);
    let h = host(&[
        (&fixture("hostile"), "hostile", Some(&hostile)),
        (&fixture("hostile"), "bystander", Some(&bystander)),
    ]);
    let mut run = Run::new(h.set());
    run.create();
    let out = run.send("comment.added", &comment("customer", body), at(5));
    (out, run, h)
}

fn only_error(out: &[escalier_core::Record]) -> serde_json::Value {
    let errors = of_type(out, "plugin.error");
    assert_eq!(errors.len(), 1, "{:#?}", summary(out));
    let e = data(errors[0]);
    assert_eq!(e["plugin"], "hostile");
    e
}

fn bystander_and_event_unaffected(out: &[escalier_core::Record], run: &Run) {
    assert_eq!(
        run.ticket().comment_count,
        1,
        "the triggering comment is applied"
    );
    assert!(
        run.ticket().has_tag("hostile-ok"),
        "bystander still ran: {:#?}",
        summary(out)
    );
    assert_eq!(run.ticket().plugin_errors, 1);
}

#[test]
fn an_infinite_loop_is_stopped_at_its_time_limit() {
    let (out, run, _h) = misbehave("[limits]\ntime_ms = 20\n", "loop");
    let e = only_error(&out);
    assert_eq!(e["code"], "timeout");
    assert!(e["message"].as_str().unwrap().contains("20 ms"), "{e}");
    bystander_and_event_unaffected(&out, &run);
}

#[test]
fn memory_growth_past_the_limit_is_refused() {
    let (out, run, h) = misbehave("[limits]\nmemory_mib = 8\ntime_ms = 1000\n", "grow");
    let e = only_error(&out);
    assert_eq!(e["code"], "memory_limit", "{e}");
    assert!(e["message"].as_str().unwrap().contains("8 MiB"), "{e}");
    bystander_and_event_unaffected(&out, &run);
    let status = h.registry.status();
    let s = status.iter().find(|s| s.name == "hostile").unwrap();
    assert_eq!(s.counters.memory_limits, 1);
}

#[test]
fn a_panic_is_a_trap_with_its_message() {
    let (out, run, _h) = misbehave("", "panic");
    let e = only_error(&out);
    assert_eq!(e["code"], "trap");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("hostile fixture panics on purpose"),
        "the panic message from stderr is kept: {e}"
    );
    bystander_and_event_unaffected(&out, &run);
}

#[test]
fn calling_an_undeclared_capability_traps_and_drops_the_call() {
    let (out, run, _h) = misbehave("", "kv");
    let e = only_error(&out);
    assert_eq!(e["code"], "capability_denied");
    assert!(e["message"].as_str().unwrap().contains("kv.set"), "{e}");
    assert!(of_type(&out, "plugin.state").is_empty());
    assert!(
        of_type(&out, "action.note").is_empty(),
        "the call's actions are dropped"
    );
    bystander_and_event_unaffected(&out, &run);
}

#[test]
fn reading_an_undeclared_secret_traps() {
    let (out, run, _h) = misbehave("", "secret");
    let e = only_error(&out);
    assert_eq!(e["code"], "capability_denied");
    assert!(e["message"].as_str().unwrap().contains("not_mine"), "{e}");
    bystander_and_event_unaffected(&out, &run);
}

#[test]
fn a_private_address_is_refused_even_when_the_allowlist_names_it() {
    let caps = "http = { allowed_hosts = [\"http://169.254.169.254\", \"http://127.0.0.1:9\"] }\n";
    for target in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9/admin",
    ] {
        let (out, run, _h) = misbehave(caps, &format!("private {target}"));
        let e = only_error(&out);
        assert_eq!(e["code"], "denied", "{e}");
        assert!(e["message"].as_str().unwrap().contains("address"), "{e}");
        assert!(
            of_type(&out, "delivery.requested").is_empty(),
            "nothing queued for {target}"
        );
        let notes = of_type(&out, "action.note");
        let note = data(notes[0])["text"].as_str().unwrap().to_owned();
        assert!(
            note.starts_with("refused: Error::Denied("),
            "the guest saw the error: {note}"
        );
        bystander_and_event_unaffected(&out, &run);
    }
}

#[test]
fn a_host_outside_the_allowlist_is_refused_to_the_guest() {
    let caps = "http = { allowed_hosts = [\"https://hooks.slack.com\"] }\n";
    let (out, _run, _h) = misbehave(caps, "private https://evil.example.net/x");
    let e = only_error(&out);
    assert_eq!(e["code"], "denied");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("not in capabilities.http.allowed_hosts"),
        "{e}"
    );
}

#[test]
fn repeated_failures_open_the_circuit_until_the_cooldown_in_record_time() {
    let hostile = hostile_manifest("hostile", "[capabilities]\nconfig = [\"mode\"]\n");
    let h = host(&[(&fixture("hostile"), "hostile", Some(&hostile))]);
    let mut run = Run::new(h.set());
    run.create();
    // Breaker: 3 failures, 60 s cooldown (util::config).
    for minute in 1..=3 {
        let out = run.send("comment.added", &comment("customer", "panic"), at(minute));
        assert_eq!(only_error(&out)["code"], "trap");
    }
    let status = |h: &Host| {
        h.registry
            .status()
            .into_iter()
            .find(|s| s.name == "hostile")
            .unwrap()
    };
    assert_eq!(status(&h).status, Health::CircuitOpen);
    // Within the cooldown (record time): skipped, even for a good call.
    let out = run.send("comment.added", &comment("customer", "ok"), at(3));
    assert_eq!(only_error(&out)["code"], "circuit_open");
    assert!(!run.ticket().has_tag("hostile-ok"));
    // After it: a trial call; it succeeds and closes the circuit.
    let out = run.send("comment.added", &comment("customer", "ok"), at(5));
    assert!(
        of_type(&out, "plugin.error").is_empty(),
        "{:#?}",
        summary(&out)
    );
    assert!(run.ticket().has_tag("hostile-ok"));
    let s = status(&h);
    assert_eq!(s.status, Health::Active);
    assert_eq!((s.counters.traps, s.counters.skipped), (3, 1));
    assert_eq!(s.last_error.unwrap().code, "trap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_inside_spawn_blocking_is_still_a_trap() {
    // How the server calls adapters and how a tokio-based processor should
    // call react: on a blocking thread, where WASI's stderr still works.
    let (out, _run, _h) = tokio::task::spawn_blocking(|| {
        let (out, run, h) = misbehave("", "panic");
        (out, run.ticket().clone(), h)
    })
    .await
    .unwrap();
    assert_eq!(only_error(&out)["code"], "trap");
}

#[test]
fn a_flood_of_actions_is_refused_whole() {
    let (out, run, _h) = misbehave("", "flood");
    let e = only_error(&out);
    assert_eq!(e["code"], "too_many_actions");
    assert!(
        e["message"].as_str().unwrap().contains("10000 actions"),
        "{e}"
    );
    assert!(
        of_type(&out, "action.note").is_empty(),
        "none of the flood applies"
    );
    bystander_and_event_unaffected(&out, &run);
}
