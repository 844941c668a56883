//! Hot reload: watch the plugins directory and reload when it changes,
//! after it has been quiet for `debounce` (a deploy copies several files).
//! A component caught half-written fails to load, the previous version
//! keeps serving, and the write's last event triggers another reload.
//! Deploy with a rename (`mv new-dir plugins/name`) to avoid even that.

use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::error::WatchError;
use crate::registry::PluginRegistry;

/// Stops watching when dropped.
pub struct PluginWatcher {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

/// Watch `registry`'s plugins directory and reload it on changes. Reloads
/// run on the watcher's thread; their reports go to the log.
pub fn watch(
    registry: Arc<PluginRegistry>,
    debounce: Duration,
) -> Result<PluginWatcher, WatchError> {
    let dir = registry.plugins_dir().to_owned();
    let err = |e: notify_debouncer_full::notify::Error| WatchError {
        path: dir.clone(),
        message: e.to_string(),
    };
    let target = registry.clone();
    let mut debouncer = new_debouncer(debounce, None, move |res: DebounceEventResult| match res {
        Ok(events) if events.iter().any(|e| !e.kind.is_access()) => {
            let report = target.reload();
            if report.changed() || !report.failed.is_empty() {
                tracing::info!(
                    loaded = ?report.loaded,
                    replaced = ?report.replaced,
                    removed = ?report.removed,
                    failed = report.failed.len(),
                    "plugins reloaded"
                );
            }
        }
        Ok(_) => {}
        Err(errors) => {
            for e in errors {
                tracing::warn!("plugin watcher: {e}");
            }
        }
    })
    .map_err(err)?;
    debouncer
        .watch(&dir, RecursiveMode::Recursive)
        .map_err(err)?;
    Ok(PluginWatcher {
        _debouncer: debouncer,
    })
}
