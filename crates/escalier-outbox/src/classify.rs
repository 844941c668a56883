//! What an HTTP answer means for a delivery.
//!
//! - 2xx: delivered.
//! - 408, 425, 429 and 5xx: retry, honouring `Retry-After` (delta-seconds
//!   or an HTTP-date; at most [`MAX_RETRY_AFTER`]).
//! - 409: retry — the requests the outbox sends are relative changes
//!   (set a group, add tags), so sending again is the refresh — until
//!   [`CONFLICT_ATTEMPTS`] attempts have ended 409; then failed
//!   ([`after_conflicts`], which the worker applies).
//! - 3xx: failed (redirects are not followed).
//! - Every other status: failed, never retried, with the receiver's body
//!   (at most [`MAX_BODY`] bytes) so the ticket says why.

use std::time::Duration;

use escalier_core::Timestamp;

use crate::DeliveryOutcome;

/// Most bytes of a receiver's error body kept with a failure.
pub const MAX_BODY: usize = 1024;
/// Longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Attempts ending 409 after which a delivery fails.
pub const CONFLICT_ATTEMPTS: u32 = 3;

/// Classify one answer. `now` turns an HTTP-date `Retry-After` into a delay.
pub fn classify(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> DeliveryOutcome {
    let text = body_text(body);
    let reason = match &text {
        // A conflict keeps the whole (truncated) body in its reason: when
        // the third one fails the delivery, it becomes the failure's body.
        Some(t) if status == 409 => format!("HTTP 409: {t}"),
        Some(t) => {
            let snippet: String = t.chars().take(200).collect();
            format!("HTTP {status}: {}", snippet.trim())
        }
        None => format!("HTTP {status}"),
    };
    match status {
        200..=299 => DeliveryOutcome::Delivered { status },
        408 | 409 | 425 | 429 | 500..=599 => DeliveryOutcome::Retry {
            reason,
            after: retry_after(headers, now),
            status: Some(status),
        },
        300..=399 => DeliveryOutcome::Failed {
            reason: format!("{reason} (redirects are not followed; allow and use the final URL)"),
            status: Some(status),
            body: text,
        },
        _ => DeliveryOutcome::Failed {
            reason,
            status: Some(status),
            body: text,
        },
    }
}

/// A 409 retried `conflicts` times in all (this attempt included) becomes
/// a failure once [`CONFLICT_ATTEMPTS`] is reached; other outcomes pass.
pub fn after_conflicts(outcome: DeliveryOutcome, conflicts: u32) -> DeliveryOutcome {
    match outcome {
        DeliveryOutcome::Retry {
            reason,
            status: Some(409),
            ..
        } if conflicts >= CONFLICT_ATTEMPTS => DeliveryOutcome::Failed {
            body: reason
                .strip_prefix("HTTP 409: ")
                .map(|b| b.to_owned())
                .filter(|b| !b.is_empty()),
            reason: format!("{reason} (conflict on {conflicts} attempts; not retried further)"),
            status: Some(409),
        },
        other => other,
    }
}

/// The delay a `Retry-After` header asks for, capped at [`MAX_RETRY_AFTER`].
/// Delta-seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`);
/// a date in the past means "now" (zero).
pub fn retry_after(headers: &http::HeaderMap, now: Timestamp) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let delay = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = jiff::fmt::rfc2822::DateTimeParser::new()
            .parse_timestamp(v)
            .ok()?;
        let d = at.duration_since(now);
        if d.is_negative() {
            Duration::ZERO
        } else {
            d.unsigned_abs()
        }
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// The body as text for people: UTF-8-lossy, trimmed, at most
/// [`MAX_BODY`] bytes (cut on a character boundary); `None` when empty.
pub fn body_text(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(MAX_BODY + 4)];
    let mut s = String::from_utf8_lossy(head).trim().to_owned();
    if s.is_empty() {
        return None;
    }
    if s.len() > MAX_BODY {
        let mut cut = MAX_BODY;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-10-21T07:28:00Z".parse().unwrap()
    }

    fn headers(retry_after: Option<&str>) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        if let Some(v) = retry_after {
            h.insert(http::header::RETRY_AFTER, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn success_statuses_are_delivered() {
        for s in [200, 201, 202, 204, 299] {
            assert_eq!(
                classify(s, &headers(None), b"ok", now()),
                DeliveryOutcome::Delivered { status: s }
            );
        }
    }

    #[test]
    fn transient_statuses_are_retried() {
        for s in [408, 425, 429, 500, 502, 503, 504, 599] {
            let got = classify(s, &headers(None), b"", now());
            assert!(
                matches!(&got, DeliveryOutcome::Retry { after: None, status: Some(x), .. } if *x == s),
                "{s}: {got:?}"
            );
        }
    }

    #[test]
    fn retry_after_in_delta_seconds() {
        let got = classify(429, &headers(Some("120")), b"slow down", now());
        let DeliveryOutcome::Retry { after, reason, .. } = got else {
            panic!("{got:?}")
        };
        assert_eq!(after, Some(Duration::from_secs(120)));
        assert_eq!(reason, "HTTP 429: slow down");
    }

    #[test]
    fn retry_after_as_an_http_date() {
        let got = classify(
            503,
            &headers(Some("Wed, 21 Oct 2026 07:30:30 GMT")),
            b"",
            now(),
        );
        assert!(
            matches!(got, DeliveryOutcome::Retry { after: Some(a), .. } if a == Duration::from_secs(150)),
            "{got:?}"
        );
        // A date already past: retry now (the schedule's own delay applies).
        let past = classify(
            503,
            &headers(Some("Wed, 21 Oct 2026 07:00:00 GMT")),
            b"",
            now(),
        );
        assert!(
            matches!(past, DeliveryOutcome::Retry { after: Some(a), .. } if a.is_zero()),
            "{past:?}"
        );
        // Nonsense is ignored, not fatal.
        let junk = classify(503, &headers(Some("soon")), b"", now());
        assert!(
            matches!(junk, DeliveryOutcome::Retry { after: None, .. }),
            "{junk:?}"
        );
    }

    #[test]
    fn retry_after_is_capped_at_an_hour() {
        let got = classify(429, &headers(Some("86400")), b"", now());
        assert!(
            matches!(got, DeliveryOutcome::Retry { after: Some(a), .. } if a == MAX_RETRY_AFTER),
            "{got:?}"
        );
        let date = classify(
            429,
            &headers(Some("Thu, 22 Oct 2026 07:28:00 GMT")),
            b"",
            now(),
        );
        assert!(
            matches!(date, DeliveryOutcome::Retry { after: Some(a), .. } if a == MAX_RETRY_AFTER),
            "{date:?}"
        );
    }

    #[test]
    fn a_conflict_is_retried_twice_then_fails_on_the_third() {
        let first = classify(409, &headers(None), b"{\"error\":\"stale\"}", now());
        assert!(matches!(
            first,
            DeliveryOutcome::Retry {
                status: Some(409),
                ..
            }
        ));
        for n in 1..CONFLICT_ATTEMPTS {
            assert!(
                matches!(
                    after_conflicts(first.clone(), n),
                    DeliveryOutcome::Retry { .. }
                ),
                "attempt {n}"
            );
        }
        let third = after_conflicts(first.clone(), CONFLICT_ATTEMPTS);
        let DeliveryOutcome::Failed {
            reason,
            status,
            body,
        } = third
        else {
            panic!("{third:?}")
        };
        assert_eq!(status, Some(409));
        assert_eq!(
            body.as_deref(),
            Some("{\"error\":\"stale\"}"),
            "the receiver's body is kept"
        );
        assert!(reason.contains("conflict on 3 attempts"), "{reason}");
        // Other outcomes are not touched.
        let other = classify(503, &headers(None), b"", now());
        assert_eq!(after_conflicts(other.clone(), 9), other);
    }

    #[test]
    fn other_client_errors_fail_with_the_receivers_body_truncated() {
        for s in [400, 401, 403, 404, 410, 422] {
            let got = classify(
                s,
                &headers(Some("5")),
                b"{\"error\":\"invalid event\"}",
                now(),
            );
            let DeliveryOutcome::Failed {
                status,
                body,
                reason,
            } = got
            else {
                panic!("{s}: {got:?}")
            };
            assert_eq!(status, Some(s));
            assert_eq!(body.as_deref(), Some("{\"error\":\"invalid event\"}"));
            assert!(reason.starts_with(&format!("HTTP {s}")), "{reason}");
        }
        let long = "é".repeat(2000); // 4000 bytes
        let DeliveryOutcome::Failed { body: Some(b), .. } =
            classify(400, &headers(None), long.as_bytes(), now())
        else {
            panic!("a body is kept")
        };
        assert!(
            b.len() <= MAX_BODY && b.len() >= MAX_BODY - 1,
            "{}",
            b.len()
        );
        assert!(b.chars().all(|c| c == 'é'));
        let DeliveryOutcome::Failed { body, .. } = classify(404, &headers(None), b"  ", now())
        else {
            panic!()
        };
        assert_eq!(body, None, "an empty body is no body");
    }

    #[test]
    fn redirects_fail() {
        for s in [301, 302, 307, 308] {
            let got = classify(s, &headers(None), b"", now());
            assert!(
                matches!(&got, DeliveryOutcome::Failed { reason, status: Some(x), .. } if *x == s && reason.contains("redirects are not followed")),
                "{got:?}"
            );
        }
    }
}
