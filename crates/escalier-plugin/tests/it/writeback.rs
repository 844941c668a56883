//! The help-desk write-back plugins as shipped (`target/plugins/*-writeback`),
//! configured as an operator would, run on action records through the
//! real processor: each action on one of the tool's tickets becomes a
//! `delivery.requested` with the method, URL and JSON body the tool's REST
//! API documents, authenticated by a secret the record names (never its
//! value); tickets of other tools are left alone; and the shipped
//! manifests load disabled, reaching nothing.

use std::sync::Arc;

use escalier_core::action::{Action, Assign, Escalate, Note, Route, SetPriority, Tag};
use escalier_core::process::{self, Limits, Processed};
use escalier_core::timers::Books;
use escalier_core::{
    AuthorKind, EventKind, Priority, Producer, Reaction, Reactor, Record, Ticket, Tier,
};
use escalier_plugin::{AddressPolicy, PluginRegistry, PluginSet, Secrets};
use serde_json::{Value, json};

use crate::util::*;

const TOKEN_VALUE: &str = "api-token-value-that-never-enters-a-record";

/// Stands in for a policy file: an agent's comment `<verb> <args>`
/// becomes that action, produced by `vip.rhai`.
struct Decide;

impl Reactor for Decide {
    fn wants(&self, event_type: &str) -> bool {
        event_type == "comment.added"
    }

    fn react(&self, _: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        let EventKind::CommentAdded(c) = &record.event.kind else {
            return;
        };
        if c.author.kind != AuthorKind::Agent {
            return;
        }
        let mut words = c.body.splitn(3, ' ');
        let (verb, arg, rest) = (words.next(), words.next(), words.next());
        let reason = rest.unwrap_or_default().to_owned();
        let action = match (verb, arg) {
            (Some("escalate"), Some(t)) => Action::Escalate(Escalate {
                tier: Tier::new(t.parse().unwrap()).unwrap(),
                reason,
            }),
            (Some("route"), Some(team)) => Action::Route(Route {
                team: team.into(),
                reason,
            }),
            (Some("priority"), Some(p)) => Action::SetPriority(SetPriority {
                priority: Priority::parse(p).unwrap(),
            }),
            (Some("assign"), Some(a)) => Action::Assign(Assign { agent: a.into() }),
            (Some("tag"), Some(t)) => Action::Tag(Tag { tag: t.into() }),
            (Some("note"), Some(first)) => Action::Note(Note {
                text: format!("{first} {reason}").trim().to_owned(),
            }),
            _ => return,
        };
        out.push(Reaction {
            producer: Producer::Policy {
                policy: "vip.rhai".into(),
                hash: "sha256:0000000000000000".into(),
            },
            kind: EventKind::Action(action),
        });
    }
}

/// One ticket named by the tool, fed through the processor with
/// [`Decide`] before the plugins.
struct Desk {
    set: Arc<PluginSet>,
    id: String,
    ticket: Option<Ticket>,
    seq: u64,
    log: Vec<Record>,
}

impl Desk {
    fn new(set: Arc<PluginSet>, id: &str, fields: Value) -> Desk {
        let mut d = Desk {
            set,
            id: id.to_owned(),
            ticket: None,
            seq: 0,
            log: Vec::new(),
        };
        let mut created: Value = serde_json::from_str(CREATED).unwrap();
        created["fields"] = fields;
        d.send("ticket.created", &created.to_string());
        d
    }

    fn send(&mut self, ty: &str, data: &str) -> Vec<Record> {
        self.seq += 1;
        let rec = input(self.seq, ty, &self.id, data, at(self.seq as i64));
        let decide = Decide;
        let mut reactors: Vec<&dyn Reactor> = vec![&decide];
        reactors.extend(self.set.reactors());
        let Processed { ticket, derived } = process::process(
            self.ticket.take(),
            &rec,
            &reactors,
            &Limits::default(),
            &Books::empty(),
        )
        .unwrap();
        self.ticket = Some(ticket);
        self.log.push((*rec).clone());
        self.log.extend(derived.iter().cloned());
        derived
    }

    /// An agent's comment deciding `what`; the deliveries it queued.
    fn decide(&mut self, what: &str) -> Vec<Value> {
        let out = self.send("comment.added", &comment("agent", what));
        assert!(
            of_type(&out, "plugin.error").is_empty(),
            "{what}: {:#?}",
            summary(&out)
        );
        of_type(&out, "delivery.requested")
            .into_iter()
            .map(data)
            .collect()
    }
}

/// The shipped manifest of `plugin`, enabled, reaching `site` only, with
/// `config` (TOML) instead of the shipped `[config]` section.
fn manifest(plugin: &str, site: &str, config: &str) -> String {
    let shipped = std::fs::read_to_string(example(plugin).join("plugin.toml")).unwrap();
    let (head, _) = shipped
        .split_once("\n[config]\n")
        .expect("[config] is the manifest's last section");
    assert!(
        head.contains("\nallowed_hosts = []\n"),
        "ships reaching nothing"
    );
    let head = head
        .lines()
        .filter(|l| !l.starts_with("enabled =") && !l.starts_with("disabled_reason ="))
        .map(|l| match l {
            "allowed_hosts = []" => format!("allowed_hosts = [\"{site}\"]"),
            l if l.starts_with("time_ms = ") => "time_ms = 5000".to_owned(),
            l => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!("{head}\n[config]\nsite = \"{site}\"\n{config}\n")
}

fn host_for(plugin: &str, secret: &str, site: &str, config: &str, policy: AddressPolicy) -> Host {
    let dir = tempfile::tempdir().unwrap();
    install(
        dir.path(),
        &example(plugin),
        plugin,
        Some(&manifest(plugin, site, config)),
    );
    let mut c = crate::util::config(dir.path());
    let mut secrets = Secrets::none();
    secrets.insert(secret, TOKEN_VALUE);
    c.secrets = secrets;
    c.address_policy = policy;
    let (registry, report) = PluginRegistry::open(c).unwrap();
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    assert!(report.disabled.is_empty(), "{:#?}", report.disabled);
    Host { dir, registry }
}

/// The request's JSON body.
fn body(d: &Value) -> Value {
    serde_json::from_str(d["body"].as_str().unwrap()).unwrap()
}

/// Headers as sent by the plugin: JSON, and no `Authorization` (the host
/// adds it at send time).
fn assert_headers(d: &Value) {
    let names: Vec<String> = d["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert!(names.contains(&"content-type".to_owned()), "{d}");
    assert!(!names.contains(&"authorization".to_owned()), "{d}");
    assert_eq!(d["sign"], false);
}

fn assert_no_token(desk: &Desk) {
    for r in &desk.log {
        let json = serde_json::to_string(&r.event).unwrap();
        assert!(!json.contains(TOKEN_VALUE), "{json}");
    }
}

// Zendesk

const ZD_SITE: &str = "https://acme.zendesk.com";
const ZD_CONFIG: &str = r#"email = "escalier-bot@acme.com"
[config.team_groups]
billing = 8447388090431
[config.tier_groups]
"2" = 8447388090432
[config.agents]
ana = "8447388090495"
"#;

fn zendesk() -> (Host, Desk) {
    let h = host_for(
        "zendesk-writeback",
        "zendesk_api_token",
        ZD_SITE,
        ZD_CONFIG,
        AddressPolicy::default(),
    );
    let desk = Desk::new(h.set(), "zendesk:5158", json!({}));
    (h, desk)
}

fn zendesk_auth(d: &Value) {
    assert_eq!(
        d["auth"],
        json!({"scheme": "basic", "secret": "zendesk_api_token", "username": "escalier-bot@acme.com/token"})
    );
    assert_headers(d);
}

#[test]
fn zendesk_escalation_sets_the_group_with_an_internal_note() {
    let (_h, mut desk) = zendesk();
    let d = desk.decide("escalate 2 VIP customer waiting 2h");
    assert_eq!(d.len(), 1, "{d:#?}");
    let d = &d[0];
    assert_eq!(d["plugin"], "zendesk-writeback");
    assert_eq!(d["method"], "PUT");
    assert_eq!(
        d["url"],
        "https://acme.zendesk.com/api/v2/tickets/5158.json"
    );
    zendesk_auth(d);
    assert_eq!(
        body(d),
        json!({"ticket": {
            "group_id": 8447388090432u64,
            "comment": {
                "body": "Escalier escalated this ticket to tier 2.\nDecided by: vip.rhai\nWhy: VIP customer waiting 2h",
                "public": false
            }
        }})
    );
    assert_no_token(&desk);
}

#[test]
fn zendesk_route_priority_assign_tag_and_note() {
    let (_h, mut desk) = zendesk();
    let ticket_url = "https://acme.zendesk.com/api/v2/tickets/5158.json";

    let d = desk.decide("route billing refund over the limit");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["url"], ticket_url);
    assert_eq!(body(&d[0])["ticket"]["group_id"], json!(8447388090431u64));
    assert_eq!(body(&d[0])["ticket"]["comment"]["public"], false);

    let d = desk.decide("priority urgent");
    assert_eq!(d[0]["method"], "PUT");
    assert_eq!(body(&d[0]), json!({"ticket": {"priority": "urgent"}}));

    let d = desk.decide("assign ana");
    assert_eq!(
        body(&d[0]),
        json!({"ticket": {"assignee_id": 8447388090495u64}})
    );

    // Zendesk's "Add tags": PUT on the tags endpoint adds, the ticket's
    // other tags stay.
    let d = desk.decide("tag vip");
    assert_eq!(d[0]["method"], "PUT");
    assert_eq!(
        d[0]["url"],
        "https://acme.zendesk.com/api/v2/tickets/5158/tags.json"
    );
    assert_eq!(body(&d[0]), json!({"tags": ["vip"]}));
    zendesk_auth(&d[0]);

    let d = desk.decide("note customer asked for a call back");
    assert_eq!(d[0]["url"], ticket_url);
    assert_eq!(
        body(&d[0]),
        json!({"ticket": {"comment": {
            "body": "Escalier note from vip.rhai:\ncustomer asked for a call back",
            "public": false
        }}})
    );
    assert_no_token(&desk);
}

#[test]
fn zendesk_leaves_other_tools_tickets_and_unmapped_agents_alone() {
    let (h, _) = zendesk();
    for other in ["jira:SUP-12", "zammad:10081", "T-1"] {
        let mut desk = Desk::new(h.set(), other, json!({}));
        for what in ["escalate 2 r", "tag vip", "note hello", "priority high"] {
            assert!(desk.decide(what).is_empty(), "{other}: {what}");
        }
    }
    let (_h, mut desk) = zendesk();
    assert!(desk.decide("assign nobody").is_empty());
}

#[test]
fn zendesk_site_may_be_a_loopback_stand_in_when_the_operator_allows_it() {
    let site = "http://127.0.0.1:18089";
    let h = host_for(
        "zendesk-writeback",
        "zendesk_api_token",
        site,
        ZD_CONFIG,
        AddressPolicy {
            allow_private: vec!["127.0.0.0/8".parse().unwrap()],
        },
    );
    let mut desk = Desk::new(h.set(), "zendesk:5158", json!({}));
    let d = desk.decide("priority high");
    assert_eq!(
        d[0]["url"],
        "http://127.0.0.1:18089/api/v2/tickets/5158.json"
    );
}

// Jira Service Management

const JIRA_SITE: &str = "https://acme.atlassian.net";
const JIRA_CONFIG: &str = r#"email = "escalier-bot@acme.com"
group_field = "components"
[config.team_groups]
billing = [{ name = "Billing" }]
[config.tier_groups]
"2" = [{ name = "Tier 2" }]
[config.agents]
ana = "5b10ac8d82e05b22cc7d4ef5"
"#;

fn jira() -> (Host, Desk) {
    let h = host_for(
        "jira-writeback",
        "jira_api_token",
        JIRA_SITE,
        JIRA_CONFIG,
        AddressPolicy::default(),
    );
    let desk = Desk::new(h.set(), "jira:SUP-12", json!({}));
    (h, desk)
}

fn jira_auth(d: &Value) {
    assert_eq!(
        d["auth"],
        json!({"scheme": "basic", "secret": "jira_api_token", "username": "escalier-bot@acme.com"})
    );
    assert_headers(d);
}

#[test]
fn jira_escalation_edits_the_group_field_then_comments_internally() {
    let (_h, mut desk) = jira();
    let d = desk.decide("escalate 2 VIP customer waiting 2h");
    assert_eq!(d.len(), 2, "{d:#?}");
    assert_eq!(d[0]["method"], "PUT");
    assert_eq!(
        d[0]["url"],
        "https://acme.atlassian.net/rest/api/3/issue/SUP-12"
    );
    assert_eq!(
        body(&d[0]),
        json!({"fields": {"components": [{"name": "Tier 2"}]}})
    );
    assert_eq!(d[1]["method"], "POST");
    assert_eq!(
        d[1]["url"],
        "https://acme.atlassian.net/rest/servicedeskapi/request/SUP-12/comment"
    );
    assert_eq!(
        body(&d[1]),
        json!({
            "body": "Escalier escalated this ticket to tier 2.\nDecided by: vip.rhai\nWhy: VIP customer waiting 2h",
            "public": false
        })
    );
    jira_auth(&d[0]);
    jira_auth(&d[1]);
    assert_no_token(&desk);
}

#[test]
fn jira_route_priority_assign_label_and_note() {
    let (_h, mut desk) = jira();
    let issue = "https://acme.atlassian.net/rest/api/3/issue/SUP-12";

    let d = desk.decide("route billing refund");
    assert_eq!(
        body(&d[0]),
        json!({"fields": {"components": [{"name": "Billing"}]}})
    );
    assert_eq!(body(&d[1])["public"], false);

    let d = desk.decide("priority urgent");
    assert_eq!(d[0]["url"], issue);
    assert_eq!(
        body(&d[0]),
        json!({"fields": {"priority": {"name": "Highest"}}})
    );

    let d = desk.decide("assign ana");
    assert_eq!(
        body(&d[0]),
        json!({"fields": {"assignee": {"accountId": "5b10ac8d82e05b22cc7d4ef5"}}})
    );

    let d = desk.decide("tag vip");
    assert_eq!(d[0]["method"], "PUT");
    assert_eq!(body(&d[0]), json!({"update": {"labels": [{"add": "vip"}]}}));

    let d = desk.decide("note customer asked for a call back");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["method"], "POST");
    assert_eq!(
        body(&d[0]),
        json!({"body": "Escalier note from vip.rhai:\ncustomer asked for a call back", "public": false})
    );
    jira_auth(&d[0]);
}

#[test]
fn jira_leaves_other_tools_tickets_alone() {
    let (h, _) = jira();
    let mut desk = Desk::new(h.set(), "zendesk:5158", json!({}));
    assert!(desk.decide("escalate 2 r").is_empty());
    assert!(desk.decide("tag vip").is_empty());
}

// Zammad

const ZAMMAD_SITE: &str = "https://support.acme.com";
const ZAMMAD_CONFIG: &str = r#"[config.team_groups]
billing = "Billing"
[config.tier_groups]
"2" = "2nd Level"
[config.agents]
ana = 5
"#;

fn zammad() -> (Host, Desk) {
    let h = host_for(
        "zammad-writeback",
        "zammad_api_token",
        ZAMMAD_SITE,
        ZAMMAD_CONFIG,
        AddressPolicy::default(),
    );
    // The zammad adapter keeps Zammad's ticket id beside the number.
    let desk = Desk::new(
        h.set(),
        "zammad:10081",
        json!({"zammad_number": "10081", "zammad_id": 81}),
    );
    (h, desk)
}

fn zammad_auth(d: &Value) {
    assert_eq!(
        d["auth"],
        json!({"scheme": "token", "secret": "zammad_api_token"})
    );
    assert_headers(d);
}

#[test]
fn zammad_escalation_sets_the_group_then_adds_an_internal_note() {
    let (_h, mut desk) = zammad();
    let d = desk.decide("escalate 2 VIP customer waiting 2h");
    assert_eq!(d.len(), 2, "{d:#?}");
    assert_eq!(d[0]["method"], "PUT");
    assert_eq!(d[0]["url"], "https://support.acme.com/api/v1/tickets/81");
    assert_eq!(body(&d[0]), json!({"group": "2nd Level"}));
    assert_eq!(d[1]["method"], "POST");
    assert_eq!(
        d[1]["url"],
        "https://support.acme.com/api/v1/ticket_articles"
    );
    assert_eq!(
        body(&d[1]),
        json!({
            "ticket_id": 81,
            "subject": "Escalier",
            "body": "Escalier escalated this ticket to tier 2.\nDecided by: vip.rhai\nWhy: VIP customer waiting 2h",
            "content_type": "text/plain",
            "type": "note",
            "internal": true
        })
    );
    zammad_auth(&d[0]);
    zammad_auth(&d[1]);
    assert_no_token(&desk);
}

#[test]
fn zammad_route_priority_owner_tag_and_note() {
    let (_h, mut desk) = zammad();
    let d = desk.decide("route billing refund");
    assert_eq!(body(&d[0]), json!({"group": "Billing"}));

    let d = desk.decide("priority urgent");
    assert_eq!(d[0]["url"], "https://support.acme.com/api/v1/tickets/81");
    assert_eq!(body(&d[0]), json!({"priority": "3 high"}));

    let d = desk.decide("assign ana");
    assert_eq!(body(&d[0]), json!({"owner_id": 5}));

    let d = desk.decide("tag vip");
    assert_eq!(d[0]["method"], "POST");
    assert_eq!(d[0]["url"], "https://support.acme.com/api/v1/tags/add");
    assert_eq!(
        body(&d[0]),
        json!({"item": "vip", "object": "Ticket", "o_id": 81})
    );

    let d = desk.decide("note customer asked for a call back");
    assert_eq!(body(&d[0])["internal"], true);
    assert_eq!(body(&d[0])["type"], "note");
    zammad_auth(&d[0]);
}

#[test]
fn zammad_needs_the_ticket_id_the_adapter_keeps() {
    let (h, _) = zammad();
    let mut desk = Desk::new(h.set(), "zammad:10082", json!({"zammad_number": "10082"}));
    assert!(desk.decide("tag vip").is_empty());
    let mut other = Desk::new(h.set(), "zendesk:5158", json!({"zammad_id": 81}));
    assert!(other.decide("tag vip").is_empty());
}

// As shipped

#[test]
fn the_shipped_write_backs_load_disabled_and_reach_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for p in ["zendesk-writeback", "jira-writeback", "zammad-writeback"] {
        let from = example(p);
        let dest = dir.path().join(p);
        std::fs::create_dir_all(&dest).unwrap();
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dest.join(entry.file_name())).unwrap();
        }
        let text = std::fs::read_to_string(dest.join("plugin.toml")).unwrap();
        assert!(text.contains("\nallowed_hosts = []\n"), "{p}");
        assert!(text.contains("\nenabled = false\n"), "{p}");
    }
    let (_registry, report) = PluginRegistry::open(crate::util::config(dir.path())).unwrap();
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    let mut disabled = report.disabled.clone();
    disabled.sort();
    assert_eq!(
        disabled,
        ["jira-writeback", "zammad-writeback", "zendesk-writeback"]
    );
}
