//! What the console reads and does, as a trait the server implements on
//! its own state: the console never opens the store or appends events
//! itself, so what it shows is what the API serves, and what it does goes
//! through the API's code paths (same checks, same events, same auth).

use std::future::Future;
use std::pin::Pin;

use jiff::Timestamp;
use serde_json::Value;

/// A boxed future, for the trait's asynchronous methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a token may do: `read` sees, `ingest` acts on tickets, `admin`
/// does everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Ingest,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ingest => "ingest",
            Scope::Admin => "admin",
        }
    }
}

/// Who is signed in: the token's name, its hash (the session keeps the
/// hash, never the token) and its scopes as of now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub token_sha256: String,
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// `admin` implies every scope.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }
}

/// The filters the store can apply while listing tickets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseFilter {
    /// A status name (`new`, `open`, `pending`, ...); `None`: every status
    /// but solved and closed.
    pub status: Option<String>,
    pub tier: Option<u8>,
    pub team: Option<String>,
    pub priority: Option<String>,
}

/// Where a ticket's SLA stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SlaState {
    /// A clock ran past its target.
    Breached,
    /// A clock is counting towards a target.
    Running,
    /// Every open clock is paused.
    Paused,
    /// No clock with a target (no SLA, or all met).
    None,
}

impl SlaState {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::Breached => "breached",
            SlaState::Running => "running",
            SlaState::Paused => "paused",
            SlaState::None => "none",
        }
    }
}

/// One ticket as the queue shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub id: String,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub channel: String,
    pub tier: u8,
    pub team: Option<String>,
    pub sla: SlaState,
    /// The soonest instant a running clock breaches, if any.
    pub next_breach: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// One ticket as its page shows it: the JSON the API serves for
/// `GET /v1/tickets/{id}` (`ticket`, `timers`) and for
/// `GET /v1/tickets/{id}/explain` (`story`).
#[derive(Debug, Clone)]
pub struct TicketView {
    pub ticket: Value,
    pub timers: Value,
    pub story: Option<Value>,
}

/// What the policies and plugins page shows: the JSON of
/// `GET /v1/policies` and `GET /v1/plugins` (`None`: no plugin host), and
/// the deliveries that need attention.
#[derive(Debug, Clone)]
pub struct StatusView {
    pub policies: Value,
    pub plugins: Option<Value>,
    /// Outbound deliveries retrying or failed, as `GET /v1/deliveries`
    /// lists them (an array), most recently changed first; `None`: the
    /// server keeps no deliveries.
    pub deliveries: Option<Value>,
}

/// Something a person does on a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Acknowledge the ticket's running ladders (or one of them).
    Ack { ladder: Option<String> },
    /// Approve or reject a pending approval.
    Decide {
        approval: String,
        approve: bool,
        reason: String,
    },
    /// Tick (or untick) a checklist item.
    Tick {
        checklist: String,
        item: String,
        checked: bool,
    },
}

/// Why an action or a read was refused: an HTTP status and a message
/// fit to show the person (never internal detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    pub status: u16,
    pub message: String,
}

impl ModelError {
    pub fn new(status: u16, message: impl Into<String>) -> ModelError {
        ModelError {
            status,
            message: message.into(),
        }
    }
}

/// The server's read model and actions, as the console needs them.
///
/// Read methods may block (the store is synchronous): the console calls
/// them on the blocking pool.
pub trait ConsoleModel: Send + Sync + 'static {
    /// The principal a presented token is, if the server knows it.
    fn authenticate(&self, token: &str) -> Option<Principal>;
    /// The principal a token hash is now, if the token is still valid
    /// (revoked tokens are not): every signed-in request checks it.
    fn recheck(&self, token_sha256: &str) -> Option<Principal>;
    /// The server's time (simulated or not).
    fn now(&self) -> Timestamp;
    /// Whether time only moves when told to (`--simulated-clock`).
    fn simulated_clock(&self) -> bool;
    /// Tickets matching `filter`, at most `cap` of them.
    fn tickets(&self, filter: &BaseFilter, cap: usize) -> Result<Vec<QueueRow>, ModelError>;
    /// One page of the queue straight from an index, if the model keeps
    /// one; `None`: the console lists [`ConsoleModel::tickets`] and
    /// filters, sorts and pages them itself.
    fn queue(
        &self,
        _q: &crate::queue::QueueQuery,
        _now: Timestamp,
    ) -> Option<Result<(crate::queue::QueuePage, crate::queue::QueryChoices), ModelError>> {
        None
    }
    /// Open tickets counted by tier × team and channel × tier (the
    /// escalation matrix). By default counted from [`ConsoleModel::tickets`].
    fn matrix(&self) -> Result<crate::matrix::Matrix, ModelError> {
        let rows = self.tickets(&BaseFilter::default(), crate::queue::SCAN_CAP)?;
        let mut m = crate::matrix::Matrix {
            truncated: rows.len() >= crate::queue::SCAN_CAP,
            ..Default::default()
        };
        for r in &rows {
            m.add(r.tier, r.team.as_deref(), &r.channel, 1);
        }
        Ok(m)
    }
    /// The figures of `GET /v1/stats?from=&to=` (its JSON; definitions in
    /// `docs/stats.md`).
    fn stats(&self, _from: Timestamp, _to: Timestamp) -> Result<Value, ModelError> {
        Err(ModelError::new(
            501,
            "this server does not compute statistics",
        ))
    }
    /// One ticket, its timers and its story; `None` if unknown.
    fn ticket(&self, id: &str) -> Result<Option<TicketView>, ModelError>;
    /// The policy set and the plugins.
    fn status(&self) -> StatusView;
    /// Do `action` on `ticket` as `who`; the seq of the appended event.
    fn act<'a>(
        &'a self,
        who: &'a Principal,
        ticket: &'a str,
        action: Action,
    ) -> BoxFuture<'a, Result<u64, ModelError>>;
    /// Wait (bounded) until the processor has applied `seq`.
    fn wait_processed(&self, seq: u64) -> BoxFuture<'_, bool>;
    /// The server's backtests (`/backtest`); `None`: none are run.
    fn backtests(&self) -> Option<std::sync::Arc<dyn crate::backtest::BacktestModel>> {
        None
    }
    /// Move the open tickets onto the policy set in force as `who`
    /// (`admin`), as `POST /v1/admin/migrate` with `to: latest` does.
    fn migrate<'a>(&'a self, _who: &'a Principal) -> BoxFuture<'a, Result<Migrated, ModelError>> {
        Box::pin(async { Err(ModelError::new(501, "this server does not migrate tickets")) })
    }
}

/// What moving the open tickets onto the set in force did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrated {
    /// The version moved to.
    pub to: String,
    /// `policies.pin = "latest"`: every ticket follows the set in force,
    /// nothing to move.
    pub pinning_off: bool,
    /// Tickets moved (a `policy.migrated` record each).
    pub moved: Vec<String>,
    /// Tickets not moved, each with the reason.
    pub refused: Vec<(String, String)>,
}
