//! `clockbench`: drive a server started with `--simulated-clock` to the
//! clock figures: many open tickets with running SLA clocks, and a cluster
//! of deadlines due in the same second.
//!
//! `clockbench populate --tickets N --cluster C` creates C tickets at the
//! start time (their first-response deadlines all fall in the same second),
//! then N - C more, moving the clock a minute every `--spread` tickets so
//! their deadlines come later. `clockbench fire --at T` moves the clock to
//! T and reports how long until every deadline due by then has fired and
//! been processed. `scripts/clockbench` runs both around a restart and
//! measures memory and start-up.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use escalier_server::Secret;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8600")]
    url: String,
    #[arg(long, env = "ESCALIER_WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    #[arg(long, env = "ESCALIER_API_TOKEN", hide_env_values = true)]
    token: String,
    #[command(subcommand)]
    step: Step,
}

#[derive(Debug, Subcommand)]
enum Step {
    Populate {
        #[arg(long, default_value_t = 1_000_000)]
        tickets: u64,
        #[arg(long, default_value_t = 10_000)]
        cluster: u64,
        /// Tickets created per simulated minute after the cluster.
        #[arg(long, default_value_t = 20_000)]
        spread: u64,
        #[arg(long, default_value_t = 1000)]
        batch: u64,
    },
    Fire {
        /// Move the clock here (RFC 3339).
        #[arg(long)]
        at: String,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let secret = Secret::parse(&args.secret)?;
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    match args.step {
        Step::Populate {
            tickets,
            cluster,
            spread,
            batch,
        } => {
            let started = Instant::now();
            let mut made = 0u64;
            let mut since_tick = 0u64;
            while made < tickets {
                // The cluster alone at the start time; then batches up to the spread.
                let n = if made < cluster {
                    batch.min(cluster - made)
                } else {
                    batch.min(tickets - made)
                };
                let body = format!(
                    "[{}]",
                    (made..made + n)
                        .map(|i| format!(
                            r#"{{"id":"cb-{i}","type":"ticket.created","ticket_id":"CB-{i}","occurred_at":"2026-03-02T00:00:00Z","data":{{"subject":"Clock bench {i}","requester":{{"id":"c{i}"}},"channel":"email"}}}}"#
                        ))
                        .collect::<Vec<_>>()
                        .join(",")
                );
                post_events(&http, &args.url, &secret, body)?;
                made += n;
                since_tick += n;
                // After the cluster, move time on so later tickets are due later.
                if made == cluster || (made > cluster && since_tick >= spread) {
                    since_tick = 0;
                    clock(&http, &args.url, &args.token, r#"{"advance": "1m"}"#)?;
                }
                if made.is_multiple_of(100_000) {
                    eprintln!(
                        "{made} tickets, {:.0}/s",
                        made as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
            // Wait for the processor to catch up.
            loop {
                let h: serde_json::Value =
                    http.get(format!("{}/healthz", args.url)).send()?.json()?;
                if h["processed"] == h["committed"] {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            println!(
                "populated {made} tickets in {:.1}s ({:.0} tickets/s, processed)",
                started.elapsed().as_secs_f64(),
                made as f64 / started.elapsed().as_secs_f64()
            );
        }
        Step::Fire { at } => {
            let started = Instant::now();
            let r = clock(
                &http,
                &args.url,
                &args.token,
                &format!(r#"{{"set": "{at}"}}"#),
            )?;
            let took = started.elapsed();
            println!(
                "moved the clock to {at}: {} ticks fired and processed in {:.3}s (every deadline of the cluster within that time)",
                r["fired"],
                took.as_secs_f64()
            );
        }
    }
    Ok(())
}

fn post_events(
    http: &reqwest::blocking::Client,
    url: &str,
    secret: &Secret,
    body: String,
) -> anyhow::Result<()> {
    let id = format!("msg_{:016x}", rand::random::<u64>());
    let ts = jiff::Timestamp::now().as_second();
    let r = http
        .post(format!("{url}/v1/events"))
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", secret.sign(&id, ts, body.as_bytes()))
        .body(body)
        .send()?;
    if !r.status().is_success() {
        bail!(
            "ingest refused: {} {}",
            r.status(),
            r.text().unwrap_or_default()
        );
    }
    Ok(())
}

fn clock(
    http: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    body: &str,
) -> anyhow::Result<serde_json::Value> {
    let r = http
        .post(format!("{url}/v1/admin/clock"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .context("moving the clock")?;
    if !r.status().is_success() {
        bail!(
            "clock refused: {} {}",
            r.status(),
            r.text().unwrap_or_default()
        );
    }
    Ok(r.json()?)
}
