//! `escalier verify`: check a stopped server's data directory for
//! consistency (every invariant of the store, and tickets against a fresh
//! fold of the log). Exit 1 on any problem.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use escalier_store::{Store, StoreOptions};

use super::ConfigArgs;
use crate::config::{Config, Overrides};

/// Check a data directory's log, indexes and tickets for consistency. The
/// server must be stopped (the database is opened exclusively); run it on a
/// copy to check a live system.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data directory. Overrides storage.data_dir.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Policies directory whose sla.toml / ladders.toml the log was processed with. Overrides policies.dir.
    #[arg(long)]
    policies: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        policies: args.policies.clone(),
        ..Overrides::default()
    };
    let cfg = Config::load(args.config.config.as_deref(), &overrides)?;
    let path = cfg.db_path();
    anyhow::ensure!(path.is_file(), "no database at {}", path.display());
    let store = Store::open(&path, &StoreOptions::default()).with_context(|| {
        format!(
            "opening {} (is a server still running on it?)",
            path.display()
        )
    })?;
    let report = store.verify(crate::fold::fold_fn(&cfg)?)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} inputs, {} derived records, {} tickets, processed through {}",
            report.inputs, report.derived, report.tickets, report.processed
        );
        for p in &report.problems {
            println!("problem: {p}");
        }
        println!(
            "{}",
            if report.ok() {
                "consistent"
            } else {
                "INCONSISTENT"
            }
        );
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
