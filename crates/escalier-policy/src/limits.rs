//! `PolicyLimits`: every bound a policy evaluation runs under, in one
//! struct so the binary can expose them in its config file.
//!
//! [`crate::engine::harden`] is the only reader; it turns these into Rhai
//! engine limits plus the wall-clock check in `on_progress`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Bounds for one policy run (one policy, one event).
///
/// Hitting any of them stops that run with a `policy.error` naming the
/// limit; other policies still run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyLimits {
    /// Rhai operations (roughly: expressions evaluated) per run. Helpers
    /// whose work grows with their input count it here too (`contains_any`:
    /// one operation per 64 bytes of text it looks at).
    pub max_operations: u64,
    /// Wall-clock time per run, checked every 128 operations (counting the
    /// work helpers charge).
    /// Written like `"20ms"` in config.
    #[serde(with = "humantime_duration")]
    pub max_time: Duration,
    /// Nesting of script-defined function calls.
    pub max_call_depth: usize,
    /// Nesting of expressions at the top level, and inside functions.
    pub max_expr_depth: usize,
    pub max_function_expr_depth: usize,
    /// Longest string a script may build, in bytes (for an array or map:
    /// all the strings in it together).
    ///
    /// The default, 256 KiB, is above everything a policy can build by
    /// joining the text of a ticket and its event once: the longest text
    /// fields an event carries are 64 KiB (`description`, a comment's
    /// `body`), and subject, description, a comment, a CSAT comment, names,
    /// reasons and 100 tags together are under 160 KiB. Custom field values
    /// are any JSON up to a request body; read numbers with `number_field`.
    pub max_string_size: usize,
    /// Most elements in one array a script builds.
    pub max_array_size: usize,
    /// Most entries in one object map a script builds.
    pub max_map_size: usize,
    /// Most variables alive at once.
    pub max_variables: usize,
    /// Most functions one policy file may define.
    pub max_functions: usize,
    /// Most actions one run may take; a run that tries more is an error and
    /// contributes nothing (a loop calling `tag()` is a bug, not a plan).
    pub max_actions: usize,
}

impl Default for PolicyLimits {
    fn default() -> Self {
        PolicyLimits {
            max_operations: 50_000,
            max_time: Duration::from_millis(20),
            max_call_depth: 32,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 256 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_variables: 256,
            max_functions: 64,
            max_actions: 32,
        }
    }
}

/// `Duration` as a humantime string (`"20ms"`, `"1s"`).
mod humantime_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_from_config_with_human_durations() {
        let l: PolicyLimits =
            serde_json::from_str(r#"{"max_time": "5ms", "max_operations": 1000}"#).unwrap();
        assert_eq!(l.max_time, Duration::from_millis(5));
        assert_eq!(l.max_operations, 1000);
        assert_eq!(l.max_call_depth, PolicyLimits::default().max_call_depth);
        let back = serde_json::to_value(&l).unwrap();
        assert_eq!(back["max_time"], "5ms");
    }

    #[test]
    fn unknown_limit_names_are_refused() {
        let err = serde_json::from_str::<PolicyLimits>(r#"{"max_opertions": 1}"#).unwrap_err();
        assert!(err.to_string().contains("max_opertions"), "{err}");
    }
}
