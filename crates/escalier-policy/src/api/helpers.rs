//! Helpers for the checks support rules keep making: "does the customer
//! mention any of these words", "how long between these two times".
//!
//! Their work grows with their input (a 64 KiB text searched for 10,000
//! words is 600 MB of scanning), so they count it against the run's
//! operation budget through a [`Meter`] as they go, and a run that asks for
//! too much stops with `too_many_operations` (or `timeout`) in the middle of
//! the call rather than after it.

use std::borrow::Cow;
use std::cell::RefCell;

use jiff::Timestamp;
use rhai::{Array, Dynamic, Engine, EvalAltResult, INT, NativeCallContext};

use super::{ApiError, describe, string_arg};
use crate::sink::Meter;

type Res<T> = Result<T, Box<EvalAltResult>>;

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn(
        "contains_any",
        |ctx: NativeCallContext, text: &str, words: Array| -> Res<bool> {
            let mut words_str = Vec::with_capacity(words.len());
            for w in &words {
                words_str.push(string_arg("contains_any", "words", w)?);
            }
            let mut meter = Meter::new(ctx.call_position());
            contains_any_metered(text, words_str.iter().map(|w| w.as_str()), &mut meter)
        },
    );
    // `event.body` is `()` on events without a body: "mentions nothing".
    engine.register_fn("contains_any", |_: (), _: Array| false);
    engine.register_fn(
        "contains_word",
        |ctx: NativeCallContext, text: &str, word: &str| -> Res<bool> {
            let mut meter = Meter::new(ctx.call_position());
            contains_any_metered(text, [word], &mut meter)
        },
    );
    engine.register_fn("contains_word", |_: (), _: &str| false);
    engine.register_fn("minutes_between", minutes_between);
}

thread_local! {
    // The lowercased text, reused between calls so matching allocates nothing.
    static LOWERED: RefCell<String> = const { RefCell::new(String::new()) };
}

/// What a candidate match costs to look at (its boundaries, the next
/// search), in bytes of scanning: text like "500500500..." searched for
/// "500" has a candidate every three bytes, all glued to their neighbours.
const CANDIDATE_BYTES: usize = 16;
/// Lowercasing non-ASCII text goes char by char: a few times the cost of
/// scanning it.
const NON_ASCII_LOWERING_FACTOR: usize = 4;

/// Whether any of `words` occurs in `text` as a whole word or phrase,
/// ignoring case: "cancel" matches "Please CANCEL." but not
/// "cancellation". A trailing `*` matches word starts: "cancel*" matches
/// "cancellation".
#[cfg(test)]
pub(crate) fn contains_any<'w>(text: &str, words: impl IntoIterator<Item = &'w str>) -> bool {
    // Outside a run the budget is unlimited.
    let mut meter = Meter::new(rhai::Position::NONE);
    contains_any_metered(text, words, &mut meter).unwrap_or(false)
}

/// [`contains_any`], charging the work to `meter` as it goes: lowering the
/// text once, then per word the scan of the text and each candidate match.
fn contains_any_metered<'w>(
    text: &str,
    words: impl IntoIterator<Item = &'w str>,
    meter: &mut Meter,
) -> Res<bool> {
    LOWERED.with(|cell| {
        let mut guard = cell.try_borrow_mut();
        let mut fresh = String::new();
        let lowered: &mut String = match guard.as_deref_mut() {
            Ok(buf) => buf,
            Err(_) => &mut fresh,
        };
        lowered.clear();
        if text.is_ascii() {
            meter.add(text.len())?;
            lowered.push_str(text);
            lowered.make_ascii_lowercase();
        } else {
            meter.add(text.len().saturating_mul(NON_ASCII_LOWERING_FACTOR))?;
            lowered.extend(text.chars().flat_map(char::to_lowercase));
        }
        for w in words {
            if word_in(lowered, w, meter)? {
                meter.flush()?;
                return Ok(true);
            }
        }
        meter.flush()?;
        Ok(false)
    })
}

/// `word` in already-lowercased `text`.
fn word_in(text: &str, word: &str, meter: &mut Meter) -> Res<bool> {
    // Every word costs a scan of the text, found or not.
    meter.add(text.len().saturating_add(word.len()))?;
    let (word, prefix) = match word.strip_suffix('*') {
        Some(w) => (w, true),
        None => (word, false),
    };
    let word = word.trim();
    if word.is_empty() {
        return Ok(false);
    }
    let word: Cow<'_, str> = if word.chars().any(char::is_uppercase) {
        Cow::Owned(word.to_lowercase())
    } else {
        Cow::Borrowed(word)
    };
    // Most words are absent: `contains` rules them out fast (it is
    // vectorised for short needles); only then look at boundaries.
    if !text.contains(&*word) {
        return Ok(false);
    }
    // Boundaries only matter on the sides where the word has a letter or
    // digit: "refund now!" needs a boundary before "r" only.
    let left = word.chars().next().is_some_and(char::is_alphanumeric);
    let right = !prefix && word.chars().next_back().is_some_and(char::is_alphanumeric);
    for (i, m) in text.match_indices(&*word) {
        meter.add(CANDIDATE_BYTES)?;
        let before = text[..i].chars().next_back();
        let after = text[i + m.len()..].chars().next();
        let glued_left = left && before.is_some_and(char::is_alphanumeric);
        let glued_right = right && after.is_some_and(char::is_alphanumeric);
        if !glued_left && !glued_right {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whole minutes from `from` to `to` (RFC 3339 strings); `()` if either is `()`.
fn minutes_between(from: Dynamic, to: Dynamic) -> Result<Dynamic, Box<EvalAltResult>> {
    if from.is_unit() || to.is_unit() {
        return Ok(Dynamic::UNIT);
    }
    let parse = |param: &str, v: &Dynamic| -> Result<Timestamp, Box<EvalAltResult>> {
        let s = string_arg("minutes_between", param, v)?;
        s.parse::<Timestamp>().map_err(|_| {
            ApiError::invalid_argument(format!(
                "minutes_between: `{param}` must be an RFC 3339 time like \"2026-03-02T09:15:00Z\", got {}",
                describe(v)
            ))
            .into_eval()
        })
    };
    let (from, to) = (parse("from", &from)?, parse("to", &to)?);
    let minutes: INT = to.duration_since(from).as_secs() / 60;
    Ok(Dynamic::from_int(minutes))
}

#[cfg(test)]
mod tests {
    use super::contains_any;

    fn contains_word(text: &str, word: &str) -> bool {
        contains_any(text, [word])
    }

    #[test]
    fn words_match_whole_and_ignore_case() {
        assert!(contains_word("Please CANCEL my account.", "cancel"));
        assert!(contains_word("cancel", "cancel"));
        assert!(!contains_word("cancellation fee", "cancel"));
        assert!(!contains_word("uncancel", "cancel"));
        assert!(contains_word("the cancellation fee", "cancel*"));
        assert!(contains_word("I want a REFUND NOW!", "refund now"));
        assert!(!contains_word("refund nowhere", "refund now"));
        assert!(!contains_word("", "cancel"));
        assert!(!contains_word("anything", ""));
        assert!(!contains_word("ab", "abc"));
        assert!(contains_word("my lawyer", "LAWYER"));
        assert!(contains_word("a lawyer and a lawyers", "lawyer"));
        assert!(!contains_word("lawyers", "lawyer"));
    }

    #[test]
    fn non_ascii_text_still_matches() {
        assert!(contains_word("Ich will KÜNDIGEN, sofort", "kündigen"));
        assert!(!contains_word("kündigenx", "kündigen"));
        assert!(contains_word("café lawyer — now", "lawyer"));
    }
}
