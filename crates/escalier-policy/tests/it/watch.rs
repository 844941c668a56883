//! Hot reload from the file system. No timed assertions: each test waits
//! for the condition it expects, with a generous deadline.

use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant};

use escalier_core::ManualClock;
use escalier_policy::{PolicyLimits, PolicyRegistry, watch};

use crate::util::at;

/// Wait until `cond` holds; false if it never did within a minute.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

fn setup() -> (tempfile::TempDir, Arc<PolicyRegistry>) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("a.rhai"),
        "const ON = [\"ticket.created\"];\ntag(\"a\");\n",
    )
    .unwrap();
    fs::create_dir(dir.path().join("team")).unwrap();
    fs::write(
        dir.path().join("team/b.rhai"),
        "const ON = [\"comment.added\"];\ntag(\"b\");\n",
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(at()));
    let reg = Arc::new(PolicyRegistry::new(dir.path(), PolicyLimits::default(), clock).unwrap());
    (dir, reg)
}

#[test]
fn the_watcher_picks_up_an_edited_file() {
    let (dir, reg) = setup();
    let before = reg.current().version().to_owned();
    let _w = watch(reg.clone(), Duration::from_millis(50)).unwrap();
    fs::write(
        dir.path().join("team/b.rhai"),
        "const ON = [\"comment.added\"];\ntag(\"edited\");\n",
    )
    .unwrap();
    assert!(
        eventually(|| reg.current().version() != before),
        "edit was not picked up"
    );
    assert_eq!(reg.status().reloads.failed, 0);
}

#[test]
fn the_watcher_picks_up_deleted_and_renamed_files() {
    let (dir, reg) = setup();
    let _w = watch(reg.clone(), Duration::from_millis(50)).unwrap();
    fs::remove_file(dir.path().join("a.rhai")).unwrap();
    assert!(
        eventually(|| reg.current().get("a.rhai").is_none()),
        "delete was not picked up"
    );
    fs::rename(dir.path().join("team"), dir.path().join("support")).unwrap();
    assert!(
        eventually(|| reg.current().get("support/b.rhai").is_some()),
        "rename was not picked up"
    );
    assert!(reg.current().get("team/b.rhai").is_none());
}

#[test]
fn a_broken_edit_is_rejected_and_reported() {
    let (dir, reg) = setup();
    let before = reg.current().version().to_owned();
    let _w = watch(reg.clone(), Duration::from_millis(50)).unwrap();
    fs::write(
        dir.path().join("a.rhai"),
        "const ON = [\"ticket.created\"];\ntag(\"a\"\n",
    )
    .unwrap();
    assert!(
        eventually(|| reg.status().last_error.is_some()),
        "broken edit was not reported"
    );
    assert_eq!(reg.current().version(), before);
}
