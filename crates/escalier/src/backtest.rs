//! Backtests on the running server (`policies.candidate_dir`): how the
//! candidate is loaded — with the configured policy limits, the installed
//! plugins run as `escalier replay` runs them (a registry of their own,
//! side effects off) when the plugins directory exists, and then the
//! candidate's notification reactor (its `notify.toml`), as the server
//! runs it after the plugins.

use std::path::Path;
use std::sync::Arc;

use escalier_core::Clock;
use escalier_lab::policies::{Extras, Policies};
use escalier_lab::replay::{PluginRef, PluginRunner};
use escalier_lab::sim::SharedReactor;
use escalier_server::backtest::{BacktestConfig, Backtests, Prepared, Unprepared};
use escalier_store::Store;

use crate::config::Config;
use crate::plugin_host::ReplayPlugins;

/// The server's backtests, configured from `cfg`.
pub fn service(cfg: &Config, store: Store, clock: Arc<dyn Clock>) -> Arc<Backtests> {
    let plugins_dir = cfg.plugins_dir();
    let plugins = if plugins_dir.is_dir() {
        format!(
            "the installed plugins ({}) run after the candidate's policies, then its notification rules (notify.toml), as the server runs them and as `escalier replay` does: side effects off, deliveries and notifications compared, never sent",
            plugins_dir.display()
        )
    } else {
        "no plugins (no plugins directory); the candidate's notification rules (notify.toml) run after its policies, as in the server: side effects off, notifications compared, never sent".to_owned()
    };
    let owned = cfg.clone();
    let load = Arc::new(move |dir: &Path| -> Result<Prepared, Unprepared> {
        let engine = Arc::new(escalier_policy::PolicyEngine::new(
            owned.policies.limits.clone(),
        ));
        let policies =
            Policies::load_with(&engine, dir, &Extras::default()).map_err(Unprepared::Policies)?;
        let pdir = owned.plugins_dir();
        let plugins: Option<Arc<dyn PluginRunner>> = if pdir.is_dir() {
            Some(Arc::new(ReplayPlugins::load(&owned, &pdir).map_err(
                |e| Unprepared::Other(format!("loading the plugins: {e:#}")),
            )?))
        } else {
            None
        };
        // The notification reactor runs after the plugins, as in the server.
        let plugins = match (
            plugins,
            crate::notify::NotifyCache::default().reactor(policies.set()),
        ) {
            (Some(p), Some(n)) => Some(Arc::new(crate::notify::ReplayWithNotify {
                plugins: p,
                notify: Arc::new(n),
            }) as Arc<dyn PluginRunner>),
            (None, Some(n)) => Some(Arc::new(NotifyOnly(Arc::new(n))) as Arc<dyn PluginRunner>),
            (p, None) => p,
        };
        Ok(Prepared {
            policies,
            plugins,
            limits: escalier_core::Limits {
                max_depth: owned.processor.max_depth,
                max_derived: owned.processor.max_derived,
            },
        })
    });
    Arc::new(Backtests::new(
        BacktestConfig {
            candidate_dir: cfg.policies.candidate_dir.clone(),
            plugins,
            // A background job on a server that keeps serving: one thread.
            threads: 1,
            load,
        },
        store,
        clock,
    ))
}

/// The notification reactor alone, when no plugins run.
struct NotifyOnly(Arc<escalier_notify::NotifyReactor>);

impl PluginRunner for NotifyOnly {
    fn reactor(&self) -> SharedReactor {
        self.0.clone()
    }

    fn plugins(&self) -> Vec<PluginRef> {
        Vec::new()
    }
}
