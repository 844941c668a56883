//! Notifications end to end (`policies/notify.toml`): a policy or ladder
//! level notifies a target; the real binary delivers it through the outbox
//! to stand-ins on loopback — an SMTP server, Slack and Teams webhooks,
//! PagerDuty's Events API v2 — whose requests are checked against the
//! vendors' documented schemas, and which answer like the services do
//! (PagerDuty's `429` and `400 invalid event`, a receiver that is down for
//! a while). Time moves only on the simulated clock; the tests wait on
//! the deliveries' state, never on time.

use std::time::Duration;

use serde_json::{Value, json};

use crate::standins::schema::assert_valid;
use crate::standins::smtp::SmtpStandIn;
use crate::standins::{Reply, StandIn, metric};
use crate::util::*;

/// Monday 2026-03-09 10:00 in Paris (CET, UTC+1).
const MONDAY_10: &str = "2026-03-09T09:00:00Z";

const PD_ROUTING_KEY: &str = "R0UT1NGKEY0f3c9a7b21d4e5f60718293";
const SMTP_PASSWORD: &str = "smtp-pa55word-for-tests-7Yq";
const SLACK_TOKEN: &str = "xoxb-T0TESTS/B0TESTS/slackToken4c1b";
const TEAMS_TOKEN: &str = "teamsSig-9d8e7f6a5b4c3d2e1f0";

/// The Paris desk calendar (9–17 on weekdays) used for quiet hours.
const SLA: &str = r#"
[calendars.desk]
time_zone = "Europe/Paris"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }
"#;

/// `escalier.toml` letting deliveries reach loopback stand-ins.
fn loopback_config(dir: &std::path::Path) -> String {
    let path = dir.join("escalier.toml");
    std::fs::write(&path, "[plugins]\nallow_private = [\"127.0.0.0/8\"]\n").unwrap();
    path.to_str().unwrap().to_owned()
}

/// A server on the simulated clock with these policy files and the test
/// secrets set. Returns the server and the directory of its config.
fn server(files: &[(&str, &str)], at: &str) -> (Server, tempfile::TempDir) {
    let conf = tempfile::tempdir().unwrap();
    let config = loopback_config(conf.path());
    let mut s = Server::start_with(files, &["--config", &config, "--simulated-clock", at]);
    set_secrets(&mut s, &[]);
    (s, conf)
}

/// The test secrets, and `extra`, for the next (re)start.
fn set_secrets(s: &mut Server, extra: &[(&str, &str)]) {
    let mut env = vec![
        ("ESCALIER_SECRET_PAGERDUTY_ROUTING_KEY", PD_ROUTING_KEY),
        ("ESCALIER_SECRET_SMTP_PASSWORD", SMTP_PASSWORD),
        (
            "ESCALIER_SECRET_NOTIFY_SIGNING_SECRET",
            NOTIFY_SIGNING_SECRET,
        ),
    ];
    env.extend_from_slice(extra);
    s.set_env(&env);
}

const NOTIFY_SIGNING_SECRET: &str = "whsec_c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4";

fn slack_url(rx: &StandIn) -> String {
    format!("{}/services/{SLACK_TOKEN}", rx.url)
}

fn teams_url(rx: &StandIn) -> String {
    format!(
        "{}/workflows/a1b2c3/triggers/manual/paths/invoke?api-version=1&sig={TEAMS_TOKEN}",
        rx.url
    )
}

fn created_at(event_id: &str, ticket: &str, at: &str, priority: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{event_id}","type":"ticket.created","ticket_id":"{ticket}","occurred_at":"{at}",
            "data":{{"subject":"Export to CSV does nothing","requester":{{"id":"c1"}},"channel":"email","priority":"{priority}"{extra}}}}}"#
    )
}

/// Rows of `GET /v1/deliveries` with the given query.
fn deliveries(s: &Server, query: &str) -> Vec<Value> {
    let r = s.get(&format!("/v1/deliveries?{query}"));
    assert_eq!(r.status, 200, "GET /v1/deliveries?{query}: {}", r.body);
    r.body["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("no deliveries list: {}", r.body))
        .clone()
}

/// The delivery row of `target` on `ticket`, if listed.
fn delivery_of(s: &Server, ticket: &str, target: &str) -> Option<Value> {
    deliveries(s, &format!("ticket={}", encode(ticket)))
        .into_iter()
        .find(|d| d["target"] == target)
}

/// Wait until the delivery to `target` on `ticket` is in `state`; on
/// timeout, say what the deliveries of the ticket were.
fn wait_state(s: &Server, ticket: &str, target: &str, state: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        if let Some(d) = delivery_of(s, ticket, target).filter(|d| d["state"] == state) {
            return d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for the delivery to {target} on {ticket} to be {state}: {:#?}\ntimeline: {:?}",
            deliveries(s, &format!("ticket={}", encode(ticket))),
            timeline_types(&s.ticket(ticket, s.committed()))
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Records of a type on a ticket for one target.
fn records_for(s: &Server, ticket: &str, type_name: &str, target: &str) -> Vec<Value> {
    s.records_of(ticket, type_name)
        .into_iter()
        .filter(|r| r["event"]["data"]["target"] == target)
        .collect()
}

/// Nothing secret anywhere the server shows or keeps in the clear: the
/// ticket and its timeline, the deliveries list, the targets, and its log.
fn assert_no_secret(s: &Server, ticket: &str, secrets: &[&str]) {
    let shown = [
        s.get_text(&format!("/v1/tickets/{}", encode(ticket))),
        s.get_text("/v1/deliveries"),
        s.get_text("/v1/notify/targets"),
        s.log(),
    ];
    for secret in secrets {
        for (what, text) in ["ticket", "deliveries", "notify targets", "log"]
            .iter()
            .zip(&shown)
        {
            assert!(
                !text.contains(secret),
                "the secret {secret:?} shows in the {what}"
            );
        }
    }
}

#[test]
fn an_email_reaches_the_smtp_server_with_the_ticket_the_why_and_a_link() {
    let smtp = SmtpStandIn::start(Some(("escalier@example.com", SMTP_PASSWORD)));
    let notify = format!(
        r#"
base_url = "https://escalier.example.com"

[email]
host = "127.0.0.1"
port = {port}
tls = "none"
username = "escalier@example.com"
password_secret = "smtp_password"
from = "Escalier <escalier@example.com>"

[targets.duty-manager]
kind = "email"
to = ["duty@example.com", "lead@example.com"]
"#,
        port = smtp.port
    );
    let policy = "const ON = [\"ticket.created\"];\nroute(\"billing\", \"invoice question\");\nescalate(2, \"VIP customer\");\nnotify(\"duty-manager\", \"VIP ticket waiting\");\n";
    let (mut s, _conf) = server(&[("notify.toml", &notify), ("vip.rhai", policy)], MONDAY_10);
    s.set_log_level("debug");
    s.restart();
    s.ingest(&created_at("e1", "T-1", MONDAY_10, "high", ""));

    let d = wait_state(&s, "T-1", "duty-manager", "delivered");
    assert_eq!(d["kind"], "email", "{d}");
    let got = smtp.received();
    assert_eq!(got.len(), 1, "one message for the two recipients");
    let m = &got[0];
    assert_eq!(
        m.authenticated_as.as_deref(),
        Some("escalier@example.com"),
        "AUTH with the password from the secret"
    );
    assert_eq!(m.from(), "escalier@example.com");
    let mut to = m.to();
    to.sort();
    assert_eq!(to, ["duty@example.com", "lead@example.com"]);
    let subject = m.subject();
    assert!(subject.contains("T-1"), "{subject}");
    let text = m.text().expect("a text/plain part");
    assert!(m.has_html_part(), "a text/html part too");
    let html = m.html().unwrap();
    for body in [&text, &html] {
        for needle in [
            "T-1",
            "Export to CSV does nothing",
            "billing",
            "VIP ticket waiting",
            "vip.rhai",
            "https://escalier.example.com/",
        ] {
            assert!(body.contains(needle), "{needle:?} missing from:\n{body}");
        }
        assert!(body.contains('2'), "the tier: {body}");
    }
    assert!(
        html.contains("href=\"https://escalier.example.com/"),
        "{html}"
    );

    let requested = records_for(&s, "T-1", "notification.requested", "duty-manager");
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0]["event"]["data"]["kind"], "email");
    let delivered = records_for(&s, "T-1", "delivery.delivered", "duty-manager");
    assert_eq!(delivered.len(), 1, "delivered shows on the timeline");
    assert_eq!(delivered[0]["event"]["data"]["attempts"], 1);
    assert_no_secret(&s, "T-1", &[SMTP_PASSWORD]);
}

#[test]
fn slack_and_teams_get_bodies_their_schemas_accept_through_a_team() {
    let rx = StandIn::start(Reply::status(200));
    let notify = r#"
base_url = "https://escalier.example.com"

[targets.on-call-room]
kind = "slack"
url_secret = "slack_on_call_url"

[targets.support-leads]
kind = "teams"
url_secret = "teams_support_leads_url"

[teams]
leads = ["on-call-room", "support-leads"]
"#;
    let policy =
        "const ON = [\"ticket.created\"];\nnotify(\"leads\", `new ticket ${ticket.id}`);\n";
    let (mut s, _conf) = server(
        &[("notify.toml", notify), ("leads.rhai", policy)],
        MONDAY_10,
    );
    let (slack, teams) = (slack_url(&rx), teams_url(&rx));
    set_secrets(
        &mut s,
        &[
            ("ESCALIER_SECRET_SLACK_ON_CALL_URL", &slack),
            ("ESCALIER_SECRET_TEAMS_SUPPORT_LEADS_URL", &teams),
        ],
    );
    s.set_log_level("debug");
    s.restart();
    s.ingest(&created_at("e1", "T-7", MONDAY_10, "normal", ""));

    wait_state(&s, "T-7", "on-call-room", "delivered");
    wait_state(&s, "T-7", "support-leads", "delivered");
    let got = rx.received();
    assert_eq!(got.len(), 2, "{got:?}");
    let slack = got
        .iter()
        .find(|r| r.path.starts_with("/services/"))
        .expect("the Slack webhook was posted");
    assert_eq!(slack.method, "POST");
    assert_eq!(slack.path, format!("/services/{SLACK_TOKEN}"));
    assert!(
        slack
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{slack:?}"
    );
    let body = slack.json();
    assert_valid("slack-incoming-webhook", &body);
    assert!(body["text"].as_str().unwrap().contains("T-7"), "{body}");
    assert!(body.to_string().contains("new ticket T-7"), "{body}");
    assert!(
        body.to_string().contains("https://escalier.example.com/"),
        "a link to the ticket: {body}"
    );

    let teams = got
        .iter()
        .find(|r| r.path.starts_with("/workflows/"))
        .expect("the Teams workflow was posted");
    assert_eq!(teams.method, "POST");
    assert!(
        teams.path.ends_with(&format!("sig={TEAMS_TOKEN}")),
        "{}",
        teams.path
    );
    let body = teams.json();
    assert_valid("teams-workflow-adaptive-card", &body);
    assert!(body.to_string().contains("new ticket T-7"), "{body}");

    // Both through the team name; each its own delivery with its own state.
    let requested = s.records_of("T-7", "notification.requested");
    assert_eq!(requested.len(), 2, "{requested:?}");
    assert!(
        requested
            .iter()
            .all(|r| r["event"]["data"]["channel"] == "leads")
    );
    assert_no_secret(&s, "T-7", &[SLACK_TOKEN, TEAMS_TOKEN]);
}

/// notify.toml with one PagerDuty target pointing at `rx`.
fn pagerduty_notify(rx: &StandIn) -> String {
    format!(
        r#"
base_url = "https://escalier.example.com"

[targets.pager]
kind = "pagerduty"
routing_key_secret = "pagerduty_routing_key"
url = "{}/v2/enqueue"
"#,
        rx.url
    )
}

const PAGE_ON_CREATE: &str =
    "const ON = [\"ticket.created\"];\nnotify(\"pager\", `page for ${ticket.id}`);\n";

fn pd_accepted(dedup: &str) -> Reply {
    Reply::json(
        202,
        json!({"status": "success", "message": "Event processed", "dedup_key": dedup}),
    )
}

#[test]
fn pagerduty_429_is_retried_after_retry_after_then_delivered() {
    let rx = StandIn::start(pd_accepted("x"));
    rx.script(
        Some("POST"),
        "/v2/enqueue",
        1,
        Reply::json(429, json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly. Please retry later."}))
            .header("retry-after", "120"),
    );
    let (mut s, _conf) = server(
        &[
            ("notify.toml", &pagerduty_notify(&rx)),
            ("page.rhai", PAGE_ON_CREATE),
        ],
        MONDAY_10,
    );
    s.set_log_level("debug");
    s.restart();
    s.ingest(&created_at("e1", "T-1", MONDAY_10, "urgent", ""));

    let d = wait_state(&s, "T-1", "pager", "retrying");
    assert_eq!(d["attempts"], 1, "{d}");
    assert_eq!(d["status"], 429, "{d}");
    assert_eq!(
        d["next_at"], "2026-03-09T09:02:00Z",
        "Retry-After: 120 honoured (longer than the first backoff): {d}"
    );
    let listed = deliveries(&s, "state=retrying");
    assert!(
        listed.iter().any(|x| x["delivery_id"] == d["delivery_id"]),
        "{listed:?}"
    );
    let retrying = records_for(&s, "T-1", "delivery.retrying", "pager");
    assert_eq!(retrying.len(), 1, "retrying shows on the timeline");
    assert_eq!(retrying[0]["event"]["data"]["attempt"], 1);
    assert_eq!(retrying[0]["event"]["data"]["status"], 429);
    assert_eq!(
        retrying[0]["event"]["data"]["next_at"],
        "2026-03-09T09:02:00Z"
    );

    s.clock(r#"{"set": "2026-03-09T09:02:00Z"}"#);
    let d = wait_state(&s, "T-1", "pager", "delivered");
    assert_eq!(d["attempts"], 2, "{d}");
    let got = rx.received();
    assert_eq!(got.len(), 2, "{got:?}");
    for r in &got {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/v2/enqueue")
        );
        assert_valid("pagerduty-events-v2", &r.json());
    }
    assert_eq!(got[0].body, got[1].body, "the same event sent again");
    let event = got[1].json();
    assert_eq!(event["routing_key"], PD_ROUTING_KEY, "from the secret");
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(
        event["payload"]["severity"], "critical",
        "urgent → critical"
    );
    assert!(
        event["payload"]["summary"]
            .as_str()
            .unwrap()
            .contains("T-1"),
        "{event}"
    );
    let dedup = event["dedup_key"].as_str().unwrap();
    assert!(dedup.starts_with("escalier/T-1/"), "{dedup}");
    let delivered = records_for(&s, "T-1", "delivery.delivered", "pager");
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["event"]["data"]["attempts"], 2);
    assert_eq!(delivered[0]["event"]["data"]["status"], 202);
    assert!(deliveries(&s, "state=retrying").is_empty());
    for (outcome, n) in [("retry", 1.0), ("delivered", 1.0)] {
        assert_eq!(
            metric(
                &s,
                "escalier_deliveries_total",
                &[("by", "notify:pager"), ("outcome", outcome)]
            ),
            Some(n),
            "{outcome} counted per target"
        );
    }
    assert_no_secret(&s, "T-1", &[PD_ROUTING_KEY]);
}

#[test]
fn pagerduty_400_invalid_event_fails_at_once_with_the_body_and_is_not_retried() {
    let rx = StandIn::start(pd_accepted("x"));
    let invalid = json!({
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"]
    });
    rx.script(Some("POST"), "/v2/enqueue", 1, Reply::json(400, invalid));
    let (mut s, _conf) = server(
        &[
            ("notify.toml", &pagerduty_notify(&rx)),
            ("page.rhai", PAGE_ON_CREATE),
        ],
        MONDAY_10,
    );
    s.restart();
    s.ingest(&created_at("e1", "T-1", MONDAY_10, "high", ""));

    let d = wait_state(&s, "T-1", "pager", "failed");
    assert_eq!(d["attempts"], 1, "{d}");
    assert_eq!(d["status"], 400, "{d}");
    let failed = records_for(&s, "T-1", "delivery.failed", "pager");
    assert_eq!(failed.len(), 1, "failed shows on the timeline");
    let data = &failed[0]["event"]["data"];
    assert_eq!(data["status"], 400, "{data}");
    assert_eq!(data["attempts"], 1, "{data}");
    assert!(
        data["response"]
            .as_str()
            .unwrap_or("")
            .contains("invalid event"),
        "the receiver's error body is recorded: {data}"
    );
    assert!(
        deliveries(&s, "state=failed")
            .iter()
            .any(|x| x["delivery_id"] == d["delivery_id"])
    );

    // Hours pass and another ticket pages: only that one is sent. Had the
    // failed one been scheduled again it would be due long before.
    s.clock(r#"{"advance": "6h"}"#);
    s.ingest(&created_at("e2", "T-2", "2026-03-09T15:00:00Z", "high", ""));
    wait_state(&s, "T-2", "pager", "delivered");
    let got = rx.received();
    assert_eq!(got.len(), 2, "the 400 was not retried: {got:?}");
    assert!(got[1].text().contains("T-2"));
    assert_eq!(delivery_of(&s, "T-1", "pager").unwrap()["state"], "failed");
}

#[test]
fn a_receiver_down_for_a_while_gets_the_notification_once_it_is_back() {
    let mut rx = StandIn::start(pd_accepted("x"));
    let (mut s, _conf) = server(
        &[
            ("notify.toml", &pagerduty_notify(&rx)),
            ("page.rhai", PAGE_ON_CREATE),
        ],
        MONDAY_10,
    );
    s.restart();
    rx.down();
    s.ingest(&created_at("e1", "T-1", MONDAY_10, "urgent", ""));

    // Refused connection: retried on the backoff schedule.
    let d = wait_state(&s, "T-1", "pager", "retrying");
    assert_eq!(d["attempts"], 1, "{d}");
    let first_next = d["next_at"].as_str().unwrap().to_owned();
    // Still down at the next attempt: retried again, later.
    s.clock(&format!(r#"{{"set": "{first_next}"}}"#));
    let mut d = d;
    wait_until("the second attempt", Duration::from_secs(30), || {
        d = delivery_of(&s, "T-1", "pager").unwrap();
        d["attempts"] == 2
    });
    assert_eq!(d["state"], "retrying", "{d}");
    let second_next = d["next_at"].as_str().unwrap().to_owned();
    assert!(
        second_next > first_next,
        "backoff grows: {first_next} then {second_next}"
    );
    assert_eq!(
        records_for(&s, "T-1", "delivery.retrying", "pager").len(),
        2
    );
    assert!(rx.received().is_empty());

    rx.up();
    s.clock(&format!(r#"{{"set": "{second_next}"}}"#));
    let d = wait_state(&s, "T-1", "pager", "delivered");
    assert_eq!(d["attempts"], 3, "{d}");
    assert_eq!(rx.received().len(), 1, "delivered once it is back");
    assert_valid("pagerduty-events-v2", &rx.received()[0].json());
}

#[test]
fn quiet_hours_hold_a_normal_notification_over_the_weekend_and_let_an_urgent_one_through() {
    let rx = StandIn::start(Reply::status(200));
    let notify = r#"
base_url = "https://escalier.example.com"

[targets.room]
kind = "slack"
url_secret = "slack_on_call_url"
calendar = "desk"
"#;
    let policy = "const ON = [\"ticket.created\"];\nnotify(\"room\", `new ticket ${ticket.id}`);\n";
    // Friday 2026-03-06 17:30 in Paris: the desk is closed until Monday 09:00.
    let friday_1730 = "2026-03-06T16:30:00Z";
    let (mut s, _conf) = server(
        &[
            ("sla.toml", SLA),
            ("notify.toml", notify),
            ("room.rhai", policy),
        ],
        friday_1730,
    );
    let slack = slack_url(&rx);
    set_secrets(&mut s, &[("ESCALIER_SECRET_SLACK_ON_CALL_URL", &slack)]);
    s.restart();

    let seq = s.ingest(&created_at("e1", "T-1", friday_1730, "normal", ""));
    s.ticket("T-1", seq);
    let held = wait_state(&s, "T-1", "room", "held");
    assert_eq!(
        held["next_at"], "2026-03-09T08:00:00Z",
        "Monday 09:00 Paris: {held}"
    );
    let requested = records_for(&s, "T-1", "notification.requested", "room");
    assert_eq!(
        requested[0]["event"]["data"]["hold_until"],
        "2026-03-09T08:00:00Z"
    );
    assert_eq!(requested[0]["event"]["data"]["urgent"], false);
    assert!(
        deliveries(&s, "state=held")
            .iter()
            .any(|d| d["ticket_id"] == "T-1"),
        "listed as held"
    );

    // Urgent goes at once, on the same closed Friday evening.
    s.ingest(&created_at("e2", "T-2", friday_1730, "urgent", ""));
    wait_state(&s, "T-2", "room", "delivered");
    let got = rx.received();
    assert_eq!(got.len(), 1, "only the urgent one: {got:?}");
    assert!(got[0].text().contains("T-2"));

    // The weekend passes (a restart on Saturday included): still held.
    s.clock(r#"{"set": "2026-03-07T12:00:00Z"}"#);
    s.restart();
    s.clock(r#"{"set": "2026-03-09T07:59:59Z"}"#);
    assert_eq!(delivery_of(&s, "T-1", "room").unwrap()["state"], "held");

    // Monday 09:00 Paris: sent.
    s.clock(r#"{"set": "2026-03-09T08:00:00Z"}"#);
    let d = wait_state(&s, "T-1", "room", "delivered");
    assert_eq!(d["attempts"], 1, "{d}");
    let got = rx.received();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[1].text().contains("T-1"));
    assert_valid("slack-incoming-webhook", &got[1].json());
}

#[test]
fn a_ladder_pages_pagerduty_the_ack_acknowledges_and_solving_resolves_the_same_incident() {
    let rx = StandIn::start(pd_accepted("x"));
    let ladders = r#"
[ladders.major-incident]
[[ladders.major-incident.level]]
notify = ["pager", "room"]
after = "15m"
[[ladders.major-incident.level]]
notify = "pager"
tier = 2
after = "15m"
"#;
    let notify = format!(
        r#"{}
[targets.room]
kind = "slack"
url_secret = "slack_on_call_url"
"#,
        pagerduty_notify(&rx)
    );
    let policy = "const ON = [\"ticket.created\"];\nif ticket.priority == \"urgent\" { start_ladder(\"major-incident\", \"urgent ticket\"); }\n";
    let (mut s, _conf) = server(
        &[
            ("ladders.toml", ladders),
            ("notify.toml", &notify),
            ("ladder.rhai", policy),
        ],
        MONDAY_10,
    );
    let slack = slack_url(&rx);
    set_secrets(&mut s, &[("ESCALIER_SECRET_SLACK_ON_CALL_URL", &slack)]);
    s.set_log_level("debug");
    s.restart();
    s.ingest(&created_at("e1", "T-1", MONDAY_10, "urgent", ""));

    // Level 1 names two targets: both told.
    wait_state(&s, "T-1", "room", "delivered");
    wait_state(&s, "T-1", "pager", "delivered");
    let pages = |rx: &StandIn| -> Vec<Value> {
        rx.received()
            .iter()
            .filter(|r| r.path == "/v2/enqueue")
            .map(|r| r.json())
            .collect()
    };
    let first = pages(&rx);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_valid("pagerduty-events-v2", &first[0]);
    assert_eq!(first[0]["event_action"], "trigger");
    let dedup = first[0]["dedup_key"].as_str().unwrap().to_owned();
    assert!(dedup.starts_with("escalier/T-1/"), "{dedup}");

    let r = s.post_json(
        "/v1/tickets/T-1/ack",
        Some(TOKEN),
        r#"{"by": "lead-sam", "note": "on it"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    wait_until("the acknowledge event", Duration::from_secs(30), || {
        pages(&rx).len() == 2
    });
    let ack = &pages(&rx)[1];
    assert_valid("pagerduty-events-v2", ack);
    assert_eq!(ack["event_action"], "acknowledge");
    assert_eq!(ack["dedup_key"], dedup.as_str(), "the same incident");
    assert_eq!(ack["routing_key"], PD_ROUTING_KEY);

    // The ladder stopped: no level 2 page.
    s.clock(r#"{"advance": "1h"}"#);
    let seq = s.ingest(&status("e2", "T-1", "solved"));
    s.ticket("T-1", seq);
    wait_until("the resolve event", Duration::from_secs(30), || {
        pages(&rx).len() >= 3
    });
    let all = pages(&rx);
    assert_eq!(all.len(), 3, "trigger, acknowledge, resolve only: {all:?}");
    let resolve = &all[2];
    assert_valid("pagerduty-events-v2", resolve);
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], dedup.as_str(), "the same incident");
    let pd_requests: Vec<_> = records_for(&s, "T-1", "notification.requested", "pager")
        .iter()
        .map(|r| {
            r["event"]["data"]["pd_action"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(pd_requests, ["trigger", "acknowledge", "resolve"]);
    assert_no_secret(&s, "T-1", &[PD_ROUTING_KEY, SLACK_TOKEN]);
}

#[test]
fn a_generic_webhook_is_signed_and_unknown_or_unconfigured_targets_fail_saying_why() {
    let rx = StandIn::start(Reply::status(204));
    let notify = format!(
        r#"
base_url = "https://escalier.example.com"

[targets.audit]
kind = "webhook"
url = "{}/escalier"
signing_secret = "notify_signing_secret"

[targets.pager]
kind = "pagerduty"
routing_key_secret = "pagerduty_routing_key"
url = "{}/v2/enqueue"
"#,
        rx.url, rx.url
    );
    let policy = "const ON = [\"ticket.created\"];\nnotify(\"audit\", \"audit trail\");\nnotify(\"nobody\", \"to no one\");\nnotify(\"pager\", \"page\");\n";
    let (mut s, _conf) = server(
        &[("notify.toml", &notify), ("audit.rhai", policy)],
        MONDAY_10,
    );
    // The routing key is not set: the PagerDuty target is disabled.
    s.set_env(&[(
        "ESCALIER_SECRET_NOTIFY_SIGNING_SECRET",
        NOTIFY_SIGNING_SECRET,
    )]);
    s.restart();
    s.ingest(&created_at("e1", "T-1", MONDAY_10, "normal", ""));

    let d = wait_state(&s, "T-1", "audit", "delivered");
    assert_eq!(d["kind"], "webhook");
    let got = rx.received();
    assert_eq!(got.len(), 1, "only the audit webhook was sent: {got:?}");
    let hook = &got[0];
    assert_eq!(
        (hook.method.as_str(), hook.path.as_str()),
        ("POST", "/escalier")
    );
    // Signed per Standard Webhooks: verify it as a receiver would.
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(
            name,
            hook.header(name)
                .unwrap_or_else(|| panic!("{name} missing"))
                .parse()
                .unwrap(),
        );
    }
    assert_eq!(hook.header("webhook-id"), d["delivery_id"].as_str());
    let verifier = escalier_server::Verifier::new(vec![
        escalier_server::Secret::parse(NOTIFY_SIGNING_SECRET).unwrap(),
    ]);
    let ts: i64 = hook.header("webhook-timestamp").unwrap().parse().unwrap();
    assert!(
        verifier.verify(&headers, &hook.body, ts).is_ok(),
        "the signature verifies"
    );
    let body = hook.json();
    assert_eq!(body["ticket"]["id"], "T-1", "{body}");
    assert_eq!(body["message"], "audit trail", "{body}");

    let nobody = wait_state(&s, "T-1", "nobody", "failed");
    assert!(
        nobody["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no notify target or team named `nobody`"),
        "{nobody}"
    );
    let pager = wait_state(&s, "T-1", "pager", "failed");
    assert!(
        pager["reason"]
            .as_str()
            .unwrap_or("")
            .contains("pagerduty_routing_key"),
        "{pager}"
    );
    assert_eq!(pager["attempts"], 1, "not retried: {pager}");
    // The operator sees why: the target is disabled for want of its secret.
    let targets = s.get("/v1/notify/targets");
    assert_eq!(targets.status, 200, "{}", targets.body);
    let list = targets.body["targets"].as_array().unwrap();
    let pd = list.iter().find(|t| t["name"] == "pager").unwrap();
    assert_eq!(pd["enabled"], false, "{pd}");
    assert!(
        pd["disabled_reason"]
            .as_str()
            .unwrap_or("")
            .contains("pagerduty_routing_key"),
        "{pd}"
    );
    let audit = list.iter().find(|t| t["name"] == "audit").unwrap();
    assert_eq!(audit["enabled"], true, "{audit}");
    assert_eq!(s.records_of("T-1", "delivery.failed").len(), 2);
    assert_no_secret(&s, "T-1", &[NOTIFY_SIGNING_SECRET]);
}

#[test]
fn an_smtp_server_refusing_the_login_fails_the_email_without_naming_the_password() {
    // The relay knows another password: AUTH is refused (535), permanently.
    let smtp = SmtpStandIn::start(Some(("escalier@example.com", "the-relays-own-password")));
    let notify = format!(
        r#"
[email]
host = "127.0.0.1"
port = {port}
tls = "none"
username = "escalier@example.com"
password_secret = "smtp_password"
from = "Escalier <escalier@example.com>"

[targets.duty-manager]
kind = "email"
to = ["duty@example.com"]
"#,
        port = smtp.port
    );
    let policy =
        "const ON = [\"ticket.created\"];\nnotify(\"duty-manager\", \"VIP ticket waiting\");\n";
    let (mut s, _conf) = server(&[("notify.toml", &notify), ("vip.rhai", policy)], MONDAY_10);
    s.set_log_level("debug");
    s.restart();
    s.ingest(&created_at("e1", "T-1", MONDAY_10, "high", ""));

    let d = wait_state(&s, "T-1", "duty-manager", "failed");
    assert_eq!(d["attempts"], 1, "a refused login is not retried: {d}");
    assert_eq!(d["status"], 535, "{d}");
    let failed = records_for(&s, "T-1", "delivery.failed", "duty-manager");
    assert_eq!(failed.len(), 1);
    let error = failed[0]["event"]["data"]["error"].as_str().unwrap_or("");
    assert!(error.contains("SMTP 127.0.0.1"), "{error}");
    assert!(smtp.received().is_empty());
    assert_no_secret(&s, "T-1", &[SMTP_PASSWORD]);
}
