//! Escalier's operator console: server-rendered HTML pages (maud) for
//! support leads, with htmx for the live queue, served at `/` by
//! `escalier serve`. No Node.js, no CDN: every asset is embedded.
//!
//! The console reads and acts through [`ConsoleModel`], which the server
//! implements on its own state, so it shows what the API serves and acts
//! through the API's code paths.
//!
//! # Sign-in, sessions and CSRF
//!
//! `POST /signin` takes an API token and opens a server-side session (in
//! memory, keyed by 32 random bytes) held in an `HttpOnly`,
//! `SameSite=Strict` cookie, `Secure` when configured. Sessions end after
//! an idle time, at an absolute expiry, on `POST /signout`, on restart,
//! and as soon as their token is revoked (every request rechecks it).
//! Every `POST` but sign-in needs the session's CSRF token, as the `csrf`
//! form field or the `X-CSRF-Token` header; a `POST` without a session or
//! without the CSRF token is refused with `403`. Scopes: `read` sees,
//! `ingest` acts on tickets, `admin` does everything.

pub mod backtest;
pub mod model;
pub mod pages;
pub mod queue;
pub mod session;

pub mod chart;
pub mod matrix;
pub mod reports;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use maud::Markup;

pub use model::{
    Action, BaseFilter, ConsoleModel, Migrated, ModelError, Principal, QueueRow, Scope, SlaState,
    StatusView, TicketView,
};
pub use session::{SessionConfig, Sessions};

use pages::Viewer;
use queue::{QueryChoices, QueueQuery};
use session::Session;

/// Largest form body accepted, in bytes.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The console: the model it reads and the sessions it keeps.
#[derive(Clone)]
pub struct Console {
    model: Arc<dyn ConsoleModel>,
    sessions: Arc<Sessions>,
}

impl Console {
    pub fn new(model: Arc<dyn ConsoleModel>, config: SessionConfig) -> Console {
        Console::with_clock(model, config, Arc::new(Instant::now))
    }

    /// With the time source session expiry is measured with (for tests).
    pub fn with_clock(
        model: Arc<dyn ConsoleModel>,
        config: SessionConfig,
        now: session::Now,
    ) -> Console {
        Console {
            model,
            sessions: Arc::new(Sessions::new(config, now)),
        }
    }

    /// With a session store made beforehand (the server shares it with
    /// its rate limiter, which counts requests of live sessions as
    /// authenticated).
    pub fn with_sessions(model: Arc<dyn ConsoleModel>, sessions: Arc<Sessions>) -> Console {
        Console { model, sessions }
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The signed-in session and its principal, if the request carries a
    /// live session whose token is still valid. A session whose token was
    /// revoked is ended here.
    fn signed_in(&self, headers: &HeaderMap) -> Option<(Session, Principal)> {
        let id = self.sessions.cookie_id(headers)?;
        let s = self.sessions.get(id)?;
        match self.model.recheck(&s.token_sha256) {
            Some(p) if p.allows(Scope::Read) => Some((s, p)),
            _ => {
                self.sessions.close_token(&s.token_sha256);
                None
            }
        }
    }

    fn viewer<'a>(&self, s: &'a Session, who: &'a Principal) -> Viewer<'a> {
        Viewer {
            who,
            csrf: &s.csrf,
            now: self.model.now(),
            simulated: self.model.simulated_clock(),
        }
    }
}

/// The console's routes, to merge into the server's router.
pub fn router<S: Clone + Send + Sync + 'static>(console: Console) -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/queue", get(queue_part))
        .route("/matrix", get(matrix::handler))
        .route("/reports", get(reports::handler))
        .route("/reports/{table}", get(reports::csv_handler))
        .route("/signin", post(signin))
        .route("/signout", post(signout))
        .route("/tickets/{id}", get(ticket_page))
        .route("/tickets/{id}/live", get(ticket_live))
        .route("/tickets/{id}/ack", post(ack))
        .route("/tickets/{id}/approvals/{approval}", post(decide))
        .route(
            "/tickets/{id}/checklists/{checklist}/items/{item}",
            post(tick),
        )
        .route("/policies", get(status_page))
        .route("/policies/migrate", post(migrate))
        .route("/backtest", get(backtest::page_get).post(backtest::start))
        .route("/backtest/run", get(backtest::run_part))
        .route("/assets/{name}", get(asset))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(console)
}

/// Headers on every console answer: a strict content security policy
/// (same-origin scripts and styles only, no framing), no sniffing, no
/// referrer outside the site, and no caching of pages unless the handler
/// said otherwise.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

fn html(status: StatusCode, m: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        m.into_string(),
    )
        .into_response()
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// The refusal of a POST: 403 with the reason in the page.
fn forbidden(c: &Console, signed: Option<(&Session, &Principal)>, why: &str) -> Response {
    let viewer = signed.map(|(s, p)| c.viewer(s, p));
    html(
        StatusCode::FORBIDDEN,
        pages::message("Not allowed", viewer.as_ref(), why),
    )
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ModelError> + Send + 'static,
) -> Result<T, ModelError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(ModelError::new(503, "the request was cancelled; retry")))
}

fn status_of(e: &ModelError) -> StatusCode {
    StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `GET /`: the queue, or the sign-in form.
async fn index(State(c): State<Console>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let Some((s, who)) = c.signed_in(&headers) else {
        return html(StatusCode::OK, pages::signin(None));
    };
    let viewer = c.viewer(&s, &who);
    let (q, error) = match QueueQuery::parse(raw.as_deref()) {
        Ok(q) => (q, None),
        Err(e) => (QueueQuery::default(), Some(e)),
    };
    match load_queue(&c, &q).await {
        Ok((page, choices)) => html(
            if error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            },
            pages::queue(&viewer, &q, &choices, &page, error.as_deref()),
        ),
        Err(e) => html(
            status_of(&e),
            pages::message("Queue unavailable", Some(&viewer), &e.message),
        ),
    }
}

async fn load_queue(
    c: &Console,
    q: &QueueQuery,
) -> Result<(queue::QueuePage, QueryChoices), ModelError> {
    let model = c.model.clone();
    let (query, now) = (q.clone(), c.model.now());
    if let Some(page) = blocking(move || Ok(model.queue(&query, now))).await? {
        return page;
    }
    let model = c.model.clone();
    let base = q.base.clone();
    let rows = blocking(move || model.tickets(&base, queue::SCAN_CAP)).await?;
    let truncated = rows.len() >= queue::SCAN_CAP;
    let choices = QueryChoices::from_rows(&rows, q);
    Ok((queue::page(rows, q, c.model.now(), truncated), choices))
}

/// `GET /queue`: the queue's table alone, polled by the page; answers
/// `304` when it has not changed since the `ETag` the browser holds.
async fn queue_part(
    State(c): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some((s, who)) = c.signed_in(&headers) else {
        // htmx follows HX-Redirect: the page goes to the sign-in form.
        return (
            StatusCode::UNAUTHORIZED,
            [("HX-Redirect", "/")],
            "sign in again",
        )
            .into_response();
    };
    let q = match QueueQuery::parse(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    let viewer = c.viewer(&s, &who);
    let page = match load_queue(&c, &q).await {
        Ok((page, _)) => page,
        Err(e) => return (status_of(&e), e.message).into_response(),
    };
    let etag = queue::etag(&page, &q, viewer.now, viewer.simulated);
    let cache = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, "private, no-cache".to_owned()),
        (header::VARY, "Cookie".to_owned()),
    ];
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().trim_start_matches("W/") == etag);
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    // The page's own poll names the table it shows (its data-etag): an
    // unchanged table is answered 204, which htmx does not swap, so focus
    // and scroll stay where they are.
    let shown = headers.get("x-if-none-match").and_then(|v| v.to_str().ok());
    if shown == Some(etag.as_str()) {
        return (StatusCode::NO_CONTENT, cache).into_response();
    }
    (
        StatusCode::OK,
        cache,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        pages::queue_table(&viewer, &q, &page).into_string(),
    )
        .into_response()
}

/// A form body: `application/x-www-form-urlencoded`, bounded.
async fn form(body: Body) -> Result<Vec<(String, String)>, String> {
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| format!("the form is larger than {MAX_FORM_BYTES} bytes"))?;
    serde_urlencoded::from_bytes(&bytes).map_err(|_| "the form does not parse".to_owned())
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Whether a request's `Origin`, when sent, is this site.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

/// `POST /signin`: a token in, a session cookie out.
async fn signin(State(c): State<Console>, headers: HeaderMap, body: Body) -> Response {
    if !same_origin(&headers) {
        return html(
            StatusCode::FORBIDDEN,
            pages::message("Not allowed", None, "sign in from the console's own page"),
        );
    }
    let f = match form(body).await {
        Ok(f) => f,
        Err(e) => return html(StatusCode::BAD_REQUEST, pages::signin(Some(&e))),
    };
    let token = field(&f, "token").unwrap_or("").trim();
    if token.is_empty() {
        return html(
            StatusCode::BAD_REQUEST,
            pages::signin(Some("Enter an API token.")),
        );
    }
    let Some(who) = c.model.authenticate(token) else {
        return html(
            StatusCode::UNAUTHORIZED,
            pages::signin(Some("That token is not known to this server.")),
        );
    };
    if !who.allows(Scope::Read) {
        return html(
            StatusCode::FORBIDDEN,
            pages::signin(Some(&format!(
                "Token `{}` lacks the read scope the console needs.",
                who.name
            ))),
        );
    }
    // A session from before (another token, or a fixed id) ends.
    if let Some(old) = c.sessions.cookie_id(&headers) {
        c.sessions.close(old);
    }
    let s = c.sessions.open(&who.token_sha256);
    tracing::info!(token = %who.name, "console sign-in");
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, c.sessions.set_cookie(&s.id)),
            (header::LOCATION, "/".to_owned()),
        ],
    )
        .into_response()
}

/// A POST's session, principal and form, or its refusal: `403` without
/// a live session, `403` without the session's CSRF token.
async fn post_guard(
    c: &Console,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Session, Principal, Vec<(String, String)>), Response> {
    let Some((s, who)) = c.signed_in(headers) else {
        return Err(forbidden(
            c,
            None,
            "This request has no live session: sign in again.",
        ));
    };
    let f = match form(body).await {
        Ok(f) => f,
        Err(e) => {
            return Err(html(
                StatusCode::BAD_REQUEST,
                pages::message("Bad request", Some(&c.viewer(&s, &who)), &e),
            ));
        }
    };
    let presented = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| field(&f, "csrf"));
    if !session::csrf_matches(&s, presented) {
        return Err(forbidden(
            c,
            Some((&s, &who)),
            "The form's security token is missing or stale: reload the page and try again.",
        ));
    }
    Ok((s, who, f))
}

/// `POST /signout`.
async fn signout(State(c): State<Console>, headers: HeaderMap, body: Body) -> Response {
    let (s, who, _) = match post_guard(&c, &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    c.sessions.close(&s.id);
    tracing::info!(token = %who.name, "console sign-out");
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, c.sessions.clear_cookie()),
            (header::LOCATION, "/".to_owned()),
        ],
    )
        .into_response()
}

/// What a finished action says on the ticket page (`?done=`): fixed
/// texts, so the address cannot put words in the page.
fn done_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "ack" => "Ladder acknowledged.",
        "approved" => "Approval approved.",
        "rejected" => "Approval rejected.",
        "ticked" => "Checklist item ticked.",
        "unticked" => "Checklist item unticked.",
        _ => return None,
    })
}

/// `GET /tickets/{id}`: `?seq=` waits until that event is processed.
async fn ticket_page(
    State(c): State<Console>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some((s, who)) = c.signed_in(&headers) else {
        return see_other("/");
    };
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let mut notice = None;
    if let Some(seq) = field(&q, "seq").and_then(|v| v.parse::<u64>().ok()) {
        if c.model.wait_processed(seq).await {
            notice = field(&q, "done").and_then(done_text);
        } else {
            notice = Some("Your action is stored; the page will show it once it is processed.");
        }
    }
    render_ticket(&c, &s, &who, &id, StatusCode::OK, None, notice).await
}

/// `GET /tickets/{id}/live`: the ticket page's live part (state, history,
/// clocks, ladders), polled by the page; `204` while the version the page
/// shows (`X-If-None-Match`) is current, so nothing is swapped.
async fn ticket_live(
    State(c): State<Console>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((s, who)) = c.signed_in(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            [("HX-Redirect", "/")],
            "sign in again",
        )
            .into_response();
    };
    let viewer = c.viewer(&s, &who);
    let model = c.model.clone();
    let lookup = id.clone();
    let v = match blocking(move || model.ticket(&lookup)).await {
        Ok(Some(v)) => v,
        Ok(None) => return (StatusCode::NOT_FOUND, format!("no ticket `{id}`")).into_response(),
        Err(e) => return (status_of(&e), e.message).into_response(),
    };
    let tag = pages::ticket_etag(&v, viewer.now, viewer.simulated, who.allows(Scope::Ingest));
    let shown = headers.get("x-if-none-match").and_then(|h| h.to_str().ok());
    if shown == Some(tag.as_str()) {
        return (StatusCode::NO_CONTENT, [(header::ETAG, tag)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (header::ETAG, tag),
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
        ],
        pages::ticket_live(&viewer, &v).into_string(),
    )
        .into_response()
}

async fn render_ticket(
    c: &Console,
    s: &Session,
    who: &Principal,
    id: &str,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let viewer = c.viewer(s, who);
    let model = c.model.clone();
    let lookup = id.to_owned();
    match blocking(move || model.ticket(&lookup)).await {
        Ok(Some(v)) => html(status, pages::ticket(&viewer, &v, error, notice)),
        Ok(None) => html(
            StatusCode::NOT_FOUND,
            pages::message("Not found", Some(&viewer), &format!("No ticket `{id}`.")),
        ),
        Err(e) => html(
            status_of(&e),
            pages::message("Ticket unavailable", Some(&viewer), &e.message),
        ),
    }
}

/// Run an action from a ticket page: the guard, the `ingest` scope, the
/// model; then back to the ticket (which waits for the event).
async fn act(
    c: Console,
    headers: HeaderMap,
    body: Body,
    id: String,
    make: impl FnOnce(&[(String, String)]) -> Result<(Action, &'static str), String>,
) -> Response {
    let (s, who, f) = match post_guard(&c, &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !who.allows(Scope::Ingest) {
        return forbidden(
            &c,
            Some((&s, &who)),
            &format!(
                "Token `{}` lacks the ingest scope needed to act on tickets.",
                who.name
            ),
        );
    }
    let (action, done) = match make(&f) {
        Ok(x) => x,
        Err(e) => {
            return render_ticket(&c, &s, &who, &id, StatusCode::BAD_REQUEST, Some(&e), None).await;
        }
    };
    match c.model.act(&who, &id, action).await {
        Ok(seq) => see_other(&format!(
            "/tickets/{}?seq={seq}&done={done}",
            pages::seg(&id)
        )),
        Err(e) => render_ticket(&c, &s, &who, &id, status_of(&e), Some(&e.message), None).await,
    }
}

async fn ack(
    State(c): State<Console>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    act(c, headers, body, id, |f| {
        let ladder = field(f, "ladder")
            .filter(|l| !l.is_empty())
            .map(str::to_owned);
        Ok((Action::Ack { ladder }, "ack"))
    })
    .await
}

async fn decide(
    State(c): State<Console>,
    Path((id, approval)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    act(c, headers, body, id, move |f| {
        let (approve, done) = match field(f, "decision") {
            Some("approved") => (true, "approved"),
            Some("rejected") => (false, "rejected"),
            _ => return Err("Choose Approve or Reject.".to_owned()),
        };
        let reason = field(f, "reason").unwrap_or("").trim().to_owned();
        if reason.len() > 500 {
            return Err("The reason is longer than 500 characters.".to_owned());
        }
        Ok((
            Action::Decide {
                approval,
                approve,
                reason,
            },
            done,
        ))
    })
    .await
}

async fn tick(
    State(c): State<Console>,
    Path((id, checklist, item)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    act(c, headers, body, id, move |f| {
        let checked = field(f, "checked") != Some("false");
        Ok((
            Action::Tick {
                checklist,
                item,
                checked,
            },
            if checked { "ticked" } else { "unticked" },
        ))
    })
    .await
}

/// `GET /policies`.
/// `POST /policies/migrate` (`admin`): move the open tickets onto the
/// set in force; the policies page with what moved and what was refused.
async fn migrate(State(c): State<Console>, headers: HeaderMap, body: Body) -> Response {
    let (s, who, f) = match post_guard(&c, &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !who.allows(Scope::Admin) {
        return forbidden(
            &c,
            Some((&s, &who)),
            "Moving tickets to another policy set needs a token with the admin scope.",
        );
    }
    if field(&f, "confirm") != Some("yes") {
        let viewer = c.viewer(&s, &who);
        return html(
            StatusCode::BAD_REQUEST,
            pages::message(
                "Not confirmed",
                Some(&viewer),
                "Tick the confirmation box to move the open tickets.",
            ),
        );
    }
    let outcome = c.model.migrate(&who).await;
    if let Ok(m) = &outcome {
        tracing::info!(token = %who.name, to = %m.to, moved = m.moved.len(), refused = m.refused.len(),
            "console: open tickets moved to the policy set in force");
    }
    let model = c.model.clone();
    let view = blocking(move || Ok(model.status())).await;
    let viewer = c.viewer(&s, &who);
    match view {
        Ok(v) => html(
            match &outcome {
                Ok(_) => StatusCode::OK,
                Err(e) => status_of(e),
            },
            pages::status_with(&viewer, &v, Some(&outcome)),
        ),
        Err(e) => html(
            status_of(&e),
            pages::message("Status unavailable", Some(&viewer), &e.message),
        ),
    }
}

async fn status_page(State(c): State<Console>, headers: HeaderMap) -> Response {
    let Some((s, who)) = c.signed_in(&headers) else {
        return see_other("/");
    };
    let model = c.model.clone();
    let view = blocking(move || Ok(model.status())).await;
    let viewer = c.viewer(&s, &who);
    match view {
        Ok(v) => html(StatusCode::OK, pages::status(&viewer, &v)),
        Err(e) => html(
            status_of(&e),
            pages::message("Status unavailable", Some(&viewer), &e.message),
        ),
    }
}

const HTMX: &[u8] = include_bytes!("../assets/htmx.min.js");
const CSS: &[u8] = include_bytes!("../assets/console.css");
const JS: &[u8] = include_bytes!("../assets/console.js");

/// `GET /assets/{name}`: the embedded files. Open (no session needed:
/// the sign-in page uses them).
async fn asset(Path(name): Path<String>) -> Response {
    let (bytes, ty) = match name.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        "console.css" => (CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        bytes,
    )
        .into_response()
}
