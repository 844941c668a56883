//! The notification reactor: `action.notify` → `notification.requested`.
//!
//! - Each `action.notify` names a target or a team; one request per target
//!   (a team's targets in order). A name that is neither gets one request
//!   of kind `none`, which the notifier fails, saying so: a typo in a
//!   policy shows on the ticket instead of vanishing.
//! - **Urgency**: the ticket's priority is one of the target's
//!   `urgent_priorities` (default: `urgent`).
//! - **Quiet hours**: a non-urgent notification to a target with a calendar,
//!   asked for outside its hours, carries `hold_until` = the calendar's next
//!   opening after the record's time. The outbox entry is due then: a
//!   durable deadline, not a sleep.
//! - **PagerDuty**: a notify triggers an incident with dedup key
//!   `escalier/<ticket>/<seq>` (the seq of the first trigger; a trigger
//!   while the ticket has an open incident on that target reuses its key).
//!   `ladder.acknowledged` acknowledges, and the ticket becoming solved or
//!   closed resolves, every open incident (`Ticket.paged`).
//!
//! Pure: only the ticket, the record and the configuration are read, so a
//! replay asks for the same notifications with the same delivery ids.

use std::sync::Arc;

use escalier_core::action::Notify;
use escalier_core::event::{
    NotificationRequested, NotificationTicket, NotificationWhy, NotifyKind, PdAction,
};
use escalier_core::{Action, EventKind, Producer, Reaction, Reactor, Record, Ticket};

use crate::config::{NotifyConfig, Target};

/// Reacts to `action.notify`, `ladder.acknowledged` and `status.changed`.
#[derive(Debug, Clone)]
pub struct NotifyReactor {
    config: Arc<NotifyConfig>,
}

const WANTS: &[&str] = &["action.notify", "ladder.acknowledged", "status.changed"];

impl NotifyReactor {
    pub fn new(config: Arc<NotifyConfig>) -> NotifyReactor {
        NotifyReactor { config }
    }

    pub fn config(&self) -> &Arc<NotifyConfig> {
        &self.config
    }

    /// The requests one `action.notify` (at `record`) makes.
    pub fn on_notify(
        &self,
        ticket: &Ticket,
        record: &Record,
        notify: &Notify,
    ) -> Vec<NotificationRequested> {
        let targets = self.config.resolve(&notify.channel);
        let why = NotificationWhy {
            producer: record.source.producer_name().to_owned(),
            reason: None,
        };
        if targets.is_empty() {
            return vec![NotificationRequested {
                delivery_id: NotificationRequested::delivery_id_for(
                    record.seq,
                    record.index,
                    "unknown",
                ),
                target: notify.channel.clone(),
                kind: NotifyKind::None,
                pd_action: None,
                dedup_key: None,
                urgent: false,
                hold_until: None,
                channel: notify.channel.clone(),
                message: notify.message.clone(),
                why,
                ticket: snapshot(ticket),
            }];
        }
        targets
            .into_iter()
            .map(|target| {
                let urgent = target.is_urgent(ticket.priority);
                let kind = target.kind.kind();
                let (pd_action, dedup_key) = if kind == NotifyKind::Pagerduty {
                    let key = ticket.paged.get(&target.name).cloned().unwrap_or_else(|| {
                        NotificationRequested::dedup_key_for(&ticket.id, record.seq)
                    });
                    (Some(PdAction::Trigger), Some(key))
                } else {
                    (None, None)
                };
                NotificationRequested {
                    delivery_id: NotificationRequested::delivery_id_for(
                        record.seq,
                        record.index,
                        &target.name,
                    ),
                    target: target.name.clone(),
                    kind,
                    pd_action,
                    dedup_key,
                    urgent,
                    hold_until: if urgent {
                        None
                    } else {
                        hold_until(target, record.recorded_at)
                    },
                    channel: notify.channel.clone(),
                    message: notify.message.clone(),
                    why: why.clone(),
                    ticket: snapshot(ticket),
                }
            })
            .collect()
    }

    /// Acknowledge or resolve every open PagerDuty incident of the ticket.
    pub fn on_lifecycle(
        &self,
        ticket: &Ticket,
        record: &Record,
        action: PdAction,
        reason: String,
    ) -> Vec<NotificationRequested> {
        ticket
            .paged
            .iter()
            .map(|(target, key)| NotificationRequested {
                delivery_id: NotificationRequested::delivery_id_for(
                    record.seq,
                    record.index,
                    target,
                ),
                target: target.clone(),
                kind: NotifyKind::Pagerduty,
                pd_action: Some(action),
                dedup_key: Some(key.clone()),
                urgent: true,
                hold_until: None,
                channel: target.clone(),
                message: reason.clone(),
                why: NotificationWhy {
                    producer: record.source.producer_name().to_owned(),
                    reason: Some(reason.clone()),
                },
                ticket: snapshot(ticket),
            })
            .collect()
    }

    /// Every request `record` makes, on `ticket` as it is after the record.
    pub fn requests(&self, ticket: &Ticket, record: &Record) -> Vec<NotificationRequested> {
        match &record.event.kind {
            EventKind::Action(Action::Notify(n)) => self.on_notify(ticket, record, n),
            EventKind::LadderAcknowledged(a) => {
                let mut reason = format!("acknowledged in Escalier by {}", a.by);
                if let Some(note) = &a.note {
                    reason.push_str(": ");
                    reason.push_str(clip(note, 512));
                }
                self.on_lifecycle(ticket, record, PdAction::Acknowledge, reason)
            }
            EventKind::StatusChanged(_) if !ticket.is_open() => self.on_lifecycle(
                ticket,
                record,
                PdAction::Resolve,
                format!("ticket {} is {}", ticket.id, ticket.status),
            ),
            _ => Vec::new(),
        }
    }
}

impl Reactor for NotifyReactor {
    fn wants(&self, event_type: &str) -> bool {
        WANTS.contains(&event_type)
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        for n in self.requests(ticket, record) {
            out.push(Reaction {
                producer: Producer::System,
                kind: EventKind::NotificationRequested(n),
            });
        }
    }
}

/// When a non-urgent notification to `target` asked for at `at` may go:
/// `None` at once (no calendar, or open now), else the next opening.
/// A calendar with no business time ahead holds nothing.
pub fn hold_until(target: &Target, at: jiff::Timestamp) -> Option<jiff::Timestamp> {
    let cal = target.quiet_hours()?;
    if cal.is_open(at) {
        return None;
    }
    cal.next_open(at).ok().filter(|t| *t > at)
}

fn snapshot(t: &Ticket) -> NotificationTicket {
    NotificationTicket {
        id: t.id.clone(),
        subject: clip(&t.subject, 1024).to_owned(),
        status: t.status,
        priority: t.priority,
        tier: t.tier,
        team: t.team.clone(),
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
