//! `escalier verify`: check a stopped server's data directory for
//! consistency (every invariant of the store, and tickets against a fresh
//! fold of the log). Exit 1 on any problem. It reads the database itself,
//! so it cannot run beside a server (which holds it locked); there is no
//! API form.

use std::path::PathBuf;
use std::process::ExitCode;

use super::ConfigArgs;
use crate::config::Overrides;

/// Check a stopped server's data directory for consistency.
///
/// Checks the log, indexes and tickets. Needs the server stopped: a running
/// server holds its database locked. To check a live system, verify a copy
/// of the data directory taken while the server was stopped (or from a
/// filesystem snapshot).
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
    let cfg = args.config.load(overrides.clone())?;
    let store = crate::store::open_for_tool(
        &cfg,
        "verify needs the server stopped: stop it and run verify again, or verify a copy of the data directory taken while it was stopped",
    )?;
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
