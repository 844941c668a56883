//! The notify-http plugin: `action.notify {channel, message}` becomes an
//! HTTP POST to the channel's target. The request is queued (sent by the
//! delivery worker after commit, retried with backoff); a channel with no
//! target is left alone, for other notification plugins.

use std::collections::BTreeMap;

use escalier_plugin_sdk::{
    Action, Error, Event, Plugin, Ticket, clock, config, export_plugin, http, log,
};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Format {
    Slack,
    Generic,
}

#[derive(Deserialize)]
struct Target {
    url: String,
    format: Format,
}

#[derive(Deserialize)]
struct Notify {
    channel: String,
    message: String,
}

struct NotifyHttp;

impl Plugin for NotifyHttp {
    fn handle(ticket: Ticket, event: Event) -> Result<Vec<Action>, Error> {
        let n: Notify = event.data()?;
        let targets: BTreeMap<String, Target> = config::get("targets")?.unwrap_or_default();
        let Some(target) = targets.get(&n.channel) else {
            log::debug(&format!("no target for channel `{}`", n.channel));
            return Ok(Vec::new());
        };
        let (body, sign) = match target.format {
            Format::Slack => (slack(&ticket, &n), false),
            Format::Generic => (generic(&ticket, &event, &n), true),
        };
        http::post_json(&target.url, &body, sign)?;
        Ok(Vec::new())
    }
}

/// Slack incoming-webhook shape: `text` (mrkdwn), shown in the channel.
fn slack(t: &Ticket, n: &Notify) -> serde_json::Value {
    json!({
        "text": format!(
            "*{}* {} — tier {}, {} priority\n{}",
            t.id, t.subject, t.tier, t.priority, n.message
        ),
    })
}

/// Escalier's own shape, signed: for receivers that verify the sender.
fn generic(t: &Ticket, e: &Event, n: &Notify) -> serde_json::Value {
    json!({
        "type": "escalier.notify",
        "event_id": e.id,
        "at": clock::now(),
        "channel": n.channel,
        "message": n.message,
        "ticket": {
            "id": t.id,
            "subject": t.subject,
            "status": t.status,
            "priority": t.priority,
            "tier": t.tier,
            "team": t.team,
            "agent": t.agent,
        },
    })
}

export_plugin!(NotifyHttp);
