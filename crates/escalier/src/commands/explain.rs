//! `escalier explain TICKET`: the story of one ticket: every event, clock,
//! ladder step and action, and what made each. From a running server
//! (`--url`, through `GET /v1/tickets/{id}/explain`), an export (`--log`),
//! or a stopped server's data directory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use escalier_lab::explain;

use super::ConfigArgs;
use super::remote::{self, Remote, RemoteArgs};
use super::replay::LogArgs;

/// Tell a ticket's story: events, clocks, ladder steps and actions, and
/// why (--url asks a running server).
///
/// Every event, SLA clock change (started, paused, warned, breached, met),
/// ladder step and action, each with the policy file, hash and line that
/// produced it and the record it reacted to. With --url it asks a running
/// server (which holds its data directory locked); otherwise it reads an
/// export (--log) or a stopped server's data directory.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ticket id.
    ticket: String,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    log: LogArgs,
    /// Policies directory to locate policies and derive clock changes with
    /// (the one the log was processed with). Default: policies.dir. Not
    /// used with --url: the server uses its own.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = super::test::Format::Text)]
    format: super::test::Format,
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(server) = Remote::from_args(&args.remote)? {
        return from_server(&server, &args);
    }
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
        None => crate::store::open_for_tool(
            &cfg,
            &format!(
                "ask it instead: escalier explain --url http://{} {} (with a `read` token in --token or ESCALIER_API_TOKEN)",
                cfg.server.listen, args.ticket
            ),
        )?
        .timeline(&args.ticket)?,
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

/// `GET /v1/tickets/{id}/explain`, printed as the server tells it.
fn from_server(server: &Remote, args: &Args) -> anyhow::Result<ExitCode> {
    let format = match args.format {
        super::test::Format::Text => "text",
        super::test::Format::Json => "json",
    };
    let (status, body) = server.get(
        &["v1", "tickets", &args.ticket, "explain"],
        &[("format", format.to_owned())],
    )?;
    if status != 200 {
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if status == 404 && answer["error"]["field"] == "id" {
            anyhow::bail!("no ticket {} on this server", args.ticket);
        }
        return Err(remote::refusal(status, &body));
    }
    match args.format {
        super::test::Format::Text => print!("{}", String::from_utf8_lossy(&body)),
        super::test::Format::Json => {
            let story: serde_json::Value = serde_json::from_slice(&body)?;
            println!("{}", serde_json::to_string_pretty(&story)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
