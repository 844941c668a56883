//! `delivery.requested`: a plugin asked for an outbound HTTP request.
//!
//! Plugins do not perform I/O while they handle an event. Their requests
//! are recorded as these; the store puts each one in the outbox in the same
//! transaction, and a delivery worker sends it after commit (at least once,
//! with retries). The id is derived from the log position, so a replay
//! asks for the same deliveries with the same ids.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRequested {
    /// `dlv:<seq>.<index>:<plugin>:<n>`: unique, stable across replays, and
    /// the `webhook-id` when the request is signed.
    pub delivery_id: String,
    pub plugin: String,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
    #[serde(default)]
    pub body: String,
    /// Sign per Standard Webhooks with the plugin's signing secret.
    #[serde(default)]
    pub sign: bool,
    /// Add an `Authorization` header from a secret at send time
    /// (`send-authenticated`, since `escalier:plugin@0.1.2`). Names only:
    /// the secret's value is never part of the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<DeliveryAuth>,
}

/// How the delivery worker authenticates a request: the scheme, the
/// *name* of the secret whose value goes into the `Authorization` header,
/// and for `basic` the username. Never the secret's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryAuth {
    pub scheme: AuthScheme,
    /// A secret name from the plugin's `capabilities.http.auth_secrets`.
    pub secret: String,
    /// `basic` only: the username before the `:` (Zendesk `agent@acme.com/token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// The `Authorization` schemes the host can add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthScheme {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `Authorization: Basic base64(<username>:<secret>)`.
    Basic,
    /// `Authorization: Token token=<secret>` (Zammad).
    Token,
}

impl AuthScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Bearer => "bearer",
            AuthScheme::Basic => "basic",
            AuthScheme::Token => "token",
        }
    }
}

impl DeliveryAuth {
    /// Longest `basic` username, in bytes.
    pub const MAX_USERNAME_LEN: usize = 256;

    /// Secret names: lowercase letters, digits, `-` and `_`, 1 to 64
    /// characters (the manifest's rule).
    pub fn valid_secret_name(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        if !Self::valid_secret_name(&self.secret) {
            return Err(Rejection::invalid(
                "auth.secret",
                "must be a secret name: 1 to 64 lowercase letters, digits, `-` or `_`",
            ));
        }
        match (self.scheme, &self.username) {
            (AuthScheme::Basic, None) => Err(Rejection::invalid(
                "auth.username",
                "is required with scheme `basic`",
            )),
            (AuthScheme::Basic, Some(u)) => {
                if u.is_empty() || u.len() > Self::MAX_USERNAME_LEN {
                    return Err(Rejection::invalid(
                        "auth.username",
                        format!("must be 1 to {} bytes", Self::MAX_USERNAME_LEN),
                    ));
                }
                if u.contains(':') || u.chars().any(char::is_control) {
                    return Err(Rejection::invalid(
                        "auth.username",
                        "must not contain `:` or control characters (RFC 7617)",
                    ));
                }
                Ok(())
            }
            (scheme, Some(_)) => Err(Rejection::invalid(
                "auth.username",
                format!(
                    "only scheme `basic` takes a username, not `{}`",
                    scheme.as_str()
                ),
            )),
            (_, None) => Ok(()),
        }
    }
}

impl DeliveryRequested {
    pub const TYPE: &'static str = "delivery.requested";
    /// Largest request body, in bytes.
    pub const MAX_BODY_LEN: usize = 256 * 1024;
    pub const METHODS: &'static [&'static str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        crate::id::validate_id(&self.delivery_id)
            .map_err(|m| Rejection::invalid("delivery_id", format!("delivery id {m}")))?;
        check::name("plugin", &self.plugin)?;
        if !Self::METHODS.contains(&self.method.as_str()) {
            return Err(Rejection::invalid(
                "method",
                format!(
                    "`{}` is not one of {}",
                    self.method,
                    Self::METHODS.join(", ")
                ),
            ));
        }
        check::text("url", &self.url, 2048)?;
        if self.headers.len() > 64 {
            return Err(Rejection::invalid("headers", "at most 64 headers"));
        }
        for (i, h) in self.headers.iter().enumerate() {
            check::text(&format!("headers[{i}].name"), &h.name, 256)?;
            check::text(&format!("headers[{i}].value"), &h.value, 8192)?;
        }
        if let Some(auth) = &self.auth {
            auth.validate()?;
            if self
                .headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("authorization"))
            {
                return Err(Rejection::invalid(
                    "headers",
                    "an `authorization` header and `auth` together: the host adds the header",
                ));
            }
        }
        check::text("body", &self.body, Self::MAX_BODY_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Origin};

    const BASE: &str = r#""delivery_id":"dlv:7.1:zendesk-writeback:0","plugin":"zendesk-writeback","method":"PUT","url":"https://acme.zendesk.com/api/v2/tickets/1.json""#;

    fn decode(extra: &str) -> Result<DeliveryRequested, Rejection> {
        match EventKind::decode(
            DeliveryRequested::TYPE,
            &format!("{{{BASE}{extra}}}"),
            Origin::Internal,
        )? {
            EventKind::DeliveryRequested(d) => Ok(d),
            other => panic!("decoded as {}", other.type_name()),
        }
    }

    #[test]
    fn records_without_auth_read_and_write_as_before() {
        let d = decode("").unwrap();
        assert_eq!(d.auth, None);
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("auth"), "{json}");
    }

    #[test]
    fn auth_keeps_names_only_and_round_trips() {
        let d = decode(
            r#","auth":{"scheme":"basic","secret":"zendesk_api_token","username":"agent@acme.com/token"}"#,
        )
        .unwrap();
        let auth = d.auth.clone().unwrap();
        assert_eq!(auth.scheme, AuthScheme::Basic);
        assert_eq!(auth.secret, "zendesk_api_token");
        assert_eq!(auth.username.as_deref(), Some("agent@acme.com/token"));
        let json = serde_json::to_string(&d).unwrap();
        let back: DeliveryRequested = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        let d = decode(r#","auth":{"scheme":"token","secret":"zammad_token"}"#).unwrap();
        assert_eq!(d.auth.unwrap().scheme, AuthScheme::Token);
    }

    #[test]
    fn bad_auth_is_refused_naming_the_field() {
        let cases = [
            (r#","auth":{"scheme":"digest","secret":"x"}"#, "data"),
            (
                r#","auth":{"scheme":"bearer","secret":"Not A Name"}"#,
                "data.auth.secret",
            ),
            (
                r#","auth":{"scheme":"bearer","secret":""}"#,
                "data.auth.secret",
            ),
            (
                r#","auth":{"scheme":"basic","secret":"t"}"#,
                "data.auth.username",
            ),
            (
                r#","auth":{"scheme":"basic","secret":"t","username":"a:b"}"#,
                "data.auth.username",
            ),
            (
                r#","auth":{"scheme":"bearer","secret":"t","username":"a"}"#,
                "data.auth.username",
            ),
            (
                r#","auth":{"scheme":"bearer","secret":"t"},"headers":[{"name":"Authorization","value":"x"}]"#,
                "data.headers",
            ),
        ];
        for (extra, field) in cases {
            let e = decode(extra).unwrap_err();
            assert!(
                e.to_string().contains(field),
                "{extra}: expected `{field}` in {e}"
            );
        }
        let long = "u".repeat(DeliveryAuth::MAX_USERNAME_LEN + 1);
        let e = decode(&format!(
            r#","auth":{{"scheme":"basic","secret":"t","username":"{long}"}}"#
        ))
        .unwrap_err();
        assert!(e.to_string().contains("auth.username"), "{e}");
    }
}
