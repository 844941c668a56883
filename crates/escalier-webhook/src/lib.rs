//! Standard Webhooks signing and verification
//! (<https://www.standardwebhooks.com>), the one implementation Escalier
//! uses for signed ingest (`POST /v1/events`), signed outbound deliveries
//! and `escalier sign` / `escalier send`.
//!
//! A request carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature` (space-separated `v1,<base64>` entries). The signed
//! content is `{id}.{timestamp}.{body}`, HMAC-SHA256 with the key that the
//! `whsec_<base64>` secret encodes. A request passes if any entry matches
//! any configured secret (several secrets allow rotation without downtime).
//!
//! Written here rather than taken from the `standardwebhooks` crate because
//! we need several secrets per check without re-parsing, an injected time
//! for tests, non-UTF-8 bodies, and errors that name the header at fault.
//! The tests cross-check against that crate.
//!
//! Pitfalls handled on purpose: each candidate is decoded and compared at
//! full length in constant time (`Mac::verify_slice`), so an empty or
//! truncated signature never matches a prefix; unknown versions are
//! ignored rather than trusted; timestamps are checked both ways. The
//! signed content uses the raw `webhook-timestamp` header, so only the
//! canonical form (ASCII digits, no sign, no spaces, no leading zero) is
//! accepted: a lenient parse would verify a string other than the one the
//! sender signed. Each of the three headers must appear exactly once.
//! Secrets must be `whsec_` base64 of at least 24 bytes, checked when they
//! are loaded, never at first use.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// Accepted distance between the sender's timestamp and ours.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// A signing secret: the key bytes of a `whsec_` secret.
#[derive(Clone)]
pub struct Secret {
    key: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "webhook secrets start with `whsec_` followed by base64 (e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw)"
    )]
    MissingPrefix,
    #[error("the part after `whsec_` is not valid base64")]
    NotBase64,
    #[error("the key is {0} bytes; use at least 24 random bytes")]
    TooShort(usize),
}

impl Secret {
    /// Parse `whsec_<base64>`.
    pub fn parse(s: &str) -> Result<Secret, SecretError> {
        let b64 = s
            .trim()
            .strip_prefix("whsec_")
            .ok_or(SecretError::MissingPrefix)?;
        let key = B64.decode(b64).map_err(|_| SecretError::NotBase64)?;
        if key.len() < 24 {
            return Err(SecretError::TooShort(key.len()));
        }
        Ok(Secret { key })
    }

    /// A fresh random secret, as `whsec_` text, from 32 bytes of OS randomness.
    pub fn generate(random: [u8; 32]) -> String {
        format!("whsec_{}", B64.encode(random))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        HmacSha256::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    /// `v1,<base64>` for a message: what senders put in `webhook-signature`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        feed(&mut mac, id, timestamp, body);
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

fn feed(mac: &mut HmacSha256, id: &str, timestamp: i64, body: &[u8]) {
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
}

/// Why a request's signature was refused. All map to 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header `{0}`; sign requests per Standard Webhooks")]
    MissingHeader(&'static str),
    #[error("header `{0}` is not valid")]
    InvalidHeader(&'static str),
    #[error("header `{0}` appears more than once; send it exactly once")]
    Repeated(&'static str),
    #[error(
        "`webhook-timestamp` must be Unix seconds written as plain digits (no sign, spaces or leading zeros)"
    )]
    NonCanonicalTimestamp,
    #[error(
        "`webhook-timestamp` is {0} s away from the server's clock; at most 300 s is accepted (check the sender's clock, or this is a replay)"
    )]
    OutOfTolerance(i64),
    #[error("no `v1` signature in `webhook-signature` matches a configured secret")]
    NoMatch,
}

impl SignatureError {
    pub fn header(&self) -> &'static str {
        match self {
            SignatureError::MissingHeader(h)
            | SignatureError::InvalidHeader(h)
            | SignatureError::Repeated(h) => h,
            SignatureError::OutOfTolerance(_) | SignatureError::NonCanonicalTimestamp => {
                HEADER_TIMESTAMP
            }
            SignatureError::NoMatch => HEADER_SIGNATURE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::MissingHeader(_) => "signature_missing",
            SignatureError::InvalidHeader(_) | SignatureError::NonCanonicalTimestamp => {
                "signature_malformed"
            }
            SignatureError::Repeated(_) => "header_repeated",
            SignatureError::OutOfTolerance(_) => "timestamp_out_of_tolerance",
            SignatureError::NoMatch => "signature_invalid",
        }
    }
}

impl SignatureError {
    /// The HTTP status to answer with: `400` for a request that is
    /// malformed (a header repeated or not in its one valid form), `401`
    /// for one that is not (or not correctly) signed.
    pub fn status(&self) -> u16 {
        match self {
            SignatureError::InvalidHeader(_)
            | SignatureError::Repeated(_)
            | SignatureError::NonCanonicalTimestamp => 400,
            SignatureError::MissingHeader(_)
            | SignatureError::OutOfTolerance(_)
            | SignatureError::NoMatch => 401,
        }
    }
}

/// The verified facts about a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `webhook-id`: the delivery id (a redelivery keeps it).
    pub id: String,
    pub timestamp: i64,
}

/// Checks requests against the configured secrets.
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<Secret>,
}

impl Verifier {
    pub fn new(secrets: Vec<Secret>) -> Self {
        Verifier { secrets }
    }

    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    /// Verify `body` against the headers, with `now` in Unix seconds.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, SignatureError> {
        let id = header(headers, HEADER_ID)?;
        if id.is_empty() || id.len() > 256 {
            return Err(SignatureError::InvalidHeader(HEADER_ID));
        }
        let ts = canonical_timestamp(header(headers, HEADER_TIMESTAMP)?)?;
        let skew = now.saturating_sub(ts);
        if skew.abs() > TOLERANCE_SECS {
            return Err(SignatureError::OutOfTolerance(skew));
        }
        let signatures = header(headers, HEADER_SIGNATURE)?;
        let candidates: Vec<Vec<u8>> = signatures
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| B64.decode(sig).ok())
            .filter(|sig| !sig.is_empty())
            .collect();
        if candidates.is_empty() {
            return Err(SignatureError::NoMatch);
        }
        for secret in &self.secrets {
            let mut mac = secret.mac();
            feed(&mut mac, id, ts, body);
            for sig in &candidates {
                // verify_slice is constant time and requires the full length.
                if mac.clone().verify_slice(sig).is_ok() {
                    return Ok(Verified {
                        id: id.to_owned(),
                        timestamp: ts,
                    });
                }
            }
        }
        Err(SignatureError::NoMatch)
    }
}

/// The one value of header `name`: missing, repeated and non-ASCII values
/// are refused.
fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, SignatureError> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(SignatureError::MissingHeader(name))?;
    if values.next().is_some() {
        return Err(SignatureError::Repeated(name));
    }
    value
        .to_str()
        .map_err(|_| SignatureError::InvalidHeader(name))
}

/// Unix seconds in the form a sender signs: `0` or digits without a
/// leading zero, at most 19 of them (so `i64` holds it).
fn canonical_timestamp(raw: &str) -> Result<i64, SignatureError> {
    let digits_only = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
    if !digits_only {
        return Err(if raw.trim().parse::<i64>().is_ok() {
            SignatureError::NonCanonicalTimestamp
        } else {
            SignatureError::InvalidHeader(HEADER_TIMESTAMP)
        });
    }
    if raw.len() > 1 && raw.starts_with('0') {
        return Err(SignatureError::NonCanonicalTimestamp);
    }
    raw.parse()
        .map_err(|_| SignatureError::InvalidHeader(HEADER_TIMESTAMP))
}

/// The three headers a sender adds for `body`: `webhook-id`,
/// `webhook-timestamp` and `webhook-signature`.
pub fn sign_headers(
    secret: &Secret,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    [
        (HEADER_ID, id.to_owned()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (HEADER_SIGNATURE, secret.sign(id, timestamp, body)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const NOW: i64 = 1_700_000_000;

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER_ID, id.parse().unwrap());
        h.insert(HEADER_TIMESTAMP, ts.to_string().parse().unwrap());
        h.insert(HEADER_SIGNATURE, sig.parse().unwrap());
        h
    }

    fn verifier() -> Verifier {
        Verifier::new(vec![Secret::parse(SECRET).unwrap()])
    }

    #[test]
    fn matches_the_reference_implementation() {
        let body = br#"{"hello":"world"}"#;
        let reference = standardwebhooks::Webhook::new(SECRET).unwrap();
        let sig = reference.sign("msg_1", NOW, body).unwrap();
        assert_eq!(sig, Secret::parse(SECRET).unwrap().sign("msg_1", NOW, body));
        assert!(
            verifier()
                .verify(&headers("msg_1", NOW, &sig), body, NOW)
                .is_ok()
        );
    }

    #[test]
    fn accepts_any_matching_entry_among_several() {
        let body = b"{}";
        let good = Secret::parse(SECRET).unwrap().sign("m", NOW, body);
        let list = format!("v1,Zm9vYmFy v2,abc {good} v1a,xyz");
        assert!(
            verifier()
                .verify(&headers("m", NOW, &list), body, NOW)
                .is_ok()
        );
    }

    #[test]
    fn rotation_accepts_old_and_new_secrets() {
        let old = Secret::parse(SECRET).unwrap();
        let new_text = Secret::generate([7; 32]);
        let new = Secret::parse(&new_text).unwrap();
        let v = Verifier::new(vec![new.clone(), old.clone()]);
        for s in [old, new] {
            let sig = s.sign("m", NOW, b"x");
            assert!(v.verify(&headers("m", NOW, &sig), b"x", NOW).is_ok());
        }
    }

    #[test]
    fn refuses_empty_truncated_and_wrong_signatures() {
        let body = b"{}";
        let good = Secret::parse(SECRET).unwrap().sign("m", NOW, body);
        let b64 = good.strip_prefix("v1,").unwrap();
        let truncated_raw = &B64.decode(b64).unwrap()[..16];
        let truncated = format!("v1,{}", B64.encode(truncated_raw));
        for bad in [
            "v1,",
            "v1",
            "",
            &truncated,
            &format!("v1,{}", &b64[..20]),
            "v1,AAAA",
        ] {
            let err = verifier()
                .verify(&headers("m", NOW, bad), body, NOW)
                .unwrap_err();
            assert_eq!(err, SignatureError::NoMatch, "{bad:?}");
        }
        // Tampered body, id or timestamp.
        assert!(
            verifier()
                .verify(&headers("m", NOW, &good), b"{ }", NOW)
                .is_err()
        );
        assert!(
            verifier()
                .verify(&headers("n", NOW, &good), body, NOW)
                .is_err()
        );
        assert!(
            verifier()
                .verify(&headers("m", NOW + 1, &good), body, NOW)
                .is_err()
        );
        // Wrong secret.
        let other = Verifier::new(vec![Secret::parse(&Secret::generate([1; 32])).unwrap()]);
        assert_eq!(
            other
                .verify(&headers("m", NOW, &good), body, NOW)
                .unwrap_err(),
            SignatureError::NoMatch
        );
    }

    #[test]
    fn refuses_timestamps_outside_five_minutes_either_way() {
        let s = Secret::parse(SECRET).unwrap();
        for (ts, ok) in [
            (NOW - 300, true),
            (NOW + 300, true),
            (NOW - 301, false),
            (NOW + 301, false),
        ] {
            let sig = s.sign("m", ts, b"x");
            let r = verifier().verify(&headers("m", ts, &sig), b"x", NOW);
            assert_eq!(r.is_ok(), ok, "ts offset {}", ts - NOW);
            if !ok {
                assert!(matches!(r, Err(SignatureError::OutOfTolerance(_))));
            }
        }
    }

    #[test]
    fn names_the_missing_or_broken_header() {
        let mut h = headers("m", NOW, "v1,abc");
        h.remove(HEADER_TIMESTAMP);
        assert_eq!(
            verifier().verify(&h, b"", NOW),
            Err(SignatureError::MissingHeader(HEADER_TIMESTAMP))
        );
        let h = {
            let mut h = headers("m", NOW, "v1,abc");
            h.insert(HEADER_TIMESTAMP, "soon".parse().unwrap());
            h
        };
        assert_eq!(
            verifier().verify(&h, b"", NOW),
            Err(SignatureError::InvalidHeader(HEADER_TIMESTAMP))
        );
    }

    #[test]
    fn refuses_repeated_headers() {
        let s = Secret::parse(SECRET).unwrap();
        let sig = s.sign("m", NOW, b"x");
        for name in [HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE] {
            let mut h = headers("m", NOW, &sig);
            let again = h.get(name).unwrap().clone();
            h.append(name, again);
            let err = verifier().verify(&h, b"x", NOW).unwrap_err();
            assert_eq!(err, SignatureError::Repeated(name));
            assert_eq!((err.status(), err.header()), (400, name));
        }
    }

    #[test]
    fn refuses_timestamps_not_in_their_signed_form() {
        let s = Secret::parse(SECRET).unwrap();
        for raw in [
            format!("+{NOW}"),
            format!(" {NOW} "),
            format!("0{NOW}"),
            format!("{NOW} "),
        ] {
            // Even signed over the exact raw text, a lenient form is refused.
            let mut h = headers("m", NOW, "v1,abc");
            h.insert(HEADER_TIMESTAMP, raw.parse().unwrap());
            let err = verifier().verify(&h, b"x", NOW).unwrap_err();
            assert_eq!(err, SignatureError::NonCanonicalTimestamp, "{raw:?}");
            assert_eq!(err.status(), 400);
        }
        let sig = s.sign("m", NOW, b"x");
        assert!(
            verifier()
                .verify(&headers("m", NOW, &sig), b"x", NOW)
                .is_ok()
        );
    }

    #[test]
    fn sign_headers_verify() {
        let s = Secret::parse(SECRET).unwrap();
        let mut h = HeaderMap::new();
        for (name, value) in sign_headers(&s, "msg_1", NOW, b"{}") {
            h.insert(name, value.parse().unwrap());
        }
        assert!(verifier().verify(&h, b"{}", NOW).is_ok());
    }

    #[test]
    fn matches_the_specification_example() {
        // The example in the Standard Webhooks specification.
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            s.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_must_be_whsec_base64_of_enough_bytes() {
        assert_eq!(
            Secret::parse("abc").unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(
            Secret::parse("whsec_***").unwrap_err(),
            SecretError::NotBase64
        );
        assert_eq!(
            Secret::parse("whsec_c2hvcnQ=").unwrap_err(),
            SecretError::TooShort(5)
        );
        assert!(Secret::parse(&Secret::generate([9; 32])).is_ok());
    }
}
