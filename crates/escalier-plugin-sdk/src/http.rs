//! Outbound HTTP to hosts in `capabilities.http.allowed_hosts`. Requests
//! are queued, not sent: the host records them and a delivery worker sends
//! them after commit, retrying with backoff. `send` returns the delivery id.

use crate::Error;
use crate::Header;
use crate::bindings::escalier::plugin::outbound_http::send as host_send;
pub use crate::bindings::escalier::plugin::outbound_http::{Method, Request};

/// Queue a request; returns its delivery id.
pub fn send(request: &Request) -> Result<String, Error> {
    host_send(request)
}

/// Queue a JSON `POST`. `sign` adds Standard Webhooks signature headers
/// with the plugin's `capabilities.http.signing_secret`.
pub fn post_json<T: serde::Serialize>(url: &str, body: &T, sign: bool) -> Result<String, Error> {
    let body = serde_json::to_string(body).map_err(|e| Error::InvalidInput(e.to_string()))?;
    send(&Request {
        method: Method::Post,
        url: url.to_owned(),
        headers: vec![Header {
            name: "content-type".into(),
            value: "application/json".into(),
        }],
        body,
        sign,
    })
}
