//! What a policy reacts to: the entries of its `ON` list, resolved once at
//! load time against every event type Escalier has.
//!
//! `"ticket.created"` names one type, `"action.*"` every type with that
//! prefix, `"*"` everything (including actions and errors, so such a policy
//! also sees what policies do).

use escalier_core::event::all_types;

use crate::diagnostic::Code;

/// Why an `ON` entry was refused: code, message, hint.
pub(crate) type Refusal = (Code, String, Option<String>);

/// The event types one `ON` entry stands for, in `all_types()` order.
pub(crate) fn resolve(pattern: &str) -> Result<Vec<&'static str>, Refusal> {
    if pattern == "*" {
        return Ok(all_types().collect());
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        if !prefix.ends_with('.') || prefix.contains('*') {
            return Err((
                Code::InvalidOn,
                format!("`{pattern}` is not a pattern Escalier understands"),
                Some("a wildcard stands for the last part only, after a dot: \"action.*\", or \"*\" for everything".into()),
            ));
        }
        let types: Vec<_> = all_types().filter(|t| t.starts_with(prefix)).collect();
        if types.is_empty() {
            let prefixes = families();
            let typed = format!("{prefix}*");
            return Err((
                Code::UnknownEventType,
                format!("`{pattern}` matches no event type"),
                crate::diagnostic::did_you_mean(&typed, prefixes.iter().map(String::as_str))
                    .or_else(|| Some(format!("event families are {}", prefixes.join(", ")))),
            ));
        }
        return Ok(types);
    }
    if pattern.contains('*') {
        return Err((
            Code::InvalidOn,
            format!("`{pattern}` is not a pattern Escalier understands"),
            Some("a wildcard stands for the last part only, after a dot: \"action.*\", or \"*\" for everything".into()),
        ));
    }
    match all_types().find(|t| *t == pattern) {
        Some(t) => Ok(vec![t]),
        None => Err((
            Code::UnknownEventType,
            format!("unknown event type `{pattern}`"),
            crate::diagnostic::did_you_mean(pattern, all_types()).or_else(|| {
                Some(format!(
                    "event types are {}",
                    all_types().collect::<Vec<_>>().join(", ")
                ))
            }),
        )),
    }
}

/// `ticket.*`, `action.*`, ...: the wildcard forms that match something.
fn families() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in all_types() {
        if let Some((family, _)) = t.split_once('.') {
            let f = format!("{family}.*");
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_and_prefix_wildcards_resolve() {
        assert_eq!(resolve("comment.added").unwrap(), vec!["comment.added"]);
        let actions = resolve("action.*").unwrap();
        assert!(actions.contains(&"action.escalate"));
        assert!(actions.iter().all(|t| t.starts_with("action.")));
        assert_eq!(resolve("*").unwrap().len(), all_types().count());
    }

    #[test]
    fn typos_get_a_suggestion() {
        let (code, _, hint) = resolve("ticket.create").unwrap_err();
        assert_eq!(code, Code::UnknownEventType);
        assert_eq!(hint.as_deref(), Some("did you mean \"ticket.created\"?"));
        let (code, _, hint) = resolve("actions.*").unwrap_err();
        assert_eq!(code, Code::UnknownEventType);
        assert_eq!(hint.as_deref(), Some("did you mean \"action.*\"?"));
    }

    #[test]
    fn wildcards_only_at_the_end() {
        assert_eq!(resolve("ticket*").unwrap_err().0, Code::InvalidOn);
        assert_eq!(resolve("*.created").unwrap_err().0, Code::InvalidOn);
    }
}
