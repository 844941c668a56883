//! `plugin.toml`: what a plugin is, what it reacts to, what it may touch
//! and how much it may use.
//!
//! ```toml
//! name = "notify-http"
//! version = "0.1.0"
//! component = "notify_http.wasm"
//! subscribe = ["action.notify"]
//!
//! [capabilities]
//! config = ["targets"]
//! http = { allowed_hosts = ["https://hooks.slack.com"], signing_secret = "notify_signing" }
//!
//! [limits]
//! time_ms = 20
//! memory_mib = 16
//!
//! [config]
//! targets = { duty-manager = { url = "https://hooks.slack.com/services/T0/B0/x", format = "slack" } }
//! ```
//!
//! Unknown keys and invalid values are errors that name the file, the key
//! and, where it can be found, the line.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::outbound::allow::{AddressPolicy, HostPattern, non_public};

/// The manifest's file name in each plugin directory.
pub const FILE_NAME: &str = "plugin.toml";

/// Bounds on `[limits]`.
pub const MAX_TIME_MS: u32 = 10_000;
pub const MAX_KV_BYTES: u32 = 1 << 20;

/// A bad manifest: file, key, line (when known) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: `{key}`: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ManifestError {
    pub path: PathBuf,
    /// 1-based.
    pub line: Option<usize>,
    /// Dotted key path (`limits.time_ms`); empty when the file as a whole is at fault.
    pub key: String,
    pub message: String,
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub description: String,
    /// Component file, relative to the plugin directory.
    pub component: PathBuf,
    /// Event types handed to the `handler` export; `*` means every type.
    pub subscribe: Vec<String>,
    /// Source name for `POST /v1/sources/{source}` handled by the `adapter` export.
    pub adapter: Option<String>,
    /// Commands handled by the `commands` export.
    pub commands: Vec<String>,
    pub capabilities: Capabilities,
    pub limits: Limits,
    /// `[config]` values as JSON, by key.
    pub config: BTreeMap<String, serde_json::Value>,
    /// `enabled = false`: the plugin is listed with this reason (its
    /// `disabled_reason`) and not loaded, so it needs none of its secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capabilities {
    /// `log.log` (default on).
    pub log: bool,
    /// `clock.now` and a WASI wall clock that reads record time (default
    /// on); without it the wall clock reads the Unix epoch.
    pub clock: bool,
    /// `snapshot.ticket-json`, the whole ticket (default off).
    pub snapshot: bool,
    pub kv: bool,
    /// `timers.set` and `timers.cancel` (default off).
    pub timers: bool,
    pub config: Vec<String>,
    pub secrets: Vec<String>,
    pub http: Option<HttpCapability>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpCapability {
    #[serde(serialize_with = "display_all")]
    pub allowed_hosts: Vec<HostPattern>,
    /// Secret used to sign requests that ask for it (Standard Webhooks).
    /// Never readable by the plugin itself.
    pub signing_secret: Option<String>,
    /// Secrets `send-authenticated` may name: the host puts their values
    /// in the `Authorization` header at send time. Never readable by the
    /// plugin itself, and not resolved at load (an unset one fails the
    /// delivery that needs it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_secrets: Vec<String>,
}

fn display_all<S: serde::Serializer>(v: &[HostPattern], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|p| p.to_string()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Wall time per call.
    pub time_ms: u32,
    /// Linear memory per instance.
    pub memory_mib: u32,
    /// Key-value bytes (keys plus values) per ticket.
    pub kv_bytes: u32,
    pub instances: InstanceMode,
    /// Calls one warm instance serves before it is replaced (`reuse` only).
    pub max_reuse: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_ms: 50,
            memory_mib: 32,
            kv_bytes: 64 * 1024,
            instances: InstanceMode::Fresh,
            max_reuse: 10_000,
        }
    }
}

/// How instances are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceMode {
    /// A fresh instance per call: nothing carries over between calls.
    Fresh,
    /// Warm instances are reused across calls (and tickets): much cheaper
    /// for guests that are slow to start (Python: ~1.2 ms to instantiate),
    /// but memory and globals the guest keeps are visible to later calls,
    /// including for other tickets. kv, time, config and WASI randomness
    /// (seeded again before every call) stay per call.
    Reuse,
}

// The file as written. Kept apart from `Manifest` so that serde refuses
// unknown keys and `validate` can name the key of a bad value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    version: String,
    #[serde(default)]
    description: String,
    component: String,
    #[serde(default)]
    subscribe: Vec<String>,
    #[serde(default)]
    adapter: Option<String>,
    #[serde(default)]
    commands: Vec<String>,
    #[serde(default)]
    capabilities: RawCapabilities,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    disabled_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapabilities {
    #[serde(default = "yes")]
    log: bool,
    #[serde(default = "yes")]
    clock: bool,
    #[serde(default)]
    snapshot: bool,
    #[serde(default)]
    kv: bool,
    #[serde(default)]
    timers: bool,
    #[serde(default)]
    config: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    http: Option<RawHttp>,
}

impl Default for RawCapabilities {
    fn default() -> Self {
        RawCapabilities {
            log: true,
            clock: true,
            snapshot: false,
            kv: false,
            timers: false,
            config: Vec::new(),
            secrets: Vec::new(),
            http: None,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    allowed_hosts: Vec<String>,
    #[serde(default)]
    signing_secret: Option<String>,
    #[serde(default)]
    auth_secrets: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    time_ms: Option<u32>,
    memory_mib: Option<u32>,
    kv_bytes: Option<u32>,
    instances: Option<InstanceMode>,
    max_reuse: Option<u32>,
}

/// Names of plugins, adapters, commands, config keys and secrets:
/// lowercase letters, digits, `-` and `_`, 1 to 64 characters.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Manifest {
    /// Read and validate `dir/plugin.toml`.
    pub fn load(dir: &Path) -> Result<(Manifest, String), crate::error::LoadError> {
        let path = dir.join(FILE_NAME);
        let text =
            std::fs::read_to_string(&path).map_err(|source| crate::error::LoadError::Io {
                path: path.clone(),
                source,
            })?;
        let m = Manifest::parse(&text, &path)?;
        Ok((m, text))
    }

    /// Parse and validate manifest text; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let err = |key: &str, message: String| ManifestError {
            path: path.to_owned(),
            line: find_line(text, key),
            key: key.to_owned(),
            message,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let (mut key, message) = explain(e.message());
            if key.is_empty()
                && let Some(line) = line
            {
                key = key_on_line(text, line);
            }
            ManifestError {
                path: path.to_owned(),
                line,
                key,
                message,
            }
        })?;

        if !valid_name(&raw.name) {
            return Err(err(
                "name",
                format!(
                    "`{}`: use 1 to 64 lowercase letters, digits, `-` or `_`",
                    raw.name
                ),
            ));
        }
        if raw.version.trim().is_empty()
            || raw.version.len() > 64
            || raw.version.contains(char::is_whitespace)
        {
            return Err(err(
                "version",
                format!("`{}` is not a version like 1.2.0", raw.version),
            ));
        }
        let component = PathBuf::from(&raw.component);
        if raw.component.is_empty()
            || component.is_absolute()
            || component
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(err(
                "component",
                format!(
                    "`{}`: name a file inside the plugin directory",
                    raw.component
                ),
            ));
        }
        let known: Vec<&str> = escalier_core::event::all_types().collect();
        for (i, t) in raw.subscribe.iter().enumerate() {
            if t != "*" && !known.contains(&t.as_str()) {
                let hint = escalier_core::suggest::nearest(t, known.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(err(
                    &format!("subscribe[{i}]"),
                    format!("unknown event type `{t}`{hint}"),
                ));
            }
        }
        if let Some(a) = &raw.adapter
            && !valid_name(a)
        {
            return Err(err(
                "adapter",
                format!("`{a}`: use lowercase letters, digits, `-` or `_`"),
            ));
        }
        for (i, c) in raw.commands.iter().enumerate() {
            if !valid_name(c) {
                return Err(err(
                    &format!("commands[{i}]"),
                    format!("`{c}`: use lowercase letters, digits, `-` or `_`"),
                ));
            }
        }
        if raw.subscribe.is_empty() && raw.adapter.is_none() && raw.commands.is_empty() {
            return Err(err(
                "subscribe",
                "the plugin subscribes to nothing, adapts nothing and has no commands: it would never be called".into(),
            ));
        }

        let disabled = match (raw.enabled, raw.disabled_reason) {
            (true, None) => None,
            (true, Some(_)) => {
                return Err(err(
                    "disabled_reason",
                    "only meaningful with `enabled = false`".into(),
                ));
            }
            (false, Some(r)) if !r.trim().is_empty() => Some(r.trim().to_owned()),
            (false, _) => Some("`enabled = false` in plugin.toml".to_owned()),
        };

        let caps = raw.capabilities;
        for (i, k) in caps.config.iter().enumerate() {
            if k.is_empty() || k.len() > 64 {
                return Err(err(
                    &format!("capabilities.config[{i}]"),
                    "config keys are 1 to 64 characters".into(),
                ));
            }
        }
        for k in raw.config.keys() {
            if !caps.config.contains(k) {
                return Err(err(
                    &format!("config.{k}"),
                    format!(
                        "`{k}` has a value but is not listed in capabilities.config, so the plugin could not read it"
                    ),
                ));
            }
        }
        for (i, s) in caps.secrets.iter().enumerate() {
            if !valid_name(s) {
                return Err(err(
                    &format!("capabilities.secrets[{i}]"),
                    format!("`{s}`: secret names use lowercase letters, digits, `-` or `_`"),
                ));
            }
        }
        let http = match caps.http {
            None => None,
            Some(h) => {
                let mut allowed = Vec::new();
                for (i, s) in h.allowed_hosts.iter().enumerate() {
                    allowed.push(
                        HostPattern::parse(s).map_err(|m| {
                            err(&format!("capabilities.http.allowed_hosts[{i}]"), m)
                        })?,
                    );
                }
                if let Some(s) = &h.signing_secret
                    && !valid_name(s)
                {
                    return Err(err(
                        "capabilities.http.signing_secret",
                        format!("`{s}`: secret names use lowercase letters, digits, `-` or `_`"),
                    ));
                }
                check_auth_secrets(&h.auth_secrets, &caps.secrets, &allowed, &err)?;
                Some(HttpCapability {
                    allowed_hosts: allowed,
                    signing_secret: h.signing_secret,
                    auth_secrets: h.auth_secrets,
                })
            }
        };

        let d = Limits::default();
        let rl = raw.limits;
        let limits = Limits {
            time_ms: rl.time_ms.unwrap_or(d.time_ms),
            memory_mib: rl.memory_mib.unwrap_or(d.memory_mib),
            kv_bytes: rl.kv_bytes.unwrap_or(d.kv_bytes),
            instances: rl.instances.unwrap_or(d.instances),
            max_reuse: rl.max_reuse.unwrap_or(d.max_reuse),
        };
        if !(1..=MAX_TIME_MS).contains(&limits.time_ms) {
            return Err(err(
                "limits.time_ms",
                format!("{} is out of range: 1 to {MAX_TIME_MS}", limits.time_ms),
            ));
        }
        if !(1..=4096).contains(&limits.memory_mib) {
            return Err(err(
                "limits.memory_mib",
                format!("{} is out of range: 1 to 4096", limits.memory_mib),
            ));
        }
        if limits.kv_bytes > MAX_KV_BYTES {
            return Err(err(
                "limits.kv_bytes",
                format!("{} is out of range: 0 to {MAX_KV_BYTES}", limits.kv_bytes),
            ));
        }
        if limits.max_reuse == 0 {
            return Err(err("limits.max_reuse", "must be at least 1".into()));
        }

        let mut config = BTreeMap::new();
        for (k, v) in raw.config {
            let json =
                serde_json::to_value(&v).map_err(|e| err(&format!("config.{k}"), e.to_string()))?;
            config.insert(k, json);
        }

        Ok(Manifest {
            name: raw.name,
            version: raw.version,
            description: raw.description,
            component,
            subscribe: raw.subscribe,
            adapter: raw.adapter,
            commands: raw.commands,
            capabilities: Capabilities {
                log: caps.log,
                clock: caps.clock,
                snapshot: caps.snapshot,
                kv: caps.kv,
                timers: caps.timers,
                config: caps.config,
                secrets: caps.secrets,
                http,
            },
            limits,
            config,
            disabled,
        })
    }

    /// With `auth_secrets`, an `http://` entry in `allowed_hosts` would send
    /// the credential in clear text: allowed only for an address the
    /// operator's policy lets plugins reach although it is not public
    /// (`plugins.allow_private`: a help desk on the local network, a
    /// stand-in in tests). `text` and `path` are the manifest's, for the
    /// message.
    pub fn check_auth_transport(
        &self,
        policy: &AddressPolicy,
        text: &str,
        path: &Path,
    ) -> Result<(), ManifestError> {
        let Some(h) = &self.capabilities.http else {
            return Ok(());
        };
        if h.auth_secrets.is_empty() {
            return Ok(());
        }
        for (i, p) in h.allowed_hosts.iter().enumerate() {
            if p.scheme != "http" {
                continue;
            }
            let host = p.host.trim_start_matches('[').trim_end_matches(']');
            let ip = match host.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) if host == "localhost" || host.ends_with(".localhost") => {
                    Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
                }
                Err(_) => None,
            };
            let allowed = ip.is_some_and(|ip| non_public(ip).is_some() && policy.check(ip).is_ok());
            if !allowed {
                let key = format!("capabilities.http.allowed_hosts[{i}]");
                return Err(ManifestError {
                    path: path.to_owned(),
                    line: find_line(text, &key),
                    key,
                    message: format!(
                        "`{p}`: a plugin with auth_secrets sends credentials: use https, or an http address on a network the operator allows ([plugins] allow_private in escalier.toml)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// Every secret the host must resolve for this plugin.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.capabilities.secrets.iter().map(String::as_str).chain(
            self.capabilities
                .http
                .as_ref()
                .and_then(|h| h.signing_secret.as_deref()),
        )
    }
}

/// `capabilities.http.auth_secrets`: valid, distinct names the plugin
/// cannot also read (`capabilities.secrets`), and, because a credential
/// goes with every request, per-site allow-lists: exact origins only, no
/// `*.` wildcard over every tenant of a service.
fn check_auth_secrets(
    auth: &[String],
    readable: &[String],
    allowed: &[HostPattern],
    err: &dyn Fn(&str, String) -> ManifestError,
) -> Result<(), ManifestError> {
    for (i, s) in auth.iter().enumerate() {
        let key = format!("capabilities.http.auth_secrets[{i}]");
        if !valid_name(s) {
            return Err(err(
                &key,
                format!("`{s}`: secret names use lowercase letters, digits, `-` or `_`"),
            ));
        }
        if auth[..i].contains(s) {
            return Err(err(&key, format!("`{s}` is listed twice")));
        }
        if readable.contains(s) {
            return Err(err(
                &key,
                format!(
                    "`{s}` is also in capabilities.secrets, so the plugin could read it; a secret the host adds to requests must not be readable: remove it from capabilities.secrets"
                ),
            ));
        }
    }
    if !auth.is_empty() {
        for (i, p) in allowed.iter().enumerate() {
            if p.host.starts_with("*.") {
                return Err(err(
                    &format!("capabilities.http.allowed_hosts[{i}]"),
                    format!(
                        "`{p}`: a plugin with auth_secrets may list exact origins only (`https://acme.zendesk.com`), not a wildcard over every site, so its credentials go only to the site they belong to"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Turn serde's message into (key, message), adding a suggestion for a
/// misspelt key.
fn explain(msg: &str) -> (String, String) {
    let msg = msg.trim();
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((field, tail)) = rest.split_once('`')
    {
        let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        let hint = escalier_core::suggest::nearest(field, expected.iter().copied())
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return (
            field.to_owned(),
            format!("unknown key{hint} Known keys here: {}", expected.join(", ")),
        );
    }
    if let Some(rest) = msg.strip_prefix("missing field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        return (field.to_owned(), "is required".to_owned());
    }
    (String::new(), msg.to_owned())
}

/// The dotted key assigned on 1-based `line` (`limits.instances`), for
/// errors about a value.
fn key_on_line(text: &str, line: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(this) = lines.get(line.saturating_sub(1)) else {
        return String::new();
    };
    let Some((key, _)) = this.split_once('=') else {
        return String::new();
    };
    let key = key.trim().trim_matches('"');
    let section = lines[..line.saturating_sub(1)]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    match section {
        Some(sec) if !sec.is_empty() => format!("{sec}.{key}"),
        _ => key.to_owned(),
    }
}

/// Best-effort line of `key` (its last segment) for semantic errors.
fn find_line(text: &str, key: &str) -> Option<usize> {
    let last = key.rsplit('.').next()?;
    let last = last.split('[').next()?;
    if last.is_empty() {
        return None;
    }
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(last)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("plugins/x/plugin.toml"))
    }

    const MINIMAL: &str = r#"
name = "vip-first"
version = "1.0.0"
component = "vip_first.wasm"
subscribe = ["ticket.created"]
"#;

    #[test]
    fn a_minimal_manifest_gets_safe_defaults() {
        let m = parse(MINIMAL).unwrap();
        assert_eq!(m.name, "vip-first");
        assert!(m.capabilities.log && m.capabilities.clock);
        assert!(!m.capabilities.snapshot, "the full ticket is opt-in");
        assert!(!m.capabilities.kv);
        assert!(m.capabilities.http.is_none());
        assert_eq!(m.limits, Limits::default());
    }

    #[test]
    fn unknown_keys_are_named_with_a_suggestion_and_a_line() {
        let e = parse(&format!("{MINIMAL}\n[limits]\ntime_msec = 5\n")).unwrap_err();
        assert_eq!(e.key, "time_msec");
        assert_eq!(e.line, Some(8));
        assert!(
            e.message.contains("did you mean `time_ms`?"),
            "{}",
            e.message
        );
        let e = parse(&MINIMAL.replace("subscribe", "subscriptions")).unwrap_err();
        assert_eq!(e.key, "subscriptions");
        assert!(
            e.to_string()
                .starts_with("plugins/x/plugin.toml:5: `subscriptions`"),
            "{e}"
        );
    }

    #[test]
    fn invalid_values_name_their_key() {
        let cases = [
            (MINIMAL.replace("vip-first", "VIP First"), "name"),
            (
                MINIMAL.replace("vip_first.wasm", "../escape.wasm"),
                "component",
            ),
            (
                MINIMAL.replace("ticket.created", "ticket.create"),
                "subscribe[0]",
            ),
            (
                format!("{MINIMAL}[limits]\ntime_ms = 0\n"),
                "limits.time_ms",
            ),
            (
                format!("{MINIMAL}[limits]\nmemory_mib = 100000\n"),
                "limits.memory_mib",
            ),
            (
                format!("{MINIMAL}[capabilities.http]\nallowed_hosts = [\"https://*\"]\n"),
                "capabilities.http.allowed_hosts[0]",
            ),
            (
                format!("{MINIMAL}[config]\nurl = \"https://x\"\n"),
                "config.url",
            ),
            (
                format!("{MINIMAL}[limits]\ninstances = \"shared\"\n"),
                "limits.instances",
            ),
        ];
        for (text, key) in cases {
            let e = parse(&text).unwrap_err();
            assert_eq!(e.key, key, "{e}");
        }
        let e = parse(&MINIMAL.replace("ticket.created", "ticket.create")).unwrap_err();
        assert!(e.message.contains("did you mean `ticket.created`?"));
    }

    #[test]
    fn a_disabled_plugin_says_why() {
        assert_eq!(parse(MINIMAL).unwrap().disabled, None);
        let m = parse(&format!(
            "enabled = false\ndisabled_reason = \"set the webhook secret first\"\n{MINIMAL}"
        ))
        .unwrap();
        assert_eq!(m.disabled.as_deref(), Some("set the webhook secret first"));
        let m = parse(&format!("enabled = false\n{MINIMAL}")).unwrap();
        assert!(m.disabled.unwrap().contains("enabled = false"));
        let e = parse(&format!("disabled_reason = \"x\"\n{MINIMAL}")).unwrap_err();
        assert_eq!(e.key, "disabled_reason");
    }

    #[test]
    fn a_plugin_that_would_never_be_called_is_refused() {
        let e = parse(&MINIMAL.replace("subscribe = [\"ticket.created\"]", "")).unwrap_err();
        assert_eq!(e.key, "subscribe");
    }

    #[test]
    fn config_values_become_json_and_secrets_include_the_signing_secret() {
        let m = parse(&format!(
            "{MINIMAL}[capabilities]\nconfig = [\"targets\"]\nsecrets = [\"a\"]\nhttp = {{ allowed_hosts = [\"hooks.slack.com\"], signing_secret = \"sign\" }}\n[config]\ntargets = {{ ops = {{ url = \"https://hooks.slack.com/x\", n = 3 }} }}\n"
        ))
        .unwrap();
        assert_eq!(m.config["targets"]["ops"]["n"], 3);
        assert_eq!(m.secret_names().collect::<Vec<_>>(), ["a", "sign"]);
    }

    const AUTH: &str = "[capabilities.http]\nallowed_hosts = [\"https://acme.zendesk.com\"]\nauth_secrets = [\"zendesk_api_token\"]\n";

    #[test]
    fn auth_secrets_are_listed_not_resolved_at_load() {
        let m = parse(&format!("{MINIMAL}{AUTH}")).unwrap();
        let h = m.capabilities.http.as_ref().unwrap();
        assert_eq!(h.auth_secrets, ["zendesk_api_token"]);
        // Not readable, and not required at load: an unset one fails the
        // delivery that needs it.
        assert!(m.capabilities.secrets.is_empty());
        assert_eq!(m.secret_names().count(), 0);
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json["capabilities"]["http"]["auth_secrets"][0],
            "zendesk_api_token"
        );
    }

    #[test]
    fn an_auth_secret_the_plugin_could_read_is_refused() {
        let text = format!("{MINIMAL}[capabilities]\nsecrets = [\"zendesk_api_token\"]\n{AUTH}");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.key, "capabilities.http.auth_secrets[0]");
        assert!(e.message.contains("capabilities.secrets"), "{e}");
        assert!(e.to_string().starts_with("plugins/x/plugin.toml:"), "{e}");
    }

    #[test]
    fn auth_secrets_need_exact_origins() {
        let text =
            format!("{MINIMAL}{AUTH}").replace("https://acme.zendesk.com", "https://*.zendesk.com");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.key, "capabilities.http.allowed_hosts[0]");
        assert!(e.message.contains("exact origins"), "{e}");
        // Without auth_secrets the wildcard stays allowed.
        parse(&format!(
            "{MINIMAL}[capabilities.http]\nallowed_hosts = [\"https://*.zendesk.com\"]\n"
        ))
        .unwrap();
    }

    #[test]
    fn bad_or_repeated_auth_secret_names_are_refused() {
        for (list, why) in [
            ("[\"Zendesk Token\"]", "lowercase"),
            ("[\"a\", \"a\"]", "twice"),
        ] {
            let text = format!("{MINIMAL}{AUTH}").replace("[\"zendesk_api_token\"]", list);
            let e = parse(&text).unwrap_err();
            assert!(e.key.starts_with("capabilities.http.auth_secrets["), "{e}");
            assert!(e.message.contains(why), "{e}");
        }
    }

    #[test]
    fn cleartext_auth_only_to_operator_allowed_private_addresses() {
        let path = Path::new("plugins/x/plugin.toml");
        let policy = AddressPolicy {
            allow_private: vec!["127.0.0.0/8".parse().unwrap()],
        };
        let with = |host: &str| {
            let text = format!("{MINIMAL}{AUTH}").replace("https://acme.zendesk.com", host);
            (parse(&text).unwrap(), text)
        };
        // https: always fine.
        let (m, text) = with("https://acme.zendesk.com");
        m.check_auth_transport(&AddressPolicy::default(), &text, path)
            .unwrap();
        // http to a loopback stand-in the operator allows.
        let (m, text) = with("http://127.0.0.1:8081");
        m.check_auth_transport(&policy, &text, path).unwrap();
        let e = m
            .check_auth_transport(&AddressPolicy::default(), &text, path)
            .unwrap_err();
        assert_eq!(e.key, "capabilities.http.allowed_hosts[0]");
        assert!(e.message.contains("use https"), "{e}");
        // http to a name or a public address: the credential would cross the
        // internet in clear text, whatever the policy.
        for host in ["http://acme.zendesk.com", "http://93.184.216.34"] {
            let (m, text) = with(host);
            let e = m.check_auth_transport(&policy, &text, path).unwrap_err();
            assert_eq!(e.line, Some(7), "{e}");
        }
        // Without auth_secrets, http is the allowlist's business alone.
        let text = format!(
            "{MINIMAL}[capabilities.http]\nallowed_hosts = [\"http://hooks.example.com\"]\n"
        );
        parse(&text)
            .unwrap()
            .check_auth_transport(&AddressPolicy::default(), &text, path)
            .unwrap();
    }
}
