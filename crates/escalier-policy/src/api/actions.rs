//! The actions a policy can take: `escalate`, `route`, `set_priority`,
//! `assign`, `tag`, `notify`, `note`, `require_approval`,
//! `require_checklist`, `start_ladder`, `stop_ladder`.
//!
//! Each builds the escalier-core action, checks it with the same rules the
//! processor applies (`Action::validate`), and records it for the current
//! run. A bad argument is a runtime error at the call site, so the
//! `policy.error` points at the line that needs fixing, rather than an
//! `invalid_action` later that points nowhere.
//!
//! Parameters are taken as `Dynamic` so a wrong type gets our message
//! ("`tier` must be a whole number from 0 to 4, got the string "2"")
//! instead of Rhai's "function not found" listing Rust types.

use escalier_core::action::{
    Assign, Escalate, Note, Notify, RequireApproval, RequireChecklist, Route, SetPriority,
    StartLadder, StopLadder, Tag,
};
use escalier_core::{Action, Priority, Tier};
use rhai::{Dynamic, Engine, EvalAltResult, NativeCallContext};

use super::{ApiError, describe, string_arg};
use crate::sink;

type Res = Result<(), Box<EvalAltResult>>;

/// Validate and record.
fn take(ctx: &NativeCallContext, func: &str, action: Action) -> Res {
    if let Err(r) = action.validate() {
        let field = if r.field.is_empty() {
            String::new()
        } else {
            format!("`{}` ", r.field)
        };
        return Err(
            ApiError::invalid_argument(format!("{func}: {field}{}", r.message)).into_eval(),
        );
    }
    sink::push(action, ctx.call_position())
}

fn s(func: &str, param: &str, v: &Dynamic) -> Result<String, Box<EvalAltResult>> {
    string_arg(func, param, v).map(|s| s.as_str().to_owned())
}

fn tier_arg(v: &Dynamic) -> Result<Tier, Box<EvalAltResult>> {
    let n = v.as_int().map_err(|_| {
        ApiError::invalid_argument(format!(
            "escalate: `tier` must be a whole number from 0 to {}, got {}",
            Tier::MAX,
            describe(v)
        ))
        .into_eval()
    })?;
    Tier::new(n).map_err(|m| ApiError::invalid_argument(format!("escalate: {m}")).into_eval())
}

fn priority_arg(v: &Dynamic) -> Result<Priority, Box<EvalAltResult>> {
    let p = string_arg("set_priority", "priority", v)?;
    Priority::parse(&p).ok_or_else(|| {
        let names = Priority::ALL.iter().map(|p| p.as_str());
        let hint = escalier_core::suggest::nearest(&p, names)
            .map(|n| format!(" (did you mean \"{n}\"?)"))
            .unwrap_or_default();
        ApiError::invalid_argument(format!(
            "set_priority: unknown priority \"{p}\"{hint}; priorities are {}",
            Priority::names()
        ))
        .into_eval()
    })
}

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn(
        "escalate",
        |ctx: NativeCallContext, tier: Dynamic, reason: Dynamic| -> Res {
            let action = Escalate {
                tier: tier_arg(&tier)?,
                reason: s("escalate", "reason", &reason)?,
            };
            take(&ctx, "escalate", Action::Escalate(action))
        },
    );
    engine.register_fn(
        "route",
        |ctx: NativeCallContext, team: Dynamic, reason: Dynamic| -> Res {
            let action = Route {
                team: s("route", "team", &team)?,
                reason: s("route", "reason", &reason)?,
            };
            take(&ctx, "route", Action::Route(action))
        },
    );
    engine.register_fn(
        "set_priority",
        |ctx: NativeCallContext, priority: Dynamic| -> Res {
            let action = SetPriority {
                priority: priority_arg(&priority)?,
            };
            take(&ctx, "set_priority", Action::SetPriority(action))
        },
    );
    engine.register_fn("assign", |ctx: NativeCallContext, agent: Dynamic| -> Res {
        let action = Assign {
            agent: s("assign", "agent", &agent)?,
        };
        take(&ctx, "assign", Action::Assign(action))
    });
    engine.register_fn("tag", |ctx: NativeCallContext, tag: Dynamic| -> Res {
        let action = Tag {
            tag: s("tag", "tag", &tag)?,
        };
        take(&ctx, "tag", Action::Tag(action))
    });
    engine.register_fn(
        "notify",
        |ctx: NativeCallContext, channel: Dynamic, message: Dynamic| -> Res {
            let action = Notify {
                channel: s("notify", "channel", &channel)?,
                message: s("notify", "message", &message)?,
            };
            take(&ctx, "notify", Action::Notify(action))
        },
    );
    engine.register_fn("note", |ctx: NativeCallContext, text: Dynamic| -> Res {
        let action = Note {
            text: s("note", "text", &text)?,
        };
        take(&ctx, "note", Action::Note(action))
    });
    engine.register_fn(
        "require_approval",
        |ctx: NativeCallContext, kind: Dynamic, reason: Dynamic| -> Res {
            let action = RequireApproval {
                kind: s("require_approval", "kind", &kind)?,
                reason: s("require_approval", "reason", &reason)?,
            };
            take(&ctx, "require_approval", Action::RequireApproval(action))
        },
    );
    engine.register_fn(
        "require_checklist",
        |ctx: NativeCallContext, name: Dynamic| -> Res {
            let action = RequireChecklist {
                name: s("require_checklist", "name", &name)?,
            };
            take(&ctx, "require_checklist", Action::RequireChecklist(action))
        },
    );
    engine.register_fn(
        "start_ladder",
        |ctx: NativeCallContext, ladder: Dynamic, reason: Dynamic| -> Res {
            let action = StartLadder {
                ladder: s("start_ladder", "ladder", &ladder)?,
                reason: s("start_ladder", "reason", &reason)?,
            };
            take(&ctx, "start_ladder", Action::StartLadder(action))
        },
    );
    engine.register_fn(
        "stop_ladder",
        |ctx: NativeCallContext, ladder: Dynamic, reason: Dynamic| -> Res {
            let action = StopLadder {
                ladder: s("stop_ladder", "ladder", &ladder)?,
                reason: s("stop_ladder", "reason", &reason)?,
            };
            take(&ctx, "stop_ladder", Action::StopLadder(action))
        },
    );
}
