//! How expectations match: records by type, producer and a subset of
//! their data; tickets by a subset of their view.
//!
//! "Subset" is recursive: every key of an expected table must be in the
//! actual one and match; every element of an expected list must match some
//! element of the actual list (order and extra elements do not matter);
//! numbers compare by value (`2` matches `2.0`); anything else must be equal.

use escalier_core::{Record, Ticket};
use serde_json::{Map, Value, json};

use super::file::RecordExpectation;

/// Where a subset match failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mismatch {
    /// `data.tier`, `tags[*]`, `clocks.first_response.state`.
    pub path: String,
    pub expected: Value,
    /// `None`: the key is missing.
    pub got: Option<Value>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.got {
            Some(got) => write!(f, "{}: expected {}, got {}", self.path, self.expected, got),
            None => write!(
                f,
                "{}: expected {}, but it is not there",
                self.path, self.expected
            ),
        }
    }
}

/// Whether `actual` contains `expected` (see the module documentation).
pub(crate) fn subset(expected: &Value, actual: &Value, path: &str) -> Result<(), Mismatch> {
    let mismatch = || Mismatch {
        path: path.to_owned(),
        expected: expected.clone(),
        got: Some(actual.clone()),
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = join(path, k);
                match a.get(k) {
                    Some(av) => subset(ev, av, &p)?,
                    None => {
                        return Err(Mismatch {
                            path: p,
                            expected: ev.clone(),
                            got: None,
                        });
                    }
                }
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, ev) in e.iter().enumerate() {
                if !a.iter().any(|av| subset(ev, av, "").is_ok()) {
                    return Err(Mismatch {
                        path: format!("{path}[{i}]"),
                        expected: ev.clone(),
                        got: Some(actual.clone()),
                    });
                }
            }
            Ok(())
        }
        (Value::Number(e), Value::Number(a)) => {
            if e.as_f64() == a.as_f64() {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
        (e, a) if e == a => Ok(()),
        _ => Err(mismatch()),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Whether a record type matches an expected type or family.
pub(crate) fn type_matches(expected: &str, actual: &str) -> bool {
    match expected.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => actual.starts_with(prefix),
        None => expected == actual,
    }
}

/// The record's `data` as the API shows it.
pub(crate) fn data_of(record: &Record) -> Value {
    match serde_json::to_value(&record.event) {
        Ok(Value::Object(mut m)) => m.remove("data").unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Does `record` satisfy `e` (type, producer, ticket and data)? `Err`
/// says why not, for records of the expected type.
pub(crate) fn record_matches(
    e: &RecordExpectation,
    record: &Record,
) -> Result<(), Option<Mismatch>> {
    if !type_matches(&e.ty, record.event.type_name()) {
        return Err(None);
    }
    if let Some(t) = &e.ticket_id
        && t != record.event.ticket_id.as_str()
    {
        return Err(None);
    }
    if let Some(p) = &e.policy
        && p != record.source.producer_name()
    {
        return Err(Some(Mismatch {
            path: "policy".into(),
            expected: Value::String(p.clone()),
            got: Some(Value::String(record.source.producer_name().to_owned())),
        }));
    }
    match &e.data {
        Some(expected) => subset(expected, &data_of(record), "data").map_err(Some),
        None => Ok(()),
    }
}

/// The ticket as expectations see it: the ticket as the API shows it,
/// with `clocks`, `ladders` and `approvals` keyed by name, and `sla`, the
/// SLA policy in force.
///
/// - `clocks.<kind>`: `state` (running, paused, met, cancelled), `cycle`,
///   `warned`, `breached`, `target` and `elapsed` (ISO 8601).
/// - `ladders.<name>`: `state` (running, acknowledged, stopped, resolved,
///   exhausted), `run`, `level`, `cycle`, `reached`.
/// - `approvals.<kind>`: the state of the latest approval of that kind.
pub(crate) fn ticket_view(t: &Ticket) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    let Value::Object(m) = &mut v else { return v };
    let clocks: Map<String, Value> = t
        .clocks
        .clocks()
        .iter()
        .map(|c| {
            let view = json!({
                "state": c.state(),
                "cycle": c.cycle(),
                "warned": c.warned(),
                "breached": c.breached(),
                "target": c.target().map(|d| d.to_string()),
                "elapsed": c.elapsed().to_string(),
            });
            (c.kind().as_str().to_owned(), view)
        })
        .collect();
    let ladders: Map<String, Value> = t
        .ladders
        .runs()
        .iter()
        .map(|r| {
            let view = json!({
                "state": r.state(),
                "run": r.run(),
                "level": r.level(),
                "cycle": r.cycle(),
                "reached": r.reached(),
            });
            (r.ladder().to_owned(), view)
        })
        .collect();
    let mut approvals = Map::new();
    for a in &t.approvals {
        approvals.insert(a.kind.clone(), json!(a.state));
    }
    m.insert("sla".into(), json!(t.clocks.policy()));
    m.insert("clocks".into(), Value::Object(clocks));
    m.insert("ladders".into(), Value::Object(ladders));
    m.insert("approvals".into(), Value::Object(approvals));
    v
}

/// Whether a field of the view is absent, null, empty or zero-length.
pub(crate) fn is_unset(view: &Value, field: &str) -> bool {
    match view.get(field) {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_ignore_extra_keys_and_order_but_not_values() {
        let actual = json!({"tier": 2, "tags": ["a", "b"], "x": {"y": 1, "z": 2}});
        assert!(
            subset(
                &json!({"tier": 2.0, "tags": ["b"], "x": {"z": 2}}),
                &actual,
                ""
            )
            .is_ok()
        );
        let m = subset(&json!({"x": {"y": 3}}), &actual, "").unwrap_err();
        assert_eq!((m.path.as_str(), m.got), ("x.y", Some(json!(1))));
        let m = subset(&json!({"tags": ["c"]}), &actual, "").unwrap_err();
        assert_eq!(m.path, "tags[0]");
        let m = subset(&json!({"team": "billing"}), &actual, "").unwrap_err();
        assert_eq!((m.path.as_str(), m.got), ("team", None));
    }

    #[test]
    fn type_families_match_by_prefix() {
        assert!(type_matches("action.*", "action.route"));
        assert!(type_matches("*", "sla.breached"));
        assert!(!type_matches("action.*", "sla.breached"));
        assert!(!type_matches("action.escalate", "action.escalated"));
    }
}
