//! Integration tests for escalier-policy: one binary, a module per area.

mod util;

mod api;
mod budget;
mod diagnostics;
mod examples;
mod legal_input;
mod print;
mod reload;
mod robustness;
mod sandbox;
mod watch;
