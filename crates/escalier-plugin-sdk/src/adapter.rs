//! Helpers for adapter plugins (feature `adapter`): turning a helpdesk's
//! webhook into events Escalier accepts.
//!
//! Each helper enforces one of Escalier's limits, so an adapter hands back
//! an event Escalier takes rather than one it refuses. The functions are
//! pure (apart from [`now`], which reads the host clock) and deterministic:
//! ids, tags and times they produce are what replay and deduplication
//! compare, so changing any output here changes every adapter's ids.
//!
//! Hashing and HMAC come from the RustCrypto crates (`sha2`, `sha1`,
//! `hmac`), times from `jiff`; they are behind the feature so plugins that
//! are not adapters stay small.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::{Error, Header, clock};

/// Longest Escalier id (ticket, event, person), in bytes.
pub const MAX_ID: usize = 128;
/// Most tags on an Escalier ticket.
pub const MAX_TAGS: usize = 100;
/// Longest Escalier tag, in bytes.
pub const MAX_TAG: usize = 64;
/// Longest ticket subject Escalier takes, in bytes.
pub const MAX_SUBJECT: usize = 1024;
/// Longest comment body or description Escalier takes, in bytes.
pub const MAX_TEXT: usize = 64 * 1024;
/// 0001-01-01T00:00:00Z, in Unix seconds: the first time with a
/// four-digit RFC 3339 year (the only years Escalier reads).
pub const FIRST_SECOND: i64 = -62_135_596_800;
/// 9999-12-31T23:59:59Z, in Unix seconds: the last time with a
/// four-digit RFC 3339 year.
pub const LAST_SECOND: i64 = 253_402_300_799;

/// Characters an Escalier id allows besides ASCII letters and digits; any
/// other is replaced by `_` in [`ident`]. Adapters that must keep an id
/// one URL path part pass a narrower set (without `/` and `#`).
pub const ID_CHARS: &str = "._~:@/+-#";

/// The value of the first header named `name` (ASCII case-insensitive,
/// as HTTP header names are).
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// Bytes of a hex string (either case), or none when it is not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `s` cut to at most `max` bytes, at a character boundary, so a cut
/// string stays within an Escalier byte limit and valid UTF-8.
pub fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// A name Escalier accepts (not blank, at most `max` bytes, no
/// surrounding whitespace), or none.
pub fn name(s: Option<&str>, max: usize) -> Option<String> {
    let s = cut(s?.trim(), max);
    let s = s.trim_end();
    (!s.is_empty()).then(|| s.to_owned())
}

/// An Escalier id of at most [`MAX_ID`] bytes: `prefix` + `name` +
/// `suffix`, with every character of `name` that is not an ASCII letter,
/// digit or one of `allowed` replaced by `_`. When that is too long, the
/// cleaned name is cut and followed by `~` and 16 hex digits of the
/// SHA-256 of the original `name`, so distinct long names stay distinct.
/// `prefix` and `suffix` are kept as they are: they must be valid id text.
pub fn ident(prefix: &str, allowed: &str, name: &str, suffix: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || allowed.contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let id = format!("{prefix}{clean}{suffix}");
    if id.len() <= MAX_ID {
        return id;
    }
    let tail = format!("~{}{suffix}", hex(&Sha256::digest(name.as_bytes())[..8]));
    let room = MAX_ID.saturating_sub(prefix.len() + tail.len());
    format!("{prefix}{}{tail}", cut(&clean, room))
}

/// A helpdesk label as an Escalier tag: trimmed, lower case, whitespace
/// replaced by `space`, control characters dropped, at most [`MAX_TAG`]
/// bytes; none when nothing is left.
pub fn tag(label: &str, space: char) -> Option<String> {
    let t: String = label
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_whitespace() { space } else { c })
        .filter(|c| !c.is_control())
        .collect();
    let t = cut(&t, MAX_TAG);
    (!t.is_empty()).then_some(t)
}

/// Adds `tags` to `out` in order, each once, until `out` holds
/// [`MAX_TAGS`].
pub fn push_tags(out: &mut Vec<String>, tags: impl IntoIterator<Item = String>) {
    for t in tags {
        if out.len() >= MAX_TAGS {
            break;
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
}

/// Whether `sig` is the HMAC-SHA256 under `key` of `parts` concatenated,
/// compared in constant time.
pub fn hmac_sha256_matches(key: &[u8], parts: &[&[u8]], sig: &[u8]) -> bool {
    // HMAC takes keys of any length, so this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return false;
    };
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(sig).is_ok()
}

/// Whether `sig` is the HMAC-SHA1 under `key` of `parts` concatenated,
/// compared in constant time.
pub fn hmac_sha1_matches(key: &[u8], parts: &[&[u8]], sig: &[u8]) -> bool {
    // HMAC takes keys of any length, so this never fails.
    let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(key) else {
        return false;
    };
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(sig).is_ok()
}

/// Whether `t` has a four-digit year ([`FIRST_SECOND`] to
/// [`LAST_SECOND`]), the only times Escalier reads.
pub fn four_digit_year(t: &jiff::Timestamp) -> bool {
    (FIRST_SECOND..=LAST_SECOND).contains(&t.as_second())
}

/// The host clock (the request's arrival, or the record's time on
/// replay) as RFC 3339 in UTC, the form Escalier's event times take.
pub fn now() -> Result<String, Error> {
    jiff::Timestamp::from_millisecond(clock::now())
        .map(|t| t.to_string())
        .map_err(|e| Error::Failed(format!("clock: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00abFF"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("é0"), None);
    }

    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("abc", 10), "abc");
        assert_eq!(name(Some("  ab  "), 10).as_deref(), Some("ab"));
        assert_eq!(name(Some("a  b"), 2).as_deref(), Some("a"));
        assert_eq!(name(Some("   "), 10), None);
    }

    #[test]
    fn ident_cleans_and_hashes_long_names() {
        assert_eq!(ident("x:", ID_CHARS, "a b/c#d", ""), "x:a_b/c#d");
        assert_eq!(ident("x:", "._~:@+-", "a b/c#d", ":1"), "x:a_b_c_d:1");
        let long = "n".repeat(300);
        let id = ident("x:", ID_CHARS, &long, ":s");
        assert_eq!(id.len(), MAX_ID);
        let hash = hex(&Sha256::digest(long.as_bytes())[..8]);
        assert!(id.ends_with(&format!("~{hash}:s")), "{id}");
        assert!(id.starts_with("x:nnn"));
        assert_ne!(id, ident("x:", ID_CHARS, &"n".repeat(301), ":s"));
    }

    #[test]
    fn tags_are_clean_short_and_unique() {
        assert_eq!(
            tag("  Needs Review\t", '-').as_deref(),
            Some("needs-review")
        );
        assert_eq!(tag("a b", '_').as_deref(), Some("a_b"));
        assert_eq!(tag("\u{7}", '-'), None);
        assert_eq!(tag(&"é".repeat(40), '-').map(|t| t.len()), Some(64));
        let mut out = vec!["x".to_owned()];
        push_tags(&mut out, (0..200).map(|i| format!("t{}", i % 150)));
        assert_eq!(out.len(), MAX_TAGS);
        assert_eq!(out[1], "t0");
        assert_eq!(out[99], "t98");
    }

    #[test]
    fn hmac_matches_known_values() {
        // RFC 4231 test case 2 and RFC 2202 test case 2.
        let sig = unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let sig = sig.unwrap_or_default();
        assert!(hmac_sha256_matches(
            b"Jefe",
            &[b"what do ya want ", b"for nothing?"],
            &sig
        ));
        assert!(!hmac_sha256_matches(
            b"jefe",
            &[b"what do ya want for nothing?"],
            &sig
        ));
        let sig = unhex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79").unwrap_or_default();
        assert!(hmac_sha1_matches(
            b"Jefe",
            &[b"what do ya want for nothing?"],
            &sig
        ));
        assert!(!hmac_sha1_matches(
            b"Jefe",
            &[b"what do ya want for nothing"],
            &sig
        ));
    }

    #[test]
    fn four_digit_years_only() {
        let t = |s: &str| s.parse::<jiff::Timestamp>().ok();
        assert!(t("0001-01-01T00:00:00Z").is_some_and(|t| four_digit_year(&t)));
        // jiff's last time is 9999-12-30T22:00:00.999999999Z.
        assert!(t("9999-12-30T22:00:00Z").is_some_and(|t| four_digit_year(&t)));
        assert!(four_digit_year(&jiff::Timestamp::MAX));
        assert!(!four_digit_year(&jiff::Timestamp::MIN));
        assert!(t("0000-12-31T23:59:59Z").is_some_and(|t| !four_digit_year(&t)));
    }
}
