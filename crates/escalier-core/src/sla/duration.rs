//! SLA target durations in human form: `"30m"`, `"4h"`, `"1h30m"`, `"2d"`.
//!
//! A target is an amount of **business time**, counted on the policy's
//! calendar. The units are fixed lengths, whatever the calendar:
//! `w` = 7 d, `d` = 24 h, `h`, `m`, `s`. So `"2d"` is 48 business hours:
//! six 8-hour business days on a 9–17 calendar, two days on a 24×7 one.
//! Write `"16h"` for "two business days" of a 9–17 desk.
//!
//! Hand-written rather than `humantime`: humantime also accepts months and
//! years, whose length depends on a calendar, and would silently read
//! `"1M"` as a month where a minute was meant.

use std::fmt;

use jiff::SignedDuration;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a duration: {why}; write e.g. \"30m\", \"4h\", \"1h30m\" or \"2d\" (d = 24 business hours)"
)]
pub struct DurationError {
    pub text: String,
    pub why: &'static str,
}

/// Parse a positive duration such as `"1h30m"`; spaces between parts allowed.
pub fn parse_duration(text: &str) -> Result<SignedDuration, DurationError> {
    let err = |why| DurationError {
        text: text.to_owned(),
        why,
    };
    let mut total: i64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(err("it is empty"));
    }
    let mut last_unit = u8::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err("each part is a whole number followed by a unit"));
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| err("a number is too large"))?;
        rest = &rest[digits..];
        let (unit_secs, rank) = match rest.bytes().next() {
            Some(b'w') => (7 * 86_400, 4),
            Some(b'd') => (86_400, 3),
            Some(b'h') => (3_600, 2),
            Some(b'm') => (60, 1),
            Some(b's') => (1, 0),
            Some(_) => return Err(err("units are w, d, h, m and s")),
            None => return Err(err("a number needs a unit")),
        };
        if rank >= last_unit {
            return Err(err("units go from largest to smallest, each once"));
        }
        last_unit = rank;
        rest = rest[1..].trim_start();
        total = n
            .checked_mul(unit_secs)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| err("it is too large"))?;
    }
    if total == 0 {
        return Err(err("it must be longer than zero"));
    }
    Ok(SignedDuration::from_secs(total))
}

/// Render a duration in the form [`parse_duration`] reads (`"1h30m"`).
/// Negative durations get a leading `-`; sub-second parts are dropped.
pub fn format_duration(d: SignedDuration) -> String {
    struct Show(SignedDuration);
    impl fmt::Display for Show {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut secs = self.0.as_secs();
            if secs < 0 {
                f.write_str("-")?;
                secs = secs.saturating_neg();
            }
            if secs == 0 {
                return f.write_str("0s");
            }
            for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
                if secs >= len {
                    write!(f, "{}{unit}", secs / len)?;
                    secs %= len;
                }
            }
            Ok(())
        }
    }
    Show(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_durations() {
        assert_eq!(parse_duration("30m"), Ok(SignedDuration::from_mins(30)));
        assert_eq!(parse_duration("4h"), Ok(SignedDuration::from_hours(4)));
        assert_eq!(parse_duration("1h30m"), Ok(SignedDuration::from_mins(90)));
        assert_eq!(
            parse_duration(" 1h 30m "),
            Ok(SignedDuration::from_mins(90))
        );
        assert_eq!(parse_duration("2d"), Ok(SignedDuration::from_hours(48)));
        assert_eq!(parse_duration("1w"), Ok(SignedDuration::from_hours(168)));
        assert_eq!(parse_duration("90s"), Ok(SignedDuration::from_secs(90)));
    }

    #[test]
    fn refuses_what_it_cannot_read_exactly() {
        for bad in [
            "",
            "4",
            "h",
            "4x",
            "1M",
            "1y",
            "30m1h",
            "1h1h",
            "0m",
            "-1h",
            "1.5h",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
        let e = parse_duration("1M").unwrap_err();
        assert!(e.to_string().contains("units are w, d, h, m and s"), "{e}");
    }

    #[test]
    fn formats_round_trip() {
        for s in ["30m", "4h", "1h30m", "2d", "1d2h3m4s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        assert_eq!(format_duration(-SignedDuration::from_mins(5)), "-5m");
        assert_eq!(format_duration(SignedDuration::ZERO), "0s");
    }
}
