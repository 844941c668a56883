//! Escalier decisions → Jira Cloud platform REST v3 and Jira Service
//! Management REST calls, as plain functions.
//!
//! - escalate, route: `PUT /rest/api/3/issue/{key}` with
//!   `{"fields": {<group_field>: <mapped value>}}` when a group is mapped
//!   (Jira has no ticket group: the field is a custom field, Components,
//!   or the request type's field, named by `group_field`), then the
//!   internal comment;
//! - set_priority: `{"fields": {"priority": {"name": "High"}}}` (or
//!   `{"id": "2"}` for a numeric mapping);
//! - assign: `{"fields": {"assignee": {"accountId": "<id>"}}}`;
//! - tag: `{"update": {"labels": [{"add": "<tag>"}]}}` (the issue's other
//!   labels stay);
//! - note (and the note of escalate and route):
//!   `POST /rest/servicedeskapi/request/{key}/comment` with
//!   `{"body": <text>, "public": false}`, an internal comment.

use serde_json::{Value, json};
use writeback::{Call, Decision, Mapping, Method, Plan, TicketView, explain, show, whole};

/// The Jira issue key of an Escalier ticket (`jira:SUP-12` → `SUP-12`);
/// `None` for tickets of other tools or ids that are not issue keys.
pub fn issue_key(ticket_id: &str) -> Option<&str> {
    let key = ticket_id.strip_prefix("jira:")?;
    let (project, number) = key.rsplit_once('-')?;
    let ok = project.len() <= 255
        && project.starts_with(|c: char| c.is_ascii_alphabetic())
        && project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !number.is_empty()
        && number.len() <= 18
        && number.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(key)
}

/// Jira's default priority scheme.
fn default_priority(p: &str) -> Option<&'static str> {
    Some(match p {
        "urgent" => "Highest",
        "high" => "High",
        "normal" => "Medium",
        "low" => "Low",
        _ => return None,
    })
}

/// `{"id": "3"}` for a numeric mapping, `{"name": "High"}` otherwise.
fn priority(m: &Mapping, p: &str) -> Option<Value> {
    match m.priority(p) {
        Some(v) => Some(match whole(v) {
            Some(id) => json!({ "id": id.to_string() }),
            None => json!({ "name": show(v).trim() }),
        }),
        None => default_priority(p).map(|n| json!({ "name": n })),
    }
}

/// An Atlassian accountId from the mapping, or from an Escalier agent id
/// the Jira adapter made (`jira:<accountId>`).
fn account(m: &Mapping, agent: &str) -> Option<String> {
    m.agent(agent)
        .map(|v| show(v).trim().to_owned())
        .or_else(|| agent.strip_prefix("jira:").map(str::to_owned))
        .filter(|a| !a.is_empty())
}

fn edit(key: &str, body: Value) -> Call {
    Call {
        method: Method::Put,
        path: format!("/rest/api/3/issue/{key}"),
        body,
    }
}

fn comment(key: &str, body: String) -> Call {
    Call {
        method: Method::Post,
        path: format!("/rest/servicedeskapi/request/{key}/comment"),
        body: json!({ "body": body, "public": false }),
    }
}

/// The calls for `decision` on `ticket` (`source`: who decided).
/// `group_field` is the issue field escalate and route set (`components`,
/// `customfield_10050`, ...).
pub fn plan(
    decision: &Decision,
    ticket: &TicketView,
    source: &str,
    m: &Mapping,
    group_field: Option<&str>,
) -> Plan {
    let mut plan = Plan::default();
    let Some(key) = issue_key(&ticket.id) else {
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
                key,
                decision,
                source,
                group,
                group_field,
                &format!("tier {tier}"),
                "tier_groups",
            );
        }
        Decision::Route { team, .. } => {
            let group = m.team_group(team);
            group_update(
                &mut plan,
                key,
                decision,
                source,
                group,
                group_field,
                &format!("team {team}"),
                "team_groups",
            );
        }
        Decision::SetPriority(p) => match priority(m, p) {
            Some(v) => plan
                .calls
                .push(edit(key, json!({ "fields": { "priority": v } }))),
            None => plan.warnings.push(format!(
                "no Jira priority for `{p}`: add it to `priorities`"
            )),
        },
        Decision::Assign(agent) => match account(m, agent) {
            Some(a) => plan.calls.push(edit(
                key,
                json!({ "fields": { "assignee": { "accountId": a } } }),
            )),
            None => plan.warnings.push(format!(
                "no Jira accountId for agent `{agent}`: add it to `agents`"
            )),
        },
        Decision::Tag(tag) => plan.calls.push(edit(
            key,
            json!({ "update": { "labels": [ { "add": tag } ] } }),
        )),
        Decision::Note(_) => {
            if let Some(body) = explain(decision, source, None) {
                plan.calls.push(comment(key, body));
            }
        }
    }
    plan
}

/// Escalate or route: the group field when a group is mapped and
/// `group_field` is set, then the internal comment either way.
#[allow(clippy::too_many_arguments)]
fn group_update(
    plan: &mut Plan,
    key: &str,
    decision: &Decision,
    source: &str,
    group: Option<&Value>,
    group_field: Option<&str>,
    what: &str,
    map_key: &str,
) {
    let unmapped = match (group, group_field) {
        (Some(g), Some(field)) => {
            plan.calls
                .push(edit(key, json!({ "fields": { field: g } })));
            None
        }
        (None, _) => Some(format!(
            "no Jira group is mapped for {what} in `{map_key}`; the issue's fields are unchanged"
        )),
        (Some(_), None) => {
            Some("`group_field` is not set, so the issue's fields are unchanged".to_owned())
        }
    };
    if let Some(u) = &unmapped {
        plan.warnings.push(u.clone());
    }
    if let Some(body) = explain(decision, source, unmapped.as_deref()) {
        plan.calls.push(comment(key, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping {
            team_groups: [("billing".to_owned(), json!([{ "name": "Billing" }]))].into(),
            tier_groups: [("2".to_owned(), json!({ "value": "Tier 2" }))].into(),
            agents: [("ana".to_owned(), json!("5b10ac8d82e05b22cc7d4ef5"))].into(),
            priorities: Default::default(),
        }
    }

    fn ticket(tier: u8) -> TicketView {
        TicketView {
            id: "jira:SUP-12".into(),
            tier,
            team: None,
        }
    }

    fn one(plan: Plan) -> Call {
        assert_eq!(plan.calls.len(), 1, "{plan:#?}");
        plan.calls.into_iter().next().unwrap()
    }

    #[test]
    fn only_jira_issue_keys() {
        assert_eq!(issue_key("jira:SUP-12"), Some("SUP-12"));
        assert_eq!(issue_key("jira:MY_PROJ2-7"), Some("MY_PROJ2-7"));
        for other in [
            "zendesk:12",
            "jira:SUP",
            "jira:-12",
            "jira:SUP-",
            "jira:SUP-1a",
            "jira:../x-1",
            "jira:2SUP-1",
        ] {
            assert_eq!(issue_key(other), None, "{other}");
        }
        let t = TicketView {
            id: "zammad:10081".into(),
            ..ticket(2)
        };
        assert_eq!(
            plan(&Decision::Tag("x".into()), &t, "p", &mapping(), None),
            Plan::default()
        );
    }

    #[test]
    fn escalation_sets_the_group_field_then_comments_internally() {
        let d = Decision::Escalate {
            tier: 2,
            reason: "VIP waiting".into(),
        };
        let p = plan(
            &d,
            &ticket(2),
            "vip.rhai",
            &mapping(),
            Some("customfield_10050"),
        );
        assert!(p.warnings.is_empty());
        assert_eq!(p.calls.len(), 2);
        assert_eq!(p.calls[0].method, Method::Put);
        assert_eq!(p.calls[0].path, "/rest/api/3/issue/SUP-12");
        assert_eq!(
            p.calls[0].body,
            json!({"fields": {"customfield_10050": {"value": "Tier 2"}}})
        );
        assert_eq!(p.calls[1].method, Method::Post);
        assert_eq!(
            p.calls[1].path,
            "/rest/servicedeskapi/request/SUP-12/comment"
        );
        assert_eq!(
            p.calls[1].body,
            json!({
                "body": "Escalier escalated this ticket to tier 2.\nDecided by: vip.rhai\nWhy: VIP waiting",
                "public": false
            })
        );
        // Held or lower: nothing.
        assert!(
            plan(&d, &ticket(1), "p", &mapping(), Some("f"))
                .calls
                .is_empty()
        );
    }

    #[test]
    fn routing_sets_components_and_unmapped_teams_only_comment() {
        let d = Decision::Route {
            team: "billing".into(),
            reason: "refund".into(),
        };
        let p = plan(&d, &ticket(1), "p", &mapping(), Some("components"));
        assert_eq!(
            p.calls[0].body,
            json!({"fields": {"components": [{"name": "Billing"}]}})
        );

        let d = Decision::Route {
            team: "sales".into(),
            reason: "r".into(),
        };
        let c = one(plan(&d, &ticket(1), "p", &mapping(), Some("components")));
        assert_eq!(c.method, Method::Post);
        assert!(
            c.body["body"]
                .as_str()
                .unwrap()
                .contains("no Jira group is mapped for team sales")
        );
        // No group_field: the comment says so.
        let d = Decision::Route {
            team: "billing".into(),
            reason: "r".into(),
        };
        let p = plan(&d, &ticket(1), "p", &mapping(), None);
        assert_eq!(p.warnings.len(), 1);
        let c = one(p);
        assert!(
            c.body["body"]
                .as_str()
                .unwrap()
                .contains("`group_field` is not set")
        );
    }

    #[test]
    fn priority_assignee_labels_and_notes() {
        let m = mapping();
        let t = ticket(1);
        let c = one(plan(
            &Decision::SetPriority("urgent".into()),
            &t,
            "p",
            &m,
            None,
        ));
        assert_eq!(c.path, "/rest/api/3/issue/SUP-12");
        assert_eq!(c.body, json!({"fields": {"priority": {"name": "Highest"}}}));
        let c = one(plan(
            &Decision::SetPriority("normal".into()),
            &t,
            "p",
            &m,
            None,
        ));
        assert_eq!(c.body, json!({"fields": {"priority": {"name": "Medium"}}}));
        let m2 = Mapping {
            priorities: [
                ("urgent".to_owned(), json!(1)),
                ("high".to_owned(), json!("P2")),
            ]
            .into(),
            ..Mapping::default()
        };
        let c = one(plan(
            &Decision::SetPriority("urgent".into()),
            &t,
            "p",
            &m2,
            None,
        ));
        assert_eq!(c.body, json!({"fields": {"priority": {"id": "1"}}}));
        let c = one(plan(
            &Decision::SetPriority("high".into()),
            &t,
            "p",
            &m2,
            None,
        ));
        assert_eq!(c.body, json!({"fields": {"priority": {"name": "P2"}}}));

        let c = one(plan(&Decision::Assign("ana".into()), &t, "p", &m, None));
        assert_eq!(
            c.body,
            json!({"fields": {"assignee": {"accountId": "5b10ac8d82e05b22cc7d4ef5"}}})
        );
        let c = one(plan(
            &Decision::Assign("jira:712020:abc".into()),
            &t,
            "p",
            &m,
            None,
        ));
        assert_eq!(c.body["fields"]["assignee"]["accountId"], "712020:abc");
        let p = plan(&Decision::Assign("bob".into()), &t, "p", &m, None);
        assert!(p.calls.is_empty());
        assert_eq!(p.warnings.len(), 1);

        let c = one(plan(&Decision::Tag("vip".into()), &t, "p", &m, None));
        assert_eq!(c.method, Method::Put);
        assert_eq!(c.body, json!({"update": {"labels": [{"add": "vip"}]}}));

        let c = one(plan(
            &Decision::Note("call back".into()),
            &t,
            "sla.rhai",
            &m,
            None,
        ));
        assert_eq!(c.method, Method::Post);
        assert_eq!(c.path, "/rest/servicedeskapi/request/SUP-12/comment");
        assert_eq!(
            c.body,
            json!({"body": "Escalier note from sla.rhai:\ncall back", "public": false})
        );
    }
}
