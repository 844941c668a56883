//! Bounded fuzzing on stable Rust, part of the test command: each target
//! gets arbitrary bytes and mutations of valid inputs. `scripts/fuzz` runs
//! the same targets under libFuzzer for as long as you like.

use proptest::prelude::*;

const EVENT: &str = r#"{"id":"e1","type":"ticket.created","ticket_id":"ZD-1","occurred_at":"2026-03-02T09:00:00Z","data":{"subject":"Refund","requester":{"id":"c1","email":"a@b.example","vip":true},"channel":"social_public","priority":"urgent","tags":["billing"],"fields":{"refund_amount":250}}}"#;
const POLICY: &str = "const ON = [\"ticket.created\"];\nif ticket.vip && ticket.tier < 2 { escalate(2, \"vip\"); }\n";

/// Valid text with a few bytes overwritten, inserted or removed.
fn mutated(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((0usize..seed.len(), any::<u8>(), 0u8..3), 0..6).prop_map(move |edits| {
        let mut b = seed.as_bytes().to_vec();
        for (at, byte, op) in edits {
            let at = at.min(b.len());
            match op {
                0 if at < b.len() => b[at] = byte,
                1 => b.insert(at, byte),
                _ if at < b.len() => {
                    b.remove(at);
                }
                _ => {}
            }
        }
        b
    })
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn event_json_any_bytes(b in bytes()) { escalier_fuzz::event_json(&b) }

    #[test]
    fn event_json_mutated(b in mutated(EVENT)) { escalier_fuzz::event_json(&b) }

    #[test]
    fn event_json_batches(b in prop::collection::vec(mutated(EVENT), 1..4)) {
        let mut body = b"[".to_vec();
        for (i, e) in b.iter().enumerate() {
            if i > 0 { body.push(b','); }
            body.extend_from_slice(e);
        }
        body.push(b']');
        escalier_fuzz::event_json(&body)
    }

    #[test]
    fn webhook_any_bytes(b in bytes()) { escalier_fuzz::webhook(&b) }
}

proptest! {
    // Compiling is slower; fewer cases.
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn policy_source_mutated(b in mutated(POLICY)) { escalier_fuzz::policy_source(&b) }

    #[test]
    fn policy_source_any_text(s in "\\PC{0,200}") { escalier_fuzz::policy_source(s.as_bytes()) }
}
