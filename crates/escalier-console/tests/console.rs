//! The console's HTTP behaviour against a fake model: sign-in, sessions,
//! CSRF, scopes, revocation, expiry, the queue's ETag.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use escalier_console::model::BoxFuture;
use escalier_console::{
    Action, BaseFilter, Console, ConsoleModel, ModelError, Principal, QueueRow, Scope,
    SessionConfig, SlaState, StatusView, TicketView,
};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jiff::Timestamp;
use serde_json::json;
use tower::ServiceExt;

const ADMIN: &str = "esk_admin";
const READER: &str = "esk_reader";
const INGEST_ONLY: &str = "esk_ingest_only";

#[derive(Default)]
struct Fake {
    revoked: Mutex<HashSet<String>>,
    actions: Mutex<Vec<(String, String, Action)>>,
    /// Run on a real clock (not simulated), this many seconds past `now()`.
    real_clock: Mutex<Option<i64>>,
    /// Who moved the open tickets to the set in force.
    migrations: Mutex<Vec<String>>,
}

fn principal(token: &str) -> Option<Principal> {
    let (name, scopes) = match token {
        ADMIN => ("lead", vec![Scope::Admin]),
        READER => ("dashboard", vec![Scope::Read]),
        INGEST_ONLY => ("bot", vec![Scope::Ingest]),
        _ => return None,
    };
    Some(Principal {
        name: name.into(),
        token_sha256: format!("hash-of-{token}"),
        scopes,
    })
}

fn now() -> Timestamp {
    "2026-03-02T16:10:00Z".parse().unwrap()
}

impl ConsoleModel for Fake {
    fn authenticate(&self, token: &str) -> Option<Principal> {
        principal(token).filter(|p| !self.revoked.lock().unwrap().contains(&p.token_sha256))
    }
    fn recheck(&self, sha: &str) -> Option<Principal> {
        let token = sha.strip_prefix("hash-of-")?;
        self.authenticate(token)
    }
    fn now(&self) -> Timestamp {
        let past = self.real_clock.lock().unwrap().unwrap_or(0);
        now() + jiff::SignedDuration::from_secs(past)
    }
    fn simulated_clock(&self) -> bool {
        self.real_clock.lock().unwrap().is_none()
    }
    fn tickets(&self, f: &BaseFilter, _cap: usize) -> Result<Vec<QueueRow>, ModelError> {
        let rows = vec![
            QueueRow {
                id: "ZD-1".into(),
                subject: "Checkout <b>down</b>".into(),
                status: "open".into(),
                priority: "urgent".into(),
                channel: "email".into(),
                tier: 2,
                team: Some("payments".into()),
                sla: SlaState::Running,
                next_breach: Some("2026-03-02T16:30:00Z".parse().unwrap()),
                updated_at: now(),
            },
            QueueRow {
                id: "ZD-2".into(),
                subject: "Invoice question".into(),
                status: "pending".into(),
                priority: "low".into(),
                channel: "chat".into(),
                tier: 0,
                team: None,
                sla: SlaState::Paused,
                next_breach: None,
                updated_at: now(),
            },
        ];
        Ok(rows
            .into_iter()
            .filter(|r| f.tier.is_none_or(|t| t == r.tier))
            .collect())
    }
    fn ticket(&self, id: &str) -> Result<Option<TicketView>, ModelError> {
        if id != "ZD-1" {
            return Ok(None);
        }
        Ok(Some(TicketView {
            ticket: json!({
                "id": "ZD-1", "subject": "Checkout down", "status": "open", "priority": "urgent",
                "channel": "email", "tier": 2, "team": "payments",
                "requester": {"email": "a@example.com"},
                "escalations": [{"at": "2026-03-02T16:00:00Z", "from": 0, "to": 2, "reason": "VIP", "by": "policies/vip.rhai"}],
                "approvals": [{"id": "apr-1", "kind": "refund", "reason": "big", "state": "pending",
                               "requested_at": "2026-03-02T16:00:00Z", "requested_by": "policies/refund.rhai"}],
                "checklist_progress": {"handoff": {"items": [{"id": "logs", "text": "Attach logs", "done": false}],
                    "done": 0, "opened_by": "checklist", "opened_at": "2026-03-02T16:00:00Z"}}
            }),
            timers: json!({
                "sla": "vip",
                "clocks": [{"clock": "first_reply", "cycle": 1, "target": "PT1H", "state": "running",
                            "warned": false, "breached": false, "elapsed": "PT40M",
                            "due": "2026-03-02T16:30:00Z", "remaining": "PT20M"}],
                "ladders": [{"ladder": "p1", "run": 1, "state": "running", "reason": "urgent",
                             "started_at": "2026-03-02T16:00:00Z", "level": 1, "cycle": 1, "levels": 3, "repeat": 0,
                             "next": {"kind": "level", "level": 2, "cycle": 1, "step": 1, "at": "2026-03-02T16:20:00Z"}}]
            }),
            story: Some(json!({"ticket_id": "ZD-1", "entries": [{
                "pos": "3.1", "at": "2026-03-02T16:00:00Z", "type": "ticket.escalated",
                "summary": "escalate to tier 2: VIP", "data": {"reason": "VIP"}, "depth": 1,
                "by": {"kind": "policy", "name": "vip", "hash": "abcdef0123456789"},
                "trigger": {"pos": "3", "type": "ticket.created", "summary": "created"},
                "location": {"file": "policies/vip.rhai", "line": 7}
            }]})),
        }))
    }
    fn status(&self) -> StatusView {
        StatusView {
            policies: json!({"dir": "policies", "version": "v1", "last_error": {
                "at": "2026-03-02T16:00:00Z",
                "diagnostics": [{"file": "policies/bad.rhai", "line": 3, "column": 9, "message": "unexpected `)`"}]},
                "pin": "ticket",
                "tests": {"state": "failed", "running": false, "version": "v1", "matches_set_in_force": true,
                    "started_at": "2026-03-02T16:00:00Z", "finished_at": "2026-03-02T16:00:01Z",
                    "files": 2, "tests": 5, "passed": 4, "failed": 1, "broken_files": 0,
                    "failures": [{"file": "tests/sla.test.toml", "test": "breach pages the lead",
                        "at": "tests/sla.test.toml:31", "message": "no escalate record"}]}}),
            plugins: None,
            deliveries: Some(
                json!([{"delivery_id": "dlv:9.1:jira-writeback:0", "ticket_id": "ZD-1",
                "plugin": "jira-writeback", "kind": "http", "state": "failed", "attempts": 3,
                "status": 422, "reason": "HTTP 422: field missing",
                "requested_at": "2026-03-02T16:00:00Z", "updated_at": "2026-03-02T16:05:00Z"}]),
            ),
        }
    }
    fn act<'a>(
        &'a self,
        who: &'a Principal,
        ticket: &'a str,
        action: Action,
    ) -> BoxFuture<'a, Result<u64, ModelError>> {
        Box::pin(async move {
            if ticket != "ZD-1" {
                return Err(ModelError::new(404, format!("no ticket `{ticket}`")));
            }
            let mut a = self.actions.lock().unwrap();
            a.push((who.name.clone(), ticket.to_owned(), action));
            Ok(a.len() as u64 + 100)
        })
    }
    fn wait_processed(&self, _seq: u64) -> BoxFuture<'_, bool> {
        Box::pin(async { true })
    }
    fn migrate<'a>(
        &'a self,
        who: &'a Principal,
    ) -> BoxFuture<'a, Result<escalier_console::Migrated, ModelError>> {
        Box::pin(async move {
            self.migrations.lock().unwrap().push(who.name.clone());
            Ok(escalier_console::Migrated {
                to: "v1".into(),
                pinning_off: false,
                moved: vec!["ZD-1".into(), "ZD-2".into()],
                refused: vec![("ZD-3".into(), "ticket ZD-3 is closed".into())],
            })
        })
    }
}

struct Harness {
    fake: Arc<Fake>,
    console: Console,
    app: Router,
    clock: Arc<Mutex<Instant>>,
}

fn harness() -> Harness {
    let fake = Arc::new(Fake::default());
    let clock = Arc::new(Mutex::new(Instant::now()));
    let c = clock.clone();
    let console = Console::with_clock(
        fake.clone(),
        SessionConfig {
            idle: Duration::from_secs(600),
            absolute: Duration::from_secs(3600),
            ..SessionConfig::default()
        },
        Arc::new(move || *c.lock().unwrap()),
    );
    let app = escalier_console::router(console.clone());
    Harness {
        fake,
        console,
        app,
        clock,
    }
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

fn post(path: &str, cookie: Option<&str>, form: &str) -> Request<Body> {
    let mut b =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::from(form.to_owned())).unwrap()
}

/// Sign in; the cookie pair and the CSRF token from the queue page.
async fn sign_in(h: &Harness, token: &str) -> (String, String) {
    let a = send(&h.app, post("/signin", None, &format!("token={token}"))).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let set = a.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = send(&h.app, get("/", Some(&cookie))).await;
    let csrf = page
        .body
        .split(r#"<meta name="csrf-token" content=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a signed-in page carries its CSRF token")
        .to_owned();
    (cookie, csrf)
}

#[tokio::test]
async fn without_a_session_the_console_shows_the_sign_in_form() {
    let h = harness();
    let a = send(&h.app, get("/", None)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains(r#"action="/signin""#));
    assert!(a.body.contains(r#"<label for="token">"#));
    assert!(!a.body.contains("ZD-1"));
    let csp = a.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    // Other pages send you to sign in.
    let a = send(&h.app, get("/tickets/ZD-1", None)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let a = send(&h.app, get("/queue", None)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unknown_token_is_refused_and_a_known_one_opens_a_session() {
    let h = harness();
    let a = send(&h.app, post("/signin", None, "token=esk_nope")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("not known"));
    assert!(a.headers.get(header::SET_COOKIE).is_none());
    let a = send(&h.app, post("/signin", None, "token=esk_ingest_only")).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "no read scope, no console");
    assert!(h.console.sessions().is_empty());

    let (cookie, _) = sign_in(&h, ADMIN).await;
    let a = send(&h.app, get("/", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("ZD-1") && a.body.contains("ZD-2"));
    assert!(
        a.body.contains("Checkout &lt;b&gt;down&lt;/b&gt;"),
        "escaped"
    );
    assert!(a.body.contains(r#"data-deadline="2026-03-02T16:30:00Z""#));
    assert_eq!(h.console.sessions().len(), 1);
}

#[tokio::test]
async fn sign_in_from_another_origin_is_refused() {
    let h = harness();
    let req = Request::post("/signin")
        .header(header::HOST, "escalier.local:8080")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("token=esk_admin"))
        .unwrap();
    let a = send(&h.app, req).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(h.console.sessions().is_empty());
}

#[tokio::test]
async fn posts_without_a_session_or_without_the_csrf_token_are_refused() {
    let h = harness();
    let (cookie, csrf) = sign_in(&h, ADMIN).await;
    let path = "/tickets/ZD-1/ack";
    for (cookie, form) in [
        (None, format!("csrf={csrf}")),
        (Some("escalier_session=forged"), format!("csrf={csrf}")),
        (Some(cookie.as_str()), String::new()),
        (Some(cookie.as_str()), "csrf=wrong".to_owned()),
    ] {
        let a = send(&h.app, post(path, cookie, &form)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{cookie:?} {form}");
    }
    assert!(h.fake.actions.lock().unwrap().is_empty());

    // The form field, or the header htmx sends.
    let a = send(&h.app, post(path, Some(&cookie), &format!("csrf={csrf}"))).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let mut req = post(path, Some(&cookie), "ladder=p1");
    req.headers_mut()
        .insert("x-csrf-token", csrf.parse().unwrap());
    let a = send(&h.app, req).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.headers[header::LOCATION],
        "/tickets/ZD-1?seq=102&done=ack"
    );
    let actions = h.fake.actions.lock().unwrap().clone();
    assert_eq!(
        actions,
        [
            ("lead".into(), "ZD-1".into(), Action::Ack { ladder: None }),
            (
                "lead".into(),
                "ZD-1".into(),
                Action::Ack {
                    ladder: Some("p1".into())
                }
            ),
        ]
    );
}

#[tokio::test]
async fn approvals_and_checklists_are_acted_on_and_the_page_says_so() {
    let h = harness();
    let (cookie, csrf) = sign_in(&h, ADMIN).await;
    let page = send(&h.app, get("/tickets/ZD-1", Some(&cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    for needle in [
        "Approve",
        "Reject",
        "Acknowledge",
        "Tick",
        "policies/vip.rhai:7",
        "abcdef012345",
        "ticket.created",
    ] {
        assert!(page.body.contains(needle), "missing {needle}");
    }
    let a = send(
        &h.app,
        post(
            "/tickets/ZD-1/approvals/apr-1",
            Some(&cookie),
            &format!("csrf={csrf}&reason=fine+by+me&decision=approved"),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let a = send(
        &h.app,
        post(
            "/tickets/ZD-1/checklists/handoff/items/logs",
            Some(&cookie),
            &format!("csrf={csrf}&checked=true"),
        ),
    )
    .await;
    let to = a.headers[header::LOCATION].to_str().unwrap().to_owned();
    let page = send(&h.app, get(&to, Some(&cookie))).await;
    assert!(page.body.contains("Checklist item ticked."));
    let actions: Vec<Action> = h
        .fake
        .actions
        .lock()
        .unwrap()
        .iter()
        .map(|(_, _, a)| a.clone())
        .collect();
    assert_eq!(
        actions,
        [
            Action::Decide {
                approval: "apr-1".into(),
                approve: true,
                reason: "fine by me".into()
            },
            Action::Tick {
                checklist: "handoff".into(),
                item: "logs".into(),
                checked: true
            },
        ]
    );
    // A refusal from the model is shown in the page with its status.
    let a = send(
        &h.app,
        post("/tickets/ZD-9/ack", Some(&cookie), &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // No decision chosen: the page says what is missing.
    let a = send(
        &h.app,
        post(
            "/tickets/ZD-1/approvals/apr-1",
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("Choose Approve or Reject"));
}

#[tokio::test]
async fn a_read_only_token_sees_no_buttons_and_its_posts_are_refused() {
    let h = harness();
    let (cookie, csrf) = sign_in(&h, READER).await;
    let page = send(&h.app, get("/tickets/ZD-1", Some(&cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Checkout down"));
    for absent in ["Approve", "Reject", "Acknowledge", ">Tick<"] {
        assert!(!page.body.contains(absent), "{absent} shown to a reader");
    }
    let a = send(
        &h.app,
        post(
            "/tickets/ZD-1/approvals/apr-1",
            Some(&cookie),
            &format!("csrf={csrf}&decision=approved"),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("ingest scope"));
    assert!(h.fake.actions.lock().unwrap().is_empty());
}

#[tokio::test]
async fn revoking_the_token_ends_its_sessions() {
    let h = harness();
    let (cookie, csrf) = sign_in(&h, ADMIN).await;
    h.fake
        .revoked
        .lock()
        .unwrap()
        .insert("hash-of-esk_admin".into());
    let a = send(&h.app, get("/", Some(&cookie))).await;
    assert!(a.body.contains(r#"action="/signin""#));
    assert!(h.console.sessions().is_empty());
    let a = send(
        &h.app,
        post("/tickets/ZD-1/ack", Some(&cookie), &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sessions_end_when_idle_and_on_sign_out() {
    let h = harness();
    let (cookie, _) = sign_in(&h, ADMIN).await;
    *h.clock.lock().unwrap() += Duration::from_secs(601);
    let a = send(&h.app, get("/", Some(&cookie))).await;
    assert!(a.body.contains(r#"action="/signin""#), "idle session ended");

    let (cookie, csrf) = sign_in(&h, ADMIN).await;
    let a = send(&h.app, post("/signout", Some(&cookie), "")).await;
    assert_eq!(
        a.status,
        StatusCode::FORBIDDEN,
        "sign-out needs the CSRF token"
    );
    let a = send(
        &h.app,
        post("/signout", Some(&cookie), &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(
        a.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let a = send(&h.app, get("/", Some(&cookie))).await;
    assert!(a.body.contains(r#"action="/signin""#));
}

#[tokio::test]
async fn the_polled_queue_answers_304_while_unchanged_and_filters_apply() {
    let h = harness();
    let (cookie, _) = sign_in(&h, ADMIN).await;
    let a = send(&h.app, get("/queue", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK);
    let etag = a.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(a.body.starts_with("<section id=\"queue\""));
    let mut req = get("/queue", Some(&cookie));
    req.headers_mut()
        .insert(header::IF_NONE_MATCH, etag.parse().unwrap());
    let b = send(&h.app, req).await;
    assert_eq!(b.status, StatusCode::NOT_MODIFIED);
    assert!(b.body.is_empty());
    let c = send(&h.app, get("/queue?tier=0", Some(&cookie))).await;
    assert_ne!(c.headers[header::ETAG].to_str().unwrap(), etag);
    assert!(c.body.contains("ZD-2") && !c.body.contains("ZD-1"));
    let d = send(&h.app, get("/?sla=paused&channel=chat", Some(&cookie))).await;
    assert!(d.body.contains("ZD-2") && !d.body.contains(">ZD-1<"));
    let e = send(&h.app, get("/?tier=7", Some(&cookie))).await;
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert!(e.body.contains("not a tier"));
}

#[tokio::test]
async fn the_status_page_shows_the_reload_error_with_its_position() {
    let h = harness();
    let (cookie, _) = sign_in(&h, READER).await;
    let a = send(&h.app, get("/policies", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("policies/bad.rhai:3:9"));
    assert!(a.body.contains("runs without plugins"));
    assert!(
        a.body
            .contains(r#"data-delivery="dlv:9.1:jira-writeback:0""#)
    );
    assert!(a.body.contains("HTTP 422: field missing"));
    let a = send(&h.app, get("/assets/htmx.min.js", None)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("htmx"));
}

#[tokio::test]
async fn on_a_real_clock_the_queue_is_not_modified_until_a_row_breaches() {
    let h = harness();
    *h.fake.real_clock.lock().unwrap() = Some(0);
    let (cookie, _) = sign_in(&h, ADMIN).await;
    let poll = |etag: Option<String>| {
        let mut req = get("/queue", Some(&cookie));
        if let Some(e) = etag {
            req.headers_mut()
                .insert(header::IF_NONE_MATCH, e.parse().unwrap());
        }
        req
    };
    let a = send(&h.app, poll(None)).await;
    let etag = a.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(!a.body.contains("data-now"), "no server time in the table");
    // Time passes: the countdowns' text changes, the table does not.
    *h.fake.real_clock.lock().unwrap() = Some(60);
    let b = send(&h.app, poll(Some(etag.clone()))).await;
    assert_eq!(b.status, StatusCode::NOT_MODIFIED);
    // ZD-1 breaches at 16:30: the table changes.
    *h.fake.real_clock.lock().unwrap() = Some(21 * 60);
    let c = send(&h.app, poll(Some(etag.clone()))).await;
    assert_eq!(c.status, StatusCode::OK);
    assert_ne!(c.headers[header::ETAG].to_str().unwrap(), etag);
    assert!(c.body.contains(r#"class="sla-breached""#), "{}", c.body);
    // The page's own poll sends the tag it shows: unchanged is 204.
    let shown = c.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(
        c.body
            .contains(&format!("data-etag=\"{}\"", shown.replace('"', "&quot;")))
    );
    let mut req = poll(None);
    req.headers_mut()
        .insert("x-if-none-match", shown.parse().unwrap());
    let d = send(&h.app, req).await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    assert!(d.body.is_empty());
}

#[tokio::test]
async fn the_ticket_page_polls_its_live_part_and_gets_204_while_unchanged() {
    let h = harness();
    let (cookie, _) = sign_in(&h, READER).await;
    let page = send(&h.app, get("/tickets/ZD-1", Some(&cookie))).await;
    assert!(page.body.contains(r#"hx-get="/tickets/ZD-1/live""#));
    let tag = page
        .body
        .split(r#"<div id="live""#)
        .nth(1)
        .and_then(|s| s.split(r#"data-etag=""#).nth(1))
        .and_then(|s| s.split('"').next())
        .expect("the live part carries its tag")
        .replace("&quot;", "\"");
    let a = send(&h.app, get("/tickets/ZD-1/live", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.starts_with(r#"<div id="live""#));
    assert!(a.body.contains("first_reply") && !a.body.contains("Timeline"));
    assert_eq!(a.headers[header::ETAG].to_str().unwrap(), tag);
    let mut req = get("/tickets/ZD-1/live", Some(&cookie));
    req.headers_mut()
        .insert("x-if-none-match", tag.parse().unwrap());
    assert_eq!(send(&h.app, req).await.status, StatusCode::NO_CONTENT);
    // Past the clock's due time the part changes.
    *h.fake.real_clock.lock().unwrap() = Some(21 * 60);
    let mut req = get("/tickets/ZD-1/live", Some(&cookie));
    req.headers_mut()
        .insert("x-if-none-match", tag.parse().unwrap());
    assert_eq!(send(&h.app, req).await.status, StatusCode::OK);
    let a = send(&h.app, get("/tickets/ZD-9/live", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = send(&h.app, get("/tickets/ZD-1/live", None)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_policies_page_shows_the_policy_tests_and_says_policies_reload_by_themselves() {
    let h = harness();
    let (cookie, _) = sign_in(&h, READER).await;
    let a = send(&h.app, get("/policies", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains(r#"data-state="failed""#), "{}", a.body);
    assert!(a.body.contains("1 of 5 tests failed"), "{}", a.body);
    assert!(a.body.contains("tests/sla.test.toml:31"));
    assert!(a.body.contains("breach pages the lead"));
    assert!(a.body.contains("reload by themselves"));
}

#[tokio::test]
async fn only_an_admin_moves_open_tickets_and_only_when_confirmed() {
    let h = harness();
    let (cookie, csrf) = sign_in(&h, READER).await;
    let a = send(&h.app, get("/policies", Some(&cookie))).await;
    assert!(!a.body.contains(r#"action="/policies/migrate""#));
    let a = send(
        &h.app,
        post(
            "/policies/migrate",
            Some(&cookie),
            &format!("csrf={csrf}&confirm=yes"),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("admin scope"));

    let (cookie, csrf) = sign_in(&h, ADMIN).await;
    let a = send(&h.app, get("/policies", Some(&cookie))).await;
    assert!(a.body.contains(r#"action="/policies/migrate""#));
    // No CSRF token; not confirmed.
    let a = send(
        &h.app,
        post("/policies/migrate", Some(&cookie), "confirm=yes"),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = send(
        &h.app,
        post("/policies/migrate", Some(&cookie), &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(h.fake.migrations.lock().unwrap().is_empty());

    let a = send(
        &h.app,
        post(
            "/policies/migrate",
            Some(&cookie),
            &format!("csrf={csrf}&confirm=yes"),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("2 tickets moved"), "{}", a.body);
    assert!(a.body.contains("1 refused"));
    assert!(a.body.contains("ticket ZD-3 is closed"));
    assert_eq!(*h.fake.migrations.lock().unwrap(), vec!["lead".to_owned()]);
}
