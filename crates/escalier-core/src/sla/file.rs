//! The SLA data file: calendars, policies in precedence order, and the
//! default calendar, in one TOML document (`policies/sla.toml`).
//!
//! ```toml
//! default_calendar = "always"          # optional; 24×7 UTC if absent
//!
//! [calendars.eu-support]
//! time_zone = "Europe/Paris"
//! hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"] }
//!
//! [[policy]]                           # first match wins
//! name = "enterprise"
//! calendar = "eu-support"
//! when = { plan = ["enterprise"] }
//! warning = 0.75                       # optional; 0 disables
//! pause_on = ["pending", "on_hold"]    # optional; this is the default
//! reopen = "resume"                    # or "restart"
//! targets.urgent = { first_response = "30m", resolution = "4h" }
//! ```
//!
//! Errors name the key (`policy[1].targets.urgent.first_response`) and its
//! line; references to calendars are checked, with a "did you mean".

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::calendar::data::{self, Doc, Node};
use crate::calendar::{Calendar, ConfigError, ConfigErrorCode};
use crate::vocab::{Channel, Priority, Status};

use super::duration::parse_duration;
use super::policy::{ClockKind, Conditions, PauseOn, Reopen, SlaBook, SlaPolicy, Targets};

const DEFAULT_WARNING: f64 = 0.75;

pub(crate) fn parse_book(src: &str) -> Result<SlaBook, ConfigError> {
    let doc = Doc::parse(src)?;
    let root = doc.root()?;
    root.check_keys(&["calendars", "policy", "default_calendar"])?;
    let calendars: BTreeMap<String, Arc<Calendar>> = match root.get("calendars") {
        Some(n) => data::calendars(&n)?
            .into_iter()
            .map(|(k, v)| (k, Arc::new(v)))
            .collect(),
        None => BTreeMap::new(),
    };
    let default_calendar = match root.get("default_calendar") {
        Some(n) => Arc::clone(calendar_ref(&n, &calendars)?.1),
        None => Arc::new(Calendar::always()),
    };
    let mut policies = Vec::new();
    let mut names = BTreeSet::new();
    if let Some(list) = root.get("policy") {
        for item in list.array()? {
            let p = policy(&item, &calendars)?;
            if !names.insert(p.name.clone()) {
                let name = item.table()?.required("name")?;
                return Err(name.error(
                    ConfigErrorCode::Duplicate,
                    format!("a policy named `{}` is already defined above", p.name),
                ));
            }
            policies.push(p);
        }
    }
    Ok(SlaBook {
        calendars,
        policies,
        default_calendar,
    })
}

/// A calendar name that must be defined.
fn calendar_ref<'c>(
    node: &Node<'_, '_>,
    calendars: &'c BTreeMap<String, Arc<Calendar>>,
) -> Result<(String, &'c Arc<Calendar>), ConfigError> {
    let name = node.str()?;
    match calendars.get(name) {
        Some(c) => Ok((name.to_owned(), c)),
        None => {
            let hint = match crate::suggest::nearest(name, calendars.keys().map(String::as_str)) {
                Some(s) => format!("; did you mean `{s}`?"),
                None if calendars.is_empty() => "; define it under [calendars.NAME]".to_owned(),
                None => format!(
                    "; defined calendars: {}",
                    calendars.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            };
            Err(node.error(
                ConfigErrorCode::UnknownName,
                format!("no calendar named `{name}`{hint}"),
            ))
        }
    }
}

fn policy(
    node: &Node<'_, '_>,
    calendars: &BTreeMap<String, Arc<Calendar>>,
) -> Result<SlaPolicy, ConfigError> {
    let t = node.table()?;
    t.check_keys(&[
        "name",
        "description",
        "calendar",
        "when",
        "targets",
        "warning",
        "pause_on",
        "reopen",
    ])?;
    let name_node = t.required("name")?;
    let name = name_node.str()?.to_owned();
    data::check_name(&name_node, &name)?;
    if let Some(d) = t.get("description") {
        d.str()?;
    }
    let calendar = match t.get("calendar") {
        Some(n) => Some(calendar_ref(&n, calendars)?.0),
        None => None,
    };
    let when = match t.get("when") {
        Some(n) => conditions(&n)?,
        None => Conditions::default(),
    };
    let targets_node = t.required("targets")?;
    let targets = targets(&targets_node)?;
    let warning = match t.get("warning") {
        None => Some(DEFAULT_WARNING),
        Some(n) => {
            let f = n.number()?;
            if f == 0.0 {
                None
            } else if f > 0.0 && f < 1.0 {
                Some(f)
            } else {
                return Err(n.error(
                    ConfigErrorCode::InvalidValue,
                    format!("{f} is not a fraction of the target; use a value between 0 and 1 such as 0.75, or 0 for no warning"),
                ));
            }
        }
    };
    let pause_on = match t.get("pause_on") {
        None => PauseOn::DEFAULT,
        Some(n) => {
            let mut statuses = Vec::new();
            for item in n.array()? {
                let s = item.str()?;
                match Status::parse(s) {
                    Some(st @ (Status::New | Status::Open | Status::Pending | Status::OnHold)) => {
                        statuses.push(st)
                    }
                    Some(_) => {
                        return Err(item.error(
                            ConfigErrorCode::InvalidValue,
                            format!("`{s}` stops clocks rather than pausing them; pause_on takes new, open, pending, on_hold"),
                        ));
                    }
                    None => {
                        return Err(unknown_value(
                            &item,
                            s,
                            "status",
                            Status::ALL.iter().map(|s| s.as_str()),
                        ));
                    }
                }
            }
            PauseOn::new(&statuses)
        }
    };
    let reopen = match t.get("reopen") {
        None => Reopen::default(),
        Some(n) => match n.str()? {
            "resume" => Reopen::Resume,
            "restart" => Reopen::Restart,
            other => {
                return Err(unknown_value(
                    &n,
                    other,
                    "reopen behaviour",
                    ["resume", "restart"].into_iter(),
                ));
            }
        },
    };
    Ok(SlaPolicy {
        name,
        calendar,
        when,
        targets,
        warning,
        pause_on,
        reopen,
    })
}

fn conditions(node: &Node<'_, '_>) -> Result<Conditions, ConfigError> {
    let t = node.table()?;
    t.check_keys(&["priority", "channel", "plan", "vip"])?;
    let mut c = Conditions::default();
    if let Some(n) = t.get("priority") {
        c.priority = Some(vocab_list(
            &n,
            "priority",
            Priority::parse,
            Priority::ALL.iter().map(|p| p.as_str()),
        )?);
    }
    if let Some(n) = t.get("channel") {
        c.channel = Some(vocab_list(
            &n,
            "channel",
            Channel::parse,
            Channel::ALL.iter().map(|c| c.as_str()),
        )?);
    }
    if let Some(n) = t.get("plan") {
        let mut plans = Vec::new();
        for item in non_empty(&n)? {
            plans.push(item.str()?.to_owned());
        }
        c.plan = Some(plans);
    }
    if let Some(n) = t.get("vip") {
        c.vip = Some(n.bool()?);
    }
    Ok(c)
}

fn non_empty<'a, 'i>(node: &Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, ConfigError> {
    let items = node.array()?;
    if items.is_empty() {
        return Err(node.error(
            ConfigErrorCode::InvalidValue,
            "an empty list matches nothing; remove the condition to match everything".to_owned(),
        ));
    }
    Ok(items)
}

fn vocab_list<'s, T>(
    node: &Node<'_, '_>,
    what: &str,
    parse: fn(&str) -> Option<T>,
    names: impl Iterator<Item = &'s str> + Clone,
) -> Result<Vec<T>, ConfigError> {
    let mut out = Vec::new();
    for item in non_empty(node)? {
        let s = item.str()?;
        out.push(parse(s).ok_or_else(|| unknown_value(&item, s, what, names.clone()))?);
    }
    Ok(out)
}

fn unknown_value<'s>(
    node: &Node<'_, '_>,
    s: &str,
    what: &str,
    names: impl Iterator<Item = &'s str> + Clone,
) -> ConfigError {
    let hint = match crate::suggest::nearest(s, names.clone()) {
        Some(n) => format!("; did you mean `{n}`?"),
        None => String::new(),
    };
    node.error(
        ConfigErrorCode::InvalidValue,
        format!(
            "unknown {what} `{s}`{hint} Accepted: {}",
            names.collect::<Vec<_>>().join(", ")
        ),
    )
}

fn targets(node: &Node<'_, '_>) -> Result<BTreeMap<Priority, Targets>, ConfigError> {
    let t = node.table()?;
    let names: Vec<&str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
    t.check_keys(&names)?;
    let kinds: Vec<&str> = ClockKind::ALL.iter().map(|k| k.as_str()).collect();
    let mut out = BTreeMap::new();
    for (key, per) in t.entries() {
        // check_keys above guarantees the key is a priority.
        let Some(priority) = Priority::parse(key) else {
            continue;
        };
        let pt = per.table()?;
        pt.check_keys(&kinds)?;
        let mut targets = Targets::default();
        for kind in ClockKind::ALL {
            if let Some(n) = pt.get(kind.as_str()) {
                let text = n.str()?;
                let d = parse_duration(text)
                    .map_err(|e| n.error(ConfigErrorCode::InvalidValue, e.to_string()))?;
                targets.set(kind, Some(d));
            }
        }
        out.insert(priority, targets);
    }
    if out.is_empty() {
        return Err(node.error(
            ConfigErrorCode::InvalidValue,
            "a policy needs targets for at least one priority, e.g. targets.urgent = { first_response = \"1h\" }"
                .to_owned(),
        ));
    }
    Ok(out)
}
