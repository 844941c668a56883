//! Integration tests for escalier-policy: one binary, a module per area.

mod util;

mod api;
mod diagnostics;
mod examples;
mod reload;
mod robustness;
mod sandbox;
mod watch;
