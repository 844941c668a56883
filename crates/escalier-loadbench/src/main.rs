//! `escalier-loadbench`: drive `POST /v1/events` with N concurrent signed
//! clients, each on its own keep-alive HTTP/1.1 connection, and report
//! durable events/s, latency percentiles, and events per commit (read from
//! the server's `/metrics` before and after).
//!
//! Each client plays a help desk: it creates tickets and then sends a
//! realistic mix of comments, status changes, assignments and updates for
//! them, one event per request (the hardest case for ingest), or batches
//! with `--batch`. Every request is signed like a real sender would.
//!
//! With `--source zendesk` the clients play Zendesk instead: they send
//! event-subscription webhooks (`zen:event-type:ticket.*`), signed as
//! Zendesk signs them, to `POST /v1/sources/zendesk`, so the adapter
//! plugin's cost shows beside the native path's.
//!
//! Several nodes sharing one store: give `--url` once per node (or
//! comma-separated); client `c` talks to node `c % n`, and the events per
//! commit sum every node's writer figures. `--lag` also reports the
//! writers' mean commit time and the processing lag when the load stops
//! (`committed - processed` from each node's `/healthz`), and how long it
//! takes to drain.
//!
//! Run it against a release build; `scripts/loadbench` does the set-up
//! (`scripts/clusterbench` for several nodes on PostgreSQL).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use escalier_server::Secret;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
#[command(about = "Load benchmark for POST /v1/events")]
struct Args {
    /// Server base URL (http only). Repeat it (or separate with commas)
    /// for several nodes sharing one store: clients are spread over them
    /// round-robin, and /metrics is summed over all of them.
    #[arg(
        long,
        default_value = "http://127.0.0.1:8600",
        value_delimiter = ',',
        num_args = 1
    )]
    url: Vec<String>,
    /// Webhook secret (whsec_...). Default: $ESCALIER_WEBHOOK_SECRET.
    #[arg(long, env = "ESCALIER_WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// API token with `read`, to scrape /metrics. Default: $ESCALIER_API_TOKEN.
    #[arg(
        long,
        env = "ESCALIER_API_TOKEN",
        hide_env_values = true,
        default_value = ""
    )]
    token: String,
    /// Concurrent clients, one connection each.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Measured duration.
    #[arg(long, default_value = "20s", value_parser = humantime_like)]
    duration: Duration,
    /// Warm-up before measuring.
    #[arg(long, default_value = "3s", value_parser = humantime_like)]
    warmup: Duration,
    /// Events per request.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Run id, to keep event ids unique across runs against one data dir.
    #[arg(long)]
    run: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Send a help desk's own webhooks through its adapter instead of
    /// Escalier events: `zendesk` (needs the adapter loaded).
    #[arg(long, value_parser = ["zendesk"])]
    source: Option<String>,
    /// The Zendesk webhook signing secret the adapter checks.
    #[arg(
        long,
        env = "ESCALIER_SECRET_ZENDESK_WEBHOOK_SECRET",
        hide_env_values = true,
        default_value = ""
    )]
    zendesk_secret: String,
    /// Also report the writers' mean commit time, the processing lag
    /// (`committed - processed` of each node's /healthz) when the load
    /// stops, and how long processing takes to catch up.
    #[arg(long)]
    lag: bool,
}

fn humantime_like(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().map_err(|_| format!("bad duration {s}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("bad duration unit in {s}")),
    }
}

/// One server (node) the clients talk to.
struct Target {
    /// `host:port`, for the Host header and the connection.
    addr: String,
}

struct Shared {
    secret: Secret,
    token: String,
    /// Client `c` talks to `targets[c % targets.len()]`.
    targets: Vec<Target>,
    run: String,
    batch: usize,
    /// `Some(secret)`: send Zendesk webhooks to `/v1/sources/zendesk`.
    zendesk: Option<Vec<u8>>,
    measuring: std::sync::atomic::AtomicBool,
    stop: std::sync::atomic::AtomicBool,
    events: AtomicU64,
    errors: AtomicU64,
    /// 429 and 503 answers; the client waits out their Retry-After and
    /// sends the request again, as a well-behaved sender does.
    throttled: AtomicU64,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let secret = Secret::parse(&args.secret).context("--secret")?;
    let mut targets = Vec::new();
    for url in &args.url {
        let addr = url
            .trim()
            .strip_prefix("http://")
            .context("--url must start with http://")?
            .trim_end_matches('/')
            .to_owned();
        targets.push(Target { addr });
    }
    anyhow::ensure!(!targets.is_empty(), "--url: give at least one");
    let shared = Arc::new(Shared {
        secret,
        token: args.token.clone(),
        targets,
        run: args
            .run
            .clone()
            .unwrap_or_else(|| format!("{:08x}", rand::random::<u32>())),
        batch: args.batch.max(1),
        zendesk: match args.source.as_deref() {
            Some("zendesk") => {
                anyhow::ensure!(
                    !args.zendesk_secret.is_empty(),
                    "--source zendesk needs --zendesk-secret (or ESCALIER_SECRET_ZENDESK_WEBHOOK_SECRET)"
                );
                Some(args.zendesk_secret.clone().into_bytes())
            }
            _ => None,
        },
        measuring: false.into(),
        stop: false.into(),
        events: 0.into(),
        errors: 0.into(),
        throttled: 0.into(),
    });

    let before = scrape(&shared).await.unwrap_or_default();
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        tasks.push(tokio::spawn(client(shared.clone(), c)));
    }
    tokio::time::sleep(args.warmup).await;
    let at_start = scrape(&shared).await.unwrap_or_default();
    shared.measuring.store(true, Ordering::SeqCst);
    let started = Instant::now();
    tokio::time::sleep(args.duration).await;
    shared.measuring.store(false, Ordering::SeqCst);
    let elapsed = started.elapsed();
    let at_end = scrape(&shared).await.unwrap_or_default();
    shared.stop.store(true, Ordering::SeqCst);
    // The lag the moment the load stops, then how long it takes to drain.
    let lag = if args.lag {
        Some(lag_after(&shared).await)
    } else {
        None
    };

    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for t in tasks {
        let h = t.await??;
        hist.add(h)?;
    }
    let _ = before;
    let events = shared.events.load(Ordering::SeqCst);
    let batches = at_end.batches - at_start.batches;
    let committed = at_end.batch_events - at_start.batch_events;
    let per_commit = if batches > 0.0 {
        committed / batches
    } else {
        0.0
    };
    let commits = at_end.commits - at_start.commits;
    let commit_ms = if commits > 0.0 {
        (at_end.commit_seconds - at_start.commit_seconds) / commits * 1000.0
    } else {
        0.0
    };
    let rate = events as f64 / elapsed.as_secs_f64();
    let q = |p: f64| hist.value_at_quantile(p) as f64 / 1000.0;
    let nodes = shared.targets.len();
    if args.json {
        let mut out = serde_json::json!({
            "path": if shared.zendesk.is_some() { "/v1/sources/zendesk" } else { "/v1/events" },
            "clients": args.clients, "batch": args.batch, "seconds": elapsed.as_secs_f64(),
            "events": events, "events_per_sec": rate, "requests": hist.len(),
            "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "max_ms": hist.max() as f64 / 1000.0,
            "errors": shared.errors.load(Ordering::SeqCst), "events_per_commit": per_commit,
            "throttled": shared.throttled.load(Ordering::SeqCst),
        });
        if nodes > 1 {
            out["nodes"] = nodes.into();
        }
        if let Some(l) = &lag {
            out["commit_ms_mean"] = commit_ms.into();
            out["commits_per_sec"] = (commits / elapsed.as_secs_f64()).into();
            out["lag_after"] = l.lag.into();
            out["lag_per_node"] = l.per_node.clone().into();
            out["drain_seconds"] = l.drain.map(|d| d.as_secs_f64()).into();
        }
        println!("{out}");
    } else {
        if nodes > 1 {
            println!("nodes {nodes}  (client c sends to --url number c % {nodes})");
        }
        println!(
            "path {}  clients {}  batch {}  measured {:.1}s",
            if shared.zendesk.is_some() {
                "/v1/sources/zendesk"
            } else {
                "/v1/events"
            },
            args.clients,
            args.batch,
            elapsed.as_secs_f64()
        );
        println!(
            "durable events/s   {rate:>10.0}   ({events} events, {} requests)",
            hist.len()
        );
        println!(
            "latency ms         p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            q(0.5),
            q(0.9),
            q(0.99),
            hist.max() as f64 / 1000.0
        );
        println!("events per commit  {per_commit:>10.1}");
        println!(
            "errors             {:>10}",
            shared.errors.load(Ordering::SeqCst)
        );
        println!(
            "throttled (429/503){:>10}   (retried after Retry-After)",
            shared.throttled.load(Ordering::SeqCst)
        );
        if let Some(l) = &lag {
            println!(
                "commit ms (mean)   {commit_ms:>10.2}   ({:.0} commits/s over all nodes)",
                commits / elapsed.as_secs_f64()
            );
            let drain = match l.drain {
                Some(d) => format!("caught up in {:.2}s", d.as_secs_f64()),
                None => "not caught up within 60s".to_owned(),
            };
            println!(
                "lag after run      {:>10}   inputs committed, not processed ({drain})",
                l.lag
            );
        }
    }
    Ok(())
}

/// Processing lag when the load stops.
struct Lag {
    /// The largest `committed - processed` over the nodes.
    lag: u64,
    per_node: Vec<u64>,
    /// Until every node reports `processed >= committed` as first seen.
    drain: Option<Duration>,
}

/// `committed - processed` of each node's /healthz now, then poll until
/// each has processed what it reported committed (at most 60 s).
async fn lag_after(shared: &Shared) -> Lag {
    let started = Instant::now();
    let mut per_node = Vec::new();
    let mut goal = Vec::new();
    for t in &shared.targets {
        let (committed, processed) = health(shared, t).await.unwrap_or((0, 0));
        per_node.push(committed.saturating_sub(processed));
        goal.push(committed);
    }
    let mut drain = None;
    while started.elapsed() < Duration::from_secs(60) {
        let mut done = true;
        for (t, want) in shared.targets.iter().zip(&goal) {
            match health(shared, t).await {
                Ok((_, processed)) if processed >= *want => {}
                _ => done = false,
            }
        }
        if done {
            drain = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Lag {
        lag: per_node.iter().copied().max().unwrap_or(0),
        per_node,
        drain,
    }
}

/// `committed` and `processed` from a node's /healthz.
/// With the token, so that polling is not counted against the limit for
/// requests without a credential.
async fn health(shared: &Shared, target: &Target) -> anyhow::Result<(u64, u64)> {
    let mut sender = connect(&target.addr).await?;
    let req = hyper::Request::get("/healthz")
        .header("host", &target.addr)
        .header("authorization", format!("Bearer {}", shared.token))
        .body(Full::new(Bytes::new()))?;
    let resp = sender.send_request(req).await?;
    let body = resp.into_body().collect().await?.to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let field = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
    Ok((
        field("committed").context("/healthz: no committed")?,
        field("processed").context("/healthz: no processed")?,
    ))
}

#[derive(Default, Clone, Copy)]
struct Scraped {
    batches: f64,
    batch_events: f64,
    commits: f64,
    commit_seconds: f64,
}

/// The writers' batch and commit figures from /metrics, summed over every
/// node (a node that does not answer counts as zero, as one did before).
async fn scrape(shared: &Shared) -> anyhow::Result<Scraped> {
    let mut total = Scraped::default();
    for t in &shared.targets {
        let s = scrape_one(shared, t).await.unwrap_or_default();
        total.batches += s.batches;
        total.batch_events += s.batch_events;
        total.commits += s.commits;
        total.commit_seconds += s.commit_seconds;
    }
    Ok(total)
}

/// Read one node's writer batch and commit histograms from /metrics.
async fn scrape_one(shared: &Shared, target: &Target) -> anyhow::Result<Scraped> {
    let mut sender = connect(&target.addr).await?;
    let req = hyper::Request::get("/metrics")
        .header("host", &target.addr)
        .header("authorization", format!("Bearer {}", shared.token))
        .body(Full::new(Bytes::new()))?;
    let resp = sender.send_request(req).await?;
    let text = String::from_utf8(resp.into_body().collect().await?.to_bytes().to_vec())?;
    let mut s = Scraped::default();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some("escalier_batch_events_count"), Some(v)) => s.batches = v.parse().unwrap_or(0.0),
            (Some("escalier_batch_events_sum"), Some(v)) => {
                s.batch_events = v.parse().unwrap_or(0.0)
            }
            (Some("escalier_commit_seconds_count"), Some(v)) => {
                s.commits = v.parse().unwrap_or(0.0)
            }
            (Some("escalier_commit_seconds_sum"), Some(v)) => {
                s.commit_seconds = v.parse().unwrap_or(0.0)
            }
            _ => {}
        }
    }
    Ok(s)
}

async fn connect(
    addr: &str,
) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One help desk: creates tickets, then sends their life events.
async fn client(shared: Arc<Shared>, c: usize) -> anyhow::Result<Histogram<u64>> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let target = &shared.targets[c % shared.targets.len()];
    let mut sender = connect(&target.addr).await?;
    let mut n: u64 = 0;
    let mut tickets: Vec<String> = Vec::new();
    let per_request = if shared.zendesk.is_some() {
        1
    } else {
        shared.batch as u64
    };
    while !shared.stop.load(Ordering::Relaxed) {
        let body = if shared.zendesk.is_some() {
            // A help desk sends one event per webhook.
            n += 1;
            zendesk_event(&shared.run, c, n, &mut tickets)
        } else {
            let mut events = Vec::with_capacity(shared.batch);
            for _ in 0..shared.batch {
                n += 1;
                events.push(next_event(&shared.run, c, n, &mut tickets));
            }
            if shared.batch == 1 {
                events.pop().unwrap_or_default()
            } else {
                format!("[{}]", events.join(","))
            }
        };
        let id = format!("msg_{}_{c}_{n}", shared.run);
        let body = Bytes::from(body);
        // A throttled request is sent again after its Retry-After, with a
        // fresh timestamp and signature, as a well-behaved sender does.
        loop {
            let req = match &shared.zendesk {
                Some(key) => {
                    let ts = jiff::Timestamp::now().to_string();
                    hyper::Request::post("/v1/sources/zendesk")
                        .header("host", &target.addr)
                        .header("content-type", "application/json")
                        .header("x-zendesk-webhook-signature", zendesk_sign(key, &ts, &body))
                        .header("x-zendesk-webhook-signature-timestamp", ts)
                        .body(Full::new(body.clone()))?
                }
                None => {
                    let ts = jiff::Timestamp::now().as_second();
                    let sig = shared.secret.sign(&id, ts, &body);
                    hyper::Request::post("/v1/events")
                        .header("host", &target.addr)
                        .header("content-type", "application/json")
                        .header("webhook-id", &id)
                        .header("webhook-timestamp", ts.to_string())
                        .header("webhook-signature", sig)
                        .body(Full::new(body.clone()))?
                }
            };
            let started = Instant::now();
            let resp = sender.send_request(req).await?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let _ = resp.into_body().collect().await?;
            let micros = started.elapsed().as_micros() as u64;
            let throttled = matches!(status, 429 | 503);
            if shared.measuring.load(Ordering::Relaxed) {
                if status == 202 {
                    hist.record(micros.max(1))?;
                    shared.events.fetch_add(per_request, Ordering::Relaxed);
                } else if throttled {
                    shared.throttled.fetch_add(1, Ordering::Relaxed);
                } else {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            if !throttled || shared.stop.load(Ordering::Relaxed) {
                break;
            }
            let wait = Duration::from_secs(retry_after.unwrap_or(1).clamp(1, 5));
            tokio::time::sleep(wait).await;
        }
    }
    Ok(hist)
}

/// The next event of a plausible support day for client `c`.
fn next_event(run: &str, c: usize, n: u64, tickets: &mut Vec<String>) -> String {
    let id = format!("{run}-{c}-{n}");
    let at = jiff::Timestamp::now();
    // Every 8th event opens a ticket; the rest happen to one of the last 50.
    if tickets.is_empty() || n % 8 == 1 {
        let t = format!("LB-{run}-{c}-{n}");
        tickets.push(t.clone());
        if tickets.len() > 50 {
            tickets.remove(0);
        }
        let channel = ["email", "chat", "web", "social_public", "phone"][(n as usize / 8) % 5];
        let prio = ["low", "normal", "normal", "high", "urgent"][(n as usize / 8 + c) % 5];
        let vip = n % 40 == 1;
        return format!(
            r#"{{"id":"{id}","type":"ticket.created","ticket_id":"{t}","occurred_at":"{at}","data":{{"subject":"Invoice shows the wrong amount","description":"Hello, since the last update my invoice for March is wrong and the export fails with an error. Please help.","requester":{{"id":"cust-{c}-{n}","name":"Dana Client","email":"dana{c}@example.com","plan":"pro","vip":{vip}}},"channel":"{channel}","priority":"{prio}","tags":["billing"],"fields":{{"order_id":"A-{n}","refund_amount":{}}}}}}}"#,
            n % 300
        );
    }
    let t = &tickets[(n as usize * 7) % tickets.len()];
    match n % 8 {
        2 | 5 => format!(
            r#"{{"id":"{id}","type":"comment.added","ticket_id":"{t}","occurred_at":"{at}","data":{{"author":{{"kind":"customer","id":"cust"}},"public":true,"body":"Any news? I need this fixed before the end of the month or I will have to cancel."}}}}"#
        ),
        3 | 6 => format!(
            r#"{{"id":"{id}","type":"comment.added","ticket_id":"{t}","occurred_at":"{at}","data":{{"author":{{"kind":"agent","id":"agent-{c}"}},"public":true,"body":"Thanks for waiting, we are looking into the invoice now."}}}}"#
        ),
        4 => format!(
            r#"{{"id":"{id}","type":"ticket.assigned","ticket_id":"{t}","occurred_at":"{at}","data":{{"team":"billing","agent":"agent-{c}"}}}}"#
        ),
        7 => format!(
            r#"{{"id":"{id}","type":"ticket.updated","ticket_id":"{t}","occurred_at":"{at}","data":{{"tags_added":["followup"],"fields":{{"seen":true}}}}}}"#
        ),
        _ => format!(
            r#"{{"id":"{id}","type":"status.changed","ticket_id":"{t}","occurred_at":"{at}","data":{{"status":"open"}}}}"#
        ),
    }
}

/// `X-Zendesk-Webhook-Signature`: base64 of HMAC-SHA256 over the timestamp
/// text followed by the body.
fn zendesk_sign(key: &[u8], ts: &str, body: &[u8]) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(ts.as_bytes());
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The next Zendesk event-subscription delivery for client `c`: the same
/// mix as [`next_event`] (one ticket created in eight, then comments,
/// status and priority changes), shaped like Zendesk's documented examples.
fn zendesk_event(run: &str, c: usize, n: u64, tickets: &mut Vec<String>) -> String {
    let at = jiff::Timestamp::now();
    let new_ticket = tickets.is_empty() || n % 8 == 1;
    if new_ticket {
        // Zendesk ticket ids are numbers: client, run-local counter.
        tickets.push(format!("{}{:04}{:09}", 1 + run.len() % 9, c, n));
        if tickets.len() > 50 {
            tickets.remove(0);
        }
    }
    let t = if new_ticket {
        tickets[tickets.len() - 1].clone()
    } else {
        tickets[(n as usize * 7) % tickets.len()].clone()
    };
    let prio = ["LOW", "NORMAL", "NORMAL", "HIGH", "URGENT"][(n as usize / 8 + c) % 5];
    let (kind, event) = if new_ticket {
        ("ticket.created", String::new())
    } else {
        match n % 8 {
            2 | 5 | 3 | 6 => {
                let staff = n % 8 >= 3 && n % 8 != 5;
                (
                    "ticket.comment_added",
                    format!(
                        r#","comment":{{"id":"{n}{c}","body":"Any news? I need this fixed before the end of the month.","is_public":true,"author":{{"id":"90{c}","is_staff":{staff},"name":"Dana"}}}}"#
                    ),
                )
            }
            4 => (
                "ticket.priority_changed",
                r#","current":"HIGH","previous":"NORMAL""#.to_owned(),
            ),
            _ => (
                "ticket.status_changed",
                r#","current":"OPEN","previous":"NEW""#.to_owned(),
            ),
        }
    };
    format!(
        r#"{{"account_id":22129848,"detail":{{"actor_id":"90{c}","assignee_id":null,"created_at":"{at}","description":"Since the last update my invoice for March is wrong and the export fails.","group_id":null,"id":"{t}","is_public":true,"priority":"{prio}","requester_id":"90{c}","status":"OPEN","subject":"Invoice shows the wrong amount","tags":["billing"],"type":"INCIDENT","updated_at":"{at}","via":{{"channel":"web_form"}}}},"event":{{"meta":{{"sequence":{{"id":"S{run}{c}{n}","position":1,"total":1}}}}{event}}},"id":"{run}-{c}-{n}","subject":"zen:ticket:{t}","time":"{at}","type":"zen:event-type:{kind}","zendesk_event_version":"2022-11-06"}}"#
    )
}
