//! The script API: what a policy sees (`ticket`, `event`) and what it can
//! do (actions, helpers).
//!
//! Errors raised here are Rhai runtime errors carrying an [`ApiError`], so
//! the evaluator can report a stable code (`invalid_argument`,
//! `too_many_actions`) at the exact call site.

mod actions;
mod event;
mod helpers;
mod ticket;
mod value;

use rhai::{Dynamic, Engine, EvalAltResult, Position};

pub(crate) use event::EventView;
pub(crate) use ticket::TicketView;

/// Register every type and function of the policy API.
pub(crate) fn register(engine: &mut Engine) {
    ticket::register(engine);
    event::register(engine);
    actions::register(engine);
    helpers::register(engine);
    engine.register_type_with_name::<ApiError>("Error");
    engine.register_fn("to_string", |e: &mut ApiError| e.message.clone());
    engine.register_fn("to_debug", |e: &mut ApiError| {
        format!("{}: {}", e.code, e.message)
    });
}

/// An error raised by the policy API, with a stable code for `policy.error`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        ApiError {
            code: "invalid_argument",
            message: message.into(),
        }
    }

    pub fn too_many_actions(max: usize) -> Self {
        ApiError {
            code: "too_many_actions",
            message: format!(
                "more than {max} actions in one run; a policy that acts in a loop is probably acting on the \
                 wrong condition"
            ),
        }
    }

    /// As a Rhai error; the engine fills in the call site's position.
    pub fn into_eval(self) -> Box<EvalAltResult> {
        EvalAltResult::ErrorRuntime(Dynamic::from(self), Position::NONE).into()
    }
}

/// A value's type as a policy author would say it, for error messages.
pub(crate) fn describe(v: &Dynamic) -> String {
    if v.is_unit() {
        return "nothing (`()`)".into();
    }
    if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        return format!("the string {:?}", truncate(s.as_str(), 40));
    }
    if let Ok(i) = v.as_int() {
        return format!("the number {i}");
    }
    if let Ok(b) = v.as_bool() {
        return format!("`{b}`");
    }
    let t = match v.type_name() {
        "f64" => "a decimal number",
        "char" => "a character",
        "array" => "an array",
        "map" => "a map",
        "Fn" => "a function",
        n if n.ends_with("TicketView") => "the ticket",
        n if n.ends_with("EventView") => "the event",
        _ => "a value",
    };
    t.into()
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A string argument, or an `invalid_argument` error naming the function and parameter.
pub(crate) fn string_arg(
    func: &str,
    param: &str,
    v: &Dynamic,
) -> Result<rhai::ImmutableString, Box<EvalAltResult>> {
    match v.read_lock::<rhai::ImmutableString>() {
        Some(s) => Ok(s.clone()),
        None => Err(ApiError::invalid_argument(format!(
            "{func}: `{param}` must be a string, got {}",
            describe(v)
        ))
        .into_eval()),
    }
}
