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
//! - [`plugin_manifest`]: parsing and validating `plugin.toml`.
//! - [`GitHubAdapter`]: the shipped GitHub adapter component, run in the
//!   real plugin host, mapping signed payloads to events.

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
            // Rhai ends a comment at a lone `\r` and counts a line there
            // (as editors that honour old Mac line endings do), so every
            // line break of either kind may count.
            let breaks = text
                .char_indices()
                .filter(|&(i, c)| {
                    c == '\n' || (c == '\r' && text.as_bytes().get(i + 1) != Some(&b'\n'))
                })
                .count();
            let lines = breaks as u32 + 2;
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

/// Parse arbitrary text as a `plugin.toml`: a validated manifest or an
/// error naming a line inside the text, never a panic.
pub fn plugin_manifest(data: &[u8]) {
    use escalier_plugin::manifest::{MAX_TIME_MS, Manifest};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Manifest::parse(text, std::path::Path::new("fuzz/plugin.toml")) {
        Ok(m) => {
            assert!(!m.name.is_empty(), "an accepted manifest has a name");
            // Credentials the host adds go only to exact origins, and the
            // plugin can never read them.
            if let Some(h) = &m.capabilities.http
                && !h.auth_secrets.is_empty()
            {
                assert!(
                    h.allowed_hosts.iter().all(|p| !p.host.starts_with("*.")),
                    "a wildcard accepted beside auth_secrets"
                );
                assert!(
                    h.auth_secrets
                        .iter()
                        .all(|s| !m.capabilities.secrets.contains(s)),
                    "an auth secret the plugin could read accepted"
                );
            }
            assert!(
                (1..=MAX_TIME_MS).contains(&m.limits.time_ms),
                "time limit {} accepted",
                m.limits.time_ms
            );
        }
        Err(e) => {
            assert!(!e.message.is_empty(), "a refusal says why");
            let lines = text.lines().count().max(1) + 1;
            if let Some(l) = e.line {
                assert!(
                    (1..=lines).contains(&l),
                    "error line {l} outside a {lines}-line file"
                );
            }
        }
    }
}

/// The GitHub adapter plugin (`plugins/github`, as built by
/// `scripts/build-plugins` into `target/plugins/github`) loaded in the
/// real host. Payloads are signed with the configured secret, so the
/// fuzzer gets past signature checking into the payload mapping.
///
/// The property: whatever the payload, the adapter returns valid Escalier
/// events or says it did not understand the payload. A trap, a timeout or
/// an event the host refuses is a bug in the adapter.
pub struct GitHubAdapter {
    registry: std::sync::Arc<escalier_plugin::PluginRegistry>,
    _dir: tempfile::TempDir,
}

const GITHUB_SECRET: &str = "fuzzing secret";

impl GitHubAdapter {
    /// Load the built adapter from `plugin_dir` (a directory holding
    /// `plugin.toml` and the component). Panics with a clear message when
    /// it is missing: fuzzing needs the built plugin.
    pub fn open(plugin_dir: &std::path::Path, cache_dir: &std::path::Path) -> GitHubAdapter {
        let dir = tempfile::tempdir().expect("temporary directory");
        let dest = dir.path().join("github");
        std::fs::create_dir_all(&dest).expect("plugin directory");
        let entries = std::fs::read_dir(plugin_dir).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build the plugins first with `scripts/build-plugins`",
                plugin_dir.display()
            )
        });
        for entry in entries {
            let entry = entry.expect("plugin directory entry");
            let name = entry.file_name();
            let mut bytes = std::fs::read(entry.path()).expect("plugin file");
            if name == "plugin.toml" {
                // Generous time: a debug host under a parallel test run is
                // slow, and a timeout must mean a loop, not a busy machine.
                let text = String::from_utf8(bytes).expect("manifest is UTF-8");
                // The shipped manifest is disabled until a secret is
                // configured; here it is.
                bytes = text
                    .lines()
                    .filter(|l| !l.starts_with("enabled =") && !l.starts_with("disabled_reason ="))
                    .map(|l| {
                        if l.starts_with("time_ms") {
                            "time_ms = 10000"
                        } else {
                            l
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes();
            }
            std::fs::write(dest.join(name), bytes).expect("copy plugin file");
        }
        let mut config = escalier_plugin::HostConfig::new(dir.path());
        config.cache_dir = Some(cache_dir.to_owned());
        config
            .secrets
            .insert("github_webhook_secret", GITHUB_SECRET);
        let (registry, report) =
            escalier_plugin::PluginRegistry::open(config).expect("plugin host starts");
        assert!(
            report.failed.is_empty(),
            "the GitHub adapter failed to load: {:?}",
            report.failed
        );
        GitHubAdapter {
            registry,
            _dir: dir,
        }
    }

    /// `data`: the first byte picks the `X-GitHub-Event` header, the rest
    /// is the body.
    pub fn check(&self, data: &[u8]) {
        let (kind, body) = match data.split_first() {
            Some((k, rest)) => (
                ["issues", "issue_comment", "ping", "push"][usize::from(*k) % 4],
                rest,
            ),
            None => ("issues", data),
        };
        self.check_payload(kind, body);
    }

    /// The adapter built into the repository's `target/plugins/github`
    /// (or `$CARGO_TARGET_DIR/plugins/github`), compiling into the shared
    /// test cache beside it.
    pub fn built() -> GitHubAdapter {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
            });
        GitHubAdapter::open(
            &target.join("plugins/github"),
            &target.join("plugin-test-cache"),
        )
    }

    /// Sign `body`, deliver it as GitHub event `kind`, check the outcome;
    /// the number of events it mapped to (0 when refused as not understood).
    pub fn check_payload(&self, kind: &str, body: &[u8]) -> usize {
        use escalier_plugin::AdaptError;
        match self.adapt(kind, body) {
            Ok(events) => {
                assert!(events.len() <= 1, "one delivery maps to at most one event");
                for ev in &events {
                    assert!(
                        ev.ticket_id.as_str().starts_with("github:"),
                        "ticket id {}",
                        ev.ticket_id.as_str()
                    );
                }
                events.len()
            }
            Err(AdaptError::NotUnderstood { .. }) => 0,
            Err(e) => panic!("the adapter failed on a signed payload: {e}"),
        }
    }

    /// Sign `body` and deliver it as GitHub event `kind`: the events the
    /// host accepted from the adapter, or why not.
    pub fn adapt(
        &self,
        kind: &str,
        body: &[u8],
    ) -> Result<Vec<Event>, escalier_plugin::AdaptError> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(GITHUB_SECRET.as_bytes())
            .expect("HMAC takes any key");
        mac.update(body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let headers = [
            ("X-GitHub-Event", kind),
            ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", &format!("sha256={hex}")),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()));
        self.registry.current().adapt("github", &headers, body)
    }
}
