//! Integration tests of the plugin host against real components built by
//! `scripts/build-plugins` (found under `target/plugins` and
//! `target/plugin-fixtures`). One binary, a module per area.

mod util;

mod approval;
mod authenticated;
mod checklist;
mod containment;
mod echo;
mod freshdesk;
mod github;
mod isolation;
mod jira;
mod notify;
mod outbound;
mod python;
mod reload;
mod sandbox;
mod writeback;
mod zammad;
mod zendesk;
