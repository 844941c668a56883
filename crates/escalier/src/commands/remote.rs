//! What the commands that can ask a running server (`explain --url`,
//! `export --url`) share: the `--url`/`--token` options, authenticated GETs,
//! and the message for a data directory that a running server holds.

use std::path::Path;

use anyhow::Context;
use escalier_lab::log::LogError;
use escalier_store::Store;

/// Ask a running server through its API instead of reading the data
/// directory (which the server holds locked while it runs).
#[derive(Debug, Clone, clap::Args)]
pub struct RemoteArgs {
    /// Base URL of a running server, e.g. http://127.0.0.1:8600: read through
    /// its API (a `read` token is needed) instead of the data directory.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// API token with the `read` scope, for --url. Default:
    /// $ESCALIER_API_TOKEN, else $TOKEN (what the README exports).
    #[arg(long, env = "ESCALIER_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// A running server's API.
pub struct Remote {
    base: reqwest::Url,
    token: String,
    client: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Remote {
    /// `None` without `--url`.
    pub fn from_args(args: &RemoteArgs) -> anyhow::Result<Option<Remote>> {
        let Some(url) = &args.url else {
            return Ok(None);
        };
        let token = [args.token.clone(), std::env::var("TOKEN").ok()]
            .into_iter()
            .flatten()
            .find(|t| !t.trim().is_empty())
            .context(
                "--url needs an API token with the `read` scope: pass --token, or export \
                 ESCALIER_API_TOKEN (or TOKEN, as in the README)",
            )?;
        let base = reqwest::Url::parse(url)
            .with_context(|| format!("--url {url}: not a URL like http://127.0.0.1:8600"))?;
        anyhow::ensure!(
            !base.cannot_be_a_base(),
            "--url {url}: not a URL like http://127.0.0.1:8600"
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Some(Remote {
            base,
            token,
            client: reqwest::Client::new(),
            rt,
        }))
    }

    /// GET the path made of `segments` (each percent-encoded as needed)
    /// with `query`; the status and the body.
    pub fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.rt.block_on(async {
            let resp = self
                .client
                .get(url.clone())
                .bearer_auth(&self.token)
                .send()
                .await
                .with_context(|| format!("GET {url}; is the server running?"))?;
            let status = resp.status().as_u16();
            let body = resp
                .bytes()
                .await
                .with_context(|| format!("reading the answer of GET {url}"))?;
            Ok((status, body.to_vec()))
        })
    }
}

/// An API error answer in one line: `401 token_invalid: ...`.
pub fn refusal(status: u16, body: &[u8]) -> anyhow::Error {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = v["error"]["code"].as_str().unwrap_or("error");
    let message = v["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    anyhow::anyhow!("the server answered {status} {code}: {message}")
}

/// Open the store of a stopped server. A running server holds its database
/// locked: then say exactly that, and what to do instead.
pub fn open_stopped(db: &Path, instead: &str) -> anyhow::Result<Store> {
    escalier_lab::log::open_store(db).map_err(|e| match e {
        LogError::Locked { path } => anyhow::anyhow!(
            "{} is in use by a running server (a server holds its database locked while it runs); {instead}",
            path.display()
        ),
        other => other.into(),
    })
}
