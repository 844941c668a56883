//! The escalation matrix: open tickets by tier × team and by channel ×
//! tier, each count a link to the queue filtered to those tickets.

use std::collections::{BTreeMap, BTreeSet};

use maud::{Markup, html};

use crate::pages::{Viewer, layout};

/// Open tickets counted two ways.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matrix {
    /// (tier, team; `None`: no team) → open tickets.
    pub tier_team: BTreeMap<(u8, Option<String>), u64>,
    /// (channel, tier) → open tickets.
    pub channel_tier: BTreeMap<(String, u8), u64>,
    /// Open tickets counted.
    pub open: u64,
    /// The count stopped early (the model read at most so many tickets).
    pub truncated: bool,
}

impl Matrix {
    /// Count `n` open tickets at `tier`, with `team`, from `channel`.
    pub fn add(&mut self, tier: u8, team: Option<&str>, channel: &str, n: u64) {
        *self
            .tier_team
            .entry((tier, team.map(str::to_owned)))
            .or_default() += n;
        *self
            .channel_tier
            .entry((channel.to_owned(), tier))
            .or_default() += n;
        self.open += n;
    }

    fn tiers(&self) -> BTreeSet<u8> {
        self.tier_team
            .keys()
            .map(|(t, _)| *t)
            .chain(self.channel_tier.keys().map(|(_, t)| *t))
            .collect()
    }
}

/// The queue's address for these filters.
pub fn queue_link(filters: &[(&str, String)]) -> String {
    let q = serde_urlencoded::to_string(filters).unwrap_or_default();
    if q.is_empty() {
        "/".to_owned()
    } else {
        format!("/?{q}")
    }
}

/// A count, linked to the queue when a filter can select exactly its
/// tickets.
fn cell(n: u64, link: Option<String>, label: &str) -> Markup {
    html! {
        td.num {
            @if n == 0 { span.zero aria-label=(format!("{label}: none")) { "·" } }
            @else {
                @match link {
                    Some(href) => a href=(href) aria-label=(format!("{label}: {n} open tickets")) { (n) },
                    None => span title="The queue cannot filter on “no team”" { (n) },
                }
            }
        }
    }
}

/// The matrix page.
pub fn page(viewer: &Viewer<'_>, m: &Matrix) -> Markup {
    let tiers = m.tiers();
    let teams: BTreeSet<Option<String>> = m.tier_team.keys().map(|(_, t)| t.clone()).collect();
    let channels: BTreeSet<String> = m.channel_tier.keys().map(|(c, _)| c.clone()).collect();
    let team_name = |t: &Option<String>| t.clone().unwrap_or_else(|| "(no team)".to_owned());
    layout(
        "Escalation matrix",
        Some(viewer),
        "matrix",
        html! {
            h1 { "Escalation matrix" }
            p { (m.open) " open tickets (every status but solved and closed). Each count opens the queue filtered to those tickets." }
            @if m.truncated {
                p.notice role="status" { "Only the first " (crate::queue::SCAN_CAP) " tickets were counted." }
            }
            @if m.open == 0 { p { "No open ticket." } } @else {
                section aria-labelledby="tier-team-h" {
                    h2 #tier-team-h { "By tier and team" }
                    div.scroll { table.matrix #tier-team {
                        caption { "Open tickets by tier (rows) and team (columns)" }
                        thead { tr {
                            th scope="col" { "Tier" }
                            @for t in &teams { th scope="col" { (team_name(t)) } }
                            th scope="col" { "All teams" }
                        } }
                        tbody { @for tier in &tiers { tr {
                            th scope="row" { a href=(queue_link(&[("tier", tier.to_string())])) { "Tier " (tier) } }
                            @for team in &teams {
                                @let n = m.tier_team.get(&(*tier, team.clone())).copied().unwrap_or(0);
                                @let link = team.as_ref().map(|t| queue_link(&[("tier", tier.to_string()), ("team", t.clone())]));
                                (cell(n, link, &format!("tier {tier}, {}", team_name(team))))
                            }
                            @let total: u64 = m.tier_team.iter().filter(|((t, _), _)| t == tier).map(|(_, n)| n).sum();
                            (cell(total, Some(queue_link(&[("tier", tier.to_string())])), &format!("tier {tier}, all teams")))
                        } } }
                    } }
                }
                section aria-labelledby="channel-tier-h" {
                    h2 #channel-tier-h { "By channel and tier" }
                    div.scroll { table.matrix #channel-tier {
                        caption { "Open tickets by channel (rows) and tier (columns)" }
                        thead { tr {
                            th scope="col" { "Channel" }
                            @for tier in &tiers { th scope="col" { "Tier " (tier) } }
                            th scope="col" { "All tiers" }
                        } }
                        tbody { @for ch in &channels { tr {
                            th scope="row" { a href=(queue_link(&[("channel", ch.clone())])) { (ch) } }
                            @for tier in &tiers {
                                @let n = m.channel_tier.get(&(ch.clone(), *tier)).copied().unwrap_or(0);
                                (cell(n, Some(queue_link(&[("channel", ch.clone()), ("tier", tier.to_string())])), &format!("{ch}, tier {tier}")))
                            }
                            @let total: u64 = m.channel_tier.iter().filter(|((c, _), _)| c == ch).map(|(_, n)| n).sum();
                            (cell(total, Some(queue_link(&[("channel", ch.clone())])), &format!("{ch}, all tiers")))
                        } } }
                    } }
                }
            }
        },
    )
}

/// `GET /matrix`.
pub(crate) async fn handler(
    axum::extract::State(c): axum::extract::State<crate::Console>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    let Some((s, who)) = c.signed_in(&headers) else {
        return crate::see_other("/");
    };
    let model = c.model.clone();
    let m = crate::blocking(move || model.matrix()).await;
    let viewer = c.viewer(&s, &who);
    match m {
        Ok(m) => crate::html(http::StatusCode::OK, page(&viewer, &m)),
        Err(e) => crate::html(
            crate::status_of(&e),
            crate::pages::message("Matrix unavailable", Some(&viewer), &e.message),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Principal, Scope};

    #[test]
    fn cells_link_to_the_filtered_queue_and_names_are_escaped() {
        let mut m = Matrix::default();
        m.add(2, Some("pay&<ments>"), "email", 3);
        m.add(1, None, "chat", 1);
        m.add(2, None, "email", 2);
        let who = Principal {
            name: "lead".into(),
            token_sha256: "h".into(),
            scopes: vec![Scope::Read],
        };
        let v = Viewer {
            who: &who,
            csrf: "c",
            now: "2026-03-02T16:00:00Z".parse().unwrap(),
            simulated: false,
        };
        let html = page(&v, &m).into_string();
        assert!(
            html.contains(r#"href="/?tier=2&amp;team=pay%26%3Cments%3E""#),
            "{html}"
        );
        assert!(html.contains(r#"href="/?channel=email&amp;tier=2""#));
        assert!(html.contains("pay&amp;&lt;ments&gt;"));
        assert!(!html.contains("pay&<ments>"));
        // No team: counted, not linked (the queue cannot select it).
        assert!(html.contains("cannot filter"));
        assert_eq!(m.open, 6);
        assert_eq!(m.channel_tier[&("email".to_owned(), 2)], 5);
    }
}
