//! `deliverybench`: how long Escalier takes to tell the outside world.
//!
//! The bench runs a receiver on loopback, starts a release server whose
//! configuration delivers to it (or is pointed at one with `--url`), sends
//! triggering events at a fixed rate, and for each event records when its
//! `202` came back and when the receiver got the matching request (matched
//! by ticket id). It prints p50/p99/max of that delay, and how many
//! deliveries arrived and how many are missing.
//!
//! - `--mode notify`: `POST /v1/events` `ticket.created`; a policy notifies
//!   a generic webhook target (`policies/notify.toml`) on every new ticket;
//!   the receiver matches `ticket.id` in the signed body.
//! - `--mode writeback`: Zendesk `ticket.created` webhooks through the
//!   zendesk adapter (`POST /v1/sources/zendesk`); a policy escalates every
//!   new ticket; the zendesk-writeback plugin, its `site` the receiver, sends
//!   `PUT /api/v2/tickets/{id}.json` (matched by the id in the path).
//! - `--mode held`: N notifications held by quiet hours (a Saturday on the
//!   simulated clock, a Monday–Friday calendar): the server's memory before
//!   and after, its restart time with them pending (start to `/healthz`),
//!   that all are still held after the restart, and how long they take to
//!   go out once the clock reaches Monday. `--control` runs the same
//!   tickets without the notifying policy, to separate the tickets' cost
//!   from the notifications'.
//!
//! `scripts/deliverybench` builds and runs it; results: docs/performance.md.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use escalier_server::Secret;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Notify,
    Writeback,
    Held,
}

#[derive(Debug, Parser)]
#[command(about = "Delivery latency (notifications, write-back) and held notifications")]
struct Args {
    #[arg(long, value_enum, default_value = "notify")]
    mode: Mode,
    /// The server binary to start.
    #[arg(long, default_value = "target/release/escalier")]
    escalier: PathBuf,
    /// Built plugins (writeback mode copies zendesk and zendesk-writeback).
    #[arg(long, default_value = "target/plugins")]
    plugins: PathBuf,
    /// A running server instead of starting one (notify, writeback). Its
    /// notify target / write-back site must point at --receiver, and
    /// ESCALIER_WEBHOOK_SECRET, ESCALIER_API_TOKEN (and for writeback
    /// ESCALIER_SECRET_ZENDESK_WEBHOOK_SECRET) must be its own.
    #[arg(long)]
    url: Option<String>,
    /// Where the receiver listens.
    #[arg(long, default_value = "127.0.0.1:0")]
    receiver: SocketAddr,
    /// Triggering events per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Measured duration (after the warm-up).
    #[arg(long, default_value = "20s", value_parser = duration)]
    duration: Duration,
    /// Warm-up: events sent but not counted.
    #[arg(long, default_value = "3s", value_parser = duration)]
    warmup: Duration,
    /// After the last send, how long to wait for stragglers.
    #[arg(long, default_value = "10s", value_parser = duration)]
    drain: Duration,
    /// Held mode: how many notifications to hold.
    #[arg(long, default_value_t = 10_000)]
    held: u64,
    /// Held mode: the same tickets, no notifying policy.
    #[arg(long)]
    control: bool,
    /// Keep the data directory (its path is printed).
    #[arg(long)]
    keep: bool,
    /// Print the result as one JSON object as well.
    #[arg(long)]
    json: bool,
}

fn duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().map_err(|_| format!("bad duration {s}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("bad duration unit in {s}")),
    }
}

fn random_token(prefix: &str) -> String {
    use base64::Engine;
    let bytes: [u8; 24] = rand::random();
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!("{prefix}{}", b.replace(['-', '_'], "x"))
}

const ZENDESK_EMAIL: &str = "bench@escalier.example";
const TIER2_GROUP: u64 = 360_002_345;
/// Saturday noon UTC: a Monday–Friday desk is closed until Monday.
const SATURDAY: &str = "2026-03-07T12:00:00Z";
/// Monday 09:00 in Paris.
const MONDAY_OPEN: &str = "2026-03-09T08:00:00Z";

// ---------------------------------------------------------------- server

struct Server {
    escalier: PathBuf,
    dir: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    url: String,
}

impl Server {
    /// Start and wait for the "listening" line; returns the time it took.
    fn start(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.err"))?;
        let mut child = Command::new(&self.escalier)
            .arg("serve")
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", self.escalier.display()))?;
        let out = child.stdout.take().context("server stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Read every line so the server never blocks on its stdout.
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("escalier listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        self.child = Some(child);
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(url) => {
                self.url = url;
                Ok(started.elapsed())
            }
            Err(_) => {
                let err = std::fs::read_to_string(self.dir.join("server.err")).unwrap_or_default();
                bail!("the server did not start:\n{err}")
            }
        }
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM, then wait for exit; returns how long it took.
    fn stop(&mut self) -> Duration {
        let started = Instant::now();
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
        started.elapsed()
    }

    /// `(VmRSS, VmHWM)` in KiB.
    fn rss(&self) -> (u64, u64) {
        let Some(pid) = self.pid() else {
            return (0, 0);
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A bench directory with `policies/`, `plugins/`, `escalier.toml`.
struct Setup {
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

fn setup(keep: bool) -> anyhow::Result<Setup> {
    let tmp = tempfile::Builder::new()
        .prefix("deliverybench.")
        .tempdir()?;
    let dir = tmp.path().to_owned();
    std::fs::create_dir_all(dir.join("policies"))?;
    std::fs::create_dir_all(dir.join("plugins"))?;
    // No rate limit (the bench is the only sender); loopback receivers.
    std::fs::write(
        dir.join("escalier.toml"),
        "[server]\nrate_limit_per_second = 0\n\n[plugins]\nallow_private = [\"127.0.0.0/8\"]\n",
    )?;
    let tmp = if keep {
        eprintln!("data kept in {}", dir.display());
        let _ = tmp.keep();
        None
    } else {
        Some(tmp)
    };
    Ok(Setup { dir, _tmp: tmp })
}

fn server(args: &Args, dir: &Path, extra: &[&str], env: Vec<(String, String)>) -> Server {
    let mut a: Vec<String> = [
        "--data-dir",
        &dir.join("data").to_string_lossy(),
        "--policies",
        &dir.join("policies").to_string_lossy(),
        "--plugins",
        &dir.join("plugins").to_string_lossy(),
        "--config",
        &dir.join("escalier.toml").to_string_lossy(),
        "--listen",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    let mut e = env;
    e.push(("ESCALIER_LOG".into(), "warn".into()));
    Server {
        escalier: args.escalier.clone(),
        dir: dir.to_owned(),
        args: a,
        env: e,
        child: None,
        url: String::new(),
    }
}

/// Copy a built plugin directory, rewriting its manifest with `edit`.
fn install_plugin(
    built: &Path,
    name: &str,
    dest: &Path,
    edit: impl Fn(&str) -> String,
) -> anyhow::Result<()> {
    let from = built.join(name);
    let to = dest.join(name);
    std::fs::create_dir_all(&to)?;
    for entry in std::fs::read_dir(&from)
        .with_context(|| format!("{}: run scripts/build-plugins", from.display()))?
    {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    let manifest = std::fs::read_to_string(to.join("plugin.toml"))?;
    std::fs::write(to.join("plugin.toml"), edit(&manifest))?;
    Ok(())
}

fn enabled(manifest: &str) -> String {
    manifest
        .lines()
        .filter(|l| !l.starts_with("enabled =") && !l.starts_with("disabled_reason ="))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The shipped zendesk-writeback manifest, enabled, allowed to reach
/// `site` only, with a `[config]` naming it.
fn writeback_manifest(shipped: &str, site: &str) -> String {
    let mut out = Vec::new();
    let mut in_config = false;
    for line in enabled(shipped).lines() {
        if line.starts_with('[') {
            in_config = line.starts_with("[config");
        }
        if in_config {
            continue;
        }
        if line.trim_start().starts_with("allowed_hosts") {
            out.push(format!("allowed_hosts = [\"{site}\"]"));
            continue;
        }
        out.push(line.to_owned());
    }
    out.push(format!(
        "\n[config]\nsite = \"{site}\"\nemail = \"{ZENDESK_EMAIL}\"\n\n[config.tier_groups]\n2 = {TIER2_GROUP}\n"
    ));
    out.join("\n")
}

// -------------------------------------------------------------- receiver

/// What the receiver saw: the first arrival per ticket key, and counts.
struct Received {
    mode: Mode,
    first: Mutex<HashMap<String, Instant>>,
    requests: AtomicU64,
    unmatched: AtomicU64,
}

impl Received {
    fn key(&self, path: &str, body: &[u8]) -> Option<String> {
        match self.mode {
            // PUT /api/v2/tickets/{id}.json or /api/v2/tickets/{id}/tags.json
            Mode::Writeback => {
                let rest = path.strip_prefix("/api/v2/tickets/")?;
                let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
                (!id.is_empty()).then_some(id)
            }
            Mode::Notify | Mode::Held => {
                let v: Value = serde_json::from_slice(body).ok()?;
                v["ticket"]["id"].as_str().map(str::to_owned)
            }
        }
    }

    fn count(&self) -> usize {
        self.first.lock().map(|m| m.len()).unwrap_or(0)
    }
}

async fn receive(listener: tokio::net::TcpListener, state: Arc<Received>) -> anyhow::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let at = Instant::now();
                        state.requests.fetch_add(1, Ordering::Relaxed);
                        match state.key(&path, &body) {
                            Some(key) => {
                                if let Ok(mut m) = state.first.lock() {
                                    m.entry(key).or_insert(at);
                                }
                            }
                            None => {
                                state.unmatched.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        // Answer like the tool: Zendesk returns the ticket.
                        let reply = match state.mode {
                            Mode::Writeback => json!({"ticket": {"id": 1}}).to_string(),
                            _ => String::new(),
                        };
                        hyper::Response::builder()
                            .status(200)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(reply)))
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

// ---------------------------------------------------------------- sender

struct Sender {
    http: reqwest::Client,
    url: String,
    secret: Secret,
    token: String,
    zendesk_secret: Vec<u8>,
    run: String,
}

impl Sender {
    /// Send trigger `i`; returns (ticket key, when the 2xx came back).
    async fn trigger(&self, mode: Mode, i: u64) -> anyhow::Result<(String, Instant)> {
        let now = jiff::Timestamp::now();
        let (key, resp) = match mode {
            Mode::Writeback => {
                // Zendesk ticket ids are numbers.
                let key = format!("{}{:07}", self.run, i);
                let body = zendesk_created(&key, &format!("db-{}-{i}", self.run), now);
                let ts = now.to_string();
                let sig = zendesk_sign(&self.zendesk_secret, &ts, body.as_bytes());
                let resp = self
                    .http
                    .post(format!("{}/v1/sources/zendesk", self.url))
                    .header("content-type", "application/json")
                    .header("x-zendesk-webhook-signature", sig)
                    .header("x-zendesk-webhook-signature-timestamp", ts)
                    .body(body)
                    .send()
                    .await?;
                (key, resp)
            }
            Mode::Notify | Mode::Held => {
                let key = format!("DB-{}-{i}", self.run);
                let body = created(&format!("db-{}-{i}", self.run), &key, &now.to_string());
                let resp = self
                    .post_events(body, &format!("db-{}-{i}", self.run))
                    .await?;
                (key, resp)
            }
        };
        let at = Instant::now();
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            bail!("{status}: {text}");
        }
        Ok((key, at))
    }

    async fn post_events(&self, body: String, id: &str) -> anyhow::Result<reqwest::Response> {
        let ts = jiff::Timestamp::now().as_second();
        let sig = self.secret.sign(id, ts, body.as_bytes());
        Ok(self
            .http
            .post(format!("{}/v1/events", self.url))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
            .await?)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn text(&self, path: &str) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await?
            .text()
            .await?)
    }

    /// Deliveries in `state`, counted page by page.
    async fn count_deliveries(&self, state: &str) -> anyhow::Result<u64> {
        let mut n = 0;
        let mut after: Option<String> = None;
        loop {
            let mut path = format!("/v1/deliveries?state={state}&limit=500");
            if let Some(a) = &after {
                path.push_str("&after=");
                path.push_str(&urlencode(a));
            }
            let page = self.get(&path).await?;
            n += page["deliveries"].as_array().map_or(0, Vec::len) as u64;
            match page["next"].as_str() {
                Some(next) if !next.is_empty() => after = Some(next.to_owned()),
                _ => return Ok(n),
            }
        }
    }

    /// `escalier_deliveries_total` lines from /metrics.
    async fn delivery_metrics(&self) -> String {
        self.text("/metrics")
            .await
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("escalier_deliveries_total"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn created(id: &str, ticket: &str, at: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"ticket.created","ticket_id":"{ticket}","occurred_at":"{at}","data":{{"subject":"Export to CSV does nothing since Monday","requester":{{"id":"c-{ticket}"}},"channel":"email","priority":"normal"}}}}"#
    )
}

/// A Zendesk `ticket.created` event-subscription delivery, shaped like
/// Zendesk's documented example.
fn zendesk_created(ticket: &str, id: &str, at: jiff::Timestamp) -> String {
    format!(
        r#"{{"account_id":22129848,"detail":{{"actor_id":"8447388090494","assignee_id":null,"created_at":"{at}","description":"Since Monday the export button does nothing.","group_id":null,"id":"{ticket}","is_public":true,"priority":"NORMAL","requester_id":"8447388090494","status":"NEW","subject":"Export to CSV does nothing since Monday","tags":["billing"],"type":"INCIDENT","updated_at":"{at}","via":{{"channel":"web_form"}}}},"event":{{"meta":{{"sequence":{{"id":"S{id}","position":1,"total":1}}}}}},"id":"{id}","subject":"zen:ticket:{ticket}","time":"{at}","type":"zen:event-type:ticket.created","zendesk_event_version":"2022-11-06"}}"#
    )
}

/// `X-Zendesk-Webhook-Signature`: base64(HMAC-SHA256(secret, timestamp + body)).
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

// ------------------------------------------------------------------ main

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.mode {
        Mode::Notify | Mode::Writeback => latency(&rt, &args),
        Mode::Held => held(&rt, &args),
    }
}

fn env_or(name: &str, make: impl FnOnce() -> String) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(make)
}

/// The server's credentials: from the environment (a server given with
/// `--url`), or generated for the server the bench starts.
struct Keys {
    webhook_secret: String,
    token: String,
    zendesk_secret: String,
}

impl Keys {
    fn new() -> Self {
        Keys {
            webhook_secret: env_or("ESCALIER_WEBHOOK_SECRET", || {
                use base64::Engine;
                let bytes: [u8; 32] = rand::random();
                format!(
                    "whsec_{}",
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                )
            }),
            token: env_or("ESCALIER_API_TOKEN", || random_token("esk_")),
            zendesk_secret: env_or("ESCALIER_SECRET_ZENDESK_WEBHOOK_SECRET", || {
                random_token("zd_")
            }),
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("ESCALIER_API_TOKEN".into(), self.token.clone()),
            (
                "ESCALIER_WEBHOOK_SECRET".into(),
                self.webhook_secret.clone(),
            ),
            (
                "ESCALIER_SECRET_ZENDESK_WEBHOOK_SECRET".into(),
                self.zendesk_secret.clone(),
            ),
            (
                "ESCALIER_SECRET_ZENDESK_API_TOKEN".into(),
                random_token("zdtok_"),
            ),
        ]
    }
}

fn sender(url: &str, keys: &Keys) -> anyhow::Result<Sender> {
    Ok(Sender {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?,
        url: url.trim_end_matches('/').to_owned(),
        secret: Secret::parse(&keys.webhook_secret).context("ESCALIER_WEBHOOK_SECRET")?,
        token: keys.token.clone(),
        zendesk_secret: keys.zendesk_secret.as_bytes().to_vec(),
        // Digits only: Zendesk ticket ids are numbers.
        run: format!("{}", 100 + rand::random::<u32>() % 900),
    })
}

fn latency(rt: &tokio::runtime::Runtime, args: &Args) -> anyhow::Result<()> {
    let received = Arc::new(Received {
        mode: args.mode,
        first: Mutex::new(HashMap::new()),
        requests: 0.into(),
        unmatched: 0.into(),
    });
    let listener = rt.block_on(tokio::net::TcpListener::bind(args.receiver))?;
    let receiver = listener.local_addr()?;
    rt.spawn(receive(listener, received.clone()));
    let site = format!("http://{receiver}");
    latency_with(rt, args, received, &site, &Keys::new())
}

fn latency_with(
    rt: &tokio::runtime::Runtime,
    args: &Args,
    received: Arc<Received>,
    site: &str,
    keys: &Keys,
) -> anyhow::Result<()> {
    let setup = setup(args.keep)?;
    let dir = &setup.dir;
    let mut srv = None;
    let url = match &args.url {
        Some(url) => url.clone(),
        None => {
            match args.mode {
                Mode::Notify => {
                    std::fs::write(
                        dir.join("policies/notify.toml"),
                        format!(
                            "[targets.bench]\nkind = \"webhook\"\nurl = \"{site}/hook\"\nsigning_secret = \"notify_signing_secret\"\n"
                        ),
                    )?;
                    std::fs::write(
                        dir.join("policies/bench.rhai"),
                        "const ON = [\"ticket.created\"];\nnotify(\"bench\", \"new ticket\");\n",
                    )?;
                }
                Mode::Writeback => {
                    std::fs::write(
                        dir.join("policies/bench.rhai"),
                        "const ON = [\"ticket.created\"];\nescalate(2, \"every new ticket goes to tier 2\");\n",
                    )?;
                    install_plugin(&args.plugins, "zendesk", &dir.join("plugins"), enabled)?;
                    install_plugin(
                        &args.plugins,
                        "zendesk-writeback",
                        &dir.join("plugins"),
                        |m| writeback_manifest(m, site),
                    )?;
                }
                Mode::Held => unreachable!(),
            }
            let mut s = server(args, dir, &[], keys.env());
            s.start()?;
            let url = s.url.clone();
            srv = Some(s);
            url
        }
    };
    let snd = Arc::new(sender(&url, keys)?);

    let total = ((args.warmup + args.duration).as_secs_f64() * args.rate).round() as u64;
    let skip = (args.warmup.as_secs_f64() * args.rate).round() as u64;
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let mode = args.mode;
    let outcome = rt.block_on(async {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut tasks = Vec::with_capacity(total as usize);
        let started = Instant::now();
        for i in 0..total {
            tick.tick().await;
            let snd = snd.clone();
            tasks.push(tokio::spawn(async move { snd.trigger(mode, i).await }));
        }
        let sent_for = started.elapsed();
        let mut acked = Vec::with_capacity(tasks.len());
        let mut errors = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await {
                Ok(Ok(a)) => acked.push((i as u64, a)),
                Ok(Err(e)) => errors.push(e.to_string()),
                Err(e) => errors.push(e.to_string()),
            }
        }
        let acked_all = started.elapsed();
        // Wait for the deliveries, at most `drain` after the last answer.
        let deadline = Instant::now() + args.drain;
        while Instant::now() < deadline && received.count() < acked.len() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (acked, errors, sent_for, acked_all)
    });
    let (acked, errors, sent_for, acked_all) = outcome;

    let first = received.first.lock().map(|m| m.clone()).unwrap_or_default();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let (mut delivered, mut missing, mut before_ack) = (0u64, 0u64, 0u64);
    for (i, (key, ack)) in &acked {
        if *i < skip {
            continue;
        }
        match first.get(key) {
            Some(at) => {
                delivered += 1;
                if at < ack {
                    before_ack += 1;
                }
                hist.record(at.saturating_duration_since(*ack).as_micros().max(1) as u64)?;
            }
            None => missing += 1,
        }
    }
    let q = |p: f64| hist.value_at_quantile(p) as f64 / 1000.0;
    let metrics = rt.block_on(snd.delivery_metrics());
    let failed = rt
        .block_on(snd.get("/v1/deliveries?state=failed&limit=3"))
        .unwrap_or(Value::Null);
    let what = match mode {
        Mode::Notify => "notification (webhook target)",
        _ => "zendesk write-back (PUT /api/v2/tickets/{id}.json)",
    };
    println!(
        "mode {mode:?}: {what}; {:.0} triggers/s offered for {:.0}s after {:.0}s warm-up (sent in {:.1}s, all answered after {:.1}s)",
        args.rate,
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64(),
        sent_for.as_secs_f64(),
        acked_all.as_secs_f64()
    );
    println!(
        "202 -> receiver     p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        q(0.5),
        q(0.9),
        q(0.99),
        hist.max() as f64 / 1000.0
    );
    println!(
        "measured triggers   {}  delivered {delivered}  missing {missing}  (arrived before the 202: {before_ack})",
        delivered + missing
    );
    println!(
        "trigger errors      {}{}",
        errors.len(),
        errors
            .first()
            .map(|e| format!("  (first: {e})"))
            .unwrap_or_default()
    );
    println!(
        "receiver            {} requests, {} unmatched",
        received.requests.load(Ordering::Relaxed),
        received.unmatched.load(Ordering::Relaxed)
    );
    if !metrics.is_empty() {
        println!("{metrics}");
    }
    if let Some(list) = failed["deliveries"].as_array().filter(|l| !l.is_empty()) {
        println!(
            "failed deliveries (first {}): {}",
            list.len(),
            Value::Array(list.clone())
        );
    }
    if let Some(s) = &srv {
        let (rss, hwm) = s.rss();
        println!("server RSS {:.0} MiB (peak {:.0} MiB)", mib(rss), mib(hwm));
    }
    if args.json {
        println!(
            "{}",
            json!({
                "mode": format!("{mode:?}").to_lowercase(), "rate": args.rate,
                "seconds": args.duration.as_secs_f64(), "measured": delivered + missing,
                "delivered": delivered, "missing": missing, "before_ack": before_ack,
                "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "max_ms": hist.max() as f64 / 1000.0,
                "errors": errors.len(),
            })
        );
    }
    drop(srv);
    Ok(())
}

fn held(rt: &tokio::runtime::Runtime, args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.url.is_none(),
        "--mode held starts its own server (no --url)"
    );
    let received = Arc::new(Received {
        mode: Mode::Held,
        first: Mutex::new(HashMap::new()),
        requests: 0.into(),
        unmatched: 0.into(),
    });
    let listener = rt.block_on(tokio::net::TcpListener::bind(args.receiver))?;
    let receiver = listener.local_addr()?;
    rt.spawn(receive(listener, received.clone()));

    let setup = setup(args.keep)?;
    let dir = &setup.dir;
    std::fs::write(
        dir.join("policies/sla.toml"),
        "[calendars.desk]\ntime_zone = \"Europe/Paris\"\nhours = { mon = [\"09:00-17:00\"], tue = [\"09:00-17:00\"], wed = [\"09:00-17:00\"], thu = [\"09:00-17:00\"], fri = [\"09:00-17:00\"] }\n",
    )?;
    std::fs::write(
        dir.join("policies/notify.toml"),
        format!(
            "[targets.desk]\nkind = \"webhook\"\nurl = \"http://{receiver}/hook\"\nsigning_secret = \"notify_signing_secret\"\ncalendar = \"desk\"\n"
        ),
    )?;
    if !args.control {
        std::fs::write(
            dir.join("policies/bench.rhai"),
            "const ON = [\"ticket.created\"];\nnotify(\"desk\", \"new ticket\");\n",
        )?;
    }
    let keys = Keys::new();
    let mut snd = sender("http://127.0.0.1:1", &keys)?;
    let mut srv = server(args, dir, &["--simulated-clock", SATURDAY], keys.env());
    let first_start = srv.start()?;
    snd.url = srv.url.clone();
    rt.block_on(wait_healthy(&snd, Duration::from_secs(60)))?;
    std::thread::sleep(Duration::from_secs(1));
    let rss0 = srv.rss();
    println!(
        "{} — started in {:.0} ms; server RSS before: {:.1} MiB (peak {:.1} MiB)",
        if args.control {
            "control (no notifying policy)"
        } else {
            "held notifications"
        },
        first_start.as_secs_f64() * 1000.0,
        mib(rss0.0),
        mib(rss0.1)
    );

    // N tickets on a closed Saturday, 500 per request.
    let n = args.held;
    let ingest = Instant::now();
    let mut last_seq = 0u64;
    rt.block_on(async {
        let mut i = 0;
        while i < n {
            let k = 500.min(n - i);
            let body = format!(
                "[{}]",
                (i..i + k)
                    .map(|j| created(&format!("held-{j}"), &format!("H-{j}"), SATURDAY))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let resp = snd.post_events(body, &format!("held-batch-{i}")).await?;
            let status = resp.status();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                bail!("ingest: {status}: {v}");
            }
            if let Some(seq) = v["events"]
                .as_array()
                .and_then(|l| l.iter().filter_map(|e| e["seq"].as_u64()).max())
            {
                last_seq = last_seq.max(seq);
            }
            i += k;
        }
        // Processed: the last ticket exists once its seq is applied.
        snd.get(&format!("/v1/tickets/H-{}?wait_for_seq={last_seq}", n - 1))
            .await?;
        anyhow::Ok(())
    })?;
    let processed = ingest.elapsed();
    let expect = if args.control { 0 } else { n };
    let held_before = rt.block_on(snd.count_deliveries("held"))?;
    let rss1 = srv.rss();
    println!(
        "{n} tickets created and processed in {:.1}s; held notifications: {held_before} (expected {expect})",
        processed.as_secs_f64()
    );
    println!(
        "server RSS with them: {:.1} MiB (peak {:.1} MiB): +{:.1} MiB",
        mib(rss1.0),
        mib(rss1.1),
        mib(rss1.0.saturating_sub(rss0.0))
    );
    let stopped = srv.stop();
    let du = Command::new("du")
        .args(["-sk", &dir.join("data").to_string_lossy()])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!(
        "stopped (SIGTERM) in {:.0} ms; data directory {:.1} MiB",
        stopped.as_secs_f64() * 1000.0,
        mib(du)
    );

    // Restart: time to listening and to /healthz answering.
    let t0 = Instant::now();
    let listening = srv.start()?;
    snd.url = srv.url.clone();
    rt.block_on(wait_healthy(&snd, Duration::from_secs(120)))?;
    let healthy = t0.elapsed();
    let rss2 = srv.rss();
    let t1 = Instant::now();
    let held_after = rt.block_on(snd.count_deliveries("held"))?;
    let listed = t1.elapsed();
    let rss3 = srv.rss();
    println!(
        "restart: listening after {:.0} ms, /healthz 200 after {:.0} ms; RSS {:.1} MiB",
        listening.as_secs_f64() * 1000.0,
        healthy.as_secs_f64() * 1000.0,
        mib(rss2.0)
    );
    println!(
        "after restart: held notifications {held_after} (expected {expect}; listed in {:.0} ms, 500 per page); RSS {:.1} MiB",
        listed.as_secs_f64() * 1000.0,
        mib(rss3.0)
    );
    println!(
        "receiver got {} requests while held (expected 0)",
        received.requests.load(Ordering::Relaxed)
    );

    // Monday 09:00 in Paris: everything goes out.
    let mut flushed = None;
    if !args.control {
        let t2 = Instant::now();
        rt.block_on(async {
            let resp = snd
                .http
                .post(format!("{}/v1/admin/clock", snd.url))
                .bearer_auth(&snd.token)
                .header("content-type", "application/json")
                .body(json!({"set": MONDAY_OPEN}).to_string())
                .send()
                .await?;
            if !resp.status().is_success() {
                bail!("moving the clock: {}", resp.status());
            }
            let deadline = Instant::now() + Duration::from_secs(600);
            while Instant::now() < deadline && (received.count() as u64) < n {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            anyhow::Ok(())
        })?;
        let took = t2.elapsed();
        let got = received.count();
        println!(
            "clock to Monday 09:00 Paris: {got} of {n} delivered in {:.1}s ({:.0}/s)",
            took.as_secs_f64(),
            got as f64 / took.as_secs_f64()
        );
        flushed = Some((got, took));
        println!("{}", rt.block_on(snd.delivery_metrics()));
    }
    if held_before != expect || held_after != expect {
        eprintln!("held count differs from the expected {expect}");
    }
    if args.json {
        println!(
            "{}",
            json!({
                "mode": "held", "control": args.control, "tickets": n,
                "rss_before_mib": mib(rss0.0), "rss_with_mib": mib(rss1.0), "peak_mib": mib(rss1.1),
                "held_before": held_before, "held_after_restart": held_after,
                "restart_listening_ms": listening.as_secs_f64() * 1000.0,
                "restart_healthz_ms": healthy.as_secs_f64() * 1000.0,
                "rss_after_restart_mib": mib(rss2.0), "data_mib": mib(du),
                "flushed": flushed.map(|(g, t)| json!({"delivered": g, "seconds": t.as_secs_f64()})),
            })
        );
    }
    Ok(())
}

async fn wait_healthy(snd: &Sender, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(r) = snd.http.get(format!("{}/healthz", snd.url)).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("/healthz did not answer 200 within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
