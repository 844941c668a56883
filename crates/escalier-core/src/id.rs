//! Validated identifiers.
//!
//! Ids come from outside tools, so they are checked once at the edge: 1–128
//! characters from a URL-safe set (letters, digits and `._~:@#/+-`). That
//! keeps them printable in logs, usable as redb keys and as path segments
//! (after percent-encoding `/` and `#`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 128;

fn id_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._~:@#/+-".contains(c)
}

/// Check an id string; the error says what is wrong in words.
pub fn validate_id(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > MAX_ID_LEN {
        return Err(format!(
            "is {} bytes long; at most {MAX_ID_LEN} allowed",
            s.len()
        ));
    }
    if let Some(bad) = s.chars().find(|c| !id_char_ok(*c)) {
        return Err(format!(
            "contains {bad:?}; ids use letters, digits and . _ ~ : @ # / + -"
        ));
    }
    Ok(())
}

/// Event id prefixes Escalier mints itself (derived records, API calls,
/// scheduler ticks, delivery failures, migrations). An event from outside
/// may not use them, so it can never take the place of, or pre-empt, an
/// event Escalier records.
pub const RESERVED_ID_PREFIXES: [&str; 8] = [
    "esc:",
    "api:",
    "tick:",
    "sim-tick:",
    "failed:",
    "delivered:",
    "retrying:",
    "migrate:",
];

/// Refuse an outside event id that uses a reserved prefix.
pub fn check_external_event_id(id: &str) -> Result<(), String> {
    match RESERVED_ID_PREFIXES.iter().find(|p| id.starts_with(**p)) {
        Some(p) => Err(format!(
            "starts with `{p}`, which Escalier reserves for ids it makes; use another prefix"
        )),
        None => Ok(()),
    }
}

/// Refuse a ticket id that a URL cannot carry: `.` and `..`, or any
/// `/`-separated part that is `.` or `..`, are removed by URL
/// normalisation in clients and proxies, so the ticket could never be
/// read back.
pub fn check_ticket_id_addressable(id: &str) -> Result<(), String> {
    if id.split('/').any(|part| part == "." || part == "..") {
        return Err("must not be `.` or `..` or contain them as a `/`-separated part (a URL cannot address it)".into());
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validate and wrap.
            pub fn new(s: impl Into<String>) -> Result<Self, String> {
                let s = s.into();
                validate_id(&s)?;
                Ok($name(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// A ticket's id, as the sending tool names it (`ZD-1042`, `github:acme/app#12`).
    TicketId
);
string_id!(
    /// An event's id: the idempotency key. A second event with the same id
    /// is a duplicate delivery and changes nothing.
    EventId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_tool_style_names() {
        for ok in [
            "ZD-1042",
            "github:acme/app#12",
            "evt_01HX.3",
            "a",
            "mail+x@y",
        ] {
            assert!(TicketId::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn outside_ids_may_not_use_reserved_prefixes_or_dot_segments() {
        for bad in [
            "api:X",
            "esc:1.0",
            "tick:ab",
            "failed:dlv",
            "delivered:dlv:1.1:p:0",
            "retrying:ntf:1.1:pager:2",
            "migrate:x",
            "sim-tick:1",
        ] {
            assert!(check_external_event_id(bad).is_err(), "{bad}");
        }
        assert!(check_external_event_id("zd-api:1").is_ok());
        for bad in [".", "..", "a/../b", "./x", "x/.", "a/.."] {
            assert!(check_ticket_id_addressable(bad).is_err(), "{bad}");
        }
        for ok in ["...", "a.b", "github:acme/app#12", ".x", "x..y"] {
            assert!(check_ticket_id_addressable(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn ids_refuse_empty_long_and_odd_characters() {
        assert!(TicketId::new("").is_err());
        assert!(TicketId::new("x".repeat(129)).is_err());
        assert!(TicketId::new("x".repeat(128)).is_ok());
        for bad in ["a b", "a\"b", "a\nb", "é", "a?b", "a%b"] {
            assert!(EventId::new(bad).is_err(), "{bad:?}");
        }
    }
}
