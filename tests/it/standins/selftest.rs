//! The stand-ins themselves: scripted answers, refusal of a wrong
//! credential, down and back up on the same port, the SMTP conversation,
//! and every vendored schema accepting the vendor's own documented
//! example and refusing a broken one (a schema that accepts anything
//! would make the end-to-end checks worthless).

use std::io::{BufRead, BufReader, Write};

use serde_json::json;

use super::schema::violations;
use super::smtp::SmtpStandIn;
use super::{Reply, StandIn};

fn post(url: &str, auth: Option<&str>, body: &str) -> Result<(u16, String), String> {
    let client = reqwest::blocking::Client::new();
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let r = req.send().map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    Ok((status, r.text().unwrap_or_default()))
}

#[test]
fn the_http_stand_in_answers_from_its_script_then_its_default() {
    let s = StandIn::start(Reply::status(500));
    s.set_default(Reply::json(202, json!({"status": "success"})));
    s.script(
        Some("POST"),
        "/v2/enqueue",
        2,
        Reply::status(503).header("retry-after", "7"),
    );
    s.script(None, "/other", 1, Reply::status(409));
    let url = format!("{}/v2/enqueue", s.url);
    assert_eq!(post(&url, None, "{}").unwrap().0, 503);
    assert_eq!(
        post(&format!("{}/other", s.url), None, "{}").unwrap().0,
        409
    );
    assert_eq!(post(&url, None, "{}").unwrap().0, 503);
    let (status, body) = post(&url, None, r#"{"a":1}"#).unwrap();
    assert_eq!((status, body.as_str()), (202, r#"{"status":"success"}"#));
    let got = s.received();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].method, "POST");
    assert_eq!(got[3].path, "/v2/enqueue");
    assert_eq!(got[3].json(), json!({"a": 1}));
    assert_eq!(
        got.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [503, 409, 503, 202]
    );
}

#[test]
fn the_http_stand_in_refuses_a_wrong_credential_and_goes_down_and_back() {
    let mut s = StandIn::start(Reply::status(200));
    s.require_authorization(
        "Token token=right",
        Reply::json(401, json!({"error": "authentication failed"})),
    );
    let url = format!("{}/api/v1/tickets/1", s.url);
    assert_eq!(post(&url, Some("Token token=wrong"), "{}").unwrap().0, 401);
    assert_eq!(post(&url, None, "{}").unwrap().0, 401);
    assert_eq!(post(&url, Some("Token token=right"), "{}").unwrap().0, 200);

    s.down();
    assert!(
        post(&url, Some("Token token=right"), "{}").is_err(),
        "refused while down"
    );
    s.up();
    assert_eq!(post(&url, Some("Token token=right"), "{}").unwrap().0, 200);
    assert_eq!(s.received().len(), 4, "nothing recorded while down");
}

/// Speak SMTP as a submission client does, line by line.
fn smtp_session(port: u16, lines: &[&str]) -> Vec<String> {
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut replies = Vec::new();
    let read_reply = |reader: &mut BufReader<std::net::TcpStream>| {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            reply.push_str(&line);
            // "250-..." continues, "250 ..." ends a reply.
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                break;
            }
        }
        reply
    };
    replies.push(read_reply(&mut reader));
    let mut in_data = false;
    for l in lines {
        out.write_all(format!("{l}\r\n").as_bytes()).unwrap();
        if in_data && *l != "." {
            continue;
        }
        in_data = *l == "DATA";
        replies.push(read_reply(&mut reader));
    }
    replies
}

#[test]
fn the_smtp_stand_in_takes_mail_only_after_auth_and_parses_it() {
    let smtp = SmtpStandIn::start(Some(("escalier@example.com", "s3cret")));
    // PLAIN: base64("\0escalier@example.com\0wrong") then the right one.
    let replies = smtp_session(
        smtp.port,
        &[
            "EHLO client.test",
            "MAIL FROM:<escalier@example.com>",
            "AUTH PLAIN AGVzY2FsaWVyQGV4YW1wbGUuY29tAHdyb25n",
            "AUTH PLAIN AGVzY2FsaWVyQGV4YW1wbGUuY29tAHMzY3JldA==",
            "MAIL FROM:<escalier@example.com>",
            "RCPT TO:<duty@example.com>",
            "DATA",
            "From: Escalier <escalier@example.com>",
            "To: duty@example.com",
            "Subject: [T-1] Cannot log in",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative; boundary=\"b\"",
            "",
            "--b",
            "Content-Type: text/plain; charset=utf-8",
            "",
            "..a line that starts with a dot",
            "--b",
            "Content-Type: text/html; charset=utf-8",
            "",
            "<p>Ticket <a href=\"http://x/t/T-1\">T-1</a></p>",
            "--b--",
            ".",
            "QUIT",
        ],
    );
    assert!(replies[0].starts_with("220"), "{replies:?}");
    assert!(replies[1].contains("AUTH"), "advertised: {}", replies[1]);
    assert!(
        replies[2].starts_with('5'),
        "mail before auth: {}",
        replies[2]
    );
    assert!(
        replies[3].starts_with("535"),
        "wrong password: {}",
        replies[3]
    );
    assert!(replies[4].starts_with("235"), "{}", replies[4]);
    let got = smtp.received();
    assert_eq!(got.len(), 1, "{replies:?}");
    let m = &got[0];
    assert_eq!(m.envelope_from, "escalier@example.com");
    assert_eq!(m.envelope_to, ["duty@example.com"]);
    assert_eq!(m.header("MIME-Version").as_deref(), Some("1.0"));
    assert_eq!(m.authenticated_as.as_deref(), Some("escalier@example.com"));
    assert_eq!(m.from(), "escalier@example.com");
    assert_eq!(m.to(), ["duty@example.com"]);
    assert_eq!(m.subject(), "[T-1] Cannot log in");
    assert_eq!(m.text().unwrap().trim(), ".a line that starts with a dot");
    assert!(m.has_html_part());
    assert!(m.html().unwrap().contains("href=\"http://x/t/T-1\""));
}

#[test]
fn each_schema_accepts_the_vendors_documented_example_and_refuses_a_broken_one() {
    let cases = [
        // PagerDuty "Send an Alert Event": the trigger and resolve examples.
        (
            "pagerduty-events-v2",
            json!({
                "payload": {
                    "summary": "Example alert on host1.example.com",
                    "timestamp": "2015-07-17T08:42:58.315+0000",
                    "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003",
                    "severity": "info",
                    "component": "postgres",
                    "group": "prod-datapipe",
                    "class": "deploy",
                    "custom_details": {"ping time": "1500ms", "load avg": 0.75}
                },
                "routing_key": "samplekeyhere",
                "dedup_key": "samplekeyhere",
                "images": [{"src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png", "href": "https://example.com/", "alt": "Example text"}],
                "links": [{"href": "https://example.com/", "text": "Link text"}],
                "event_action": "trigger",
                "client": "Sample Monitoring Service",
                "client_url": "https://monitoring.example.com"
            }),
            json!({"routing_key": "k", "event_action": "trigger", "payload": {"summary": "s", "source": "x", "severity": "urgent"}}),
        ),
        (
            "pagerduty-events-v2",
            json!({"routing_key": "routingkeyhere", "dedup_key": "dedupkeyhere", "event_action": "resolve"}),
            json!({"routing_key": "routingkeyhere", "event_action": "resolve"}),
        ),
        // Microsoft's Workflows webhook example with a minimal card.
        (
            "teams-workflow-adaptive-card",
            json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": "Ticket T-1 escalated", "weight": "bolder", "size": "medium", "wrap": true},
                            {"type": "TextBlock", "text": "As Microsoft's samples write it", "weight": "Bolder", "size": "ExtraLarge", "color": "Attention"},
                            {"type": "FactSet", "facts": [{"title": "Tier", "value": "2"}]}
                        ],
                        "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": "https://escalier.example.com/t/T-1"}]
                    }
                }]
            }),
            json!({"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock"}]}}]}),
        ),
        // Slack's incoming webhook example with blocks.
        (
            "slack-incoming-webhook",
            json!({
                "text": "Danny Torrence left a 1 star review for your property.",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "Danny Torrence left the following review for your property:"}},
                    {"type": "section", "block_id": "section567", "text": {"type": "mrkdwn", "text": "<https://example.com|Overlook Hotel> \n :star: \n Doors had too many axe holes, guest in room 237 was far too rowdy, whole place felt stuck in the 1920s."}, "accessory": {"type": "image", "image_url": "https://is5-ssl.mzstatic.com/image/thumb/Purple3/v4/d3/72/5c/d3725c8f-c642-5d69-1904-aa36e4297885/source/256x256bb.jpg", "alt_text": "Haunted hotel image"}},
                    {"type": "section", "block_id": "section789", "fields": [{"type": "mrkdwn", "text": "*Average Rating*\n1.0"}]}
                ]
            }),
            json!({"text": "t", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "not plain"}}]}),
        ),
        // Zendesk "Update Ticket" example, and an internal note.
        (
            "zendesk-ticket-update",
            json!({"ticket": {"comment": {"body": "Thanks for choosing Acme Jet Motors.", "public": true}, "status": "solved"}}),
            json!({"ticket": {"group_id": "billing"}}),
        ),
        (
            "zendesk-ticket-update",
            json!({"ticket": {"group_id": 360001, "priority": "urgent", "comment": {"body": "Escalated by sla.rhai: first response breached", "public": false}}}),
            json!({"ticket": {"comment": {"public": false}}}),
        ),
        (
            "zendesk-ticket-tags",
            json!({"tags": ["customer", "important"]}),
            json!({"tags": "customer"}),
        ),
        // Jira "Edit issue": fields and update operations.
        (
            "jira-issue-edit",
            json!({"fields": {"priority": {"name": "Highest"}, "assignee": {"accountId": "5b10ac8d82e05b22cc7d4ef5"}}, "update": {"labels": [{"add": "triaged"}, {"remove": "blocker"}]}}),
            json!({"update": {"labels": [{"append": "x"}]}}),
        ),
        (
            "jsm-request-comment",
            json!({"body": "Hello there", "public": false}),
            json!({"body": "Hello there", "internal": true}),
        ),
        // Zammad: update, tag add, article.
        (
            "zammad-ticket-update",
            json!({"group": "2nd Level", "priority": "3 high", "owner_id": 4}),
            json!({"group": 2}),
        ),
        (
            "zammad-tag-add",
            json!({"object": "Ticket", "o_id": 10081, "item": "escalated"}),
            json!({"object": "Ticket", "item": "escalated"}),
        ),
        (
            "zammad-ticket-article",
            json!({"ticket_id": 10081, "body": "Escalated to tier 2", "type": "note", "internal": true}),
            json!({"ticket_id": 10081, "type": "memo", "body": "x"}),
        ),
    ];
    for (schema, good, bad) in cases {
        let v = violations(schema, &good);
        assert!(
            v.is_empty(),
            "{schema} refuses its documented example: {v:?}"
        );
        assert!(
            !violations(schema, &bad).is_empty(),
            "{schema} accepts a broken request: {bad}"
        );
    }
}
