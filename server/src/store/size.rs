//! What the database holds on disk: in all, and table by table (the
//! benchmark's bytes per event).

use super::prelude::*;

impl Store {
    /// Every byte the database holds on disk, after a checkpoint: the
    /// SQLite file and its WAL, or PostgreSQL's `pg_database_size` (which
    /// counts dead row versions too, where vacuum has not run).
    pub async fn disk_bytes(&self) -> StoreResult<u64> {
        match self.engine {
            Engine::Sqlite => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&self.pool)
                    .await?;
                let size = |suffix: &str| {
                    self.sqlite_file.as_ref().map_or(0, |f| {
                        let mut name = f.as_os_str().to_owned();
                        name.push(suffix);
                        std::fs::metadata(std::path::PathBuf::from(name)).map_or(0, |m| m.len())
                    })
                };
                Ok(size("") + size("-wal"))
            }
            Engine::Postgres => {
                // A superuser's checkpoint writes out the WAL's pages; the
                // size is read either way.
                let _ = sqlx::query("CHECKPOINT").execute(&self.pool).await;
                let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(u64::try_from(bytes).unwrap_or(0))
            }
        }
    }

    /// The bytes of each table with its indexes, largest first: SQLite's
    /// pages by b-tree (`dbstat`), PostgreSQL's `pg_total_relation_size`
    /// (dead row versions included). Empty where the engine cannot say.
    pub async fn table_bytes(&self) -> StoreResult<Vec<(String, u64)>> {
        let sql = match self.engine {
            Engine::Sqlite => {
                "SELECT COALESCE(m.tbl_name, d.name), CAST(SUM(d.pgsize) AS BIGINT) \
                 FROM dbstat AS d LEFT JOIN sqlite_master AS m ON m.name = d.name \
                 GROUP BY 1 ORDER BY 2 DESC"
            }
            Engine::Postgres => {
                // A partitioned table's months counted as the table.
                "SELECT CAST(COALESCE(p.relname, c.relname) AS TEXT), \
                 CAST(SUM(pg_total_relation_size(c.oid)) AS BIGINT) FROM pg_class c \
                 LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent \
                 WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace GROUP BY 1 ORDER BY 2 DESC"
            }
        };
        let rows = match sqlx::query(sql).fetch_all(&self.pool).await {
            Ok(rows) => rows,
            // A SQLite built without `dbstat`.
            Err(e) if self.engine == Engine::Sqlite => {
                tracing::warn!(cause = %e, "no table sizes");
                return Ok(Vec::new());
            }
            Err(e) => return Err(e.into()),
        };
        rows.iter()
            .map(|r| {
                let bytes: i64 = r.try_get(1)?;
                Ok((r.try_get(0)?, u64::try_from(bytes).unwrap_or(0)))
            })
            .collect()
    }
}
