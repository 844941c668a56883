//! The circuit breaker of one plugin: after `failures` consecutive
//! failures (traps, timeouts, memory limit, capability denials; not errors
//! the plugin returns on purpose) calls are skipped and recorded as
//! `plugin.error` (`circuit_open`) until `cooldown` has passed; then one
//! call is let through (half-open): success closes the circuit, failure
//! opens it again.
//!
//! Time is the time of the records being handled, not the wall clock, so
//! a replay of the log over the same plugin opens and closes the breaker
//! at the same records. (A replay that starts in the middle of the log
//! starts with a closed breaker; the skipped calls it then makes are the
//! difference a backtest reports.) Adapters run outside the log and do
//! not move the breaker.

use std::time::Duration;

use escalier_core::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit.
    pub failures: u32,
    /// How long (in record time) it stays open before a trial call.
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures: 5,
            cooldown: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum BreakerState {
    Closed,
    /// Calls are skipped until `until`.
    Open {
        until: Timestamp,
    },
    /// The cooldown is over: the next call is a trial.
    HalfOpen,
}

#[derive(Debug)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    consecutive: u32,
    state: BreakerState,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            consecutive: 0,
            state: BreakerState::Closed,
        }
    }

    /// Whether a call at record time `now` may go ahead; `Err(until)` if not.
    pub fn admit(&mut self, now: Timestamp) -> Result<(), Timestamp> {
        match self.state {
            BreakerState::Open { until } if now < until => Err(until),
            BreakerState::Open { .. } => {
                self.state = BreakerState::HalfOpen;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub fn config(&self) -> BreakerConfig {
        self.config
    }

    pub fn success(&mut self) {
        self.consecutive = 0;
        self.state = BreakerState::Closed;
    }

    /// Record a failure at `now`; returns true if this opened the circuit.
    pub fn failure(&mut self, now: Timestamp) -> bool {
        self.consecutive = self.consecutive.saturating_add(1);
        let open = self.state == BreakerState::HalfOpen || self.consecutive >= self.config.failures;
        if open {
            let cooldown = jiff::SignedDuration::try_from(self.config.cooldown)
                .unwrap_or(jiff::SignedDuration::MAX);
            let until = now.checked_add(cooldown).unwrap_or(Timestamp::MAX);
            self.state = BreakerState::Open { until };
        }
        open
    }

    /// The state as of record time `now` (an expired open circuit shows as half-open).
    pub fn state(&self, now: Option<Timestamp>) -> BreakerState {
        match (self.state, now) {
            (BreakerState::Open { until }, Some(now)) if now >= until => BreakerState::HalfOpen,
            (s, _) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> Timestamp {
        Timestamp::from_second(1_770_000_000 + s as i64).unwrap()
    }

    #[test]
    fn opens_after_consecutive_failures_and_half_opens_after_the_cooldown() {
        let mut b = Breaker::new(BreakerConfig {
            failures: 3,
            cooldown: Duration::from_secs(60),
        });
        assert!(!b.failure(at(0)));
        b.success();
        assert!(!b.failure(at(1)));
        assert!(!b.failure(at(2)));
        assert!(b.failure(at(3)), "third in a row opens it");
        assert_eq!(b.admit(at(30)), Err(at(63)));
        assert_eq!(b.state(Some(at(63))), BreakerState::HalfOpen);
        assert_eq!(b.admit(at(63)), Ok(()), "trial call");
        assert!(b.failure(at(64)), "a failed trial opens it again at once");
        assert_eq!(b.admit(at(100)), Err(at(124)));
        assert_eq!(b.admit(at(124)), Ok(()));
        b.success();
        assert_eq!(b.state(Some(at(125))), BreakerState::Closed);
    }
}
