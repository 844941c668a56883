//! The plugin host as the configuration sets it up, for `serve` and for
//! `replay`, which runs the same plugins the same way with side effects
//! off (it never starts the outbox, so deliveries are recorded, not sent).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use escalier_core::Clock;
use escalier_lab::replay::{PluginRef, PluginRunner};
use escalier_lab::sim::SharedReactor;
use escalier_plugin::outbound::AddressPolicy;
use escalier_plugin::secrets::Secrets;
use escalier_plugin::{HostConfig, PluginRegistry};

use crate::config::Config;

/// The host settings for the plugins in `dir`: secrets (environment, then
/// `<data dir>/secrets.toml`), compile cache, address policy, breaker and
/// pool, all from `cfg`.
pub fn host_config(cfg: &Config, dir: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<HostConfig> {
    let secrets = Secrets::from_env(std::env::vars())
        .with_file(cfg.storage.data_dir.join("secrets.toml"))
        .context("reading plugin secrets")?;
    let mut host = HostConfig::new(dir);
    host.cache_dir = Some(cfg.plugin_cache_dir());
    host.secrets = secrets;
    host.address_policy = AddressPolicy {
        allow_private: cfg.plugins.allow_private.clone(),
    };
    host.breaker.failures = cfg.plugins.breaker_failures;
    host.breaker.cooldown = cfg.plugins.breaker_cooldown;
    host.pool.max_instances = cfg.plugins.max_instances;
    host.pool.max_memory_mib = cfg.plugins.max_memory_mib;
    host.clock = clock;
    Ok(host)
}

/// Installed plugins, run by a replay as the server runs them: the loaded
/// set as one reactor after the policies.
pub struct ReplayPlugins {
    registry: Arc<PluginRegistry>,
}

impl ReplayPlugins {
    /// Load the plugins in `dir`. One that fails to load is reported on
    /// standard error and left out, as `serve` does.
    pub fn load(cfg: &Config, dir: &Path) -> anyhow::Result<ReplayPlugins> {
        let mut host = host_config(cfg, dir, Arc::new(escalier_core::SystemClock))?;
        // A replay writes nothing: the compile cache only if the server made it.
        if !host.cache_dir.as_deref().is_some_and(Path::is_dir) {
            host.cache_dir = None;
        }
        let (registry, report) = PluginRegistry::open(host)
            .map_err(|e| anyhow::anyhow!("plugins in {}: {e}", dir.display()))?;
        for f in &report.failed {
            eprintln!("plugin not loaded: {}: {}", f.dir, f.error);
        }
        Ok(ReplayPlugins { registry })
    }
}

impl PluginRunner for ReplayPlugins {
    fn reactor(&self) -> SharedReactor {
        self.registry.current()
    }

    fn plugins(&self) -> Vec<PluginRef> {
        self.registry
            .status()
            .into_iter()
            .filter_map(|s| {
                Some(PluginRef {
                    name: s.name,
                    version: s.version?,
                    hash: s.component_hash?,
                })
            })
            .collect()
    }
}
