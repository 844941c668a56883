//! Compiling one policy file: parse, read its `ON` list, check the names it
//! uses, optimise.
//!
//! Everything that can be known before an event arrives is checked here,
//! so a typo fails the reload with file:line:col instead of failing on the
//! first matching ticket at 3 a.m.:
//! - syntax, undefined variables (strict mode), `import`/`eval`;
//! - `const ON = [...]`: present, a list of strings, every entry a known
//!   event type or wildcard;
//! - calls to functions that neither the engine nor the file defines, or
//!   with an argument count no definition takes;
//! - `ticket.x` / `event.x` where `x` is not a field.
//!
//! The checks walk the AST as written (the engine does not optimise on
//! compile); the optimised copy that runs is made afterwards.

use std::collections::{BTreeMap, BTreeSet};

use rhai::{
    AST, ASTFlags, ASTNode, Expr, FnCallExpr, OptimizationLevel, ParseError, ParseErrorType,
    Position, Scope, Stmt,
};

use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::engine::{PolicyEngine, VARIADIC_KEYWORDS};
use crate::subscription;

/// The constant a policy declares its subscriptions in.
pub(crate) const ON: &str = "ON";
/// What to add when `ON` is missing.
const ON_EXAMPLE: &str = "const ON = [\"ticket.created\", \"comment.added\"];";

/// A policy that passed every check.
pub(crate) struct Compiled {
    /// Optimised, `ON` removed when nothing else reads it.
    pub ast: AST,
    /// `ON` as written.
    pub on: Vec<String>,
    /// Every event type `ON` resolves to, without duplicates.
    pub types: BTreeSet<&'static str>,
}

/// Signatures of the policy API, for "takes N arguments" hints.
const SIGNATURES: &[(&str, &str)] = &[
    ("escalate", "escalate(tier, reason)"),
    ("route", "route(team, reason)"),
    ("set_priority", "set_priority(priority)"),
    ("assign", "assign(agent)"),
    ("tag", "tag(tag)"),
    ("notify", "notify(channel, message)"),
    ("note", "note(text)"),
    ("require_approval", "require_approval(kind, reason)"),
    ("require_checklist", "require_checklist(name)"),
    ("start_ladder", "start_ladder(ladder, reason)"),
    ("stop_ladder", "stop_ladder(ladder, reason)"),
    ("contains_any", "contains_any(text, [\"word\", ...])"),
    ("contains_word", "contains_word(text, word)"),
    ("minutes_between", "minutes_between(from, to)"),
];

/// Compile `source`, the policy `name`, shown to people as `file`.
pub(crate) fn compile(
    engine: &PolicyEngine,
    name: &str,
    file: &str,
    source: &str,
) -> Result<Compiled, Vec<Diagnostic>> {
    // Constants so strict mode knows the names and `ticket = 1` is refused
    // at compile time. Their values never reach the AST: the engine does
    // not optimise while compiling.
    let mut scope = Scope::new();
    scope.push_constant("ticket", ());
    scope.push_constant("event", ());
    let ast = engine
        .engine
        .compile_with_scope(&scope, source)
        .map_err(|e| vec![parse_error(file, &e)])?;

    let mut diags = Vec::new();
    let on = read_on(&ast, file, &mut diags);
    check_names(engine, &ast, file, &mut diags);
    let Some((on, types)) = on.filter(|_| diags.is_empty()) else {
        diags.sort_by_key(|d| (d.line, d.column));
        return Err(diags);
    };

    let mut ast = engine
        .engine
        .optimize_ast(&Scope::new(), ast, OptimizationLevel::Simple);
    ast = drop_on_if_unused(ast);
    ast.set_source(name);
    Ok(Compiled { ast, on, types })
}

fn parse_error(file: &str, e: &ParseError) -> Diagnostic {
    let ParseError(kind, pos) = e;
    let pos = *pos;
    match &**kind {
        ParseErrorType::VariableUndefined(v) => Diagnostic::at(file, pos, Code::UnknownVariable, format!("unknown variable `{v}`"))
            .with_hint(did_you_mean(v, ["ticket", "event"]).unwrap_or_else(|| {
                "policies see `ticket` and `event`; declare your own names with `let` before using them (functions \
                 see only their parameters)"
                    .into()
            })),
        ParseErrorType::Reserved(word) if word == "import" || word == "export" => Diagnostic::at(
            file,
            pos,
            Code::ForbiddenKeyword,
            format!("`{word}` is not available in policies: each policy is one self-contained file"),
        )
        .with_hint("copy the function you need into this file"),
        ParseErrorType::BadInput(rhai::LexError::ImproperSymbol(sym, _)) if sym == "eval" => {
            Diagnostic::at(file, pos, Code::ForbiddenKeyword, "`eval` is disabled in policies")
                .with_hint("write the code directly; policies cannot run code built at run time")
        }
        other => Diagnostic::at(file, pos, Code::SyntaxError, other.to_string()),
    }
}

/// Find and resolve the top-level `const ON = [...]`.
fn read_on(
    ast: &AST,
    file: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<(Vec<String>, BTreeSet<&'static str>)> {
    let found = ast.statements().iter().find_map(|s| match s {
        Stmt::Var(x, flags, pos) if x.0.name == ON => {
            Some((&x.1, flags.contains(ASTFlags::CONSTANT), *pos))
        }
        _ => None,
    });
    let Some((value, constant, pos)) = found else {
        diags.push(
            Diagnostic::new(
                file,
                Some((1, 1)),
                Code::MissingOn,
                "this policy does not say which events it reacts to",
            )
            .with_hint(format!("add a line at the top, for example: {ON_EXAMPLE}")),
        );
        return None;
    };
    if !constant {
        diags.push(
            Diagnostic::at(file, pos, Code::InvalidOn, "`ON` must be a constant")
                .with_hint(format!("declare it with `const`: {ON_EXAMPLE}")),
        );
        return None;
    }

    // Entries with their own position where the parser kept one.
    let entries: Vec<(Option<String>, Position)> = match value {
        Expr::Array(items, _) => items
            .iter()
            .map(|item| match item {
                Expr::StringConstant(s, p) => (Some(s.to_string()), *p),
                other => (None, other.position()),
            })
            .collect(),
        Expr::StringConstant(s, p) => vec![(Some(s.to_string()), *p)],
        Expr::DynamicConstant(d, p) if d.is_array() => d
            .clone()
            .into_array()
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.into_string().ok(), *p))
            .collect(),
        other => {
            diags.push(
                Diagnostic::at(
                    file,
                    other.position(),
                    Code::InvalidOn,
                    "`ON` must be a list of event type names",
                )
                .with_hint(ON_EXAMPLE),
            );
            return None;
        }
    };
    if entries.is_empty() {
        diags.push(
            Diagnostic::at(
                file,
                value.position(),
                Code::InvalidOn,
                "`ON` is empty: this policy would never run",
            )
            .with_hint(ON_EXAMPLE),
        );
        return None;
    }

    let before = diags.len();
    let mut on = Vec::new();
    let mut types = BTreeSet::new();
    for (entry, p) in entries {
        let Some(entry) = entry else {
            diags.push(
                Diagnostic::at(
                    file,
                    p,
                    Code::InvalidOn,
                    "entries of `ON` must be strings, like \"ticket.created\"",
                )
                .with_hint(ON_EXAMPLE),
            );
            continue;
        };
        match subscription::resolve(&entry) {
            Ok(t) => types.extend(t),
            Err((code, message, hint)) => {
                diags.push(Diagnostic::at(file, p, code, message).with_hint_opt(hint))
            }
        }
        on.push(entry);
    }
    (diags.len() == before).then_some((on, types))
}

/// Calls, methods and `ticket`/`event` fields that cannot work.
fn check_names(engine: &PolicyEngine, ast: &AST, file: &str, diags: &mut Vec<Diagnostic>) {
    let known = &engine.known;
    let mut script_fns: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for f in ast.iter_functions() {
        script_fns
            .entry(f.name.to_owned())
            .or_default()
            .insert(f.params.len());
        declared.extend(f.params.iter().map(|p| (*p).to_owned()));
    }
    let mut map_keys: BTreeSet<String> = BTreeSet::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => {
                declared.insert(x.0.name.to_string());
            }
            Some(ASTNode::Stmt(Stmt::For(x, _))) => {
                declared.insert(x.0.name.to_string());
                if let Some(counter) = &x.1 {
                    declared.insert(counter.name.to_string());
                }
            }
            Some(ASTNode::Expr(Expr::Map(m, _))) => {
                map_keys.extend(m.0.iter().map(|(k, _)| k.name.to_string()))
            }
            _ => {}
        }
        true
    });

    let exists = |name: &str, arity: usize| {
        known
            .functions
            .get(name)
            .is_some_and(|a| a.contains(&arity))
            || script_fns.get(name).is_some_and(|a| a.contains(&arity))
    };
    let arities = |name: &str| -> BTreeSet<usize> {
        let mut a = known.functions.get(name).cloned().unwrap_or_default();
        a.extend(script_fns.get(name).into_iter().flatten());
        a
    };
    let candidates = || {
        known
            .functions
            .keys()
            .chain(script_fns.keys())
            .filter(|n| !n.contains('$'))
            .map(String::as_str)
            .collect::<Vec<_>>()
    };

    let check_call = |x: &FnCallExpr, pos: Position, method: bool, diags: &mut Vec<Diagnostic>| {
        let name = x.name.as_str();
        if x.is_operator_call() || name.contains('$') || VARIADIC_KEYWORDS.contains(&name) {
            return;
        }
        let arity = x.args.len() + usize::from(method);
        if exists(name, arity) {
            return;
        }
        // A variable holding a function pointer, or a map property holding
        // one (`obj.action()`): only the run can tell.
        if (!method && declared.contains(name)) || (method && map_keys.contains(name)) {
            return;
        }
        // Argument counts as written at the call: a method's receiver is
        // the first argument of the function behind it.
        let counts: Vec<usize> = arities(name)
            .iter()
            .filter_map(|n| n.checked_sub(usize::from(method)))
            .collect();
        if !counts.is_empty() {
            let counts: Vec<String> = counts.iter().map(usize::to_string).collect();
            let sig = SIGNATURES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| format!("call it as {s}"));
            diags.push(
                Diagnostic::at(
                    file,
                    pos,
                    Code::WrongArgumentCount,
                    format!(
                        "`{name}` takes {} argument(s), {} given",
                        counts.join(" or "),
                        x.args.len()
                    ),
                )
                .with_hint_opt(sig),
            );
            return;
        }
        let is_field =
            known.ticket_properties.contains(name) || known.event_properties.contains(name);
        let hint = if method && is_field {
            Some(format!(
                "`{name}` is a field, not a function: write `.{name}` without parentheses"
            ))
        } else {
            did_you_mean(name, candidates())
        };
        let what = if method { "method" } else { "function" };
        diags.push(
            Diagnostic::at(
                file,
                pos,
                Code::UnknownFunction,
                format!("unknown {what} `{name}`"),
            )
            .with_hint_opt(hint),
        );
    };

    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::FnCall(x, pos))) | Some(ASTNode::Expr(Expr::FnCall(x, pos))) => {
                check_call(x, *pos, false, diags);
            }
            Some(ASTNode::Expr(Expr::MethodCall(x, pos))) => check_call(x, *pos, true, diags),
            Some(ASTNode::Stmt(Stmt::Assignment(x))) => {
                if let Expr::Variable(v, _, pos) = chain_head(&x.1.lhs)
                    && (v.1 == "ticket" || v.1 == "event")
                {
                    diags.push(
                        Diagnostic::at(file, *pos, Code::ReadOnly, format!("`{}` is read-only", v.1))
                            .with_hint(
                                "policies change tickets through actions: escalate(), route(), set_priority(), \
                                 assign(), tag(), ...",
                            ),
                    );
                }
            }
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) if x.0.name == "ticket" || x.0.name == "event" => {
                diags.push(
                    Diagnostic::at(
                        file,
                        x.0.pos,
                        Code::ReservedName,
                        format!("`{}` is the {} this policy runs on; a variable of that name would hide it", x.0.name, x.0.name),
                    )
                    .with_hint("pick another name"),
                );
            }
            _ => {}
        }
        true
    });

    // Functions do not see the caller's variables: `ticket` in a function
    // body works only as a parameter. Rhai's parser accepts it (the name is
    // in scope where the function is written) and the run would fail.
    let bodies: Vec<(Position, Position, &[rhai::ImmutableString])> = ast
        .iter_fn_def()
        .filter(|f| !f.name.starts_with("anon$"))
        .map(|f| {
            (
                f.body.start_position(),
                f.body.end_position(),
                f.params.as_slice(),
            )
        })
        .collect();
    if !bodies.is_empty() {
        let key = |p: Position| (p.line().unwrap_or(0), p.position().unwrap_or(0));
        ast.walk(&mut |path: &[ASTNode]| {
            if let Some(ASTNode::Expr(Expr::Variable(v, _, pos))) = path.last()
                && (v.1 == "ticket" || v.1 == "event")
                && let Some((_, _, params)) = bodies
                    .iter()
                    .find(|(start, end, _)| key(*start) <= key(*pos) && key(*pos) <= key(*end))
                && !params.contains(&v.1)
            {
                diags.push(
                    Diagnostic::at(file, *pos, Code::UnknownVariable, format!("`{}` is not visible inside a function", v.1))
                        .with_hint(format!(
                            "functions see only their parameters: pass it in, e.g. `fn check({0}) {{ ... }}` called as \
                             `check({0})`",
                            v.1
                        )),
                );
            }
            true
        });
    }

    // Fields of `ticket`/`event`, in top-level code only: inside a function
    // a parameter may carry those names and hold anything.
    ast.clone_statements_only().walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::Dot(bin, ..))) = path.last()
            && let Expr::Variable(v, ..) = &bin.lhs
            && let Expr::Property(p, pos) = chain_head(&bin.rhs)
        {
            let (var, props) = match v.1.as_str() {
                "ticket" => ("ticket", &known.ticket_properties),
                "event" => ("event", &known.event_properties),
                _ => return true,
            };
            let prop = p.2.as_str();
            if !props.contains(prop) {
                let hint = if known
                    .functions
                    .get(prop)
                    .is_some_and(|a| a.iter().any(|n| *n >= 2))
                {
                    Some(format!("`{prop}` is a function: write `{var}.{prop}(...)`"))
                } else {
                    did_you_mean(prop, props.iter().map(String::as_str))
                };
                diags.push(
                    Diagnostic::at(
                        file,
                        *pos,
                        Code::UnknownProperty,
                        format!("`{var}` has no field `{prop}`"),
                    )
                    .with_hint_opt(hint),
                );
            }
        }
        true
    });
}

/// The first link of a `.`/`[]` chain: `subject` in `ticket.subject.len()`.
fn chain_head(e: &Expr) -> &Expr {
    match e {
        Expr::Dot(bin, ..) | Expr::Index(bin, ..) => chain_head(&bin.lhs),
        other => other,
    }
}

/// Remove the `const ON = [...]` statement from the AST that runs, unless
/// the script reads `ON`: evaluating it would build the list on every event.
fn drop_on_if_unused(ast: AST) -> AST {
    let mut reads_on = false;
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::Variable(v, ..))) = path.last()
            && v.1 == ON
        {
            reads_on = true;
            return false;
        }
        true
    });
    if reads_on {
        return ast;
    }
    let statements: Vec<Stmt> = ast
        .statements()
        .iter()
        .filter(|s| !matches!(s, Stmt::Var(x, ..) if x.0.name == ON))
        .cloned()
        .collect();
    AST::new(statements, ast.shared_lib().clone())
}
