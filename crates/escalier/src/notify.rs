//! Notifications as the binary wires them: `notify.toml` checked with the
//! policy set (the engine's check), its parsed form cached per set
//! version for the reactor and the notifier, the generated signing secret,
//! the secrets the notifier reads, and what `GET /v1/notify/targets`
//! shows.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use escalier_core::{Reaction, Reactor, Record, Ticket};
use escalier_lab::replay::{PluginRef, PluginRunner};
use escalier_lab::sim::SharedReactor;
use escalier_notify::{NotifyConfig, NotifyReactor, TargetKind, TargetStatus};
use escalier_plugin::PluginRegistry;
use escalier_policy::{NOTIFY_FILE, PolicyEngine, PolicyLimits, PolicyRegistry, PolicySet};
use serde_json::json;

/// The secret generic webhook targets sign with, generated on first start.
pub const SIGNING_SECRET: &str = "notify_signing_secret";
/// File in the data directory holding the generated signing secret.
pub const SIGNING_SECRET_FILE: &str = "notify-signing-secret";

/// A policy engine that checks `notify.toml` (against the set's calendars).
pub fn engine(limits: PolicyLimits) -> PolicyEngine {
    PolicyEngine::new(limits).with_notify_check(Arc::new(|text, books| {
        NotifyConfig::parse(text, &books.sla)
            .map(|_| ())
            .map_err(|e| e.0)
    }))
}

/// The parsed `notify.toml` of the set in force, parsed once per version.
/// `None`: the set has no `notify.toml` (notifications are off: an
/// `action.notify` is recorded and nothing is sent).
pub struct NotifyCache {
    last: Mutex<Option<(String, Option<Arc<NotifyConfig>>)>>,
}

impl Default for NotifyCache {
    fn default() -> Self {
        NotifyCache {
            last: Mutex::new(None),
        }
    }
}

impl NotifyCache {
    pub fn config(&self, set: &PolicySet) -> Option<Arc<NotifyConfig>> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((version, config)) = &*last
            && version == set.version()
        {
            return config.clone();
        }
        let config = set
            .sources()
            .iter()
            .find(|(name, _)| name == NOTIFY_FILE)
            .and_then(
                |(_, text)| match NotifyConfig::parse(text, &set.books().sla) {
                    Ok(c) => Some(Arc::new(c)),
                    Err(e) => {
                        // The engine's check refused such a set; only a set
                        // built without it (tests) gets here.
                        tracing::error!(error = %e, "notify.toml: notifications are off");
                        None
                    }
                },
            );
        *last = Some((set.version().to_owned(), config.clone()));
        config
    }

    /// The reactor for the set in force, if it has a `notify.toml`.
    pub fn reactor(&self, set: &PolicySet) -> Option<NotifyReactor> {
        self.config(set).map(NotifyReactor::new)
    }
}

/// Secret values for the notifier: the plugin host's (environment
/// `ESCALIER_SECRET_<NAME>`, then `<data dir>/secrets.toml`, re-read on
/// reload), and the generated signing secret.
pub fn secrets(
    plugins: Arc<PluginRegistry>,
    generated: Option<String>,
) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    move |name: &str| {
        plugins.secret(name).or_else(|| {
            (name == SIGNING_SECRET)
                .then(|| generated.clone())
                .flatten()
        })
    }
}

/// The generated signing secret: read from the data directory, or created
/// there (mode 0600) when it is missing and not set otherwise. Returns the
/// value and, when it was created now, its path (to say so once).
pub fn signing_secret(
    data_dir: &Path,
    configured: bool,
) -> anyhow::Result<(Option<String>, Option<PathBuf>)> {
    let path = data_dir.join(SIGNING_SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok((Some(t.trim().to_owned()), None)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if configured {
                return Ok((None, None));
            }
            let text = escalier_webhook::Secret::generate(rand::random());
            let mut opts = OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            Ok((Some(text), Some(path)))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// `GET /v1/notify/targets`: each target's kind, whether it can send, and
/// why not — secret names, never values.
pub fn targets_status(
    policies: &PolicyRegistry,
    cache: &NotifyCache,
    secret_set: &dyn Fn(&str) -> bool,
) -> serde_json::Value {
    let set = policies.current();
    let Some(config) = cache.config(&set) else {
        return json!({"configured": false, "targets": [], "teams": {}});
    };
    let targets: Vec<serde_json::Value> = config
        .targets
        .values()
        .map(|t| {
            let (enabled, reason) = match t.status(&config, secret_set) {
                TargetStatus::Enabled => (true, None),
                TargetStatus::Disabled(why) => (false, Some(why)),
            };
            let mut v = json!({
                "name": t.name,
                "kind": t.kind.kind().as_str(),
                "enabled": enabled,
                "secrets": t.kind.secrets(),
                "urgent_priorities": t.urgent_priorities,
            });
            if let Some(r) = reason {
                v["disabled_reason"] = json!(r);
            }
            if let Some(c) = &t.calendar {
                v["calendar"] = json!(c);
            }
            if let TargetKind::Email { to } = &t.kind {
                v["to"] = json!(to.iter().map(|m| m.email.to_string()).collect::<Vec<_>>());
            }
            v
        })
        .collect();
    json!({"configured": true, "targets": targets, "teams": config.teams})
}

/// A replay's plugins, then the notification reactor, as the server runs
/// them after the policies: a backtest of a set with a `notify.toml`
/// reproduces its `notification.requested` records.
pub struct ReplayWithNotify {
    pub plugins: Arc<dyn PluginRunner>,
    pub notify: Arc<NotifyReactor>,
}

impl PluginRunner for ReplayWithNotify {
    fn reactor(&self) -> SharedReactor {
        Arc::new(Then(self.plugins.reactor(), self.notify.clone()))
    }

    fn plugins(&self) -> Vec<PluginRef> {
        self.plugins.plugins()
    }
}

/// Two reactors in turn.
struct Then(SharedReactor, Arc<NotifyReactor>);

impl Reactor for Then {
    fn wants(&self, event_type: &str) -> bool {
        self.0.wants(event_type) || self.1.wants(event_type)
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        let t = record.event.type_name();
        if self.0.wants(t) {
            self.0.react(ticket, record, out);
        }
        if self.1.wants(t) {
            self.1.react(ticket, record, out);
        }
    }
}

/// Log once, at start, the targets that cannot send and why.
pub fn log_disabled(config: &NotifyConfig, secret_set: &dyn Fn(&str) -> bool) {
    for t in config.targets.values() {
        if let TargetStatus::Disabled(why) = t.status(config, secret_set) {
            tracing::info!(target = %t.name, kind = t.kind.kind().as_str(), "notification target disabled: {why}");
        }
    }
}

#[cfg(test)]
mod tests {
    use escalier_core::{ManualClock, Timestamp};

    use super::*;

    /// The repository's example policies directory.
    fn examples() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
    }

    #[test]
    fn the_example_targets_load_and_wait_for_their_secrets() {
        let at: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let policies = PolicyRegistry::with_engine(
            examples(),
            Arc::new(engine(PolicyLimits::default())),
            Arc::new(ManualClock::new(at)),
        )
        .unwrap();
        let cache = NotifyCache::default();
        let config = cache.config(&policies.current()).expect("notify.toml");
        // Every channel the example policies, ladders and approval plugin name.
        for name in [
            "duty-manager",
            "#on-call",
            "support-team-lead",
            "team-lead",
            "director-of-support",
            "oncall-engineer",
            "head-of-support",
            "tier-2-lead",
        ] {
            assert!(!config.resolve(name).is_empty(), "{name}");
        }
        let status = targets_status(&policies, &cache, &|_| false);
        assert_eq!(status["configured"], true);
        for t in status["targets"].as_array().unwrap() {
            assert_eq!(t["enabled"], false, "{t}");
            assert!(t["disabled_reason"].is_string(), "{t}");
        }
        // With the secrets set, only the email targets wait (no [email] server).
        let status = targets_status(&policies, &cache, &|_| true);
        for t in status["targets"].as_array().unwrap() {
            assert_eq!(t["enabled"], t["kind"] != "email", "{t}");
        }
        // No URL in the file: webhook addresses are secrets.
        let text = std::fs::read_to_string(examples().join("notify.toml")).unwrap();
        let values: toml::Table = toml::from_str(&text).unwrap();
        assert!(!values.to_string().contains("hooks."), "{values}");
    }

    #[test]
    fn the_signing_secret_is_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = signing_secret(dir.path(), false).unwrap();
        assert!(created.is_some());
        let first = first.unwrap();
        assert!(escalier_webhook::Secret::parse(&first).is_ok());
        let (again, created) = signing_secret(dir.path(), false).unwrap();
        assert_eq!((again.as_deref(), created), (Some(first.as_str()), None));
        let other = tempfile::tempdir().unwrap();
        assert_eq!(signing_secret(other.path(), true).unwrap(), (None, None));
    }
}
