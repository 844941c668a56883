//! Connecting: the URL (and what of it is shown), TLS, the pool, how
//! database errors map onto [`StoreError`], and the bridge from the
//! blocking [`escalier_store::Backend`] calls to the async client.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use escalier_store::StoreError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::{Inner, PgBackend};

/// How the connection is protected (the URL's `sslmode`, default `prefer`
/// as in libpq). TLS is rustls with the ring provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// `disable`: no TLS; everything, the password included (unless the
    /// server asks for SCRAM), crosses the network in clear.
    Disable,
    /// `prefer`: TLS if the server offers it, plain otherwise. As in libpq,
    /// the server's certificate is NOT checked: this protects against
    /// eavesdropping, not against an impostor. The default.
    #[default]
    Prefer,
    /// `require`: TLS or no connection. As in libpq (without a root
    /// certificate file), the server's certificate is NOT checked.
    Require,
    /// `verify-full`: TLS or no connection; the server's certificate must
    /// chain to a root of the Mozilla set (`webpki-roots`, as Escalier's
    /// other clients), or to a certificate of the PEM file named by the
    /// URL's `sslrootcert` (a managed database's own CA), and name the host
    /// connected to. The mode to use across networks you do not control.
    /// (`sslrootcert` with any other mode is refused: only this one checks.)
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, StoreError> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(StoreError::Backend(format!(
                "sslmode={other} is not supported (disable, prefer, require or verify-full)"
            ))),
        }
    }
}

/// Options of [`PgBackend::connect`]. Its `Debug` shows whether a
/// password is set, never the password.
#[derive(Clone)]
pub struct PgOptions {
    /// Replaces the URL's password (from a secret, so it need not be in the URL).
    pub password: Option<String>,
    /// Most connections this node opens.
    pub pool_size: usize,
    /// Partitions of a new database (ignored when the database exists).
    pub partitions: u32,
    /// How long a partition lease lasts unless renewed (the database's
    /// clock). A dead node's partitions are taken over this long after its
    /// last renewal.
    pub lease: Duration,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("pool_size", &self.pool_size)
            .field("partitions", &self.partitions)
            .field("lease", &self.lease)
            .finish()
    }
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            password: None,
            pool_size: 8,
            partitions: 32,
            lease: Duration::from_secs(5),
        }
    }
}

/// Worker threads of the backend's runtime: queries mostly wait on the
/// server, two keep the connections' I/O moving.
const WORKERS: usize = 2;

/// tokio-postgres's own `keepalives_idle` (2 hours): left at it, the URL
/// did not set one.
const DRIVER_KEEPALIVES_IDLE: Duration = Duration::from_secs(2 * 60 * 60);

/// How a wait for a free pooled connection that ran out begins: every
/// connection busy is load, not an outage (the pool is not emptied).
pub(crate) const POOL_BUSY: &str = "every database connection is busy";

pub(crate) fn connect(url: &str, opts: PgOptions) -> Result<PgBackend, StoreError> {
    let shown = redact(url);
    let (rest, tls) = take_tls(url)?;
    let sslmode = tls.mode;
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e| StoreError::Backend(format!("invalid database URL {shown}: {e}")))?;
    if !is_postgres_url(url) {
        return Err(StoreError::Backend(format!(
            "invalid database URL {shown}: expected postgres:// or postgresql://"
        )));
    }
    if let Some(pw) = &opts.password {
        config.password(pw.as_bytes());
    }
    let secret = opts.password.clone().or_else(|| {
        config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    });
    config.ssl_mode(match sslmode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
    });
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    // A connection whose server vanished without closing it (a failover
    // behind the same address, a network partition) is found broken in
    // about a minute instead of the kernel's ~15: TCP keepalives after 30 s
    // idle, 3 probes 10 s apart, and unacknowledged writes given up after
    // 30 s. A call on it then answers `Unavailable` (ingest: 503). The URL's
    // own `keepalives_*` and `tcp_user_timeout` win.
    if config.get_keepalives_idle() == DRIVER_KEEPALIVES_IDLE {
        config.keepalives_idle(Duration::from_secs(30));
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(Duration::from_secs(10));
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(3);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(30));
    }
    config.application_name("escalier");
    let tls = tls_connector(&tls)?;
    let pool_of = |size: usize| {
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Backend(format!("connection pool for {shown}: {e}")))
    };
    let pool = pool_of(opts.pool_size.max(1))?;
    // Lease renewals have a connection of their own: a pool kept busy by
    // reads and ingest for longer than the lease must not cost the node
    // its partitions.
    let lease_pool = pool_of(1)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("escalier-pg")
        .enable_all()
        .build()
        .map_err(|e| StoreError::Backend(format!("cannot start the database runtime: {e}")))?;
    let mut backend = PgBackend {
        rt: Some(rt),
        inner: Arc::new(Inner {
            pool,
            lease_pool,
            shown,
            secret,
            partitions: 0,
            lease_ms: u64::try_from(opts.lease.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            incarnation: String::new(),
            node: Mutex::new(None),
        }),
    };
    let wanted = opts.partitions.max(1);
    let (partitions, micros) = backend.run(move |db| async move {
        let mut client = db.client().await?;
        let partitions = crate::migrate::migrate(&mut client, wanted).await?;
        let row = client
            .query_one(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::int8",
                &[],
            )
            .await
            .pg()?;
        Ok((partitions, row.get::<_, i64>(0)))
    })?;
    let random = {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new()
            .hash_one((std::process::id(), std::time::SystemTime::now()))
    };
    match Arc::get_mut(&mut backend.inner) {
        Some(inner) => {
            inner.partitions = partitions;
            inner.incarnation = format!("{:016x}{random:016x}", micros.max(0));
        }
        None => {
            return Err(StoreError::Backend(
                "database handle shared too early".into(),
            ));
        }
    }
    Ok(backend)
}

impl Inner {
    /// The connection kept for lease renewals (heartbeats, taking and
    /// giving back partitions).
    pub(crate) async fn lease_client(&self) -> Result<Object, StoreError> {
        self.lease_pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => pg_err(e),
            other => StoreError::Unavailable(other.to_string()),
        })
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => pg_err(e),
            deadpool_postgres::PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => {
                StoreError::Unavailable(format!(
                    "{POOL_BUSY} (storage.pool_size = {})",
                    self.pool.status().max_size
                ))
            }
            other => StoreError::Unavailable(other.to_string()),
        })
    }

    /// The node id the chunk commits are fenced with.
    pub(crate) fn node_id(&self) -> Option<String> {
        self.node.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Run `fut` on `rt` and wait for it from this (any) thread.
pub(crate) fn block_on<T, Fut>(rt: &tokio::runtime::Handle, fut: Fut) -> Result<T, StoreError>
where
    Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    // A closed channel: the task panicked (the runtime lives as long as
    // the backend, and every caller holds the backend). Reported as an
    // error, not as `Closed`, which callers take for a shutdown.
    rx.recv().unwrap_or_else(|_| {
        Err(StoreError::Backend(
            "a database call ended without an answer (it panicked)".into(),
        ))
    })
}

/// `Result<T, tokio_postgres::Error>` into `Result<T, StoreError>`.
pub(crate) trait PgResult<T> {
    fn pg(self) -> Result<T, StoreError>;
}

impl<T> PgResult<T> for Result<T, tokio_postgres::Error> {
    fn pg(self) -> Result<T, StoreError> {
        self.map_err(pg_err)
    }
}

/// SQLSTATEs worth retrying a whole transaction for.
pub(crate) fn retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// A database error as Escalier reports it: `Unavailable` when the server
/// cannot be reached or is going away (the API answers 503, retry later),
/// `Backend` otherwise.
pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        // 08: connection exception; 57P01-03: shutdown, crash, starting up;
        // 53: insufficient resources (too many connections, disk full);
        // 25006: read-only transaction (a standby, or a primary demoted by
        // a failover behind the same address: the new one comes up soon).
        let unavailable = code.starts_with("08")
            || code.starts_with("57P")
            || code.starts_with("53")
            || code == "25006";
        let msg = format!("{} ({code})", db.message());
        return if unavailable {
            StoreError::Unavailable(msg)
        } else {
            StoreError::Backend(msg)
        };
    }
    let unavailable = e.is_closed() || {
        // I/O, TLS, connect and timeout errors carry their cause; data
        // conversion errors are bugs, not outages.
        let text = e.to_string();
        text.starts_with("error communicating")
            || text.starts_with("error connecting")
            || text.starts_with("error performing TLS")
            || text.starts_with("timeout")
            || text.starts_with("connection closed")
    };
    let msg = match std::error::Error::source(&e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    };
    if unavailable {
        StoreError::Unavailable(msg)
    } else {
        StoreError::Backend(msg)
    }
}

/// Remove `secret` from an error's message (a server or driver could echo
/// it back; it must not reach logs or API answers).
pub(crate) fn scrub(e: StoreError, secret: Option<&str>) -> StoreError {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return e;
    };
    let clean = |s: String| s.replace(secret, "***");
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(clean(m)),
        StoreError::Backend(m) => StoreError::Backend(clean(m)),
        StoreError::CommitFailed(m) => StoreError::CommitFailed(clean(m)),
        StoreError::Corrupt { what, detail } => StoreError::Corrupt {
            what,
            detail: clean(detail),
        },
        other => other,
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or
/// `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL with its password removed (userinfo and `password=` parameter):
/// what [`escalier_store::Backend::location`] and errors show.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let Some(scheme) = scheme else {
        // Not a URL (the key=value form, which Escalier refuses): its
        // quoting and spacing rules make cutting a password out of it
        // unreliable, so none of it is shown.
        return "(a connection string that is not a URL, not shown)".into();
    };
    // The user information ends at the LAST `@`: a password typed with
    // an unescaped `/`, `?` or `@` is still cut out (an `@` in the query
    // makes this cut too much, never too little).
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, after)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{user}@{after}")
        }
        None => rest.to_owned(),
    };
    let (authority, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest.as_str(), None),
    };
    let mut out = format!("{scheme}://{authority}");
    if let Some(q) = query {
        let kept: Vec<&str> = q
            .split('&')
            .filter(|kv| {
                // Keys as the driver reads them: percent-decoded.
                let key = kv.split_once('=').map_or(*kv, |(k, _)| k);
                percent_encoding::percent_decode_str(key).decode_utf8_lossy() != "password"
            })
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    out
}

/// The URL's TLS settings, which Escalier handles itself (tokio-postgres
/// knows fewer modes than libpq).
#[derive(Debug, Default, PartialEq, Eq)]
struct Tls {
    mode: SslMode,
    /// `sslrootcert`: a PEM file of the certificates `verify-full` trusts
    /// instead of the public roots (a managed database's private CA).
    /// `system` (as in libpq) means the public roots.
    root_cert: Option<String>,
}

/// Take `sslmode` and `sslrootcert` out of the URL's query; default
/// `prefer`, public roots.
fn take_tls(url: &str) -> Result<(String, Tls), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Tls::default()));
    };
    let mut tls = Tls::default();
    let mut kept = Vec::new();
    for kv in query.split('&') {
        match kv.split_once('=') {
            Some(("sslmode", v)) => tls.mode = SslMode::parse(v)?,
            Some(("sslrootcert", v)) => {
                tls.root_cert = Some(percent_decode(v)).filter(|p| p != "system")
            }
            _ => kept.push(kv),
        }
    }
    if tls.root_cert.is_some() && tls.mode != SslMode::VerifyFull {
        // libpq would check the chain (verify-ca) here; Escalier checks
        // certificates only with verify-full, and says so rather than
        // connect unchecked.
        return Err(StoreError::Backend(
            "sslrootcert is used with sslmode=verify-full only".into(),
        ));
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, tls))
}

/// `%XX` escapes of a URL query value.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_connector(tls: &Tls) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("TLS setup: {e}")))?;
    let config = match tls.mode {
        SslMode::VerifyFull => {
            let roots = match &tls.root_cert {
                None => rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                },
                Some(path) => root_store(path)?,
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider())))
            .with_no_client_auth(),
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The certificates of a PEM file, as trust roots.
fn root_store(path: &str) -> Result<rustls::RootCertStore, StoreError> {
    use rustls::pki_types::pem::PemObject;
    let bad = |e: &dyn std::fmt::Display| StoreError::Backend(format!("sslrootcert {path}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(bad(&"no certificate in the file"));
    }
    Ok(roots)
}

/// libpq's `prefer`/`require`: encrypt, accept any certificate (the
/// handshake signatures are still checked, so the key exchange is with
/// the holder of the certificate's key, whoever that is).
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_passwords() {
        assert_eq!(
            redact("postgres://esc:s3cret@db.example:5432/escalier?sslmode=require"),
            "postgres://esc@db.example:5432/escalier?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://esc@h/db?password=s3cret&sslmode=disable"),
            "postgresql://esc@h/db?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://u:p%40ss@h1,h2/db"),
            "postgres://u@h1,h2/db"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        // Unescaped separators in the password.
        assert_eq!(redact("postgres://u:p/w@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://u:p?w@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact("postgres://u:p@w:x@h/db?a=b"),
            "postgres://u@h/db?a=b"
        );
        // A key the driver percent-decodes to `password`.
        assert_eq!(
            redact("postgres://u@h/db?pass%77ord=s3cret&sslmode=require"),
            "postgres://u@h/db?sslmode=require"
        );
        // The key=value form is never shown (its quoting rules).
        for kv in [
            "host=h password=x user=u",
            "host=h password = s3cret",
            "host=h password='a s3cret'",
        ] {
            let shown = redact(kv);
            assert!(
                !shown.contains("s3cret") && !shown.contains("x user"),
                "{shown}"
            );
        }
    }

    #[test]
    fn options_do_not_show_the_password() {
        let opts = PgOptions {
            password: Some("hunter2".into()),
            ..PgOptions::default()
        };
        let text = format!("{opts:?}");
        assert!(!text.contains("hunter2") && text.contains("***"), "{text}");
    }

    #[test]
    fn tls_settings_are_taken_out() {
        let (rest, tls) = take_tls("postgres://h/db?sslmode=verify-full&user=u").unwrap();
        assert_eq!(rest, "postgres://h/db?user=u");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert!(take_tls("postgres://h/db?sslmode=verify-ca").is_err());
        assert_eq!(take_tls("postgres://h/db").unwrap().1, Tls::default());
        let (rest, tls) =
            take_tls("postgres://h/db?sslrootcert=%2Fetc%2Fca.pem&sslmode=verify-full").unwrap();
        assert_eq!(rest, "postgres://h/db");
        assert_eq!(tls.root_cert.as_deref(), Some("/etc/ca.pem"));
        let (_, tls) = take_tls("postgres://h/db?sslmode=verify-full&sslrootcert=system").unwrap();
        assert_eq!(tls.root_cert, None);
        // Not silently unchecked: a root certificate with a mode that
        // does not check is refused.
        assert!(take_tls("postgres://h/db?sslmode=require&sslrootcert=/ca.pem").is_err());
        let e = connect(
            "postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            PgOptions::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn bad_urls_do_not_show_the_password() {
        let e = connect("mysql://u:hunter2@h/db", PgOptions::default()).unwrap_err();
        let text = e.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        let e = connect("postgres://u:hunter2@h:notaport/db", PgOptions::default()).unwrap_err();
        let text = e.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        let e = connect("postgres://u:hun/ter2@h/db", PgOptions::default()).unwrap_err();
        let text = e.to_string();
        assert!(!text.contains("hun") && !text.contains("ter2"), "{text}");
    }
}
