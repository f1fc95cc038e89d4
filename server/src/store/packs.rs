//! Packed months (PostgreSQL; migration 0015, decision 0007): the events
//! of a month past (UTC) are packed, one row of `event_packs` per
//! workspace, kind and local day with each field an array (compressed by
//! TOAST), and the month's table is emptied; every reader of the events
//! reads `stored_events`, the rows and the packs unnested. A row of
//! `usage_events` costs about 270 bytes whatever it holds (a tuple header,
//! a line pointer, two index entries); a packed event about 30. The ids
//! and their digests stay in `event_ids`, which keeps every retained id
//! unique and recognises a retry, packed or not.
//!
//! A pack is never changed: a late event of a packed month is a row until
//! the next pass packs it into a pack of its own. A workspace whose events
//! move to a new time zone's days is unpacked first, a chunk per
//! transaction ([`unpack_chunk`]), and not packed while it moves: its
//! workspace row orders the two (the packer shares its lock, a change of
//! zone updates it).

use chrono::{Datelike, TimeZone};

use super::prelude::*;

/// The PostgreSQL advisory lock (per session) under which one process at
/// a time packs.
const PACK_LOCK: i64 = 0x0063_7265_7061_636b; // "crepack"

/// Events unpacked per transaction when a workspace moves to a new zone:
/// whole packs, the first ones up to about this many events.
const UNPACK_CHUNK: i64 = 2_000;

/// The columns of `usage_events` a pack keeps, in `stored_events`' order.
const EVENT_COLUMNS: &str =
    "workspace_id, id, kind, occurred_at, day, action, credits, user_id, campaign_id, identity_id";

/// The events of the packs in `from` (rows of `event_packs`' shape, named
/// `p`) unnested, with the columns of [`EVENT_COLUMNS`] in its order (as
/// migration 0015's `stored_events` unnests them).
fn unnested_sql(from: &str) -> String {
    format!(
        "SELECT p.workspace_id, u.id, p.kind, u.occurred_at, p.day, u.action, u.credits, u.user_id, \
         u.campaign_id, u.identity_id FROM {from} p \
         CROSS JOIN LATERAL unnest(p.ids, p.occurred_at, p.actions, p.credits, p.user_ids, \
         p.campaign_ids, p.identity_ids) \
         AS u (id, occurred_at, action, credits, user_id, campaign_id, identity_id)"
    )
}

/// The unnested events of the packs `filter` selects (as `p`), with
/// `stored_events`' columns, as a subquery to name: what retention folds
/// and forgets with a month.
pub(super) fn packed_events_sql(filter: &str) -> String {
    format!("({} WHERE {filter})", unnested_sql("event_packs"))
}

/// A month's bounds (ms) from its partition bound (`FOR VALUES FROM
/// ('…') TO ('…')`); `None` for the default partition.
pub(super) fn bounds_of(bound: &str) -> Option<(i64, i64)> {
    let numbers: Vec<i64> = bound
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter_map(|s| s.parse().ok())
        .collect();
    match numbers[..] {
        [first, next] => Some((first, next)),
        _ => None,
    }
}

impl Store {
    /// PostgreSQL: packs the events of every month before the one holding
    /// `now` (UTC), a workspace per transaction, then gives the emptied
    /// months' pages back (`VACUUM` truncates a table, `REINDEX
    /// CONCURRENTLY` rebuilds its indexes; neither stops readers or
    /// writers). One process packs at a time (a session's advisory lock,
    /// let go if the process dies); another finds it taken and packs
    /// nothing. Returns how many events it packed; nothing on SQLite.
    pub async fn pack_past_months(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        if self.engine != Engine::Postgres {
            return Ok(0);
        }
        let mut holder = self.pool.acquire().await?;
        let ours: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(PACK_LOCK)
            .fetch_one(&mut *holder)
            .await?;
        if !ours {
            return Ok(0);
        }
        let packed = self.pack_months_before(now, &mut holder).await;
        let let_go = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(PACK_LOCK)
            .execute(&mut *holder)
            .await;
        if let_go.is_err() {
            // Its session ends, and the lock with it.
            let _ = holder.detach();
        }
        packed
    }

    /// [`Store::pack_past_months`] under its lock, the maintenance run on
    /// `conn`.
    async fn pack_months_before(
        &self,
        now: DateTime<Utc>,
        conn: &mut AnyConnection,
    ) -> StoreResult<u64> {
        // The current month's first instant (UTC): the months before it.
        let current = Utc
            .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
            .single()
            .map_or(i64::MIN, |t| t.timestamp_millis());
        let mut packed = 0;
        for (name, bound) in self.partitions().await? {
            let Some((month, next)) = bounds_of(&bound) else {
                continue;
            };
            if next > current {
                continue;
            }
            let listed = sqlx::query_scalar::<_, String>(&format!(
                "SELECT DISTINCT workspace_id FROM {name}"
            ))
            .fetch_all(&self.pool)
            .await;
            let workspaces = match listed {
                Ok(w) => w,
                // Dropped meanwhile (retention).
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => continue,
                Err(e) => return Err(e.into()),
            };
            if workspaces.is_empty() {
                continue;
            }
            let mut here = 0;
            for ws in &workspaces {
                let name = &name;
                here += self
                    .write(|mut tx| async move {
                        let r = pack_workspace_month(&mut tx, name, month, ws).await;
                        (tx, r)
                    })
                    .await?;
            }
            if here > 0 {
                // A `REINDEX … CONCURRENTLY` cut short (the database went
                // down) leaves an invalid copy of an index, which writes
                // would keep up: dropped first.
                let invalid: Vec<String> = sqlx::query_scalar(
                    "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                     WHERE i.indrelid = $1::regclass AND NOT i.indisvalid",
                )
                .bind(name.clone())
                .fetch_all(&mut *conn)
                .await?;
                for index in invalid {
                    sqlx::query(&format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"))
                        .execute(&mut *conn)
                        .await?;
                }
                for maintenance in ["VACUUM", "REINDEX TABLE CONCURRENTLY"] {
                    sqlx::query(&format!("{maintenance} {name}"))
                        .execute(&mut *conn)
                        .await?;
                }
                tracing::info!(month = %name, events = here, "packed a past month's events");
            }
            packed += here;
        }
        Ok(packed)
    }

    /// How many of workspace `ws`'s events are packed.
    pub async fn packed_events(&self, ws: &str) -> StoreResult<i64> {
        if self.engine != Engine::Postgres {
            return Ok(0);
        }
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(SUM(events), 0) FROM event_packs WHERE workspace_id = $1",
        )
        .bind(ws.to_string())
        .fetch_one(&self.pool)
        .await?)
    }
}

/// Packs workspace `ws`'s events in month table `name` (whose first
/// instant is `month`), unless they are moving to a new zone's days; how
/// many. The rows deleted are the rows packed (`DELETE … RETURNING`): an
/// event written meanwhile stays a row.
async fn pack_workspace_month(
    conn: &mut AnyConnection,
    name: &str,
    month: i64,
    ws: &str,
) -> StoreResult<u64> {
    let moving: Option<Option<String>> =
        sqlx::query_scalar("SELECT rebucket_from FROM workspaces WHERE id = $1 FOR SHARE")
            .bind(ws.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    if !matches!(moving, Some(None)) {
        return Ok(0);
    }
    let order = "ORDER BY occurred_at, id";
    let packs: Vec<i64> = sqlx::query_scalar(&format!(
        "WITH gone AS (DELETE FROM {name} WHERE workspace_id = $1 RETURNING {EVENT_COLUMNS}) \
         INSERT INTO event_packs (month, events, workspace_id, kind, day, first_id, ids, occurred_at, \
         actions, credits, user_ids, campaign_ids, identity_ids) \
         SELECT $2, COUNT(*), workspace_id, kind, day, (array_agg(id {order}))[1], array_agg(id {order}), \
         array_agg(occurred_at {order}), array_agg(action {order}), array_agg(credits {order}), \
         array_agg(user_id {order}), array_agg(campaign_id {order}), array_agg(identity_id {order}) \
         FROM gone GROUP BY workspace_id, kind, day RETURNING CAST(events AS BIGINT)"
    ))
    .bind(ws.to_string())
    .bind(month)
    .fetch_all(&mut *conn)
    .await?;
    Ok(packs.iter().map(|n| *n as u64).sum())
}

/// PostgreSQL: unpacks the first of workspace `ws`'s packs back into
/// rows, up to about [`UNPACK_CHUNK`] events (at least one pack); how
/// many events. What a move to a new zone does before it moves them.
pub(super) async fn unpack_chunk(conn: &mut AnyConnection, ws: &str) -> StoreResult<u64> {
    let unpacked = sqlx::query(&format!(
        "WITH chosen AS (SELECT kind, day, first_id FROM \
         (SELECT kind, day, first_id, SUM(events) OVER (ORDER BY kind, day, first_id) - events AS before \
         FROM event_packs WHERE workspace_id = $1) AS p WHERE before < $2), \
         gone AS (DELETE FROM event_packs p WHERE p.workspace_id = $1 \
         AND (p.kind, p.day, p.first_id) IN (SELECT kind, day, first_id FROM chosen) RETURNING p.*) \
         INSERT INTO usage_events ({EVENT_COLUMNS}) {}",
        unnested_sql("gone")
    ))
    .bind(ws.to_string())
    .bind(UNPACK_CHUNK)
    .execute(&mut *conn)
    .await?;
    Ok(unpacked.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_months_bounds_are_read_off_its_partition() {
        assert_eq!(
            bounds_of("FOR VALUES FROM ('1764547200000') TO ('1767225600000')"),
            Some((1_764_547_200_000, 1_767_225_600_000))
        );
        assert_eq!(bounds_of("DEFAULT"), None);
    }
}
