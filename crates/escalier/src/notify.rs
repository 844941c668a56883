//! Notifications as the binary wires them: `notify.toml` checked with the
//! policy set (the engine's check), its parsed form cached per set
//! version for the reactor and the notifier, the generated signing secret,
//! the secrets the notifier reads, and what `GET /v1/notify/targets`
//! shows.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
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

/// Whether a secret is set (never its value).
pub type SecretSet = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The parsed `notify.toml` of the set in force, parsed once per version.
/// `None`: the set has no `notify.toml` (notifications are off: an
/// `action.notify` is recorded and nothing is sent).
#[derive(Default)]
pub struct NotifyCache {
    last: Mutex<Option<(String, Option<Arc<NotifyConfig>>)>>,
    /// With [`NotifyCache::logging_disabled`]: whether a secret is set.
    secret_set: Option<SecretSet>,
    /// The disabled targets last logged: name → why.
    disabled: Mutex<BTreeMap<String, String>>,
}

impl NotifyCache {
    /// A cache that logs the targets that cannot send, and why, when it
    /// first reads a set's `notify.toml` (at start, and after each reload
    /// of the policies) and they differ from those logged before: a target
    /// newly disabled or with another reason, and one that can send again.
    /// Logged once per change, never per record.
    pub fn logging_disabled(secret_set: SecretSet) -> NotifyCache {
        NotifyCache {
            secret_set: Some(secret_set),
            ..NotifyCache::default()
        }
    }

    pub fn config(&self, set: &PolicySet) -> Option<Arc<NotifyConfig>> {
        self.config_logged(set).0
    }

    /// [`NotifyCache::config`], and the lines it logged about targets.
    fn config_logged(&self, set: &PolicySet) -> (Option<Arc<NotifyConfig>>, Vec<String>) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((version, config)) = &*last
            && version == set.version()
        {
            return (config.clone(), Vec::new());
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
        let logged = match &self.secret_set {
            Some(secret_set) => self.log_disabled(config.as_deref(), &**secret_set),
            None => Vec::new(),
        };
        (config, logged)
    }

    /// Log what changed in the disabled targets since the last time.
    fn log_disabled(
        &self,
        config: Option<&NotifyConfig>,
        secret_set: &dyn Fn(&str) -> bool,
    ) -> Vec<String> {
        let now: BTreeMap<String, String> = config
            .map(|c| {
                c.targets
                    .values()
                    .filter_map(|t| match t.status(c, secret_set) {
                        TargetStatus::Disabled(why) => Some((t.name.clone(), why)),
                        TargetStatus::Enabled => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut before = self.disabled.lock().unwrap_or_else(|p| p.into_inner());
        let mut lines = Vec::new();
        for (name, why) in &now {
            if before.get(name) != Some(why) {
                let kind = config
                    .and_then(|c| c.targets.get(name))
                    .map_or("", |t| t.kind.kind().as_str());
                tracing::info!(target = %name, kind, "notification target disabled: {why}");
                lines.push(format!("{name} disabled: {why}"));
            }
        }
        for name in before.keys() {
            let present = config.is_some_and(|c| c.targets.contains_key(name));
            if present && !now.contains_key(name) {
                tracing::info!(target = %name, "notification target enabled");
                lines.push(format!("{name} enabled"));
            }
        }
        *before = now;
        lines
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

/// The notification reactor of `set` (its `notify.toml`) for a replay or
/// a backtest, which runs it after the plugins, a reactor of its own as in
/// the server, whether or not plugins run: it is pure (it records
/// `notification.requested`; nothing is sent).
pub fn replay_notifier(set: &PolicySet) -> Option<escalier_lab::replay::Notifier> {
    NotifyCache::default()
        .reactor(set)
        .map(|n| escalier_lab::replay::Notifier(Arc::new(n)))
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
    fn disabled_targets_are_logged_when_a_reload_changes_them_and_the_targets_follow() {
        let dir = tempfile::tempdir().unwrap();
        let write = |notify: &str| {
            std::fs::write(
                dir.path().join("tag.rhai"),
                format!(
                    "const ON = [\"ticket.created\"];\ntag(\"t{}\");\n",
                    notify.len()
                ),
            )
            .unwrap();
            std::fs::write(dir.path().join(NOTIFY_FILE), notify).unwrap();
        };
        let slack = "[targets.\"#on-call\"]\nkind = \"slack\"\nurl_secret = \"slack_url\"\n";
        write(slack);
        let at: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let policies = PolicyRegistry::with_engine(
            dir.path(),
            Arc::new(engine(PolicyLimits::default())),
            Arc::new(ManualClock::new(at)),
        )
        .unwrap();
        // Only the PagerDuty routing key is set, until Slack's URL is.
        let slack_set = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let set = {
            let slack_set = slack_set.clone();
            move |name: &str| {
                name == "pd_key"
                    || (name == "slack_url" && slack_set.load(std::sync::atomic::Ordering::Relaxed))
            }
        };
        let cache = NotifyCache::logging_disabled(Arc::new(set.clone()));
        let (_, logged) = cache.config_logged(&policies.current());
        assert_eq!(logged, ["#on-call disabled: secret `slack_url` is not set"]);
        // Once per change, not per record.
        assert!(cache.config_logged(&policies.current()).1.is_empty());

        // notify.toml gains a target that waits for its secret and one that
        // can send: the new one is logged, the one logged before is not.
        write(&format!(
            "{slack}[targets.pager]\nkind = \"pagerduty\"\nrouting_key_secret = \"pd_key\"\n\
             [targets.audit]\nkind = \"webhook\"\nurl_secret = \"audit_url\"\nsigning_secret = \"pd_key\"\n"
        ));
        policies.reload().unwrap();
        let (_, logged) = cache.config_logged(&policies.current());
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].starts_with("audit disabled: "), "{logged:?}");
        let status = targets_status(&policies, &cache, &set);
        let enabled: Vec<(&str, bool)> = status["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap(), t["enabled"].as_bool().unwrap()))
            .collect();
        assert_eq!(
            enabled,
            [("#on-call", false), ("audit", false), ("pager", true)]
        );

        // Slack's URL is set and the audit target goes: at the next reload
        // Slack can send again, and the audit target is no longer listed.
        slack_set.store(true, std::sync::atomic::Ordering::Relaxed);
        write(&format!(
            "{slack}[targets.pager]\nkind = \"pagerduty\"\nrouting_key_secret = \"pd_key\"\n"
        ));
        policies.reload().unwrap();
        let (_, logged) = cache.config_logged(&policies.current());
        assert_eq!(logged, ["#on-call enabled"]);
        let status = targets_status(&policies, &cache, &set);
        let names: Vec<&str> = status["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["#on-call", "pager"], "{status}");
        assert_eq!(status["targets"][0]["enabled"], true, "{status}");
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
