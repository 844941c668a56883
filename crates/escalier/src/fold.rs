//! How to rebuild a ticket from its recorded records, for `verify` and
//! tools that check a log against its projection: the reducer plus the
//! clock and ladder updates, with the SLA and ladder files of the
//! configured policies directory.

use std::sync::Arc;

use escalier_core::timers::{self, Books};
use escalier_core::{Record, Ticket};

use crate::config::Config;

/// A fold function matching what the processor stores. Exact when the SLA
/// and ladder files are the ones the log was processed with.
pub fn fold_fn(
    cfg: &Config,
) -> anyhow::Result<impl FnMut(Option<Ticket>, &Record) -> Option<Ticket>> {
    let books = books(cfg)?;
    Ok(move |t: Option<Ticket>, r: &Record| timers::replay(t.clone(), r, &books).ok().or(t))
}

/// The books of the configured policies directory (empty if it has none).
pub fn books(cfg: &Config) -> anyhow::Result<Arc<Books>> {
    if !cfg.policies.dir.is_dir() {
        return Ok(Arc::new(Books::empty()));
    }
    let engine = Arc::new(escalier_policy::PolicyEngine::new(
        cfg.policies.limits.clone(),
    ));
    match escalier_policy::PolicySet::load_dir_with(&engine, &cfg.policies.dir) {
        Ok(set) => Ok(set.books().clone()),
        Err(e) => {
            let listing: Vec<String> = e.diagnostics.iter().map(|d| d.to_string()).collect();
            anyhow::bail!(
                "the policies in {} do not load:\n{}",
                cfg.policies.dir.display(),
                listing.join("\n")
            )
        }
    }
}
