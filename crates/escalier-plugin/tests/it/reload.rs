//! Reload: plugins added, replaced and removed take effect; a plugin that
//! fails to load leaves its previous version serving; calls running during
//! a reload each see one whole version.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use escalier_core::{EventKind, Producer, Reactor};
use escalier_plugin::status::Health;

use crate::util::*;

fn v(version: &str, mode: &str) -> String {
    format!(
        "name = \"swap\"\nversion = \"{version}\"\ncomponent = \"hostile.wasm\"\nsubscribe = [\"comment.added\"]\n\
         [capabilities]\nconfig = [\"mode\"]\n[limits]\ntime_ms = 5000\n[config]\nmode = \"{mode}\"\n"
    )
}

#[test]
fn adding_replacing_and_removing_take_effect() {
    let h = host(&[(&fixture("noop"), "noop", None)]);
    assert_eq!(h.set().names(), ["noop"]);
    install(
        h.dir.path(),
        &fixture("hostile"),
        "swap",
        Some(&v("0.1.0", "count")),
    );
    let r = h.registry.reload();
    assert_eq!(
        (r.loaded.as_slice(), r.unchanged.as_slice()),
        (&["swap".to_owned()][..], &["noop".to_owned()][..])
    );
    std::fs::write(h.dir.path().join("swap/plugin.toml"), v("0.2.0", "ok")).unwrap();
    let r = h.registry.reload();
    assert_eq!(r.replaced, ["swap"]);
    let status = h.registry.status();
    assert_eq!(
        status
            .iter()
            .find(|s| s.name == "swap")
            .unwrap()
            .version
            .as_deref(),
        Some("0.2.0")
    );
    std::fs::remove_dir_all(h.dir.path().join("noop")).unwrap();
    let r = h.registry.reload();
    assert_eq!(r.removed, ["noop"]);
    assert_eq!(h.set().names(), ["swap"]);
}

#[test]
fn a_broken_update_is_refused_and_the_previous_version_keeps_serving() {
    let h = host(&[(&fixture("hostile"), "swap", Some(&v("0.1.0", "ok")))]);
    let before = h.set();
    std::fs::write(
        h.dir.path().join("swap/hostile.wasm"),
        b"\0asm but not really",
    )
    .unwrap();
    std::fs::write(h.dir.path().join("swap/plugin.toml"), v("0.2.0", "ok")).unwrap();
    let r = h.registry.reload();
    assert_eq!(r.failed.len(), 1);
    assert!(
        r.failed[0]
            .error
            .contains("not a loadable WebAssembly component"),
        "{}",
        r.failed[0].error
    );
    let s = h.registry.status().remove(0);
    assert_eq!(s.status, Health::Active);
    assert_eq!(
        s.version.as_deref(),
        Some("0.1.0"),
        "the old version serves"
    );
    assert!(s.load_error.is_some());
    assert!(Arc::ptr_eq(&before, &before) && h.set().names() == ["swap"]);

    // A manifest with an unknown key names it; a new plugin that never
    // loaded shows as failed.
    install(
        h.dir.path(),
        &fixture("noop"),
        "typo",
        Some(
            "name = \"typo\"\nversion = \"1\"\ncomponent = \"noop.wasm\"\nsubscribe = [\"comment.added\"]\ntimeout = 5\n",
        ),
    );
    let r = h.registry.reload();
    let typo = r.failed.iter().find(|f| f.dir == "typo").unwrap();
    assert!(
        typo.error.contains("`timeout`: unknown key"),
        "{}",
        typo.error
    );
    let s = h
        .registry
        .status()
        .into_iter()
        .find(|s| s.dir == "typo")
        .unwrap();
    assert_eq!(s.status, Health::Failed);
}

#[test]
fn two_plugins_with_one_name_keep_the_one_that_was_serving() {
    let h = host(&[(&fixture("hostile"), "a-swap", Some(&v("0.1.0", "ok")))]);
    install(
        h.dir.path(),
        &fixture("hostile"),
        "0-swap",
        Some(&v("9.0.0", "ok")),
    );
    let r = h.registry.reload();
    assert!(
        r.failed
            .iter()
            .any(|f| f.dir == "0-swap" && f.error.contains("defined twice")),
        "{r:#?}"
    );
    assert_eq!(
        h.registry
            .status()
            .iter()
            .find(|s| s.dir == "a-swap")
            .unwrap()
            .version
            .as_deref(),
        Some("0.1.0")
    );
}

#[test]
fn calls_during_reloads_see_one_whole_version() {
    let h = host(&[(&fixture("hostile"), "swap", Some(&v("0.1.0", "count")))]);
    let ticket = Arc::new(new_ticket());
    let rec = input(
        2,
        "comment.added",
        "T-1",
        &comment("customer", "ignored"),
        at(1),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let registry = h.registry.clone();
    let caller = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                let set = registry.current();
                let mut out = Vec::new();
                set.react(&ticket, &rec, &mut out);
                assert_eq!(out.len(), 1, "{out:?}");
                let Producer::Plugin { version, .. } = &out[0].producer else {
                    panic!()
                };
                match (version.as_str(), &out[0].kind) {
                    ("0.1.0", EventKind::Action(a)) if a.type_name() == "action.note" => {
                        seen.0 += 1
                    }
                    ("0.2.0", EventKind::Action(a)) if a.type_name() == "action.tag" => seen.1 += 1,
                    other => panic!("a call saw a mixed plugin: {other:?}"),
                }
            }
            seen
        })
    };
    let dir = h.dir.path().join("swap");
    for i in 0..20 {
        let (version, mode) = if i % 2 == 0 {
            ("0.2.0", "ok")
        } else {
            ("0.1.0", "count")
        };
        // Deploy by rename, as documented.
        let staged = h.dir.path().join(".staged");
        install(
            h.dir.path(),
            &fixture("hostile"),
            ".staged",
            Some(&v(version, mode)),
        );
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::rename(&staged, &dir).unwrap();
        let r = h.registry.reload();
        assert!(r.failed.is_empty(), "{r:#?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    let (old, new) = caller.join().unwrap();
    assert!(old > 0 && new > 0, "both versions served: {old} / {new}");
}

#[test]
fn the_watcher_picks_up_a_new_plugin() {
    let h = host(&[]);
    let _watcher = escalier_plugin::watch(h.registry.clone(), Duration::from_millis(100)).unwrap();
    let staged = h.dir.path().join(".staged");
    install(h.dir.path(), &fixture("noop"), ".staged", None);
    std::fs::rename(&staged, h.dir.path().join("noop")).unwrap();
    // Waiting is bounded; the assertion is about the outcome, not the time.
    for _ in 0..200 {
        if h.set().names() == ["noop"] {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the watcher did not load the new plugin within 10 s");
}

/// What the next call of the `keyed` plugin says (a note naming the
/// length of its secret, or a tag in mode `ok`).
fn keyed_says(h: &Host, minutes: i64) -> String {
    let ticket = Arc::new(new_ticket());
    let rec = input(
        2,
        "comment.added",
        "T-1",
        &comment("customer", "ignored"),
        at(minutes),
    );
    let mut out = Vec::new();
    h.set().react(&ticket, &rec, &mut out);
    match out.first().map(|r| &r.kind) {
        Some(kind) => format!("{kind:?}"),
        None => "nothing".to_owned(),
    }
}

fn keyed(mode: &str) -> String {
    format!(
        "name = \"keyed\"\nversion = \"0.1.0\"\ncomponent = \"hostile.wasm\"\nsubscribe = [\"comment.added\"]\n\
         [capabilities]\nconfig = [\"mode\"]\nsecrets = [\"not_mine\"]\n[limits]\ntime_ms = 5000\n[config]\nmode = \"{mode}\"\n"
    )
}

/// Polls until `h`'s `keyed` plugin says something containing `want`.
/// Bounded; the assertion is about the outcome, not the time.
fn wait_until_keyed_says(h: &Host, want: &str) {
    let mut last = String::new();
    for i in 0..200 {
        last = keyed_says(h, i);
        if last.contains(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the watcher did not reload within 10 s: still `{last}`, wanted `{want}`");
}

#[test]
fn the_watcher_reloads_a_plugin_when_only_the_secrets_file_changes() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("secrets.toml");
    std::fs::write(&file, "not_mine = \"abc\"\n").unwrap();
    let secrets = escalier_plugin::Secrets::none().with_file(&file).unwrap();
    let h = host_with(
        &[(&fixture("hostile"), "keyed", Some(&keyed("secret")))],
        secrets,
    );
    assert!(keyed_says(&h, 1).contains("secret has 3 bytes"));
    let _watcher = escalier_plugin::watch(h.registry.clone(), Duration::from_millis(100)).unwrap();

    // The secrets file alone, replaced by a rename as editors and deploys do.
    let staged = data.path().join(".secrets.toml.new");
    std::fs::write(&staged, "not_mine = \"abcdefg\"\n").unwrap();
    std::fs::rename(&staged, &file).unwrap();
    wait_until_keyed_says(&h, "secret has 7 bytes");

    // Written in place, too.
    std::fs::write(&file, "not_mine = \"abcdefghijk\"\n").unwrap();
    wait_until_keyed_says(&h, "secret has 11 bytes");

    // And the plugin's own config.
    std::fs::write(h.dir.path().join("keyed/plugin.toml"), keyed("ok")).unwrap();
    wait_until_keyed_says(&h, "hostile-ok");
}

#[test]
fn status_serializes_for_the_api() {
    let h = host(&[(&example("checklist"), "checklist", None)]);
    let json = serde_json::to_value(h.registry.status()).unwrap();
    let s = &json[0];
    assert_eq!(s["name"], "checklist");
    assert_eq!(s["status"], "active");
    assert_eq!(s["version"], "0.1.0");
    assert!(s["component_hash"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(s["subscribe"][0], "ticket.created");
    assert_eq!(s["commands"][0], "open");
    assert_eq!(s["capabilities"]["config"][0], "checklists");
    assert_eq!(s["capabilities"]["kv"], false);
    assert_eq!(s["limits"]["instances"], "fresh");
    assert_eq!(s["counters"]["calls"], 0);
    assert!(s.get("last_error").is_none());
}
