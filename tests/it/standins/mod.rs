//! Stand-ins for the services Escalier talks to, started by the tests on
//! loopback: a programmable HTTP receiver (help-desk REST APIs, chat
//! webhooks, PagerDuty), an SMTP receiver, and JSON Schema checks of what
//! they receive against the vendors' documented request shapes.

pub mod http;
pub mod schema;
pub mod smtp;

pub use http::{Reply, Request, StandIn};

use crate::util::Server;

/// The value of a metric with (at least) these labels, if exported.
pub fn metric(s: &Server, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.get_text("/metrics").lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix('{')?;
        let (set, value) = rest.split_once("} ")?;
        labels
            .iter()
            .all(|(k, v)| set.split(',').any(|kv| kv == format!("{k}=\"{v}\"")))
            .then(|| value.trim().parse().ok())?
    })
}
mod selftest;
