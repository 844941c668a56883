//! Escalier's HTTP API.
//!
//! `router()` builds the axum app from an [`AppState`]; [`serve`] runs it
//! on a listener the caller bound, until the caller's shutdown future
//! resolves, then finishes in-flight requests. Nothing here binds ports,
//! reads the environment or installs signal handlers.
//!
//! # Layout
//!
//! - [`auth`]: API tokens, scopes and the middleware that enforces them.
//! - [`error`]: `ApiError`, the one JSON error shape (`code`, `message`, `field`).
//! - [`webhook`]: Standard Webhooks signature verification and secrets.
//! - [`v1::events`]: `POST /v1/events` (ingest), `GET /v1/events` (log tail).
//! - [`v1::tickets`]: `GET /v1/tickets`, `GET /v1/tickets/{id}`.
//! - [`v1::explain`]: `GET /v1/tickets/{id}/explain` (a ticket's story).
//! - [`v1::policies`]: `GET /v1/policies`.
//! - [`v1::admin`]: `/v1/admin/clock` (simulated time).
//! - [`v1::decisions`]: acknowledgements, approval decisions, checklist ticks.
//! - [`v1::stats`]: `GET /v1/stats`.
//! - [`v1::migrate`]: `POST /v1/admin/migrate` (pinned policy versions).
//! - [`v1::plugins`]: `GET /v1/plugins`, adapter sources, plugin commands.
//! - [`v1::backtests`]: `POST /v1/backtests`, `GET /v1/backtests/{id}`
//!   (runs of [`backtest`]: the candidate policies replayed over the log).
//! - [`v1::openapi`]: `GET /v1/openapi.json`, the OpenAPI 3.1 document.
//! - [`ops`]: `/healthz`, `/metrics`.
//! - [`policy_tests`]: the policy tests of the set in force, run in the
//!   background (`tests` in `GET /v1/policies`).
//! - [`console`]: the operator console's model (the pages are the
//!   `escalier-console` crate, served at `/`).
//! - [`ratelimit`]: per-client rate limits on the write endpoints and on
//!   requests without a valid credential.
//! - [`conn`]: the accept loop and the connection limits (header-read and
//!   idle timeout, head size, connection cap).

pub mod auth;
pub mod backtest;
pub mod conn;
pub mod console;
pub mod error;
pub mod ops;
pub mod policy_tests;
pub mod ratelimit;
pub mod v1;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use escalier_store::{Store, Writer};
use tokio::net::TcpListener;

pub use error::ApiError;
pub use webhook::{Secret, Verifier};

/// Limits on what a request may carry and how long it may wait.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most events in one batch.
    pub max_batch_events: usize,
    /// Longest `wait_for_seq` wait.
    pub max_wait: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Header-read/idle timeout, head size and connection cap.
    pub conn: conn::ConnLimits,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 1 << 20,
            max_batch_events: 1000,
            max_wait: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            conn: conn::ConnLimits::default(),
        }
    }
}

/// Something that reports its state as JSON for the API (policy set, plugins).
pub trait StatusSource: Send + Sync + 'static {
    fn status(&self) -> serde_json::Value;
}

impl<F: Fn() -> serde_json::Value + Send + Sync + 'static> StatusSource for F {
    fn status(&self) -> serde_json::Value {
        self()
    }
}

/// Time and clocks as the handlers see them.
#[derive(Clone)]
pub struct Timers {
    /// The server's time (simulated when `simulated` is set).
    pub clock: Arc<dyn escalier_core::Clock>,
    /// Set with `escalier serve --simulated-clock`: `POST /v1/admin/clock` moves it.
    pub simulated: Option<Arc<escalier_core::ManualClock>>,
    pub scheduler: Option<escalier_store::SchedulerHandle>,
    /// The SLA policies, calendars and ladders in force.
    pub books: Arc<dyn Fn() -> Arc<escalier_core::timers::Books> + Send + Sync>,
}

impl Timers {
    /// Real time, no scheduler, no books: for tests of the HTTP layer.
    pub fn system() -> Timers {
        Timers {
            clock: Arc::new(escalier_core::SystemClock),
            simulated: None,
            scheduler: None,
            books: Arc::new(|| Arc::new(escalier_core::timers::Books::empty())),
        }
    }
}

/// Everything the handlers need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub writer: Writer,
    pub verifier: Arc<Verifier>,
    pub tokens: Arc<auth::Tokens>,
    pub limits: HttpLimits,
    pub limiter: ratelimit::Limiter,
    /// Requests without a valid credential (open endpoints, unknown
    /// routes, bad tokens), per client address.
    pub open_limiter: ratelimit::Limiter,
    pub policies: Arc<dyn StatusSource>,
    pub timers: Timers,
    /// The plugin host; `None` runs without plugins.
    pub plugins: Option<Arc<escalier_plugin::PluginRegistry>>,
    /// The notification targets in force (`GET /v1/notify/targets`);
    /// `None`: notifications are not wired.
    pub notify: Option<Arc<dyn StatusSource>>,
    /// Renders Prometheus text; `None` disables `/metrics`.
    pub metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
    /// The operator console's sessions; `None` serves no console. Shared
    /// with [`ops::bound_request`]: a request with a live session is not
    /// counted against the `open` limit.
    pub console: Option<Arc<escalier_console::Sessions>>,
    /// Backtests of `policies.candidate_dir` (`/v1/backtests`, the
    /// console's `/backtest`); `None`: none are run.
    pub backtests: Option<Arc<backtest::Backtests>>,
}

impl AppState {
    /// Middleware state requiring `scope`; use with
    /// `axum::middleware::from_fn_with_state(st.guard(scope), auth::guard)`.
    pub fn guard(&self, scope: auth::Scope) -> auth::Guard {
        auth::Guard {
            scope,
            tokens: self.tokens.clone(),
        }
    }
}

/// The console's session store with these settings (so the binary need
/// not name the console crate).
pub fn console_sessions(
    secure_cookie: bool,
    idle: Duration,
    absolute: Duration,
) -> Arc<escalier_console::Sessions> {
    let config = escalier_console::SessionConfig {
        secure_cookie,
        idle,
        absolute,
        ..escalier_console::SessionConfig::default()
    };
    Arc::new(escalier_console::Sessions::new(
        config,
        Arc::new(std::time::Instant::now),
    ))
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    use tower_http::timeout::TimeoutLayer;
    use tower_http::trace::TraceLayer;

    let timeout = state.limits.request_timeout;
    let pages = match &state.console {
        Some(sessions) => escalier_console::router(escalier_console::Console::with_sessions(
            Arc::new(console::Model {
                state: state.clone(),
            }),
            sessions.clone(),
        )),
        None => Router::new(),
    };
    Router::new()
        .merge(pages)
        .merge(v1::events::router(&state))
        .merge(v1::tickets::router(&state))
        .merge(v1::explain::router(&state))
        .merge(v1::policies::router(&state))
        .merge(v1::admin::router(&state))
        .merge(v1::decisions::router(&state))
        .merge(v1::plugins::router(&state))
        .merge(v1::notify::router(&state))
        .merge(v1::migrate::router(&state))
        .merge(v1::stats::router(&state))
        .merge(v1::deliveries::router(&state))
        .merge(v1::cluster::router(&state))
        .merge(v1::backtests::router(&state))
        .merge(v1::openapi::router(&state))
        .merge(ops::router(&state))
        .fallback(|| async { ApiError::not_found("route", "no such endpoint; see docs/api.md") })
        // A known path with a method it does not take: JSON like every
        // other error (axum adds the `Allow` header).
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method; see docs/api.md",
            )
        })
        // Outermost last: every answer is counted, refusals included.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::bound_request,
        ))
        .layer(axum::middleware::from_fn(ops::record_request))
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serve until `shutdown` resolves, then stop accepting and let in-flight
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limiters = [state.limiter.clone(), state.open_limiter.clone()];
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            for l in &limiters {
                l.shrink();
            }
        }
    });
    let limits = state.limits.conn.clone();
    let r = conn::serve(listener, router(state), limits, shutdown).await;
    sweeper.abort();
    r
}
