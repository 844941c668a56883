//! Turning domain values into Rhai values cheaply.
//!
//! Vocabulary words (`urgent`, `social_public`, `ticket.created`) come from
//! closed sets, so each is built once per process and handed out by
//! reference count: a getter like `ticket.priority` allocates nothing.

use std::sync::OnceLock;

use escalier_core::{AuthorKind, Channel, Priority, Status};
use jiff::Timestamp;
use rhai::{Array, Dynamic, ImmutableString, Map};

/// A closed vocabulary with its words pre-built as Rhai strings.
struct Interned {
    words: Vec<(&'static str, ImmutableString)>,
}

impl Interned {
    fn new(words: impl IntoIterator<Item = &'static str>) -> Self {
        Interned {
            words: words
                .into_iter()
                .map(|w| (w, ImmutableString::from(w)))
                .collect(),
        }
    }

    fn get(&self, word: &str) -> ImmutableString {
        // The sets have at most ~20 short words: a scan beats hashing.
        self.words
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| word.into())
    }
}

fn vocab() -> &'static Interned {
    static WORDS: OnceLock<Interned> = OnceLock::new();
    WORDS.get_or_init(|| {
        Interned::new(
            Status::ALL
                .iter()
                .map(|s| s.as_str())
                .chain(Priority::ALL.iter().map(|p| p.as_str()))
                .chain(Channel::ALL.iter().map(|c| c.as_str()))
                .chain(AuthorKind::ALL.iter().map(|a| a.as_str())),
        )
    })
}

fn event_types() -> &'static Interned {
    static TYPES: OnceLock<Interned> = OnceLock::new();
    TYPES.get_or_init(|| {
        Interned::new(escalier_core::event::all_types().chain(["webhook", "escalier"]))
    })
}

/// A vocabulary word (status, priority, channel, author kind).
pub(crate) fn word(w: &'static str) -> ImmutableString {
    vocab().get(w)
}

/// An event type name, or a fixed producer name (`webhook`).
pub(crate) fn type_name(t: &str) -> ImmutableString {
    event_types().get(t)
}

pub(crate) fn string(s: &str) -> Dynamic {
    Dynamic::from(ImmutableString::from(s))
}

pub(crate) fn opt_string(s: Option<&str>) -> Dynamic {
    s.map_or(Dynamic::UNIT, string)
}

/// RFC 3339, UTC (`2026-03-02T09:15:00Z`): sorts as text in time order
/// when second precision is all a sender gives.
pub(crate) fn timestamp(t: Timestamp) -> ImmutableString {
    t.to_string().into()
}

pub(crate) fn opt_timestamp(t: Option<Timestamp>) -> Dynamic {
    t.map_or(Dynamic::UNIT, |t| Dynamic::from(timestamp(t)))
}

pub(crate) fn int(n: impl Into<i64>) -> Dynamic {
    Dynamic::from_int(n.into())
}

/// JSON as Rhai: objects become maps, arrays arrays, `null` is `()`.
/// Integers that fit `i64` stay integers; other numbers become floats.
pub(crate) fn json(v: &serde_json::Value) -> Dynamic {
    use serde_json::Value;
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => string(s),
        Value::Array(items) => Dynamic::from_array(items.iter().map(json).collect::<Array>()),
        Value::Object(fields) => Dynamic::from_map(
            fields
                .iter()
                .map(|(k, v)| (k.as_str().into(), json(v)))
                .collect::<Map>(),
        ),
    }
}

/// What converting `v` with [`json`] costs, in bytes of text: every
/// string's length plus [`NODE_BYTES`] per value. Walks without allocating.
pub(crate) fn json_size(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    NODE_BYTES.saturating_add(match v {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(json_size).fold(0, usize::saturating_add),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| k.len().saturating_add(json_size(v)))
            .fold(0, usize::saturating_add),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    })
}

/// What building one Rhai value costs, in bytes of scanning.
pub(crate) const NODE_BYTES: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_words_are_shared_not_rebuilt() {
        let a = word("urgent");
        let b = word("urgent");
        assert!(a.ptr_eq(&b), "interned strings share one allocation");
        assert_eq!(type_name("comment.added").as_str(), "comment.added");
        assert!(type_name("action.tag").ptr_eq(&type_name("action.tag")));
    }

    #[test]
    fn json_maps_to_rhai_values() {
        let v: serde_json::Value =
            serde_json::json!({"n": 3, "f": 1.5, "s": "x", "a": [true, null]});
        let d = json(&v);
        let m = d.cast::<Map>();
        assert_eq!(m["n"].as_int().unwrap(), 3);
        assert_eq!(m["f"].as_float().unwrap(), 1.5);
        assert_eq!(m["s"].clone().into_string().unwrap(), "x");
        let a = m["a"].clone().into_array().unwrap();
        assert!(a[0].as_bool().unwrap());
        assert!(a[1].is_unit());
    }
}
