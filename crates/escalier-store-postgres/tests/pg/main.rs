//! PostgreSQL backend tests against a real server.
//!
//! They need `ESCALIER_TEST_POSTGRES`: the URL of a running server whose
//! user may create databases (scripts/pg prints one). Each test creates its
//! own database and drops it afterwards. Without the variable every test
//! prints `SKIPPED` and passes.

mod common;

mod changes;
mod leases;
mod log;
mod nodes;
mod order;
mod outbox;
mod reads;
mod schema;
mod tls;
mod versions;
