//! Escalier decisions → Zammad REST API calls, as plain functions.
//!
//! Zammad's API addresses a ticket by its database id, not the number
//! agents see (Escalier's `zammad:<number>`): the `zammad` adapter keeps
//! the id in the ticket's `zammad_id` field when it creates the ticket.
//!
//! - escalate, route: `PUT /api/v1/tickets/{id}` with `{"group": "<name>"}`
//!   (or `{"group_id": <id>}` for a numeric mapping) when a group is
//!   mapped, then the internal note;
//! - set_priority: `{"priority": "3 high"}` (or `{"priority_id": <id>}`);
//! - assign: `{"owner_id": <id>}` (or `{"owner": "<login>"}`);
//! - tag: `POST /api/v1/tags/add` with
//!   `{"item": "<tag>", "object": "Ticket", "o_id": <id>}` (the ticket's
//!   other tags stay);
//! - note (and the note of escalate and route): `POST
//!   /api/v1/ticket_articles` with `{"ticket_id", "subject", "body",
//!   "content_type": "text/plain", "type": "note", "internal": true}`.

use serde_json::{Value, json};
use writeback::{Call, Decision, Mapping, Method, Plan, TicketView, explain, show, whole};

/// Whether an Escalier ticket is Zammad's (`zammad:<number>`).
pub fn is_zammad(ticket_id: &str) -> bool {
    ticket_id.starts_with("zammad:")
}

/// The Zammad ticket id kept in the ticket's fields (`zammad_id`).
pub fn zammad_id(fields: &Value) -> Option<u64> {
    fields.get("zammad_id").and_then(whole)
}

/// Zammad's default priorities (it has three; urgent is its highest).
fn default_priority(p: &str) -> Option<&'static str> {
    Some(match p {
        "low" => "1 low",
        "normal" => "2 normal",
        "high" | "urgent" => "3 high",
        _ => return None,
    })
}

/// `{"<key>_id": n}` for a numeric value, `{"<key>": "name"}` otherwise.
fn by_id_or_name(key: &str, v: &Value) -> Value {
    match whole(v) {
        Some(id) => json!({ format!("{key}_id"): id }),
        None => json!({ key: show(v).trim() }),
    }
}

/// The owner for an Escalier agent: the mapping, else an agent the Zammad
/// adapter named (`zammad:<login>`, or `zammad:user-<id>`).
fn owner(m: &Mapping, agent: &str) -> Option<Value> {
    if let Some(v) = m.agent(agent) {
        return Some(by_id_or_name("owner", v));
    }
    let login = agent.strip_prefix("zammad:")?;
    if let Some(id) = login.strip_prefix("user-").and_then(|n| whole(&json!(n))) {
        return Some(json!({ "owner_id": id }));
    }
    (!login.is_empty()).then(|| json!({ "owner": login }))
}

fn update(id: u64, body: Value) -> Call {
    Call {
        method: Method::Put,
        path: format!("/api/v1/tickets/{id}"),
        body,
    }
}

fn note(id: u64, body: String) -> Call {
    Call {
        method: Method::Post,
        path: "/api/v1/ticket_articles".into(),
        body: json!({
            "ticket_id": id,
            "subject": "Escalier",
            "body": body,
            "content_type": "text/plain",
            "type": "note",
            "internal": true,
        }),
    }
}

/// The calls for `decision` on `ticket`, whose Zammad id is `id` (`None`:
/// the ticket has no `zammad_id` field, so nothing can be written back).
pub fn plan(
    decision: &Decision,
    ticket: &TicketView,
    id: Option<u64>,
    source: &str,
    m: &Mapping,
) -> Plan {
    let mut plan = Plan::default();
    if !is_zammad(&ticket.id) {
        return plan;
    }
    let Some(id) = id else {
        plan.warnings.push(format!(
            "ticket {} has no `zammad_id` field (the zammad adapter sets it when it creates the ticket): nothing written back",
            ticket.id
        ));
        return plan;
    };
    match decision {
        // Held by a checklist, or below the ticket's tier: nothing changed
        // in Escalier, so nothing to write back.
        Decision::Escalate { tier, .. } if ticket.tier != *tier => {}
        Decision::Escalate { tier, .. } => {
            let group = m.tier_group(ticket.team.as_deref(), *tier);
            group_update(
                &mut plan,
                id,
                decision,
                source,
                group,
                &format!("tier {tier}"),
                "tier_groups",
            );
        }
        Decision::Route { team, .. } => {
            let group = m.team_group(team);
            group_update(
                &mut plan,
                id,
                decision,
                source,
                group,
                &format!("team {team}"),
                "team_groups",
            );
        }
        Decision::SetPriority(p) => {
            let v = m
                .priority(p)
                .cloned()
                .or_else(|| default_priority(p).map(|n| json!(n)));
            match v {
                Some(v) => plan.calls.push(update(id, by_id_or_name("priority", &v))),
                None => plan.warnings.push(format!(
                    "no Zammad priority for `{p}`: add it to `priorities`"
                )),
            }
        }
        Decision::Assign(agent) => match owner(m, agent) {
            Some(o) => plan.calls.push(update(id, o)),
            None => plan.warnings.push(format!(
                "no Zammad user for agent `{agent}`: add it to `agents`"
            )),
        },
        Decision::Tag(tag) => plan.calls.push(Call {
            method: Method::Post,
            path: "/api/v1/tags/add".into(),
            body: json!({ "item": tag, "object": "Ticket", "o_id": id }),
        }),
        Decision::Note(_) => {
            if let Some(body) = explain(decision, source, None) {
                plan.calls.push(note(id, body));
            }
        }
    }
    plan
}

/// Escalate or route: the group when one is mapped, then the internal
/// note either way.
fn group_update(
    plan: &mut Plan,
    id: u64,
    decision: &Decision,
    source: &str,
    group: Option<&Value>,
    what: &str,
    key: &str,
) {
    let unmapped = match group {
        Some(g) => {
            plan.calls.push(update(id, by_id_or_name("group", g)));
            None
        }
        None => Some(format!(
            "no Zammad group is mapped for {what} in `{key}`; the group is unchanged"
        )),
    };
    if let Some(u) = &unmapped {
        plan.warnings.push(u.clone());
    }
    if let Some(body) = explain(decision, source, unmapped.as_deref()) {
        plan.calls.push(note(id, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping {
            team_groups: [("billing".to_owned(), json!("Billing"))].into(),
            tier_groups: [("2".to_owned(), json!(4))].into(),
            agents: [
                ("ana".to_owned(), json!(5)),
                ("bo".to_owned(), json!("bo@chrispresso.example")),
            ]
            .into(),
            priorities: Default::default(),
        }
    }

    fn ticket(tier: u8) -> TicketView {
        TicketView {
            id: "zammad:10081".into(),
            tier,
            team: None,
        }
    }

    fn one(plan: Plan) -> Call {
        assert_eq!(plan.calls.len(), 1, "{plan:#?}");
        plan.calls.into_iter().next().unwrap()
    }

    #[test]
    fn only_zammad_tickets_with_their_id() {
        assert_eq!(
            zammad_id(&json!({"zammad_id": 81, "zammad_number": "10081"})),
            Some(81)
        );
        assert_eq!(zammad_id(&json!({"zammad_number": "10081"})), None);
        let t = TicketView {
            id: "zendesk:1".into(),
            ..ticket(1)
        };
        assert_eq!(
            plan(&Decision::Tag("x".into()), &t, Some(1), "p", &mapping()),
            Plan::default()
        );
        let p = plan(
            &Decision::Tag("x".into()),
            &ticket(1),
            None,
            "p",
            &mapping(),
        );
        assert!(p.calls.is_empty());
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn escalation_sets_the_group_then_adds_an_internal_note() {
        let d = Decision::Escalate {
            tier: 2,
            reason: "VIP waiting".into(),
        };
        let p = plan(&d, &ticket(2), Some(81), "vip.rhai", &mapping());
        assert_eq!(p.calls.len(), 2);
        assert_eq!(p.calls[0].method, Method::Put);
        assert_eq!(p.calls[0].path, "/api/v1/tickets/81");
        assert_eq!(p.calls[0].body, json!({"group_id": 4}));
        assert_eq!(p.calls[1].method, Method::Post);
        assert_eq!(p.calls[1].path, "/api/v1/ticket_articles");
        assert_eq!(
            p.calls[1].body,
            json!({
                "ticket_id": 81,
                "subject": "Escalier",
                "body": "Escalier escalated this ticket to tier 2.\nDecided by: vip.rhai\nWhy: VIP waiting",
                "content_type": "text/plain",
                "type": "note",
                "internal": true
            })
        );
        assert!(
            plan(&d, &ticket(3), Some(81), "p", &mapping())
                .calls
                .is_empty()
        );
    }

    #[test]
    fn routing_by_group_name_and_unmapped_teams() {
        let d = Decision::Route {
            team: "billing".into(),
            reason: "refund".into(),
        };
        let p = plan(&d, &ticket(1), Some(81), "p", &mapping());
        assert_eq!(p.calls[0].body, json!({"group": "Billing"}));
        let d = Decision::Route {
            team: "sales".into(),
            reason: "r".into(),
        };
        let c = one(plan(&d, &ticket(1), Some(81), "p", &mapping()));
        assert_eq!(c.path, "/api/v1/ticket_articles");
        assert!(
            c.body["body"]
                .as_str()
                .unwrap()
                .contains("no Zammad group is mapped for team sales")
        );
    }

    #[test]
    fn priority_owner_tags_and_notes() {
        let m = mapping();
        let t = ticket(1);
        let c = one(plan(
            &Decision::SetPriority("urgent".into()),
            &t,
            Some(81),
            "p",
            &m,
        ));
        assert_eq!(c.body, json!({"priority": "3 high"}));
        let c = one(plan(
            &Decision::SetPriority("low".into()),
            &t,
            Some(81),
            "p",
            &m,
        ));
        assert_eq!(c.body, json!({"priority": "1 low"}));
        let m2 = Mapping {
            priorities: [("urgent".to_owned(), json!(4))].into(),
            ..Mapping::default()
        };
        let c = one(plan(
            &Decision::SetPriority("urgent".into()),
            &t,
            Some(81),
            "p",
            &m2,
        ));
        assert_eq!(c.body, json!({"priority_id": 4}));

        let c = one(plan(&Decision::Assign("ana".into()), &t, Some(81), "p", &m));
        assert_eq!(c.path, "/api/v1/tickets/81");
        assert_eq!(c.body, json!({"owner_id": 5}));
        let c = one(plan(&Decision::Assign("bo".into()), &t, Some(81), "p", &m));
        assert_eq!(c.body, json!({"owner": "bo@chrispresso.example"}));
        let c = one(plan(
            &Decision::Assign("zammad:emma@chrispresso.example".into()),
            &t,
            Some(81),
            "p",
            &m,
        ));
        assert_eq!(c.body, json!({"owner": "emma@chrispresso.example"}));
        let c = one(plan(
            &Decision::Assign("zammad:user-9".into()),
            &t,
            Some(81),
            "p",
            &m,
        ));
        assert_eq!(c.body, json!({"owner_id": 9}));
        let p = plan(&Decision::Assign("carl".into()), &t, Some(81), "p", &m);
        assert!(p.calls.is_empty());
        assert_eq!(p.warnings.len(), 1);

        let c = one(plan(&Decision::Tag("vip".into()), &t, Some(81), "p", &m));
        assert_eq!(c.method, Method::Post);
        assert_eq!(c.path, "/api/v1/tags/add");
        assert_eq!(
            c.body,
            json!({"item": "vip", "object": "Ticket", "o_id": 81})
        );

        let c = one(plan(
            &Decision::Note("call back".into()),
            &t,
            Some(81),
            "sla.rhai",
            &m,
        ));
        assert_eq!(c.body["internal"], true);
        assert_eq!(c.body["type"], "note");
        assert_eq!(c.body["body"], "Escalier note from sla.rhai:\ncall back");
    }
}
