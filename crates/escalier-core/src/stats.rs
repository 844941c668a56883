//! Follow-up and review figures over tickets, pure: escalation rate, time
//! to first response and to resolution, SLA breaches, CSAT with and
//! without escalation. Behind `GET /v1/stats`. Every definition is in
//! `docs/stats.md`; the code follows it line by line.

use std::collections::BTreeMap;

use crate::sla::ClockKind;
use crate::{Status, Ticket, Timestamp};
use serde::Serialize;

/// The figures for tickets created in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub from: Timestamp,
    pub to: Timestamp,
    /// Tickets created in the period.
    pub tickets: u64,
    pub escalation: Escalation,
    /// Creation to first public agent reply, by tier reached.
    pub first_response: ByTier,
    /// Creation to resolution (solved, or closed without being solved),
    /// for tickets solved or closed now, by tier reached.
    pub resolution: ByTier,
    /// SLA outcomes by the SLA policy in force on each ticket.
    pub sla: BTreeMap<String, SlaFigures>,
    pub csat: CsatFigures,
}

/// Escalated tickets among those created.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Escalation {
    pub overall: Rate,
    pub by_channel: BTreeMap<String, Rate>,
    /// By the team the ticket is with now (`(none)`: no team).
    pub by_team: BTreeMap<String, Rate>,
    /// Tickets by the highest tier they reached (their tier now).
    pub by_tier_reached: BTreeMap<String, Share>,
    /// By the UTC day the ticket was created (`2026-03-01`): the rate
    /// over time. Days without tickets are absent.
    pub by_day: BTreeMap<String, Rate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Rate {
    pub tickets: u64,
    pub escalated: u64,
    /// `escalated / tickets`; 0 when there are no tickets.
    pub rate: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Share {
    pub tickets: u64,
    /// Of all tickets created in the period.
    pub share: f64,
}

/// Durations overall and by tier reached.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ByTier {
    pub all: Durations,
    pub by_tier_reached: BTreeMap<String, Durations>,
}

/// Wall-clock durations in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Durations {
    /// Tickets with the duration.
    pub count: u64,
    /// Tickets of the group without it yet (no reply, not resolved).
    pub missing: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p90_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SlaFigures {
    /// Tickets this SLA policy applies to now.
    pub tickets: u64,
    /// Of those, tickets with at least one breached clock.
    pub tickets_breached: u64,
    /// Breached clocks by kind (`first_response`, ...), latest cycle of each.
    pub breaches_by_clock: BTreeMap<String, u64>,
    /// `sla.breached` events on these tickets, every cycle counted.
    pub breach_events: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct CsatFigures {
    /// Ratings given after the ticket's first escalation.
    pub after_escalation: Score,
    /// Ratings given on tickets not escalated when they rated.
    pub without_escalation: Score,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Score {
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
}

/// What the figures need to know about one ticket: a few fields, so an
/// index can keep them for every ticket and recompute the figures without
/// reading the tickets ([`Facts::of`] then [`from_facts`] is exactly
/// [`stats`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub created_at: Timestamp,
    /// When a hierarchical escalation first raised the tier.
    pub escalated_at: Option<Timestamp>,
    pub channel: std::sync::Arc<str>,
    pub team: Option<std::sync::Arc<str>>,
    /// The tier now (the tier reached).
    pub tier: u8,
    pub first_response_at: Option<Timestamp>,
    /// Solved (last time) or closed without being solved, when the
    /// ticket is solved or closed now.
    pub resolved_at: Option<Timestamp>,
    /// The SLA policy in force now, if any.
    pub sla: Option<std::sync::Arc<str>>,
    /// Breached clocks (latest cycle of each), by kind.
    pub breached: Vec<ClockKind>,
    /// `sla.breached` events, every cycle counted.
    pub sla_breaches: u32,
    /// The latest rating: when and its score.
    pub csat: Option<(Timestamp, i64)>,
}

impl Facts {
    pub fn of(t: &Ticket) -> Facts {
        Facts {
            created_at: t.created_at,
            escalated_at: t.escalations.first().map(|e| e.at),
            channel: t.channel.as_str().into(),
            team: t.team.as_deref().map(Into::into),
            tier: t.tier.get(),
            first_response_at: t.first_response_at,
            resolved_at: match t.status {
                Status::Solved | Status::Closed => t.solved_at.or(t.closed_at),
                _ => None,
            },
            sla: t.clocks.policy().map(Into::into),
            breached: t
                .clocks
                .clocks()
                .iter()
                .filter(|c| c.breached())
                .map(|c| c.kind())
                .collect(),
            sla_breaches: t.sla_breaches,
            csat: t.csat.as_ref().map(|c| (c.at, c.score)),
        }
    }
}

/// The figures for tickets created in `[from, to)`.
pub fn stats<'a>(
    tickets: impl Iterator<Item = &'a Ticket>,
    from: Timestamp,
    to: Timestamp,
) -> Stats {
    let facts: Vec<Facts> = tickets
        .filter(|t| t.created_at >= from && t.created_at < to)
        .map(Facts::of)
        .collect();
    from_facts(facts.iter(), from, to)
}

/// The figures for the tickets (as [`Facts`]) created in `[from, to)`.
pub fn from_facts<'a>(
    tickets: impl Iterator<Item = &'a Facts>,
    from: Timestamp,
    to: Timestamp,
) -> Stats {
    let mut esc = Escalation::default();
    // Keyed by tier: no string per ticket.
    let mut tiers: BTreeMap<u8, u64> = BTreeMap::new();
    let mut first_all: (Vec<i64>, u64) = Default::default();
    let mut resolved_all: (Vec<i64>, u64) = Default::default();
    let mut first: BTreeMap<u8, (Vec<i64>, u64)> = BTreeMap::new();
    let mut resolved: BTreeMap<u8, (Vec<i64>, u64)> = BTreeMap::new();
    let mut sla: Named<'_, (SlaFigures, [u64; ClockKind::ALL.len()])> = Named::default();
    let mut by_channel: Named<'_, Rate> = Named::default();
    let mut by_team: Named<'_, Rate> = Named::default();
    let mut no_team = Rate::default();
    let mut by_day: BTreeMap<i64, Rate> = BTreeMap::new();
    let mut csat = [(0u64, 0i64); 2];
    let mut n = 0u64;
    for t in tickets.filter(|t| t.created_at >= from && t.created_at < to) {
        n += 1;
        let escalated = t.escalated_at.is_some();
        count(&mut esc.overall, escalated);
        count(by_channel.slot(&t.channel), escalated);
        match &t.team {
            Some(team) => count(by_team.slot(team), escalated),
            None => count(&mut no_team, escalated),
        }
        count(
            by_day
                .entry(t.created_at.as_second().div_euclid(86_400))
                .or_default(),
            escalated,
        );
        *tiers.entry(t.tier).or_default() += 1;

        let reply = t.first_response_at.map(|at| secs(t.created_at, at));
        add(&mut first_all, reply);
        add(first.entry(t.tier).or_default(), reply);
        let resolution = t.resolved_at.map(|at| secs(t.created_at, at));
        add(&mut resolved_all, resolution);
        add(resolved.entry(t.tier).or_default(), resolution);

        if let Some(policy) = &t.sla {
            let (f, by_clock) = sla.slot(policy);
            f.tickets += 1;
            f.breach_events += u64::from(t.sla_breaches);
            for kind in &t.breached {
                if let Some(i) = ClockKind::ALL.iter().position(|k| k == kind) {
                    by_clock[i] += 1;
                }
            }
            f.tickets_breached += u64::from(!t.breached.is_empty());
        }

        if let Some((at, score)) = t.csat {
            let after = t.escalated_at.is_some_and(|e| at >= e);
            let slot = &mut csat[usize::from(!after)];
            slot.0 += 1;
            slot.1 += score;
        }
    }
    esc.by_channel = by_channel.into_map();
    esc.by_team = by_team.into_map();
    if no_team.tickets > 0 {
        let e = esc.by_team.entry("(none)".to_owned()).or_default();
        e.tickets += no_team.tickets;
        e.escalated += no_team.escalated;
    }
    let sla: BTreeMap<String, SlaFigures> = sla
        .into_map()
        .into_iter()
        .map(|(name, (mut f, by_clock))| {
            for (kind, n) in ClockKind::ALL.iter().zip(by_clock) {
                if n > 0 {
                    f.breaches_by_clock.insert(kind.as_str().to_owned(), n);
                }
            }
            (name, f)
        })
        .collect();
    let tiered = |all: (Vec<i64>, u64), by: BTreeMap<u8, (Vec<i64>, u64)>| ByTier {
        all: durations(all),
        by_tier_reached: by
            .into_iter()
            .map(|(k, v)| (k.to_string(), durations(v)))
            .collect(),
    };
    esc.by_day = by_day
        .into_iter()
        .filter_map(|(day, r)| {
            let at = Timestamp::from_second(day * 86_400).ok()?;
            Some((at.strftime("%Y-%m-%d").to_string(), r))
        })
        .collect();
    finish_rate(&mut esc.overall);
    esc.by_channel.values_mut().for_each(finish_rate);
    esc.by_team.values_mut().for_each(finish_rate);
    esc.by_day.values_mut().for_each(finish_rate);
    esc.by_tier_reached = tiers
        .into_iter()
        .map(|(k, c)| {
            (
                k.to_string(),
                Share {
                    tickets: c,
                    share: ratio(c, n),
                },
            )
        })
        .collect();
    Stats {
        from,
        to,
        tickets: n,
        escalation: esc,
        first_response: tiered(first_all, first),
        resolution: tiered(resolved_all, resolved),
        sla,
        csat: CsatFigures {
            after_escalation: score(csat[0]),
            without_escalation: score(csat[1]),
        },
    }
}

/// Values by name, for the few names a period has (channels, teams, SLA
/// policies): found by address first (the index shares one allocation per
/// name), then by content; a map takes over past a few dozen names.
struct Named<'a, T> {
    keys: Vec<&'a str>,
    values: Vec<T>,
    map: std::collections::HashMap<&'a str, usize>,
}

impl<T> Default for Named<'_, T> {
    fn default() -> Self {
        Named {
            keys: Vec::new(),
            values: Vec::new(),
            map: std::collections::HashMap::new(),
        }
    }
}

impl<'a, T: Default> Named<'a, T> {
    fn slot(&mut self, k: &'a str) -> &mut T {
        let i = if self.keys.len() > 32 {
            match self.map.get(k) {
                Some(i) => *i,
                None => self.push(k),
            }
        } else {
            let same = |x: &&str| std::ptr::eq(x.as_ptr(), k.as_ptr()) && x.len() == k.len();
            match self.keys.iter().position(same) {
                Some(i) => i,
                None => match self.keys.iter().position(|x| *x == k) {
                    Some(i) => i,
                    None => self.push(k),
                },
            }
        };
        &mut self.values[i]
    }

    fn push(&mut self, k: &'a str) -> usize {
        let i = self.keys.len();
        if i == 32 {
            self.map = self.keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        }
        if i >= 32 {
            self.map.insert(k, i);
        }
        self.keys.push(k);
        self.values.push(T::default());
        i
    }

    fn into_map(self) -> BTreeMap<String, T> {
        self.keys
            .into_iter()
            .map(str::to_owned)
            .zip(self.values)
            .collect()
    }
}

fn count(r: &mut Rate, escalated: bool) {
    r.tickets += 1;
    r.escalated += u64::from(escalated);
}

fn finish_rate(r: &mut Rate) {
    r.rate = ratio(r.escalated, r.tickets);
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn secs(from: Timestamp, to: Timestamp) -> i64 {
    to.duration_since(from).as_secs().max(0)
}

fn add(slot: &mut (Vec<i64>, u64), d: Option<i64>) {
    match d {
        Some(d) => slot.0.push(d),
        None => slot.1 += 1,
    }
}

fn durations((mut v, missing): (Vec<i64>, u64)) -> Durations {
    Durations {
        count: v.len() as u64,
        missing,
        median_seconds: nearest_rank_unsorted(&mut v, 50),
        p90_seconds: nearest_rank_unsorted(&mut v, 90),
    }
}

/// [`nearest_rank`] without sorting: a selection, linear in the values
/// (the figures over a million tickets need no sort). Reorders `v`.
fn nearest_rank_unsorted(v: &mut [i64], p: u64) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let rank = (p as usize * v.len()).div_ceil(100).max(1);
    let (_, x, _) = v.select_nth_unstable(rank - 1);
    Some(*x)
}

/// The nearest-rank percentile: the smallest value with at least `p`% of
/// the values at or below it. `sorted` is ascending.
#[cfg(test)]
fn nearest_rank(sorted: &[i64], p: u64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p as usize * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn score((count, sum): (u64, i64)) -> Score {
    Score {
        count,
        average: (count > 0).then(|| sum as f64 / count as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_counted_once_each_past_the_switch_to_a_map() {
        let names: Vec<String> = (0..100).map(|i| format!("team-{i}")).collect();
        let mut n: Named<'_, u64> = Named::default();
        for round in 0..3 {
            for (i, name) in names.iter().enumerate() {
                // Equal content, other allocation: still the same name.
                let copy = if round == 1 {
                    name.clone()
                } else {
                    name.to_string()
                };
                let copy: &str = Box::leak(copy.into_boxed_str());
                *n.slot(if round == 0 { name } else { copy }) += 1;
                assert!(n.keys.len() <= i + 1 + if round == 0 { 0 } else { 100 });
            }
        }
        let m = n.into_map();
        assert_eq!(m.len(), 100);
        assert!(m.values().all(|c| *c == 3));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(nearest_rank(&v, 50), Some(50));
        assert_eq!(nearest_rank(&v, 90), Some(90));
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        assert_eq!(nearest_rank(&[], 50), None);
        let mut shuffled = [70, 10, 100, 40, 30, 90, 20, 60, 80, 50];
        assert_eq!(nearest_rank_unsorted(&mut shuffled, 50), Some(50));
        assert_eq!(nearest_rank_unsorted(&mut shuffled, 90), Some(90));
        assert_eq!(nearest_rank_unsorted(&mut [], 90), None);
    }
}
