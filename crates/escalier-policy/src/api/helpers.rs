//! Helpers for the checks support rules keep making: "does the customer
//! mention any of these words", "how long between these two times".

use std::borrow::Cow;
use std::cell::RefCell;

use jiff::Timestamp;
use rhai::{Array, Dynamic, Engine, EvalAltResult, INT};

use super::{ApiError, describe, string_arg};

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn(
        "contains_any",
        |text: &str, words: Array| -> Result<bool, Box<EvalAltResult>> {
            let mut words_str = Vec::with_capacity(words.len());
            for w in &words {
                words_str.push(string_arg("contains_any", "words", w)?);
            }
            Ok(contains_any(text, words_str.iter().map(|w| w.as_str())))
        },
    );
    // `event.body` is `()` on events without a body: "mentions nothing".
    engine.register_fn("contains_any", |_: (), _: Array| false);
    engine.register_fn("contains_word", |text: &str, word: &str| {
        contains_any(text, [word])
    });
    engine.register_fn("contains_word", |_: (), _: &str| false);
    engine.register_fn("minutes_between", minutes_between);
}

thread_local! {
    // The lowercased text, reused between calls so matching allocates nothing.
    static LOWERED: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Whether any of `words` occurs in `text` as a whole word or phrase,
/// ignoring case: "cancel" matches "Please CANCEL." but not
/// "cancellation". A trailing `*` matches word starts: "cancel*" matches
/// "cancellation".
pub(crate) fn contains_any<'w>(text: &str, words: impl IntoIterator<Item = &'w str>) -> bool {
    LOWERED.with(|cell| {
        let mut guard = cell.try_borrow_mut();
        let mut fresh = String::new();
        let lowered: &mut String = match guard.as_deref_mut() {
            Ok(buf) => buf,
            Err(_) => &mut fresh,
        };
        lowered.clear();
        if text.is_ascii() {
            lowered.push_str(text);
            lowered.make_ascii_lowercase();
        } else {
            lowered.extend(text.chars().flat_map(char::to_lowercase));
        }
        words.into_iter().any(|w| word_in(lowered, w))
    })
}

/// `word` in already-lowercased `text`.
fn word_in(text: &str, word: &str) -> bool {
    let (word, prefix) = match word.strip_suffix('*') {
        Some(w) => (w, true),
        None => (word, false),
    };
    let word = word.trim();
    if word.is_empty() {
        return false;
    }
    let word: Cow<'_, str> = if word.chars().any(char::is_uppercase) {
        Cow::Owned(word.to_lowercase())
    } else {
        Cow::Borrowed(word)
    };
    // Most words are absent: `contains` rules them out fast (it is
    // vectorised for short needles); only then look at boundaries.
    if !text.contains(&*word) {
        return false;
    }
    // Boundaries only matter on the sides where the word has a letter or
    // digit: "refund now!" needs a boundary before "r" only.
    let left = word.chars().next().is_some_and(char::is_alphanumeric);
    let right = !prefix && word.chars().next_back().is_some_and(char::is_alphanumeric);
    text.match_indices(&*word).any(|(i, m)| {
        let before = text[..i].chars().next_back();
        let after = text[i + m.len()..].chars().next();
        let glued_left = left && before.is_some_and(char::is_alphanumeric);
        let glued_right = right && after.is_some_and(char::is_alphanumeric);
        !glued_left && !glued_right
    })
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
