//! Hot reload: watch the policies directory and reload the registry when a
//! policy file is written, created, deleted or renamed.
//!
//! Debounced (an editor's save is several events; `git checkout` is
//! hundreds), recursive, and quiet about files that are not policies. The
//! reload itself is all-or-nothing (see [`crate::registry`]); this module
//! only decides when to ask for one and logs what happened.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::notify::event::ModifyKind;
use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{
    DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache, new_debouncer,
};

use crate::error::WatchError;
use crate::registry::PolicyRegistry;

/// Watching stops when this is dropped.
pub struct Watcher {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

/// Watch `registry`'s directory; reload after `debounce` of quiet.
pub fn watch(registry: Arc<PolicyRegistry>, debounce: Duration) -> Result<Watcher, WatchError> {
    let dir = registry.dir().to_path_buf();
    let handler = {
        let registry = Arc::clone(&registry);
        move |result: DebounceEventResult| match result {
            Ok(events) => {
                if events.iter().any(is_relevant) {
                    // The registry logs the outcome; the error is kept for the API.
                    let _ = registry.reload();
                }
            }
            Err(errors) => {
                for e in errors {
                    tracing::warn!(target: "escalier::policy", "watching policies: {e}");
                }
                // Events may have been lost: look at the files again.
                let _ = registry.reload();
            }
        }
    };
    let mut debouncer = new_debouncer(debounce, None, handler).map_err(|source| WatchError {
        dir: dir.clone(),
        source,
    })?;
    debouncer
        .watch(&dir, RecursiveMode::Recursive)
        .map_err(|source| WatchError {
            dir: dir.clone(),
            source,
        })?;
    tracing::info!(target: "escalier::policy", dir = %dir.display(), "watching policies for changes");
    Ok(Watcher {
        _debouncer: debouncer,
    })
}

/// Whether an event may have changed the policy set.
fn is_relevant(event: &DebouncedEvent) -> bool {
    if event.need_rescan() {
        return true;
    }
    let structural = matches!(
        event.kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Any
    );
    match event.kind {
        EventKind::Access(_) => false,
        _ => event
            .paths
            .iter()
            .any(|p| is_policy_file(p) || (structural && may_be_directory(p))),
    }
}

fn is_policy_file(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "rhai")
        || p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| crate::load::DATA_FILES.contains(&n))
}

/// A directory moved or removed takes its policies with it; a removed
/// path no longer says what it was, so no extension counts too.
fn may_be_directory(p: &Path) -> bool {
    p.is_dir() || p.extension().is_none()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use notify_debouncer_full::notify::Event;
    use notify_debouncer_full::notify::event::{CreateKind, DataChange, RemoveKind};

    use super::*;

    fn ev(kind: EventKind, path: &str) -> DebouncedEvent {
        DebouncedEvent::new(
            Event::new(kind).add_path(PathBuf::from(path)),
            std::time::Instant::now(),
        )
    }

    #[test]
    fn policy_files_count_editor_noise_does_not() {
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Content));
        assert!(is_relevant(&ev(write, "/p/vip.rhai")));
        assert!(is_relevant(&ev(
            EventKind::Remove(RemoveKind::File),
            "/p/vip.rhai"
        )));
        assert!(!is_relevant(&ev(write, "/p/.vip.rhai.swp")));
        assert!(!is_relevant(&ev(write, "/p/README.md")));
        assert!(!is_relevant(&ev(
            EventKind::Create(CreateKind::File),
            "/p/vip.rhai~"
        )));
    }

    #[test]
    fn removed_directories_count() {
        assert!(is_relevant(&ev(
            EventKind::Remove(RemoveKind::Folder),
            "/p/billing"
        )));
        assert!(is_relevant(&ev(
            EventKind::Modify(ModifyKind::Name(
                notify_debouncer_full::notify::event::RenameMode::From
            )),
            "/p/billing"
        )));
    }
}
