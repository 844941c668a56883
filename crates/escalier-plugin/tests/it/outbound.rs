//! Delivering queued requests: the address policy before connecting
//! (DNS rebinding included), the allowlist again at send time, Standard
//! Webhooks signatures, and outcome classification. Servers here listen
//! on 127.0.0.1 only; names are pointed at them by a test resolver.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use escalier_core::event::{DeliveryRequested, Header};
use escalier_plugin::outbound::{AddressPolicy, Resolve};
use escalier_plugin::{DeliveryOutcome, Outbound, OutboundConfig, Secrets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::util::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Every name resolves to 127.0.0.1: a hostile DNS answer.
struct ToLoopback;

impl Resolve for ToLoopback {
    fn resolve<'a>(
        &'a self,
        _host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]) })
    }
}

/// One-shot HTTP servers answering `status` with `extra` headers, keeping
/// the raw requests they received.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn server(status: &'static str, extra: &'static str) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read headers, then Content-Length bytes of body.
            loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
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
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf).to_string());
            let resp = format!(
                "HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n{extra}\r\nok"
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    Server { port, seen }
}

fn plugin_host(port: u16) -> Host {
    let manifest = hostile_manifest(
        "notifier",
        &format!(
            "[capabilities]\nconfig = [\"mode\"]\nhttp = {{ allowed_hosts = [\"http://hooks.example.test:{port}\"], signing_secret = \"signing\" }}\n"
        ),
    );
    let mut secrets = Secrets::none();
    secrets.insert("signing", SECRET);
    host_with(
        &[(&fixture("hostile"), "notifier", Some(&manifest))],
        secrets,
    )
}

fn request(port: u16, sign: bool) -> DeliveryRequested {
    DeliveryRequested {
        delivery_id: "dlv:7.2:notifier:0".into(),
        plugin: "notifier".into(),
        method: "POST".into(),
        url: format!("http://hooks.example.test:{port}/hook?x=1"),
        headers: vec![Header {
            name: "content-type".into(),
            value: "application/json".into(),
        }],
        body: r#"{"text":"hello"}"#.into(),
        sign,
        auth: None,
    }
}

fn outbound(h: &Host, allow_loopback: bool) -> Outbound {
    let config = OutboundConfig {
        address_policy: AddressPolicy {
            allow_private: if allow_loopback {
                vec!["127.0.0.0/8".parse().unwrap()]
            } else {
                vec![]
            },
        },
        resolver: Arc::new(ToLoopback),
        ..OutboundConfig::default()
    };
    Outbound::new(h.registry.clone(), config).unwrap()
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_before_connecting() {
    let srv = server("200 OK", "").await;
    let h = plugin_host(srv.port);
    let outcome = outbound(&h, false).deliver(&request(srv.port, false)).await;
    let DeliveryOutcome::Failed { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("resolves to 127.0.0.1") && reason.contains("loopback"),
        "{reason}"
    );
    assert!(
        srv.seen.lock().unwrap().is_empty(),
        "no connection was made"
    );
}

#[tokio::test]
async fn an_operator_listed_range_is_reached_and_signed_requests_verify() {
    let srv = server("204 No Content", "").await;
    let h = plugin_host(srv.port);
    let outcome = outbound(&h, true).deliver(&request(srv.port, true)).await;
    assert_eq!(outcome, DeliveryOutcome::Delivered { status: 204 });
    let seen = srv.seen.lock().unwrap();
    let req = &seen[0];
    assert!(req.starts_with("POST /hook?x=1 HTTP/1.1\r\n"), "{req}");
    let header = |name: &str| {
        req.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {req}"))
            .to_owned()
    };
    assert_eq!(header("host"), format!("hooks.example.test:{}", srv.port));
    assert_eq!(header("webhook-id"), "dlv:7.2:notifier:0");
    let ts: i64 = header("webhook-timestamp").parse().unwrap();
    let body = req.split("\r\n\r\n").nth(1).unwrap();
    assert_eq!(body, r#"{"text":"hello"}"#);
    assert_eq!(
        header("webhook-signature"),
        escalier_webhook::Secret::parse(SECRET).unwrap().sign(
            "dlv:7.2:notifier:0",
            ts,
            body.as_bytes()
        )
    );
}

#[tokio::test]
async fn statuses_are_classified_for_the_retry_schedule() {
    for (status, extra, want) in [
        ("503 Service Unavailable", "", "retry"),
        ("429 Too Many Requests", "retry-after: 120\r\n", "retry-120"),
        ("404 Not Found", "", "failed"),
        (
            "301 Moved Permanently",
            "location: https://elsewhere.example/\r\n",
            "failed",
        ),
    ] {
        let srv = server(status, extra).await;
        let h = plugin_host(srv.port);
        let got = outbound(&h, true).deliver(&request(srv.port, false)).await;
        match (want, &got) {
            ("retry", DeliveryOutcome::Retry { after: None, .. }) => {}
            ("retry-120", DeliveryOutcome::Retry { after: Some(a), .. }) if a.as_secs() == 120 => {}
            ("failed", DeliveryOutcome::Failed { .. }) => {}
            _ => panic!("{status}: {got:?}"),
        }
    }
}

#[tokio::test]
async fn the_allowlist_is_checked_again_at_send_time() {
    let srv = server("200 OK", "").await;
    let h = plugin_host(srv.port);
    let out = outbound(&h, true);
    let mut other_port = request(srv.port, false);
    other_port.url = format!("http://hooks.example.test:{}/hook", srv.port + 1);
    let DeliveryOutcome::Failed { reason, .. } = out.deliver(&other_port).await else {
        panic!()
    };
    assert!(
        reason.contains("not in capabilities.http.allowed_hosts"),
        "{reason}"
    );
    // The plugin removed before delivery: nothing is sent on its behalf.
    std::fs::remove_dir_all(h.dir.path().join("notifier")).unwrap();
    h.registry.reload();
    let DeliveryOutcome::Failed { reason, .. } = out.deliver(&request(srv.port, false)).await
    else {
        panic!()
    };
    assert!(reason.contains("no longer loaded"), "{reason}");
    assert!(srv.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_host_is_retryable() {
    // Bind then drop: nothing listens on this port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let h = plugin_host(port);
    let got = outbound(&h, true).deliver(&request(port, false)).await;
    assert!(matches!(got, DeliveryOutcome::Retry { .. }), "{got:?}");
}

/// A signing secret that is not `whsec_` base64 of enough bytes is refused
/// when the plugin loads (never silently used as raw bytes), and the error
/// does not repeat the value.
#[test]
fn a_signing_secret_that_cannot_sign_is_refused_at_load() {
    for bad in ["not-a-whsec-secret", "whsec_***", "whsec_c2hvcnQ="] {
        let manifest = hostile_manifest(
            "notifier",
            "[capabilities]\nhttp = { allowed_hosts = [\"https://hooks.example.test\"], signing_secret = \"signing\" }\n",
        );
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), &fixture("hostile"), "notifier", Some(&manifest));
        let mut c = config(dir.path());
        let mut secrets = Secrets::none();
        secrets.insert("signing", bad);
        c.secrets = secrets;
        let (registry, report) = escalier_plugin::PluginRegistry::open(c).unwrap();
        assert!(registry.current().is_empty(), "{bad:?} loaded");
        let message = format!("{:?}", report.failed);
        assert!(message.contains("cannot sign"), "{message}");
        assert!(!message.contains(bad), "the secret leaked: {message}");
    }
}

/// A plugin that declares `auth_secrets`, on loopback (allowed by the
/// operator), with `api_token` set to `value` (or not set).
fn auth_host(
    port: u16,
    value: Option<&str>,
) -> (tempfile::TempDir, Arc<escalier_plugin::PluginRegistry>) {
    let manifest = hostile_manifest(
        "writeback",
        &format!(
            "[capabilities]\nhttp = {{ allowed_hosts = [\"http://127.0.0.1:{port}\"], auth_secrets = [\"api_token\"] }}\n"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    install(
        dir.path(),
        &fixture("hostile"),
        "writeback",
        Some(&manifest),
    );
    let mut c = config(dir.path());
    let mut secrets = Secrets::none();
    if let Some(v) = value {
        secrets.insert("api_token", v);
    }
    c.secrets = secrets;
    c.address_policy = AddressPolicy {
        allow_private: vec!["127.0.0.0/8".parse().unwrap()],
    };
    let (registry, report) = escalier_plugin::PluginRegistry::open(c).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    (dir, registry)
}

fn authenticated(port: u16) -> DeliveryRequested {
    DeliveryRequested {
        delivery_id: "dlv:9.1:writeback:0".into(),
        plugin: "writeback".into(),
        method: "PUT".into(),
        url: format!("http://127.0.0.1:{port}/api/v2/tickets/1.json"),
        headers: vec![Header {
            name: "content-type".into(),
            value: "application/json".into(),
        }],
        body: r#"{"ticket":{"group_id":7}}"#.into(),
        sign: false,
        auth: Some(escalier_core::event::DeliveryAuth {
            scheme: escalier_core::event::AuthScheme::Basic,
            secret: "api_token".into(),
            username: Some("agent@acme.com/token".into()),
        }),
    }
}

fn loopback_outbound(registry: Arc<escalier_plugin::PluginRegistry>) -> Outbound {
    Outbound::new(
        registry,
        OutboundConfig {
            address_policy: AddressPolicy {
                allow_private: vec!["127.0.0.0/8".parse().unwrap()],
            },
            ..OutboundConfig::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn the_host_adds_the_authorization_header_from_the_secret() {
    let srv = server("200 OK", "").await;
    let (_dir, registry) = auth_host(srv.port, Some("t0k3n-value"));
    let got = loopback_outbound(registry)
        .deliver(&authenticated(srv.port))
        .await;
    assert_eq!(got, DeliveryOutcome::Delivered { status: 200 });
    let seen = srv.seen.lock().unwrap();
    // base64("agent@acme.com/token:t0k3n-value")
    assert!(
        seen[0].contains("authorization: Basic YWdlbnRAYWNtZS5jb20vdG9rZW46dDBrM24tdmFsdWU="),
        "{}",
        seen[0]
    );
}

#[tokio::test]
async fn a_missing_auth_secret_fails_without_sending() {
    let srv = server("200 OK", "").await;
    let (_dir, registry) = auth_host(srv.port, None);
    let got = loopback_outbound(registry)
        .deliver(&authenticated(srv.port))
        .await;
    assert_eq!(
        got,
        DeliveryOutcome::failed("secret `api_token` is not set")
    );
    assert!(srv.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_request_with_its_own_authorization_is_refused_and_the_value_never_shows() {
    let srv = server("401 Unauthorized", "").await;
    let (_dir, registry) = auth_host(srv.port, Some("t0k3n-value"));
    let out = loopback_outbound(registry);
    let mut req = authenticated(srv.port);
    req.headers.push(Header {
        name: "Authorization".into(),
        value: "Bearer smuggled".into(),
    });
    let DeliveryOutcome::Failed { reason, .. } = out.deliver(&req).await else {
        panic!("refused")
    };
    assert!(reason.contains("its own Authorization header"), "{reason}");
    assert!(srv.seen.lock().unwrap().is_empty());
    // The receiver refuses the credentials: the failure names the status,
    // never the secret.
    let got = out.deliver(&authenticated(srv.port)).await;
    let DeliveryOutcome::Failed { reason, status, .. } = got else {
        panic!("{got:?}")
    };
    assert_eq!(status, Some(401));
    assert!(
        !reason.contains("t0k3n-value") && !reason.contains("dDBrM24"),
        "{reason}"
    );
}
