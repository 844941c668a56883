//! The safe HTTP client every outbox delivery goes through. In order,
//! before any byte leaves:
//!
//! 1. IP literals and `localhost` are checked against the [`AddressPolicy`]
//!    (no loopback, private, link-local, unspecified or other non-public
//!    addresses unless the operator lists them);
//! 2. the host name is resolved once and *every* address checked; one
//!    non-public address refuses the delivery (a name that mixes public and
//!    private answers is an attack, not a configuration);
//! 3. the connection goes to the checked addresses only (never resolved
//!    again, so DNS rebinding cannot reach a private service — Spin's
//!    CVE-2024-32980, "http://self" reaching the host itself, is the
//!    lesson), TLS via rustls with the `ring` provider and webpki roots,
//!    SNI and certificate checked against the host name;
//! 4. the whole attempt is bounded by timeouts; redirects are not followed.
//!
//! The answer is classified by [`crate::classify`]; timeouts and
//! connection errors are retryable, refusals and bad requests permanent.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use escalier_core::{Clock, SystemClock};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use ipnet::IpNet;
use tokio::net::TcpStream;
use url::{Host, Url};

use crate::DeliveryOutcome;

/// Operator-level address policy: non-public addresses are refused unless
/// listed here (`outbound.allow_private = ["10.1.0.0/16"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_private: Vec<IpNet>,
}

impl AddressPolicy {
    /// `Err` with the reason if `ip` may not be contacted.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        match non_public(ip) {
            None => Ok(()),
            Some(_) if self.allow_private.iter().any(|n| n.contains(&ip)) => Ok(()),
            Some(kind) => Err(format!(
                "{ip} is a {kind} address; outbound requests go only to public addresses unless the operator lists it in outbound.allow_private"
            )),
        }
    }

    /// Check a URL's host before any resolution: IP literals and names
    /// that always mean this machine (`localhost`).
    pub fn check_host(&self, url: &Url) -> Result<(), String> {
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check(IpAddr::V6(ip)),
            Some(Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if d == "localhost" || d.ends_with(".localhost") {
                    self.check(IpAddr::V4(Ipv4Addr::LOCALHOST))
                } else {
                    Ok(())
                }
            }
            None => Err("the URL has no host".into()),
        }
    }
}

/// What kind of non-public address `ip` is, if it is one.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public_v4(v4);
            }
            let seg = v6.segments();
            // NAT64 (64:ff9b::/96) reaches IPv4 space: judge the IPv4 part.
            if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
                let v4 = Ipv4Addr::new(
                    (seg[6] >> 8) as u8,
                    seg[6] as u8,
                    (seg[7] >> 8) as u8,
                    seg[7] as u8,
                );
                return non_public_v4(v4);
            }
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if seg[0] & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if seg[0] & 0xffc0 == 0xfe80 || seg[0] & 0xffc0 == 0xfec0 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
                Some("documentation")
            } else if seg[0..6] == [0, 0, 0, 0, 0, 0] {
                // IPv4-compatible (deprecated) addresses.
                Some("reserved")
            } else {
                None
            }
        }
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_broadcast() || o[0] >= 240 {
        Some("reserved")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_documentation()
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
    {
        Some("reserved")
    } else {
        None
    }
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

/// How the client connects and how long it waits.
#[derive(Clone)]
pub struct ClientConfig {
    pub connect_timeout: Duration,
    /// The whole attempt: resolve, connect, send, read the answer.
    pub request_timeout: Duration,
    pub address_policy: AddressPolicy,
    pub user_agent: String,
    pub resolver: Arc<dyn Resolve>,
    /// Turns an HTTP-date `Retry-After` into a delay.
    pub clock: Arc<dyn Clock>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            address_policy: AddressPolicy::default(),
            user_agent: concat!("Escalier/", env!("CARGO_PKG_VERSION")).to_owned(),
            resolver: Arc::new(SystemResolver),
            clock: Arc::new(SystemClock),
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("address_policy", &self.address_policy)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

/// One request to send. Header values may hold credentials: the client
/// never puts headers or the body in an outcome's reason.
#[derive(Clone)]
pub struct HttpRequest {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The client. Cheap to share (`Arc`); one per process is enough.
pub struct Client {
    config: ClientConfig,
    tls: tokio_rustls::TlsConnector,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Client {
            config,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Check a URL before anything is queued or signed: scheme, host, and
    /// IP literals / `localhost` against the address policy.
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(format!("scheme `{}` is not http or https", url.scheme()));
        }
        self.config.address_policy.check_host(url)
    }

    /// Make one attempt. Never panics; every problem is an outcome.
    pub async fn send(&self, req: HttpRequest) -> DeliveryOutcome {
        match tokio::time::timeout(self.config.request_timeout, self.attempt(req)).await {
            Ok(outcome) => outcome,
            Err(_) => DeliveryOutcome::retry(format!(
                "no response within {:?}",
                self.config.request_timeout
            )),
        }
    }

    async fn attempt(&self, req: HttpRequest) -> DeliveryOutcome {
        let url = &req.url;
        if let Err(reason) = self.check_url(url) {
            return DeliveryOutcome::failed(reason);
        }
        let Some(host) = url.host_str().map(str::to_owned) else {
            return DeliveryOutcome::failed("the URL has no host");
        };
        let port = url.port_or_known_default().unwrap_or(443);

        // Resolve once, check every address, connect only to those.
        let addrs = match url.host() {
            Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            _ => match self.config.resolver.resolve(&host, port).await {
                Ok(a) if !a.is_empty() => a,
                Ok(_) => {
                    return DeliveryOutcome::retry(format!("`{host}` resolved to no address"));
                }
                Err(e) => return DeliveryOutcome::retry(format!("cannot resolve `{host}`: {e}")),
            },
        };
        for a in &addrs {
            if let Err(reason) = self.config.address_policy.check(a.ip()) {
                return DeliveryOutcome::failed(format!(
                    "`{host}` resolves to {}: {reason}",
                    a.ip()
                ));
            }
        }
        let stream = match self.connect(&addrs).await {
            Ok(s) => s,
            Err(e) => return DeliveryOutcome::retry(format!("cannot connect to `{host}`: {e}")),
        };

        let request = match self.build_request(&req, &host) {
            Ok(r) => r,
            Err(reason) => return DeliveryOutcome::failed(reason),
        };
        let response = if url.scheme() == "https" {
            let name = match rustls::pki_types::ServerName::try_from(host.clone()) {
                Ok(n) => n,
                Err(e) => {
                    return DeliveryOutcome::failed(format!(
                        "`{host}` is not a TLS server name: {e}"
                    ));
                }
            };
            match self.tls.connect(name, stream).await {
                Ok(tls) => exchange(TokioIo::new(tls), request).await,
                Err(e) => return DeliveryOutcome::retry(format!("TLS with `{host}` failed: {e}")),
            }
        } else {
            exchange(TokioIo::new(stream), request).await
        };
        match response {
            Ok((status, headers, body)) => {
                crate::classify(status, &headers, &body, self.config.clock.now())
            }
            Err(e) => DeliveryOutcome::retry(format!("HTTP exchange with `{host}` failed: {e}")),
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
        req: &HttpRequest,
        host: &str,
    ) -> Result<http::Request<Full<Bytes>>, String> {
        let url = &req.url;
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let method = http::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| format!("`{}` is not an HTTP method", req.method))?;
        let mut b = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, authority)
            .header(http::header::USER_AGENT, &self.config.user_agent);
        for (name, value) in &req.headers {
            // Checked one by one so the message names the header, never its value.
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a valid header name"))?;
            let value = http::HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header `{name}` is not valid"))?;
            b = b.header(name, value);
        }
        b.body(Full::new(Bytes::from(req.body.clone())))
            .map_err(|_| "cannot build the request".to_owned())
    }
}

type Exchange = (u16, http::HeaderMap, Vec<u8>);

/// Most bytes of an answer's body read (the rest is dropped).
const READ_BODY: usize = 4096;

async fn exchange<I>(io: I, request: http::Request<Full<Bytes>>) -> Result<Exchange, String>
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
        let headers = resp.headers().clone();
        // Read a little of the body for error messages; drop the rest.
        let body = Limited::new(resp.into_body(), READ_BODY)
            .collect()
            .await
            .map(|c| c.to_bytes().to_vec())
            .unwrap_or_default();
        Ok((status, headers, body))
    }
    .await;
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn non_public_addresses_are_refused_unless_listed() {
        let policy = AddressPolicy::default();
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(policy.check(bad.parse().unwrap()).is_err(), "{bad}");
        }
        for ok in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "1.1.1.1",
        ] {
            assert!(policy.check(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        let open = AddressPolicy {
            allow_private: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert!(open.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(open.check("10.0.0.1".parse().unwrap()).is_err());
    }

    #[test]
    fn localhost_names_count_as_loopback_before_resolution() {
        let policy = AddressPolicy::default();
        assert!(policy.check_host(&url("http://localhost:8080/")).is_err());
        assert!(policy.check_host(&url("http://api.localhost/")).is_err());
        assert!(policy.check_host(&url("http://[::1]/")).is_err());
        assert!(policy.check_host(&url("https://hooks.slack.com/")).is_ok());
    }
}
