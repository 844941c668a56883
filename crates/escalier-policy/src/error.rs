//! Errors, one type per operation, and [`Error`] as their superset.
//!
//! Policy failures at run time are not errors of this crate: they become
//! `policy.error` reactions (see the `eval` module).

use std::path::PathBuf;

use crate::diagnostic::{Diagnostic, Listing};

/// A policy set that could not be loaded, with every problem found (not
/// just the first: fixing one file at a time is slow).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the policies could not be loaded ({} problem(s)):\n{}", .diagnostics.len(), Listing(.diagnostics))]
pub struct LoadError {
    pub diagnostics: Vec<Diagnostic>,
}

/// Watching the policies directory could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch the policies directory {}: {source}", .dir.display())]
pub struct WatchError {
    pub dir: PathBuf,
    #[source]
    pub source: notify::Error,
}

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Watch(#[from] WatchError),
}
