//! Stand-ins for the services Escalier talks to, started by the tests on
//! loopback: a programmable HTTP receiver (help-desk REST APIs, chat
//! webhooks, PagerDuty), an SMTP receiver, and JSON Schema checks of what
//! they receive against the vendors' documented request shapes.

pub mod http;
pub mod schema;
pub mod smtp;

pub use http::{Reply, Request, StandIn};
mod selftest;
