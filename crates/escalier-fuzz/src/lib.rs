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
//! - [`Adapter`]: each shipped adapter component ([`Tool`]: GitHub,
//!   Zendesk, Freshdesk, Jira, Zammad) in the real plugin host, fed
//!   deliveries authenticated as that tool does ([`Auth::Valid`]) and
//!   forged, stale or tampered ones.

use std::path::{Path, PathBuf};

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

/// An adapter shipped in `plugins/`: the source it serves and how the
/// tool authenticates its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
    GitHub,
    /// `X-Zendesk-Webhook-Signature`: base64 HMAC-SHA256 of the timestamp
    /// header then the body; timestamps older than 5 minutes are stale.
    Zendesk,
    /// A shared token in `X-Escalier-Token`, or as the basic-auth password.
    Freshdesk,
    /// `X-Hub-Signature: sha256=<hex>`, delivery id
    /// `X-Atlassian-Webhook-Identifier`.
    Jira,
    /// `X-Hub-Signature: sha1=<hex>`, delivery id `X-Zammad-Delivery`.
    Zammad,
}

/// The arrival time of every delivery (the host's injected clock).
const NOW: &str = "2026-03-02T12:00:00Z";
/// When Zendesk signs: 30 seconds before arrival.
const SIGNED_AT: &str = "2026-03-02T11:59:30Z";
/// Six minutes before arrival: past Zendesk's 5-minute window.
const STALE_AT: &str = "2026-03-02T11:54:00Z";
const OTHER_SECRET: &str = "not the configured secret";

impl Tool {
    pub const ALL: [Tool; 5] = [
        Tool::GitHub,
        Tool::Zendesk,
        Tool::Freshdesk,
        Tool::Jira,
        Tool::Zammad,
    ];

    /// The plugin's directory and the `{source}` of `POST /v1/sources/{source}`.
    pub fn name(self) -> &'static str {
        match self {
            Tool::GitHub => "github",
            Tool::Zendesk => "zendesk",
            Tool::Freshdesk => "freshdesk",
            Tool::Jira => "jira",
            Tool::Zammad => "zammad",
        }
    }

    /// The secret the manifest names, and the value configured here.
    fn secret(self) -> (&'static str, &'static str) {
        match self {
            Tool::GitHub => ("github_webhook_secret", "fuzzing secret"),
            Tool::Zendesk => ("zendesk_webhook_secret", "dGhlIGZ1enppbmcgc2VjcmV0"),
            Tool::Freshdesk => ("freshdesk_webhook_token", "fd-fuzzing-long-random-token"),
            Tool::Jira => ("jira_webhook_secret", "jira fuzzing secret"),
            Tool::Zammad => ("zammad_signature_token", "zammad fuzzing token"),
        }
    }

    /// The forms of [`Auth`] that must be answered 401 for this tool
    /// (Freshdesk signs nothing, so a changed body is no forgery there).
    pub fn forgeries(self) -> &'static [Auth] {
        match self {
            Tool::Zendesk => &[
                Auth::Unsigned,
                Auth::OtherSecret,
                Auth::Tampered,
                Auth::TamperedBody,
                Auth::Stale,
            ],
            Tool::Freshdesk => &[Auth::Unsigned, Auth::OtherSecret, Auth::Tampered],
            _ => &[
                Auth::Unsigned,
                Auth::OtherSecret,
                Auth::Tampered,
                Auth::TamperedBody,
            ],
        }
    }

    /// The request headers of a delivery of `body` (`kind`: GitHub's
    /// `X-GitHub-Event`; ignored by the other tools), and the body sent.
    pub fn request(self, kind: &str, body: &[u8], auth: &Auth) -> (Vec<(String, String)>, Vec<u8>) {
        let secret = match auth {
            Auth::OtherSecret => OTHER_SECRET,
            _ => self.secret().1,
        };
        let at = if *auth == Auth::Stale {
            STALE_AT
        } else {
            SIGNED_AT
        };
        let mut proof = match self {
            Tool::GitHub => format!(
                "sha256={}",
                hex(&mac::<hmac::Hmac<sha2::Sha256>>(secret, &[body]))
            ),
            Tool::Zendesk => base64(&mac::<hmac::Hmac<sha2::Sha256>>(
                secret,
                &[at.as_bytes(), body],
            )),
            Tool::Freshdesk => secret.to_owned(),
            Tool::Jira => format!(
                "sha256={}",
                hex(&mac::<hmac::Hmac<sha2::Sha256>>(secret, &[body]))
            ),
            Tool::Zammad => format!(
                "sha1={}",
                hex(&mac::<hmac::Hmac<sha1::Sha1>>(secret, &[body]))
            ),
        };
        if *auth == Auth::Tampered {
            // One character of the proof changed, staying in its alphabet.
            let last = proof.pop().unwrap_or('a');
            proof.push(if last == '0' { '1' } else { '0' });
        }
        if let Auth::Garbage(g) = auth {
            proof.clone_from(g);
        }
        let proof_header = match self {
            Tool::GitHub => "X-Hub-Signature-256",
            Tool::Zendesk => "X-Zendesk-Webhook-Signature",
            Tool::Freshdesk if *auth == Auth::Basic => "Authorization",
            Tool::Freshdesk => "X-Escalier-Token",
            Tool::Jira | Tool::Zammad => "X-Hub-Signature",
        };
        if *auth == Auth::Basic && self == Tool::Freshdesk {
            proof = format!("Basic {}", base64(format!("escalier:{proof}").as_bytes()));
        }
        let delivery = match self {
            Tool::GitHub => ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            Tool::Zendesk => ("X-Zendesk-Webhook-Id", "01GK8E6BKWMJZD2T8Y5AXJQMG5"),
            Tool::Freshdesk => ("User-Agent", "Freshdesk-Webhook"),
            Tool::Jira => (
                "X-Atlassian-Webhook-Identifier",
                "3f1c2a7e-5b9d-4c8e-a1f0-7d6e5c4b3a21",
            ),
            Tool::Zammad => ("X-Zammad-Delivery", "8c1f7e1a-2b3d-4e5f-9a8b-7c6d5e4f3a2b"),
        };
        let mut headers = vec![("Content-Type", "application/json".to_owned())];
        if self == Tool::GitHub {
            headers.push(("X-GitHub-Event", kind.to_owned()));
        }
        if *auth != Auth::NoDeliveryId {
            headers.push((delivery.0, delivery.1.to_owned()));
        }
        if self == Tool::Zendesk && *auth != Auth::NoTimestamp {
            headers.push(("X-Zendesk-Webhook-Signature-Timestamp", at.to_owned()));
        }
        if *auth != Auth::Unsigned {
            headers.push((proof_header, proof));
        }
        let mut sent = body.to_vec();
        if *auth == Auth::TamperedBody {
            sent.push(b' ');
        }
        let headers = headers
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect();
        (headers, sent)
    }
}

/// How a delivery is authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// As the tool does, with the configured secret.
    Valid,
    /// Freshdesk's other accepted form: basic authentication with the
    /// token as password (elsewhere: a proof in the usual header).
    Basic,
    /// Valid, without the delivery id header.
    NoDeliveryId,
    /// Valid, without Zendesk's timestamp header (elsewhere: valid).
    NoTimestamp,
    /// No signature or token at all.
    Unsigned,
    /// Signed with another secret.
    OtherSecret,
    /// The signature (token) with one character changed.
    Tampered,
    /// Signed, then the body changed.
    TamperedBody,
    /// Signed with a timestamp past the tool's window (Zendesk).
    Stale,
    /// This text as the signature (token).
    Garbage(String),
}

impl Auth {
    /// Whether the tool must answer 401 whatever the body.
    fn forged(&self, tool: Tool) -> bool {
        tool.forgeries().contains(self)
            || matches!(self, Auth::Garbage(_))
            || (tool == Tool::Zendesk && *self == Auth::NoTimestamp)
    }
}

/// The HMAC (`M`: `Hmac<Sha256>`, `Hmac<Sha1>`) of `parts` in turn.
fn mac<M: hmac::Mac + hmac::digest::KeyInit>(key: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <M as hmac::Mac>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What a delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This many events, each valid (202 / 200).
    Events(usize),
    /// Nothing to record: a ping, an unmapped type, an echo (200, `ignored`).
    Ignored,
    /// Refused as not from the tool (401).
    Unauthorized,
    /// Refused as not understood (422, `invalid-input`).
    NotUnderstood,
}

/// A shipped adapter (`plugins/<tool>`, as built by
/// `scripts/build-plugins` into `target/plugins/<tool>`) loaded in the
/// real host, its secret configured, its clock at a fixed instant.
///
/// The properties [`Adapter::deliver`] checks, whatever the body and
/// headers: the outcome is valid events, `ignored`, `unauthorized` or
/// `invalid-input` — never a trap, a timeout or an event the host refuses
/// (a 502); every event decodes again, unchanged, with the strict decoder
/// `POST /v1/events` uses; a properly authenticated delivery is never
/// refused as unauthorized, and a forged, stale or tampered one always is.
pub struct Adapter {
    tool: Tool,
    registry: std::sync::Arc<escalier_plugin::PluginRegistry>,
    _dir: tempfile::TempDir,
}

impl Adapter {
    /// Load `tool`'s built adapter from `plugin_dir` (a directory holding
    /// `plugin.toml` and the component). Panics with a clear message when
    /// it is missing: fuzzing needs the built plugin.
    pub fn open(tool: Tool, plugin_dir: &Path, cache_dir: &Path) -> Adapter {
        let dir = tempfile::tempdir().expect("temporary directory");
        let dest = dir.path().join(tool.name());
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
        let (name, value) = tool.secret();
        config.secrets.insert(name, value);
        config.clock = std::sync::Arc::new(escalier_core::ManualClock::new(
            NOW.parse().expect("a time"),
        ));
        let (registry, report) =
            escalier_plugin::PluginRegistry::open(config).expect("plugin host starts");
        assert!(
            report.failed.is_empty(),
            "the {} adapter failed to load: {:?}",
            tool.name(),
            report.failed
        );
        Adapter {
            tool,
            registry,
            _dir: dir,
        }
    }

    /// `tool`'s adapter built into the repository's `target/plugins/`
    /// (or `$CARGO_TARGET_DIR/plugins/`), compiling into the shared test
    /// cache beside it.
    pub fn built(tool: Tool) -> Adapter {
        let target = target_dir();
        Adapter::open(
            tool,
            &target.join("plugins").join(tool.name()),
            &target.join("plugin-test-cache"),
        )
    }

    pub fn tool(&self) -> Tool {
        self.tool
    }

    /// For libFuzzer: the first byte of `data` picks GitHub's event (its
    /// 2 low bits) and how the delivery is authenticated (the rest: 0 is
    /// a valid signature), the rest of `data` is the body.
    pub fn check(&self, data: &[u8]) -> Outcome {
        const KINDS: [&str; 4] = ["issues", "issue_comment", "ping", "push"];
        let (first, body) = match data.split_first() {
            Some((k, rest)) => (usize::from(*k), rest),
            None => (0, data),
        };
        let forgeries = self.tool.forgeries();
        let auth = match (first / 4) % 16 {
            0..6 => Auth::Valid,
            6 => Auth::Basic,
            7 => Auth::NoDeliveryId,
            8 => Auth::NoTimestamp,
            9 => Auth::Garbage(String::from_utf8_lossy(body).chars().take(64).collect()),
            n => forgeries[n % forgeries.len()].clone(),
        };
        self.deliver(KINDS[first % 4], body, &auth)
    }

    /// Deliver `body` authenticated as `auth` says (`kind`: GitHub's
    /// event) and check the properties above; the outcome.
    pub fn deliver(&self, kind: &str, body: &[u8], auth: &Auth) -> Outcome {
        use escalier_plugin::AdaptError;
        let tool = self.tool.name();
        let outcome = match self.adapt_with(kind, body, auth) {
            Ok(events) if events.is_empty() => Outcome::Ignored,
            Ok(events) => {
                let prefix = format!("{tool}:");
                for ev in &events {
                    assert!(
                        ev.ticket_id.as_str().starts_with(&prefix),
                        "{tool}: ticket id {}",
                        ev.ticket_id.as_str()
                    );
                    let text = serde_json::to_string(ev).expect("events serialize");
                    match Event::decode_one(&text, Origin::External) {
                        Ok(again) => assert_eq!(&again, ev, "{tool}: decoding changed {text}"),
                        Err(r) => panic!("{tool}: the strict decoder refuses {text}: {r}"),
                    }
                }
                if self.tool == Tool::GitHub {
                    assert_eq!(events.len(), 1, "one GitHub delivery maps to one event");
                }
                Outcome::Events(events.len())
            }
            Err(AdaptError::Unauthorized { .. }) => Outcome::Unauthorized,
            Err(AdaptError::NotUnderstood { .. }) => Outcome::NotUnderstood,
            Err(e) => panic!("{tool}: the adapter failed ({}): {e}", e.http_status()),
        };
        if auth.forged(self.tool) {
            assert_eq!(
                outcome,
                Outcome::Unauthorized,
                "{tool}: accepted a delivery authenticated as {auth:?}"
            );
        } else {
            assert_ne!(
                outcome,
                Outcome::Unauthorized,
                "{tool}: refused a delivery authenticated as {auth:?}"
            );
        }
        outcome
    }

    /// Deliver `body` properly authenticated: the number of events it
    /// mapped to (0: ignored or not understood). Checks the properties.
    pub fn check_payload(&self, kind: &str, body: &[u8]) -> usize {
        match self.deliver(kind, body, &Auth::Valid) {
            Outcome::Events(n) => n,
            _ => 0,
        }
    }

    /// Deliver `body` properly authenticated: the events the host
    /// accepted from the adapter, or why not (no checks).
    pub fn adapt(
        &self,
        kind: &str,
        body: &[u8],
    ) -> Result<Vec<Event>, escalier_plugin::AdaptError> {
        self.adapt_with(kind, body, &Auth::Valid)
    }

    fn adapt_with(
        &self,
        kind: &str,
        body: &[u8],
        auth: &Auth,
    ) -> Result<Vec<Event>, escalier_plugin::AdaptError> {
        let (headers, sent) = self.tool.request(kind, body, auth);
        self.registry
            .current()
            .adapt(self.tool.name(), &headers, &sent)
    }
}

/// The repository's target directory (or `$CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}
