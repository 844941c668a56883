//! Times and durations as people write them in test files and on the
//! command line: `2026-03-09T09:00:00Z`, `+15m`, `2h`, `1h30m`, `1d`.
//!
//! Durations here are wall-clock time (`1d` is 24 hours), unlike the
//! business-time durations of `sla.toml`: a test moves the clock the way a
//! wall clock moves, and the SLA calendars decide what counts.

use jiff::{SignedDuration, Timestamp};

/// An instant, or an offset from "now" (the simulated clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    At(Timestamp),
    After(SignedDuration),
}

impl When {
    /// `+15m` (after now) or an RFC 3339 instant with an offset.
    pub fn parse(s: &str) -> Result<When, String> {
        let s = s.trim();
        match s.strip_prefix('+') {
            Some(d) => parse_duration(d).map(When::After),
            None => parse_instant(s).map(When::At),
        }
    }

    /// The instant this names when the clock shows `now`.
    pub fn resolve(self, now: Timestamp) -> Result<Timestamp, String> {
        match self {
            When::At(t) => Ok(t),
            When::After(d) => now
                .checked_add(d)
                .map_err(|_| format!("{now} + {d:#} is out of range")),
        }
    }
}

/// An RFC 3339 instant with an offset: `2026-03-09T09:00:00Z`,
/// `2026-03-09T10:00:00+01:00`.
pub fn parse_instant(s: &str) -> Result<Timestamp, String> {
    s.trim().parse::<Timestamp>().map_err(|_| {
        format!("`{s}` is not an instant; write RFC 3339 with an offset, e.g. 2026-03-09T09:00:00Z")
    })
}

/// An instant, or a date alone meaning midnight UTC (`2026-03-01`).
pub fn parse_instant_or_date(s: &str) -> Result<Timestamp, String> {
    parse_instant(s).or_else(|e| {
        s.trim()
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
            .ok_or(e)
    })
}

/// A wall-clock duration: `15m`, `2h`, `1h30m`, `90s`, `1d` (24 h), or
/// ISO 8601 (`PT15M`). Negative and zero durations are refused.
pub fn parse_duration(s: &str) -> Result<SignedDuration, String> {
    let s = s.trim();
    let parsed = if s.starts_with(['P', 'p']) {
        s.parse::<SignedDuration>().map_err(|e| e.to_string())
    } else {
        humantime::parse_duration(s)
            .map_err(|e| e.to_string())
            .and_then(|d| SignedDuration::try_from(d).map_err(|e| e.to_string()))
    };
    match parsed {
        Ok(d) if d.is_positive() => Ok(d),
        Ok(_) => Err(format!("`{s}` is not a positive duration")),
        Err(e) => Err(format!(
            "`{s}` is not a duration ({e}); write e.g. 15m, 2h, 1h30m, 1d"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_instants_parse() {
        let now: Timestamp = "2026-03-09T09:00:00Z".parse().unwrap();
        let at = |s: &str| When::parse(s).unwrap().resolve(now).unwrap().to_string();
        assert_eq!(at("+15m"), "2026-03-09T09:15:00Z");
        assert_eq!(at("+1h30m"), "2026-03-09T10:30:00Z");
        assert_eq!(at("+1d"), "2026-03-10T09:00:00Z");
        assert_eq!(at("2026-03-09T12:00:00+01:00"), "2026-03-09T11:00:00Z");
    }

    #[test]
    fn bad_durations_say_what_to_write() {
        for bad in ["", "soon", "-5m", "0s", "+"] {
            let e = When::parse(bad).unwrap_err();
            assert!(e.contains("e.g."), "{bad:?}: {e}");
        }
        assert_eq!(
            parse_duration("PT2H").unwrap(),
            SignedDuration::from_hours(2)
        );
        assert_eq!(
            parse_instant_or_date("2026-03-01").unwrap().to_string(),
            "2026-03-01T00:00:00Z"
        );
    }
}
