//! The queue's query: filters from the URL, the ones the store cannot
//! apply (channel, SLA state), the order and the page.

use jiff::{SignedDuration, Timestamp};

use crate::model::{BaseFilter, QueueRow, SlaState};

/// Most tickets a queue read looks at; past it the page says so.
pub const SCAN_CAP: usize = 200_000;
pub const PER_PAGE: usize = 50;

/// The SLA-state filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaFilter {
    Breached,
    /// Breaching within `within` minutes (not yet breached).
    Breaching,
    Paused,
    /// Neither breached nor paused.
    Ok,
}

impl SlaFilter {
    pub const ALL: [(SlaFilter, &'static str, &'static str); 4] = [
        (SlaFilter::Breached, "breached", "Breached"),
        (SlaFilter::Breaching, "breaching", "Breaching soon"),
        (SlaFilter::Paused, "paused", "Paused"),
        (SlaFilter::Ok, "ok", "On track"),
    ];

    fn parse(s: &str) -> Option<SlaFilter> {
        Self::ALL
            .iter()
            .find(|(_, n, _)| *n == s)
            .map(|(f, _, _)| *f)
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _, _)| *f == self)
            .map_or("", |(_, n, _)| n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Time to the next breach, soonest (most overdue) first.
    Breach,
    /// Most recently updated first.
    Updated,
    /// Ticket id.
    Id,
}

impl Sort {
    pub const ALL: [(Sort, &'static str, &'static str); 3] = [
        (Sort::Breach, "breach", "Time to breach"),
        (Sort::Updated, "updated", "Last updated"),
        (Sort::Id, "id", "Ticket id"),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _, _)| *f == self)
            .map_or("", |(_, n, _)| n)
    }
}

/// The queue as the URL asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueQuery {
    pub base: BaseFilter,
    pub channel: Option<String>,
    pub sla: Option<SlaFilter>,
    /// Minutes, for `sla=breaching`.
    pub within: u32,
    pub sort: Sort,
    /// 1-based.
    pub page: usize,
}

impl Default for QueueQuery {
    fn default() -> Self {
        QueueQuery {
            base: BaseFilter::default(),
            channel: None,
            sla: None,
            within: 60,
            sort: Sort::Breach,
            page: 1,
        }
    }
}

/// Words fit for a status, priority, channel or team value: short, no
/// control characters.
fn word(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && v.len() <= 100 && !v.chars().any(char::is_control)).then(|| v.to_owned())
}

impl QueueQuery {
    /// Parse the query string. An unknown or malformed parameter is an
    /// error naming it, shown in the page.
    pub fn parse(raw: Option<&str>) -> Result<QueueQuery, String> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|_| "the address's query does not parse".to_owned())?;
        let mut q = QueueQuery::default();
        for (k, v) in pairs {
            if v.is_empty() {
                continue; // an empty select: no filter
            }
            let bad = || format!("`{v}` is not a valid {k}");
            match k.as_str() {
                "status" => q.base.status = Some(word(&v).ok_or_else(bad)?),
                "tier" => {
                    q.base.tier = Some(
                        v.parse::<u8>()
                            .ok()
                            .filter(|t| *t <= 4)
                            .ok_or_else(|| format!("`{v}` is not a tier (0 to 4)"))?,
                    )
                }
                "team" => q.base.team = Some(word(&v).ok_or_else(bad)?),
                "priority" => q.base.priority = Some(word(&v).ok_or_else(bad)?),
                "channel" => q.channel = Some(word(&v).ok_or_else(bad)?),
                "sla" => q.sla = Some(SlaFilter::parse(&v).ok_or_else(bad)?),
                "within" => {
                    q.within = v
                        .parse::<u32>()
                        .ok()
                        .filter(|m| (1..=7 * 24 * 60).contains(m))
                        .ok_or_else(|| format!("`{v}` is not a number of minutes (1 to 10080)"))?
                }
                "sort" => {
                    q.sort = Sort::ALL
                        .iter()
                        .find(|(_, n, _)| *n == v)
                        .map(|(s, _, _)| *s)
                        .ok_or_else(bad)?
                }
                "page" => {
                    q.page = v
                        .parse::<usize>()
                        .ok()
                        .filter(|p| (1..=1_000_000).contains(p))
                        .ok_or_else(|| format!("`{v}` is not a page number"))?
                }
                other => return Err(format!("unknown filter `{other}`")),
            }
        }
        Ok(q)
    }

    /// The query string for this query (page included unless 1).
    pub fn to_query(&self, page: usize) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(s) = &self.base.status {
            pairs.push(("status", s.clone()));
        }
        if let Some(t) = self.base.tier {
            pairs.push(("tier", t.to_string()));
        }
        if let Some(t) = &self.base.team {
            pairs.push(("team", t.clone()));
        }
        if let Some(p) = &self.base.priority {
            pairs.push(("priority", p.clone()));
        }
        if let Some(c) = &self.channel {
            pairs.push(("channel", c.clone()));
        }
        if let Some(s) = self.sla {
            pairs.push(("sla", s.as_str().to_owned()));
            if s == SlaFilter::Breaching {
                pairs.push(("within", self.within.to_string()));
            }
        }
        if self.sort != Sort::Breach {
            pairs.push(("sort", self.sort.as_str().to_owned()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    fn keeps(&self, r: &QueueRow, now: Timestamp) -> bool {
        if let Some(c) = &self.channel
            && &r.channel != c
        {
            return false;
        }
        let overdue = r.next_breach.is_some_and(|d| d <= now);
        let breached = r.sla == SlaState::Breached || overdue;
        match self.sla {
            None => true,
            Some(SlaFilter::Breached) => breached,
            Some(SlaFilter::Paused) => r.sla == SlaState::Paused,
            Some(SlaFilter::Ok) => !breached && r.sla != SlaState::Paused,
            Some(SlaFilter::Breaching) => {
                let until = now
                    .checked_add(SignedDuration::from_mins(i64::from(self.within)))
                    .unwrap_or(now);
                !breached && r.next_breach.is_some_and(|d| d <= until)
            }
        }
    }
}

/// The values the team and channel selects offer: those seen on the
/// listed tickets, and the current selection.
#[derive(Debug, Clone, Default)]
pub struct QueryChoices {
    pub teams: Vec<(String, String)>,
    pub channels: Vec<(String, String)>,
}

impl QueryChoices {
    pub fn from_rows(rows: &[QueueRow], q: &QueueQuery) -> QueryChoices {
        let mut teams = std::collections::BTreeSet::new();
        let mut channels = std::collections::BTreeSet::new();
        for r in rows {
            if let Some(t) = &r.team {
                teams.insert(t.clone());
            }
            channels.insert(r.channel.clone());
        }
        teams.extend(q.base.team.clone());
        channels.extend(q.channel.clone());
        let pair = |s: String| (s.clone(), s);
        QueryChoices {
            teams: teams.into_iter().map(pair).collect(),
            channels: channels.into_iter().map(pair).collect(),
        }
    }
}

/// One page of the queue.
#[derive(Debug, Clone)]
pub struct QueuePage {
    pub rows: Vec<QueueRow>,
    /// Tickets matching the filters.
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    /// The read stopped at [`SCAN_CAP`] tickets.
    pub truncated: bool,
}

/// The queue table's entity tag: it covers what the table shows, not the
/// countdowns' text (the page's script keeps those live). It changes when
/// a row, the page, the simulated clock (`simulated_now`) or which rows
/// are breached changes, so a table polled on a real clock is "not
/// modified" while nothing happened.
pub fn etag(page: &QueuePage, q: &QueueQuery, now: Timestamp, simulated_now: bool) -> String {
    use sha2::{Digest, Sha256};
    let overdue: Vec<&str> = page
        .rows
        .iter()
        .filter(|r| r.next_breach.is_some_and(|d| d <= now))
        .map(|r| r.id.as_str())
        .collect();
    let key = format!(
        "{:?}",
        (
            &page.rows,
            (page.total, page.page, page.pages, page.truncated),
            q,
            simulated_now.then_some(now),
            overdue,
        )
    );
    let d = Sha256::digest(key.as_bytes());
    format!("\"{}\"", crate::session::hex(&d[..16]))
}

/// Filter, order and page what the model listed.
pub fn page(mut rows: Vec<QueueRow>, q: &QueueQuery, now: Timestamp, truncated: bool) -> QueuePage {
    rows.retain(|r| q.keeps(r, now));
    match q.sort {
        Sort::Breach => rows.sort_by(|a, b| {
            // Tickets with a breach due come first, soonest first; then by id.
            (a.next_breach.is_none(), a.next_breach, &a.id).cmp(&(
                b.next_breach.is_none(),
                b.next_breach,
                &b.id,
            ))
        }),
        Sort::Updated => rows.sort_by(|a, b| (b.updated_at, &a.id).cmp(&(a.updated_at, &b.id))),
        Sort::Id => rows.sort_by(|a, b| a.id.cmp(&b.id)),
    }
    let total = rows.len();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page = q.page.min(pages);
    let rows = rows
        .into_iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .collect();
    QueuePage {
        rows,
        total,
        page,
        pages,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, channel: &str, sla: SlaState, breach_in_min: Option<i64>) -> QueueRow {
        let now: Timestamp = "2026-03-02T16:00:00Z".parse().unwrap();
        QueueRow {
            id: id.into(),
            subject: format!("subject {id}"),
            status: "open".into(),
            priority: "high".into(),
            channel: channel.into(),
            tier: 1,
            team: None,
            sla,
            next_breach: breach_in_min.map(|m| now + SignedDuration::from_mins(m)),
            updated_at: now,
        }
    }

    #[test]
    fn the_queue_is_ordered_by_time_to_breach_then_filtered_by_channel_and_sla() {
        let now: Timestamp = "2026-03-02T16:00:00Z".parse().unwrap();
        let rows = vec![
            row("A", "email", SlaState::None, None),
            row("B", "chat", SlaState::Running, Some(90)),
            row("C", "email", SlaState::Running, Some(10)),
            row("D", "email", SlaState::Breached, Some(-5)),
            row("E", "email", SlaState::Paused, None),
        ];
        let q = QueueQuery::default();
        let ids: Vec<_> = page(rows.clone(), &q, now, false)
            .rows
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["D", "C", "B", "A", "E"]);

        let q = QueueQuery::parse(Some("channel=email&sla=breaching&within=30")).unwrap();
        let p = page(rows.clone(), &q, now, false);
        assert_eq!(p.rows.iter().map(|r| &r.id[..]).collect::<Vec<_>>(), ["C"]);
        let q = QueueQuery::parse(Some("sla=breached")).unwrap();
        assert_eq!(page(rows.clone(), &q, now, false).rows[0].id, "D");
        let q = QueueQuery::parse(Some("sla=paused")).unwrap();
        assert_eq!(page(rows, &q, now, false).total, 1);
    }

    #[test]
    fn pages_hold_fifty_and_the_last_page_is_clamped() {
        let now: Timestamp = "2026-03-02T16:00:00Z".parse().unwrap();
        let rows: Vec<_> = (0..120)
            .map(|i| row(&format!("T-{i:03}"), "email", SlaState::None, None))
            .collect();
        let q = QueueQuery::parse(Some("page=3")).unwrap();
        let p = page(rows.clone(), &q, now, false);
        assert_eq!((p.total, p.page, p.pages, p.rows.len()), (120, 3, 3, 20));
        let q = QueueQuery::parse(Some("page=9")).unwrap();
        assert_eq!(page(rows, &q, now, false).page, 3);
    }

    #[test]
    fn the_query_round_trips_and_refuses_what_it_does_not_know() {
        let q =
            QueueQuery::parse(Some("tier=2&team=billing&sla=breaching&within=15&sort=id")).unwrap();
        assert_eq!(QueueQuery::parse(Some(&q.to_query(1))).unwrap(), q);
        assert!(q.to_query(2).ends_with("page=2"));
        assert!(
            QueueQuery::parse(Some("tier=9"))
                .unwrap_err()
                .contains("tier")
        );
        assert!(
            QueueQuery::parse(Some("colour=red"))
                .unwrap_err()
                .contains("colour")
        );
        assert_eq!(
            QueueQuery::parse(Some("tier=&team=")).unwrap(),
            QueueQuery::default()
        );
    }
}
