//! Configuration, resolution, quiet hours, the PagerDuty lifecycle, the
//! renderers' documented shapes, and redaction.

use std::sync::Arc;

use escalier_core::action::Notify;
use escalier_core::event::{NotificationRequested, NotifyKind, Origin, PdAction};
use escalier_core::process::{Limits, process};
use escalier_core::sla::SlaBook;
use escalier_core::timers::Books;
use escalier_core::{
    Action, Event, EventKind, Producer, Reaction, Reactor, Record, Source, Ticket, Timestamp,
};
use serde_json::{Value, json};

use crate::config::{NotifyConfig, TargetKind, TargetStatus};
use crate::reactor::NotifyReactor;
use crate::render;

const SLA: &str = r#"
[calendars.paris-support]
time_zone = "Europe/Paris"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }
"#;

const NOTIFY: &str = r##"
base_url = "http://127.0.0.1:8600"

[email]
host = "127.0.0.1"
port = 2525
tls = "none"
from = "Escalier <escalier@example.com>"

[targets.duty-manager]
kind = "email"
to = ["duty@example.com", "Night Desk <night@example.com>"]
calendar = "paris-support"

[targets."#on-call"]
kind = "slack"
url_secret = "slack_on_call_url"
urgent_priorities = ["urgent", "high"]

[targets.support-leads]
kind = "teams"
url_secret = "teams_support_leads_url"
calendar = "paris-support"

[targets.pager]
kind = "pagerduty"
routing_key_secret = "pagerduty_routing_key"

[targets.audit]
kind = "webhook"
url = "https://hooks.example.com/escalier"
signing_secret = "notify_signing_secret"

[targets.parked]
kind = "slack"
url_secret = "slack_parked_url"
enabled = false
disabled_reason = "the room is being moved"

[teams]
leads = ["support-leads", "duty-manager"]
"##;

fn sla() -> SlaBook {
    SlaBook::from_toml(SLA).unwrap()
}

fn config() -> NotifyConfig {
    NotifyConfig::parse(NOTIFY, &sla()).unwrap()
}

fn err(src: &str) -> String {
    NotifyConfig::parse(src, &sla()).unwrap_err().to_string()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

// ---- configuration ----------------------------------------------------

#[test]
fn the_example_shape_parses() {
    let c = config();
    assert_eq!(c.targets.len(), 6);
    let TargetKind::Email { to } = &c.targets["duty-manager"].kind else {
        panic!()
    };
    assert_eq!(to.len(), 2);
    assert_eq!(
        c.targets["duty-manager"].calendar.as_deref(),
        Some("paris-support")
    );
    assert_eq!(
        c.targets["#on-call"].urgent_priorities,
        [
            escalier_core::Priority::Urgent,
            escalier_core::Priority::High
        ]
    );
    let TargetKind::Pagerduty { url, .. } = &c.targets["pager"].kind else {
        panic!()
    };
    assert_eq!(url.as_str(), crate::config::PAGERDUTY_EVENTS_URL);
    assert_eq!(
        c.ticket_link("ZD#1").as_deref(),
        Some("http://127.0.0.1:8600/tickets/ZD%231")
    );
}

#[test]
fn errors_name_the_file_line_and_column() {
    let e = err("[targets.a]\nkind = \"slack\"\nurl_secrett = \"x\"\n");
    assert!(
        e.starts_with("notify.toml:3:1: unknown_key at `targets.a.url_secrett`"),
        "{e}"
    );
    assert!(e.contains("did you mean `url_secret`?"), "{e}");

    let e = err("[targets.a]\nkind = \"slak\"\nurl_secret = \"x\"\n");
    assert!(e.starts_with("notify.toml:2:8: invalid_value"), "{e}");
    assert!(e.contains("did you mean `slack`?"), "{e}");

    let e = err("[targets.a]\nkind = \"email\"\nto = [\"not an address\"]\n");
    assert!(
        e.starts_with("notify.toml:3:7: invalid_value at `targets.a.to[0]`"),
        "{e}"
    );

    let e = err("[targets.a]\nkind = \"webhook\"\nurl = \"ftp://x\"\nsigning_secret = \"s\"\n");
    assert!(
        e.starts_with("notify.toml:3:7: invalid_value at `targets.a.url`"),
        "{e}"
    );

    let e = err(
        "[targets.a]\nkind = \"email\"\nto = [\"a@example.com\"]\ncalendar = \"paris-suport\"\n",
    );
    assert!(e.starts_with("notify.toml:4:12: unknown_name"), "{e}");
    assert!(e.contains("did you mean `paris-support`?"), "{e}");

    let e = err("[targets.a]\nkind = \"slack\"\nurl_secret = \"x\"\n[teams]\nt = [\"a\", \"b\"]\n");
    assert!(
        e.starts_with("notify.toml:5:11: unknown_name at `teams.t[1]`"),
        "{e}"
    );

    let e = err("[email]\nhost = \"smtp.example.com\"\ntls = \"none\"\nfrom = \"a@example.com\"\n");
    assert!(
        e.starts_with("notify.toml:3:7: invalid_value at `email.tls`"),
        "{e}"
    );
    assert!(e.contains("loopback"), "{e}");

    let e = err("[targets.a]\nkind = \"slack\"\nurl_secret = \"https://hooks.slack.com/x\"\n");
    assert!(e.contains("not a secret name"), "{e}");

    let e = err(
        "[targets.p]\nkind = \"pagerduty\"\nrouting_key_secret = \"k\"\ncalendar = \"paris-support\"\n",
    );
    assert!(e.starts_with("notify.toml:4:12:"), "{e}");

    let e = err("[targets.\"a b\"]\nkind = \"slack\"\nurl_secret = \"x\"\n");
    assert!(e.contains("a name is 1 to 64"), "{e}");

    let e = err("base_url = \"http://127.0.0.1:8600\"\nbase_url = 1\n");
    assert!(e.starts_with("notify.toml:2:1: syntax"), "{e}");
}

#[test]
fn a_target_is_disabled_until_its_secret_is_set() {
    let c = config();
    let none = |_: &str| false;
    let all = |_: &str| true;
    let slack = &c.targets["#on-call"];
    assert_eq!(
        slack.status(&c, &none),
        TargetStatus::Disabled("secret `slack_on_call_url` is not set".into())
    );
    assert_eq!(slack.status(&c, &all), TargetStatus::Enabled);
    assert_eq!(
        c.targets["parked"].status(&c, &all),
        TargetStatus::Disabled("the room is being moved".into())
    );
    // No AUTH configured: an email target needs no secret.
    assert_eq!(
        c.targets["duty-manager"].status(&c, &none),
        TargetStatus::Enabled
    );
    let no_server = NotifyConfig::parse(
        "[targets.a]\nkind = \"email\"\nto = [\"a@example.com\"]\n",
        &sla(),
    )
    .unwrap();
    assert!(matches!(
        no_server.targets["a"].status(&no_server, &all),
        TargetStatus::Disabled(why) if why.contains("[email]")
    ));
}

// ---- the reactor ------------------------------------------------------

fn event(json: Value) -> Event {
    Event::decode_one(&json.to_string(), Origin::Internal).unwrap()
}

fn ticket_created(at: &str, priority: &str) -> Event {
    event(
        json!({"id": "e1", "type": "ticket.created", "ticket_id": "T-1", "occurred_at": at,
        "data": {"subject": "Checkout down", "requester": {"id": "c"}, "channel": "email",
                 "priority": priority, "team": "billing"}}),
    )
}

/// Notifies `channel` on every ticket.created and comment.added, like a policy.
struct Tell(&'static str);

impl Reactor for Tell {
    fn wants(&self, t: &str) -> bool {
        t == "ticket.created" || t == "comment.added"
    }
    fn react(&self, _: &Arc<Ticket>, _: &Arc<Record>, out: &mut Vec<Reaction>) {
        out.push(Reaction {
            producer: Producer::Policy {
                policy: "tell.rhai".into(),
                hash: "sha256:0".into(),
            },
            kind: EventKind::Action(Action::Notify(Notify {
                channel: self.0.into(),
                message: "look".into(),
            })),
        });
    }
}

struct Run {
    ticket: Option<Ticket>,
    seq: u64,
    reactor: NotifyReactor,
    tell: Tell,
}

impl Run {
    fn new(channel: &'static str) -> Run {
        Run {
            ticket: None,
            seq: 0,
            reactor: NotifyReactor::new(Arc::new(config())),
            tell: Tell(channel),
        }
    }

    /// Process one input at `at`; the notifications it asked for.
    fn input(&mut self, ev: Event, at: &str) -> Vec<NotificationRequested> {
        self.seq += 1;
        let rec = Arc::new(Record {
            seq: self.seq,
            index: 0,
            recorded_at: ts(at),
            source: Source::Webhook { delivery: None },
            event: ev,
        });
        let reactors: [&dyn Reactor; 2] = [&self.tell, &self.reactor];
        let out = process(
            self.ticket.take(),
            &rec,
            &reactors,
            &Limits::default(),
            &Books::empty(),
        )
        .unwrap();
        self.ticket = Some(out.ticket);
        out.derived
            .into_iter()
            .filter_map(|r| match r.event.kind {
                EventKind::NotificationRequested(n) => Some(n),
                _ => None,
            })
            .collect()
    }

    fn ticket(&self) -> &Ticket {
        self.ticket.as_ref().unwrap()
    }
}

fn comment(id: &str, at: &str) -> Event {
    event(
        json!({"id": id, "type": "comment.added", "ticket_id": "T-1", "occurred_at": at,
        "data": {"author": {"kind": "customer"}, "body": "still down"}}),
    )
}

fn status(id: &str, at: &str, to: &str) -> Event {
    event(
        json!({"id": id, "type": "status.changed", "ticket_id": "T-1", "occurred_at": at,
        "data": {"status": to}}),
    )
}

#[test]
fn a_target_a_team_and_an_unknown_name_resolve() {
    let at = "2026-03-04T10:00:00Z"; // a Wednesday, 11:00 in Paris: open
    let mut run = Run::new("leads");
    let out = run.input(ticket_created(at, "normal"), at);
    let names: Vec<_> = out.iter().map(|n| (n.target.as_str(), n.kind)).collect();
    assert_eq!(
        names,
        [
            ("support-leads", NotifyKind::Teams),
            ("duty-manager", NotifyKind::Email)
        ]
    );
    assert_eq!(out[0].delivery_id, "ntf:1.1:support-leads");
    assert_eq!(out[1].delivery_id, "ntf:1.1:duty-manager");
    assert_eq!(out[0].channel, "leads");
    assert_eq!(out[0].why.producer, "tell.rhai");
    assert_eq!(out[0].ticket.subject, "Checkout down");
    assert_eq!(out[0].ticket.team.as_deref(), Some("billing"));
    assert!(out.iter().all(|n| n.hold_until.is_none() && !n.urgent));

    let mut run = Run::new("#on-call");
    let out = run.input(ticket_created(at, "high"), at);
    assert_eq!(out.len(), 1);
    assert!(out[0].urgent, "high is urgent for #on-call");

    let mut run = Run::new("duty-manger");
    let out = run.input(ticket_created(at, "normal"), at);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].kind, NotifyKind::None);
    assert_eq!(out[0].target, "duty-manger");
    assert_eq!(out[0].delivery_id, "ntf:1.1:unknown");
}

#[test]
fn quiet_hours_hold_a_friday_evening_notification_until_monday_morning() {
    // Friday 2026-03-06 18:30 in Paris (UTC+1): closed until Monday 09:00.
    let friday = "2026-03-06T17:30:00Z";
    let mut run = Run::new("duty-manager");
    let out = run.input(ticket_created(friday, "normal"), friday);
    assert_eq!(out[0].hold_until, Some(ts("2026-03-09T08:00:00Z")));
    assert!(!out[0].urgent);

    // Urgent goes at once, whatever the hour.
    let mut run = Run::new("duty-manager");
    let out = run.input(ticket_created(friday, "urgent"), friday);
    assert!(out[0].urgent);
    assert_eq!(out[0].hold_until, None);

    // Saturday noon, Sunday night: the same Monday opening.
    let target = &config().targets["duty-manager"];
    for at in ["2026-03-07T11:00:00Z", "2026-03-08T22:59:59Z"] {
        assert_eq!(
            crate::reactor::hold_until(target, ts(at)),
            Some(ts("2026-03-09T08:00:00Z")),
            "{at}"
        );
    }
    // Inside the hours, or on a target without a calendar: no hold.
    assert_eq!(
        crate::reactor::hold_until(target, ts("2026-03-09T08:00:00Z")),
        None
    );
    assert_eq!(
        crate::reactor::hold_until(&config().targets["#on-call"], ts(friday)),
        None
    );
}

#[test]
fn a_pagerduty_incident_is_triggered_acknowledged_resolved_then_new() {
    let at = "2026-03-07T03:00:00Z"; // a Saturday night: PagerDuty has no quiet hours
    let mut run = Run::new("pager");
    let out = run.input(ticket_created(at, "normal"), at);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].pd_action, Some(PdAction::Trigger));
    assert_eq!(out[0].dedup_key.as_deref(), Some("escalier/T-1/1"));
    assert_eq!(out[0].hold_until, None);
    assert_eq!(run.ticket().paged["pager"], "escalier/T-1/1");

    // Another notify while the incident is open joins it.
    let out = run.input(comment("c1", at), at);
    assert_eq!(out[0].dedup_key.as_deref(), Some("escalier/T-1/1"));

    let ack = event(
        json!({"id": "a1", "type": "ladder.acknowledged", "ticket_id": "T-1",
        "occurred_at": at, "data": {"by": "ana", "note": "on it"}}),
    );
    let out = run.input(ack, at);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].pd_action, Some(PdAction::Acknowledge));
    assert_eq!(out[0].dedup_key.as_deref(), Some("escalier/T-1/1"));
    assert_eq!(out[0].delivery_id, "ntf:3.0:pager");
    assert!(out[0].message.contains("ana: on it"), "{}", out[0].message);
    assert_eq!(run.ticket().paged.len(), 1, "acknowledged is still open");

    let out = run.input(status("s1", at, "solved"), at);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].pd_action, Some(PdAction::Resolve));
    assert_eq!(out[0].dedup_key.as_deref(), Some("escalier/T-1/1"));
    assert!(run.ticket().paged.is_empty());
    // A reopen has nothing to resolve.
    assert!(run.input(status("s2", at, "open"), at).is_empty());

    // After the resolve, a new trigger opens a new incident.
    let out = run.input(comment("c2", at), at);
    assert_eq!(out[0].pd_action, Some(PdAction::Trigger));
    assert_eq!(out[0].dedup_key.as_deref(), Some("escalier/T-1/6"));
    assert_eq!(run.ticket().paged["pager"], "escalier/T-1/6");
}

// ---- renderers --------------------------------------------------------

fn requested(kind: NotifyKind, priority: &str) -> NotificationRequested {
    let at = "2026-03-04T10:00:00Z";
    let channel = match kind {
        NotifyKind::Pagerduty => "pager",
        NotifyKind::Slack => "#on-call",
        NotifyKind::Teams => "support-leads",
        NotifyKind::Webhook => "audit",
        _ => "duty-manager",
    };
    let mut run = Run::new(channel);
    run.input(ticket_created(at, priority), at).remove(0)
}

#[test]
fn pagerduty_events_have_the_required_fields() {
    for (priority, severity) in [
        ("urgent", "critical"),
        ("high", "error"),
        ("normal", "warning"),
        ("low", "info"),
    ] {
        let n = requested(NotifyKind::Pagerduty, priority);
        let body = render::pagerduty(&n, "KEY", Some("http://x/v1/tickets/T-1"));
        assert_eq!(body["routing_key"], "KEY");
        assert_eq!(body["event_action"], "trigger");
        assert_eq!(body["dedup_key"], "escalier/T-1/1");
        let p = &body["payload"];
        let summary = p["summary"].as_str().unwrap();
        assert!(!summary.is_empty() && summary.len() <= 1024);
        assert_eq!(p["source"], "escalier");
        assert_eq!(p["severity"], severity);
        assert!(
            ["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap())
        );
        assert_eq!(p["custom_details"]["ticket"], "T-1");
        assert_eq!(body["links"][0]["href"], "http://x/v1/tickets/T-1");
    }
    let mut n = requested(NotifyKind::Pagerduty, "normal");
    n.message = "é".repeat(2000);
    let body = render::pagerduty(&n, "KEY", None);
    assert!(body["payload"]["summary"].as_str().unwrap().len() <= 1024);

    n.pd_action = Some(PdAction::Resolve);
    let body = render::pagerduty(&n, "KEY", None);
    assert_eq!(body["event_action"], "resolve");
    assert_eq!(body["dedup_key"], "escalier/T-1/1");
    assert!(body.get("payload").is_none());
}

#[test]
fn teams_gets_an_adaptive_card_1_4_in_a_message() {
    let n = requested(NotifyKind::Teams, "high");
    let body = render::teams(&n, Some("http://x/v1/tickets/T-1"));
    assert_eq!(body["type"], "message");
    let att = &body["attachments"][0];
    assert_eq!(
        att["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &att["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    let blocks = card["body"].as_array().unwrap();
    assert!(!blocks.is_empty());
    assert!(blocks.iter().all(|b| b["type"].is_string()));
    assert_eq!(blocks[0]["type"], "TextBlock");
    assert_eq!(blocks[0]["text"], "[T-1] Checkout down");
    let facts = blocks[2]["facts"].as_array().unwrap();
    assert!(
        facts
            .iter()
            .any(|f| f["title"] == "Team" && f["value"] == "billing")
    );
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
}

#[test]
fn slack_gets_blocks_and_a_text_fallback() {
    let mut n = requested(NotifyKind::Slack, "normal");
    n.ticket.subject = "<b> & co".into();
    let body = render::slack(&n, Some("http://x/v1/tickets/T-1"));
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("T-1") && text.contains("look"), "{text}");
    let blocks = body["blocks"].as_array().unwrap();
    assert!(blocks.len() >= 3);
    for b in blocks {
        assert!(
            ["section", "context", "actions", "header", "divider"]
                .contains(&b["type"].as_str().unwrap()),
            "{b}"
        );
    }
    let title = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(title.contains("&lt;b&gt; &amp; co"), "{title}");
    assert!(title.contains("<http://x/v1/tickets/T-1|T-1>"), "{title}");
}

#[test]
fn email_has_plain_and_html_with_the_ticket_and_why() {
    let mut n = requested(NotifyKind::Email, "normal");
    n.ticket.subject = "<script>x</script>".into();
    let e = render::email(&n, Some("http://x/v1/tickets/T-1"));
    assert_eq!(e.subject, "[Escalier] [T-1] <script>x</script>");
    for part in [&e.text, &e.html] {
        assert!(part.contains("T-1") && part.contains("billing") && part.contains("tell.rhai"));
        assert!(part.contains("http://x/v1/tickets/T-1"));
    }
    assert!(e.text.contains("Tier: 1"), "{}", e.text);
    assert!(e.html.contains("&lt;script&gt;") && !e.html.contains("<script>"));
}

#[test]
fn the_generic_webhook_body_names_the_notification() {
    let n = requested(NotifyKind::Webhook, "normal");
    let body = render::webhook(&n, None);
    assert_eq!(body["type"], "escalier.notification");
    assert_eq!(body["delivery_id"], "ntf:1.1:audit");
    assert_eq!(body["ticket"]["id"], "T-1");
}

// ---- the notifier -----------------------------------------------------

mod notifier {
    use std::collections::HashMap;

    use escalier_core::ManualClock;
    use escalier_outbox::DeliveryOutcome;
    use escalier_outbox::http::{AddressPolicy, Client, ClientConfig};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::notifier::Notifier;

    fn notifier(cfg: NotifyConfig, secrets: HashMap<&'static str, String>) -> Notifier {
        let cfg = Arc::new(cfg);
        let http = Client::new(ClientConfig {
            address_policy: AddressPolicy {
                allow_private: vec!["127.0.0.0/8".parse().unwrap()],
            },
            ..ClientConfig::default()
        })
        .unwrap();
        Notifier::new(
            Arc::new(move || cfg.clone()),
            Arc::new(move |name: &str| secrets.get(name).cloned()),
            Arc::new(http),
            Arc::new(ManualClock::new(ts("2026-03-04T10:00:00Z"))),
        )
    }

    /// Answers one request with `status` and a body echoing the request's.
    async fn echo_once(status: u16) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = s.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len || n == 0 {
                        break;
                    }
                }
            }
            let req = String::from_utf8_lossy(&buf).into_owned();
            let body = req.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
            let answer = format!(
                "{{\"status\":\"invalid event\",\"message\":\"Event object is invalid\",\"errors\":[\"bad: {body}\"]}}"
            );
            let resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            s.write_all(resp.as_bytes()).await.unwrap();
            req
        });
        (format!("http://{addr}"), task)
    }

    #[tokio::test]
    async fn a_receivers_error_body_is_redacted_of_the_routing_key() {
        let (url, task) = echo_once(400).await;
        let cfg = NotifyConfig::parse(
            &format!(
                "[targets.pager]\nkind = \"pagerduty\"\nrouting_key_secret = \"pd_key\"\nurl = \"{url}/v2/enqueue\"\n"
            ),
            &sla(),
        )
        .unwrap();
        let key = "R0UTINGKEY0123456789abcdef0123456".to_owned();
        let n = requested(NotifyKind::Pagerduty, "urgent");
        let out = notifier(cfg, HashMap::from([("pd_key", key.clone())]))
            .send(&n)
            .await;
        let req = task.await.unwrap();
        assert!(req.starts_with("POST /v2/enqueue "), "{req}");
        let sent: Value = serde_json::from_str(req.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(sent["routing_key"], key.as_str(), "the key is sent");
        assert_eq!(sent["payload"]["severity"], "critical");
        let DeliveryOutcome::Failed {
            reason,
            status,
            body,
        } = out
        else {
            panic!("{out:?}")
        };
        assert_eq!(status, Some(400));
        let body = body.unwrap();
        assert!(body.contains("invalid event"), "{body}");
        assert!(
            !body.contains(&key) && !reason.contains(&key),
            "{reason} {body}"
        );
        assert!(body.contains(crate::redact::REDACTED), "{body}");
    }

    #[tokio::test]
    async fn a_webhook_url_secret_never_shows_in_a_connection_error() {
        // Nothing listens on port 9 of loopback: the attempt fails to connect.
        let cfg = NotifyConfig::parse(
            "[targets.room]\nkind = \"slack\"\nurl_secret = \"room_url\"\n",
            &sla(),
        )
        .unwrap();
        let secret = "http://127.0.0.1:9/services/T0000/B0000/XXXXTOKENXXXX".to_owned();
        let mut n = requested(NotifyKind::Slack, "urgent");
        n.target = "room".into();
        let out = notifier(cfg, HashMap::from([("room_url", secret)]))
            .send(&n)
            .await;
        let text = format!("{out:?}");
        assert!(!text.contains("XXXXTOKENXXXX"), "{text}");
        assert!(!matches!(out, DeliveryOutcome::Delivered { .. }), "{text}");
    }

    #[tokio::test]
    async fn disabled_and_unknown_targets_fail_with_the_reason() {
        let n = requested(NotifyKind::Slack, "urgent");
        let out = notifier(config(), HashMap::new()).send(&n).await;
        assert_eq!(
            out,
            DeliveryOutcome::failed(
                "target `#on-call` is disabled: secret `slack_on_call_url` is not set"
            )
        );
        let mut n = n;
        n.kind = NotifyKind::None;
        n.target = "duty-manger".into();
        let out = notifier(config(), HashMap::new()).send(&n).await;
        assert_eq!(
            out,
            DeliveryOutcome::failed(
                "no notify target or team named `duty-manger` in policies/notify.toml"
            )
        );
    }

    #[tokio::test]
    async fn a_signed_webhook_verifies_with_the_signing_secret() {
        let (url, task) = echo_once(204).await;
        let cfg = NotifyConfig::parse(
            &format!(
                "[targets.audit]\nkind = \"webhook\"\nurl = \"{url}/hook\"\nsigning_secret = \"sign\"\n"
            ),
            &sla(),
        )
        .unwrap();
        let secret = escalier_webhook::Secret::generate([7; 32]);
        let n = requested(NotifyKind::Webhook, "normal");
        let out = notifier(cfg, HashMap::from([("sign", secret.clone())]))
            .send(&n)
            .await;
        assert_eq!(out, DeliveryOutcome::Delivered { status: 204 });
        let req = task.await.unwrap();
        let (head, body) = req.split_once("\r\n\r\n").unwrap();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
                .unwrap()
        };
        assert_eq!(header("webhook-id"), "ntf:1.1:audit");
        let ts: i64 = header("webhook-timestamp").parse().unwrap();
        let key = escalier_webhook::Secret::parse(&secret).unwrap();
        assert_eq!(
            header("webhook-signature"),
            key.sign("ntf:1.1:audit", ts, body.as_bytes())
        );
    }
}
