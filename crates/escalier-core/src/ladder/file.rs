//! The ladders data file, `policies/ladders.toml`: one `[ladders.NAME]`
//! table per ladder, its levels as `[[ladders.NAME.level]]`.
//!
//! ```toml
//! [ladders.major-incident]
//! description = "Sev-1: page until someone owns it"
//! calendar = "round-the-clock"   # optional; wall-clock time if absent
//! repeat = 1                     # optional; walk the levels once more
//!
//! [[ladders.major-incident.level]]
//! notify = "oncall-engineer"
//! after = "15m"
//! ```
//!
//! Errors are the SLA file's: a stable code, the dotted key
//! (`ladders.major-incident.level[1].after`), line and column, and a "did
//! you mean" for unknown keys and calendar names.

use std::collections::BTreeMap;

use crate::calendar::data::{self, Doc, Node};
use crate::calendar::{ConfigError, ConfigErrorCode};
use crate::sla::{SlaBook, parse_duration};
use crate::vocab::Tier;

use super::{Ladder, LadderBook, Level, LevelTarget};

/// Most levels in one ladder: more is a mistake, not a policy.
const MAX_LEVELS: usize = 20;
/// Most repeats: a ladder that walks more often is paging a void.
const MAX_REPEAT: i64 = 10;

pub(crate) fn parse_book(src: &str, sla: &SlaBook) -> Result<LadderBook, ConfigError> {
    let doc = Doc::parse(src)?;
    let root = doc.root()?;
    root.check_keys(&["ladders"])?;
    let mut ladders = BTreeMap::new();
    if let Some(n) = root.get("ladders") {
        for (name, node) in n.table()?.entries() {
            data::check_name(&node, name)?;
            ladders.insert(name.to_owned(), ladder(name, &node, sla)?);
        }
    }
    Ok(LadderBook { ladders })
}

fn ladder(name: &str, node: &Node<'_, '_>, sla: &SlaBook) -> Result<Ladder, ConfigError> {
    let t = node.table()?;
    t.check_keys(&["description", "calendar", "repeat", "level"])?;
    let description = match t.get("description") {
        Some(n) => Some(n.str()?.to_owned()),
        None => None,
    };
    let (calendar, cal) = match t.get("calendar") {
        Some(n) => {
            let cal_name = n.str()?;
            match sla.calendar(cal_name) {
                Some(c) => (Some(cal_name.to_owned()), Some(c.clone())),
                None => return Err(unknown_calendar(&n, cal_name, sla)),
            }
        }
        None => (None, None),
    };
    let repeat = match t.get("repeat") {
        Some(n) => {
            let r = n.integer()?;
            if !(0..=MAX_REPEAT).contains(&r) {
                return Err(n.error(
                    ConfigErrorCode::InvalidValue,
                    format!("repeat = {r}: use 0 (walk the levels once) to {MAX_REPEAT}"),
                ));
            }
            // Checked to be in 0..=MAX_REPEAT just above.
            u32::try_from(r).unwrap_or(0)
        }
        None => 0,
    };
    let levels_node = t.required("level")?;
    let items = levels_node.array()?;
    if items.is_empty() || items.len() > MAX_LEVELS {
        return Err(levels_node.error(
            ConfigErrorCode::InvalidValue,
            format!(
                "a ladder has 1 to {MAX_LEVELS} levels, here {}; add them as [[ladders.{name}.level]] tables",
                items.len()
            ),
        ));
    }
    let levels = items.iter().map(level).collect::<Result<Vec<_>, _>>()?;
    Ok(Ladder {
        name: name.to_owned(),
        description,
        calendar,
        cal,
        levels,
        repeat,
    })
}

fn level(node: &Node<'_, '_>) -> Result<Level, ConfigError> {
    let t = node.table()?;
    t.check_keys(&["notify", "message", "assign", "team", "tier", "after"])?;
    let target = LevelTarget {
        notify: names_of(t.get("notify"))?,
        assign: name_of(t.get("assign"))?,
        team: name_of(t.get("team"))?,
        tier: match t.get("tier") {
            Some(n) => {
                let i = n.integer()?;
                Some(Tier::new(i).map_err(|m| n.error(ConfigErrorCode::InvalidValue, m))?)
            }
            None => None,
        },
    };
    if target == LevelTarget::default() {
        return Err(node.error(
            ConfigErrorCode::MissingKey,
            "a level does something on reaching it: give at least one of notify, assign, team, tier"
                .to_owned(),
        ));
    }
    let message = match t.get("message") {
        Some(n) => {
            let m = n.str()?;
            if target.notify.is_empty() {
                return Err(n.error(
                    ConfigErrorCode::InvalidValue,
                    "`message` is the text of the notification; add `notify = \"<channel>\"` to this level"
                        .to_owned(),
                ));
            }
            if m.trim().is_empty() || m.len() > 1024 {
                return Err(n.error(
                    ConfigErrorCode::InvalidValue,
                    "a message is 1 to 1024 bytes".to_owned(),
                ));
            }
            Some(m.to_owned())
        }
        None => None,
    };
    let after_node = t.required("after")?;
    let after = parse_duration(after_node.str()?)
        .map_err(|e| after_node.error(ConfigErrorCode::InvalidValue, e.to_string()))?;
    Ok(Level {
        target,
        message,
        after,
    })
}

/// Most channels one level notifies.
const MAX_NOTIFY: usize = 10;

/// `notify = "a"` or `notify = ["a", "b"]`: one channel or several, each
/// once.
fn names_of(node: Option<Node<'_, '_>>) -> Result<Vec<String>, ConfigError> {
    let Some(n) = node else {
        return Ok(Vec::new());
    };
    let Ok(items) = n.array() else {
        return Ok(name_of(Some(n))?.into_iter().collect());
    };
    if items.is_empty() || items.len() > MAX_NOTIFY {
        return Err(n.error(
            ConfigErrorCode::InvalidValue,
            format!(
                "notify names 1 to {MAX_NOTIFY} channels, here {}",
                items.len()
            ),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in &items {
        let name = item.str()?;
        if name.trim().is_empty() || name.len() > 128 {
            return Err(item.error(
                ConfigErrorCode::InvalidValue,
                "a name is 1 to 128 bytes, not blank".to_owned(),
            ));
        }
        let name = name.to_owned();
        if out.contains(&name) {
            return Err(item.error(
                ConfigErrorCode::Duplicate,
                format!("`{name}` is named twice"),
            ));
        }
        out.push(name);
    }
    Ok(out)
}

/// A channel, agent or team name, with the rules the actions check.
fn name_of(node: Option<Node<'_, '_>>) -> Result<Option<String>, ConfigError> {
    let Some(n) = node else {
        return Ok(None);
    };
    let s = n.str()?;
    if s.trim().is_empty() || s.len() > 128 {
        return Err(n.error(
            ConfigErrorCode::InvalidValue,
            "a name is 1 to 128 bytes, not blank".to_owned(),
        ));
    }
    Ok(Some(s.to_owned()))
}

fn unknown_calendar(node: &Node<'_, '_>, name: &str, sla: &SlaBook) -> ConfigError {
    let names: Vec<&str> = sla.calendars().map(|(n, _)| n).collect();
    let hint = match crate::suggest::nearest(name, names.iter().copied()) {
        Some(s) => format!("; did you mean `{s}`?"),
        None if names.is_empty() => {
            "; calendars are defined in sla.toml under [calendars.NAME]".to_owned()
        }
        None => format!("; sla.toml defines: {}", names.join(", ")),
    };
    node.error(
        ConfigErrorCode::UnknownName,
        format!("no calendar named `{name}`{hint}"),
    )
}
