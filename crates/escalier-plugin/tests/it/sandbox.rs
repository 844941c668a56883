//! Deny by default: what a guest gets when it reaches for the
//! filesystem, environment, clocks and randomness through WASI.

use crate::util::*;

const CAPS: &str = "[capabilities]\nconfig = [\"mode\"]\n";

fn note_for(body: &str) -> String {
    note_with(CAPS, body)
}

fn note_with(caps: &str, body: &str) -> String {
    let h = host(&[(
        &fixture("hostile"),
        "hostile",
        Some(&hostile_manifest("hostile", caps)),
    )]);
    let mut run = Run::new(h.set());
    run.create();
    let out = run.send("comment.added", &comment("agent", body), at(5));
    let notes = of_type(&out, "action.note");
    assert_eq!(notes.len(), 1, "{:#?}", summary(&out));
    data(notes[0])["text"].as_str().unwrap().to_owned()
}

#[test]
fn a_guest_reading_files_finds_no_filesystem() {
    let note = note_for("file");
    assert!(note.starts_with("file error:"), "{note}");
    assert!(note.contains("; dir error:"), "{note}");
}

#[test]
fn a_guest_reading_the_environment_finds_it_empty() {
    assert_eq!(note_for("env"), "env 0 vars []; 0 args");
}

#[test]
fn a_guest_reading_the_wall_clock_sees_record_time_and_a_stopped_monotonic_clock() {
    let note = note_for("clock");
    let record_ms = at(5).as_millisecond();
    assert!(
        note.starts_with(&format!("wall {record_ms};")),
        "{note} (record time {record_ms})"
    );
    assert!(note.contains("monotonic elapsed 0 ns"), "{note}");
}

#[test]
fn without_the_clock_capability_the_wall_clock_reads_the_epoch() {
    let note = note_with(
        "[capabilities]\nclock = false\nconfig = [\"mode\"]\n",
        "clock",
    );
    assert!(note.starts_with("wall 0;"), "{note}");
    assert!(note.contains("monotonic elapsed 0 ns"), "{note}");
}

#[test]
fn randomness_is_reproducible_for_the_same_record() {
    let first = note_for("random");
    let again = note_for("random");
    assert_eq!(first, again, "a replay draws the same numbers");
}
