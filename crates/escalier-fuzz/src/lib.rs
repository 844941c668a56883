//! Fuzz targets: everything that parses input from outside, driven with
//! arbitrary bytes. Each target asserts the properties that must hold for
//! any input — never panic, and what is accepted round-trips — so a
//! fuzzer finds real bugs, not just crashes.
//!
//! Two drivers call these functions: `fuzz/` (cargo-fuzz, libFuzzer,
//! coverage-guided, for long runs: `scripts/fuzz`), and this crate's tests
//! (proptest, bounded, part of the test command). A crash found by either
//! becomes a regression test in `tests/regressions.rs`.
//!
//! # Layout
//!
//! - [`event_json`]: event bodies as `POST /v1/events` receives them.
//! - [`webhook`]: Standard Webhooks headers and signature verification.
//! - [`policy_source`]: compiling arbitrary policy text.

use escalier_core::event::{Event, Origin};

/// Decode a request body. Accepted events must survive a storage round trip.
pub fn event_json(data: &[u8]) {
    let Ok(events) = Event::decode_body(data, Origin::External) else {
        return;
    };
    assert!(
        !events.is_empty(),
        "an accepted body has at least one event"
    );
    for ev in events {
        let stored = serde_json::to_string(&ev).expect("accepted events serialize");
        let back: Event = serde_json::from_str(&stored).expect("stored events decode");
        assert_eq!(back, ev, "storage round trip changed the event");
    }
}

/// Split `data` into headers and body and verify. Never panics; a
/// signature made with the secret for exactly these bytes always verifies,
/// and flipping any byte of the body makes it fail.
pub fn webhook(data: &[u8]) {
    use escalier_server::webhook::{
        HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Secret, Verifier,
    };
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const NOW: i64 = 1_700_000_000;
    let secret = Secret::parse(SECRET).expect("valid test secret");
    let verifier = Verifier::new(vec![secret.clone()]);

    // Arbitrary headers: must not panic, and must not verify by accident.
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let (id, ts, sig, body) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        (HEADER_ID, id),
        (HEADER_TIMESTAMP, ts),
        (HEADER_SIGNATURE, sig),
    ] {
        if let Ok(v) = http::HeaderValue::from_bytes(value) {
            headers.insert(name, v);
        }
    }
    if let Ok(v) = verifier.verify(&headers, body, NOW) {
        // Only possible if the fuzzer reproduced the HMAC: check it really did.
        let expected = secret.sign(&v.id, v.timestamp, body);
        assert!(
            std::str::from_utf8(sig).is_ok_and(|s| s.split(' ').any(|e| e == expected)),
            "verified without a correct signature"
        );
    }

    // A correct signature over this body verifies; a tampered body does not.
    let id = "msg_fuzz";
    let good = secret.sign(id, NOW, body);
    let mut h = http::HeaderMap::new();
    h.insert(HEADER_ID, http::HeaderValue::from_static("msg_fuzz"));
    h.insert(HEADER_TIMESTAMP, http::HeaderValue::from(NOW));
    if let Ok(v) = http::HeaderValue::from_str(&good) {
        h.insert(HEADER_SIGNATURE, v);
    }
    assert!(
        verifier.verify(&h, body, NOW).is_ok(),
        "a correct signature must verify"
    );
    if !body.is_empty() {
        let mut tampered = body.to_vec();
        tampered[0] ^= 1;
        assert!(
            verifier.verify(&h, &tampered, NOW).is_err(),
            "a tampered body must not verify"
        );
    }
}

/// Compile arbitrary text as a policy: an error or a set, never a panic;
/// errors carry a position inside the text when they have one.
pub fn policy_source(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match escalier_policy::PolicySet::from_sources([("fuzz.rhai", text)]) {
        Ok(set) => assert_eq!(set.len(), 1),
        Err(e) => {
            assert!(!e.diagnostics.is_empty(), "a refusal says why");
            let lines = text.lines().count().max(1) as u32 + 1;
            for d in &e.diagnostics {
                if let Some(l) = d.line {
                    assert!(
                        l <= lines,
                        "diagnostic line {l} outside a {lines}-line file"
                    );
                }
            }
        }
    }
}
