//! The delivery worker: takes due outbox entries, sends them through the
//! plugin host's outbound client (allowlist, address policy, signing), and
//! moves each on per the retry schedule. Giving up appends
//! `delivery.failed` to the ticket through the writer.

use std::sync::Arc;
use std::time::Duration;

use escalier_core::{Clock, Event, EventId, EventKind, Source, TicketId};
use escalier_plugin::outbound::retry::{NextStep, RetrySchedule, failed_event};
use escalier_plugin::outbound::{DeliveryOutcome, Outbound};
use escalier_store::outbox::{OutboxEntry, OutboxKey, Settle};
use escalier_store::{InputBatch, Store, Writer};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct Worker {
    pub store: Store,
    pub writer: Writer,
    pub outbound: Arc<Outbound>,
    pub clock: Arc<dyn Clock>,
    pub concurrency: usize,
}

impl Worker {
    /// Run until `stop` turns true; in-flight deliveries finish and their
    /// outcome is recorded before returning.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let schedule = RetrySchedule::default();
        loop {
            if *stop.borrow() {
                return;
            }
            let now = self.clock.now();
            let store = self.store.clone();
            let limit = self.concurrency.max(1);
            let due = match tokio::task::spawn_blocking(move || store.outbox_due(now, limit)).await
            {
                Ok(Ok(d)) => d,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "reading the outbox");
                    Vec::new()
                }
                Err(_) => return,
            };
            if due.is_empty() {
                let bell = self.store.outbox_bell().clone();
                tokio::select! {
                    _ = bell.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            let mut attempts = JoinSet::new();
            for (key, entry) in due {
                let outbound = self.outbound.clone();
                attempts.spawn(async move {
                    let outcome = outbound.deliver(&entry.request).await;
                    (key, entry, outcome)
                });
            }
            let mut settled = Vec::new();
            while let Some(Ok((key, entry, outcome))) = attempts.join_next().await {
                settled.push(self.settle(&schedule, key, entry, &outcome).await);
            }
            let store = self.store.clone();
            match tokio::task::spawn_blocking(move || store.outbox_settle(&settled)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "recording delivery outcomes; they will be retried")
                }
                Err(_) => return,
            }
        }
    }

    async fn settle(
        &self,
        schedule: &RetrySchedule,
        key: OutboxKey,
        mut entry: OutboxEntry,
        outcome: &DeliveryOutcome,
    ) -> (OutboxKey, Settle) {
        let now = self.clock.now();
        entry.attempts += 1;
        let first = *entry.first_attempt_at.get_or_insert(now);
        let id = entry.request.delivery_id.clone();
        let label = match outcome {
            DeliveryOutcome::Delivered { .. } => "delivered",
            DeliveryOutcome::Retry { .. } => "retry",
            DeliveryOutcome::Failed { .. } => "failed",
        };
        metrics::counter!("escalier_deliveries_total", "outcome" => label).increment(1);
        match schedule.next(&id, outcome, entry.attempts, first, now) {
            NextStep::Done => (key, Settle::Remove),
            NextStep::RetryAt(at) => {
                entry.last_error = match outcome {
                    DeliveryOutcome::Retry { reason, .. } | DeliveryOutcome::Failed { reason } => {
                        Some(reason.clone())
                    }
                    DeliveryOutcome::Delivered { .. } => None,
                };
                tracing::debug!(delivery = %id, attempts = entry.attempts, %at, "delivery will be retried");
                (key, Settle::Retry(at, Box::new(entry)))
            }
            NextStep::GiveUp { reason } => {
                tracing::warn!(delivery = %id, attempts = entry.attempts, %reason, "delivery given up");
                self.record_failure(&entry, &reason).await;
                (key, Settle::Remove)
            }
        }
    }

    /// Append `delivery.failed` to the ticket (refused on closed tickets: logged).
    async fn record_failure(&self, entry: &OutboxEntry, reason: &str) {
        let failed = failed_event(
            &entry.request.delivery_id,
            &entry.request.plugin,
            entry.attempts,
            reason,
        );
        let (Ok(id), Ok(ticket_id)) = (
            EventId::new(format!("failed:{}", entry.request.delivery_id)),
            TicketId::new(entry.ticket_id.clone()),
        ) else {
            tracing::error!(delivery = %entry.request.delivery_id, "cannot name the delivery.failed event");
            return;
        };
        let event = Event {
            id,
            ticket_id,
            occurred_at: self.clock.now(),
            kind: EventKind::DeliveryFailed(failed),
        };
        if let Err(e) = self
            .writer
            .append(InputBatch {
                events: vec![event],
                source: Source::Outbox,
            })
            .await
        {
            tracing::warn!(delivery = %entry.request.delivery_id, error = %e, "delivery.failed not recorded");
        }
    }
}
