//! Keyed rollups only where they pay (issue 33). The rollups by user,
//! campaign, identity and the drill-downs' pairs open a row for nearly
//! every event of a workspace that takes a hundred events a day, which
//! made them two thirds of the bytes on disk, and reading them there costs
//! what reading the events does. So a workspace keeps its day's totals
//! always, and its keyed rollups once it has taken [`KEYED_FROM`] events;
//! until then the reports that would read them read its events
//! (`reports::source_of`).
//!
//! `keyed_rollups` holds, per workspace, the events it has taken (counted
//! until it is keyed: a keyed workspace's writes run no statement more) and
//! whether its keyed rollups are kept. Every write that adds events to a
//! workspace not yet keyed counts them on its row ([`take`]), which is
//! also the lock that orders it against the write that crosses the mark:
//! that one fills the keyed rollups from the events it can see, its own
//! included, and marks the workspace keyed, in its transaction. A writer
//! that waited on the row and then finds it keyed writes its keyed rows
//! itself (its events were not visible to the fill); one that went first
//! is committed before the fill reads (each statement of READ COMMITTED
//! sees what was committed before it; SQLite has one writer).

use super::prelude::*;
use super::rollup::{recompute_sql, RollupDim};

/// The events a workspace takes before its keyed rollups are kept. Below
/// it, a report of a whole year reads at most this many events (a few
/// milliseconds to tens of them; `docs/performance.md`); above it, the
/// rollups hold at most a row per key and day, however many events.
/// `migrations/*/0014_sparse_rollups.sql` applies the same mark.
pub const KEYED_FROM: i64 = 100_000;

/// The workspaces whose keyed rollups are kept, as a filter of
/// statements over `workspace_id` (`credits verify`).
pub(super) const KEYED_FILTER: &str =
    "AND workspace_id IN (SELECT workspace_id FROM keyed_rollups WHERE keyed = 1)";

/// Whether a write must write its keyed rollup rows itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keyed {
    /// The workspace is keyed: every rollup row is written.
    Write,
    /// Not keyed, or keyed by this write's fill (which counted its
    /// events): the day's totals alone are written.
    Skip,
}

/// Counts `n` events taken by workspace `ws` (not known to be keyed when
/// the write loaded it) and says whether the write's keyed rows are to be
/// written; the write that takes the workspace past [`KEYED_FROM`] fills
/// its keyed rollups from its events first.
pub(super) async fn take(conn: &mut AnyConnection, ws: &str, n: i64) -> StoreResult<Keyed> {
    let (taken, keyed): (i64, i64) = sqlx::query_as(
        "INSERT INTO keyed_rollups (workspace_id, taken, keyed) VALUES ($1, $2, 0) \
         ON CONFLICT (workspace_id) DO UPDATE SET taken = keyed_rollups.taken + excluded.taken \
         RETURNING taken, keyed",
    )
    .bind(ws.to_string())
    .bind(n)
    .fetch_one(&mut *conn)
    .await?;
    if keyed != 0 {
        return Ok(Keyed::Write);
    }
    if n > 0 && taken >= KEYED_FROM {
        fill(conn, ws).await?;
    }
    Ok(Keyed::Skip)
}

/// Fills workspace `ws`'s keyed rollups from its events and the sums of
/// those dropped, and marks it keyed (in the caller's transaction).
async fn fill(conn: &mut AnyConnection, ws: &str) -> StoreResult<()> {
    // None should be there; none may be counted twice.
    sqlx::query("DELETE FROM daily_rollup WHERE workspace_id = $1 AND dim <> ''")
        .bind(ws.to_string())
        .execute(&mut *conn)
        .await?;
    for dim in RollupDim::ALL.into_iter().filter(|d| d.keyed()) {
        for metric in [Metric::Credits, Metric::Conversations] {
            let select = recompute_sql(dim, metric, "AND workspace_id = $1");
            sqlx::query(&format!(
                "INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value) \
                 SELECT workspace_id, metric, dim, day, action, key, key2, value FROM ({select}) AS r \
                 WHERE value <> 0"
            ))
            .bind(ws.to_string())
            .execute(&mut *conn)
            .await?;
        }
    }
    sqlx::query("UPDATE keyed_rollups SET keyed = 1 WHERE workspace_id = $1")
        .bind(ws.to_string())
        .execute(&mut *conn)
        .await?;
    tracing::info!(
        workspace = ws,
        "keyed rollups filled: the workspace passed {KEYED_FROM} events"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::KEYED_FROM;

    #[test]
    fn the_migrations_apply_the_same_mark() {
        for sql in [
            include_str!("../../../migrations/sqlite/0014_sparse_rollups.sql"),
            include_str!("../../../migrations/postgres/0014_sparse_rollups.sql"),
        ] {
            assert!(sql.contains(&format!("WHERE taken >= {KEYED_FROM};")));
        }
    }
}
