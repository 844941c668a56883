//! Outbound HTTP to hosts in `capabilities.http.allowed_hosts`. Requests
//! are queued, not sent: the host records them and a delivery worker sends
//! them after commit, retrying with backoff. `send` returns the delivery id.
//!
//! # Authenticated requests (`escalier:plugin@0.1.2`)
//!
//! A plugin that calls an API with a token (a help desk's REST API) never
//! holds the token: the manifest lists the secret under
//! `capabilities.http.auth_secrets`, the plugin names it in an [`Auth`],
//! and the host adds the `Authorization` header when it sends the request.
//! The plugin cannot read, log or leak the value, and the recorded
//! `delivery.requested` keeps only the scheme, the secret's name and the
//! username.
//!
//! ```toml
//! [capabilities.http]
//! allowed_hosts = ["https://acme.zendesk.com"]   # exact origins: no `*.` with auth_secrets
//! auth_secrets = ["zendesk_api_token"]           # not also in capabilities.secrets
//! ```
//!
//! ```ignore
//! use escalier_plugin_sdk::http::{self, Auth, Method};
//!
//! let auth = Auth::basic("agent@acme.com/token", "zendesk_api_token");
//! let body = serde_json::json!({"ticket": {"priority": "urgent"}});
//! let request = http::json_request(Method::Put, "https://acme.zendesk.com/api/v2/tickets/42.json", &body)?;
//! let delivery_id = http::send_authenticated(&request, &auth)?;
//! ```
//!
//! Naming a secret the manifest does not list in `auth_secrets` traps (the
//! call is abandoned and recorded as `plugin.error`, `capability_denied`).
//! A request that sets its own `Authorization` header is `invalid-input`.
//! A secret the operator has not set fails the delivery when it is sent
//! (`delivery.failed`), not the call.

use crate::Error;
use crate::Header;
use crate::bindings::escalier::plugin::outbound_http as wit;
pub use crate::bindings::escalier::plugin::outbound_http::{Method, Request};

/// Queue a request; returns its delivery id.
pub fn send(request: &Request) -> Result<String, Error> {
    wit::send(request)
}

/// How the host authenticates a request, naming a secret from
/// `capabilities.http.auth_secrets` (the name, never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <secret>`.
    Bearer { secret: String },
    /// `Authorization: Basic base64(<username>:<secret>)`: Zendesk
    /// (`username` = `agent@acme.com/token`), Jira (`username` = the
    /// account's email). The username must not contain `:`.
    Basic { username: String, secret: String },
    /// `Authorization: Token token=<secret>` (Zammad).
    Token { secret: String },
}

impl Auth {
    /// `Bearer` with the secret named `secret`.
    pub fn bearer(secret: impl Into<String>) -> Auth {
        Auth::Bearer {
            secret: secret.into(),
        }
    }

    /// `Basic` with `username` and the secret named `secret` as password.
    pub fn basic(username: impl Into<String>, secret: impl Into<String>) -> Auth {
        Auth::Basic {
            username: username.into(),
            secret: secret.into(),
        }
    }

    /// `Token token=` with the secret named `secret`.
    pub fn token(secret: impl Into<String>) -> Auth {
        Auth::Token {
            secret: secret.into(),
        }
    }

    /// The name of the secret this refers to.
    pub fn secret(&self) -> &str {
        match self {
            Auth::Bearer { secret } | Auth::Basic { secret, .. } | Auth::Token { secret } => secret,
        }
    }

    fn to_wit(&self) -> wit::Auth {
        match self {
            Auth::Bearer { secret } => wit::Auth::Bearer(secret.clone()),
            Auth::Basic { username, secret } => wit::Auth::Basic(wit::BasicAuth {
                username: username.clone(),
                secret: secret.clone(),
            }),
            Auth::Token { secret } => wit::Auth::Token(secret.clone()),
        }
    }
}

/// Queue `request` with an `Authorization` header the host adds at send
/// time from the secret `auth` names; returns the delivery id. The request
/// must not set `Authorization` itself (`invalid-input`); a secret not in
/// `capabilities.http.auth_secrets` traps. Otherwise as [`send`].
pub fn send_authenticated(request: &Request, auth: &Auth) -> Result<String, Error> {
    wit::send_authenticated(request, &auth.to_wit())
}

/// A request with `body` as JSON (`content-type` and `accept`
/// `application/json`), unsigned. Add headers to it before sending if the
/// API wants more.
pub fn json_request<T: serde::Serialize>(
    method: Method,
    url: &str,
    body: &T,
) -> Result<Request, Error> {
    let body = serde_json::to_string(body).map_err(|e| Error::InvalidInput(e.to_string()))?;
    Ok(Request {
        method,
        url: url.to_owned(),
        headers: vec![
            Header {
                name: "content-type".into(),
                value: "application/json".into(),
            },
            Header {
                name: "accept".into(),
                value: "application/json".into(),
            },
        ],
        body,
        sign: false,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_names_the_secret_and_maps_to_the_wit_variant() {
        let a = Auth::basic("agent@acme.com/token", "zendesk_api_token");
        assert_eq!(a.secret(), "zendesk_api_token");
        match a.to_wit() {
            wit::Auth::Basic(b) => {
                assert_eq!(b.username, "agent@acme.com/token");
                assert_eq!(b.secret, "zendesk_api_token");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(Auth::bearer("t").to_wit(), wit::Auth::Bearer(s) if s == "t"));
        assert!(matches!(Auth::token("z").to_wit(), wit::Auth::Token(s) if s == "z"));
    }

    #[test]
    fn json_request_sets_the_json_headers_and_no_authorization() {
        let r = json_request(
            Method::Put,
            "https://acme.zendesk.com/api/v2/tickets/1.json",
            &serde_json::json!({"ticket": {"priority": "high"}}),
        )
        .unwrap();
        assert_eq!(r.body, r#"{"ticket":{"priority":"high"}}"#);
        assert!(!r.sign);
        let names: Vec<_> = r.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["content-type", "accept"]);
    }
}
