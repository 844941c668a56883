//! The safe client against local one-shot servers: answers classified with
//! the receiver's `Retry-After` (seconds and HTTP-date, on an injected
//! clock) and error body, and names that resolve to a private address
//! refused before connecting.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use escalier_core::{ManualClock, Timestamp};
use escalier_outbox::DeliveryOutcome;
use escalier_outbox::http::{AddressPolicy, Client, ClientConfig, HttpRequest, Resolve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

/// Every name resolves to 127.0.0.1.
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

/// Answers every connection with `head` (status line and headers) and
/// `body`; keeps the raw requests.
async fn server(head: &'static str, body: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
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
                "{head}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (port, seen)
}

fn now() -> Timestamp {
    "2026-10-21T07:28:00Z".parse().unwrap()
}

fn client(allow_loopback: bool) -> Client {
    Client::new(ClientConfig {
        address_policy: AddressPolicy {
            allow_private: if allow_loopback {
                vec!["127.0.0.0/8".parse().unwrap()]
            } else {
                vec![]
            },
        },
        resolver: Arc::new(ToLoopback),
        clock: Arc::new(ManualClock::new(now())),
        ..ClientConfig::default()
    })
    .unwrap()
}

fn put(port: u16) -> HttpRequest {
    HttpRequest {
        method: "PUT".into(),
        url: Url::parse(&format!("http://api.example.test:{port}/tickets/1?x=1")).unwrap(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("authorization".into(), "Bearer s3cr3t".into()),
        ],
        body: br#"{"group_id":7}"#.to_vec(),
    }
}

#[tokio::test]
async fn a_request_goes_out_as_given_and_2xx_is_delivered() {
    let (port, seen) = server("HTTP/1.1 201 Created", "{}").await;
    let got = client(true).send(put(port)).await;
    assert_eq!(got, DeliveryOutcome::Delivered { status: 201 });
    let raw = seen.lock().unwrap()[0].clone();
    assert!(raw.starts_with("PUT /tickets/1?x=1 HTTP/1.1\r\n"), "{raw}");
    assert!(
        raw.contains(&format!("host: api.example.test:{port}")),
        "{raw}"
    );
    assert!(raw.contains("authorization: Bearer s3cr3t"), "{raw}");
    assert!(raw.ends_with(r#"{"group_id":7}"#), "{raw}");
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_measured_on_the_injected_clock() {
    let (port, _) = server(
        "HTTP/1.1 503 Service Unavailable\r\nretry-after: Wed, 21 Oct 2026 07:33:00 GMT",
        "maintenance",
    )
    .await;
    let got = client(true).send(put(port)).await;
    assert_eq!(
        got,
        DeliveryOutcome::Retry {
            reason: "HTTP 503: maintenance".into(),
            after: Some(Duration::from_secs(300)),
            status: Some(503),
        }
    );
    let (port, _) = server("HTTP/1.1 429 Too Many Requests\r\nretry-after: 7", "").await;
    assert!(matches!(
        client(true).send(put(port)).await,
        DeliveryOutcome::Retry { after: Some(a), status: Some(429), .. } if a == Duration::from_secs(7)
    ));
}

#[tokio::test]
async fn a_client_error_fails_with_the_body_and_never_the_credentials() {
    let (port, _) = server(
        "HTTP/1.1 422 Unprocessable Entity",
        r#"{"error":"RecordInvalid","description":"Group is invalid"}"#,
    )
    .await;
    let got = client(true).send(put(port)).await;
    let DeliveryOutcome::Failed {
        reason,
        status,
        body,
    } = got
    else {
        panic!("{got:?}")
    };
    assert_eq!(status, Some(422));
    assert_eq!(
        body.as_deref(),
        Some(r#"{"error":"RecordInvalid","description":"Group is invalid"}"#)
    );
    assert!(!reason.contains("s3cr3t"), "{reason}");
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused_before_connecting() {
    let (port, seen) = server("HTTP/1.1 200 OK", "").await;
    let got = client(false).send(put(port)).await;
    let DeliveryOutcome::Failed { reason, status, .. } = got else {
        panic!("{got:?}")
    };
    assert_eq!(status, None);
    assert!(
        reason.contains("resolves to 127.0.0.1") && reason.contains("loopback"),
        "{reason}"
    );
    let mut literal = put(port);
    literal.url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    assert!(matches!(
        client(false).send(literal).await,
        DeliveryOutcome::Failed { .. }
    ));
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
    // Bad header values are refused by name, never echoing the value.
    let mut bad = put(port);
    bad.headers
        .push(("x-token".into(), "line\nbreak-secret".into()));
    let DeliveryOutcome::Failed { reason, .. } = client(true).send(bad).await else {
        panic!()
    };
    assert!(
        reason.contains("x-token") && !reason.contains("break-secret"),
        "{reason}"
    );
}
