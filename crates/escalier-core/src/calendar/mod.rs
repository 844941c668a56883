//! Business calendars: when a support desk is open, in its own time zone,
//! and how much business time lies between two instants.
//!
//! A [`Calendar`] is an IANA time zone, business hours per weekday (local
//! intervals, split shifts allowed), and dated exceptions: holidays closed
//! all day or open on their own hours. [`Calendar::always`] is 24×7.
//!
//! # Business time and DST
//!
//! An opening `[start, end)` on a date is the real time between the instant
//! the desk opens and the instant it closes. Each boundary is placed at
//! **the first instant the wall clock shows that local time or later**:
//!
//! - in a gap (clocks jump forward), a time that does not exist happens at
//!   the jump: a desk opening at 02:30 on a night clocks go 02:00→03:00
//!   opens at 03:00;
//! - in a fold (clocks go back), a repeated time means its first occurrence.
//!
//! So a 09:00–17:00 day is 8 h on a 23 h or 25 h day (DST changes happen at
//! night), an opening that spans the change is its real length (00:00–24:00
//! is 23 h or 25 h), and an opening wholly inside a gap has no business
//! time. The rule is monotone, so openings never overlap or reverse.
//!
//! Everything here is pure and exact to the nanosecond of the instants
//! given; boundaries are whole local seconds.
//!
//! # Layout
//!
//! - [`hours`]: `Interval` and `DayHours`, one day's openings.
//! - `compute`: `add_business`, `business_between`, `is_open`, `next_open`,
//!   `next_change`, with whole-week skipping between DST transitions.
//! - [`data`]: the TOML data format and `ConfigError`.

mod compute;
pub mod data;
pub mod hours;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use jiff::SignedDuration;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

pub use data::{ConfigError, ConfigErrorCode, parse_calendars};
pub use hours::{DayHours, HoursError, Interval};

/// Why a computation over a calendar failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// The calendar has no business time from the given instant on, so the
    /// amount can never elapse.
    #[error("the calendar has no business time after this instant")]
    NoBusinessTime,
    /// The result would fall outside the years jiff supports (±9999).
    #[error("the result is out of the supported range of dates")]
    OutOfRange,
    /// Business time to add must not be negative.
    #[error("cannot add a negative amount of business time ({0:?})")]
    NegativeAmount(SignedDuration),
}

impl From<jiff::Error> for CalendarError {
    fn from(_: jiff::Error) -> Self {
        // Every jiff call made here can only fail on range overflow.
        CalendarError::OutOfRange
    }
}

/// A dated exception to the weekly hours (a holiday, closed or partial).
#[derive(Debug, Clone, PartialEq)]
struct Special {
    hours: DayHours,
    /// `hours.secs()` minus the weekday's usual seconds: what the date adds
    /// to (or, usually, takes from) a week, for whole-week skipping.
    delta: i64,
}

/// A business calendar. Cheap to share behind an `Arc`; immutable once built.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    tz: TimeZone,
    /// Monday first.
    week: [DayHours; 7],
    /// Keyed by day number (days since 1970-01-01).
    specials: BTreeMap<i64, Special>,
    /// Sum of the weekly hours, in seconds.
    week_secs: i64,
    /// 24×7 with no day closed: business time is elapsed time.
    continuous: bool,
}

impl Calendar {
    /// A calendar in `tz` with `week` hours, Monday first, and no holidays.
    pub fn new(tz: TimeZone, week: [DayHours; 7]) -> Calendar {
        let week_secs = week.iter().map(|d| i64::from(d.secs())).sum();
        Calendar {
            tz,
            week,
            specials: BTreeMap::new(),
            week_secs,
            continuous: week_secs == 7 * i64::from(hours::DAY_SECS),
        }
    }

    /// Open 24×7 in UTC: business time is elapsed time.
    pub fn always() -> Calendar {
        Calendar::always_in(TimeZone::UTC)
    }

    /// Open 24×7, with `tz` as the zone holidays are read in.
    pub fn always_in(tz: TimeZone) -> Calendar {
        Calendar::new(tz, std::array::from_fn(|_| DayHours::full_day()))
    }

    /// Same hours every day in `days` (others closed). A shorthand for tests
    /// and examples: `Calendar::weekly(tz, &[Mon, Tue, ...], hours)`.
    pub fn weekly(tz: TimeZone, days: &[Weekday], hours: DayHours) -> Calendar {
        let week = std::array::from_fn(|i| {
            let open = days.iter().any(|d| weekday_index(*d) == i);
            if open {
                hours.clone()
            } else {
                DayHours::closed()
            }
        });
        Calendar::new(tz, week)
    }

    /// Set the hours of one date, replacing its weekday's hours: closed
    /// (a holiday) or a partial day. A later call for the same date wins.
    pub fn with_special(mut self, date: Date, hours: DayHours) -> Calendar {
        let n = day_number(date);
        let usual = i64::from(self.week[weekday_index(date.weekday())].secs());
        let delta = i64::from(hours.secs()) - usual;
        self.continuous &= hours.is_full_day();
        self.specials.insert(n, Special { hours, delta });
        self
    }

    /// A holiday: closed all day on `date`.
    pub fn with_holiday(self, date: Date) -> Calendar {
        self.with_special(date, DayHours::closed())
    }

    /// The time zone local hours are read in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The usual hours of a weekday.
    pub fn hours(&self, day: Weekday) -> &DayHours {
        &self.week[weekday_index(day)]
    }

    /// The hours in force on a date: its special hours if it has any,
    /// otherwise its weekday's.
    pub fn hours_on(&self, date: Date) -> &DayHours {
        self.hours_of_day(day_number(date))
    }

    /// Dates with their own hours (holidays and partial days), in order.
    pub fn specials(&self) -> impl Iterator<Item = (Date, &DayHours)> + '_ {
        self.specials
            .iter()
            .filter_map(|(n, s)| date_of(*n).ok().map(|d| (d, &s.hours)))
    }

    /// Business time in an ordinary week (no holidays, no DST change).
    pub fn weekly_business_time(&self) -> SignedDuration {
        SignedDuration::from_secs(self.week_secs)
    }

    /// Every instant is business time: 24×7 with no holidays.
    pub fn is_continuous(&self) -> bool {
        self.continuous
    }

    fn hours_of_day(&self, n: i64) -> &DayHours {
        match self.specials.get(&n) {
            Some(s) => &s.hours,
            None => &self.week[weekday_of(n)],
        }
    }
}

const EPOCH: Date = Date::constant(1970, 1, 1);

/// Days since 1970-01-01.
fn day_number(d: Date) -> i64 {
    d.duration_since(EPOCH).as_hours() / 24
}

fn date_of(n: i64) -> Result<Date, CalendarError> {
    let hours = n.checked_mul(24).ok_or(CalendarError::OutOfRange)?;
    Ok(EPOCH.checked_add(SignedDuration::from_hours(hours))?)
}

/// Monday = 0. 1970-01-01 was a Thursday.
fn weekday_of(n: i64) -> usize {
    // rem_euclid(7) is in 0..7, so the cast cannot truncate.
    (n + 3).rem_euclid(7) as usize
}

fn weekday_index(d: Weekday) -> usize {
    // to_monday_zero_offset is in 0..7.
    d.to_monday_zero_offset() as usize
}
