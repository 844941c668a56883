//! The story of one ticket, from its log: every event, every clock
//! (started, paused, resumed, warned, breached, met), every ladder step,
//! every action and what made it. Behind `escalier explain`.
//!
//! The log records the SLA warnings, breaches and "met"s, but not when a
//! clock started or paused: those are state changes of the ticket. They
//! are recovered by folding the ticket's records with
//! `timers::replay` and the SLA and ladder files given, and comparing the
//! clocks before and after each record. With other files than the ones
//! the log was processed with, those changes are approximate; the
//! recorded events are not.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use escalier_core::event::EventKind;
use escalier_core::sla::{ClockSet, ClockState};
use escalier_core::timers::{self, Books};
use escalier_core::{Action, Record, Source, Ticket, Timestamp};
use serde::Serialize;
use serde_json::Value;

use crate::locate::Location;
use crate::policies::Policies;

/// A ticket's log, told.
#[derive(Debug, Clone, Serialize)]
pub struct Story {
    pub ticket_id: String,
    /// The ticket after its last record (folded from the log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    /// Version of the SLA and ladder files clock changes were derived with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub books: Option<String>,
    pub entries: Vec<Entry>,
}

/// One record of the ticket's log.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// `seq.index`.
    pub pos: String,
    pub at: Timestamp,
    #[serde(rename = "type")]
    pub ty: String,
    /// In words: `escalate to tier 2: VIP customer`.
    pub summary: String,
    pub data: Value,
    pub by: By,
    /// 0 for inputs, 1 for reactions to them, and so on.
    pub depth: u8,
    /// The record this one reacted to (derived records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerRef>,
    /// Where in the policies or data files it comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// What it did to the SLA clocks and ladders.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<String>,
}

/// What produced a record.
#[derive(Debug, Clone, Serialize)]
pub struct By {
    /// `webhook`, `policy`, `plugin`, `system`, `scheduler`, `api`, `clock`.
    pub kind: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TriggerRef {
    pub pos: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub summary: String,
}

/// Tell the story of `ticket_id` from `records` (the whole log, or only
/// the ticket's records, in log order). `books`: SLA and ladder files to
/// recover clock changes with; `policies`: to locate what policies did.
/// `None` if the log has no record of the ticket.
pub fn explain(
    records: impl IntoIterator<Item = Record>,
    ticket_id: &str,
    books: Option<&Books>,
    policies: Option<&Policies>,
) -> Option<Story> {
    explain_with(records, ticket_id, books, &|r, context| {
        policies.and_then(|p| p.locate(r, context))
    })
}

/// The files of a policy set version as the server stores them, by name
/// (`escalation/vip.rhai`, `sla.toml`, `ladders.toml`): locates records
/// the way [`Policies::locate`] does, without compiling the set.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Name → (name as shown: the policies directory joined with it, text).
    files: BTreeMap<String, (String, String)>,
}

impl Sources {
    /// `dir` is shown before each name (`policies/vip.rhai`); empty for none.
    pub fn new(dir: &str, files: impl IntoIterator<Item = (String, String)>) -> Sources {
        let dir = dir.trim_start_matches("./").trim_end_matches('/');
        let files = files
            .into_iter()
            .map(|(name, text)| {
                let shown = if dir.is_empty() {
                    name.clone()
                } else {
                    format!("{dir}/{name}")
                };
                (name, (shown, text))
            })
            .collect();
        Sources { files }
    }

    /// Where `record` came from; `context` as for [`Policies::locate`].
    pub fn locate(&self, record: &Record, context: &[Record]) -> Option<Location> {
        let file = |name: &str| {
            self.files
                .get(name)
                .map(|(shown, text)| (shown.as_str(), text.as_str()))
        };
        let texts = crate::locate::Texts {
            policy: &file,
            sla: file("sla.toml"),
            ladders: file("ladders.toml"),
        };
        crate::locate::locate(record, context, &texts)
    }
}

/// [`explain`] with any way of locating records (`Sources::locate` for a
/// stored policy set, or nothing).
pub fn explain_with(
    records: impl IntoIterator<Item = Record>,
    ticket_id: &str,
    books: Option<&Books>,
    locate: &dyn Fn(&Record, &[Record]) -> Option<Location>,
) -> Option<Story> {
    let mut entries = Vec::new();
    let mut ticket: Option<Ticket> = None;
    // Records of the current seq, for triggers and ladder locations.
    let mut same_seq: Vec<Record> = Vec::new();
    let mut summaries: HashMap<u32, (String, String)> = HashMap::new();
    for r in records {
        if r.event.ticket_id.as_str() != ticket_id {
            continue;
        }
        if same_seq.first().is_some_and(|f| f.seq != r.seq) {
            same_seq.clear();
            summaries.clear();
        }
        let before = ticket
            .as_ref()
            .map(|t| (t.clocks.clone(), t.ladders.clone()));
        ticket = match books {
            Some(b) => timers::replay(ticket.clone(), &r, b).ok().or(ticket),
            None => escalier_core::reduce::apply(ticket.clone(), &r)
                .ok()
                .or(ticket),
        };
        let clocks = match (books, &ticket) {
            (Some(_), Some(t)) => {
                let (c, l) = before.unwrap_or_default();
                let mut out = clock_changes(&c, &t.clocks);
                out.extend(ladder_changes(&l, &t.ladders));
                out
            }
            _ => Vec::new(),
        };
        let summary = summary(&r.event.kind);
        let trigger = trigger_of(&r.source).and_then(|i| {
            summaries.get(&i).map(|(ty, s)| TriggerRef {
                pos: format!("{}.{i}", r.seq),
                ty: ty.clone(),
                summary: s.clone(),
            })
        });
        let location = locate(&r, &same_seq);
        summaries.insert(r.index, (r.event.type_name().to_owned(), summary.clone()));
        entries.push(Entry {
            pos: r.pos().to_string(),
            at: r.recorded_at,
            ty: r.event.type_name().to_owned(),
            summary,
            data: data_of(&r),
            by: by(&r.source),
            depth: r.depth(),
            trigger,
            location,
            clocks,
        });
        same_seq.push(r);
    }
    if entries.is_empty() {
        return None;
    }
    Some(Story {
        ticket_id: ticket_id.to_owned(),
        ticket,
        books: books.map(|b| b.version.clone()),
        entries,
    })
}

fn trigger_of(s: &Source) -> Option<u32> {
    match s {
        Source::Policy { trigger, .. }
        | Source::Plugin { trigger, .. }
        | Source::System { trigger, .. }
        | Source::Clock { trigger, .. } => Some(*trigger),
        _ => None,
    }
}

fn by(s: &Source) -> By {
    let (kind, hash) = match s {
        Source::Webhook { .. } => ("webhook", None),
        Source::Policy { hash, .. } => ("policy", Some(hash.clone())),
        Source::Plugin { hash, version, .. } => ("plugin", Some(format!("{version} {hash}"))),
        Source::System { .. } => ("system", None),
        Source::Scheduler => ("scheduler", None),
        Source::Api { .. } => ("api", None),
        Source::Clock { .. } => ("clock", None),
        _ => ("other", None),
    };
    let name = match s {
        Source::Webhook { delivery: Some(d) } => format!("webhook (delivery {d})"),
        other => other.producer_name().to_owned(),
    };
    By { kind, name, hash }
}

fn data_of(r: &Record) -> Value {
    match serde_json::to_value(&r.event) {
        Ok(Value::Object(mut m)) => m.remove("data").unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// A record in words.
pub fn summary(kind: &EventKind) -> String {
    match kind {
        EventKind::TicketCreated(c) => {
            let mut s = format!(
                "\"{}\" via {}, {} priority, from {}",
                c.subject, c.channel, c.priority, c.requester.id
            );
            if c.requester.vip {
                s.push_str(" (VIP)");
            }
            if let Some(p) = &c.requester.plan {
                let _ = write!(s, ", plan {p}");
            }
            s
        }
        EventKind::TicketUpdated(u) => {
            let mut parts = Vec::new();
            if let Some(p) = u.priority {
                parts.push(format!("priority {p}"));
            }
            if let Some(c) = u.channel {
                parts.push(format!("channel {c}"));
            }
            if let Some(r) = &u.requester {
                parts.push(format!(
                    "requester {}{}",
                    r.id,
                    if r.vip { " (VIP)" } else { "" }
                ));
            }
            if u.subject.is_some() {
                parts.push("subject".into());
            }
            if !u.tags_added.is_empty() {
                parts.push(format!("tags +{}", u.tags_added.join(" +")));
            }
            if !u.tags_removed.is_empty() {
                parts.push(format!("tags -{}", u.tags_removed.join(" -")));
            }
            for (k, v) in &u.fields {
                parts.push(format!("{k} = {v}"));
            }
            format!("updated: {}", parts.join(", "))
        }
        EventKind::CommentAdded(c) => format!(
            "{} {} comment: {}",
            if c.public { "public" } else { "private" },
            c.author.kind,
            clip(&c.body, 80)
        ),
        EventKind::StatusChanged(s) => match &s.reason {
            Some(r) => format!("status {} ({r})", s.status),
            None => format!("status {}", s.status),
        },
        EventKind::TicketAssigned(a) => {
            let who: Vec<&str> = [a.team.as_deref(), a.agent.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            format!("assigned to {}", who.join(" / "))
        }
        EventKind::CsatReceived(c) => match &c.comment {
            Some(t) => format!("CSAT {}: {}", c.score, clip(t, 60)),
            None => format!("CSAT {}", c.score),
        },
        EventKind::Action(a) => action_summary(a),
        EventKind::PolicyError(e) => format!("{} failed: {} ({})", e.policy, e.message, e.code),
        EventKind::PluginError(e) => format!("{} failed: {} ({})", e.plugin, e.message, e.code),
        EventKind::SlaWarning(f) | EventKind::SlaBreached(f) => {
            let what = if matches!(kind, EventKind::SlaWarning(_)) {
                "warning"
            } else {
                "breached"
            };
            format!(
                "{} {what} ({} {:#}, due {}{})",
                f.clock,
                f.sla.as_deref().unwrap_or("no SLA"),
                f.target,
                f.due,
                if f.late { ", fired late" } else { "" }
            )
        }
        EventKind::SlaMet(m) => format!(
            "{} met after {:#}{}",
            m.clock,
            m.elapsed,
            if m.breached { ", late" } else { "" }
        ),
        EventKind::LadderLevelReached(l) => format!(
            "ladder {} level {}/{} (walk {}){}",
            l.ladder,
            l.level,
            l.levels,
            l.cycle + 1,
            l.next_at
                .map(|t| format!(", next step {t}"))
                .unwrap_or_default()
        ),
        EventKind::LadderExhausted(l) => {
            format!("ladder {} exhausted after {} levels", l.ladder, l.reached)
        }
        EventKind::LadderAcknowledged(a) => format!(
            "{} acknowledged {}",
            a.by,
            a.ladder.as_deref().unwrap_or("every running ladder")
        ),
        EventKind::ClockDue(d) => format!("clock tick for {}", d.key),
        EventKind::ClockRebound(r) => format!("SLA/ladder files changed ({} -> {})", r.from, r.to),
        EventKind::ApprovalDecided(d) => {
            format!("approval {} {:?} by {}", d.approval_id, d.decision, d.by).to_lowercase()
        }
        other => other.type_name().to_owned(),
    }
}

fn action_summary(a: &Action) -> String {
    match a {
        Action::Escalate(e) => format!("escalate to tier {}: {}", e.tier, e.reason),
        Action::Route(r) => format!("route to {}: {}", r.team, r.reason),
        Action::SetPriority(p) => format!("set priority {}", p.priority),
        Action::Assign(x) => format!("assign to {}", x.agent),
        Action::Tag(t) => format!("tag {}", t.tag),
        Action::Notify(n) => format!("notify {}: {}", n.channel, clip(&n.message, 80)),
        Action::Note(n) => format!("note: {}", clip(&n.text, 80)),
        Action::RequireApproval(r) => format!("require {} approval: {}", r.kind, r.reason),
        Action::RequireChecklist(c) => format!("require checklist {}", c.name),
        Action::StartLadder(l) => format!("start ladder {}: {}", l.ladder, l.reason),
        Action::StopLadder(l) => format!("stop ladder {}: {}", l.ladder, l.reason),
        other => other.type_name().to_owned(),
    }
}

fn clip(s: &str, n: usize) -> String {
    let s = s.replace('\n', " ");
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

fn state_word(s: ClockState) -> &'static str {
    match s {
        ClockState::Running => "running",
        ClockState::Paused => "paused",
        ClockState::Met => "met",
        ClockState::Cancelled => "cancelled",
    }
}

/// How the SLA clocks changed between two states of the ticket.
fn clock_changes(before: &ClockSet, after: &ClockSet) -> Vec<String> {
    let mut out = Vec::new();
    if before.policy() != after.policy() {
        out.push(format!(
            "SLA policy {} -> {}",
            before.policy().unwrap_or("none"),
            after.policy().unwrap_or("none")
        ));
    }
    let target = |c: &escalier_core::sla::SlaClock| {
        c.target()
            .map(|t| format!(" (target {t:#})"))
            .unwrap_or_default()
    };
    for c in after.clocks() {
        let kind = c.kind();
        match before.clock(kind) {
            None => out.push(format!(
                "{kind} started, {}{}",
                state_word(c.state()),
                target(c)
            )),
            Some(b) if b.cycle() != c.cycle() => out.push(format!(
                "{kind} cycle {} started, {}{}",
                c.cycle(),
                state_word(c.state()),
                target(c)
            )),
            Some(b) => {
                if b.state() != c.state() {
                    let word = match (b.state(), c.state()) {
                        (ClockState::Paused, ClockState::Running) => "resumed".to_owned(),
                        (
                            ClockState::Met | ClockState::Cancelled,
                            ClockState::Running | ClockState::Paused,
                        ) => {
                            format!("reactivated, {}", state_word(c.state()))
                        }
                        (_, s) => state_word(s).to_owned(),
                    };
                    out.push(format!("{kind} {word} at {:#} elapsed", c.elapsed()));
                }
                if b.target() != c.target() {
                    out.push(format!("{kind} retargeted{}", target(c)));
                }
                if !b.breached() && c.breached() {
                    out.push(format!("{kind} breached"));
                } else if !b.warned() && c.warned() {
                    out.push(format!("{kind} warned"));
                }
            }
        }
    }
    out
}

/// How the ladder runs changed between two states of the ticket.
fn ladder_changes(
    before: &escalier_core::ladder::LadderSet,
    after: &escalier_core::ladder::LadderSet,
) -> Vec<String> {
    let mut out = Vec::new();
    for r in after.runs() {
        match before.run(r.ladder()) {
            Some(b) if b.run() == r.run() => {
                if b.state() != r.state() {
                    let state = serde_json::to_value(r.state()).ok();
                    let word = state.as_ref().and_then(Value::as_str).unwrap_or("changed");
                    out.push(format!("ladder {} {word}", r.ladder()));
                }
            }
            _ => out.push(format!("ladder {} started (run {})", r.ladder(), r.run())),
        }
    }
    out
}

/// The story as text, one block per record.
pub fn render(story: &Story) -> String {
    let mut out = String::new();
    if let Some(t) = &story.ticket {
        let _ = writeln!(
            out,
            "ticket {}: \"{}\" ({}, {} priority, tier {}, {}{})",
            t.id,
            t.subject,
            t.channel,
            t.priority,
            t.tier,
            t.status,
            t.team
                .as_deref()
                .map(|team| format!(", team {team}"))
                .unwrap_or_default()
        );
        if let Some(sla) = t.clocks.policy() {
            let _ = writeln!(
                out,
                "SLA policy {sla}; {} breach(es) recorded",
                t.sla_breaches
            );
        }
    } else {
        let _ = writeln!(out, "ticket {}", story.ticket_id);
    }
    let _ = writeln!(out);
    for e in &story.entries {
        let indent = "  ".repeat(usize::from(e.depth));
        let _ = writeln!(
            out,
            "{}  {:<8} {indent}{}  {}",
            e.at, e.pos, e.ty, e.summary
        );
        let pad = " ".repeat(33);
        let mut origin = match (e.by.kind, &e.by.hash) {
            ("policy", Some(h)) => format!("by policy {} ({h})", e.by.name),
            ("plugin", Some(h)) => format!("by plugin {} {h}", e.by.name),
            (_, _) => format!("by {}", e.by.name),
        };
        if let Some(l) = &e.location {
            let _ = write!(origin, " at {l}");
        }
        if let Some(t) = &e.trigger {
            let _ = write!(origin, ", reacting to {} {}", t.pos, t.ty);
        }
        if e.depth > 0 {
            let _ = write!(origin, ", depth {}", e.depth);
        }
        let _ = writeln!(out, "{pad}{indent}{origin}");
        for c in &e.clocks {
            let _ = writeln!(out, "{pad}{indent}clock: {c}");
        }
    }
    out
}
