//! `outbound-http`: requests are checked now (allowlist, address policy,
//! shape) and queued in the call output; nothing is sent during the call.
//! After the call they become `delivery.requested` records, delivered by
//! [`crate::outbound`] after commit.
//!
//! `send-authenticated` (0.1.2) queues the same way with the *name* of an
//! `auth_secrets` secret; the send path adds the `Authorization` header
//! ([`crate::outbound::auth`]), so the secret never enters the sandbox.

use escalier_core::event::{AuthScheme, DeliveryAuth, DeliveryRequested, Header};
use url::Url;

use crate::bindings::escalier::plugin::outbound_http::{Auth, Host, Method, Request};
use crate::bindings::escalier::plugin::types::Error;
use crate::call::{CallKind, CallState};
use crate::outbound::allow::check_allowed;

const MAX_BODY_LEN: usize = DeliveryRequested::MAX_BODY_LEN;

/// Most requests one call may queue.
pub const MAX_REQUESTS_PER_CALL: usize = 16;

/// Headers the host sets itself.
const RESERVED: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

impl CallState {
    fn refuse(&mut self, reason: String) -> Result<String, Error> {
        self.out.denied.push(reason.clone());
        Err(Error::Denied(reason))
    }
}

impl Host for CallState {
    fn send(&mut self, request: Request) -> wasmtime::Result<Result<String, Error>> {
        if self.plugin.capabilities.http.is_none() {
            return Err(self.deny("outbound-http.send: outbound HTTP".into()));
        }
        Ok(self.queue(request, None))
    }

    fn send_authenticated(
        &mut self,
        request: Request,
        auth: Auth,
    ) -> wasmtime::Result<Result<String, Error>> {
        let auth = match auth {
            Auth::Bearer(secret) => DeliveryAuth {
                scheme: AuthScheme::Bearer,
                secret,
                username: None,
            },
            Auth::Basic(b) => DeliveryAuth {
                scheme: AuthScheme::Basic,
                secret: b.secret,
                username: Some(b.username),
            },
            Auth::Token(secret) => DeliveryAuth {
                scheme: AuthScheme::Token,
                secret,
                username: None,
            },
        };
        let declared = (self.plugin.capabilities.http.as_ref())
            .map(|cap| cap.auth_secrets.contains(&auth.secret));
        if declared.is_none() {
            return Err(self.deny("outbound-http.send-authenticated: outbound HTTP".into()));
        }
        if declared == Some(false) {
            // The name comes from the guest: echo it only if it is one.
            let named = if DeliveryAuth::valid_secret_name(&auth.secret) {
                format!("secret `{}`", auth.secret)
            } else {
                format!(
                    "a secret name that is not one ({} bytes)",
                    auth.secret.len()
                )
            };
            return Err(self.deny(format!(
                "outbound-http.send-authenticated: {named} (not in capabilities.http.auth_secrets)"
            )));
        }
        if let Some(u) = &auth.username
            && (u.is_empty()
                || u.len() > DeliveryAuth::MAX_USERNAME_LEN
                || u.contains(':')
                || u.chars().any(char::is_control))
        {
            return Ok(Err(Error::InvalidInput(format!(
                "the basic-auth username must be 1 to {} bytes without `:` or control characters",
                DeliveryAuth::MAX_USERNAME_LEN
            ))));
        }
        if request
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("authorization"))
        {
            return Ok(Err(Error::InvalidInput(
                "send-authenticated adds the `authorization` header itself; do not set one".into(),
            )));
        }
        Ok(self.queue(request, Some(auth)))
    }
}

impl CallState {
    /// The checks `send` and `send-authenticated` share, then the queueing.
    /// The caller has checked that outbound HTTP is granted.
    fn queue(&mut self, request: Request, auth: Option<DeliveryAuth>) -> Result<String, Error> {
        let Some(cap) = self.plugin.capabilities.http.clone() else {
            return Err(Error::Denied("outbound HTTP is not granted".into()));
        };
        let pos = match (self.ctx.kind, self.ctx.pos) {
            (CallKind::Adapter, _) | (_, None) => {
                return Err(Error::Denied(
                    "adapters cannot queue outbound requests: nothing is recorded yet when they run".into(),
                ));
            }
            (_, Some(pos)) => pos,
        };
        if self.out.deliveries.len() >= MAX_REQUESTS_PER_CALL {
            return Err(Error::QuotaExceeded(format!(
                "at most {MAX_REQUESTS_PER_CALL} outbound requests per call"
            )));
        }
        if request.body.len() > MAX_BODY_LEN {
            return Err(Error::QuotaExceeded(format!(
                "the body is {} bytes; at most {MAX_BODY_LEN}",
                request.body.len()
            )));
        }
        let url = match Url::parse(&request.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
            Ok(_) => {
                return Err(Error::InvalidInput(format!(
                    "`{}` is not an http(s) URL",
                    request.url
                )));
            }
            Err(e) => return Err(Error::InvalidInput(format!("`{}`: {e}", request.url))),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::InvalidInput(
                "put credentials in headers, not in the URL".into(),
            ));
        }
        if let Err(reason) = check_allowed(&url, &cap.allowed_hosts) {
            return self.refuse(reason);
        }
        if let Err(reason) = self.plugin.address_policy.check_host(&url) {
            return self.refuse(reason);
        }
        if request.sign && cap.signing_secret.is_none() {
            return self
                .refuse("`sign` needs capabilities.http.signing_secret in the manifest".into());
        }
        let mut headers = Vec::with_capacity(request.headers.len());
        for h in request.headers {
            let name = h.name.to_ascii_lowercase();
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(&h.value).is_err()
            {
                return Err(Error::InvalidInput(format!(
                    "header `{}` is not a valid HTTP header",
                    h.name
                )));
            }
            if RESERVED.contains(&name.as_str()) {
                return Err(Error::InvalidInput(format!(
                    "header `{name}` is set by the host"
                )));
            }
            headers.push(Header {
                name,
                value: h.value,
            });
        }
        let (seq, index) = pos;
        let n = self.out.deliveries.len();
        let delivery_id = format!("dlv:{seq}.{index}:{}:{n}", self.plugin.name);
        let method = match request.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        };
        self.out.deliveries.push(DeliveryRequested {
            delivery_id: delivery_id.clone(),
            plugin: self.plugin.name.clone(),
            method: method.to_owned(),
            url: url.to_string(),
            headers,
            body: request.body,
            sign: request.sign,
            auth,
        });
        Ok(delivery_id)
    }
}
