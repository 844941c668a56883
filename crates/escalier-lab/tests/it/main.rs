//! escalier-lab's integration tests, one module per area.

mod explain;
mod policy_tests;
mod replay;
