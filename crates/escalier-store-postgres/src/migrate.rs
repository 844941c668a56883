//! Versioned schema migrations.
//!
//! Migrations are SQL files embedded in the binary (`src/migrations/`),
//! applied in order, each in one transaction that also records its version
//! in `escalier_schema`. Every transaction first takes `LOCK TABLE
//! escalier_schema IN EXCLUSIVE MODE` and re-reads the version, so two
//! nodes starting at once do not both migrate: the second waits, then sees
//! the work done. (A table lock, not a session advisory lock: it is
//! released with the transaction, whatever happens to the session.)
//!
//! A database whose version is newer than this build's is refused
//! ([`StoreError::Schema`]): an older Escalier must not write into a
//! layout it does not know.

use deadpool_postgres::Object;
use escalier_store::StoreError;
use tokio_postgres::error::SqlState;

use crate::conn::PgResult;

/// The migrations, in order: (version, SQL).
pub const MIGRATIONS: &[(u64, &str)] = &[(1, include_str!("migrations/0001_init.sql"))];

/// The schema version this build expects (the last migration's).
pub const LATEST: u64 = 1;

/// Bring the database to [`LATEST`]; returns its partition count (set to
/// `partitions` when the schema is created).
pub(crate) async fn migrate(client: &mut Object, partitions: u32) -> Result<u32, StoreError> {
    migrate_to(client, partitions, MIGRATIONS).await
}

/// [`migrate`] with a given list (tests add a fake newer migration).
pub(crate) async fn migrate_to(
    client: &mut Object,
    partitions: u32,
    migrations: &[(u64, &str)],
) -> Result<u32, StoreError> {
    let expected = migrations.last().map_or(0, |m| m.0);
    create_schema_table(client).await?;
    for (version, sql) in migrations {
        let tx = client.transaction().await.pg()?;
        tx.batch_execute(
            "SET LOCAL synchronous_commit = on; LOCK TABLE escalier_schema IN EXCLUSIVE MODE",
        )
        .await
        .pg()?;
        let found = current(&tx).await?;
        if found > expected {
            return Err(StoreError::Schema { found, expected });
        }
        if found >= *version {
            continue;
        }
        tracing::info!(version, "migrating the database schema");
        tx.batch_execute(sql).await.pg()?;
        if *version == 1 {
            let n = i32::try_from(partitions)
                .map_err(|_| StoreError::Backend(format!("{partitions} partitions is too many")))?;
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('partitions', $1)",
                &[&i64::from(n)],
            )
            .await
            .pg()?;
            tx.execute(
                "INSERT INTO partitions (id) SELECT generate_series(0, $1 - 1)",
                &[&n],
            )
            .await
            .pg()?;
        }
        let v = i32::try_from(*version).unwrap_or(i32::MAX);
        tx.execute("INSERT INTO escalier_schema (version) VALUES ($1)", &[&v])
            .await
            .pg()?;
        tx.commit().await.pg()?;
    }
    // Also refuse a newer schema when nothing was left to apply.
    let found = current(&*client).await?;
    if found > expected {
        return Err(StoreError::Schema { found, expected });
    }
    let row = client
        .query_one("SELECT value FROM meta WHERE name = 'partitions'", &[])
        .await
        .pg()?;
    let n: i64 = row.get(0);
    u32::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or(StoreError::Corrupt {
            what: "partition count",
            detail: n.to_string(),
        })
}

/// `CREATE TABLE IF NOT EXISTS` is not safe against a concurrent twin (one
/// of them can fail on the catalog's unique index, or find the row type
/// already there: 23505, 42P07, 42710); the loser retries and then finds
/// the table.
async fn create_schema_table(client: &Object) -> Result<(), StoreError> {
    let sql = "CREATE TABLE IF NOT EXISTS escalier_schema (version int NOT NULL)";
    for _ in 0..5 {
        match client.batch_execute(sql).await {
            Ok(()) => return Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    Some(c) if *c == SqlState::UNIQUE_VIOLATION
                        || *c == SqlState::DUPLICATE_TABLE
                        || *c == SqlState::DUPLICATE_OBJECT
                ) => {}
            Err(e) => return Err(crate::conn::pg_err(e)),
        }
    }
    client.batch_execute(sql).await.pg()
}

async fn current(c: &impl deadpool_postgres::GenericClient) -> Result<u64, StoreError> {
    let row = c
        .query_one("SELECT coalesce(max(version), 0) FROM escalier_schema", &[])
        .await
        .pg()?;
    let v: i32 = row.get(0);
    Ok(u64::try_from(v).unwrap_or(0))
}
