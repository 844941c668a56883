//! When to try a delivery again, and when to give up. Pure: the worker
//! passes attempts made and times, and stores what comes back.
//!
//! Delays grow by `factor` from `first_delay` up to `max_delay`, with a
//! ±10% spread derived from the delivery id (so deliveries that failed
//! together do not all retry in the same second, yet the schedule of one
//! delivery is reproducible). A server's `Retry-After` is honoured. No
//! retry is scheduled later than `give_up_after` past the first attempt;
//! then the worker records `delivery.failed`. With the defaults (10 s,
//! ×3, capped at 1 h, give up after 24 h) that is about 28 attempts.

use std::time::Duration;

use escalier_core::Timestamp;
use escalier_core::event::DeliveryFailed;
use sha2::{Digest, Sha256};

use crate::{DeliveryOutcome, OutboxRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    pub first_delay: Duration,
    pub factor: u32,
    pub max_delay: Duration,
    /// Horizon after the first attempt past which no retry is scheduled.
    pub give_up_after: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            first_delay: Duration::from_secs(10),
            factor: 3,
            max_delay: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// What the worker does after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered: remove it from the outbox.
    Done,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// Record `delivery.failed` with this reason and remove it.
    GiveUp { reason: String },
}

impl RetrySchedule {
    /// Delay after the `failed_attempts`-th failure (1 = after the first attempt).
    pub fn delay(&self, failed_attempts: u32, delivery_id: &str) -> Duration {
        let exp = failed_attempts.saturating_sub(1).min(32);
        let base = self
            .first_delay
            .saturating_mul(self.factor.max(1).saturating_pow(exp))
            .min(self.max_delay);
        // ±10%, fixed per (delivery, attempt).
        let mut h = Sha256::new();
        h.update(delivery_id.as_bytes());
        h.update(failed_attempts.to_le_bytes());
        let d = h.finalize();
        let unit = f64::from(u16::from_le_bytes([d[0], d[1]])) / f64::from(u16::MAX); // 0..=1
        base.mul_f64(0.9 + 0.2 * unit)
    }

    /// Decide after attempt number `attempts` (1-based) ended with `outcome`.
    pub fn next(
        &self,
        delivery_id: &str,
        outcome: &DeliveryOutcome,
        attempts: u32,
        first_attempt_at: Timestamp,
        now: Timestamp,
    ) -> NextStep {
        let retry_after = match outcome {
            DeliveryOutcome::Delivered { .. } => return NextStep::Done,
            DeliveryOutcome::Failed { reason, .. } => {
                return NextStep::GiveUp {
                    reason: reason.clone(),
                };
            }
            DeliveryOutcome::Retry { after, .. } => *after,
        };
        let mut delay = self.delay(attempts, delivery_id);
        if let Some(after) = retry_after {
            delay = delay.max(after);
        }
        let at = now.checked_add(delay).unwrap_or(Timestamp::MAX);
        let horizon = first_attempt_at
            .checked_add(self.give_up_after)
            .unwrap_or(Timestamp::MAX);
        if at > horizon {
            let last = match outcome {
                DeliveryOutcome::Retry { reason, .. } => reason.as_str(),
                _ => "",
            };
            return NextStep::GiveUp {
                reason: format!(
                    "gave up after {attempts} attempts over {}: {last}",
                    humanize(self.give_up_after)
                ),
            };
        }
        NextStep::RetryAt(at)
    }
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else {
        format!("{s} s")
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s[..cut].to_owned()
}

/// The `delivery.failed` event the worker appends when it gives up.
pub fn failed_event(
    request: &OutboxRequest,
    attempts: u32,
    reason: &str,
    status: Option<u16>,
    response: Option<&str>,
) -> DeliveryFailed {
    DeliveryFailed {
        delivery_id: request.delivery_id().to_owned(),
        plugin: request.plugin().map(str::to_owned),
        target: request.target().map(str::to_owned),
        attempts,
        error: truncate(reason, 4000),
        status,
        response: response.map(|r| truncate(r, crate::classify::MAX_BODY)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_770_000_000 + s).unwrap()
    }

    fn retry(after: Option<u64>) -> DeliveryOutcome {
        DeliveryOutcome::Retry {
            reason: "HTTP 503".into(),
            after: after.map(Duration::from_secs),
            status: Some(503),
        }
    }

    #[test]
    fn delays_grow_then_cap_and_stay_within_ten_percent() {
        let s = RetrySchedule::default();
        let secs: Vec<f64> = (1..=8)
            .map(|n| s.delay(n, "dlv:1.1:x:0").as_secs_f64())
            .collect();
        let nominal = [10.0, 30.0, 90.0, 270.0, 810.0, 2430.0, 3600.0, 3600.0];
        for (got, want) in secs.iter().zip(nominal) {
            assert!((got / want - 1.0).abs() <= 0.1001, "{got} vs {want}");
        }
        assert_eq!(
            s.delay(3, "dlv:1.1:x:0"),
            s.delay(3, "dlv:1.1:x:0"),
            "reproducible"
        );
    }

    #[test]
    fn gives_up_past_the_horizon_and_on_permanent_failures() {
        let s = RetrySchedule::default();
        assert_eq!(
            s.next(
                "d",
                &DeliveryOutcome::Delivered { status: 200 },
                1,
                t(0),
                t(0)
            ),
            NextStep::Done
        );
        assert!(
            matches!(s.next("d", &retry(None), 1, t(0), t(0)), NextStep::RetryAt(at) if at > t(8) && at < t(12))
        );
        assert!(matches!(
            s.next("d", &DeliveryOutcome::failed("HTTP 404"), 1, t(0), t(0)),
            NextStep::GiveUp { reason } if reason == "HTTP 404"
        ));
        let late = t(24 * 3600 - 60);
        assert!(matches!(
            s.next("d", &retry(None), 27, t(0), late),
            NextStep::GiveUp { .. }
        ));
    }

    #[test]
    fn retry_after_is_honoured() {
        let s = RetrySchedule::default();
        assert_eq!(
            s.next("d", &retry(Some(600)), 1, t(0), t(0)),
            NextStep::RetryAt(t(600))
        );
    }

    #[test]
    fn a_whole_schedule_takes_about_a_day() {
        let s = RetrySchedule::default();
        let (first, mut now, mut attempts) = (t(0), t(0), 1);
        while let NextStep::RetryAt(at) = s.next("dlv:9.1:n:0", &retry(None), attempts, first, now)
        {
            now = at;
            attempts += 1;
        }
        assert!((20..=35).contains(&attempts), "{attempts}");
        assert!(now <= t(24 * 3600));
    }
}
