//! Between core types and WIT types: the ticket and record handed to a
//! guest, and the guest's actions turned back into core events (through
//! the same `Action` types and validation as a policy's actions).

use escalier_core::action::{
    Action, Assign, Escalate, Note, Notify, RequireApproval, RequireChecklist, Route, SetPriority,
    Tag,
};
use escalier_core::event::{ChecklistItemDef, ChecklistOpened};
use escalier_core::{EventKind, Priority, Record, Ticket, Tier};

use crate::bindings::escalier::plugin::types as wit;

/// The ticket record: named fields only, no plugin state (that is
/// `kv`, scoped to the calling plugin).
pub(crate) fn ticket(t: &Ticket) -> wit::Ticket {
    wit::Ticket {
        id: t.id.as_str().to_owned(),
        subject: t.subject.clone(),
        status: t.status.as_str().to_owned(),
        priority: t.priority.as_str().to_owned(),
        channel: t.channel.as_str().to_owned(),
        tier: t.tier.get(),
        team: t.team.clone(),
        agent: t.agent.clone(),
        tags: t.tags.iter().cloned().collect(),
        requester_id: t.requester.id.clone(),
        requester_plan: t.requester.plan.clone(),
        vip: t.requester.vip,
        created_at: t.created_at.as_millisecond(),
    }
}

/// The record as handed to plugin `to`. Another plugin's `plugin.state`
/// shows only which plugin changed its state, not what it wrote: a plugin
/// sees its own key-value state and nobody else's. Likewise another
/// plugin's outbound request (`delivery.requested`: URL, headers, body,
/// any of which may carry a token) and its outcomes (`delivery.failed`,
/// `delivery.retrying`, `delivery.delivered`: the receiver's answer) show
/// only the delivery id and the plugin (or notification target).
pub(crate) fn event(r: &Record, to: &str) -> wit::Event {
    let data = match &r.event.kind {
        EventKind::PluginState(s) if s.plugin != to => {
            serde_json::json!({ "plugin": s.plugin }).to_string()
        }
        EventKind::DeliveryRequested(d) if d.plugin != to => {
            serde_json::json!({ "delivery_id": d.delivery_id, "plugin": d.plugin }).to_string()
        }
        EventKind::DeliveryFailed(d) if d.plugin.as_deref() != Some(to) => {
            outcome_seen_by_others(&d.delivery_id, d.plugin.as_deref(), d.target.as_deref())
        }
        EventKind::DeliveryRetrying(d) if d.plugin.as_deref() != Some(to) => {
            outcome_seen_by_others(&d.delivery_id, d.plugin.as_deref(), d.target.as_deref())
        }
        EventKind::DeliveryDelivered(d) if d.plugin.as_deref() != Some(to) => {
            outcome_seen_by_others(&d.delivery_id, d.plugin.as_deref(), d.target.as_deref())
        }
        // The event's `data` alone: serialize the envelope and take it out.
        _ => match serde_json::to_value(&r.event) {
            Ok(serde_json::Value::Object(mut o)) => o.remove("data").map(|d| d.to_string()),
            _ => None,
        }
        .unwrap_or_else(|| "{}".to_owned()),
    };
    wit::Event {
        id: r.event.id.as_str().to_owned(),
        type_: r.event.type_name().to_owned(),
        ticket_id: r.event.ticket_id.as_str().to_owned(),
        occurred_at: r.event.occurred_at.as_millisecond(),
        recorded_at: r.recorded_at.as_millisecond(),
        data,
        source: r.source.producer_name().to_owned(),
    }
}

/// Another plugin's (or a notification's) delivery outcome: which delivery
/// and whose, not the receiver's answer.
fn outcome_seen_by_others(delivery_id: &str, plugin: Option<&str>, target: Option<&str>) -> String {
    let mut o = serde_json::Map::new();
    o.insert("delivery_id".into(), delivery_id.into());
    if let Some(p) = plugin {
        o.insert("plugin".into(), p.into());
    }
    if let Some(t) = target {
        o.insert("target".into(), t.into());
    }
    serde_json::Value::Object(o).to_string()
}

/// A guest action as a core event; `Err` says why it cannot be one (the
/// core's own validation runs later, in the processor, like for policies).
pub(crate) fn action(a: wit::Action) -> Result<EventKind, String> {
    let tier = |n: u8| Tier::new(i64::from(n));
    let core = match a {
        wit::Action::Escalate(e) => Action::Escalate(Escalate {
            tier: tier(e.tier)?,
            reason: e.reason,
        }),
        wit::Action::Route(r) => Action::Route(Route {
            team: r.team,
            reason: r.reason,
        }),
        wit::Action::SetPriority(p) => Action::SetPriority(SetPriority {
            priority: Priority::parse(&p).ok_or_else(|| {
                format!("set-priority `{p}`: priorities are {}", Priority::names())
            })?,
        }),
        wit::Action::Assign(agent) => Action::Assign(Assign { agent }),
        wit::Action::Tag(tag) => Action::Tag(Tag { tag }),
        wit::Action::Notify(n) => Action::Notify(Notify {
            channel: n.channel,
            message: n.message,
        }),
        wit::Action::Note(text) => Action::Note(Note { text }),
        wit::Action::RequireApproval(r) => Action::RequireApproval(RequireApproval {
            kind: r.kind,
            reason: r.reason,
        }),
        wit::Action::RequireChecklist(name) => Action::RequireChecklist(RequireChecklist { name }),
        wit::Action::OpenChecklist(c) => {
            return Ok(EventKind::ChecklistOpened(ChecklistOpened {
                name: c.name,
                items: c
                    .items
                    .into_iter()
                    .map(|i| ChecklistItemDef {
                        id: i.id,
                        text: i.text,
                    })
                    .collect(),
                required_for_tier: c.required_for_tier.map(tier).transpose()?,
            }));
        }
    };
    Ok(EventKind::Action(core))
}

/// The error a guest returned, as `case: message`.
pub(crate) fn guest_error(e: &wit::Error) -> (&'static str, String) {
    match e {
        wit::Error::InvalidInput(m) => ("invalid-input", m.clone()),
        wit::Error::Denied(m) => ("denied", m.clone()),
        wit::Error::QuotaExceeded(m) => ("quota-exceeded", m.clone()),
        wit::Error::NotFound(m) => ("not-found", m.clone()),
        wit::Error::Unauthorized(m) => ("unauthorized", m.clone()),
        wit::Error::Unsupported(m) => ("unsupported", m.clone()),
        wit::Error::Failed(m) => ("failed", m.clone()),
    }
}

#[cfg(test)]
mod tests {
    use escalier_core::event::{AuthScheme, DeliveryAuth, DeliveryRequested, Header};
    use escalier_core::{Event, EventId, Source, TicketId};

    use super::*;

    fn delivery(plugin: &str) -> Record {
        Record {
            seq: 7,
            index: 1,
            recorded_at: "2026-03-02T09:00:00Z".parse().unwrap(),
            source: Source::Outbox,
            event: Event {
                id: EventId::new("esc:7.1").unwrap(),
                ticket_id: TicketId::new("T-1").unwrap(),
                occurred_at: "2026-03-02T09:00:00Z".parse().unwrap(),
                kind: EventKind::DeliveryRequested(DeliveryRequested {
                    delivery_id: "dlv:7.1:notifier:0".into(),
                    plugin: plugin.into(),
                    method: "POST".into(),
                    url: "https://hooks.example.test/services/T0/B0/secret-token".into(),
                    headers: vec![Header {
                        name: "authorization".into(),
                        value: "Bearer sk_live_123".into(),
                    }],
                    body: r#"{"text":"hi"}"#.into(),
                    sign: false,
                    auth: None,
                }),
            },
        }
    }

    #[test]
    fn another_plugins_outbound_request_shows_only_its_id() {
        let own = event(&delivery("notifier"), "notifier");
        assert!(own.data.contains("secret-token"), "{}", own.data);
        let other = event(&delivery("notifier"), "peeker");
        assert_eq!(
            other.data,
            r#"{"delivery_id":"dlv:7.1:notifier:0","plugin":"notifier"}"#
        );
    }

    #[test]
    fn another_plugins_authenticated_request_hides_its_auth_too() {
        let mut r = delivery("zendesk-writeback");
        if let EventKind::DeliveryRequested(d) = &mut r.event.kind {
            d.headers.clear();
            d.auth = Some(DeliveryAuth {
                scheme: AuthScheme::Basic,
                secret: "zendesk_api_token".into(),
                username: Some("agent@acme.com/token".into()),
            });
        }
        let own = event(&r, "zendesk-writeback");
        assert!(own.data.contains("zendesk_api_token"), "{}", own.data);
        let other = event(&r, "peeker");
        assert_eq!(
            other.data,
            r#"{"delivery_id":"dlv:7.1:notifier:0","plugin":"zendesk-writeback"}"#
        );
        for hidden in [
            "auth",
            "zendesk_api_token",
            "agent@acme.com",
            "basic",
            "url",
        ] {
            assert!(!other.data.contains(hidden), "{hidden} in {}", other.data);
        }
    }
}
