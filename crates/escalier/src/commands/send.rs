//! `escalier send FILE`: sign a JSON event file with the configured secret
//! (Standard Webhooks, `escalier_webhook::sign_headers`) and POST it — the
//! first tool a user reaches for.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::ConfigArgs;
use crate::config::Overrides;

/// Sign a JSON file of events (one object or an array) with the webhook
/// secret and POST it to a running server's /v1/events. Arrays are sent in
/// batches; re-sending is safe (duplicates are answered 200 and not stored
/// twice).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// JSON file with one event or an array of events; `-` reads standard input.
    file: PathBuf,
    /// Server URL. Default: http://<server.listen>/v1/events from the configuration.
    #[arg(long)]
    url: Option<String>,
    /// Events per request when the file holds an array.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch_size: u32,
    /// Data directory holding the generated secret, when no secret is configured.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        ..Overrides::default()
    };
    let cfg = args.config.load(overrides.clone())?;
    let secret = super::sign::signing_secret(&cfg)?;
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}/v1/events", cfg.server.listen));

    let text = if args.file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))?
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", args.file.display()))?;
    let bodies: Vec<Vec<u8>> = match &value {
        serde_json::Value::Array(items) => items
            .chunks(args.batch_size as usize)
            .map(|c| serde_json::to_vec(c).unwrap_or_default())
            .collect(),
        _ => vec![text.trim().as_bytes().to_vec()],
    };

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = reqwest::Client::new();
        let (mut stored, mut duplicates) = (0usize, 0usize);
        for body in bodies {
            let id = super::sign::delivery_id();
            let ts = jiff::Timestamp::now().as_second();
            let mut request = client.post(&url).header("content-type", "application/json");
            for (name, value) in escalier_webhook::sign_headers(&secret, &id, ts, &body) {
                request = request.header(name, value);
            }
            let resp = request
                .body(body)
                .send()
                .await
                .with_context(|| format!("POST {url}; is the server running?"))?;
            let status = resp.status();
            let answer: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
            if !status.is_success() {
                eprintln!(
                    "{status}: {}",
                    serde_json::to_string_pretty(&answer).unwrap_or_default()
                );
                return Ok(ExitCode::FAILURE);
            }
            let outcomes = answer
                .get("events")
                .and_then(|e| e.as_array())
                .cloned()
                .unwrap_or_else(|| vec![answer.clone()]);
            for o in &outcomes {
                match o.get("status").and_then(|s| s.as_str()) {
                    Some("stored") => stored += 1,
                    _ => duplicates += 1,
                }
            }
            if !args.quiet && outcomes.len() == 1 {
                println!("{status}: {answer}");
            }
        }
        if !args.quiet {
            println!("{stored} stored, {duplicates} duplicate");
        }
        Ok(ExitCode::SUCCESS)
    })
}
