//! The `Authorization` header of an authenticated delivery
//! (`send-authenticated`, `escalier:plugin@0.1.2`). The record names the
//! scheme and the secret; the send path resolves the secret's value from
//! the registry's [`crate::Secrets`] just before sending and builds the
//! header here. The value never enters the sandbox, the log or a record.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use escalier_core::event::{AuthScheme, DeliveryAuth};

/// The header name the value goes under.
pub const HEADER: &str = "authorization";

/// The `Authorization` header value for `auth` with the secret's value:
///
/// - `bearer`: `Bearer <secret>`;
/// - `basic`: `Basic base64(<username>:<secret>)` (RFC 7617, UTF-8);
/// - `token`: `Token token=<secret>` (Zammad).
///
/// The result contains the secret: put it in the request only, never in a
/// message, log line or record.
pub fn authorization(auth: &DeliveryAuth, secret_value: &str) -> String {
    match auth.scheme {
        AuthScheme::Bearer => format!("Bearer {secret_value}"),
        AuthScheme::Basic => {
            let username = auth.username.as_deref().unwrap_or_default();
            format!(
                "Basic {}",
                STANDARD.encode(format!("{username}:{secret_value}"))
            )
        }
        AuthScheme::Token => format!("Token token={secret_value}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(scheme: AuthScheme, username: Option<&str>) -> DeliveryAuth {
        DeliveryAuth {
            scheme,
            secret: "api_token".into(),
            username: username.map(str::to_owned),
        }
    }

    #[test]
    fn bearer_puts_the_secret_after_the_scheme() {
        assert_eq!(
            authorization(&auth(AuthScheme::Bearer, None), "s3cr3t"),
            "Bearer s3cr3t"
        );
    }

    #[test]
    fn basic_encodes_username_colon_secret() {
        // Zendesk's API token form: `{email}/token:{token}`, base64.
        let v = authorization(
            &auth(AuthScheme::Basic, Some("agent@acme.com/token")),
            "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv",
        );
        assert_eq!(
            v,
            "Basic YWdlbnRAYWNtZS5jb20vdG9rZW46NndpSUJXYkdrQk1vMW1SRE11VndrdzFFUHNOa2VVajk1UEl6MmFrdg=="
        );
        // RFC 7617's example.
        assert_eq!(
            authorization(&auth(AuthScheme::Basic, Some("Aladdin")), "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        // UTF-8, as RFC 7617's `charset="UTF-8"` has it.
        assert_eq!(
            authorization(&auth(AuthScheme::Basic, Some("test")), "123£"),
            "Basic dGVzdDoxMjPCow=="
        );
    }

    #[test]
    fn token_is_zammads_form() {
        assert_eq!(
            authorization(&auth(AuthScheme::Token, None), "abc123"),
            "Token token=abc123"
        );
    }

    #[test]
    fn every_value_is_a_valid_header_value() {
        for scheme in [AuthScheme::Bearer, AuthScheme::Basic, AuthScheme::Token] {
            let v = authorization(&auth(scheme, Some("a@b.c")), "tok-_.~+/=");
            assert!(http::HeaderValue::from_str(&v).is_ok(), "{v}");
        }
    }

    proptest::proptest! {
        // A fixed seed, as the test command runs every property; nothing
        // written beside the sources.
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x00a0_7e51),
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        /// Whatever the username and token, `Basic` decodes back to
        /// exactly `username:token` and the value is a valid header value.
        #[test]
        fn basic_decodes_to_username_colon_secret(
            username in "[^:\\p{Cc}]{1,64}",
            secret in "[!-~]{1,128}",
        ) {
            let v = authorization(&auth(AuthScheme::Basic, Some(&username)), &secret);
            let encoded = v.strip_prefix("Basic ").unwrap();
            let decoded = STANDARD.decode(encoded).unwrap();
            proptest::prop_assert_eq!(decoded, format!("{username}:{secret}").into_bytes());
            proptest::prop_assert!(http::HeaderValue::from_str(&v).is_ok());
        }
    }
}
