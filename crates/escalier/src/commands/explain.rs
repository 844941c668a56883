//! `escalier explain TICKET`: the story of one ticket from a stopped
//! server's data directory or an export: every event, clock, ladder step
//! and action, and what made each.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use escalier_lab::explain;

use super::ConfigArgs;
use super::replay::LogArgs;

/// Tell a ticket's story: events, SLA clocks (started, paused, warned,
/// breached, met), ladder steps and actions, each with the policy file, hash
/// and line that produced it and the record it reacted to.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ticket id.
    ticket: String,
    #[command(flatten)]
    log: LogArgs,
    /// Policies directory to locate policies and derive clock changes with
    /// (the one the log was processed with). Default: policies.dir.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = super::test::Format::Text)]
    format: super::test::Format,
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (cfg, policies) = args.log.load(&args.config, args.policies.clone())?;
    let policies = match policies {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!(
                "warning: the policies in {} do not load ({e}); the story shows recorded events only",
                cfg.policies.dir.display()
            );
            None
        }
    };
    let records = match &args.log.log {
        Some(path) => {
            let mut records = Vec::new();
            escalier_lab::log::read_ndjson(path, |r| {
                if r.event.ticket_id.as_str() == args.ticket {
                    records.push(r);
                }
            })?;
            records
        }
        None => escalier_lab::log::open_store(&cfg.db_path())?.timeline(&args.ticket)?,
    };
    let books = policies.as_ref().map(|p| Arc::clone(p.books()));
    let Some(story) = explain::explain(records, &args.ticket, books.as_deref(), policies.as_ref())
    else {
        anyhow::bail!("no ticket {} in this log", args.ticket);
    };
    match args.format {
        super::test::Format::Text => print!("{}", explain::render(&story)),
        super::test::Format::Json => println!("{}", serde_json::to_string_pretty(&story)?),
    }
    Ok(ExitCode::SUCCESS)
}
