//! The console's queue and escalation matrix from the store's in-memory
//! ticket index ([`escalier_store::summary`]): one pass over compact
//! summaries instead of reading every ticket, and the bodies of the
//! fifty tickets shown only. `None` while the index is being built (the
//! console then reads the store as before).

use escalier_console::queue::{PER_PAGE, QueryChoices, QueuePage, QueueQuery, SlaFilter, Sort};
use escalier_console::{ModelError, QueueRow, SlaState};
use escalier_core::Timestamp;
use escalier_store::summary::{self, Summary};
use jiff::SignedDuration;

use super::{filter, store_error};
use crate::AppState;

fn sla_state(s: summary::SlaState) -> SlaState {
    match s {
        summary::SlaState::Breached => SlaState::Breached,
        summary::SlaState::Running => SlaState::Running,
        summary::SlaState::Paused => SlaState::Paused,
        summary::SlaState::None => SlaState::None,
    }
}

/// The SLA filter, as `escalier_console::queue` applies it to rows.
fn keeps_sla(q: &QueueQuery, s: &Summary, now: Timestamp) -> bool {
    let overdue = s.next_breach.is_some_and(|d| d <= now);
    let breached = s.sla == summary::SlaState::Breached || overdue;
    match q.sla {
        None => true,
        Some(SlaFilter::Breached) => breached,
        Some(SlaFilter::Paused) => s.sla == summary::SlaState::Paused,
        Some(SlaFilter::Ok) => !breached && s.sla != summary::SlaState::Paused,
        Some(SlaFilter::Breaching) => {
            let until = now
                .checked_add(SignedDuration::from_mins(i64::from(q.within)))
                .unwrap_or(now);
            !breached && s.next_breach.is_some_and(|d| d <= until)
        }
    }
}

/// A sort key: smaller first, the ticket id breaking ties.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    /// Tickets with a breach due first, soonest first.
    Breach(bool, Option<Timestamp>),
    /// Most recently updated first.
    Updated(std::cmp::Reverse<Timestamp>),
    Id,
}

pub(crate) fn queue(
    st: &AppState,
    q: &QueueQuery,
    now: Timestamp,
) -> Option<Result<(QueuePage, QueryChoices), ModelError>> {
    let index = st.store.index()?;
    let tf = match filter(&q.base) {
        Ok(f) => f,
        Err(e) => return Some(Err(e)),
    };
    let only_open = q.base.status.is_none();
    let (total, window, choices) = index.read(|slots| {
        let mut teams = std::collections::BTreeSet::new();
        let mut channels = std::collections::BTreeSet::new();
        // The first `keep` tickets in order: a bounded heap for the first
        // pages, every match then a selection for deep ones.
        let keep = q.page.saturating_mul(PER_PAGE);
        let bounded = keep <= 5_000;
        let mut heap: std::collections::BinaryHeap<(Key, &str)> =
            std::collections::BinaryHeap::with_capacity(if bounded { keep + 1 } else { 0 });
        let mut hits: Vec<(Key, &str)> = Vec::new();
        let mut total = 0usize;
        for s in slots.all() {
            let f = &s.facts;
            let base = if only_open {
                s.is_open()
            } else {
                tf.status == Some(s.status)
            } && tf.tier.is_none_or(|t| t.get() == f.tier)
                && tf.priority.is_none_or(|p| p == s.priority)
                && tf
                    .team
                    .as_deref()
                    .is_none_or(|t| f.team.as_deref() == Some(t));
            if !base {
                continue;
            }
            if let Some(t) = &f.team
                && !teams.contains(&**t)
            {
                teams.insert(t.to_string());
            }
            if !channels.contains(&*f.channel) {
                channels.insert(f.channel.to_string());
            }
            if q.channel.as_deref().is_some_and(|c| c != &*f.channel) || !keeps_sla(q, s, now) {
                continue;
            }
            let key = match q.sort {
                Sort::Breach => Key::Breach(s.next_breach.is_none(), s.next_breach),
                Sort::Updated => Key::Updated(std::cmp::Reverse(s.updated_at)),
                Sort::Id => Key::Id,
            };
            total += 1;
            if !bounded {
                hits.push((key, &s.id));
            } else if heap.len() < keep {
                heap.push((key, &s.id));
            } else if heap
                .peek()
                .is_some_and(|top| (&key, &*s.id) < (&top.0, top.1))
            {
                heap.pop();
                heap.push((key, &s.id));
            }
        }
        let pages = total.div_ceil(PER_PAGE).max(1);
        let page = q.page.min(pages);
        let (start, end) = ((page - 1) * PER_PAGE, (page * PER_PAGE).min(total));
        if bounded {
            // Holds every match when the page was clamped (total < keep).
            hits = heap.into_sorted_vec();
        } else {
            // Select the page's window without sorting everything.
            if end < hits.len() && end > 0 {
                hits.select_nth_unstable(end - 1);
                hits.truncate(end);
            }
            if start > 0 && start < hits.len() {
                hits.select_nth_unstable(start);
            }
        }
        hits.truncate(end);
        let mut window: Vec<(Key, &str)> = hits.drain(start.min(hits.len())..).collect();
        window.sort_unstable();
        let ids: Vec<String> = window.into_iter().map(|(_, id)| id.to_owned()).collect();
        teams.extend(q.base.team.clone());
        channels.extend(q.channel.clone());
        let pair = |s: String| (s.clone(), s);
        let choices = QueryChoices {
            teams: teams.into_iter().map(pair).collect(),
            channels: channels.into_iter().map(pair).collect(),
        };
        let rows: Vec<Option<Summary>> = ids.iter().map(|id| slots.get(id).cloned()).collect();
        ((total, page, pages), rows, choices)
    })?;
    let (total, page, pages) = total;
    let mut rows = Vec::with_capacity(window.len());
    for s in window.into_iter().flatten() {
        let subject = match st.store.ticket(&s.id) {
            Ok(t) => t.map(|t| t.subject).unwrap_or_default(),
            Err(e) => return Some(Err(store_error(e))),
        };
        rows.push(QueueRow {
            id: s.id.to_string(),
            subject,
            status: s.status.as_str().to_owned(),
            priority: s.priority.as_str().to_owned(),
            channel: s.facts.channel.to_string(),
            tier: s.facts.tier,
            team: s.facts.team.as_deref().map(str::to_owned),
            sla: sla_state(s.sla),
            next_breach: s.next_breach,
            updated_at: s.updated_at,
        });
    }
    Some(Ok((
        QueuePage {
            rows,
            total,
            page,
            pages,
            truncated: false,
        },
        choices,
    )))
}

/// Open tickets by tier × team and channel × tier.
pub(crate) fn matrix(st: &AppState) -> Option<escalier_console::matrix::Matrix> {
    st.store.index()?.read(|slots| {
        let mut m = escalier_console::matrix::Matrix::default();
        // Count by interned pointers first, then name once per cell.
        let mut cells: std::collections::HashMap<(u8, Option<&str>, &str), u64> =
            std::collections::HashMap::new();
        for s in slots.all().iter().filter(|s| s.is_open()) {
            let f = &s.facts;
            *cells
                .entry((f.tier, f.team.as_deref(), &*f.channel))
                .or_default() += 1;
        }
        for ((tier, team, channel), n) in cells {
            m.add(tier, team, channel, n);
        }
        m
    })
}
