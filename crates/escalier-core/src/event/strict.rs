//! What serde accepts but an outside event must not carry: checked on the
//! raw JSON text of each event from outside, before it is decoded.
//!
//! - the event and its `data` are JSON objects (serde would also take a
//!   positional array for a struct);
//! - no object at any depth repeats a key (serde refuses repeats for
//!   struct fields but keeps the last one in a map such as `data.fields`);
//! - every integer fits in 64 bits (`serde_json` turns a larger one into
//!   a float, silently changing the number);
//! - nesting is at most [`MAX_DEPTH`] deep, which also bounds this pass.
//!
//! Each refusal names the field. The walk borrows from the text and parses
//! each nested value once per level above it, so its cost is at most
//! `MAX_DEPTH` times the event's size.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::Rejection;

/// Deepest nesting of objects and arrays inside one event.
pub const MAX_DEPTH: usize = 32;

/// Check one event's JSON text (already known to be valid JSON).
pub fn check_event(json: &str) -> Result<(), Rejection> {
    if !json.trim_start().starts_with('{') {
        return Err(Rejection::invalid(
            "",
            "an event must be a JSON object with id, type, ticket_id, occurred_at and data",
        ));
    }
    walk(json, String::new(), 0)
}

fn walk(json: &str, path: String, depth: usize) -> Result<(), Rejection> {
    let de = &mut serde_json::Deserializer::from_str(json);
    Walk { path, depth }
        .deserialize(de)
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Data => decode_refusal(&e),
            _ => Rejection::invalid("", crate::event::clean_serde_message(&e)),
        })
}

/// The refusal a visitor raised, carried through serde as `path\0message`.
fn decode_refusal(e: &serde_json::Error) -> Rejection {
    let text = crate::event::clean_serde_message(e);
    match text.split_once('\0') {
        Some((path, message)) => Rejection::invalid(path, message),
        None => Rejection::invalid("", text),
    }
}

fn refuse<E: de::Error>(path: &str, message: impl fmt::Display) -> E {
    E::custom(format!("{path}\0{message}"))
}

struct Walk {
    path: String,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Walk {
    fn child(&self, segment: &str) -> String {
        if self.path.is_empty() {
            segment.trim_start_matches('.').to_owned()
        } else {
            format!("{}{segment}", self.path)
        }
    }

    /// Check one member's raw text: recurse into containers, check the
    /// size of integer literals.
    fn member<E: de::Error>(&self, raw: &RawValue, path: String) -> Result<(), E> {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'{' | b'[') => {
                if self.depth + 1 >= MAX_DEPTH {
                    return Err(refuse(
                        &path,
                        format!("is nested more than {MAX_DEPTH} levels deep"),
                    ));
                }
                walk(text, path, self.depth + 1).map_err(|r| refuse(&r.field, r.message))
            }
            Some(b'-' | b'0'..=b'9') => {
                let integer = !text.contains(['.', 'e', 'E']);
                if integer && text.parse::<i64>().is_err() && text.parse::<u64>().is_err() {
                    return Err(refuse(
                        &path,
                        format!("the integer {text} does not fit in 64 bits; send it as a string"),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = self.child(&format!(".{key}"));
            let raw: &RawValue = map.next_value()?;
            if !seen.insert(key) {
                return Err(refuse(&path, "appears twice in the same object"));
            }
            if self.depth == 0 && path == "data" && !raw.get().starts_with(['{', 'n']) {
                return Err(refuse(&path, "must be a JSON object"));
            }
            self.member(raw, path)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while let Some(raw) = seq.next_element::<&RawValue>()? {
            self.member(raw, self.child(&format!("[{i}]")))?;
            i += 1;
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<(), E> {
        Ok(())
    }

    fn visit_string<E: de::Error>(self, _: String) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(json: &str) -> String {
        check_event(json).unwrap_err().field
    }

    #[test]
    fn plain_events_pass() {
        check_event(r#"{"id":"a","data":{"fields":{"n":18446744073709551615,"m":-9223372036854775808,"f":1e400,"x":[1,{"y":2}]}}}"#).unwrap();
        check_event(r#"{"id":"a","data":null}"#).unwrap();
    }

    #[test]
    fn positional_arrays_are_refused() {
        assert_eq!(
            field(r#"["a","ticket.created","T","2026-03-02T09:00:00Z",{}]"#),
            ""
        );
        assert_eq!(field(r#"{"id":"a","data":["subject"]}"#), "data");
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        assert_eq!(field(r#"{"id":"a","id":"b"}"#), "id");
        assert_eq!(
            field(r#"{"data":{"fields":{"plan":"pro","plan":"free"}}}"#),
            "data.fields.plan"
        );
        assert_eq!(field(r#"{"data":{"x":[{"k":1,"k":2}]}}"#), "data.x[0].k");
    }

    #[test]
    fn integers_beyond_64_bits_are_refused() {
        assert_eq!(
            field(r#"{"data":{"fields":{"n":18446744073709551616}}}"#),
            "data.fields.n"
        );
        assert_eq!(
            field(r#"{"data":{"fields":{"n":[-9223372036854775809]}}}"#),
            "data.fields.n[0]"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!(
            r#"{{"data":{{"fields":{{"x":{}1{}}}}}}}"#,
            "[".repeat(40),
            "]".repeat(40)
        );
        let r = check_event(&deep).unwrap_err();
        assert!(r.field.starts_with("data.fields.x"), "{}", r.field);
        assert!(r.message.contains("nested"), "{}", r.message);
    }
}
