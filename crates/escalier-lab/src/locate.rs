//! Where in the policy sources a record came from: the policy file and
//! line that called an action, the `sla.toml` policy that fired a clock,
//! the `ladders.toml` level that a ladder step took.
//!
//! The policy engine records which file produced an action (and its
//! content hash) but not the line of the call. Until it does, the line is
//! found by reading the file: every call of the action's function
//! (`escalate(`) outside comments and strings is a candidate, and calls
//! whose first argument is a literal that disagrees with the action's data
//! (`escalate(3, ...)` for a tier-2 escalation) are ruled out. One
//! candidate left is the line; several are all reported. A `policy.error`
//! carries its own line and column, which are exact.

use escalier_core::event::EventKind;
use escalier_core::{Action, Record, Source};
use serde::Serialize;

/// A place in a policy or data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// As the user knows it: the policies directory joined with the name.
    pub file: String,
    /// 1-based. `None`: somewhere in the file (see `candidates`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// Lines that could have produced it when the source does not say
    /// which (several calls of the same action with computed arguments).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<u32>,
    /// How the place was found.
    pub by: LocatedBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocatedBy {
    /// The record says where (`policy.error` line and column).
    Record,
    /// Calls of the action's function found in the policy's source.
    SourceScan,
    /// The entry of `sla.toml` or `ladders.toml` that defines it.
    DataFile,
}

impl std::fmt::Display for Location {
    /// `policies/escalation/vip.rhai:18`, `...:16 or 18`, or the file alone.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file)?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, ":{l}:{c}"),
            (Some(l), None) => write!(f, ":{l}"),
            (None, _) if !self.candidates.is_empty() => {
                let lines: Vec<String> = self.candidates.iter().map(u32::to_string).collect();
                write!(f, ":{}", lines.join(" or "))
            }
            (None, _) => Ok(()),
        }
    }
}

/// The texts records are located in: a policy's file and source by
/// policy name, and the `sla.toml` and `ladders.toml` files and texts.
pub(crate) struct Texts<'a> {
    pub policy: &'a dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    pub sla: Option<(&'a str, &'a str)>,
    pub ladders: Option<(&'a str, &'a str)>,
}

/// Where `record` came from, if a policy, `sla.toml` or `ladders.toml`
/// produced it. `context` is the records of the same input before it (a
/// ladder level's actions are located through the `ladder.level_reached`
/// that precedes them).
pub(crate) fn locate(record: &Record, context: &[Record], texts: &Texts<'_>) -> Option<Location> {
    if let Some(policy) = policy_name(record) {
        let found = (texts.policy)(policy);
        let file = found.map_or(policy, |(file, _)| file);
        return Some(in_policy(file, found.map(|(_, text)| text), record));
    }
    if !matches!(record.source, Source::Clock { .. }) {
        return None;
    }
    match &record.event.kind {
        EventKind::SlaWarning(f) | EventKind::SlaBreached(f) => {
            let ((file, text), name) = (texts.sla?, f.sla.as_deref()?);
            Some(in_sla_file(file, text, name))
        }
        EventKind::SlaMet(m) => {
            let ((file, text), name) = (texts.sla?, m.sla.as_deref()?);
            Some(in_sla_file(file, text, name))
        }
        EventKind::LadderLevelReached(l) => {
            let (file, text) = texts.ladders?;
            Some(in_ladders_file(file, text, &l.ladder, Some(l.level)))
        }
        EventKind::LadderExhausted(l) => {
            let (file, text) = texts.ladders?;
            Some(in_ladders_file(file, text, &l.ladder, None))
        }
        EventKind::Action(_) => {
            // A ladder level's action: the level reached just before it.
            let (file, text) = texts.ladders?;
            let level = context.iter().rev().find_map(|r| match &r.event.kind {
                EventKind::LadderLevelReached(l) if r.seq == record.seq => Some(l),
                _ => None,
            })?;
            Some(in_ladders_file(
                file,
                text,
                &level.ladder,
                Some(level.level),
            ))
        }
        _ => None,
    }
}

/// Locate a policy's record in its source text.
pub(crate) fn in_policy(file: &str, source: Option<&str>, record: &Record) -> Location {
    let mut loc = Location {
        file: file.to_owned(),
        line: None,
        column: None,
        candidates: Vec::new(),
        by: LocatedBy::SourceScan,
    };
    match &record.event.kind {
        EventKind::PolicyError(e) => {
            loc.line = e.line;
            loc.column = e.column;
            loc.by = LocatedBy::Record;
        }
        EventKind::Action(action) => {
            let Some(src) = source else { return loc };
            let name = action.type_name().trim_start_matches(Action::TYPE_PREFIX);
            let key = primary(action);
            let lines: Vec<u32> = calls(src, name)
                .into_iter()
                .filter(|c| match (&c.first_arg, &key) {
                    (Some(lit), Some(want)) => lit == want,
                    _ => true,
                })
                .map(|c| c.line)
                .collect();
            match lines.as_slice() {
                [one] => loc.line = Some(*one),
                _ => loc.candidates = lines,
            }
        }
        _ => {}
    }
    loc
}

/// `sla.toml`: the line of `name = "<policy>"` in its `[[policy]]`.
pub(crate) fn in_sla_file(file: &str, text: &str, policy: &str) -> Location {
    let quoted = [format!("\"{policy}\""), format!("'{policy}'")];
    let line = text.lines().position(|l| {
        let l = l.trim();
        l.starts_with("name") && quoted.iter().any(|q| l.ends_with(q.as_str()))
    });
    data_location(file, line)
}

/// `ladders.toml`: the line of the `level`-th `[[ladders.NAME.level]]`
/// (1-based), or of `[ladders.NAME]` for the ladder as a whole.
pub(crate) fn in_ladders_file(
    file: &str,
    text: &str,
    ladder: &str,
    level: Option<u32>,
) -> Location {
    let header = |l: &str| {
        let l = l.trim();
        let inner = l.strip_prefix('[').and_then(|l| l.strip_suffix(']'));
        inner.map(|h| h.trim_matches(['[', ']']).replace([' ', '"', '\''], ""))
    };
    let table = format!("ladders.{ladder}");
    let level_table = format!("ladders.{ladder}.level");
    let mut seen = 0;
    let line = text.lines().position(|l| match (header(l), level) {
        (Some(h), None) => h == table,
        (Some(h), Some(n)) if h == level_table => {
            seen += 1;
            seen == n
        }
        _ => false,
    });
    data_location(file, line)
}

fn data_location(file: &str, line: Option<usize>) -> Location {
    Location {
        file: file.to_owned(),
        line: line.map(|l| u32::try_from(l + 1).unwrap_or(u32::MAX)),
        column: None,
        candidates: Vec::new(),
        by: LocatedBy::DataFile,
    }
}

/// The first argument of an action as a script would write it literally.
fn primary(action: &Action) -> Option<Literal> {
    Some(match action {
        Action::Escalate(a) => Literal::Number(i64::from(a.tier.get())),
        Action::Route(a) => Literal::Text(a.team.clone()),
        Action::SetPriority(a) => Literal::Text(a.priority.as_str().to_owned()),
        Action::Assign(a) => Literal::Text(a.agent.clone()),
        Action::Tag(a) => Literal::Text(a.tag.clone()),
        Action::Notify(a) => Literal::Text(a.channel.clone()),
        Action::Note(a) => Literal::Text(a.text.clone()),
        Action::RequireApproval(a) => Literal::Text(a.kind.clone()),
        Action::RequireChecklist(a) => Literal::Text(a.name.clone()),
        Action::StartLadder(a) => Literal::Text(a.ladder.clone()),
        Action::StopLadder(a) => Literal::Text(a.ladder.clone()),
        _ => return None,
    })
}

/// Whether a record's producer is a policy (so a policy file locates it).
pub(crate) fn policy_name(record: &Record) -> Option<&str> {
    match &record.source {
        Source::Policy { policy, .. } => Some(policy),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Literal {
    Number(i64),
    Text(String),
}

/// One call of a function in a Rhai source.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    line: u32,
    /// The first argument, if it is a plain literal.
    first_arg: Option<Literal>,
}

/// Calls of `name(...)` as a function (not a method, not its definition),
/// outside comments and string literals.
fn calls(src: &str, name: &str) -> Vec<Call> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0usize, 1u32);
    // The previous significant token, to tell `x.name(` and `fn name(` apart.
    let mut prev_dot = false;
    let mut prev_fn = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // Rhai block comments nest.
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        line += u32::from(b[i] == b'\n');
                        i += 1;
                    }
                }
            }
            b'"' | b'`' | b'\'' => {
                let (end, lines, _) = skip_string(b, i);
                line += lines;
                i = end;
                prev_dot = false;
                prev_fn = false;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &src[start..i];
                if word == name && !prev_dot && !prev_fn {
                    let mut j = i;
                    while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                        j += 1;
                    }
                    if b.get(j) == Some(&b'(') {
                        out.push(Call {
                            line,
                            first_arg: first_literal(src, j + 1),
                        });
                    }
                }
                prev_fn = word == "fn";
                prev_dot = false;
            }
            b'.' => {
                prev_dot = true;
                prev_fn = false;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                prev_dot = false;
                prev_fn = false;
                i += 1;
            }
        }
    }
    out
}

/// Skip a string literal starting at `i`; returns the index after it, the
/// newlines inside, and its text if it has no escapes or interpolation.
fn skip_string(b: &[u8], i: usize) -> (usize, u32, Option<String>) {
    let quote = b[i];
    let mut j = i + 1;
    let mut lines = 0;
    let mut plain = true;
    while j < b.len() && b[j] != quote {
        match b[j] {
            b'\\' => {
                plain = false;
                j += 1;
            }
            b'$' if quote == b'`' && b.get(j + 1) == Some(&b'{') => plain = false,
            b'\n' => lines += 1,
            _ => {}
        }
        j += 1;
    }
    let text = (plain && j <= b.len())
        .then(|| String::from_utf8_lossy(&b[i + 1..j.min(b.len())]).into_owned());
    ((j + 1).min(b.len()), lines, text)
}

/// The first argument starting at `i` (just after `(`), if it is a whole
/// literal: a plain string or an integer followed by `,` or `)`.
fn first_literal(src: &str, i: usize) -> Option<Literal> {
    let b = src.as_bytes();
    let mut i = i;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let (lit, end) = match b.get(i)? {
        b'"' | b'`' => {
            let (end, _, text) = skip_string(b, i);
            (Literal::Text(text?), end)
        }
        c if c.is_ascii_digit() || *c == b'-' => {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            let n = src[start..i].replace('_', "").parse().ok()?;
            (Literal::Number(n), i)
        }
        _ => return None,
    };
    let rest = src[end..].trim_start();
    (rest.starts_with(',') || rest.starts_with(')')).then_some(lit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"//! escalate(9, "in a doc comment")
const ON = ["ticket.created"];
fn escalate_twice(t) { t }   /* escalate(8, "x") /* nested */ escalate(7, "y") */
let why = "escalate(6, \"in a string\")";
if ticket.vip {
    escalate(2, why);
} else {
    escalate(3, `Reopened ${ticket.reopen_count} times`);
}
ticket.escalate(5, "method, not the action");
tag("churn-risk");
tag(`${ticket.channel}-post`);
"#;

    #[test]
    fn calls_skip_comments_strings_methods_and_definitions() {
        let lines: Vec<u32> = calls(SRC, "escalate").iter().map(|c| c.line).collect();
        assert_eq!(lines, [6, 8]);
        assert_eq!(
            calls(SRC, "escalate")[0].first_arg,
            Some(Literal::Number(2))
        );
    }

    #[test]
    fn literal_first_arguments_pick_the_call() {
        let tags = calls(SRC, "tag");
        assert_eq!(tags[0].first_arg, Some(Literal::Text("churn-risk".into())));
        assert_eq!(tags[1].first_arg, None, "interpolated: could be anything");
    }

    #[test]
    fn ladder_levels_and_sla_policies_are_found_by_header() {
        let ladders = "[ladders.a]\n[[ladders.a.level]]\nx=1\n[ladders.b]\n[[ladders.b.level]]\n[[ladders.b.level]]\n";
        assert_eq!(in_ladders_file("l", ladders, "b", Some(2)).line, Some(6));
        assert_eq!(in_ladders_file("l", ladders, "b", None).line, Some(4));
        let sla = "[[policy]]\nname = \"vip\"\n[[policy]]\nname = \"standard\"\n";
        assert_eq!(in_sla_file("s", sla, "standard").line, Some(4));
    }
}
