//! Escalier decisions → Zendesk Tickets API calls, as plain functions.
//!
//! - escalate, route: `PUT /api/v2/tickets/{id}.json` with
//!   `{"ticket": {"group_id": <group>, "comment": {"body": <note>, "public": false}}}`
//!   (the group only when one is mapped; the note always);
//! - set_priority: `{"ticket": {"priority": "urgent"|"high"|"normal"|"low"}}`;
//! - assign: `{"ticket": {"assignee_id": <user id>}}`;
//! - tag: `PUT /api/v2/tickets/{id}/tags.json` with `{"tags": [<tag>]}`
//!   (Zendesk's "Add tags": the ticket's other tags stay);
//! - note: `{"ticket": {"comment": {"body": <note>, "public": false}}}`.

use serde_json::{Value, json};
use writeback::{Call, Decision, Mapping, Method, Plan, TicketView, explain, show, whole};

/// The Zendesk ticket id of an Escalier ticket (`zendesk:123` → 123);
/// `None` for tickets of other tools.
pub fn ticket_number(ticket_id: &str) -> Option<u64> {
    let n = ticket_id.strip_prefix("zendesk:")?;
    whole(&Value::String(n.to_owned()))
}

/// A Zendesk group or user id from a mapped value, or from an Escalier
/// name the Zendesk adapter made (`zendesk:group:<id>`, `zendesk:user:<id>`).
fn zendesk_id(v: &Value, prefix: &str) -> Option<u64> {
    whole(v).or_else(|| match v {
        Value::String(s) => whole(&Value::String(s.strip_prefix(prefix)?.to_owned())),
        _ => None,
    })
}

/// The default priorities: Zendesk's are Escalier's.
fn priority(m: &Mapping, p: &str) -> Option<String> {
    match m.priority(p) {
        Some(v) => Some(show(v).trim().to_ascii_lowercase()),
        None => matches!(p, "low" | "normal" | "high" | "urgent").then(|| p.to_owned()),
    }
    .filter(|p| matches!(p.as_str(), "low" | "normal" | "high" | "urgent"))
}

fn update(id: u64, ticket: Value) -> Call {
    Call {
        method: Method::Put,
        path: format!("/api/v2/tickets/{id}.json"),
        body: json!({ "ticket": ticket }),
    }
}

fn comment(body: String) -> Value {
    json!({ "body": body, "public": false })
}

/// The calls for `decision` on `ticket` (`source`: who decided).
pub fn plan(decision: &Decision, ticket: &TicketView, source: &str, m: &Mapping) -> Plan {
    let mut plan = Plan::default();
    let Some(id) = ticket_number(&ticket.id) else {
        return plan;
    };
    match decision {
        // Held by a checklist, or below the ticket's tier: nothing changed
        // in Escalier, so nothing to write back.
        Decision::Escalate { tier, .. } if ticket.tier != *tier => {}
        Decision::Escalate { tier, .. } => {
            let group = m.tier_group(ticket.team.as_deref(), *tier);
            group_update(&mut plan, id, decision, source, group, || {
                format!("tier {tier}")
            }, "tier_groups");
        }
        Decision::Route { team, .. } => {
            let group = m
                .team_group(team)
                .cloned()
                .or_else(|| team.starts_with("zendesk:group:").then(|| json!(team)));
            group_update(&mut plan, id, decision, source, group.as_ref(), || {
                format!("team {team}")
            }, "team_groups");
        }
        Decision::SetPriority(p) => match priority(m, p) {
            Some(p) => plan.calls.push(update(id, json!({ "priority": p }))),
            None => plan.warnings.push(format!(
                "no Zendesk priority for `{p}`: `priorities.{p}` must be low, normal, high or urgent"
            )),
        },
        Decision::Assign(agent) => {
            let user = m
                .agent(agent)
                .and_then(|v| zendesk_id(v, "zendesk:user:"))
                .or_else(|| zendesk_id(&json!(agent), "zendesk:user:"));
            match user {
                Some(u) => plan.calls.push(update(id, json!({ "assignee_id": u }))),
                None => plan.warnings.push(format!(
                    "no Zendesk user id for agent `{agent}`: add it to `agents`"
                )),
            }
        }
        Decision::Tag(tag) => plan.calls.push(Call {
            method: Method::Put,
            path: format!("/api/v2/tickets/{id}/tags.json"),
            body: json!({ "tags": [tag] }),
        }),
        Decision::Note(_) => {
            if let Some(body) = explain(decision, source, None) {
                plan.calls
                    .push(update(id, json!({ "comment": comment(body) })));
            }
        }
    }
    plan
}

/// Escalate or route: the group when `group` maps to a Zendesk group id,
/// and the internal note either way.
fn group_update(
    plan: &mut Plan,
    id: u64,
    decision: &Decision,
    source: &str,
    group: Option<&Value>,
    what: impl Fn() -> String,
    key: &str,
) {
    let group_id = group.and_then(|g| zendesk_id(g, "zendesk:group:"));
    let unmapped = match (group, group_id) {
        (_, Some(_)) => None,
        (None, _) => Some(format!(
            "no Zendesk group is mapped for {} in `{key}`; the group is unchanged",
            what()
        )),
        (Some(g), None) => Some(format!(
            "`{key}` maps {} to {}, which is not a Zendesk group id; the group is unchanged",
            what(),
            show(g)
        )),
    };
    if let Some(u) = &unmapped {
        plan.warnings.push(u.clone());
    }
    let mut ticket = json!({});
    if let Some(g) = group_id {
        ticket["group_id"] = json!(g);
    }
    if let Some(body) = explain(decision, source, unmapped.as_deref()) {
        ticket["comment"] = comment(body);
    }
    plan.calls.push(update(id, ticket));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping {
            team_groups: [("billing".to_owned(), json!(8447388090431u64))].into(),
            tier_groups: [
                ("2".to_owned(), json!("8447388090432")),
                ("billing/3".to_owned(), json!(8447388090433u64)),
                ("4".to_owned(), json!("Engineering")),
            ]
            .into(),
            agents: [("ana".to_owned(), json!(8447388090495u64))].into(),
            priorities: Default::default(),
        }
    }

    fn ticket(tier: u8, team: Option<&str>) -> TicketView {
        TicketView {
            id: "zendesk:5158".into(),
            tier,
            team: team.map(str::to_owned),
        }
    }

    fn one(plan: Plan) -> Call {
        assert_eq!(plan.calls.len(), 1, "{plan:#?}");
        plan.calls.into_iter().next().unwrap()
    }

    #[test]
    fn only_zendesk_tickets() {
        assert_eq!(ticket_number("zendesk:5158"), Some(5158));
        assert_eq!(ticket_number("jira:SUP-1"), None);
        assert_eq!(ticket_number("zendesk:abc"), None);
        assert_eq!(ticket_number("T-1"), None);
        let t = TicketView {
            id: "jira:SUP-1".into(),
            ..ticket(2, None)
        };
        assert_eq!(
            plan(&Decision::Tag("x".into()), &t, "p", &mapping()),
            Plan::default()
        );
    }

    #[test]
    fn escalation_sets_the_tier_group_with_an_internal_note() {
        let d = Decision::Escalate {
            tier: 2,
            reason: "VIP waiting".into(),
        };
        let c = one(plan(&d, &ticket(2, None), "vip.rhai", &mapping()));
        assert_eq!(c.method, Method::Put);
        assert_eq!(c.path, "/api/v2/tickets/5158.json");
        assert_eq!(
            c.body,
            json!({"ticket": {
                "group_id": 8447388090432u64,
                "comment": {
                    "body": "Escalier escalated this ticket to tier 2.\nDecided by: vip.rhai\nWhy: VIP waiting",
                    "public": false
                }
            }})
        );
        // The team's own group for that tier first.
        let d = Decision::Escalate {
            tier: 3,
            reason: "r".into(),
        };
        let c = one(plan(&d, &ticket(3, Some("billing")), "p", &mapping()));
        assert_eq!(c.body["ticket"]["group_id"], json!(8447388090433u64));
    }

    #[test]
    fn an_unmapped_tier_still_gets_the_note_saying_so() {
        let d = Decision::Escalate {
            tier: 3,
            reason: "r".into(),
        };
        let p = plan(&d, &ticket(3, None), "p", &mapping());
        assert_eq!(p.warnings.len(), 1);
        let c = one(p);
        assert!(c.body["ticket"].get("group_id").is_none());
        let body = c.body["ticket"]["comment"]["body"].as_str().unwrap();
        assert!(
            body.contains("no Zendesk group is mapped for tier 3"),
            "{body}"
        );
        assert_eq!(c.body["ticket"]["comment"]["public"], false);
        // A name is not a Zendesk group id.
        let d = Decision::Escalate {
            tier: 4,
            reason: "r".into(),
        };
        let c = one(plan(&d, &ticket(4, None), "p", &mapping()));
        assert!(c.body["ticket"].get("group_id").is_none());
    }

    #[test]
    fn an_escalation_that_changed_nothing_is_not_written_back() {
        let d = Decision::Escalate {
            tier: 2,
            reason: "r".into(),
        };
        // Held by a checklist (the ticket stayed at 1), or already higher.
        assert!(plan(&d, &ticket(1, None), "p", &mapping()).calls.is_empty());
        assert!(plan(&d, &ticket(3, None), "p", &mapping()).calls.is_empty());
    }

    #[test]
    fn routing_sets_the_team_group() {
        let d = Decision::Route {
            team: "billing".into(),
            reason: "refund".into(),
        };
        let c = one(plan(
            &d,
            &ticket(1, Some("billing")),
            "refunds.rhai",
            &mapping(),
        ));
        assert_eq!(c.body["ticket"]["group_id"], json!(8447388090431u64));
        assert!(
            c.body["ticket"]["comment"]["body"]
                .as_str()
                .unwrap()
                .starts_with(
                    "Escalier routed this ticket to team billing.\nDecided by: refunds.rhai"
                )
        );
        // A team named after a Zendesk group (as the adapter names them).
        let d = Decision::Route {
            team: "zendesk:group:77".into(),
            reason: "r".into(),
        };
        let c = one(plan(&d, &ticket(1, None), "p", &mapping()));
        assert_eq!(c.body["ticket"]["group_id"], json!(77));
    }

    #[test]
    fn priority_assignee_tags_and_notes() {
        let m = mapping();
        let t = ticket(1, None);
        let c = one(plan(&Decision::SetPriority("urgent".into()), &t, "p", &m));
        assert_eq!(c.body, json!({"ticket": {"priority": "urgent"}}));

        let c = one(plan(&Decision::Assign("ana".into()), &t, "p", &m));
        assert_eq!(c.body, json!({"ticket": {"assignee_id": 8447388090495u64}}));
        let c = one(plan(
            &Decision::Assign("zendesk:user:42".into()),
            &t,
            "p",
            &m,
        ));
        assert_eq!(c.body, json!({"ticket": {"assignee_id": 42}}));
        let p = plan(&Decision::Assign("bob".into()), &t, "p", &m);
        assert!(p.calls.is_empty());
        assert_eq!(p.warnings.len(), 1);

        let c = one(plan(&Decision::Tag("vip".into()), &t, "p", &m));
        assert_eq!(c.method, Method::Put);
        assert_eq!(c.path, "/api/v2/tickets/5158/tags.json");
        assert_eq!(c.body, json!({"tags": ["vip"]}));

        let c = one(plan(
            &Decision::Note("call back at 3pm".into()),
            &t,
            "sla.rhai",
            &m,
        ));
        assert_eq!(
            c.body,
            json!({"ticket": {"comment": {
                "body": "Escalier note from sla.rhai:\ncall back at 3pm",
                "public": false
            }}})
        );
    }

    #[test]
    fn priorities_can_be_remapped() {
        let m = Mapping {
            priorities: [
                ("urgent".to_owned(), json!("High")),
                ("low".to_owned(), json!("lowest")),
            ]
            .into(),
            ..Mapping::default()
        };
        let t = ticket(1, None);
        let c = one(plan(&Decision::SetPriority("urgent".into()), &t, "p", &m));
        assert_eq!(c.body, json!({"ticket": {"priority": "high"}}));
        let p = plan(&Decision::SetPriority("low".into()), &t, "p", &m);
        assert!(p.calls.is_empty(), "not a Zendesk priority");
        assert_eq!(p.warnings.len(), 1);
    }
}
