//! Follow-up and review figures over tickets, pure: escalation rate, time
//! to first response and to resolution, SLA breaches, CSAT with and
//! without escalation. Behind `GET /v1/stats`. Every definition is in
//! `docs/stats.md`; the code follows it line by line.

use std::collections::BTreeMap;

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

/// The figures for tickets created in `[from, to)`.
pub fn stats<'a>(
    tickets: impl Iterator<Item = &'a Ticket>,
    from: Timestamp,
    to: Timestamp,
) -> Stats {
    let mut esc = Escalation::default();
    let mut tiers: BTreeMap<String, u64> = BTreeMap::new();
    let mut first: BTreeMap<String, (Vec<i64>, u64)> = BTreeMap::new();
    let mut resolved: BTreeMap<String, (Vec<i64>, u64)> = BTreeMap::new();
    let mut sla: BTreeMap<String, SlaFigures> = BTreeMap::new();
    let mut csat = [(0u64, 0i64); 2];
    let mut n = 0u64;
    for t in tickets.filter(|t| t.created_at >= from && t.created_at < to) {
        n += 1;
        let escalated_at = t.escalations.first().map(|e| e.at);
        let escalated = escalated_at.is_some();
        let tier = t.tier.get().to_string();
        count(&mut esc.overall, escalated);
        count(
            esc.by_channel.entry(t.channel.to_string()).or_default(),
            escalated,
        );
        let team = t.team.clone().unwrap_or_else(|| "(none)".to_owned());
        count(esc.by_team.entry(team).or_default(), escalated);
        *tiers.entry(tier.clone()).or_default() += 1;

        let reply = t.first_response_at.map(|at| secs(t.created_at, at));
        for key in ["all".to_owned(), tier.clone()] {
            add(first.entry(key).or_default(), reply);
        }
        let resolution = match t.status {
            Status::Solved | Status::Closed => {
                t.solved_at.or(t.closed_at).map(|at| secs(t.created_at, at))
            }
            _ => None,
        };
        for key in ["all".to_owned(), tier.clone()] {
            add(resolved.entry(key).or_default(), resolution);
        }

        if let Some(policy) = t.clocks.policy() {
            let f = sla.entry(policy.to_owned()).or_default();
            f.tickets += 1;
            f.breach_events += u64::from(t.sla_breaches);
            let mut any = false;
            for c in t.clocks.clocks().iter().filter(|c| c.breached()) {
                any = true;
                *f.breaches_by_clock
                    .entry(c.kind().as_str().to_owned())
                    .or_default() += 1;
            }
            f.tickets_breached += u64::from(any);
        }

        if let Some(c) = &t.csat {
            let after = escalated_at.is_some_and(|e| c.at >= e);
            let slot = &mut csat[usize::from(!after)];
            slot.0 += 1;
            slot.1 += c.score;
        }
    }
    finish_rate(&mut esc.overall);
    esc.by_channel.values_mut().for_each(finish_rate);
    esc.by_team.values_mut().for_each(finish_rate);
    esc.by_tier_reached = tiers
        .into_iter()
        .map(|(k, c)| {
            (
                k,
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
        first_response: by_tier(first),
        resolution: by_tier(resolved),
        sla,
        csat: CsatFigures {
            after_escalation: score(csat[0]),
            without_escalation: score(csat[1]),
        },
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

fn by_tier(mut groups: BTreeMap<String, (Vec<i64>, u64)>) -> ByTier {
    let all = groups.remove("all").map(durations).unwrap_or_default();
    ByTier {
        all,
        by_tier_reached: groups.into_iter().map(|(k, v)| (k, durations(v))).collect(),
    }
}

fn durations((mut v, missing): (Vec<i64>, u64)) -> Durations {
    v.sort_unstable();
    Durations {
        count: v.len() as u64,
        missing,
        median_seconds: nearest_rank(&v, 50),
        p90_seconds: nearest_rank(&v, 90),
    }
}

/// The nearest-rank percentile: the smallest value with at least `p`% of
/// the values at or below it. `sorted` is ascending.
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
    fn nearest_rank_percentiles() {
        let v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(nearest_rank(&v, 50), Some(50));
        assert_eq!(nearest_rank(&v, 90), Some(90));
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        assert_eq!(nearest_rank(&[], 50), None);
    }
}
