//! `escalier migrate --to VERSION [--dry-run]`: move open tickets pinned to
//! older policy set versions (`policies.pin = "ticket"`) onto another one,
//! through a running server's `POST /v1/admin/migrate`.

use std::process::ExitCode;

use anyhow::Context;

use super::ConfigArgs;
use crate::config::{Config, Overrides};

/// Move open tickets pinned to older policy versions onto VERSION (or
/// `latest`). With --dry-run, show per ticket what would change; without,
/// record a `policy.migrated` event on each. Talks to the running server.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target policy set version (`sha256:...`, see GET /v1/policies), or `latest`.
    #[arg(long)]
    to: String,
    /// Show what would change; move nothing.
    #[arg(long)]
    dry_run: bool,
    /// Server base URL. Default: http://<server.listen>.
    #[arg(long)]
    url: Option<String>,
    /// Admin API token.
    #[arg(long, env = "ESCALIER_API_TOKEN", hide_env_values = true)]
    token: String,
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = Config::load(args.config.config.as_deref(), &Overrides::default())?;
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", cfg.server.listen));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, answer): (u16, serde_json::Value) = rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("{base}/v1/admin/migrate"))
            .bearer_auth(&args.token)
            .json(&serde_json::json!({ "to": args.to, "dry_run": args.dry_run }))
            .send()
            .await
            .with_context(|| format!("POST {base}/v1/admin/migrate; is the server running?"))?;
        let status = resp.status().as_u16();
        anyhow::Ok((status, resp.json().await.unwrap_or(serde_json::Value::Null)))
    })?;
    if !(200..300).contains(&status) {
        eprintln!(
            "{status}: {}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return Ok(ExitCode::FAILURE);
    }
    let to = answer["to"].as_str().unwrap_or_default();
    let tickets = answer["tickets"].as_array().cloned().unwrap_or_default();
    let verb = if args.dry_run { "would move" } else { "moved" };
    println!("{verb} {} open tickets to {to}", tickets.len());
    for t in &tickets {
        let from = t["from"].as_str().unwrap_or("(unpinned)");
        println!("  {}  {from} -> {to}", t["id"].as_str().unwrap_or_default());
    }
    if let Some(changes) = answer["changes"].as_object() {
        for (from, c) in changes {
            println!("changes from {from}:");
            for (what, sign) in [("added", "+"), ("removed", "-"), ("changed", "~")] {
                for f in c[what].as_array().into_iter().flatten() {
                    println!("  {sign} {}", f.as_str().unwrap_or_default());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
