//! Which store a command works on: the embedded redb file in the data
//! directory (the default), or the PostgreSQL database `storage.url`
//! names (`--store`, `ESCALIER_STORE_URL`).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use escalier_store::{Store, StoreOptions};

use crate::config::Config;

/// A store URL as it may be shown (logs, errors, `GET /v1/cluster`):
/// without its password.
pub fn redact(url: &str) -> String {
    escalier_store_postgres::redact(url)
}

/// Whether the configuration names a PostgreSQL store.
pub fn is_postgres(cfg: &Config) -> bool {
    !cfg.storage.url.is_empty()
}

/// Open the PostgreSQL store the configuration names: the password from
/// the URL or from the secret `storage.password_secret`.
fn open_postgres(cfg: &Config) -> anyhow::Result<Store> {
    let url = cfg.storage.url.as_str();
    anyhow::ensure!(
        escalier_store_postgres::is_postgres_url(url),
        "storage.url must be a postgres:// or postgresql:// URL, or empty for the embedded store; got {}",
        redact(url)
    );
    // A lease shorter than a few renewals (one a second at most) would
    // move partitions between live nodes; partitions are fixed at creation.
    anyhow::ensure!(
        cfg.cluster.lease >= std::time::Duration::from_millis(500),
        "cluster.lease must be at least 500ms (a node renews its leases every third of it, at most every second); got {:?}",
        cfg.cluster.lease
    );
    anyhow::ensure!(
        (1..=1024).contains(&cfg.cluster.partitions),
        "cluster.partitions must be between 1 and 1024; got {}",
        cfg.cluster.partitions
    );
    let password = if cfg.storage.password_secret.is_empty() {
        None
    } else {
        let secrets = escalier_outbox::Secrets::from_env(std::env::vars())
            .with_file(cfg.storage.data_dir.join("secrets.toml"))
            .context("reading secrets")?;
        let name = cfg.storage.password_secret.as_str();
        Some(
            secrets
                .get(name)
                .with_context(|| {
                    format!(
                        "storage.password_secret names `{name}`, which is neither in {} nor set as {}",
                        cfg.storage.data_dir.join("secrets.toml").display(),
                        escalier_outbox::secrets::env_var(name)
                    )
                })?
                .to_owned(),
        )
    };
    let opts = escalier_store_postgres::PgOptions {
        password,
        pool_size: cfg.storage.pool_size.max(1),
        partitions: cfg.cluster.partitions,
        lease: cfg.cluster.lease,
    };
    let backend = escalier_store_postgres::PgBackend::connect(url, opts)
        .with_context(|| format!("opening the PostgreSQL store {}", redact(url)))?;
    Ok(Store::from_backend(Arc::new(backend))?)
}

/// This node's id: `cluster.node_id`, else the one kept in
/// `<data_dir>/node-id` (made on first start). Kept, so a node that
/// restarts (after a crash too) takes its partitions back at once instead
/// of waiting for its old leases to expire; the store fences the old
/// process off.
pub fn node_id(cfg: &Config) -> anyhow::Result<String> {
    if !cfg.cluster.node_id.is_empty() {
        return Ok(cfg.cluster.node_id.clone());
    }
    let path = cfg.storage.data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let id = escalier_store::processor::random_node_id();
    std::fs::write(&path, format!("{id}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

/// The store a server runs on.
pub fn open_for_serve(cfg: &Config) -> anyhow::Result<Store> {
    if is_postgres(cfg) {
        return open_postgres(cfg);
    }
    Ok(Store::open(
        &cfg.db_path(),
        &StoreOptions {
            cache_bytes: cfg.storage.cache_mb << 20,
        },
    )?)
}

/// The store a tool (export, import, verify, replay, explain) reads: the
/// PostgreSQL database, shared with running nodes, or a stopped server's
/// redb file (a running server holds it locked: `instead` says what to do).
pub fn open_for_tool(cfg: &Config, instead: &str) -> anyhow::Result<Store> {
    if is_postgres(cfg) {
        return open_postgres(cfg);
    }
    crate::commands::remote::open_stopped(&cfg.db_path(), instead)
}

/// A new store to import into: an empty PostgreSQL database, or a new redb
/// file at `db`.
pub fn open_for_import(cfg: &Config, db: &Path) -> anyhow::Result<Store> {
    if is_postgres(cfg) {
        return open_postgres(cfg);
    }
    Store::open(db, &StoreOptions::default()).with_context(|| {
        format!(
            "opening {} (is a server still running on it?)",
            db.display()
        )
    })
}
