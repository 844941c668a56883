//! Business hours of one day: local wall-clock intervals such as
//! `09:00-12:00` and `13:00-17:00`.
//!
//! Times are whole seconds since local midnight; `24:00` is allowed as an
//! end so that a shift can run to the end of the day. A [`DayHours`] is kept
//! sorted, with touching intervals merged (`09:00-12:00` + `12:00-17:00` is
//! one opening), so that every boundary it reports is a real open/close.

use std::fmt;
use std::str::FromStr;

/// Seconds in a civil day: the largest value an interval end may take.
pub const DAY_SECS: u32 = 86_400;

/// Why an interval or a day's hours were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HoursError {
    #[error("`{0}` is not a time; write HH:MM or HH:MM:SS, from 00:00 to 24:00")]
    BadTime(String),
    #[error("`{0}` is not an interval; write START-END, e.g. 09:00-17:00")]
    BadInterval(String),
    #[error(
        "`{0}` starts at or after its end; an interval must end later the same day (24:00 at most)"
    )]
    Empty(Interval),
    #[error("`{later}` overlaps `{earlier}`")]
    Overlap { earlier: Interval, later: Interval },
}

/// A local `[start, end)` interval on one day, in seconds since midnight.
///
/// Invariant: `start < end <= 86_400`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    start: u32,
    end: u32,
}

impl Interval {
    /// An interval from `start` to `end` seconds after local midnight.
    pub fn new(start: u32, end: u32) -> Result<Interval, HoursError> {
        let iv = Interval { start, end };
        if end > DAY_SECS || start >= end {
            return Err(HoursError::Empty(iv));
        }
        Ok(iv)
    }

    /// The whole day, `00:00-24:00`.
    pub const fn full_day() -> Interval {
        Interval {
            start: 0,
            end: DAY_SECS,
        }
    }

    /// Seconds after midnight at which it opens.
    pub fn start(self) -> u32 {
        self.start
    }

    /// Seconds after midnight at which it closes (`86_400` for `24:00`).
    pub fn end(self) -> u32 {
        self.end
    }

    /// Nominal length in seconds (wall-clock; DST may make the real span differ).
    pub fn secs(self) -> u32 {
        self.end - self.start
    }
}

impl FromStr for Interval {
    type Err = HoursError;

    /// Parse `HH:MM-HH:MM` (seconds optional on either side).
    fn from_str(s: &str) -> Result<Interval, HoursError> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| HoursError::BadInterval(s.to_owned()))?;
        let start = parse_time(a.trim())?;
        let end = parse_time(b.trim())?;
        if start == DAY_SECS {
            return Err(HoursError::BadTime(a.trim().to_owned()));
        }
        Interval::new(start, end)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_time(f, self.start)?;
        f.write_str("-")?;
        write_time(f, self.end)
    }
}

fn write_time(f: &mut fmt::Formatter<'_>, secs: u32) -> fmt::Result {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if s == 0 {
        write!(f, "{h:02}:{m:02}")
    } else {
        write!(f, "{h:02}:{m:02}:{s:02}")
    }
}

/// Parse `HH:MM` or `HH:MM:SS` into seconds after midnight; `24:00` is the end of the day.
pub fn parse_time(s: &str) -> Result<u32, HoursError> {
    let bad = || HoursError::BadTime(s.to_owned());
    let mut parts = s.split(':');
    let mut field = |max: u32| -> Result<Option<u32>, HoursError> {
        match parts.next() {
            None => Ok(None),
            Some(p) if p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()) => {
                let n: u32 = p.parse().map_err(|_| bad())?;
                if n > max { Err(bad()) } else { Ok(Some(n)) }
            }
            Some(_) => Err(bad()),
        }
    };
    let h = field(24)?.ok_or_else(bad)?;
    let m = field(59)?.ok_or_else(bad)?;
    let sec = field(59)?.unwrap_or(0);
    if parts.next().is_some() {
        return Err(bad());
    }
    let total = h * 3600 + m * 60 + sec;
    if total > DAY_SECS {
        return Err(bad());
    }
    Ok(total)
}

/// The business hours of one day. Empty means closed all day.
///
/// Invariant: intervals sorted, non-overlapping, touching ones merged;
/// `secs` is the sum of their lengths.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DayHours {
    intervals: Vec<Interval>,
    secs: u32,
}

impl DayHours {
    /// Closed all day.
    pub fn closed() -> DayHours {
        DayHours::default()
    }

    /// Open all day, `00:00-24:00`.
    pub fn full_day() -> DayHours {
        DayHours {
            intervals: vec![Interval::full_day()],
            secs: DAY_SECS,
        }
    }

    /// Build from intervals in any order. Overlaps are refused, naming the
    /// later of the two as written; touching intervals are merged.
    pub fn new(intervals: impl IntoIterator<Item = Interval>) -> Result<DayHours, HoursError> {
        let mut sorted: Vec<(usize, Interval)> = intervals.into_iter().enumerate().collect();
        sorted.sort_by_key(|(_, iv)| *iv);
        for w in sorted.windows(2) {
            let ((ia, a), (ib, b)) = (w[0], w[1]);
            if b.start < a.end {
                // Report the one written later, as a reader scans the list.
                let (earlier, later) = if ia < ib { (a, b) } else { (b, a) };
                return Err(HoursError::Overlap { earlier, later });
            }
        }
        let mut merged: Vec<Interval> = Vec::with_capacity(sorted.len());
        for (_, iv) in sorted {
            match merged.last_mut() {
                Some(last) if last.end == iv.start => last.end = iv.end,
                _ => merged.push(iv),
            }
        }
        let secs = merged.iter().map(|iv| iv.secs()).sum();
        Ok(DayHours {
            intervals: merged,
            secs,
        })
    }

    /// Parse a list such as `["09:00-12:00", "13:00-17:00"]`.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<DayHours, HoursError> {
        let ivs = items
            .iter()
            .map(|s| s.as_ref().parse::<Interval>())
            .collect::<Result<Vec<_>, _>>()?;
        DayHours::new(ivs)
    }

    /// The openings, in order.
    pub fn intervals(&self) -> &[Interval] {
        &self.intervals
    }

    /// Nominal business seconds (wall-clock lengths summed).
    pub fn secs(&self) -> u32 {
        self.secs
    }

    /// Closed all day.
    pub fn is_closed(&self) -> bool {
        self.intervals.is_empty()
    }

    /// Open from 00:00 to 24:00.
    pub fn is_full_day(&self) -> bool {
        self.secs == DAY_SECS
    }
}

impl fmt::Display for DayHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.intervals.is_empty() {
            return f.write_str("closed");
        }
        for (i, iv) in self.intervals.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            iv.fmt(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times_and_intervals() {
        assert_eq!(parse_time("09:30"), Ok(9 * 3600 + 30 * 60));
        assert_eq!(parse_time("23:59:59"), Ok(86_399));
        assert_eq!(parse_time("24:00"), Ok(DAY_SECS));
        for bad in ["9:00", "24:01", "12:60", "ab:cd", "12", "12:00:00:00", ""] {
            assert!(parse_time(bad).is_err(), "{bad} should be refused");
        }
        let iv: Interval = "09:00 - 17:00".parse().unwrap();
        assert_eq!((iv.start(), iv.end()), (32_400, 61_200));
        assert_eq!(iv.to_string(), "09:00-17:00");
        assert_eq!(
            "22:00-24:00".parse::<Interval>().unwrap().to_string(),
            "22:00-24:00"
        );
        assert!(matches!(
            "17:00-09:00".parse::<Interval>(),
            Err(HoursError::Empty(_))
        ));
        assert!(matches!(
            "24:00-24:00".parse::<Interval>(),
            Err(HoursError::BadTime(_))
        ));
        assert!(matches!(
            "0900".parse::<Interval>(),
            Err(HoursError::BadInterval(_))
        ));
    }

    #[test]
    fn day_hours_merge_touching_and_refuse_overlaps() {
        let d = DayHours::parse(&["13:00-17:00", "09:00-12:00", "12:00-13:00"]).unwrap();
        assert_eq!(d.to_string(), "09:00-17:00");
        assert_eq!(d.secs(), 8 * 3600);
        let err = DayHours::parse(&["09:00-12:30", "12:00-17:00"]).unwrap_err();
        assert_eq!(err.to_string(), "`12:00-17:00` overlaps `09:00-12:30`");
        // The one written later is named even if it sorts first.
        let err = DayHours::parse(&["12:00-17:00", "09:00-12:30"]).unwrap_err();
        assert_eq!(err.to_string(), "`09:00-12:30` overlaps `12:00-17:00`");
        assert!(DayHours::parse::<&str>(&[]).unwrap().is_closed());
    }
}
