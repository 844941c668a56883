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
