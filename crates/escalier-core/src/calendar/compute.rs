//! The calendar's arithmetic: adding business time, measuring it, and
//! finding openings.
//!
//! Two paths produce the same instants:
//!
//! - **exact**: a day's openings are turned into instants one boundary at a
//!   time with the boundary rule in the module docs (gaps happen at the
//!   jump, folds mean the first occurrence). Used for the day a
//!   computation starts on and for days near a DST transition.
//! - **window**: between two transitions the zone's offset is fixed, so a
//!   local time maps to an instant by subtraction, and whole weeks are
//!   skipped arithmetically (`week_secs` plus the specials' deltas found
//!   by a range query). A 30-business-day target costs a handful of steps,
//!   not a walk over every day.
//!
//! Loops are bounded: a calendar with no weekly hours ends as soon as no
//! special day with hours lies ahead (`NoBusinessTime`); otherwise each
//! week holds business time, and dates end at year 9999 (`OutOfRange`).

use std::cmp::{max, min};

use jiff::civil::{Date, Time};
use jiff::tz::AmbiguousOffset;
use jiff::{SignedDuration, Timestamp};

use super::hours::{DAY_SECS, DayHours};
use super::{Calendar, CalendarError, date_of, day_number};

/// Last day number a computation may reach (9999-12-29): the next day's
/// midnight must still be representable in any zone.
const MAX_DAY: i64 = 2_932_894;
const DAY: i64 = DAY_SECS as i64;

/// Days `first..=last` whose local times all map to instants through one
/// fixed offset: `base` is the instant of `first` at 00:00.
#[derive(Debug, Clone, Copy)]
struct Window {
    first: i64,
    last: i64,
    base: Timestamp,
}

impl Window {
    fn at(&self, day: i64, secs: u32) -> Result<Timestamp, CalendarError> {
        let s = (day - self.first) * DAY + i64::from(secs);
        Ok(self.base.checked_add(SignedDuration::from_secs(s))?)
    }
}

impl Calendar {
    /// Whether `t` is business time.
    ///
    /// Only at the very ends of the supported date range, where a day's
    /// boundaries cannot be computed, does this answer `false` by default.
    pub fn is_open(&self, t: Timestamp) -> bool {
        if self.is_continuous() {
            return true;
        }
        self.opening_at(t).ok().flatten().is_some()
    }

    /// The first instant at or after `t` that is business time.
    pub fn next_open(&self, t: Timestamp) -> Result<Timestamp, CalendarError> {
        if self.is_continuous() {
            return Ok(t);
        }
        let mut n = self.local_day(t);
        loop {
            self.check_business_ahead(n)?;
            for span in self.spans(n)? {
                let (s, e) = span?;
                if e > t {
                    return Ok(max(s, t));
                }
            }
            n = self.next_day_with_hours(n + 1)?;
        }
    }

    /// The first instant after `t` at which [`is_open`](Self::is_open)
    /// changes; `None` if it never changes again (24×7 from here on, or no
    /// business time left). Back-to-back openings (a shift to 24:00 and one
    /// from 00:00) count as one.
    pub fn next_change(&self, t: Timestamp) -> Result<Option<Timestamp>, CalendarError> {
        if self.is_continuous() {
            return Ok(None);
        }
        let Some((_, mut end)) = self.opening_at(t)? else {
            return match self.next_open(t) {
                Ok(o) => Ok(Some(o)),
                Err(CalendarError::NoBusinessTime) => Ok(None),
                Err(e) => Err(e),
            };
        };
        let all_week_full = self.week.iter().all(DayHours::is_full_day);
        loop {
            if all_week_full {
                // Open every day from here to the next special day that is
                // not a full day: jump to that day's midnight.
                let today = self.local_day(end);
                let Some((&d, _)) = self
                    .specials
                    .range(today..)
                    .find(|(_, s)| !s.hours.is_full_day())
                else {
                    return Ok(None);
                };
                end = max(end, self.instant(date_of(d)?, 0)?);
            }
            match self.opening_at(end)? {
                Some((_, e)) if e > end => end = e,
                _ => return Ok(Some(end)),
            }
        }
    }

    /// The instant at which `amount` of business time has elapsed since
    /// `start`: the earliest `t >= start` with
    /// `business_between(start, t) >= amount`. A start outside business
    /// hours effectively starts at the next opening; a positive amount ends
    /// where it runs out, which may be a closing time (8 h from Monday 09:00
    /// on a 9–17 calendar is Monday 17:00, not Tuesday 09:00). A zero
    /// amount returns `start`.
    pub fn add_business(
        &self,
        start: Timestamp,
        amount: SignedDuration,
    ) -> Result<Timestamp, CalendarError> {
        if amount.is_negative() {
            return Err(CalendarError::NegativeAmount(amount));
        }
        if amount.is_zero() {
            return Ok(start);
        }
        if self.is_continuous() {
            return Ok(start.checked_add(amount)?);
        }
        let mut rem = amount;
        let mut n = self.local_day(start);
        let mut first = true;
        loop {
            self.check_business_ahead(n)?;
            if !first
                && let Some(mut w) = self.window(n)?
                && w.base >= start
            {
                if self.week_secs == 0 {
                    // Only special days have hours: stop the window after the
                    // last of them so the check above ends the search.
                    w.last = min(w.last, self.last_special_with_hours().unwrap_or(n));
                }
                match self.add_in_window(&w, rem)? {
                    Ok(t) => return Ok(t),
                    Err(left) => {
                        rem = left;
                        n = w.last + 1;
                        continue;
                    }
                }
            }
            first = false;
            for span in self.spans(n)? {
                let (s, e) = span?;
                if e <= start {
                    continue;
                }
                let s = max(s, start);
                let len = e.duration_since(s);
                if len >= rem {
                    return Ok(s.checked_add(rem)?);
                }
                rem -= len;
            }
            n += 1;
        }
    }

    /// Business time in `[a, b)`; negative if `b < a`
    /// (`business_between(b, a) == -business_between(a, b)`).
    pub fn business_between(
        &self,
        a: Timestamp,
        b: Timestamp,
    ) -> Result<SignedDuration, CalendarError> {
        if b < a {
            return Ok(-self.business_between(b, a)?);
        }
        if self.is_continuous() {
            return Ok(b.duration_since(a));
        }
        let mut total = SignedDuration::ZERO;
        let mut n = self.local_day(a);
        let mut first = true;
        loop {
            if n > MAX_DAY {
                return Err(CalendarError::OutOfRange);
            }
            if !first
                && let Some(w) = self.window(n)?
                && w.base >= a
            {
                if w.base >= b {
                    return Ok(total);
                }
                // Days whose next midnight is at or before `b` are wholly inside.
                let whole = b.duration_since(w.base).as_secs() / DAY;
                let last = min(w.last, w.first + whole - 1);
                if last >= n {
                    total += SignedDuration::from_secs(self.nominal_secs(n, last));
                    n = last + 1;
                    continue;
                }
            }
            first = false;
            if self.instant(date_of(n)?, 0)? >= b {
                return Ok(total);
            }
            for span in self.spans(n)? {
                let (s, e) = span?;
                let (s, e) = (max(s, a), min(e, b));
                if e > s {
                    total += e.duration_since(s);
                }
            }
            n += 1;
        }
    }

    /// The opening (as instants) that contains `t`, if any.
    fn opening_at(&self, t: Timestamp) -> Result<Option<(Timestamp, Timestamp)>, CalendarError> {
        let n = self.local_day(t);
        // An opening of an earlier local day ends by that day's next
        // midnight, which is at or before `t`; one of day n+1 can contain
        // `t` only in a fold across midnight. Later days start later still.
        for day in [n, n + 1] {
            for span in self.spans(day)? {
                let (s, e) = span?;
                if s <= t && t < e {
                    return Ok(Some((s, e)));
                }
            }
        }
        Ok(None)
    }

    /// Local date of `t`, as a day number.
    fn local_day(&self, t: Timestamp) -> i64 {
        day_number(self.tz.to_datetime(t).date())
    }

    /// The boundary rule: the first instant the wall clock shows local
    /// `secs` on `date` or later. `secs == 86_400` is the next midnight.
    pub(super) fn instant(&self, date: Date, secs: u32) -> Result<Timestamp, CalendarError> {
        let (date, secs) = if secs >= DAY_SECS {
            (date.tomorrow()?, secs - DAY_SECS)
        } else {
            (date, secs)
        };
        let dt = date.to_datetime(local_time(secs)?);
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => Ok(offset.to_timestamp(dt)?),
            // `before` is the offset in force first: the first occurrence.
            AmbiguousOffset::Fold { before, .. } => Ok(before.to_timestamp(dt)?),
            // Read with the later offset, `dt` falls just before the jump;
            // the jump itself is the first instant showing `dt` or later.
            AmbiguousOffset::Gap { after, .. } => {
                let just_before = after.to_timestamp(dt)?;
                self.tz
                    .following(just_before)
                    .next()
                    .map(|tr| tr.timestamp())
                    .ok_or(CalendarError::OutOfRange)
            }
        }
    }

    /// The openings of day `n` as instants, empty ones (inside a gap) skipped.
    fn spans(&self, n: i64) -> Result<Spans<'_>, CalendarError> {
        if n > MAX_DAY {
            return Err(CalendarError::OutOfRange);
        }
        Ok(Spans {
            cal: self,
            date: date_of(n)?,
            hours: self.hours_of_day(n).intervals().iter(),
        })
    }

    /// The fixed-offset window starting at day `n`, if `n` is not itself
    /// touched by a transition.
    fn window(&self, n: i64) -> Result<Option<Window>, CalendarError> {
        let dt = date_of(n)?.to_datetime(Time::midnight());
        let AmbiguousOffset::Unambiguous { offset } = self.tz.to_ambiguous_timestamp(dt).offset()
        else {
            return Ok(None);
        };
        let base = offset.to_timestamp(dt)?;
        let last = match self.tz.following(base).next() {
            None => MAX_DAY,
            Some(tr) => {
                // Local times before the transition read at the lower of the
                // two offsets are neither skipped nor repeated. The last
                // window day's next midnight must come strictly before that.
                let unsafe_from = min(offset, tr.offset()).to_datetime(tr.timestamp());
                let limit = unsafe_from
                    .checked_sub(SignedDuration::from_nanos(1))?
                    .date();
                min(day_number(limit) - 1, MAX_DAY)
            }
        };
        Ok((last >= n).then_some(Window {
            first: n,
            last,
            base,
        }))
    }

    /// Add `rem` inside a window, from its first day. `Ok(t)`: done;
    /// `Err(left)`: the window ran out with `left` still to add.
    fn add_in_window(
        &self,
        w: &Window,
        mut rem: SignedDuration,
    ) -> Result<Result<Timestamp, SignedDuration>, CalendarError> {
        let mut d = w.first;
        // Skip whole weeks whose business time is strictly less than what
        // is left: the answer is not in them.
        loop {
            let weeks = (w.last - d + 1) / 7;
            if weeks == 0 {
                break;
            }
            let need = (rem - SignedDuration::from_nanos(1)).as_secs();
            let mut k = if self.week_secs > 0 {
                min(weeks, need / self.week_secs)
            } else {
                weeks
            };
            let mut skipped = None;
            while k > 0 {
                let secs = k * self.week_secs + self.special_delta(d, d + 7 * k);
                if SignedDuration::from_secs(secs) < rem {
                    skipped = Some(secs);
                    break;
                }
                // Special days add time to these weeks; try fewer.
                k /= 2;
            }
            let Some(secs) = skipped else { break };
            rem -= SignedDuration::from_secs(secs);
            d += 7 * k;
        }
        while d <= w.last {
            let hours = self.hours_of_day(d);
            if SignedDuration::from_secs(i64::from(hours.secs())) >= rem {
                for iv in hours.intervals() {
                    let len = SignedDuration::from_secs(i64::from(iv.secs()));
                    if len >= rem {
                        return Ok(Ok(w.at(d, iv.start())?.checked_add(rem)?));
                    }
                    rem -= len;
                }
            } else {
                rem -= SignedDuration::from_secs(i64::from(hours.secs()));
            }
            d += 1;
        }
        Ok(Err(rem))
    }

    /// Nominal business seconds of days `a..=b`.
    fn nominal_secs(&self, a: i64, b: i64) -> i64 {
        let days = b - a + 1;
        let weeks = days / 7;
        let mut secs = weeks * self.week_secs;
        for d in a + weeks * 7..=b {
            secs += i64::from(self.week[super::weekday_of(d)].secs());
        }
        secs + self.special_delta(a, b + 1)
    }

    /// What special days in `a..b` add to the weekly hours.
    fn special_delta(&self, a: i64, b: i64) -> i64 {
        self.specials.range(a..b).map(|(_, s)| s.delta).sum()
    }

    /// Error out if no business time lies at or after day `n`.
    fn check_business_ahead(&self, n: i64) -> Result<(), CalendarError> {
        if n > MAX_DAY {
            return Err(CalendarError::OutOfRange);
        }
        if self.week_secs == 0 && !self.specials.range(n..).any(|(_, s)| !s.hours.is_closed()) {
            return Err(CalendarError::NoBusinessTime);
        }
        Ok(())
    }

    fn last_special_with_hours(&self) -> Option<i64> {
        self.specials
            .iter()
            .rev()
            .find(|(_, s)| !s.hours.is_closed())
            .map(|(d, _)| *d)
    }

    /// `n` if it is worth looking at, else the next day that has hours.
    /// Only calendars without weekly hours jump; others step by one day.
    fn next_day_with_hours(&self, n: i64) -> Result<i64, CalendarError> {
        if self.week_secs > 0 {
            return Ok(n);
        }
        self.specials
            .range(n..)
            .find(|(_, s)| !s.hours.is_closed())
            .map(|(d, _)| *d)
            .ok_or(CalendarError::NoBusinessTime)
    }
}

fn local_time(secs: u32) -> Result<Time, CalendarError> {
    // secs < 86_400 here, so each part fits in an i8.
    let part = |v: u32| i8::try_from(v).map_err(|_| CalendarError::OutOfRange);
    Ok(Time::new(
        part(secs / 3600)?,
        part(secs / 60 % 60)?,
        part(secs % 60)?,
        0,
    )?)
}

/// Iterator over one day's openings as instants.
struct Spans<'c> {
    cal: &'c Calendar,
    date: Date,
    hours: std::slice::Iter<'c, super::Interval>,
}

impl Iterator for Spans<'_> {
    type Item = Result<(Timestamp, Timestamp), CalendarError>;

    fn next(&mut self) -> Option<Self::Item> {
        for iv in self.hours.by_ref() {
            let span = self
                .cal
                .instant(self.date, iv.start())
                .and_then(|s| Ok((s, self.cal.instant(self.date, iv.end())?)));
            match span {
                Ok((s, e)) if e <= s => continue,
                other => return Some(other),
            }
        }
        None
    }
}
