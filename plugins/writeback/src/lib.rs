//! What the help-desk write-back plugins (`zendesk-writeback`,
//! `jira-writeback`, `zammad-writeback`) share, as plain Rust with no host
//! calls, so it is tested on the host target:
//!
//! - [`decode`]: an `action.*` record's type and data as a [`Decision`];
//! - [`Mapping`]: the plugin's mapping config (`team_groups`,
//!   `tier_groups`, `agents`, `priorities`) and the lookups on it;
//! - [`Call`]: one REST call a plugin plans (method, path, JSON body),
//!   which the plugin turns into an authenticated outbound request;
//! - [`explain`]: the text of the internal note that says what Escalier
//!   decided, which policy or plugin decided it, and why;
//! - [`site`]: the `site` config checked and normalised.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The actions a write-back plugin subscribes to.
pub const SUBSCRIBED: [&str; 6] = [
    "action.escalate",
    "action.route",
    "action.set_priority",
    "action.assign",
    "action.tag",
    "action.note",
];

/// An Escalier decision, from an `action.*` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Escalate { tier: u8, reason: String },
    Route { team: String, reason: String },
    SetPriority(String),
    Assign(String),
    Tag(String),
    Note(String),
}

/// The decision an `action.*` record carries; `Ok(None)` for other record
/// types; `Err` when the data is not the action's shape.
pub fn decode(event_type: &str, data: &str) -> Result<Option<Decision>, String> {
    #[derive(Deserialize)]
    struct Escalate {
        tier: u8,
        #[serde(default)]
        reason: String,
    }
    #[derive(Deserialize)]
    struct Route {
        team: String,
        #[serde(default)]
        reason: String,
    }
    #[derive(Deserialize)]
    struct SetPriority {
        priority: String,
    }
    #[derive(Deserialize)]
    struct Assign {
        agent: String,
    }
    #[derive(Deserialize)]
    struct Tag {
        tag: String,
    }
    #[derive(Deserialize)]
    struct Note {
        text: String,
    }
    fn parse<'a, T: Deserialize<'a>>(ty: &str, data: &'a str) -> Result<T, String> {
        serde_json::from_str(data).map_err(|e| format!("`{ty}` data: {e}"))
    }
    Ok(Some(match event_type {
        "action.escalate" => {
            let e: Escalate = parse(event_type, data)?;
            Decision::Escalate {
                tier: e.tier,
                reason: e.reason,
            }
        }
        "action.route" => {
            let r: Route = parse(event_type, data)?;
            Decision::Route {
                team: r.team,
                reason: r.reason,
            }
        }
        "action.set_priority" => {
            Decision::SetPriority(parse::<SetPriority>(event_type, data)?.priority)
        }
        "action.assign" => Decision::Assign(parse::<Assign>(event_type, data)?.agent),
        "action.tag" => Decision::Tag(parse::<Tag>(event_type, data)?.tag),
        "action.note" => Decision::Note(parse::<Note>(event_type, data)?.text),
        _ => return Ok(None),
    }))
}

/// The ticket as the write-back needs it (after the action was applied).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketView {
    /// The Escalier ticket id (`zendesk:123`).
    pub id: String,
    pub tier: u8,
    pub team: Option<String>,
}

/// What the plugin's `[config]` maps Escalier names to. Values are JSON
/// (TOML numbers, strings or tables); each plugin reads them in its tool's
/// terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapping {
    /// Escalier team → the tool's group.
    pub team_groups: BTreeMap<String, Value>,
    /// Tier (`"2"`), or team and tier (`"billing/2"`) → the tool's group.
    pub tier_groups: BTreeMap<String, Value>,
    /// Escalier agent id → the tool's user.
    pub agents: BTreeMap<String, Value>,
    /// Escalier priority (`low`, `normal`, `high`, `urgent`) → the tool's.
    pub priorities: BTreeMap<String, Value>,
}

impl Mapping {
    /// The group for an escalation to `tier` of a ticket of `team`:
    /// `tier_groups["<team>/<tier>"]`, else `tier_groups["<tier>"]`.
    pub fn tier_group(&self, team: Option<&str>, tier: u8) -> Option<&Value> {
        team.and_then(|t| self.tier_groups.get(&format!("{t}/{tier}")))
            .or_else(|| self.tier_groups.get(&tier.to_string()))
            .filter(|v| !is_blank(v))
    }

    pub fn team_group(&self, team: &str) -> Option<&Value> {
        self.team_groups.get(team).filter(|v| !is_blank(v))
    }

    pub fn agent(&self, agent: &str) -> Option<&Value> {
        self.agents.get(agent).filter(|v| !is_blank(v))
    }

    pub fn priority(&self, priority: &str) -> Option<&Value> {
        self.priorities.get(priority).filter(|v| !is_blank(v))
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A JSON value as a short text for notes and logs (strings unquoted).
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A whole, positive number from a JSON number or a string of digits.
pub fn whole(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        }
        _ => None,
    }
    .filter(|n| *n > 0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Put,
    Post,
}

/// One REST call: `method` on the site's `path`, with a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: Method,
    /// From the site's root: `/api/v2/tickets/123.json`.
    pub path: String,
    pub body: Value,
}

/// What a plugin does for one decision: the calls, in order, and what it
/// could not map (logged as warnings).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub calls: Vec<Call>,
    pub warnings: Vec<String>,
}

/// The `site` config: `https://host[:port][/path]` (or `http://` for a
/// test stand-in the operator's address policy allows), without a
/// trailing `/`, query or fragment.
pub fn site(raw: &str) -> Result<String, String> {
    let s = raw.trim().trim_end_matches('/');
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("config `site` {s:?} must start with https://"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || s.contains(['?', '#', ' '])
        || host.contains('@')
        || s.chars().any(char::is_control)
    {
        return Err(format!(
            "config `site` {s:?} is not a site address (`https://acme.example.com`)"
        ));
    }
    Ok(s.to_owned())
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The longest internal note written (help desks take far more; Escalier's
/// own texts are shorter).
pub const MAX_NOTE: usize = 16 * 1024;

/// The internal note for a decision, or `None` for decisions that need no
/// note (priority, assignment, tag: the change speaks for itself).
/// `source` is the record's producer (a policy file, a plugin, an API
/// token); `unmapped` says what could not be written back.
pub fn explain(d: &Decision, source: &str, unmapped: Option<&str>) -> Option<String> {
    let source = if source.trim().is_empty() {
        "escalier"
    } else {
        source
    };
    let mut text = match d {
        Decision::Escalate { tier, reason } => {
            let mut t =
                format!("Escalier escalated this ticket to tier {tier}.\nDecided by: {source}");
            if !reason.trim().is_empty() {
                t.push_str(&format!("\nWhy: {}", reason.trim()));
            }
            t
        }
        Decision::Route { team, reason } => {
            let mut t =
                format!("Escalier routed this ticket to team {team}.\nDecided by: {source}");
            if !reason.trim().is_empty() {
                t.push_str(&format!("\nWhy: {}", reason.trim()));
            }
            t
        }
        Decision::Note(text) => format!("Escalier note from {source}:\n{}", text.trim()),
        _ => return None,
    };
    if let Some(u) = unmapped {
        text.push_str(&format!("\n({u})"));
    }
    Some(cut(&text, MAX_NOTE).to_owned())
}

/// The plugin side, on the host's functions (WebAssembly only): the
/// config read, the ticket viewed, a plan's calls queued with the host's
/// authentication.
#[cfg(target_family = "wasm")]
pub mod glue {
    use std::collections::BTreeMap;

    use escalier_plugin_sdk::http::{self, Auth};
    use escalier_plugin_sdk::{Error, Ticket, config, log};
    use serde_json::Value;

    use super::{Mapping, Method, Plan, TicketView};

    /// A text config value; blank is unset.
    pub fn text(key: &str) -> Result<Option<String>, Error> {
        Ok(config::get::<String>(key)?.filter(|s| !s.trim().is_empty()))
    }

    /// A text config value the plugin cannot work without.
    pub fn required(key: &str, what: &str) -> Result<String, Error> {
        text(key)?.ok_or_else(|| {
            Error::NotFound(format!(
                "config `{key}` ({what}) is not set in the plugin's plugin.toml"
            ))
        })
    }

    fn table(key: &str) -> Result<BTreeMap<String, Value>, Error> {
        Ok(config::get(key)?.unwrap_or_default())
    }

    /// `site`, checked.
    pub fn site(what: &str) -> Result<String, Error> {
        super::site(&required("site", what)?).map_err(Error::InvalidInput)
    }

    /// `team_groups`, `tier_groups`, `agents`, `priorities`.
    pub fn mapping() -> Result<Mapping, Error> {
        Ok(Mapping {
            team_groups: table("team_groups")?,
            tier_groups: table("tier_groups")?,
            agents: table("agents")?,
            priorities: table("priorities")?,
        })
    }

    pub fn view(t: &Ticket) -> TicketView {
        TicketView {
            id: t.id.clone(),
            tier: t.tier,
            team: t.team.clone(),
        }
    }

    /// Log the plan's warnings and queue its calls on `site`, each
    /// authenticated by the host with `auth`.
    pub fn send(site: &str, plan: Plan, auth: &Auth) -> Result<(), Error> {
        for w in &plan.warnings {
            log::warn(w);
        }
        for call in plan.calls {
            let method = match call.method {
                Method::Put => http::Method::Put,
                Method::Post => http::Method::Post,
            };
            let request = http::json_request(method, &format!("{site}{}", call.path), &call.body)?;
            http::send_authenticated(&request, auth)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actions_decode_from_their_records_data() {
        assert_eq!(
            decode("action.escalate", r#"{"tier":2,"reason":"VIP waiting"}"#),
            Ok(Some(Decision::Escalate {
                tier: 2,
                reason: "VIP waiting".into()
            }))
        );
        assert_eq!(
            decode("action.route", r#"{"team":"billing","reason":"refund"}"#),
            Ok(Some(Decision::Route {
                team: "billing".into(),
                reason: "refund".into()
            }))
        );
        assert_eq!(
            decode("action.set_priority", r#"{"priority":"urgent"}"#),
            Ok(Some(Decision::SetPriority("urgent".into())))
        );
        assert_eq!(
            decode("action.assign", r#"{"agent":"ana"}"#),
            Ok(Some(Decision::Assign("ana".into())))
        );
        assert_eq!(
            decode("action.tag", r#"{"tag":"vip"}"#),
            Ok(Some(Decision::Tag("vip".into())))
        );
        assert_eq!(
            decode("action.note", r#"{"text":"see runbook"}"#),
            Ok(Some(Decision::Note("see runbook".into())))
        );
        assert_eq!(decode("action.notify", r#"{"channel":"x"}"#), Ok(None));
        assert_eq!(decode("comment.added", "{}"), Ok(None));
        assert!(decode("action.escalate", r#"{"tier":"two"}"#).is_err());
        assert!(decode("action.tag", "not json").is_err());
    }

    #[test]
    fn tier_groups_prefer_the_team_and_tier() {
        let m = Mapping {
            tier_groups: [
                ("2".to_owned(), json!(200)),
                ("billing/2".to_owned(), json!(210)),
                ("3".to_owned(), json!("")),
            ]
            .into(),
            ..Mapping::default()
        };
        assert_eq!(m.tier_group(Some("billing"), 2), Some(&json!(210)));
        assert_eq!(m.tier_group(Some("sales"), 2), Some(&json!(200)));
        assert_eq!(m.tier_group(None, 2), Some(&json!(200)));
        assert_eq!(m.tier_group(None, 3), None, "blank is unmapped");
        assert_eq!(m.tier_group(None, 4), None);
    }

    #[test]
    fn whole_numbers_from_numbers_and_digit_strings() {
        assert_eq!(whole(&json!(42)), Some(42));
        assert_eq!(whole(&json!("8447388090431")), Some(8447388090431));
        assert_eq!(whole(&json!(" 7 ")), Some(7));
        assert_eq!(whole(&json!(0)), None);
        assert_eq!(whole(&json!(-3)), None);
        assert_eq!(whole(&json!("12a")), None);
        assert_eq!(whole(&json!("")), None);
        assert_eq!(whole(&json!("99999999999999999999")), None);
        assert_eq!(whole(&json!(1.5)), None);
    }

    #[test]
    fn sites_are_origins_with_an_optional_path() {
        assert_eq!(
            site("https://acme.zendesk.com/"),
            Ok("https://acme.zendesk.com".into())
        );
        assert_eq!(
            site(" http://127.0.0.1:8089 "),
            Ok("http://127.0.0.1:8089".into())
        );
        assert_eq!(
            site("https://jira.example.com/jira"),
            Ok("https://jira.example.com/jira".into())
        );
        for bad in [
            "",
            "acme.zendesk.com",
            "ftp://acme.zendesk.com",
            "https://",
            "https://user@acme.zendesk.com",
            "https://acme.zendesk.com/?x=1",
            "https://acme.zendesk.com/#x",
        ] {
            assert!(site(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn notes_say_what_who_and_why() {
        let d = Decision::Escalate {
            tier: 2,
            reason: "VIP customer waiting 2h".into(),
        };
        assert_eq!(
            explain(&d, "vip.rhai", None).unwrap(),
            "Escalier escalated this ticket to tier 2.\nDecided by: vip.rhai\nWhy: VIP customer waiting 2h"
        );
        let d = Decision::Route {
            team: "billing".into(),
            reason: String::new(),
        };
        assert_eq!(
            explain(&d, "", Some("no group is mapped for team billing")).unwrap(),
            "Escalier routed this ticket to team billing.\nDecided by: escalier\n(no group is mapped for team billing)"
        );
        assert_eq!(
            explain(
                &Decision::Note(" check the runbook ".into()),
                "sla.rhai",
                None
            )
            .unwrap(),
            "Escalier note from sla.rhai:\ncheck the runbook"
        );
        assert_eq!(explain(&Decision::Tag("x".into()), "p", None), None);
        let long = explain(&Decision::Note("é".repeat(20_000)), "p", None).unwrap();
        assert!(long.len() <= MAX_NOTE);
    }
}
