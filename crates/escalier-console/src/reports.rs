//! The reports page: the figures of `GET /v1/stats` for a period, each
//! table drawn as an SVG chart beside it and downloadable as CSV
//! (`/reports/{table}.csv?from=&to=`).

use jiff::{SignedDuration, Timestamp};
use maud::{Markup, html};
use serde_json::Value;

use crate::chart;
use crate::pages::{Viewer, error_box, layout};

/// The period asked for: `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Timestamp,
    pub to: Timestamp,
}

fn parse_time(v: &str, end: bool) -> Option<Timestamp> {
    if let Ok(t) = v.parse::<Timestamp>() {
        return Some(t);
    }
    // A day (the date picker's value): its start, or for `to` the start
    // of the next day, so the period includes the day picked.
    let d: jiff::civil::Date = v.parse().ok()?;
    let d = if end { d.tomorrow().ok()? } else { d };
    jiff::tz::TimeZone::UTC
        .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
        .ok()
}

fn day(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

impl Period {
    /// From the query string: `from` and `to` as days (`2026-03-01`, `to`
    /// included) or RFC 3339 instants (`to` excluded). Default: the 30
    /// days up to today (included).
    pub fn parse(raw: Option<&str>, now: Timestamp) -> Result<Period, String> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|_| "the address's query does not parse".to_owned())?;
        let today_end = parse_time(&day(now), true).unwrap_or(now);
        let mut to = today_end;
        let mut from = None;
        for (k, v) in pairs {
            if v.is_empty() {
                continue;
            }
            match k.as_str() {
                "from" => {
                    from = Some(parse_time(&v, false).ok_or_else(|| {
                        format!(
                            "`{v}` is not a day like 2026-03-01 or a time like 2026-03-01T00:00:00Z"
                        )
                    })?)
                }
                "to" => {
                    to = parse_time(&v, true).ok_or_else(|| {
                        format!(
                            "`{v}` is not a day like 2026-03-31 or a time like 2026-04-01T00:00:00Z"
                        )
                    })?
                }
                "format" if v == "csv" || v == "html" => {}
                other => return Err(format!("unknown parameter `{other}`")),
            }
        }
        let from = from.unwrap_or_else(|| {
            to.checked_sub(SignedDuration::from_hours(24 * 30))
                .unwrap_or(to)
        });
        if from >= to {
            return Err("the period's start must be before its end".to_owned());
        }
        Ok(Period { from, to })
    }

    /// The query string for this period (days when they are whole days).
    pub fn to_query(self) -> String {
        let (f, t) = self.inputs();
        serde_urlencoded::to_string([("from", f), ("to", t)]).unwrap_or_default()
    }

    /// The date inputs' values: the first day and the last day included.
    fn inputs(self) -> (String, String) {
        let whole =
            |t: Timestamp| t.as_second().rem_euclid(86_400) == 0 && t.subsec_nanosecond() == 0;
        if whole(self.from) && whole(self.to) {
            let last = self
                .to
                .checked_sub(SignedDuration::from_hours(24))
                .unwrap_or(self.to);
            (day(self.from), day(last))
        } else {
            (self.from.to_string(), self.to.to_string())
        }
    }
}

/// One table of the report: what the page shows, charts and downloads.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Its name in the CSV address (`/reports/{name}.csv`).
    pub name: &'static str,
    pub title: &'static str,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

/// A table cell: text or a number (numbers are never neutralised in CSV).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(Option<i64>),
    Num(Option<f64>),
}

impl Cell {
    fn show(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(Some(n)) => n.to_string(),
            Cell::Num(Some(x)) => format!("{x:.4}"),
            Cell::Int(None) | Cell::Num(None) => String::new(),
        }
    }

    fn num(&self) -> f64 {
        match self {
            Cell::Int(Some(n)) => *n as f64,
            Cell::Num(Some(x)) => *x,
            _ => 0.0,
        }
    }
}

/// The tables' names, in page order.
pub const TABLES: [&str; 8] = [
    "escalation-by-day",
    "escalation-by-channel",
    "escalation-by-team",
    "escalation-by-tier",
    "first-response",
    "resolution",
    "sla-breaches",
    "csat",
];

fn int(v: &Value) -> Cell {
    Cell::Int(v.as_i64())
}

fn num(v: &Value) -> Cell {
    Cell::Num(v.as_f64())
}

fn entries(v: &Value) -> Vec<(String, Value)> {
    v.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn rate_rows(v: &Value) -> Vec<Vec<Cell>> {
    entries(v)
        .into_iter()
        .map(|(k, r)| {
            vec![
                Cell::Text(k),
                int(&r["tickets"]),
                int(&r["escalated"]),
                num(&r["rate"]),
            ]
        })
        .collect()
}

fn duration_rows(v: &Value) -> Vec<Vec<Cell>> {
    let row = |name: String, d: &Value| {
        vec![
            Cell::Text(name),
            int(&d["count"]),
            int(&d["missing"]),
            int(&d["median_seconds"]),
            int(&d["p90_seconds"]),
        ]
    };
    let mut rows: Vec<Vec<Cell>> = entries(&v["by_tier_reached"])
        .into_iter()
        .map(|(k, d)| row(format!("tier {k}"), &d))
        .collect();
    rows.push(row("all tiers".to_owned(), &v["all"]));
    rows
}

/// Every table of the report, from the stats JSON.
pub fn tables(stats: &Value) -> Vec<Table> {
    let e = &stats["escalation"];
    let rate_headers = |first| vec![first, "tickets", "escalated", "rate"];
    let dur_headers = vec![
        "tier reached",
        "tickets",
        "missing",
        "median_seconds",
        "p90_seconds",
    ];
    let mut sla_rows = Vec::new();
    for (name, f) in entries(&stats["sla"]) {
        let by_clock = entries(&f["breaches_by_clock"])
            .into_iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join("; ");
        sla_rows.push(vec![
            Cell::Text(name),
            int(&f["tickets"]),
            int(&f["tickets_breached"]),
            int(&f["breach_events"]),
            Cell::Text(by_clock),
        ]);
    }
    let score = |name: &str, s: &Value| {
        vec![
            Cell::Text(name.to_owned()),
            int(&s["count"]),
            num(&s["average"]),
        ]
    };
    vec![
        Table {
            name: TABLES[0],
            title: "Escalation rate by day created",
            headers: rate_headers("day"),
            rows: rate_rows(&e["by_day"]),
        },
        Table {
            name: TABLES[1],
            title: "Escalation rate by channel",
            headers: rate_headers("channel"),
            rows: rate_rows(&e["by_channel"]),
        },
        Table {
            name: TABLES[2],
            title: "Escalation rate by team",
            headers: rate_headers("team"),
            rows: rate_rows(&e["by_team"]),
        },
        Table {
            name: TABLES[3],
            title: "Tickets by tier reached",
            headers: vec!["tier reached", "tickets", "share"],
            rows: entries(&e["by_tier_reached"])
                .into_iter()
                .map(|(k, s)| vec![Cell::Text(k), int(&s["tickets"]), num(&s["share"])])
                .collect(),
        },
        Table {
            name: TABLES[4],
            title: "Time to first response by tier reached",
            headers: dur_headers.clone(),
            rows: duration_rows(&stats["first_response"]),
        },
        Table {
            name: TABLES[5],
            title: "Time to resolution by tier reached",
            headers: dur_headers,
            rows: duration_rows(&stats["resolution"]),
        },
        Table {
            name: TABLES[6],
            title: "SLA breaches by SLA policy",
            headers: vec![
                "sla_policy",
                "tickets",
                "tickets_breached",
                "breach_events",
                "breached_clocks",
            ],
            rows: sla_rows,
        },
        Table {
            name: TABLES[7],
            title: "CSAT of escalated and not escalated tickets",
            headers: vec!["group", "ratings", "average"],
            rows: vec![
                score("after escalation", &stats["csat"]["after_escalation"]),
                score("without escalation", &stats["csat"]["without_escalation"]),
            ],
        },
    ]
}

/// A text cell a spreadsheet would run as a formula gets a leading `'`
/// (CSV injection); numbers are left alone.
fn neutralise(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// The table as CSV (RFC 4180 quoting by the `csv` crate).
pub fn csv(t: &Table) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&t.headers).map_err(|e| e.to_string())?;
    for row in &t.rows {
        w.write_record(row.iter().map(|c| match c {
            Cell::Text(s) => neutralise(s),
            other => other.show(),
        }))
        .map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

fn human_secs(v: f64) -> String {
    crate::pages::human(SignedDuration::from_secs(v as i64))
}

fn pct(v: f64) -> String {
    format!("{:.0} %", v * 100.0)
}

fn chart_of(t: &Table) -> Option<Markup> {
    if t.rows.is_empty() {
        return None;
    }
    let labels: Vec<String> = t.rows.iter().map(|r| r[0].show()).collect();
    let col = |i: usize| -> Vec<f64> { t.rows.iter().map(|r| r[i].num()).collect() };
    let id = format!("chart-{}", t.name);
    Some(match t.name {
        "escalation-by-day" => chart::line(
            &id,
            t.title,
            &format!(
                "Share of the tickets created each day that were escalated, {} days.",
                labels.len()
            ),
            &labels,
            &col(3),
            &pct,
        ),
        "escalation-by-channel" | "escalation-by-team" => chart::bars(
            &id,
            t.title,
            "Share of the period's tickets that were escalated, per group; the table beside gives the counts.",
            &labels,
            &[("escalation rate", col(3))],
            &pct,
        ),
        "escalation-by-tier" => chart::bars(
            &id,
            t.title,
            "Tickets of the period by the highest tier they reached.",
            &labels,
            &[("tickets", col(1))],
            &|v| format!("{v:.0}"),
        ),
        "first-response" | "resolution" => chart::bars(
            &id,
            t.title,
            "Median and 90th percentile (nearest rank), wall-clock time, per tier reached.",
            &labels,
            &[("median", col(3)), ("p90", col(4))],
            &human_secs,
        ),
        "sla-breaches" => chart::bars(
            &id,
            t.title,
            "Tickets under each SLA policy, and those with a breached clock.",
            &labels,
            &[("tickets", col(1)), ("breached", col(2))],
            &|v| format!("{v:.0}"),
        ),
        _ => chart::bars(
            &id,
            t.title,
            "Average satisfaction score (1 to 5) of ratings given after an escalation and without one.",
            &labels,
            &[("average score", col(2))],
            &|v| format!("{v:.1}"),
        ),
    })
}

fn table_html(t: &Table, period: Period) -> Markup {
    html! {
        div.scroll {
            table.report id=(format!("table-{}", t.name)) {
                caption { (t.title) }
                thead { tr { @for h in &t.headers { th scope="col" { (h) } } } }
                tbody {
                    @for row in &t.rows { tr {
                        @for (i, c) in row.iter().enumerate() {
                            @if i == 0 { th scope="row" { (c.show()) } }
                            @else { td.num { (c.show()) } }
                        }
                    } }
                }
            }
        }
        p { a download href=(format!("/reports/{}.csv?{}", t.name, period.to_query())) { "Download " (t.title) " (CSV)" } }
    }
}

/// The reports page for `period`, or its error.
pub fn page(
    viewer: &Viewer<'_>,
    period: Period,
    stats: Result<&Value, &str>,
    error: Option<&str>,
) -> Markup {
    let (from, to) = period.inputs();
    layout(
        "Reports",
        Some(viewer),
        "reports",
        html! {
            h1 { "Reports" }
            (error_box(error))
            form.filters method="get" action="/reports" aria-label="Pick a period" {
                div.field {
                    label for="r-from" { "From (day)" }
                    input #r-from type="date" name="from" value=(from);
                }
                div.field {
                    label for="r-to" { "To (day, included)" }
                    input #r-to type="date" name="to" value=(to);
                }
                div.actions { button type="submit" { "Show" } }
            }
            @match stats {
                Err(e) => (error_box(Some(e))),
                Ok(s) => {
                    p { "Tickets created from " (period.from) " to " (period.to) " (excluded): " strong #report-tickets { (s["tickets"]) }
                        ". Definitions: each figure is as " code { "GET /v1/stats" } " computes it." }
                    @for t in tables(s) {
                        section.report aria-labelledby=(format!("h-{}", t.name)) {
                            h2 id=(format!("h-{}", t.name)) { (t.title) }
                            @if t.rows.is_empty() { p { "No data in this period." } }
                            @else {
                                div.report-pair {
                                    @if let Some(c) = chart_of(&t) { figure { (c) } }
                                    div { (table_html(&t, period)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

async fn load(c: &crate::Console, period: Period) -> Result<Value, crate::ModelError> {
    let model = c.model.clone();
    crate::blocking(move || model.stats(period.from, period.to)).await
}

/// `GET /reports?from=&to=`.
pub(crate) async fn handler(
    axum::extract::State(c): axum::extract::State<crate::Console>,
    headers: http::HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> axum::response::Response {
    let Some((s, who)) = c.signed_in(&headers) else {
        return crate::see_other("/");
    };
    let now = c.model.now();
    let viewer = c.viewer(&s, &who);
    let (period, error) = match Period::parse(raw.as_deref(), now) {
        Ok(p) => (p, None),
        Err(e) => (
            Period::parse(None, now).unwrap_or(Period { from: now, to: now }),
            Some(e),
        ),
    };
    let stats = load(&c, period).await;
    let status = match (&stats, &error) {
        (Err(e), _) => crate::status_of(e),
        (_, Some(_)) => http::StatusCode::BAD_REQUEST,
        _ => http::StatusCode::OK,
    };
    let shown = stats.as_ref().map_err(|e| e.message.as_str());
    crate::html(status, page(&viewer, period, shown, error.as_deref()))
}

/// `GET /reports/{table}.csv?from=&to=`: one table as CSV.
pub(crate) async fn csv_handler(
    axum::extract::State(c): axum::extract::State<crate::Console>,
    axum::extract::Path(file): axum::extract::Path<String>,
    headers: http::HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http::{StatusCode, header};
    if c.signed_in(&headers).is_none() {
        return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    }
    let Some(name) = file
        .strip_suffix(".csv")
        .and_then(|n| TABLES.into_iter().find(|t| *t == n))
    else {
        return (
            StatusCode::NOT_FOUND,
            format!("no such table; one of {}", TABLES.join(", ")),
        )
            .into_response();
    };
    let period = match Period::parse(raw.as_deref(), c.model.now()) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    let stats = match load(&c, period).await {
        Ok(s) => s,
        Err(e) => return (crate::status_of(&e), e.message).into_response(),
    };
    let Some(table) = tables(&stats).into_iter().find(|t| t.name == name) else {
        return (StatusCode::NOT_FOUND, "no such table").into_response();
    };
    match csv(&table) {
        Ok(bytes) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{name}-{}-{}.csv\"",
                        day(period.from),
                        day(period.to)
                    ),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "tickets": 3,
            "escalation": {
                "overall": {"tickets": 3, "escalated": 2, "rate": 0.6667},
                "by_channel": {"email": {"tickets": 3, "escalated": 2, "rate": 0.6667}},
                "by_team": {"=HYPERLINK(\"http://x\")": {"tickets": 1, "escalated": 1, "rate": 1.0},
                            "billing, \"EU\"\nteam": {"tickets": 2, "escalated": 1, "rate": 0.5}},
                "by_tier_reached": {"1": {"tickets": 1, "share": 0.3333}},
                "by_day": {"2026-03-01": {"tickets": 3, "escalated": 2, "rate": 0.6667}}
            },
            "first_response": {"all": {"count": 2, "missing": 1, "median_seconds": 1800, "p90_seconds": 7200},
                               "by_tier_reached": {"2": {"count": 1, "missing": 1, "median_seconds": 1800, "p90_seconds": 1800}}},
            "resolution": {"all": {"count": 0, "missing": 3}, "by_tier_reached": {}},
            "sla": {"vip": {"tickets": 1, "tickets_breached": 1, "breaches_by_clock": {"first_response": 1}, "breach_events": 2}},
            "csat": {"after_escalation": {"count": 1, "average": 2.0}, "without_escalation": {"count": 0}}
        })
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines_and_defuses_formulas() {
        let t = tables(&sample());
        let team = t.iter().find(|t| t.name == "escalation-by-team").unwrap();
        let out = String::from_utf8(csv(team).unwrap()).unwrap();
        assert_eq!(
            out,
            "team,tickets,escalated,rate\n\
             \"'=HYPERLINK(\"\"http://x\"\")\",1,1,1.0000\n\
             \"billing, \"\"EU\"\"\nteam\",2,1,0.5000\n"
        );
        // It reads back to the same cells.
        let mut r = csv::Reader::from_reader(out.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(&rows[1][0], "billing, \"EU\"\nteam");
        let fr = t.iter().find(|t| t.name == "first-response").unwrap();
        let out = String::from_utf8(csv(fr).unwrap()).unwrap();
        assert!(
            out.contains("tier 2,1,1,1800,1800\nall tiers,2,1,1800,7200\n"),
            "{out}"
        );
        // Missing figures are empty cells, not zeros.
        let res = t.iter().find(|t| t.name == "resolution").unwrap();
        assert!(
            String::from_utf8(csv(res).unwrap())
                .unwrap()
                .ends_with("all tiers,0,3,,\n")
        );
    }

    #[test]
    fn periods_are_days_included_or_instants() {
        let now: Timestamp = "2026-03-31T15:00:00Z".parse().unwrap();
        let p = Period::parse(Some("from=2026-03-01&to=2026-03-31"), now).unwrap();
        assert_eq!(p.from, "2026-03-01T00:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(p.to, "2026-04-01T00:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(p.to_query(), "from=2026-03-01&to=2026-03-31");
        let d = Period::parse(None, now).unwrap();
        assert_eq!(d.to, "2026-04-01T00:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(d.from, "2026-03-02T00:00:00Z".parse::<Timestamp>().unwrap());
        let i = Period::parse(
            Some("from=2026-03-01T12:00:00Z&to=2026-03-02T00:00:00Z"),
            now,
        )
        .unwrap();
        assert_eq!(Period::parse(Some(&i.to_query()), now).unwrap(), i);
        assert!(Period::parse(Some("from=2026-04-01&to=2026-03-01"), now).is_err());
        assert!(
            Period::parse(Some("from=yesterday"), now)
                .unwrap_err()
                .contains("yesterday")
        );
        assert!(
            Period::parse(Some("colour=red"), now)
                .unwrap_err()
                .contains("colour")
        );
    }

    #[test]
    fn the_page_draws_a_chart_and_a_table_per_figure() {
        let who = crate::model::Principal {
            name: "lead".into(),
            token_sha256: "h".into(),
            scopes: vec![crate::model::Scope::Read],
        };
        let now: Timestamp = "2026-03-31T15:00:00Z".parse().unwrap();
        let v = Viewer {
            who: &who,
            csrf: "c",
            now,
            simulated: false,
        };
        let p = Period::parse(None, now).unwrap();
        let s = sample();
        let html = page(&v, p, Ok(&s), None).into_string();
        for name in TABLES {
            assert!(html.contains(&format!("id=\"table-{name}\"")), "{name}");
            assert!(
                html.contains(&format!(
                    "href=\"/reports/{name}.csv?from=2026-03-02&amp;to=2026-03-31\""
                )),
                "{name}"
            );
        }
        assert!(html.contains("id=\"chart-escalation-by-day\""));
        assert!(html.contains("<polyline"));
        assert!(
            html.contains("&#39;=HYPERLINK") || html.contains("=HYPERLINK(&quot;http://x&quot;)")
        );
        let err = page(&v, p, Err("boom"), None).into_string();
        assert!(err.contains("boom") && err.contains("role=\"alert\""));
    }
}
