//! API tokens and scopes.
//!
//! Every endpoint except `/healthz` and signed webhook ingest needs a
//! bearer token (`Authorization: Bearer esk_...`) holding the endpoint's
//! scope: `read` (tickets, log, status, metrics), `ingest` (decisions and
//! acknowledgements made through the API), `admin` (reload, clock, migrate).
//! `admin` implies the others.
//!
//! Tokens are stored as SHA-256 hashes, never in clear: in the config file
//! (`api.tokens`), and in `<data_dir>/api-tokens.toml`, which
//! `escalier token create` appends to and which is re-read when it changes,
//! so a new token works without a restart. `ESCALIER_API_TOKEN` adds one
//! clear token with every scope, for the simple case.
//!
//! A presented token is hashed once and compared with every known hash in
//! constant time (`subtle`), so the answer time does not depend on how
//! much of a hash matched.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ApiError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Ingest,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Ingest, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ingest => "ingest",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A known token: a name for logs, the hash, the scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub name: String,
    /// Hex SHA-256 of the token text.
    pub sha256: String,
    pub scopes: Vec<Scope>,
}

impl TokenEntry {
    fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }
}

/// The token file's shape.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
}

/// A new random token: `esk_` + 32 random bytes, base64url.
pub fn generate_token(random: [u8; 32]) -> String {
    format!("esk_{}", URL_SAFE_NO_PAD.encode(random))
}

/// Hex SHA-256 of a token's text.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

/// Read a token file; a missing file is empty.
pub fn read_token_file(path: &Path) -> Result<TokenFile, TokenFileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| TokenFileError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
        Err(e) => Err(TokenFileError::Io {
            path: path.display().to_string(),
            source: e,
        }),
    }
}

/// Every token the server accepts.
pub struct Tokens {
    fixed: Vec<TokenEntry>,
    file: Option<PathBuf>,
    from_file: ArcSwap<Vec<TokenEntry>>,
    seen: Mutex<Option<SystemTime>>,
}

impl Tokens {
    /// `fixed`: from config and environment. `file`: re-read when it changes.
    pub fn new(fixed: Vec<TokenEntry>, file: Option<PathBuf>) -> Result<Tokens, TokenFileError> {
        let t = Tokens {
            fixed,
            file,
            from_file: ArcSwap::from_pointee(Vec::new()),
            seen: Mutex::new(None),
        };
        t.refresh()?;
        Ok(t)
    }

    /// Whether any token exists at all.
    pub fn is_empty(&self) -> bool {
        self.fixed.is_empty() && self.from_file.load().is_empty()
    }

    /// Re-read the token file if its modification time changed.
    fn refresh(&self) -> Result<(), TokenFileError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if *seen == mtime && mtime.is_some() {
            return Ok(());
        }
        let file = read_token_file(path)?;
        self.from_file.store(Arc::new(file.tokens));
        *seen = mtime;
        Ok(())
    }

    /// The entry a presented token matches, if any.
    pub fn check(&self, presented: &str) -> Option<TokenEntry> {
        if let Err(e) = self.refresh() {
            tracing::error!(error = %e, "token file unreadable; keeping the tokens loaded before");
        }
        let hash = hash_token(presented);
        let from_file = self.from_file.load();
        let mut found = None;
        // Compare against every entry, so timing does not reveal which matched.
        for entry in self.fixed.iter().chain(from_file.iter()) {
            if bool::from(entry.sha256.as_bytes().ct_eq(hash.as_bytes())) && found.is_none() {
                found = Some(entry.clone());
            }
        }
        found
    }
}

impl Tokens {
    /// The entry with this token hash, if the token is still known (a
    /// token removed from the token file, `escalier token revoke`, is
    /// not): console sessions keep the hash and recheck it on every
    /// request.
    pub fn by_hash(&self, sha256: &str) -> Option<TokenEntry> {
        if let Err(e) = self.refresh() {
            tracing::error!(error = %e, "token file unreadable; keeping the tokens loaded before");
        }
        let from_file = self.from_file.load();
        let mut found = None;
        for entry in self.fixed.iter().chain(from_file.iter()) {
            if bool::from(entry.sha256.as_bytes().ct_eq(sha256.as_bytes())) && found.is_none() {
                found = Some(entry.clone());
            }
        }
        found
    }
}

/// A request extension: the entry the request's bearer token matched,
/// found by the request bounds in front of every route, so the scope
/// guard does not hash and compare the token a second time.
#[derive(Clone)]
pub struct Authenticated(pub TokenEntry);

/// The token in `Authorization: Bearer <token>`, if the header holds one.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Middleware body: require a token with `scope`.
/// On success the matched [`TokenEntry`] is added to the request's
/// extensions, so handlers can record who acted.
pub async fn require(
    scope: Scope,
    tokens: Arc<Tokens>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let found = req
        .extensions_mut()
        .remove::<Authenticated>()
        .map(|Authenticated(entry)| entry);
    let Some(presented) = bearer(req.headers()) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_missing",
            format!(
                "this endpoint needs `Authorization: Bearer <token>` with the `{}` scope",
                scope.as_str()
            ),
        )
        .with_field("authorization"));
    };
    match found.or_else(|| tokens.check(presented)) {
        None => {
            metrics::counter!("escalier_auth_refused_total", "reason" => "unknown").increment(1);
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_invalid",
                "the token is not known to this server",
            )
            .with_field("authorization"))
        }
        Some(entry) if !entry.allows(scope) => {
            metrics::counter!("escalier_auth_refused_total", "reason" => "scope").increment(1);
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "scope_missing",
                format!(
                    "token `{}` lacks the `{}` scope this endpoint needs",
                    entry.name,
                    scope.as_str()
                ),
            )
            .with_field("authorization"))
        }
        Some(entry) => {
            req.extensions_mut().insert(entry);
            Ok(next.run(req).await)
        }
    }
}

/// State for the scope middleware.
#[derive(Clone)]
pub struct Guard {
    pub scope: Scope,
    pub tokens: Arc<Tokens>,
}

pub async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Result<Response, ApiError> {
    require(g.scope, g.tokens, req, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, token: &str, scopes: &[Scope]) -> TokenEntry {
        TokenEntry {
            name: name.into(),
            sha256: hash_token(token),
            scopes: scopes.to_vec(),
        }
    }

    #[test]
    fn tokens_match_by_hash_and_scopes_are_enforced() {
        let t = Tokens::new(
            vec![
                entry("dash", "esk_read", &[Scope::Read]),
                entry("ops", "esk_admin", &[Scope::Admin]),
            ],
            None,
        )
        .unwrap();
        assert!(t.check("esk_nope").is_none());
        let dash = t.check("esk_read").unwrap();
        assert!(
            dash.allows(Scope::Read) && !dash.allows(Scope::Admin) && !dash.allows(Scope::Ingest)
        );
        let ops = t.check("esk_admin").unwrap();
        assert!(Scope::ALL.iter().all(|s| ops.allows(*s)));
    }

    #[test]
    fn the_token_file_is_reread_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api-tokens.toml");
        let t = Tokens::new(Vec::new(), Some(path.clone())).unwrap();
        assert!(t.is_empty());
        let file = TokenFile {
            tokens: vec![entry("new", "esk_new", &[Scope::Read])],
        };
        std::fs::write(&path, toml::to_string(&file).unwrap()).unwrap();
        assert_eq!(t.check("esk_new").unwrap().name, "new");
    }

    #[test]
    fn generated_tokens_are_long_and_distinct() {
        let a = generate_token([1; 32]);
        assert!(a.starts_with("esk_") && a.len() > 40);
        assert_ne!(a, generate_token([2; 32]));
        assert_eq!(hash_token("x").len(), 64);
    }
}
