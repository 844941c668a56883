//! Stored versions (policy sets, books changes): the `versions` table.
//!
//! Keys are matched by prefix with `starts_with`, never `LIKE`: a prefix
//! may hold any character (`%`, `_`, `\`) and means exactly itself. Rows
//! come back in byte order of their keys (`COLLATE "C"`), as in redb,
//! whatever the database's collation.

use escalier_store::StoreError;

use crate::PgBackend;
use crate::conn::PgResult;

impl PgBackend {
    /// `INSERT ... ON CONFLICT DO NOTHING`: of two nodes storing the same
    /// key at once, one stores it and is told so, the other is told it
    /// was there; neither fails.
    pub(crate) fn pg_put_version_if_absent(
        &self,
        key: &str,
        value: &[u8],
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO versions (key, value) VALUES ($1, $2) \
                   ON CONFLICT (key) DO NOTHING";
        Ok(self.write_version(sql, key, value)? == 1)
    }

    pub(crate) fn pg_put_version(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let sql = "INSERT INTO versions (key, value) VALUES ($1, $2) \
                   ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
        self.write_version(sql, key, value).map(|_| ())
    }

    /// Run `sql` with `key` and `value`; the rows it wrote.
    fn write_version(&self, sql: &'static str, key: &str, value: &[u8]) -> Result<u64, StoreError> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.run(move |db| async move {
            let c = db.client().await?;
            let st = c.prepare_cached(sql).await.pg()?;
            c.execute(&st, &[&key, &value]).await.pg()
        })
    }

    pub(crate) fn pg_version(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_owned();
        self.run(move |db| async move {
            let c = db.client().await?;
            let st = c
                .prepare_cached("SELECT value FROM versions WHERE key = $1")
                .await
                .pg()?;
            match c.query_opt(&st, &[&key]).await.pg()? {
                Some(row) => Ok(Some(row.try_get::<_, Vec<u8>>(0).pg()?)),
                None => Ok(None),
            }
        })
    }

    pub(crate) fn pg_versions(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let prefix = prefix.to_owned();
        self.run(move |db| async move {
            let c = db.client().await?;
            // A few hundred rows at most (one per policy set and books
            // change ever served): a scan is fine, and exact.
            let st = c
                .prepare_cached(
                    "SELECT key, value FROM versions WHERE starts_with(key, $1) \
                     ORDER BY key COLLATE \"C\"",
                )
                .await
                .pg()?;
            let rows = c.query(&st, &[&prefix]).await.pg()?;
            rows.iter()
                .map(|r| Ok((r.try_get::<_, String>(0).pg()?, r.try_get(1).pg()?)))
                .collect()
        })
    }
}
