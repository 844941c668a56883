//! Start a server, sign requests, wait for conditions.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use escalier_server::Secret;
use reqwest::blocking::Client;
use serde_json::Value;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Admin token the servers under test accept (`ESCALIER_API_TOKEN`).
pub const TOKEN: &str = "esk_test_admin_token_0123456789abcdef";

pub struct Server {
    child: Option<Child>,
    /// Extra arguments for `escalier serve` (kept across restarts; change with `set_args`).
    args: Vec<String>,
    env: Vec<(String, String)>,
    pub base: String,
    pub dir: tempfile::TempDir,
    client: Client,
    secret: Secret,
    /// `ESCALIER_LOG` for the next (re)start (`error` unless set).
    log_level: String,
    /// Everything the server wrote to stderr (its log), across restarts.
    log: std::sync::Arc<std::sync::Mutex<String>>,
    /// The PostgreSQL database this server stores in (see [`on_postgres`]),
    /// dropped with the server.
    pub pg: Option<PgDb>,
    /// `--store` for every start: `pg`'s URL, or another node's.
    pub store_url: Option<String>,
    /// Policies directory, when it is another node's.
    policies: Option<PathBuf>,
}

/// Whether a PostgreSQL server for tests is configured
/// (`ESCALIER_TEST_POSTGRES`; scripts/test starts one). Tests of several
/// nodes need one; without it they say so loudly and pass.
pub fn postgres_available(test: &str) -> bool {
    let ok = std::env::var("ESCALIER_TEST_POSTGRES").is_ok_and(|v| !v.is_empty());
    if !ok {
        eprintln!(
            "SKIPPED {test}: set ESCALIER_TEST_POSTGRES to a PostgreSQL server's URL (scripts/test starts one)"
        );
    }
    ok
}

/// Whether the suite runs on PostgreSQL: `ESCALIER_IT_STORE=postgres`,
/// with a server at `ESCALIER_TEST_POSTGRES` (a base URL that may create
/// databases). Each test server then gets a database of its own; by
/// default it gets a redb file in its data directory.
pub fn on_postgres() -> bool {
    std::env::var("ESCALIER_IT_STORE").is_ok_and(|v| v == "postgres")
}

/// A fresh PostgreSQL database, dropped (with its connections) at the end.
pub struct PgDb {
    pub url: String,
    base: String,
    name: String,
}

impl PgDb {
    /// A new database on the server at `ESCALIER_TEST_POSTGRES`.
    pub fn create() -> PgDb {
        let base = std::env::var("ESCALIER_TEST_POSTGRES")
            .expect("ESCALIER_TEST_POSTGRES: the URL of a PostgreSQL server for tests (scripts/test starts one)");
        let name = format!("escalier_it_{:016x}", rand::random::<u64>());
        psql(&base, &format!("CREATE DATABASE {name}"));
        let (head, query) = match base.split_once('?') {
            Some((h, q)) => (h, format!("?{q}")),
            None => (base.as_str(), String::new()),
        };
        // postgres://user@host:port[/dbname] → the new database's name.
        let authority_at = head.find("://").map_or(0, |i| i + 3);
        let prefix = match head[authority_at..].find('/') {
            Some(i) => &head[..authority_at + i],
            None => head,
        };
        PgDb {
            url: format!("{prefix}/{name}{query}"),
            base: base.clone(),
            name,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Kept for a look after a failure: `ESCALIER_IT_KEEP_DB=1`.
        if std::env::var_os("ESCALIER_IT_KEEP_DB").is_some() {
            eprintln!("kept database {}", self.url);
            return;
        }
        psql(
            &self.base,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Run one SQL statement with `psql` against `url`.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            url,
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("run psql (PostgreSQL's client)");
    assert!(
        out.status.success(),
        "psql `{sql}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// `error.code` of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }
}

impl Server {
    /// Start with the given policy files (name, source).
    pub fn start(policies: &[(&str, &str)]) -> Server {
        Self::start_with(policies, &[])
    }

    /// Start with policy files and extra `serve` arguments.
    pub fn start_with(policies: &[(&str, &str)], args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        for (name, src) in policies {
            write_policy(&dir.path().join("policies"), name, src);
        }
        Self::start_in(dir, args)
    }

    /// Start with policy files, installed plugins and extra `serve` arguments.
    /// `plugins`: (name in target/plugins or target/plugin-fixtures, manifest
    /// to use instead of the shipped one).
    pub fn start_with_plugins(
        policies: &[(&str, &str)],
        plugins: &[(&str, Option<&str>)],
        args: &[&str],
    ) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        for (name, src) in policies {
            write_policy(&dir.path().join("policies"), name, src);
        }
        let installed = dir.path().join("plugins");
        for (name, manifest) in plugins {
            let built = ["target/plugins", "target/plugin-fixtures"]
                .iter()
                .map(|d| repo().join(d).join(name))
                .find(|p| p.join("plugin.toml").is_file())
                .unwrap_or_else(|| {
                    panic!("plugin `{name}` is not built: run scripts/build-plugins first")
                });
            copy_dir(&built, &installed.join(name));
            match manifest {
                Some(m) => std::fs::write(installed.join(name).join("plugin.toml"), m).unwrap(),
                None => enable(&installed.join(name).join("plugin.toml")),
            }
        }
        let mut all: Vec<&str> = vec!["--plugins", installed.to_str().unwrap()];
        all.extend_from_slice(args);
        Self::start_in(dir, &all)
    }

    /// Arguments for the next (re)start.
    pub fn set_args(&mut self, args: &[&str]) {
        self.args = args.iter().map(|a| a.to_string()).collect();
    }

    /// Start with the repository's example policies.
    pub fn start_with_examples() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let dst = dir.path().join("policies");
        copy_dir(&repo().join("policies"), &dst);
        Self::start_in(dir, &[])
    }

    fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Server {
        let mut s = Server {
            child: None,
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            base: String::new(),
            dir,
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            secret: Secret::parse(SECRET).unwrap(),
            log_level: "error".to_owned(),
            log: Default::default(),
            pg: on_postgres().then(PgDb::create),
            store_url: None,
            policies: None,
        };
        s.store_url = s.pg.as_ref().map(|db| db.url.clone());
        s.spawn();
        s
    }

    pub fn policies_dir(&self) -> PathBuf {
        self.policies
            .clone()
            .unwrap_or_else(|| self.dir.path().join("policies"))
    }

    /// Move this server to a new PostgreSQL database of its own (a restart
    /// on an empty store), if it is not on one already. For tests of
    /// several nodes, which need PostgreSQL whatever the suite runs on.
    pub fn move_to_postgres(&mut self) {
        if self.store_url.is_some() {
            return;
        }
        self.stop(true);
        let db = PgDb::create();
        self.store_url = Some(db.url.clone());
        self.pg = Some(db);
        let _ = std::fs::remove_dir_all(self.dir.path().join("data"));
        self.spawn();
    }

    /// A second node on this server's store (a PostgreSQL database: both
    /// must be on one), with the same policies, arguments and environment
    /// and a data directory of its own. The first server must outlive it.
    pub fn another_node(&self) -> Server {
        let store = self
            .store_url
            .clone()
            .expect("another node needs a shared (PostgreSQL) store");
        let mut s = Server {
            child: None,
            args: self.args.clone(),
            env: self.env.clone(),
            base: String::new(),
            dir: tempfile::tempdir().expect("tempdir"),
            client: self.client.clone(),
            secret: Secret::parse(SECRET).unwrap(),
            log_level: self.log_level.clone(),
            log: Default::default(),
            pg: None,
            store_url: Some(store),
            policies: Some(self.policies_dir()),
        };
        s.spawn();
        s
    }

    /// Environment variables for the next (re)start (plugin secrets).
    pub fn set_env(&mut self, vars: &[(&str, &str)]) {
        self.env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }

    /// `ESCALIER_LOG` for the next (re)start, e.g. `debug` to check that
    /// not even debug lines carry a secret.
    pub fn set_log_level(&mut self, level: &str) {
        self.log_level = level.to_owned();
    }

    /// The server's log (stderr) so far, every start included. Lines are
    /// also passed on to the test's stderr.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_escalier"));
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--policies")
            .arg(self.policies_dir())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(self.store_url.iter().flat_map(|u| ["--store", u.as_str()]))
            .args(&self.args)
            .current_dir(self.dir.path())
            .env("ESCALIER_WEBHOOK_SECRET", SECRET)
            .env("ESCALIER_API_TOKEN", TOKEN)
            .env("ESCALIER_LOG", &self.log_level)
            // One compile cache for every test server: plugins compile once per run.
            .env(
                "ESCALIER_PLUGIN_CACHE",
                repo().join("target/plugin-e2e-cache"),
            )
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, _) in std::env::vars() {
            if k.starts_with("ESCALIER_")
                && ![
                    "ESCALIER_WEBHOOK_SECRET",
                    "ESCALIER_API_TOKEN",
                    "ESCALIER_LOG",
                    "ESCALIER_PLUGIN_CACHE",
                ]
                .contains(&k.as_str())
            {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd.spawn().expect("start escalier");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("escalier listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server printed its address within a minute");
        self.base = base;
        self.child = Some(child);
    }

    /// Stop gracefully (SIGTERM) and start again on the same data.
    pub fn restart(&mut self) {
        self.stop(false);
        self.spawn();
    }

    /// SIGKILL, then start again with other `serve` arguments.
    pub fn kill_and_restart_with(&mut self, args: &[&str]) {
        self.stop(true);
        self.set_args(args);
        self.spawn();
    }

    /// SIGKILL, no chance to clean up, then start again.
    pub fn kill_and_restart(&mut self) {
        self.stop(true);
        self.spawn();
    }

    pub fn stop(&mut self, kill: bool) {
        if let Some(mut child) = self.child.take() {
            if kill {
                let _ = child.kill();
            } else {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(child.id().to_string())
                    .status();
            }
            let _ = child.wait();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POST a body to /v1/events, correctly signed.
    pub fn post_events(&self, body: &str) -> Resp {
        let id = format!("msg_{:x}", rand::random::<u64>());
        let ts = jiff::Timestamp::now().as_second();
        let sig = self.secret.sign(&id, ts, body.as_bytes());
        self.post_signed(body, &id, &ts.to_string(), &sig)
    }

    /// POST with the given signature headers.
    pub fn post_signed(&self, body: &str, id: &str, ts: &str, sig: &str) -> Resp {
        let r = self
            .client
            .post(self.url("/v1/events"))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts)
            .header("webhook-signature", sig)
            .body(body.to_owned())
            .send()
            .expect("POST /v1/events");
        into_resp(r)
    }

    /// POST with exactly these headers (no token unless given).
    pub fn post_raw(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Resp {
        let mut req = self.client.post(self.url(path)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        into_resp(req.send().expect("POST"))
    }

    pub fn sign(&self, id: &str, ts: i64, body: &[u8]) -> String {
        self.secret.sign(id, ts, body)
    }

    /// GET with the admin token.
    pub fn get(&self, path: &str) -> Resp {
        self.get_as(path, Some(TOKEN))
    }

    /// GET with the given token, or none.
    pub fn get_as(&self, path: &str, token: Option<&str>) -> Resp {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        into_resp(req.send().expect("GET"))
    }

    /// POST JSON to an API endpoint with the given token.
    pub fn post_json(&self, path: &str, token: Option<&str>, body: &str) -> Resp {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        into_resp(req.send().expect("POST"))
    }

    pub fn get_text(&self, path: &str) -> String {
        self.client
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .expect("GET")
            .text()
            .unwrap()
    }

    /// Run `escalier <args>` against this server's data directory.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_escalier"))
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(self.store_url.iter().flat_map(|u| ["--store", u.as_str()]))
            .current_dir(self.dir.path())
            .env_remove("ESCALIER_API_TOKEN")
            .output()
            .expect("run escalier")
    }

    /// Post events that must be accepted; returns the highest seq.
    pub fn ingest(&self, body: &str) -> u64 {
        let r = self.post_events(body);
        assert!(
            r.status == 202 || r.status == 200,
            "ingest refused: {} {}",
            r.status,
            r.body
        );
        if let Some(list) = r.body["events"].as_array() {
            list.iter()
                .filter_map(|e| e["seq"].as_u64())
                .max()
                .unwrap_or(0)
        } else {
            r.body["seq"].as_u64().expect("seq")
        }
    }

    /// GET a ticket once the processor has applied `seq`.
    pub fn ticket(&self, id: &str, seq: u64) -> Value {
        let r = self.get(&format!("/v1/tickets/{}?wait_for_seq={seq}", encode(id)));
        assert_eq!(r.status, 200, "GET ticket {id}: {}", r.body);
        r.body
    }

    /// Move the simulated clock; returns once everything due has fired.
    pub fn clock(&self, body: &str) -> Resp {
        let r = self.post_json("/v1/admin/clock", Some(TOKEN), body);
        assert_eq!(r.status, 200, "moving the clock: {}", r.body);
        r
    }

    /// Records of a ticket's timeline with the given type.
    pub fn records_of(&self, ticket: &str, type_name: &str) -> Vec<Value> {
        let committed = self.committed();
        let t = self.ticket(ticket, committed);
        t["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["event"]["type"] == type_name)
            .cloned()
            .collect()
    }

    /// Inputs stored so far.
    pub fn committed(&self) -> u64 {
        self.get("/healthz").body["committed"].as_u64().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop(true);
    }
}

fn into_resp(r: reqwest::blocking::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Resp {
        status,
        body,
        headers,
    }
}

/// A client of its own for a load thread: one connection pool per
/// sender, as independent senders have.
pub fn load_client(timeout: Duration) -> Client {
    Client::builder().timeout(timeout).build().unwrap()
}

/// POST `body` to `base`'s /v1/events signed with the test secret, under
/// the delivery id `m-<event id>` (a sender's retry of the same event
/// keeps it). Connection errors are the caller's to judge.
pub fn send_signed(
    http: &Client,
    base: &str,
    event_id: &str,
    body: String,
) -> reqwest::Result<reqwest::blocking::Response> {
    let secret = Secret::parse(SECRET).unwrap();
    let msg = format!("m-{event_id}");
    let ts = jiff::Timestamp::now().as_second();
    let sig = secret.sign(&msg, ts, body.as_bytes());
    http.post(format!("{base}/v1/events"))
        .header("content-type", "application/json")
        .header("webhook-id", &msg)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(body)
        .send()
}

pub fn encode(id: &str) -> String {
    id.replace('%', "%25")
        .replace('/', "%2F")
        .replace('#', "%23")
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn write_policy(dir: &Path, name: &str, src: &str) {
    let path = dir.join(name);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    // Write then rename, as editors do, so the watcher never sees half a file.
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, src).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

/// Enable a shipped manifest as an operator would once it is configured:
/// examples that need a secret or an address ship with `enabled = false`
/// and a `disabled_reason`; the tests provide what they need.
pub fn enable(manifest: &Path) {
    let text = std::fs::read_to_string(manifest).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("enabled =") && !l.starts_with("disabled_reason ="))
        .collect();
    std::fs::write(manifest, kept.join("\n")).unwrap();
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

/// Poll `cond` until it holds or `limit` passes. For waiting on the server's
/// asynchronous work (file watcher, processor), never on time itself.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A `ticket.created` event.
pub fn created(event_id: &str, ticket: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{event_id}","type":"ticket.created","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:00:00Z",
            "data":{{"subject":"Cannot log in","requester":{{"id":"cust-1","email":"a@example.com"}},"channel":"email"{extra}}}}}"#
    )
}

pub fn comment(event_id: &str, ticket: &str, kind: &str, body: &str) -> String {
    format!(
        r#"{{"id":"{event_id}","type":"comment.added","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:10:00Z",
            "data":{{"author":{{"kind":"{kind}"}},"public":true,"body":"{body}"}}}}"#
    )
}

pub fn status(event_id: &str, ticket: &str, to: &str) -> String {
    format!(
        r#"{{"id":"{event_id}","type":"status.changed","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:20:00Z","data":{{"status":"{to}"}}}}"#
    )
}

/// Records in a ticket answer's timeline, as (type, source kind) pairs.
pub fn timeline_types(ticket: &Value) -> Vec<String> {
    ticket["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"]["type"].as_str().unwrap().to_owned())
        .collect()
}

/// A one-endpoint HTTP receiver on loopback that records what it is sent,
/// like a chat room's incoming webhook or an ops tool. Answers 200.
pub struct Receiver {
    pub url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Receiver {
    pub fn start() -> Receiver {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then Content-Length bytes of body.
                let (head_end, len) = loop {
                    let Ok(n) = s.read(&mut chunk) else {
                        break (0, 0);
                    };
                    if n == 0 {
                        break (0, 0);
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_string();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        break (i + 4, len);
                    }
                };
                if head_end == 0 {
                    continue;
                }
                while buf.len() < head_end + len {
                    let Ok(n) = s.read(&mut chunk) else { break };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.lines();
                let path = lines
                    .next()
                    .unwrap_or("")
                    .split(' ')
                    .nth(1)
                    .unwrap_or("")
                    .to_owned();
                let headers = lines
                    .filter_map(|l| {
                        l.split_once(':')
                            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    })
                    .collect();
                let body = buf[head_end..(head_end + len).min(buf.len())].to_vec();
                sink.lock().unwrap().push(Received {
                    path,
                    headers,
                    body,
                });
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            }
        });
        Receiver { url, got }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}
