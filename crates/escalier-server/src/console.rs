//! The operator console's model ([`escalier_console::ConsoleModel`]) on
//! the server's state: tokens checked by [`crate::auth::Tokens`], tickets
//! and timers read from the store as `GET /v1/tickets` does, stories told
//! as `GET /v1/tickets/{id}/explain` tells them, and actions appended by
//! the functions the API's decision endpoints call.

use escalier_console::model::BoxFuture;
use escalier_console::{
    Action, BaseFilter, ConsoleModel, ModelError, Principal, QueueRow, Scope, SlaState, StatusView,
    TicketView,
};
use escalier_core::sla::ClockState;
use escalier_core::{Priority, Status, Ticket, Tier};
use escalier_store::TicketFilter;
use escalier_store::outbox::DeliveryState;
use http::HeaderMap;
use serde_json::json;

use crate::auth::{self, TokenEntry};
use crate::v1::decisions;
use crate::{ApiError, AppState};

mod index;

/// The console's view of the server.
pub struct Model {
    pub state: AppState,
}

fn principal(e: &TokenEntry) -> Principal {
    Principal {
        name: e.name.clone(),
        token_sha256: e.sha256.clone(),
        scopes: e
            .scopes
            .iter()
            .map(|s| match s {
                auth::Scope::Read => Scope::Read,
                auth::Scope::Ingest => Scope::Ingest,
                auth::Scope::Admin => Scope::Admin,
            })
            .collect(),
    }
}

fn model_error(e: ApiError) -> ModelError {
    ModelError::new(e.status.as_u16(), e.message)
}

fn store_error(e: escalier_store::StoreError) -> ModelError {
    model_error(ApiError::storage(&e))
}

fn filter(f: &BaseFilter) -> Result<TicketFilter, ModelError> {
    let bad = |what: &str, v: &str, names: String| {
        ModelError::new(400, format!("`{v}` is not a {what}; use one of {names}"))
    };
    Ok(TicketFilter {
        status: match &f.status {
            None => None,
            Some(v) => Some(Status::parse(v).ok_or_else(|| bad("status", v, Status::names()))?),
        },
        tier: match f.tier {
            None => None,
            Some(t) => Some(
                Tier::new(i64::from(t))
                    .map_err(|m| ModelError::new(400, format!("tier {t}: {m}")))?,
            ),
        },
        team: f.team.clone(),
        priority: match &f.priority {
            None => None,
            Some(v) => {
                Some(Priority::parse(v).ok_or_else(|| bad("priority", v, Priority::names()))?)
            }
        },
    })
}

/// A ticket as a queue row, its SLA state and next breach as of `now`.
fn row(
    t: &Ticket,
    books: &escalier_core::timers::Books,
    now: escalier_core::Timestamp,
) -> QueueRow {
    let view = escalier_core::timers::view(t, books, now);
    let open = |c: &escalier_core::sla::ClockView| {
        matches!(c.state, ClockState::Running | ClockState::Paused) && c.target.is_some()
    };
    let mut next_breach = None;
    let mut sla = SlaState::None;
    for c in view.clocks.iter().filter(|c| open(c)) {
        if c.breached {
            sla = SlaState::Breached;
        } else if c.state == ClockState::Running && sla != SlaState::Breached {
            sla = SlaState::Running;
        } else if sla == SlaState::None {
            sla = SlaState::Paused;
        }
        if c.state == ClockState::Running
            && let Some(due) = c.due
        {
            next_breach = Some(next_breach.map_or(due, |n: escalier_core::Timestamp| n.min(due)));
        }
    }
    QueueRow {
        id: t.id.as_str().to_owned(),
        subject: t.subject.clone(),
        status: t.status.as_str().to_owned(),
        priority: t.priority.as_str().to_owned(),
        channel: t.channel.as_str().to_owned(),
        tier: t.tier.get(),
        team: t.team.clone(),
        sla,
        next_breach,
        updated_at: t.updated_at,
    }
}

/// Add to each diagnostic of the last rejected reload the offending line
/// of its file (`source_line`), read from the policies directory.
fn with_source_lines(policies: &mut serde_json::Value) {
    let Some(list) = policies
        .pointer_mut("/last_error/diagnostics")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return;
    };
    for d in list {
        let (Some(file), Some(line)) = (d["file"].as_str(), d["line"].as_u64()) else {
            continue;
        };
        let text = std::fs::read_to_string(file).ok();
        let found = text.as_deref().and_then(|t| {
            t.lines()
                .nth(usize::try_from(line).ok()?.checked_sub(1)?)
                .map(|l| l.chars().take(500).collect::<String>())
        });
        if let (Some(l), Some(map)) = (found, d.as_object_mut()) {
            map.insert("source_line".into(), l.into());
        }
    }
}

impl Model {
    /// Deliveries retrying or failed (at most 100 of each), most recently
    /// changed first; `None` if the store cannot say.
    fn deliveries(&self) -> Option<serde_json::Value> {
        let mut rows = Vec::new();
        for state in [DeliveryState::Retrying, DeliveryState::Failed] {
            match self.state.store.deliveries(Some(state), None, 100, None) {
                Ok((found, _)) => rows.extend(found),
                Err(e) => {
                    tracing::error!(error = %e, "reading deliveries for the console");
                    return None;
                }
            }
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
        serde_json::to_value(rows).ok()
    }
}

impl ConsoleModel for Model {
    fn migrate<'a>(
        &'a self,
        who: &'a Principal,
    ) -> BoxFuture<'a, Result<escalier_console::Migrated, ModelError>> {
        Box::pin(async move {
            // The scopes as the token file says now, not as the session saw them.
            let entry = self
                .state
                .tokens
                .by_hash(&who.token_sha256)
                .ok_or_else(|| ModelError::new(401, "the token was revoked: sign in again"))?;
            if !entry.scopes.contains(&auth::Scope::Admin) {
                return Err(ModelError::new(
                    403,
                    format!("token `{}` lacks the admin scope", entry.name),
                ));
            }
            let (_, a) = crate::v1::migrate::run(&self.state, &entry.name, "latest".into(), false)
                .await
                .map_err(model_error)?;
            Ok(escalier_console::Migrated {
                pinning_off: a.pin.as_deref() == Some("latest"),
                to: a.to,
                moved: a.tickets.into_iter().map(|t| t.id).collect(),
                refused: a.skipped.into_iter().map(|t| (t.id, t.reason)).collect(),
            })
        })
    }

    fn backtests(&self) -> Option<std::sync::Arc<dyn escalier_console::backtest::BacktestModel>> {
        let b = self.state.backtests.clone()?;
        Some(std::sync::Arc::new(crate::backtest::Shared(b)))
    }

    fn authenticate(&self, token: &str) -> Option<Principal> {
        self.state.tokens.check(token).as_ref().map(principal)
    }

    fn recheck(&self, token_sha256: &str) -> Option<Principal> {
        self.state
            .tokens
            .by_hash(token_sha256)
            .as_ref()
            .map(principal)
    }

    fn now(&self) -> escalier_core::Timestamp {
        self.state.timers.clock.now()
    }

    fn simulated_clock(&self) -> bool {
        self.state.timers.simulated.is_some()
    }

    fn tickets(&self, f: &BaseFilter, cap: usize) -> Result<Vec<QueueRow>, ModelError> {
        let tf = filter(f)?;
        let only_open = f.status.is_none();
        let books = (self.state.timers.books)();
        let now = self.now();
        let store = &self.state.store;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store
                .tickets(&tf, after.as_deref(), 1000, usize::MAX)
                .map_err(store_error)?;
            for t in &page.items {
                if only_open && !t.is_open() {
                    continue;
                }
                out.push(row(t, &books, now));
                if out.len() >= cap {
                    return Ok(out);
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => return Ok(out),
            }
        }
    }

    fn queue(
        &self,
        q: &escalier_console::queue::QueueQuery,
        now: escalier_core::Timestamp,
    ) -> Option<
        Result<
            (
                escalier_console::queue::QueuePage,
                escalier_console::queue::QueryChoices,
            ),
            ModelError,
        >,
    > {
        index::queue(&self.state, q, now)
    }

    fn matrix(&self) -> Result<escalier_console::matrix::Matrix, ModelError> {
        if let Some(m) = index::matrix(&self.state) {
            return Ok(m);
        }
        let cap = escalier_console::queue::SCAN_CAP;
        let rows = self.tickets(&BaseFilter::default(), cap)?;
        let mut m = escalier_console::matrix::Matrix {
            truncated: rows.len() >= cap,
            ..Default::default()
        };
        for r in &rows {
            m.add(r.tier, r.team.as_deref(), &r.channel, 1);
        }
        Ok(m)
    }

    fn stats(
        &self,
        from: escalier_core::Timestamp,
        to: escalier_core::Timestamp,
    ) -> Result<serde_json::Value, ModelError> {
        let s = crate::v1::stats::compute(&self.state, from, to).map_err(store_error)?;
        Ok(serde_json::to_value(&s).unwrap_or_default())
    }

    fn ticket(&self, id: &str) -> Result<Option<TicketView>, ModelError> {
        let Some(ticket) = self.state.store.ticket(id).map_err(store_error)? else {
            return Ok(None);
        };
        let timers = escalier_core::timers::view(&ticket, &(self.state.timers.books)(), self.now());
        let story = crate::v1::explain::story(&self.state, id).map_err(store_error)?;
        Ok(Some(TicketView {
            ticket: serde_json::to_value(&ticket).unwrap_or_default(),
            timers: serde_json::to_value(&timers).unwrap_or_default(),
            story: story.and_then(|s| serde_json::to_value(&s).ok()),
        }))
    }

    fn status(&self) -> StatusView {
        let mut policies = self.state.policies.status();
        with_source_lines(&mut policies);
        StatusView {
            policies,
            plugins: self.state.plugins.as_ref().map(|r| {
                json!({
                    "dir": r.plugins_dir().display().to_string(),
                    "plugins": r.status(),
                })
            }),
            deliveries: self.deliveries(),
        }
    }

    fn act<'a>(
        &'a self,
        who: &'a Principal,
        ticket: &'a str,
        action: Action,
    ) -> BoxFuture<'a, Result<u64, ModelError>> {
        Box::pin(async move {
            // The scopes as the token file says now, not as the session saw them.
            let entry = self
                .state
                .tokens
                .by_hash(&who.token_sha256)
                .ok_or_else(|| ModelError::new(401, "the token was revoked: sign in again"))?;
            if !entry
                .scopes
                .iter()
                .any(|s| matches!(s, auth::Scope::Ingest | auth::Scope::Admin))
            {
                return Err(ModelError::new(
                    403,
                    format!("token `{}` lacks the ingest scope", entry.name),
                ));
            }
            let st = &self.state;
            let headers = HeaderMap::new();
            let id = ticket.to_owned();
            let done = match action {
                Action::Ack { ladder } => {
                    decisions::ack_as(st, &headers, &entry, id, ladder, None, None).await
                }
                Action::Decide {
                    approval,
                    approve,
                    reason,
                } => {
                    let decision = if approve { "approved" } else { "rejected" };
                    let reason = (!reason.is_empty()).then_some(reason);
                    decisions::decide_as(st, &headers, &entry, id, approval, decision, None, reason)
                        .await
                }
                Action::Tick {
                    checklist,
                    item,
                    checked,
                } => {
                    decisions::tick_as(st, &headers, &entry, id, checklist, item, checked, None)
                        .await
                }
            };
            done.map(|(_, accepted)| accepted.0.seq)
                .map_err(model_error)
        })
    }

    fn wait_processed(&self, seq: u64) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let p = self.state.store.progress();
            seq <= p.committed() && p.wait_processed(seq, self.state.limits.max_wait).await
        })
    }
}
