//! Configuration: the committed `escalier.default.toml`, then the user's
//! file, then `ESCALIER_*` variables, then flags. Unknown keys are refused
//! with the key's name.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::{Deserialize, Deserializer, Serialize};

/// The defaults, documented key by key.
pub const DEFAULT_TOML: &str = include_str!("../../../escalier.default.toml");

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub api: ApiConfig,
    pub storage: StorageConfig,
    pub cluster: ClusterConfig,
    pub webhook: WebhookConfig,
    pub policies: PoliciesConfig,
    pub processor: ProcessorConfig,
    pub plugins: PluginsConfig,
    pub outbox: OutboxConfig,
    pub console: ConsoleConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// Installed plugins; empty means `<data_dir>/plugins`.
    pub dir: PathBuf,
    /// Compiled-component cache; empty means `<data_dir>/plugin-cache`.
    pub cache_dir: PathBuf,
    #[serde(with = "duration")]
    pub reload_debounce: Duration,
    /// Non-public networks plugins may reach, as CIDRs.
    pub allow_private: Vec<ipnet::IpNet>,
    pub breaker_failures: u32,
    #[serde(with = "duration")]
    pub breaker_cooldown: Duration,
    pub max_instances: u32,
    pub max_memory_mib: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

/// The operator console at `/` (sessions; see docs/console.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    pub enabled: bool,
    /// Mark the session cookie `Secure` (the console is reached over TLS).
    pub secure_cookie: bool,
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    #[serde(with = "duration")]
    pub absolute_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub max_batch_events: usize,
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    #[serde(with = "duration")]
    pub max_wait: Duration,
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub open_rate_limit_per_second: u32,
    pub open_rate_limit_burst: u32,
    #[serde(with = "duration")]
    pub header_read_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Tokens by hash, with scopes (see `escalier token create`).
    pub tokens: Vec<escalier_server::auth::TokenEntry>,
    /// One clear token with every scope (`ESCALIER_API_TOKEN`).
    #[serde(default, skip_serializing)]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    /// Empty: the embedded redb file in `data_dir`. `postgres://…`: a
    /// PostgreSQL database (shown without its password).
    pub url: StoreUrl,
    /// Name of the secret (`ESCALIER_SECRET_<NAME>` or
    /// `<data_dir>/secrets.toml`) holding the PostgreSQL password, if the
    /// URL does not carry it.
    pub password_secret: String,
    /// PostgreSQL connections in a node's pool (one more is kept for
    /// renewing its partition leases).
    pub pool_size: usize,
    pub cache_mb: usize,
    pub queue_capacity: usize,
    #[serde(with = "duration")]
    pub commit_gather: Duration,
}

/// Several nodes on one PostgreSQL database (see docs/deploy.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's name in `GET /v1/cluster`; empty: the one kept in
    /// `<data_dir>/node-id` (made on first start).
    pub node_id: String,
    /// How long a node keeps its partitions without renewing them: a
    /// stopped node's partitions move to the others after at most this.
    #[serde(with = "duration")]
    pub lease: Duration,
    /// Partitions of the log, fixed when the database is created.
    pub partitions: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    #[serde(deserialize_with = "list_or_words")]
    pub secrets: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoliciesConfig {
    pub dir: PathBuf,
    #[serde(with = "duration")]
    pub reload_debounce: Duration,
    /// Which policy set a ticket follows: `latest` or `ticket`.
    pub pin: crate::reactors::Pin,
    /// Bounds for one policy run; see `escalier_policy::PolicyLimits`.
    pub limits: escalier_policy::PolicyLimits,
    /// A candidate policy directory the console's backtest page and
    /// `POST /v1/backtests` replay over the stored log; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorConfig {
    pub chunk: usize,
    pub max_depth: u8,
    pub max_derived: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Environment variables and the keys they set.
const ENV: &[(&str, &str)] = &[
    ("ESCALIER_LISTEN", "server.listen"),
    ("ESCALIER_DATA_DIR", "storage.data_dir"),
    ("ESCALIER_STORE_URL", "storage.url"),
    ("ESCALIER_WEBHOOK_SECRET", "webhook.secrets"),
    ("ESCALIER_API_TOKEN", "api.token"),
    ("ESCALIER_POLICIES", "policies.dir"),
    ("ESCALIER_CANDIDATE_POLICIES", "policies.candidate_dir"),
    ("ESCALIER_PLUGINS", "plugins.dir"),
    ("ESCALIER_PLUGIN_CACHE", "plugins.cache_dir"),
    ("ESCALIER_LOG", "log.level"),
    ("ESCALIER_LOG_FORMAT", "log.format"),
];

/// Flag values that override everything else.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<PathBuf>,
}

impl Config {
    /// Load the layers. `file` is `--config`; without it `./escalier.toml`
    /// is read if present.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Toml::string(DEFAULT_TOML));
        match file {
            Some(f) => {
                anyhow::ensure!(f.is_file(), "config file {} does not exist", f.display());
                fig = fig.merge(Toml::file_exact(f));
            }
            None if Path::new("escalier.toml").is_file() => {
                fig = fig.merge(Toml::file_exact("escalier.toml"))
            }
            None => {}
        }
        for (var, key) in ENV {
            if let Ok(v) = std::env::var(var) {
                let value = if *key == "webhook.secrets" {
                    figment::value::Value::from(
                        v.split_whitespace().map(str::to_owned).collect::<Vec<_>>(),
                    )
                } else {
                    figment::value::Value::from(v)
                };
                fig = fig.merge((*key, value));
            }
        }
        if let Some(l) = &overrides.listen {
            fig = fig.merge(("server.listen", l.as_str()));
        }
        if let Some(d) = &overrides.data_dir {
            fig = fig.merge(("storage.data_dir", d.display().to_string()));
        }
        if let Some(u) = &overrides.store {
            fig = fig.merge(("storage.url", u.as_str()));
        }
        if let Some(p) = &overrides.policies {
            fig = fig.merge(("policies.dir", p.display().to_string()));
        }
        if let Some(p) = &overrides.plugins {
            fig = fig.merge(("plugins.dir", p.display().to_string()));
        }
        fig.extract::<Config>()
            .map_err(|e| anyhow::anyhow!(describe(e)))
            .context("invalid configuration")
    }

    pub fn db_path(&self) -> PathBuf {
        self.storage.data_dir.join("escalier.redb")
    }

    pub fn plugins_dir(&self) -> PathBuf {
        if self.plugins.dir.as_os_str().is_empty() {
            self.storage.data_dir.join("plugins")
        } else {
            self.plugins.dir.clone()
        }
    }

    pub fn plugin_cache_dir(&self) -> PathBuf {
        if self.plugins.cache_dir.as_os_str().is_empty() {
            self.storage.data_dir.join("plugin-cache")
        } else {
            self.plugins.cache_dir.clone()
        }
    }

    pub fn tokens_path(&self) -> PathBuf {
        self.storage.data_dir.join(crate::secrets::TOKENS_FILE)
    }
}

/// A store URL. It may carry a password, so it is shown (Debug,
/// serialized) without it.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct StoreUrl(pub String);

impl StoreUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", crate::store::redact(&self.0))
    }
}

impl Serialize for StoreUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::store::redact(&self.0))
    }
}

impl std::str::FromStr for StoreUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(StoreUrl(s.to_owned()))
    }
}

/// Figment errors name the key and the source; put each on its own line.
fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A list, or a string of space-separated words (the environment form).
fn list_or_words<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Words(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(l) => l,
        Either::Words(w) => w.split_whitespace().map(str::to_owned).collect(),
    })
}

/// Durations in human form: "250ms", "30s", "5m".
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{s}` is not a duration like \"250ms\" or \"30s\": {e}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_defaults_load() {
        let c = Config::load(None, &Overrides::default()).unwrap();
        assert_eq!(c.server.max_body_bytes, 1 << 20);
        assert_eq!(c.policies.limits, escalier_policy::PolicyLimits::default());
        assert!(c.webhook.secrets.is_empty());
    }

    #[test]
    fn a_store_password_is_never_shown() {
        let url = "postgres://escalier:s3cr3t-pw@db.internal:5432/escalier";
        let o = Overrides {
            store: Some(url.parse().unwrap()),
            ..Overrides::default()
        };
        let c = Config::load(None, &o).unwrap();
        assert_eq!(c.storage.url.as_str(), url, "the URL itself is kept");
        for shown in [
            format!("{c:?}"),
            format!("{o:?}"),
            serde_json::to_string(&c).unwrap(),
            serde_json::to_string(&o).unwrap(),
        ] {
            assert!(!shown.contains("s3cr3t-pw"), "{shown}");
            assert!(shown.contains("db.internal"), "{shown}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[server]\nlisen = \"0.0.0.0:1\"\n").unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&f), &Overrides::default()).unwrap_err()
        );
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[policies.limits]\nmax_time = \"soon\"\n").unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&f), &Overrides::default()).unwrap_err()
        );
        assert!(err.contains("max_time") && err.contains("soon"), "{err}");
    }

    #[test]
    fn flags_override_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[server]\nlisten = \"127.0.0.1:1\"\n").unwrap();
        let o = Overrides {
            listen: Some("127.0.0.1:2".into()),
            ..Overrides::default()
        };
        assert_eq!(Config::load(Some(&f), &o).unwrap().server.listen.port(), 2);
    }
}
