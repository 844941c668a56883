//! Secret values out of error text.
//!
//! Errors from HTTP clients, TLS, SMTP servers and receivers may quote what
//! they were given: a webhook URL (whose path is its token), a routing key
//! echoed in a 400 body. Every string a send produces passes through
//! [`Redactor::redact`] with the values that send used before it reaches a
//! log, a record or the API.

use escalier_outbox::DeliveryOutcome;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Values too short to redact safely are never secrets worth the name, but
/// must not turn every `a` into `[redacted]` either.
const MIN_LEN: usize = 4;

/// The secret values one send used.
#[derive(Default)]
pub struct Redactor {
    values: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.values.len())
    }
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Remember a value to redact. A URL also redacts its normalized form
    /// and its path and query (where webhook tokens live), which error
    /// messages quote on their own.
    pub fn add(&mut self, value: &str) {
        let mut push = |v: &str| {
            let v = v.trim();
            if v.len() >= MIN_LEN && !self.values.iter().any(|x| x == v) {
                self.values.push(v.to_owned());
            }
        };
        push(value);
        if let Ok(url) = url::Url::parse(value.trim()) {
            push(url.as_str());
            let path = url.path().trim_matches('/');
            if path.len() >= 8 {
                push(path);
            }
            if let Some(q) = url.query() {
                push(q);
            }
        }
        // Longest first, so a value containing another is replaced whole.
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    pub fn redact(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
        out
    }

    /// The outcome with its reason and the receiver's body redacted.
    pub fn outcome(&self, o: DeliveryOutcome) -> DeliveryOutcome {
        match o {
            DeliveryOutcome::Delivered { status } => DeliveryOutcome::Delivered { status },
            DeliveryOutcome::Retry {
                reason,
                after,
                status,
            } => DeliveryOutcome::Retry {
                reason: self.redact(&reason),
                after,
                status,
            },
            DeliveryOutcome::Failed {
                reason,
                status,
                body,
            } => DeliveryOutcome::Failed {
                reason: self.redact(&reason),
                status,
                body: body.map(|b| self.redact(&b)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_urls_and_their_paths_are_redacted() {
        let mut r = Redactor::new();
        r.add("https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX");
        r.add("R0UTINGKEY0123456789abcdef012345");
        let s = r.redact(
            "POST https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX failed; \
             path services/T000/B000/XXXXsecretXXXX; body {\"routing_key\":\"R0UTINGKEY0123456789abcdef012345\"}",
        );
        assert!(!s.contains("XXXXsecretXXXX"), "{s}");
        assert!(!s.contains("R0UTINGKEY"), "{s}");
        assert!(s.contains(REDACTED));
        let o = r.outcome(DeliveryOutcome::Failed {
            reason: "400 for R0UTINGKEY0123456789abcdef012345".into(),
            status: Some(400),
            body: Some("bad key R0UTINGKEY0123456789abcdef012345".into()),
        });
        let DeliveryOutcome::Failed { reason, body, .. } = o else {
            panic!()
        };
        assert!(!reason.contains("R0UTING") && !body.unwrap().contains("R0UTING"));
        // Short values are not treated as secrets.
        let mut r = Redactor::new();
        r.add("ab");
        assert_eq!(r.redact("abc"), "abc");
    }
}
