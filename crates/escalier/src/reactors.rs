//! What the processor runs for each ticket: the policy set (the one in
//! force, or the ticket's pinned version), then the plugins; and, with
//! `policies.pin = "ticket"`, the pin that records a new ticket's version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use escalier_core::event::PolicyMigrated;
use escalier_core::timers::Books;
use escalier_core::{Clock, EventKind, Producer, Reaction, Reactor, Record, Ticket};
use escalier_plugin::PluginRegistry;
use escalier_policy::{PolicyRegistry, PolicySet};
use escalier_store::{ReactorSource, Store};
use serde::{Deserialize, Serialize};

/// Which policy set a ticket follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pin {
    /// Every ticket follows the set in force now.
    Latest,
    /// A ticket keeps the set in force when it was created, until migrated.
    Ticket,
}

pub struct Reactors {
    pub policies: Arc<PolicyRegistry>,
    pub plugins: Arc<PluginRegistry>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub pin: Pin,
    /// Pinned versions compiled from the store, by version.
    compiled: Mutex<HashMap<String, Arc<PolicySet>>>,
    /// The last version stored, to store each new one once.
    stored: Mutex<String>,
}

impl Reactors {
    pub fn new(
        policies: Arc<PolicyRegistry>,
        plugins: Arc<PluginRegistry>,
        store: Store,
        clock: Arc<dyn Clock>,
        pin: Pin,
    ) -> Reactors {
        Reactors {
            policies,
            plugins,
            store,
            clock,
            pin,
            compiled: Mutex::new(HashMap::new()),
            stored: Mutex::new(String::new()),
        }
    }

    /// Keep the serving set's files, once per version.
    fn remember(&self, set: &PolicySet) {
        let mut stored = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        if *stored == set.version() {
            return;
        }
        match self.store.put_policy_set(
            set.version(),
            set.sources().iter().cloned(),
            self.clock.now(),
        ) {
            Ok(_) => *stored = set.version().to_owned(),
            Err(e) => {
                tracing::error!(error = %e, version = set.version(), "cannot store the policy set version")
            }
        }
    }

    /// The set a pinned ticket follows, compiled from the stored files.
    fn pinned(&self, version: &str) -> Option<Arc<PolicySet>> {
        let mut compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = compiled.get(version) {
            return Some(set.clone());
        }
        let stored = match self.store.policy_set(version) {
            Ok(Some(s)) => s,
            Ok(None) => {
                tracing::error!(
                    version,
                    "pinned policy set version is not stored; using the current set"
                );
                return None;
            }
            Err(e) => {
                tracing::error!(version, error = %e, "reading a pinned policy set; using the current set");
                return None;
            }
        };
        match PolicySet::from_sources_with(self.policies.engine(), stored.files) {
            Ok(set) => {
                let set = Arc::new(set);
                if compiled.len() >= 32 {
                    compiled.clear();
                }
                compiled.insert(version.to_owned(), set.clone());
                Some(set)
            }
            Err(e) => {
                tracing::error!(
                    version,
                    diagnostics = e.diagnostics.len(),
                    "a stored policy set no longer compiles; using the current set"
                );
                None
            }
        }
    }
}

impl ReactorSource for Reactors {
    fn reactors(&self, pinned: Option<&str>) -> Vec<Arc<dyn Reactor + Send + Sync>> {
        let current = self.policies.current();
        self.remember(&current);
        let mut out: Vec<Arc<dyn Reactor + Send + Sync>> = Vec::with_capacity(3);
        let policies = match (self.pin, pinned) {
            (Pin::Ticket, Some(v)) if v != current.version() => {
                self.pinned(v).unwrap_or_else(|| current.clone())
            }
            _ => current.clone(),
        };
        if self.pin == Pin::Ticket {
            out.push(Arc::new(PinNew {
                version: current.version().to_owned(),
            }));
        }
        out.push(policies);
        out.push(self.plugins.current());
        out
    }

    fn books(&self) -> Arc<Books> {
        // SLA and ladder files always apply as in force: changing them
        // recomputes open tickets' clocks (see docs/sla.md).
        self.policies.current().books().clone()
    }
}

/// Pins a new ticket to the set in force, as a `policy.migrated` record.
struct PinNew {
    version: String,
}

impl Reactor for PinNew {
    fn wants(&self, event_type: &str) -> bool {
        event_type == "ticket.created"
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        if record.index == 0 && ticket.policy_version.is_none() {
            out.push(Reaction {
                producer: Producer::System,
                kind: EventKind::PolicyMigrated(PolicyMigrated {
                    from: None,
                    to: self.version.clone(),
                    by: "escalier".into(),
                }),
            });
        }
    }
}
