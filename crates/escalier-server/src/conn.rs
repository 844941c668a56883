//! Connections: the accept loop and the per-connection limits that
//! `axum::serve` does not offer.
//!
//! - A request head (request line and headers) must arrive whole within
//!   `header_read_timeout` of the connection opening or of the previous
//!   response on it; a silent client, one sending a byte a second, and a
//!   keep-alive connection left idle are all closed when it runs out.
//! - A request head larger than `max_header_bytes` is answered `431`.
//! - At most `max_connections` are open at once; one more is answered
//!   `503` with `Retry-After` and closed at once (or just closed, when 64
//!   such answers are already under way), so idle sockets cannot starve
//!   real clients for longer than the header timeout.
//!
//! hyper's HTTP/1 connection builder enforces the first two (with a tokio
//! timer, which `axum::serve` does not set, leaving hyper's own header
//! timeout inert); the accept loop, the cap and graceful shutdown are
//! here. On shutdown the listener closes, idle connections close, and
//! requests in flight finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Connections over the cap being answered `503` at once.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;

/// Limits on connections, independent of any request.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Time for a whole request head to arrive, counted from the connection
    /// opening or the previous response; also the keep-alive idle timeout.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// Open connections at once.
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_connections: 1024,
        }
    }
}

/// Accept connections on `listener` and serve `app` on each until
/// `shutdown` resolves; then stop accepting and wait for requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Refusals answered at once; past this many, a connection over the cap
    // is closed without an answer, so a flood cannot pile up sockets here.
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather
                    // than spin; the listener itself is still good.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics::counter!("escalier_http_connections_refused_total").increment(1);
            if let Ok(answering) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(answering);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |mut req: http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let conn =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        metrics::gauge!("escalier_http_connections").increment(1.0);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            metrics::gauge!("escalier_http_connections").decrement(1.0);
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Answer a connection over the cap with `503` and close it.
async fn refuse(mut stream: TcpStream) {
    const BODY: &str = r#"{"error":{"code":"too_many_connections","message":"the server has as many connections open as it allows; retry shortly","field":null}}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        BODY.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(BODY.as_bytes()).await?;
        stream.shutdown().await
    };
    if tokio::time::timeout(Duration::from_secs(1), write)
        .await
        .is_err()
    {
        return;
    }
    // Read what the client sent so closing does not reset the connection
    // before it has read the answer.
    let mut sink = [0u8; 4096];
    let drain = async {
        let mut left = 64 * 1024usize;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}
