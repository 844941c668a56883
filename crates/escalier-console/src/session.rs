//! Console sessions: a random id in an `HttpOnly`, `SameSite=Strict`
//! cookie, kept in memory with the hash of the token it was opened with
//! (never the token), its CSRF token and its idle and absolute expiry.
//!
//! A restart ends every session (sign in again). Every request rechecks
//! the token through the model, so revoking it ends its sessions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

/// The cookie's name (`__Host-` prefixed when the cookie is `Secure`).
pub const COOKIE: &str = "escalier_session";
pub const SECURE_COOKIE: &str = "__Host-escalier_session";

/// How sessions behave.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Mark the cookie `Secure` (serve the console over TLS, e.g. behind a
    /// TLS-terminating proxy).
    pub secure_cookie: bool,
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute: Duration,
    /// Most sessions kept at once; the oldest is dropped past it.
    pub max_sessions: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            secure_cookie: false,
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            max_sessions: 10_000,
        }
    }
}

/// The time source for expiry (injected in tests).
pub type Now = Arc<dyn Fn() -> Instant + Send + Sync>;

#[derive(Debug, Clone)]
struct Entry {
    token_sha256: String,
    csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// A live session as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub token_sha256: String,
    pub csrf: String,
}

/// The in-memory session store.
pub struct Sessions {
    config: SessionConfig,
    now: Now,
    map: Mutex<HashMap<String, Entry>>,
}

/// 32 random bytes, hex.
pub fn random_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    pub fn new(config: SessionConfig, now: Now) -> Sessions {
        Sessions {
            config,
            now,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        now.duration_since(e.last_seen) >= self.config.idle
            || now.duration_since(e.created) >= self.config.absolute
    }

    /// Open a session for a token (by its hash).
    pub fn open(&self, token_sha256: &str) -> Session {
        let now = (self.now)();
        let id = random_id();
        let csrf = random_id();
        let mut map = self.lock();
        if map.len() >= self.config.max_sessions {
            map.retain(|_, e| !self.expired(e, now));
        }
        while map.len() >= self.config.max_sessions.max(1) {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => map.remove(&k),
                None => break,
            };
        }
        map.insert(
            id.clone(),
            Entry {
                token_sha256: token_sha256.to_owned(),
                csrf: csrf.clone(),
                created: now,
                last_seen: now,
            },
        );
        Session {
            id,
            token_sha256: token_sha256.to_owned(),
            csrf,
        }
    }

    /// The live session with this id, touched (its idle time restarts);
    /// an expired one is removed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = (self.now)();
        let mut map = self.lock();
        let e = map.get_mut(id)?;
        if self.expired(e, now) {
            map.remove(id);
            return None;
        }
        e.last_seen = now;
        Some(Session {
            id: id.to_owned(),
            token_sha256: e.token_sha256.clone(),
            csrf: e.csrf.clone(),
        })
    }

    /// The live session with this id, without touching it (its idle time
    /// does not restart) or removing it if expired: for a check made
    /// outside the console, such as the server's rate limiter.
    pub fn peek(&self, id: &str) -> Option<Session> {
        let now = (self.now)();
        let map = self.lock();
        let e = map.get(id).filter(|e| !self.expired(e, now))?;
        Some(Session {
            id: id.to_owned(),
            token_sha256: e.token_sha256.clone(),
            csrf: e.csrf.clone(),
        })
    }

    /// End a session.
    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    /// End every session opened with this token.
    pub fn close_token(&self, token_sha256: &str) {
        self.lock().retain(|_, e| e.token_sha256 != token_sha256);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &'static str {
        if self.config.secure_cookie {
            SECURE_COOKIE
        } else {
            COOKIE
        }
    }

    /// The `Set-Cookie` value that stores a session id.
    pub fn set_cookie(&self, id: &str) -> String {
        let secure = if self.config.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            self.cookie_name(),
            self.config.absolute.as_secs()
        )
    }

    /// The `Set-Cookie` value that removes it.
    pub fn clear_cookie(&self) -> String {
        let secure = if self.config.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
            self.cookie_name()
        )
    }

    /// The session id in a request's `Cookie` headers, if any.
    pub fn cookie_id<'a>(&self, headers: &'a http::HeaderMap) -> Option<&'a str> {
        let name = self.cookie_name();
        headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// Whether a presented CSRF token is the session's (constant time).
pub fn csrf_matches(session: &Session, presented: Option<&str>) -> bool {
    match presented {
        Some(p) if !p.is_empty() => bool::from(p.as_bytes().ct_eq(session.csrf.as_bytes())),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Clock(Mutex<Instant>);

    fn store(config: SessionConfig) -> (Sessions, Arc<Clock>) {
        let clock = Arc::new(Clock(Mutex::new(Instant::now())));
        let c = clock.clone();
        let now: Now = Arc::new(move || *c.0.lock().unwrap());
        (Sessions::new(config, now), clock)
    }

    fn advance(c: &Clock, d: Duration) {
        *c.0.lock().unwrap() += d;
    }

    #[test]
    fn a_session_ends_after_its_idle_time_and_use_extends_it() {
        let (s, clock) = store(SessionConfig {
            idle: Duration::from_secs(60),
            absolute: Duration::from_secs(3600),
            ..SessionConfig::default()
        });
        let a = s.open("h");
        advance(&clock, Duration::from_secs(59));
        assert_eq!(s.get(&a.id).as_ref(), Some(&a));
        advance(&clock, Duration::from_secs(59));
        assert!(s.get(&a.id).is_some(), "use restarted the idle time");
        advance(&clock, Duration::from_secs(60));
        assert!(s.get(&a.id).is_none());
        assert!(s.is_empty(), "the expired session is removed");
    }

    #[test]
    fn a_session_ends_at_its_absolute_expiry_however_used() {
        let (s, clock) = store(SessionConfig {
            idle: Duration::from_secs(60),
            absolute: Duration::from_secs(150),
            ..SessionConfig::default()
        });
        let a = s.open("h");
        for _ in 0..2 {
            advance(&clock, Duration::from_secs(50));
            assert!(s.get(&a.id).is_some());
        }
        advance(&clock, Duration::from_secs(50));
        assert!(s.get(&a.id).is_none());
    }

    #[test]
    fn peeking_neither_extends_nor_revives_a_session() {
        let (s, clock) = store(SessionConfig {
            idle: Duration::from_secs(60),
            absolute: Duration::from_secs(3600),
            ..SessionConfig::default()
        });
        let a = s.open("h");
        assert!(s.peek("nope").is_none());
        advance(&clock, Duration::from_secs(59));
        assert_eq!(s.peek(&a.id).as_ref(), Some(&a));
        advance(&clock, Duration::from_secs(1));
        assert!(
            s.peek(&a.id).is_none(),
            "peeking did not restart the idle time"
        );
        assert!(s.get(&a.id).is_none());
    }

    #[test]
    fn ids_and_csrf_tokens_are_random_and_distinct() {
        let (s, _) = store(SessionConfig::default());
        let a = s.open("h");
        let b = s.open("h");
        assert_ne!(a.id, b.id);
        assert_ne!(a.csrf, b.csrf);
        assert_eq!(a.id.len(), 64);
        assert!(csrf_matches(&a, Some(&a.csrf)));
        assert!(!csrf_matches(&a, Some(&b.csrf)));
        assert!(!csrf_matches(&a, Some("")));
        assert!(!csrf_matches(&a, None));
    }

    #[test]
    fn closing_by_token_ends_only_that_tokens_sessions() {
        let (s, _) = store(SessionConfig::default());
        let a = s.open("ha");
        let b = s.open("hb");
        s.close_token("ha");
        assert!(s.get(&a.id).is_none());
        assert!(s.get(&b.id).is_some());
        s.close(&b.id);
        assert!(s.is_empty());
    }

    #[test]
    fn the_store_is_bounded() {
        let (s, clock) = store(SessionConfig {
            max_sessions: 2,
            ..SessionConfig::default()
        });
        let a = s.open("h");
        advance(&clock, Duration::from_secs(1));
        let b = s.open("h");
        advance(&clock, Duration::from_secs(1));
        let c = s.open("h");
        assert_eq!(s.len(), 2);
        assert!(s.get(&a.id).is_none(), "the least recently used went");
        assert!(s.get(&b.id).is_some() && s.get(&c.id).is_some());
    }

    #[test]
    fn cookies_are_httponly_strict_and_secure_when_configured() {
        let (s, _) = store(SessionConfig::default());
        let c = s.set_cookie("abc");
        assert!(c.starts_with("escalier_session=abc;"));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"));
        assert!(!c.contains("Secure"));
        let (s, _) = store(SessionConfig {
            secure_cookie: true,
            ..SessionConfig::default()
        });
        let c = s.set_cookie("abc");
        assert!(c.starts_with("__Host-escalier_session=abc;") && c.ends_with("; Secure"));
        assert!(s.clear_cookie().contains("Max-Age=0"));
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=b; __Host-escalier_session=xyz; escalier_session=no"
                .parse()
                .unwrap(),
        );
        assert_eq!(s.cookie_id(&h), Some("xyz"));
    }
}
