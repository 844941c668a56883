//! The Rhai engine policies run in: [`harden`] builds it with every limit
//! in one place, [`PolicyEngine`] adds the script API and remembers what
//! names exist so the compiler can point at typos.
//!
//! One engine per process, shared by every policy set (`Arc`): building it
//! registers a few hundred functions, which is not something to repeat per
//! reload, let alone per event.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
    BasicStringPackage, BitFieldPackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{Engine, Module, OptimizationLevel};

use crate::limits::PolicyLimits;
use crate::{api, sink};

/// A raw Rhai engine with the packages policies need and every limit set.
///
/// What is left out, and why:
/// - `LanguageCorePackage`: `sleep` (blocks the dispatcher), `exit`, and a
///   `tag` property that would collide with the `tag` action.
/// - `BasicTimePackage`: `timestamp()` reads the wall clock, which would make
///   replays and backtests disagree with the live run. Policies get time from
///   the event (`event.occurred_at`, `ticket.age_minutes`).
/// - `BasicBlobPackage`, `BasicFnPackage`, debugging: nothing a policy needs.
/// - File and process access: Rhai has none outside `import` (no module
///   resolver, and `no_module` makes it a syntax error) and `eval` (disabled).
///
/// Optimisation is off here on purpose: the compiler analyses the AST as
/// written (positions, `ON`) and then optimises explicitly with an empty
/// scope, so `ticket`/`event` are never folded into placeholder values.
pub fn harden(limits: &PolicyLimits) -> Engine {
    let mut engine = Engine::new_raw();
    // One module for all packages: Rhai resolves a call by asking each
    // global module in turn, so nine packages cost up to nine lookups per call.
    let mut packages = Module::new();
    for p in [
        ArithmeticPackage::new().as_shared_module(),
        LogicPackage::new().as_shared_module(),
        BasicMathPackage::new().as_shared_module(),
        BitFieldPackage::new().as_shared_module(),
        BasicStringPackage::new().as_shared_module(),
        MoreStringPackage::new().as_shared_module(),
        BasicIteratorPackage::new().as_shared_module(),
        BasicArrayPackage::new().as_shared_module(),
        BasicMapPackage::new().as_shared_module(),
    ] {
        packages.combine_flatten(std::sync::Arc::unwrap_or_clone(p));
    }
    packages.build_index();
    engine.register_global_module(packages.into());

    crate::bounded::register(&mut engine);

    engine.disable_symbol("eval");
    engine.set_strict_variables(true);
    engine.set_optimization_level(OptimizationLevel::None);

    // Rhai reads 0 as "unlimited"; limits here are always on.
    engine.set_max_operations(limits.max_operations.max(1));
    engine.set_max_call_levels(limits.max_call_depth.max(1));
    engine.set_max_expr_depths(
        limits.max_expr_depth.max(1),
        limits.max_function_expr_depth.max(1),
    );
    engine.set_max_string_size(limits.max_string_size.max(1));
    engine.set_max_array_size(limits.max_array_size.max(1));
    engine.set_max_map_size(limits.max_map_size.max(1));
    engine.set_max_variables(limits.max_variables.max(1));
    engine.set_max_functions(limits.max_functions.max(1));

    // Rhai stops at `max_operations` by its own count; `sink` adds the work
    // built-ins charged, and the clock.
    engine.on_progress(|ops| {
        if ops % sink::CLOCK_CHECK_EVERY != 0 {
            return None;
        }
        sink::progress(ops)
    });
    // Capped like plugin logs: a policy printing in a loop must not flood
    // the log (see `sink::log_line`).
    engine.on_print(|text| {
        // Counted first: `with_policy` holds the run state while it calls back.
        let line = sink::log_line(text);
        sink::with_policy(|policy| match line {
            sink::LogLine::Write(msg) => {
                tracing::info!(target: "escalier::policy", policy, "{msg}");
            }
            sink::LogLine::QuotaReached => quota_note(policy),
            sink::LogLine::Drop => {}
        });
    });
    engine.on_debug(|text, source, pos| {
        let policy = source.unwrap_or("?");
        match sink::log_line(text) {
            sink::LogLine::Write(msg) => {
                tracing::debug!(target: "escalier::policy", policy, line = pos.line(), "{msg}");
            }
            sink::LogLine::QuotaReached => quota_note(policy),
            sink::LogLine::Drop => {}
        }
    });
    engine
}

fn quota_note(policy: &str) {
    tracing::warn!(
        target: "escalier::policy",
        policy,
        "print/debug output of this run passed {} lines or {} bytes; the rest of it is not logged",
        sink::MAX_LOG_LINES,
        sink::MAX_LOG_BYTES
    );
}

/// The hardened engine with the policy API registered, plus the names it
/// knows (for compile-time "did you mean").
pub struct PolicyEngine {
    pub(crate) engine: Engine,
    limits: PolicyLimits,
    pub(crate) known: Known,
    /// Checks `notify.toml` when a set is built; none: the file is carried
    /// (and versioned) unchecked.
    pub(crate) notify_check: Option<Arc<NotifyCheck>>,
}

/// Checks the text of `notify.toml` against the set's SLA calendars. The
/// policy crate carries the file with the set (read, versioned, reloaded
/// all or nothing with the others) without knowing its format; the binary
/// gives the notifications crate's parser.
pub type NotifyCheck = dyn Fn(&str, &escalier_core::timers::Books) -> Result<(), escalier_core::calendar::ConfigError>
    + Send
    + Sync;

/// Names the compiler checks calls and properties against.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// Function name → argument counts it accepts (methods count the receiver).
    pub functions: BTreeMap<String, BTreeSet<usize>>,
    pub ticket_properties: BTreeSet<String>,
    pub event_properties: BTreeSet<String>,
}

/// Functions the engine handles itself rather than through a module.
const KEYWORD_FUNCTIONS: &[(&str, &[usize])] = &[
    ("print", &[0, 1]),
    ("debug", &[0, 1]),
    ("type_of", &[1]),
    ("Fn", &[1]),
    ("is_shared", &[1]),
    ("is_def_var", &[1]),
    ("is_def_fn", &[2, 3]),
];

/// Functions whose argument count the engine does not fix (`call(f, a, b)`).
pub(crate) const VARIADIC_KEYWORDS: &[&str] = &["call", "curry"];

impl PolicyEngine {
    pub fn new(limits: PolicyLimits) -> Self {
        let mut engine = harden(&limits);
        api::register(&mut engine);
        let known = collect_known(&engine);
        PolicyEngine {
            engine,
            limits,
            known,
            notify_check: None,
        }
    }

    /// Check `notify.toml` with `check` whenever a set is built: a file
    /// that fails refuses the set, like a broken policy.
    pub fn with_notify_check(mut self, check: Arc<NotifyCheck>) -> Self {
        self.notify_check = Some(check);
        self
    }

    pub fn limits(&self) -> &PolicyLimits {
        &self.limits
    }

    /// The process-wide engine with default limits, built on first use.
    pub fn shared_default() -> Arc<PolicyEngine> {
        static DEFAULT: OnceLock<Arc<PolicyEngine>> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Arc::new(PolicyEngine::new(PolicyLimits::default())))
            .clone()
    }
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn collect_known(engine: &Engine) -> Known {
    let ticket_type = std::any::TypeId::of::<api::TicketView>();
    let event_type = std::any::TypeId::of::<api::EventView>();
    let infos = engine.collect_fn_metadata(
        None,
        |info| {
            let m = info.metadata;
            Some((
                m.name.to_string(),
                m.num_params,
                m.param_types.first().copied(),
            ))
        },
        true,
    );
    let mut known = Known::default();
    for (name, arity, first) in infos {
        if let Some(prop) = name.strip_prefix("get$") {
            if first == Some(ticket_type) {
                known.ticket_properties.insert(prop.to_owned());
            } else if first == Some(event_type) {
                known.event_properties.insert(prop.to_owned());
            }
        }
        known.functions.entry(name).or_default().insert(arity);
    }
    for (name, arities) in KEYWORD_FUNCTIONS {
        known
            .functions
            .entry((*name).to_owned())
            .or_default()
            .extend(arities.iter().copied());
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_include_the_policy_api_and_packages() {
        let e = PolicyEngine::shared_default();
        let k = &e.known;
        assert!(k.functions["escalate"].contains(&2));
        assert!(k.functions["contains_any"].contains(&2));
        assert!(
            k.functions["len"].contains(&1),
            "string/array packages are registered"
        );
        assert!(k.ticket_properties.contains("tier"));
        assert!(k.ticket_properties.contains("subject"));
        assert!(k.event_properties.contains("body"));
        assert!(!k.ticket_properties.contains("body"));
    }

    #[test]
    fn nothing_touches_files_processes_or_the_wall_clock() {
        let e = PolicyEngine::shared_default();
        for name in [
            "open",
            "read_file",
            "write_file",
            "system",
            "exec",
            "command",
            "spawn",
            "sleep",
            "timestamp",
            "exit",
            "eval",
            "import",
            "parse_json",
        ] {
            assert!(
                !e.known.functions.contains_key(name),
                "`{name}` must not be available to policies"
            );
        }
    }
}
