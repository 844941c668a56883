//! What each kind of target receives, rendered from the recorded
//! `notification.requested` alone (the ticket as it was when the
//! notification was asked for), so a retry sends the same message.
//!
//! - Slack incoming webhook: `text` (the fallback notifications and
//!   screen readers show) and `blocks` (a header, the message, the ticket's
//!   fields, why, a link).
//! - Microsoft Teams workflow webhook: a `message` with one Adaptive Card
//!   1.4 attachment.
//! - PagerDuty Events API v2: `trigger` with a payload (summary, source,
//!   severity from the priority, custom details); `acknowledge` and
//!   `resolve` with the dedup key only.
//! - Email: plain text and HTML alternatives.
//! - Generic webhook: a JSON body (`type: "escalier.notification"`) the
//!   notifier signs per Standard Webhooks.

use escalier_core::event::{NotificationRequested, PdAction};
use escalier_core::vocab::Priority;
use serde_json::{Value, json};

use crate::reactor::clip;

/// PagerDuty's limit on `payload.summary`.
pub const PD_SUMMARY_MAX: usize = 1024;
/// Slack's limit on a section's text.
const SLACK_TEXT_MAX: usize = 3000;

/// The one-line summary: `[T-1] subject`.
pub fn summary(n: &NotificationRequested) -> String {
    format!("[{}] {}", n.ticket.id, n.ticket.subject)
}

/// `policy.rhai` or `policy.rhai: reason`.
pub fn why(n: &NotificationRequested) -> String {
    match &n.why.reason {
        Some(r) => format!("{}: {r}", n.why.producer),
        None => n.why.producer.clone(),
    }
}

fn team(n: &NotificationRequested) -> &str {
    n.ticket.team.as_deref().unwrap_or("none")
}

/// PagerDuty severity from the ticket's priority.
pub fn severity(p: Priority) -> &'static str {
    match p {
        Priority::Urgent => "critical",
        Priority::High => "error",
        Priority::Normal => "warning",
        Priority::Low => "info",
    }
}

/// Slack incoming-webhook body.
pub fn slack(n: &NotificationRequested, link: Option<&str>) -> Value {
    let title = match link {
        Some(l) => format!(
            "*<{}|{}>* {}",
            l,
            slack_escape(n.ticket.id.as_str()),
            slack_escape(&n.ticket.subject)
        ),
        None => format!(
            "*{}* {}",
            slack_escape(n.ticket.id.as_str()),
            slack_escape(&n.ticket.subject)
        ),
    };
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&title, SLACK_TEXT_MAX)}}),
        json!({"type": "section", "text": {"type": "plain_text", "text": clip(&n.message, SLACK_TEXT_MAX), "emoji": false}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Tier*\n{}", n.ticket.tier)},
            {"type": "mrkdwn", "text": format!("*Priority*\n{}", n.ticket.priority)},
            {"type": "mrkdwn", "text": format!("*Team*\n{}", slack_escape(team(n)))},
            {"type": "mrkdwn", "text": format!("*Status*\n{}", n.ticket.status)},
        ]}),
        json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": clip(&format!("Why: {}", slack_escape(&why(n))), SLACK_TEXT_MAX)}
        ]}),
    ];
    if let Some(l) = link {
        blocks.push(json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open ticket"}, "url": l}
        ]}));
    }
    json!({
        "text": clip(&format!("{}: {}", summary(n), n.message), SLACK_TEXT_MAX),
        "blocks": blocks,
    })
}

/// `&`, `<` and `>` escaped, as Slack's mrkdwn wants.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Microsoft Teams workflow-webhook body: a message with one Adaptive Card.
pub fn teams(n: &NotificationRequested, link: Option<&str>) -> Value {
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": summary(n), "weight": "Bolder", "size": "Medium", "wrap": true},
            {"type": "TextBlock", "text": n.message, "wrap": true},
            {"type": "FactSet", "facts": [
                {"title": "Tier", "value": n.ticket.tier.to_string()},
                {"title": "Priority", "value": n.ticket.priority.as_str()},
                {"title": "Team", "value": team(n)},
                {"title": "Status", "value": n.ticket.status.as_str()},
                {"title": "Why", "value": why(n)},
            ]},
        ],
    });
    if let Some(l) = link {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open ticket", "url": l}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// PagerDuty Events API v2 body. `routing_key` is the secret's value,
/// added by the notifier at send time (this function never sees it).
pub fn pagerduty(n: &NotificationRequested, routing_key: &str, link: Option<&str>) -> Value {
    let action = n.pd_action.unwrap_or(PdAction::Trigger);
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": action.as_str(),
        "dedup_key": n.dedup_key.clone().unwrap_or_default(),
    });
    if action == PdAction::Trigger {
        let text = format!("{}: {}", summary(n), n.message);
        body["payload"] = json!({
            "summary": clip(&text, PD_SUMMARY_MAX),
            "source": "escalier",
            "severity": severity(n.ticket.priority),
            "component": n.ticket.id.as_str(),
            "group": team(n),
            "class": "ticket",
            "custom_details": {
                "ticket": n.ticket.id.as_str(),
                "subject": n.ticket.subject,
                "message": n.message,
                "tier": n.ticket.tier.get(),
                "priority": n.ticket.priority.as_str(),
                "status": n.ticket.status.as_str(),
                "team": n.ticket.team,
                "why": why(n),
                "delivery_id": n.delivery_id,
            },
        });
        body["client"] = json!("Escalier");
        if let Some(l) = link {
            body["client_url"] = json!(l);
            body["links"] = json!([{"href": l, "text": format!("Ticket {}", n.ticket.id)}]);
        }
    }
    body
}

/// Generic webhook body (signed by the notifier).
pub fn webhook(n: &NotificationRequested, link: Option<&str>) -> Value {
    json!({
        "type": "escalier.notification",
        "delivery_id": n.delivery_id,
        "target": n.target,
        "channel": n.channel,
        "message": n.message,
        "urgent": n.urgent,
        "why": n.why,
        "ticket": n.ticket,
        "link": link,
    })
}

/// An email's subject, plain text and HTML bodies.
pub struct EmailBody {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn email(n: &NotificationRequested, link: Option<&str>) -> EmailBody {
    let subject = clip(&format!("[Escalier] {}", summary(n)), 250).replace(['\r', '\n'], " ");
    let rows = [
        ("Ticket", n.ticket.id.to_string()),
        ("Subject", n.ticket.subject.clone()),
        ("Tier", n.ticket.tier.to_string()),
        ("Priority", n.ticket.priority.to_string()),
        ("Team", team(n).to_owned()),
        ("Status", n.ticket.status.to_string()),
        ("Why", why(n)),
    ];
    let mut text = format!("{}\n\n", n.message);
    for (k, v) in &rows {
        text.push_str(&format!("{k}: {v}\n"));
    }
    if let Some(l) = link {
        text.push_str(&format!("\nOpen the ticket: {l}\n"));
    }
    text.push_str(&format!("\n-- \nEscalier notification {}\n", n.delivery_id));
    let mut html =
        String::from("<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n");
    html.push_str(&format!("<p>{}</p>\n<table>\n", html_escape(&n.message)));
    for (k, v) in &rows {
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
            k,
            html_escape(v)
        ));
    }
    html.push_str("</table>\n");
    if let Some(l) = link {
        html.push_str(&format!(
            "<p><a href=\"{}\">Open ticket {}</a></p>\n",
            html_escape(l),
            html_escape(n.ticket.id.as_str())
        ));
    }
    html.push_str(&format!(
        "<p style=\"color: #888\">Escalier notification {}</p>\n</body></html>\n",
        html_escape(&n.delivery_id)
    ));
    EmailBody {
        subject,
        text,
        html,
    }
}

/// Text safe inside HTML elements and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
