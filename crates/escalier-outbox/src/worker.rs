//! The delivery worker: takes due outbox entries, hands each to the
//! [`Deliver`] for its request kind (plugins' HTTP requests to the plugin
//! host's outbound client, notifications to the notifier), and moves it on
//! per the [`RetrySchedule`]. Every attempt is recorded twice: in the
//! store (the outbox entry and the delivery's row in `deliveries`, one
//! transaction) and on the ticket's timeline, appended through the writer
//! (source `outbox`): `delivery.delivered`, `delivery.retrying` (attempt n,
//! next at) or `delivery.failed`. A closed ticket refuses the event (that
//! is logged); the deliveries table still has the state.
//!
//! Time comes from the injected [`Clock`], so a simulated clock drives
//! retries and quiet-hours holds (entries due later) in tests.

use std::sync::Arc;
use std::time::Duration;

use escalier_core::event::{DeliveryDelivered, DeliveryRetrying};
use escalier_core::{Clock, Event, EventId, EventKind, Source, TicketId};
use escalier_store::outbox::{DeliveryState, OutboxEntry, OutboxKey, OutboxRequest, Settled};
use escalier_store::{InputBatch, Store, StoreError, Writer};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::classify::after_conflicts;
use crate::retry::{NextStep, RetrySchedule, failed_event, truncate};
use crate::{Deliver, DeliveryOutcome};

/// Why a notification fails when no notifier is configured.
pub const NO_NOTIFIER: &str = "notifications are not configured";

pub struct Worker {
    pub store: Store,
    pub writer: Writer,
    /// Plugins' HTTP requests ([`OutboxRequest::Http`]).
    pub http: Arc<dyn Deliver>,
    /// Notifications ([`OutboxRequest::Notification`]); without one they
    /// fail with [`NO_NOTIFIER`].
    pub notifications: Option<Arc<dyn Deliver>>,
    pub clock: Arc<dyn Clock>,
    /// Most attempts in flight at once.
    pub concurrency: usize,
    pub schedule: RetrySchedule,
}

impl Worker {
    /// Run until `stop` turns true; in-flight deliveries finish and their
    /// outcome is recorded before returning.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let attempted = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "delivering the outbox; due entries will be tried again");
                    0
                }
            };
            if attempted == 0 {
                let bell = self.store.outbox_bell().clone();
                tokio::select! {
                    _ = bell.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Attempt the entries due now (at most `concurrency`), record their
    /// outcomes, and return how many were attempted.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let store = self.store.clone();
        let limit = self.concurrency.max(1);
        let due = tokio::task::spawn_blocking(move || store.outbox_due(now, limit))
            .await
            .map_err(|_| StoreError::Closed)??;
        if due.is_empty() {
            return Ok(0);
        }
        let n = due.len();
        let mut attempts = Vec::with_capacity(n);
        for (key, entry) in due {
            let deliver = match &entry.request {
                OutboxRequest::Http(_) => Some(self.http.clone()),
                OutboxRequest::Notification(_) => self.notifications.clone(),
            };
            let sent = entry.clone();
            let task = tokio::spawn(async move {
                match deliver {
                    Some(d) => d.deliver(&sent).await,
                    None => DeliveryOutcome::failed(NO_NOTIFIER),
                }
            });
            attempts.push((key, entry, task));
        }
        let mut settled = Vec::with_capacity(n);
        let mut events = Vec::with_capacity(n);
        for (key, entry, task) in attempts {
            // A panicking `Deliver` is a failed attempt, retried on schedule.
            let outcome = task
                .await
                .unwrap_or_else(|_| DeliveryOutcome::retry("the delivery attempt panicked"));
            let (s, event) = self.settle(key, entry, outcome);
            settled.push(s);
            events.extend(event);
        }
        self.append(events).await;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.outbox_settle(&settled))
            .await
            .map_err(|_| StoreError::Closed)??;
        Ok(n)
    }

    /// Decide what becomes of an attempted entry and which event says so.
    fn settle(
        &self,
        key: OutboxKey,
        mut entry: OutboxEntry,
        outcome: DeliveryOutcome,
    ) -> (Settled, Option<Event>) {
        let now = self.clock.now();
        entry.attempts += 1;
        let first = *entry.first_attempt_at.get_or_insert(now);
        let outcome = if let DeliveryOutcome::Retry {
            status: Some(409), ..
        } = outcome
        {
            entry.conflicts += 1;
            after_conflicts(outcome, entry.conflicts)
        } else {
            outcome
        };
        let id = entry.request.delivery_id().to_owned();
        let by = entry.request.by();
        metrics::counter!("escalier_deliveries_total", "outcome" => outcome.label(), "by" => by)
            .increment(1);
        let status = outcome.status();
        let request = entry.request.clone();
        let (plugin, target) = (
            request.plugin().map(str::to_owned),
            request.target().map(str::to_owned),
        );
        let (settled, kind, event_id) = match self.schedule.next(
            &id,
            &outcome,
            entry.attempts,
            first,
            now,
        ) {
            NextStep::Done => {
                let delivered = DeliveryDelivered {
                    delivery_id: id.clone(),
                    plugin,
                    target,
                    attempts: entry.attempts,
                    status: status.unwrap_or(200),
                };
                (
                    Settled {
                        key,
                        entry,
                        retry_at: None,
                        state: DeliveryState::Delivered,
                        status,
                        reason: None,
                        at: now,
                    },
                    EventKind::DeliveryDelivered(delivered),
                    format!("delivered:{id}"),
                )
            }
            NextStep::RetryAt(at) => {
                let reason = match &outcome {
                    DeliveryOutcome::Retry { reason, .. }
                    | DeliveryOutcome::Failed { reason, .. } => truncate(reason, 4000),
                    DeliveryOutcome::Delivered { .. } => String::new(),
                };
                entry.last_error = Some(reason.clone());
                tracing::debug!(delivery = %id, attempts = entry.attempts, %at, "delivery will be retried");
                let attempt = entry.attempts;
                let retrying = DeliveryRetrying {
                    delivery_id: id.clone(),
                    plugin,
                    target,
                    attempt,
                    next_at: at,
                    reason: reason.clone(),
                    status,
                };
                (
                    Settled {
                        key,
                        entry,
                        retry_at: Some(at),
                        state: DeliveryState::Retrying,
                        status,
                        reason: Some(reason),
                        at: now,
                    },
                    EventKind::DeliveryRetrying(retrying),
                    format!("retrying:{id}:{attempt}"),
                )
            }
            NextStep::GiveUp { reason } => {
                tracing::warn!(delivery = %id, attempts = entry.attempts, %reason, "delivery given up");
                let body = match &outcome {
                    DeliveryOutcome::Failed { body, .. } => body.as_deref(),
                    _ => None,
                };
                let failed = failed_event(&request, entry.attempts, &reason, status, body);
                (
                    Settled {
                        key,
                        entry,
                        retry_at: None,
                        state: DeliveryState::Failed,
                        status,
                        reason: Some(failed.error.clone()),
                        at: now,
                    },
                    EventKind::DeliveryFailed(failed),
                    format!("failed:{id}"),
                )
            }
        };
        let event = match (
            EventId::new(event_id),
            TicketId::new(settled.entry.ticket_id.clone()),
        ) {
            (Ok(id), Ok(ticket_id)) => Some(Event {
                id,
                ticket_id,
                occurred_at: now,
                kind,
            }),
            _ => {
                tracing::error!(delivery = %id, "cannot name the delivery's event");
                None
            }
        };
        (settled, event)
    }

    /// Append each event to its ticket (one batch each: a closed ticket
    /// refuses its own, not the others). Refusals are logged.
    async fn append(&self, events: Vec<Event>) {
        let mut appends = JoinSet::new();
        for event in events {
            let writer = self.writer.clone();
            appends.spawn(async move {
                let id = event.id.as_str().to_owned();
                let result = writer
                    .append(InputBatch {
                        events: vec![event],
                        source: Source::Outbox,
                    })
                    .await;
                (id, result)
            });
        }
        while let Some(joined) = appends.join_next().await {
            if let Ok((id, Err(e))) = joined {
                tracing::warn!(event = %id, error = %e, "delivery outcome not recorded on the ticket");
            }
        }
    }
}

#[cfg(test)]
mod tests;
