//! Hot reload: watch the plugins directory and the secrets file, and
//! reload when either changes, after things have been quiet for `debounce`
//! (a deploy copies several files). A reload replaces only the plugins
//! whose manifest (with its `[config]`), component or resolved secrets
//! changed. A component caught half-written fails to load, the previous
//! version keeps serving, and the write's last event triggers another
//! reload. Deploy with a rename (`mv new-dir plugins/name`) to avoid even
//! that.
//!
//! The secrets file is watched through its directory (an editor or a
//! deploy replaces the file by a rename, and the file may not exist yet);
//! events for other files there (the database, in the data directory) are
//! ignored.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{
    DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache, new_debouncer,
};

use crate::error::WatchError;
use crate::registry::PluginRegistry;

/// Stops watching when dropped.
pub struct PluginWatcher {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

/// What the watcher reacts to.
struct Watched {
    plugins_dir: PathBuf,
    secrets_file: Option<PathBuf>,
}

impl Watched {
    /// Whether `event` touches a plugin directory or the secrets file.
    fn concerns(&self, event: &DebouncedEvent) -> bool {
        !event.kind.is_access()
            && event.paths.iter().any(|p| {
                p.starts_with(&self.plugins_dir) || self.secrets_file.as_deref() == Some(p)
            })
    }

    /// The secrets file's directory, when it needs a watch of its own.
    fn secrets_dir(&self) -> Option<&Path> {
        let dir = self.secrets_file.as_deref()?.parent()?;
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        (!dir.starts_with(&self.plugins_dir)).then_some(dir)
    }
}

/// Watch `registry`'s plugins directory and secrets file and reload it on
/// changes. Reloads run on the watcher's thread; their reports go to the
/// log.
pub fn watch(
    registry: Arc<PluginRegistry>,
    debounce: Duration,
) -> Result<PluginWatcher, WatchError> {
    let watched = Watched {
        plugins_dir: registry.plugins_dir().to_owned(),
        secrets_file: registry.secrets_file(),
    };
    let err = |path: &Path| {
        let path = path.to_owned();
        move |e: notify_debouncer_full::notify::Error| WatchError {
            path,
            message: e.to_string(),
        }
    };
    let plugins_dir = watched.plugins_dir.clone();
    let secrets_dir = watched.secrets_dir().map(Path::to_owned);
    let target = registry.clone();
    let mut debouncer = new_debouncer(debounce, None, move |res: DebounceEventResult| match res {
        Ok(events) if events.iter().any(|e| watched.concerns(e)) => {
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
    .map_err(err(&plugins_dir))?;
    debouncer
        .watch(&plugins_dir, RecursiveMode::Recursive)
        .map_err(err(&plugins_dir))?;
    if let Some(dir) = secrets_dir {
        debouncer
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(err(&dir))?;
    }
    Ok(PluginWatcher {
        _debouncer: debouncer,
    })
}
