//! Rhai built-ins whose result can be far larger than their input,
//! replaced by versions that size the result before building it.
//!
//! Rhai checks a string against `max_string_size` after a call returns.
//! That is enough for calls whose result is at most a few times their
//! input, but `replace` multiplies: a 256 KiB text of one letter, with that
//! letter replaced by a 256 KiB string, is 64 GiB, allocated before any
//! check. These versions count the matches first, refuse with
//! `data_too_large` when the result would be too long, and charge the work
//! to the run's budget like the policy helpers do. Registered in
//! [`crate::engine::harden`], where they take precedence over the package
//! functions of the same signature (the engine's own functions are looked
//! up first).
//!
//! Hand-written because the alternative, patching Rhai, is not ours to do.

use rhai::{Engine, EvalAltResult, ImmutableString, NativeCallContext, Position};

use crate::sink::Meter;

type Res = Result<(), Box<EvalAltResult>>;

pub(crate) fn register(engine: &mut Engine) {
    engine.register_fn(
        "replace",
        |ctx: NativeCallContext, s: &mut ImmutableString, find: &str, with: &str| {
            replace(&ctx, s, find, with)
        },
    );
    engine.register_fn(
        "replace",
        |ctx: NativeCallContext, s: &mut ImmutableString, find: &str, with: char| {
            replace(&ctx, s, find, with.encode_utf8(&mut [0; 4]))
        },
    );
    engine.register_fn(
        "replace",
        |ctx: NativeCallContext, s: &mut ImmutableString, find: char, with: &str| {
            replace(&ctx, s, find.encode_utf8(&mut [0; 4]), with)
        },
    );
    engine.register_fn(
        "replace",
        |ctx: NativeCallContext, s: &mut ImmutableString, find: char, with: char| {
            replace(
                &ctx,
                s,
                find.encode_utf8(&mut [0; 4]),
                with.encode_utf8(&mut [0; 4]),
            )
        },
    );
}

/// Rhai's `replace` (every occurrence of `find`, in place), sized first.
fn replace(ctx: &NativeCallContext, s: &mut ImmutableString, find: &str, with: &str) -> Res {
    if s.is_empty() {
        return Ok(());
    }
    let pos = ctx.call_position();
    let mut meter = Meter::new(pos);
    // Counting is a scan of the text. An empty `find` matches at every
    // char boundary, as in `str::replace`.
    meter.add(s.len())?;
    let matches = s.matches(find).count();
    let len = s
        .len()
        .saturating_sub(matches.saturating_mul(find.len()))
        .saturating_add(matches.saturating_mul(with.len()));
    let max = ctx.engine().max_string_size();
    if max > 0 && len > max {
        return Err(too_long(pos));
    }
    meter.add(len)?;
    meter.flush()?;
    *s = s.replace(find, with).into();
    Ok(())
}

fn too_long(pos: Position) -> Box<EvalAltResult> {
    // The wording Rhai uses, so the evaluator names the string limit.
    EvalAltResult::ErrorDataTooLarge("Length of string".into(), pos).into()
}

#[cfg(test)]
mod tests {
    use rhai::Engine;

    fn engine(max_string_size: usize) -> Engine {
        let mut e = crate::engine::harden(&crate::PolicyLimits {
            max_string_size,
            ..crate::PolicyLimits::default()
        });
        e.set_max_operations(u64::MAX);
        e
    }

    #[test]
    fn replace_works_as_rhais_does() {
        let e = engine(1024);
        let r = |src: &str| e.eval::<String>(src).unwrap();
        assert_eq!(r(r#"let s = "a-b-c"; s.replace("-", "+"); s"#), "a+b+c");
        assert_eq!(r(r#"let s = "a-b-c"; s.replace("-", '+'); s"#), "a+b+c");
        assert_eq!(r(r#"let s = "a-b-c"; s.replace('-', "=="); s"#), "a==b==c");
        assert_eq!(r(r#"let s = "a-b-c"; s.replace('-', '+'); s"#), "a+b+c");
        assert_eq!(r(r#"let s = "ab"; s.replace("", "."); s"#), ".a.b.");
        assert_eq!(r(r#"let s = ""; s.replace("", "."); s"#), "");
    }

    #[test]
    fn a_replacement_too_long_to_keep_is_refused_before_it_is_built() {
        // 1 MiB of "a", each replaced by 1 MiB: 1 TiB if it were built.
        let e = engine(1 << 20);
        let err = e
            .run(
                r#"let s = "a"; while s.len() < 1048576 { s += s; }
                   let t = s; s.replace("a", t);"#,
            )
            .unwrap_err();
        assert!(
            matches!(*err, rhai::EvalAltResult::ErrorDataTooLarge(..)),
            "{err}"
        );
    }
}
