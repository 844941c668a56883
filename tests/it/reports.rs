//! The console's escalation matrix and reports on the real binary: the
//! matrix links to the filtered queue, the reports page shows the
//! figures of `GET /v1/stats`, and each table downloads as CSV.

use reqwest::blocking::Client;
use reqwest::redirect::Policy;

use crate::util::*;

fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

/// A read-only token made with the CLI, signed in: the session cookie.
fn sign_in(s: &Server, c: &Client) -> String {
    let out = s.cli(&["token", "create", "--name", "lead", "--scope", "read"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let r = c
        .post(s.url("/signin"))
        .form(&[("token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    set.split(';').next().unwrap().to_owned()
}

fn page(s: &Server, c: &Client, cookie: &str, path: &str) -> (u16, String, String) {
    let r = c.get(s.url(path)).header("cookie", cookie).send().unwrap();
    let status = r.status().as_u16();
    let ty = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ty, r.text().unwrap())
}

#[test]
fn matrix_and_reports_show_the_open_tickets_and_the_figures_with_csv_downloads() {
    let s = Server::start(&[]);
    s.ingest(
        &created(
            "e1",
            "T-1",
            r#","tier":2,"team":"pay,ments","channel":"chat""#,
        )
        .replace(r#""channel":"email","#, ""),
    );
    s.ingest(&created("e2", "T-2", r#","tier":1"#));
    s.ingest(&created("e3", "T-3", ""));
    s.ingest(&comment("e4", "T-3", "agent", "fixed"));
    let seq = s.ingest(&status("e5", "T-3", "solved"));
    s.ticket("T-3", seq);
    let c = client();
    let cookie = sign_in(&s, &c);

    // The matrix: two open tickets, each cell a link to the filtered queue.
    let (st, _, html) = page(&s, &c, &cookie, "/matrix");
    assert_eq!(st, 200, "{html}");
    assert!(html.contains("2 open tickets"), "{html}");
    assert!(
        html.contains(r#"href="/?tier=2&amp;team=pay%2Cments""#),
        "{html}"
    );
    assert!(
        html.contains(r#"href="/?channel=chat&amp;tier=2""#),
        "{html}"
    );
    assert!(
        html.contains(r#"href="/?channel=email&amp;tier=1""#),
        "{html}"
    );
    // ... and the queue it links to holds exactly those tickets.
    let (st, _, q) = page(&s, &c, &cookie, "/?tier=2&team=pay%2Cments");
    assert_eq!(st, 200);
    assert!(
        q.contains(r#"data-ticket="T-1""#) && !q.contains(r#"data-ticket="T-2""#),
        "{q}"
    );
    let (_, _, q) = page(&s, &c, &cookie, "/?channel=email&tier=1");
    assert!(
        q.contains(r#"data-ticket="T-2""#) && !q.contains(r#"data-ticket="T-1""#),
        "{q}"
    );
    let (_, _, all) = page(&s, &c, &cookie, "/");
    assert!(
        !all.contains(r#"data-ticket="T-3""#),
        "solved tickets are not in the queue"
    );

    // The reports page and the API agree.
    let api = s.get("/v1/stats?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z");
    assert_eq!(api.status, 200);
    assert_eq!(api.body["tickets"], 3);
    assert_eq!(api.body["escalation"]["by_day"]["2026-03-02"]["tickets"], 3);
    let (st, ty, html) = page(&s, &c, &cookie, "/reports?from=2026-03-01&to=2026-03-31");
    assert_eq!(st, 200, "{html}");
    assert!(ty.starts_with("text/html"));
    assert!(
        html.contains(r#"<strong id="report-tickets">3</strong>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<svg class="chart" id="chart-first-response""#),
        "{html}"
    );
    assert!(html.contains(
        r#"href="/reports/escalation-by-channel.csv?from=2026-03-01&amp;to=2026-03-31""#
    ));

    let (st, ty, csv) = page(
        &s,
        &c,
        &cookie,
        "/reports/escalation-by-team.csv?from=2026-03-01&to=2026-03-31",
    );
    assert_eq!(st, 200);
    assert!(ty.starts_with("text/csv"), "{ty}");
    assert_eq!(
        csv,
        "team,tickets,escalated,rate\n(none),2,0,0.0000\n\"pay,ments\",1,0,0.0000\n"
    );
    let (_, _, fr) = page(
        &s,
        &c,
        &cookie,
        "/reports/first-response.csv?from=2026-03-01&to=2026-03-31",
    );
    assert!(
        fr.starts_with("tier reached,tickets,missing,median_seconds,p90_seconds\n"),
        "{fr}"
    );
    assert!(fr.contains("all tiers,1,2,"), "{fr}");

    // Errors are in the page; unknown tables are 404; no session, no data.
    let (st, _, html) = page(&s, &c, &cookie, "/reports?from=2026-04-01&to=2026-03-01");
    assert_eq!(st, 400);
    assert!(html.contains("role=\"alert\""), "{html}");
    assert_eq!(page(&s, &c, &cookie, "/reports/nope.csv").0, 404);
    assert_eq!(page(&s, &c, "x=y", "/reports/csat.csv").0, 401);
    assert_eq!(page(&s, &c, "x=y", "/matrix").0, 303);
}
