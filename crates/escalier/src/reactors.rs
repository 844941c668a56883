//! What the processor runs for each ticket: the policy set (the one in
//! force, or the ticket's pinned version), then the plugins; and, with
//! `policies.pin = "ticket"`, the pin that records a new ticket's version.
//!
//! A pinned version that cannot run (not stored, or its files no longer
//! compile with this engine) falls back to the set in force, and every
//! input of such a ticket records a `policy.error`
//! (`pinned_version_unavailable`) saying so: the fallback is never silent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use escalier_core::event::{self, PolicyError, PolicyMigrated};
use escalier_core::timers::Books;
use escalier_core::{Clock, EventKind, Producer, Reaction, Reactor, Record, Ticket};
use escalier_plugin::PluginRegistry;
use escalier_policy::{PolicyRegistry, PolicySet};
use escalier_store::{ReactorSource, Store};

use crate::notify::NotifyCache;
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
    /// Pinned versions compiled from the store, by version; or why one
    /// cannot run (versions are immutable, so that answer stands).
    compiled: Mutex<HashMap<String, Result<Arc<PolicySet>, String>>>,
    /// The last version stored, to store each new one once.
    stored: Mutex<String>,
    /// `notify.toml` of the set in force, when notifications are wired.
    notify: Option<Arc<NotifyCache>>,
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
            notify: None,
        }
    }

    /// Run the notification reactor (after the plugins) whenever the set in
    /// force has a `notify.toml`.
    pub fn with_notify(mut self, cache: Arc<NotifyCache>) -> Reactors {
        self.notify = Some(cache);
        self
    }

    /// Keep the serving set's files, once per version.
    pub fn remember(&self, set: &PolicySet) {
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

    /// The set a pinned ticket follows, compiled from the stored files,
    /// or why it cannot run.
    fn pinned(&self, version: &str) -> Result<Arc<PolicySet>, String> {
        let mut compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = compiled.get(version) {
            return known.clone();
        }
        let outcome = match self.store.policy_set(version) {
            Ok(Some(stored)) => PolicySet::from_sources_with(self.policies.engine(), stored.files)
                .map(Arc::new)
                .map_err(|e| {
                    let first = e
                        .diagnostics
                        .first()
                        .map(|d| format!("; first: {}", d.to_string().replace('\n', " ")))
                        .unwrap_or_default();
                    format!(
                        "its files no longer compile ({} problems{first})",
                        e.diagnostics.len()
                    )
                }),
            Ok(None) => Err("it is not stored in this data directory".to_owned()),
            Err(e) => {
                // Perhaps passing: not remembered, tried again next time.
                tracing::error!(version, error = %e, "reading a pinned policy set; using the current set");
                return Err(format!("reading it failed: {e}"));
            }
        };
        if let Err(why) = &outcome {
            tracing::error!(
                version,
                "pinned policy set cannot run ({why}); using the current set"
            );
        }
        if compiled.len() >= 32 {
            compiled.clear();
        }
        compiled.insert(version.to_owned(), outcome.clone());
        outcome
    }
}

impl ReactorSource for Reactors {
    fn reactors(&self, pinned: Option<&str>) -> Vec<Arc<dyn Reactor + Send + Sync>> {
        let current = self.policies.current();
        self.remember(&current);
        let mut out: Vec<Arc<dyn Reactor + Send + Sync>> = Vec::with_capacity(3);
        let mut fallback = None;
        let policies = match (self.pin, pinned) {
            (Pin::Ticket, Some(v)) if v != current.version() => match self.pinned(v) {
                Ok(set) => set,
                Err(why) => {
                    fallback = Some(Fallback {
                        pinned: v.to_owned(),
                        current: current.version().to_owned(),
                        why,
                    });
                    current.clone()
                }
            },
            _ => current.clone(),
        };
        if self.pin == Pin::Ticket {
            out.push(Arc::new(PinNew {
                version: current.version().to_owned(),
            }));
        }
        if let Some(f) = fallback {
            out.push(Arc::new(f));
        }
        out.push(policies);
        out.push(self.plugins.current());
        // Like the SLA and ladder files, notify.toml applies as in force.
        if let Some(reactor) = self.notify.as_ref().and_then(|c| c.reactor(&current)) {
            out.push(Arc::new(reactor));
        }
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

/// Says, on every input of a ticket whose pinned set cannot run, that the
/// set in force ran instead.
struct Fallback {
    pinned: String,
    current: String,
    why: String,
}

impl Reactor for Fallback {
    /// Input types only: derived records never reach it, so it cannot
    /// trip the depth limit.
    fn wants(&self, event_type: &str) -> bool {
        event::EXTERNAL_TYPES.contains(&event_type)
            || event::COMMAND_TYPES.contains(&event_type)
            || event_type == event::ClockDue::TYPE
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        // A migration input has already moved the ticket off the version.
        if record.index != 0 || ticket.policy_version.as_deref() != Some(self.pinned.as_str()) {
            return;
        }
        out.push(Reaction {
            producer: Producer::System,
            kind: EventKind::PolicyError(PolicyError {
                policy: "*".into(),
                code: "pinned_version_unavailable".into(),
                message: format!(
                    "this ticket is pinned to policy set {}, which cannot run: {}; the set in force ({}) ran instead. Move the ticket with `escalier migrate`",
                    self.pinned, self.why, self.current
                ),
                line: None,
                column: None,
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use escalier_core::event::Origin;
    use escalier_core::{Event, ManualClock, Source, Timestamp};
    use escalier_lab::Simulator;
    use escalier_plugin::HostConfig;
    use escalier_policy::PolicyLimits;

    use super::*;

    fn event(json: serde_json::Value) -> Event {
        Event::decode_one(&json.to_string(), Origin::Internal).unwrap()
    }

    #[test]
    fn a_pinned_set_that_no_longer_compiles_runs_the_set_in_force_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let policies_dir = dir.path().join("policies");
        std::fs::create_dir_all(&policies_dir).unwrap();
        std::fs::write(
            policies_dir.join("tag.rhai"),
            "const ON = [\"comment.added\"];\ntag(\"in-force\");\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        let at: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let clock = Arc::new(ManualClock::new(at));
        let policies = Arc::new(
            PolicyRegistry::new(&policies_dir, PolicyLimits::default(), clock.clone()).unwrap(),
        );
        let (plugins, _) =
            PluginRegistry::open(HostConfig::new(dir.path().join("plugins"))).unwrap();
        let store = Store::in_memory().unwrap();
        // Stored by an earlier version of Escalier that had `tagg`.
        let broken = "sha256:0123456789abcdef";
        store
            .put_policy_set(
                broken,
                [(
                    "tag.rhai".to_owned(),
                    "const ON = [\"comment.added\"];\ntagg(\"pinned\");\n".to_owned(),
                )],
                at,
            )
            .unwrap();
        let reactors = Reactors::new(policies.clone(), plugins, store, clock, Pin::Ticket);
        let books = reactors.books();
        let mut sim = Simulator::new(reactors.reactors(Some(broken)), books, Default::default());
        sim.start_at(at);
        let web = || Source::Webhook { delivery: None };
        sim.submit(
            event(serde_json::json!({"id": "e1", "type": "ticket.created", "ticket_id": "T-1",
                "occurred_at": at, "data": {"subject": "s", "requester": {"id": "c"}, "channel": "email"}})),
            web(),
            at,
        );
        sim.submit(
            event(
                serde_json::json!({"id": "m1", "type": "policy.migrated", "ticket_id": "T-1",
                "occurred_at": at, "data": {"to": broken, "by": "ops"}}),
            ),
            Source::Api {
                token: "ops".into(),
            },
            at,
        );
        let out = sim.submit(
            event(
                serde_json::json!({"id": "e2", "type": "comment.added", "ticket_id": "T-1",
                "occurred_at": at, "data": {"author": {"kind": "customer"}, "body": "hi"}}),
            ),
            web(),
            at,
        );
        assert!(out.refused.is_none(), "{:?}", out.refused);
        let errors: Vec<&PolicyError> = out
            .records
            .iter()
            .filter_map(|r| match &r.event.kind {
                EventKind::PolicyError(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(errors.len(), 1, "{:?}", out.records);
        assert_eq!(errors[0].code, "pinned_version_unavailable");
        assert!(errors[0].message.contains(broken), "{}", errors[0].message);
        assert!(
            errors[0].message.contains("no longer compile"),
            "{}",
            errors[0].message
        );
        assert!(
            sim.ticket("T-1").unwrap().tags.contains("in-force"),
            "the set in force ran"
        );
    }
}
