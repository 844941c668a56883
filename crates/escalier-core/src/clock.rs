//! The time source. Everything that asks "what time is it" asks a `Clock`,
//! so tests and simulations can move time by hand instead of sleeping.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to. Never goes backwards.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// Set the time. Refuses to move backwards and returns the time in force.
    pub fn set(&self, to: Timestamp) -> Result<Timestamp, Timestamp> {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        if to < *now {
            return Err(*now);
        }
        *now = to;
        Ok(to)
    }

    /// Move time forward by `by` (negative durations are refused).
    pub fn advance(&self, by: SignedDuration) -> Result<Timestamp, Timestamp> {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        if by.is_negative() {
            return Err(*now);
        }
        let to = now.checked_add(by).map_err(|_| *now)?;
        *now = to;
        Ok(to)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_never_goes_backwards() {
        let start: Timestamp = "2026-01-05T09:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        assert!(clock.set("2026-01-05T08:00:00Z".parse().unwrap()).is_err());
        assert!(clock.advance(SignedDuration::from_secs(-1)).is_err());
        assert_eq!(clock.now(), start);
        clock.advance(SignedDuration::from_mins(90)).unwrap();
        assert_eq!(
            clock.now(),
            "2026-01-05T10:30:00Z".parse::<Timestamp>().unwrap()
        );
    }
}
