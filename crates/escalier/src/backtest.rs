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
use escalier_lab::replay::PluginRunner;
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
        Ok(Prepared {
            // After the plugins, a reactor of its own, as in the server.
            notify: crate::notify::replay_notifier(policies.set()),
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
