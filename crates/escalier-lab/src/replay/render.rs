//! A replay report for people: what was replayed with what, the counts by
//! record type and by policy, then each ticket's differences.

use std::fmt::Write;

use super::ReplayReport;
use crate::diff::{Counts, Item, Trigger};

/// The report as text; at most `limit` tickets are listed in detail.
pub fn render(r: &ReplayReport, limit: usize) -> String {
    let mut out = String::new();
    let w = &r.window;
    match (w.first_seq, w.last_seq, w.first_at, w.last_at) {
        (Some(a), Some(b), Some(t0), Some(t1)) => {
            let _ = writeln!(
                out,
                "replayed seq {a}..={b} ({t0} .. {t1}): {} inputs from outside",
                r.counts.inputs
            );
        }
        _ => {
            let _ = writeln!(out, "nothing to replay: no input in the window");
        }
    }
    let c = &r.candidate;
    let _ = writeln!(
        out,
        "candidate: {} ({} policies, set {}, SLA and ladder files {})",
        c.policies_dir,
        c.policies.len(),
        c.version,
        c.books
    );
    if !c.plugins.is_empty() {
        let names: Vec<String> = c
            .plugins
            .iter()
            .map(|p| format!("{} {} ({})", p.name, p.version, p.hash))
            .collect();
        let _ = writeln!(out, "plugins: {}", names.join(", "));
    }
    let n = &r.counts;
    let _ = writeln!(
        out,
        "compared {} recorded derived records with {} replayed; {} clock ticks re-fired ({} recorded scheduler inputs not fed)",
        n.recorded, n.replayed, n.ticks, n.scheduler_inputs
    );
    if n.before_window > 0 || n.after_window > 0 {
        let _ = writeln!(
            out,
            "{} inputs before the window folded as recorded; {} after it ignored",
            n.before_window, n.after_window
        );
    }
    for note in &r.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(out);
    table(
        &mut out,
        "record type",
        r.summary.by_type.iter(),
        &r.summary.total,
    );
    let _ = writeln!(out);
    table(
        &mut out,
        "producer",
        r.summary.by_policy.iter(),
        &r.summary.total,
    );
    let _ = writeln!(out);
    if r.tickets.is_empty() {
        let _ = writeln!(
            out,
            "no differences: the candidate does exactly what was recorded"
        );
        return out;
    }
    let _ = writeln!(out, "{} tickets differ:", r.tickets.len());
    for t in r.tickets.iter().take(limit) {
        let _ = writeln!(out, "\n{}", t.ticket_id);
        for i in &t.removed {
            let _ = writeln!(out, "  - removed {}", item(i));
        }
        for i in &t.added {
            let _ = writeln!(out, "  + added   {}", item(i));
        }
        for ch in &t.changed {
            let _ = writeln!(
                out,
                "  ~ changed {} {}",
                ch.before.ty,
                trigger(&ch.before.trigger)
            );
            for f in &ch.fields {
                let (before, after) = if f == "by" {
                    (ch.before.by.clone(), ch.after.by.clone())
                } else {
                    (
                        ch.before.data[f.as_str()].to_string(),
                        ch.after.data[f.as_str()].to_string(),
                    )
                };
                let _ = writeln!(out, "      {f}: {before} -> {after}");
            }
        }
    }
    if r.tickets.len() > limit {
        let _ = writeln!(
            out,
            "\n... and {} more tickets (--limit N to list more, --format json for everything)",
            r.tickets.len() - limit
        );
    }
    out
}

fn table<'a>(
    out: &mut String,
    title: &str,
    rows: impl Iterator<Item = (&'a String, &'a Counts)>,
    total: &Counts,
) {
    let rows: Vec<(&String, &Counts)> = rows.collect();
    let width = rows
        .iter()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0)
        .max(title.len())
        .max(5);
    let _ = writeln!(
        out,
        "{title:<width$}  {:>8} {:>8} {:>8} {:>10}",
        "added", "removed", "changed", "unchanged"
    );
    for (k, c) in rows
        .iter()
        .chain(std::iter::once(&(&"total".to_owned(), total)))
    {
        let _ = writeln!(
            out,
            "{k:<width$}  {:>8} {:>8} {:>8} {:>10}",
            c.added, c.removed, c.changed, c.unchanged
        );
    }
}

fn item(i: &Item) -> String {
    let mut data = i.data.to_string();
    if data.len() > 120 {
        let cut = (0..=117)
            .rev()
            .find(|n| data.is_char_boundary(*n))
            .unwrap_or(0);
        data.truncate(cut);
        data.push_str("...");
    }
    format!("{} {data} by {} {}", i.ty, i.by, trigger(&i.trigger))
}

fn trigger(t: &Trigger) -> String {
    match t {
        Trigger::Input {
            seq,
            event_id,
            ty,
            at,
        } => format!("(after {ty} {event_id}, seq {seq}, {at})"),
        Trigger::Clock {
            key,
            at,
            seq: Some(seq),
        } => format!("(clock {key} at {at}, seq {seq})"),
        Trigger::Clock { key, at, seq: None } => format!("(clock {key} at {at})"),
        Trigger::Rebound { seq, at } => format!("(SLA/ladder reload, seq {seq}, {at})"),
    }
}
