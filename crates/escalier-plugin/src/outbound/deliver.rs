//! Sending one queued request. In order, before any byte leaves:
//!
//! 1. the plugin must still be loaded and its *current* manifest must
//!    still allow the URL (a reload may have narrowed it);
//! 2. IP literals and `localhost` are checked against the address policy;
//! 3. the host name is resolved and *every* address checked; one
//!    non-public address refuses the delivery (a name that mixes public and
//!    private answers is an attack, not a configuration);
//! 4. the connection goes to the checked addresses only (never resolved
//!    again), TLS via rustls with the `ring` provider and webpki roots,
//!    SNI and certificate checked against the host name;
//! 5. signed per Standard Webhooks if the request asks for it, with the
//!    plugin's signing secret; redirects are not followed.
//!
//! Outcomes: 2xx delivered; 408, 429, 5xx, timeouts and connection errors
//! retryable; other statuses, refusals and bad requests permanent.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use escalier_core::event::DeliveryRequested;
use escalier_core::{Clock, SystemClock};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use url::{Host, Url};

use super::allow::{AddressPolicy, check_allowed};
use crate::registry::PluginRegistry;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered {
        status: u16,
    },
    /// Worth trying again (`after`: the server's `Retry-After`).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Will not succeed by retrying.
    Failed {
        reason: String,
    },
}

/// Name resolution, injectable so tests can point names at local servers.
pub trait Resolve: Send + Sync + 'static {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The system resolver (`getaddrinfo` through tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

#[derive(Clone)]
pub struct OutboundConfig {
    pub connect_timeout: Duration,
    /// The whole attempt: resolve, connect, send, read the status.
    pub request_timeout: Duration,
    /// Same policy as at call time (`HostConfig::address_policy`).
    pub address_policy: AddressPolicy,
    pub user_agent: String,
    pub resolver: Arc<dyn Resolve>,
    /// Source of `webhook-timestamp`.
    pub clock: Arc<dyn Clock>,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            address_policy: AddressPolicy::default(),
            user_agent: concat!("Escalier/", env!("CARGO_PKG_VERSION")).to_owned(),
            resolver: Arc::new(SystemResolver),
            clock: Arc::new(SystemClock),
        }
    }
}

/// The delivery client the outbox worker uses.
pub struct Outbound {
    registry: Arc<PluginRegistry>,
    config: OutboundConfig,
    tls: tokio_rustls::TlsConnector,
}

impl Outbound {
    pub fn new(registry: Arc<PluginRegistry>, config: OutboundConfig) -> Result<Outbound, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Outbound {
            registry,
            config,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
        })
    }

    /// Make one attempt. Never panics; every problem is an outcome.
    pub async fn deliver(&self, req: &DeliveryRequested) -> DeliveryOutcome {
        match tokio::time::timeout(self.config.request_timeout, self.attempt(req)).await {
            Ok(outcome) => outcome,
            Err(_) => DeliveryOutcome::Retry {
                reason: format!("no response within {:?}", self.config.request_timeout),
                after: None,
            },
        }
    }

    async fn attempt(&self, req: &DeliveryRequested) -> DeliveryOutcome {
        let failed = |reason: String| DeliveryOutcome::Failed { reason };
        let set = self.registry.current();
        let Some(plugin) = set.get(&req.plugin) else {
            return failed(format!("plugin `{}` is no longer loaded", req.plugin));
        };
        let Some(cap) = plugin.manifest.capabilities.http.as_ref() else {
            return failed(format!(
                "plugin `{}` no longer has capabilities.http",
                req.plugin
            ));
        };
        let url = match Url::parse(&req.url) {
            Ok(u) => u,
            Err(e) => return failed(format!("bad URL `{}`: {e}", req.url)),
        };
        if let Err(reason) = check_allowed(&url, &cap.allowed_hosts) {
            return failed(reason);
        }
        if let Err(reason) = self.config.address_policy.check_host(&url) {
            return failed(reason);
        }
        let secret = if req.sign {
            match cap
                .signing_secret
                .as_ref()
                .and_then(|n| plugin.ctx.secrets.get(n))
            {
                Some(s) => match escalier_webhook::Secret::parse(s) {
                    Ok(key) => Some(key),
                    // Checked at load; the value is never in the message.
                    Err(e) => return failed(format!("the signing secret cannot sign: {e}")),
                },
                None => {
                    return failed(
                        "signing was asked for but the plugin has no signing secret now".into(),
                    );
                }
            }
        } else {
            None
        };
        let Some(host) = url.host_str().map(str::to_owned) else {
            return failed("the URL has no host".into());
        };
        let port = url.port_or_known_default().unwrap_or(443);

        // Resolve once, check every address, connect only to those.
        let addrs = match url.host() {
            Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            _ => match self.config.resolver.resolve(&host, port).await {
                Ok(a) if !a.is_empty() => a,
                Ok(_) => {
                    return DeliveryOutcome::Retry {
                        reason: format!("`{host}` resolved to no address"),
                        after: None,
                    };
                }
                Err(e) => {
                    return DeliveryOutcome::Retry {
                        reason: format!("cannot resolve `{host}`: {e}"),
                        after: None,
                    };
                }
            },
        };
        for a in &addrs {
            if let Err(reason) = self.config.address_policy.check(a.ip()) {
                return failed(format!("`{host}` resolves to {}: {reason}", a.ip()));
            }
        }
        let stream = match self.connect(&addrs).await {
            Ok(s) => s,
            Err(e) => {
                return DeliveryOutcome::Retry {
                    reason: format!("cannot connect to `{host}`: {e}"),
                    after: None,
                };
            }
        };

        let request = match self.build_request(req, &url, &host, secret.as_ref()) {
            Ok(r) => r,
            Err(reason) => return failed(reason),
        };
        let response = if url.scheme() == "https" {
            let name = match rustls::pki_types::ServerName::try_from(host.clone()) {
                Ok(n) => n,
                Err(e) => return failed(format!("`{host}` is not a TLS server name: {e}")),
            };
            match self.tls.connect(name, stream).await {
                Ok(tls) => send(TokioIo::new(tls), request).await,
                Err(e) => {
                    return DeliveryOutcome::Retry {
                        reason: format!("TLS with `{host}` failed: {e}"),
                        after: None,
                    };
                }
            }
        } else {
            send(TokioIo::new(stream), request).await
        };
        match response {
            Ok((status, retry_after, body)) => classify(status, retry_after, &body),
            Err(e) => DeliveryOutcome::Retry {
                reason: format!("HTTP exchange with `{host}` failed: {e}"),
                after: None,
            },
        }
    }

    async fn connect(&self, addrs: &[SocketAddr]) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for a in addrs {
            match tokio::time::timeout(self.config.connect_timeout, TcpStream::connect(a)).await {
                Ok(Ok(s)) => return Ok(s),
                Ok(Err(e)) => last = e,
                Err(_) => {
                    last =
                        io::Error::new(io::ErrorKind::TimedOut, format!("connect to {a} timed out"))
                }
            }
        }
        Err(last)
    }

    fn build_request(
        &self,
        req: &DeliveryRequested,
        url: &Url,
        host: &str,
        secret: Option<&escalier_webhook::Secret>,
    ) -> Result<http::Request<Full<Bytes>>, String> {
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let mut b = http::Request::builder()
            .method(req.method.as_str())
            .uri(path)
            .header(http::header::HOST, authority)
            .header(http::header::USER_AGENT, &self.config.user_agent);
        for h in &req.headers {
            b = b.header(h.name.as_str(), h.value.as_str());
        }
        if let Some(secret) = secret {
            let ts = self.config.clock.now().as_second();
            for (name, value) in
                escalier_webhook::sign_headers(secret, &req.delivery_id, ts, req.body.as_bytes())
            {
                b = b.header(name, value);
            }
        }
        b.body(Full::new(Bytes::from(req.body.clone())))
            .map_err(|e| format!("cannot build the request: {e}"))
    }
}

type Exchange = (u16, Option<Duration>, Vec<u8>);

async fn send<I>(io: I, request: http::Request<Full<Bytes>>) -> Result<Exchange, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = async {
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Read a little of the body for error messages; drop the rest.
        let body = Limited::new(resp.into_body(), 4096)
            .collect()
            .await
            .map(|c| c.to_bytes().to_vec())
            .unwrap_or_default();
        Ok((status, retry_after, body))
    }
    .await;
    driver.abort();
    result
}

fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> DeliveryOutcome {
    let snippet: String = String::from_utf8_lossy(body).chars().take(200).collect();
    let reason = if snippet.trim().is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", snippet.trim())
    };
    match status {
        200..=299 => DeliveryOutcome::Delivered { status },
        408 | 425 | 429 | 500..=599 => DeliveryOutcome::Retry {
            reason,
            after: retry_after,
        },
        300..=399 => DeliveryOutcome::Failed {
            reason: format!("{reason} (redirects are not followed; allow and use the final URL)"),
        },
        _ => DeliveryOutcome::Failed { reason },
    }
}
