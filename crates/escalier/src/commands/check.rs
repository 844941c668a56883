//! `escalier check [DIR]`: compile every policy the way the server would
//! and print each error as `file:line:col`. Exit 1 if any.

use std::path::PathBuf;
use std::process::ExitCode;

use super::ConfigArgs;
use crate::config::{Config, Overrides};

/// Compile the escalation policies and report every error as file:line:col
/// (exit status 1 if there are errors). Nothing is started or changed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policies directory. Default: policies.dir from the configuration (./policies).
    dir: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = Config::load(args.config.config.as_deref(), &Overrides::default())?;
    let dir = args.dir.unwrap_or(cfg.policies.dir);
    anyhow::ensure!(
        dir.is_dir(),
        "policies directory {} does not exist",
        dir.display()
    );
    let engine = std::sync::Arc::new(escalier_policy::PolicyEngine::new(cfg.policies.limits));
    match escalier_policy::PolicySet::load_dir_with(&engine, &dir) {
        Ok(set) => {
            println!(
                "{}: {} policies OK (set version {})",
                dir.display(),
                set.len(),
                set.version()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("{d}");
            }
            let n = e.diagnostics.len();
            eprintln!(
                "{}: {n} error{}; a server would reject this set and keep the one it has",
                dir.display(),
                if n == 1 { "" } else { "s" }
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
