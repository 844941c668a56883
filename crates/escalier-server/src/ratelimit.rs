//! Per-source rate limits on the write endpoints (webhook ingest, adapter
//! sources, actions on tickets), keyed by the client's address.
//!
//! `governor` implements the limiter (GCRA: a steady rate with a burst
//! allowance, constant memory per key). A client over its rate gets `429`
//! with `Retry-After` and a JSON error; nothing is stored. Off when the
//! configured rate is 0.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::StatusCode;

use crate::ApiError;

/// The limiter shared by the write endpoints.
#[derive(Clone)]
pub struct Limiter {
    inner: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

impl Limiter {
    /// `per_second` requests per client address, bursts up to `burst`; 0 disables.
    pub fn new(per_second: u32, burst: u32) -> Limiter {
        let inner = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
            Arc::new(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            ))
        });
        Limiter { inner }
    }

    pub fn disabled() -> Limiter {
        Limiter { inner: None }
    }

    /// Forget idle clients (call now and then; keeps memory bounded).
    pub fn shrink(&self) {
        if let Some(l) = &self.inner {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

pub async fn limit(
    State(limiter): State<Limiter>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(l) = &limiter.inner else {
        return Ok(next.run(req).await);
    };
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match l.check_key(&ip) {
        Ok(()) => Ok(next.run(req).await),
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            metrics::counter!("escalier_rate_limited_total").increment(1);
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests from {ip}; nothing was stored, retry after the delay"),
            );
            e.retry_after = Some(u32::try_from(wait.as_secs() + 1).unwrap_or(u32::MAX));
            Err(e)
        }
    }
}
