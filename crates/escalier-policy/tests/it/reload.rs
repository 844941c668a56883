//! The registry: all-or-nothing reload, status for `GET /v1/policies`.

use std::fs;
use std::sync::Arc;

use escalier_core::{Clock, ManualClock, Reactor};
use escalier_policy::{Code, PolicyLimits, PolicyRegistry, ReloadOutcome};
use jiff::SignedDuration;
use serde_json::json;

use crate::util::*;

const VIP: &str = "const ON = [\"ticket.created\"];\nif ticket.vip { escalate(2, \"VIP\"); }\n";
const TAG: &str = "const ON = [\"ticket.created\"];\ntag(\"seen\");\n";

fn setup() -> (tempfile::TempDir, Arc<ManualClock>, PolicyRegistry) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("vip.rhai"), VIP).unwrap();
    fs::create_dir(dir.path().join("billing")).unwrap();
    fs::write(dir.path().join("billing/tag.rhai"), TAG).unwrap();
    fs::write(dir.path().join("README.md"), "not a policy").unwrap();
    let clock = Arc::new(ManualClock::new(at()));
    let reg = PolicyRegistry::new(dir.path(), PolicyLimits::default(), clock.clone()).unwrap();
    (dir, clock, reg)
}

#[test]
fn loads_every_rhai_file_recursively_in_name_order() {
    let (_dir, _clock, reg) = setup();
    let set = reg.current();
    let names: Vec<_> = set.policies().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["billing/tag.rhai", "vip.rhai"]);
    let status = reg.status();
    assert_eq!(status.version, set.version());
    assert_eq!(status.policies[1].on, ["ticket.created"]);
    assert_eq!(status.policies[1].hash, set.policies()[1].hash());
    assert!(status.last_error.is_none());
}

#[test]
fn a_broken_file_rejects_the_whole_reload_and_the_old_set_keeps_serving() {
    let (dir, clock, reg) = setup();
    let before = reg.current().version().to_owned();

    // One good change and one broken file: neither may take effect.
    fs::write(
        dir.path().join("billing/tag.rhai"),
        TAG.replace("seen", "changed"),
    )
    .unwrap();
    fs::write(
        dir.path().join("vip.rhai"),
        "const ON = [\"ticket.created\"];\n\nif ticket.vip { escalte(2, \"VIP\"); }\n",
    )
    .unwrap();
    clock.advance(SignedDuration::from_mins(5)).unwrap();
    let err = reg.reload().expect_err("broken file");
    assert_eq!(err.diagnostics.len(), 1);
    let d = &err.diagnostics[0];
    assert_eq!(d.code, Code::UnknownFunction);
    assert_eq!((d.line, d.column), (Some(3), Some(17)));
    assert!(d.file.ends_with("vip.rhai"), "{}", d.file);

    assert_eq!(reg.current().version(), before, "old set still serving");
    let rs = react(
        &reg.current(),
        &ticket(json!({"requester": {"id": "c", "vip": true}})),
        &created("T-1", json!({})),
    );
    assert_eq!(
        describe_all(&rs),
        ["billing/tag.rhai: tag seen", "vip.rhai: escalate 2"]
    );

    let status = reg.status();
    let last = status.last_error.expect("error kept for the API");
    assert_eq!(last.at, clock.now());
    assert_eq!(last.diagnostics, err.diagnostics);
    assert_eq!(status.reloads.failed, 1);
    let body = serde_json::to_value(reg.status()).unwrap();
    assert_eq!(body["last_error"]["diagnostics"][0]["line"], 3);
    assert_eq!(
        body["last_error"]["diagnostics"][0]["code"],
        "unknown_function"
    );

    // Fixed: the reload goes through and the error is cleared.
    fs::write(dir.path().join("vip.rhai"), VIP).unwrap();
    let ReloadOutcome::Changed { from, to } = reg.reload().unwrap() else {
        panic!("should change")
    };
    assert_eq!(from, before);
    assert_eq!(to, reg.current().version());
    assert!(reg.status().last_error.is_none());
    let rs = react(
        &reg.current(),
        &ticket(json!({})),
        &created("T-1", json!({})),
    );
    assert_eq!(describe_all(&rs), ["billing/tag.rhai: tag changed"]);
}

#[test]
fn unchanged_files_reload_as_unchanged_and_keep_their_load_time() {
    let (dir, clock, reg) = setup();
    let first = reg.status();
    clock.advance(SignedDuration::from_mins(1)).unwrap();
    assert!(matches!(
        reg.reload().unwrap(),
        ReloadOutcome::Unchanged { .. }
    ));

    clock.advance(SignedDuration::from_mins(1)).unwrap();
    fs::write(
        dir.path().join("billing/tag.rhai"),
        TAG.replace("seen", "again"),
    )
    .unwrap();
    assert!(matches!(
        reg.reload().unwrap(),
        ReloadOutcome::Changed { .. }
    ));
    let now = reg.status();
    assert_eq!(now.loaded_at, clock.now());
    let by_name = |s: &escalier_policy::PolicyStatus, n: &str| {
        s.policies.iter().find(|p| p.name == n).unwrap().loaded_at
    };
    assert_eq!(
        by_name(&now, "vip.rhai"),
        by_name(&first, "vip.rhai"),
        "untouched file keeps its time"
    );
    assert_eq!(by_name(&now, "billing/tag.rhai"), clock.now());
    assert_eq!(now.reloads.changed, 1);
    assert_eq!(now.reloads.unchanged, 1);
}

#[test]
fn deleting_a_file_removes_its_policy() {
    let (dir, _clock, reg) = setup();
    fs::remove_file(dir.path().join("vip.rhai")).unwrap();
    reg.reload().unwrap();
    assert_eq!(reg.current().len(), 1);
    assert!(!reg.current().wants("comment.added"));
}

#[test]
fn a_registry_does_not_start_on_broken_policies() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.rhai"), "tag(\"x\");").unwrap();
    fs::write(
        dir.path().join("b.rhai"),
        "const ON = [\"ticket.craeted\"];",
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(at()));
    let err = PolicyRegistry::new(dir.path(), PolicyLimits::default(), clock).unwrap_err();
    let codes: Vec<_> = err.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::MissingOn, Code::UnknownEventType]);
    assert!(
        err.to_string()
            .contains("b.rhai:1:13: error[unknown_event_type]"),
        "{err}"
    );
}

#[test]
fn a_missing_directory_is_an_io_diagnostic() {
    let clock = Arc::new(ManualClock::new(at()));
    let err =
        PolicyRegistry::new("/nonexistent/policies", PolicyLimits::default(), clock).unwrap_err();
    assert_eq!(err.diagnostics[0].code, Code::Io);
    assert_eq!(err.diagnostics[0].line, None);
}

#[test]
fn change_hooks_see_the_set_in_force_and_every_set_a_reload_brings_in() {
    let (dir, _clock, reg) = setup();
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    reg.on_change({
        let seen = seen.clone();
        move |set| seen.lock().unwrap().push(set.version().to_owned())
    });
    let first = reg.current().version().to_owned();
    assert_eq!(*seen.lock().unwrap(), std::slice::from_ref(&first));

    // Unchanged and rejected reloads bring nothing into force.
    reg.reload().unwrap();
    fs::write(dir.path().join("vip.rhai"), "if {").unwrap();
    reg.reload().expect_err("broken file");
    assert_eq!(*seen.lock().unwrap(), std::slice::from_ref(&first));

    fs::write(dir.path().join("vip.rhai"), VIP.replace('2', "3")).unwrap();
    reg.reload().unwrap();
    let second = reg.current().version().to_owned();
    assert_ne!(first, second);
    assert_eq!(*seen.lock().unwrap(), [first, second]);
}
