//! `consolebench`: the console and statistics figures at scale.
//!
//! `consolebench populate --tickets N` creates N tickets through
//! `POST /v1/events` in batches (signed like a help desk would), varied
//! over five channels, seven teams, three tiers and four priorities,
//! created over sixty days; a third get a public agent reply, a quarter
//! are solved, a tenth are rated, and one in nine asks to cancel (what the
//! example policies escalate). It waits until everything is processed.
//!
//! `consolebench measure` signs in to the console with the API token and
//! requests, one at a time, the queue (`/`), a ticket page, the matrix,
//! the reports page and `GET /v1/stats`, and prints the time to first
//! byte (until the response headers) p50/p99/max of each.
//! `scripts/console-bench` runs both around a restart.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use escalier_server::Secret;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8600")]
    url: String,
    #[arg(long, env = "ESCALIER_WEBHOOK_SECRET", hide_env_values = true)]
    secret: Option<String>,
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
        /// Events per request.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    Measure {
        /// Requests per page.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Tickets populated (ticket pages are picked among them).
        #[arg(long, default_value_t = 1_000_000)]
        tickets: u64,
    },
}

/// The path of the n-th request to a page.
type PathOf = Box<dyn Fn(usize) -> String>;

const CHANNELS: [&str; 5] = ["email", "chat", "phone", "web", "social_public"];
const TEAMS: [&str; 6] = [
    "billing", "payments", "identity", "mobile", "platform", "vip-desk",
];
const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

/// The events of ticket `i`.
fn events_of(i: u64, out: &mut Vec<String>) {
    let base: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap_or_default();
    // Sixty days of tickets: about one every five seconds at 1,000,000.
    let created = base + Duration::from_secs(i * 5 % (60 * 86_400));
    let at = |mins: u64| (created + Duration::from_secs(60 * mins)).to_string();
    let channel = CHANNELS[(i % 5) as usize];
    let team = match i % 7 {
        6 => String::new(),
        n => format!(r#","team":"{}""#, TEAMS[n as usize]),
    };
    let tier = 1 + i % 3;
    let priority = PRIORITIES[(i / 3 % 4) as usize];
    let subject = if i.is_multiple_of(9) {
        format!("I want to cancel my subscription ({i})")
    } else {
        format!("Cannot log in ({i})")
    };
    out.push(format!(
        r#"{{"id":"cn-{i}","type":"ticket.created","ticket_id":"CN-{i}","occurred_at":"{}","data":{{"subject":"{subject}","description":"{subject}","requester":{{"id":"c{i}"}},"channel":"{channel}","priority":"{priority}","tier":{tier}{team}}}}}"#,
        at(0)
    ));
    if i.is_multiple_of(3) {
        out.push(format!(
            r#"{{"id":"cn-{i}-r","type":"comment.added","ticket_id":"CN-{i}","occurred_at":"{}","data":{{"author":{{"kind":"agent","id":"a1"}},"public":true,"body":"On it"}}}}"#,
            at(20 + i % 240)
        ));
    }
    if i.is_multiple_of(4) {
        out.push(format!(
            r#"{{"id":"cn-{i}-s","type":"status.changed","ticket_id":"CN-{i}","occurred_at":"{}","data":{{"status":"solved"}}}}"#,
            at(300 + i % 3000)
        ));
    }
    if i.is_multiple_of(10) {
        out.push(format!(
            r#"{{"id":"cn-{i}-c","type":"csat.received","ticket_id":"CN-{i}","occurred_at":"{}","data":{{"score":{}}}}}"#,
            at(4000),
            1 + i % 5
        ));
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    match args.step {
        Step::Populate { tickets, batch } => {
            let secret = Secret::parse(
                args.secret
                    .as_deref()
                    .context("ESCALIER_WEBHOOK_SECRET is needed to populate")?,
            )?;
            let started = Instant::now();
            let (mut made, mut events, mut pending) = (0u64, 0u64, Vec::new());
            while made < tickets {
                let mut ticket = Vec::new();
                events_of(made, &mut ticket);
                if pending.len() + ticket.len() > batch {
                    events += pending.len() as u64;
                    post_events(&http, &args.url, &secret, &pending)?;
                    pending.clear();
                }
                pending.extend(ticket);
                made += 1;
                if made.is_multiple_of(100_000) {
                    eprintln!(
                        "{made} tickets, {:.0}/s",
                        made as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
            events += pending.len() as u64;
            post_events(&http, &args.url, &secret, &pending)?;
            loop {
                let h: serde_json::Value =
                    http.get(format!("{}/healthz", args.url)).send()?.json()?;
                if h["processed"] == h["committed"] {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let s = started.elapsed().as_secs_f64();
            println!(
                "populated {made} tickets ({events} events) in {s:.1}s ({:.0} tickets/s, {:.0} events/s, processed)",
                made as f64 / s,
                events as f64 / s
            );
        }
        Step::Measure { requests, tickets } => {
            let r = http
                .post(format!("{}/signin", args.url))
                .form(&[("token", args.token.as_str())])
                .send()?;
            if r.status() != 303 {
                bail!("sign-in refused: {}", r.status());
            }
            let cookie = r
                .headers()
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .context("no session cookie")?
                .to_owned();
            let pick =
                move |n: usize| format!("/tickets/CN-{}", (n as u64 * 7919) % tickets.max(1));
            let pages: Vec<(&str, PathOf, bool, usize)> = vec![
                ("queue /", Box::new(|_| "/".to_owned()), true, requests),
                (
                    "queue /?tier=2&sla=breaching&within=60",
                    Box::new(|_| "/?tier=2&sla=breaching&within=60".to_owned()),
                    true,
                    requests,
                ),
                (
                    "queue /?sort=updated&page=50",
                    Box::new(|_| "/?sort=updated&page=50".to_owned()),
                    true,
                    requests,
                ),
                ("ticket page", Box::new(pick), true, requests),
                (
                    "matrix",
                    Box::new(|_| "/matrix".to_owned()),
                    true,
                    requests / 4,
                ),
                (
                    "reports (60 days)",
                    Box::new(|_| "/reports?from=2026-01-01&to=2026-03-01".to_owned()),
                    true,
                    requests / 4,
                ),
                (
                    "GET /v1/stats (default: last 30 days)",
                    Box::new(|_| "/v1/stats".to_owned()),
                    false,
                    requests / 4,
                ),
                (
                    "GET /v1/stats (all 60 days)",
                    Box::new(|_| {
                        "/v1/stats?from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z".to_owned()
                    }),
                    false,
                    requests / 4,
                ),
            ];
            println!("| page | requests | TTFB p50 | TTFB p99 | TTFB max | body p50 |");
            println!("|---|---|---|---|---|---|");
            for (name, path, console, n) in pages {
                let mut ttfb = hdrhistogram::Histogram::<u64>::new(3)?;
                let mut total = hdrhistogram::Histogram::<u64>::new(3)?;
                // One warm-up request, not counted.
                for k in 0..=n.max(1) {
                    let url = format!("{}{}", args.url, path(k));
                    let req = if console {
                        http.get(&url).header("cookie", &cookie)
                    } else {
                        http.get(&url).bearer_auth(&args.token)
                    };
                    let t0 = Instant::now();
                    let r = req.send()?;
                    let first = t0.elapsed();
                    let status = r.status();
                    let body = r.bytes()?;
                    let all = t0.elapsed();
                    if !status.is_success() {
                        bail!("{url}: {status}: {}", String::from_utf8_lossy(&body));
                    }
                    if k > 0 {
                        ttfb.record(first.as_micros() as u64)?;
                        total.record(all.as_micros() as u64)?;
                    }
                }
                let ms = |us: u64| us as f64 / 1000.0;
                println!(
                    "| {name} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
                    ttfb.len(),
                    ms(ttfb.value_at_quantile(0.5)),
                    ms(ttfb.value_at_quantile(0.99)),
                    ms(ttfb.max()),
                    ms(total.value_at_quantile(0.5)),
                );
            }
        }
    }
    Ok(())
}

fn post_events(
    http: &reqwest::blocking::Client,
    url: &str,
    secret: &Secret,
    events: &[String],
) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let body = format!("[{}]", events.join(","));
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
