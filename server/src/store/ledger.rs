//! Ledger writes: cycles and their balances, grants, event batches and
//! charges, and the pre-aggregates kept in the same transaction.

use app::domain::forecast::pace_window;

use super::alerts;
use super::cycles::ensure_cycle;
use super::deltas::Deltas;
use super::limits;
use super::prelude::*;
use crate::canonical::digest;

pub(super) async fn create_grant_tx(
    conn: &mut AnyConnection,
    ws_id: &str,
    grant: &GrantInput,
    now: DateTime<Utc>,
    render: RenderGrant,
) -> StoreResult<(bool, serde_json::Value)> {
    let ws = load_workspace(conn, ws_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let existing = sqlx::query(
        "SELECT request, response FROM credit_grants WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws_id.to_string())
    .bind(grant.id.clone())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = existing {
        let request: String = row.try_get("request")?;
        if request != grant.request {
            return Err(StoreError::Conflict(format!(
                "grant {} exists with another body",
                grant.id
            )));
        }
        let response: String = row.try_get("response")?;
        let body =
            serde_json::from_str(&response).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        return Ok((false, body));
    }
    let cycle = ws.calendar().cycle_at(now);
    ensure_cycle(conn, &ws, cycle.start).await?;
    let column = if grant.kind == "rollover" {
        "rollover"
    } else {
        "add_on"
    };
    let granted = sqlx::query(&format!(
        "UPDATE cycles SET {column} = {column} + $3 WHERE workspace_id = $1 AND start_day = $2 \
         AND plan_credits + add_on + rollover <= $4 - $3"
    ))
    .bind(ws_id.to_string())
    .bind(day_str(cycle.start))
    .bind(grant.credits)
    .bind(MAX_CYCLE_CREDITS)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if granted == 0 {
        return Err(StoreError::Conflict(format!(
            "this cycle's grants would pass {MAX_CYCLE_CREDITS} credits"
        )));
    }
    // More credits may recover reached thresholds.
    alerts::record_alerts(conn, &ws, cycle.start, now, false).await?;
    let body = render(&Granted {
        grant,
        cycle,
        created_at: now,
    });
    sqlx::query(
        "INSERT INTO credit_grants (workspace_id, id, kind, credits, cycle_start, request, response, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(ws_id.to_string())
    .bind(grant.id.clone())
    .bind(grant.kind.clone())
    .bind(grant.credits)
    .bind(day_str(cycle.start))
    .bind(grant.request.clone())
    .bind(body.to_string())
    .bind(now.timestamp_millis())
    .execute(&mut *conn)
    .await?;
    Ok((true, body))
}

pub(super) async fn insert_events(
    conn: &mut AnyConnection,
    ws: &Workspace,
    events: &[&NewEvent],
) -> StoreResult<Deltas> {
    let cal = ws.calendar();
    let mut deltas = Deltas::taking(events.len());
    // PostgreSQL keeps an event's digest with its id (`event_ids`, which
    // outlives the row when its month is packed); SQLite with the row.
    let postgres = conn.backend_name() == "PostgreSQL";
    let (digest_column, width) = if postgres { ("", 10) } else { (", digest", 11) };
    for chunk in events.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO usage_events (workspace_id, id, kind, occurred_at, day, action, credits, user_id, \
             campaign_id, identity_id{digest_column}) VALUES {}",
            values_sql(chunk.len(), width, 1)
        );
        let mut vals = Vec::with_capacity(chunk.len() * width);
        for e in chunk {
            let day = cal.local_day(e.occurred_at);
            deltas.add(e, day);
            let (kind, action, credits) = match e.credits {
                Some((a, c)) => ("credits", Some(a.key().to_string()), Val::I(c)),
                None => ("conversation", None, Val::N(None)),
            };
            // A NULL credits column must be bound as a typed NULL on PostgreSQL.
            let credits = match credits {
                Val::N(_) => Val::I(0),
                v => v,
            };
            vals.extend([
                Val::S(ws.id.clone()),
                Val::S(e.id.clone()),
                Val::S(kind.to_string()),
                Val::I(e.occurred_at.timestamp_millis()),
                Val::S(day_str(day)),
                Val::N(action),
                credits,
                Val::S(e.user_id.clone()),
                Val::N(e.campaign_id.clone()),
                Val::N(e.identity_id.clone()),
            ]);
            if !postgres {
                vals.push(Val::B(digest(&e.request)));
            }
        }
        exec_values(conn, &sql, vals).await?;
    }
    // PostgreSQL keeps events by month: their ids are unique here (two
    // writers of one id collide on this key, and the second is retried),
    // with the digest a retry is compared to.
    if postgres {
        for chunk in events.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO event_ids (workspace_id, id, occurred_at, digest) VALUES {}",
                values_sql(chunk.len(), 4, 1)
            );
            let mut vals = Vec::with_capacity(chunk.len() * 4);
            for e in chunk {
                vals.extend([
                    Val::S(ws.id.clone()),
                    Val::S(e.id.clone()),
                    Val::I(e.occurred_at.timestamp_millis()),
                    Val::B(digest(&e.request)),
                ]);
            }
            exec_values(conn, &sql, vals).await?;
        }
    }
    Ok(deltas)
}

/// The lookup of `n` ids of one workspace in `table` (`$1` the workspace,
/// `$2…` the ids).
///
/// The workspace is compared to `(SELECT $1)`, a value the planner cannot
/// look up in its statistics, so that PostgreSQL always finds these rows
/// by their primary key. Compared to the literal, a workspace newer than
/// the table's statistics was estimated at one row, which made the
/// events-by-time index look as cheap, and each charge's duplicate check
/// walked every event of the workspace: 66 ms for one id against 0.06 ms
/// (`EXPLAIN ANALYZE`, a workspace of 219,633 events unknown to the
/// statistics, at `--scale 0.1`). SQLite's events are named by their ids'
/// index ([`by_id`]).
pub(super) fn ids_sql(table: &str, columns: &str, sqlite: bool, n: usize) -> String {
    format!(
        "SELECT {columns} FROM {} WHERE workspace_id = (SELECT $1) AND id IN ({})",
        by_id(table, sqlite),
        values_list(n, 2)
    )
}

/// The rows of `table` (columns `columns`) of workspace `ws` whose ids
/// are among `ids`, in statements of at most [`CHUNK`] ids ([`ids_sql`]).
pub(super) async fn rows_with_ids(
    conn: &mut AnyConnection,
    table: &str,
    columns: &str,
    ws: &str,
    ids: &[&str],
) -> StoreResult<Vec<AnyRow>> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = ids_sql(table, columns, conn.backend_name() == "SQLite", chunk.len());
        let sql = placeholders_for(conn, &sql);
        let mut q = sqlx::query(&sql).bind(ws.to_string());
        for id in chunk {
            q = q.bind(id.to_string());
        }
        rows.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

/// The events among `ids`: id → the digest of the request that made it
/// ([`digest`]). An event stored before digests has the request's
/// canonical text instead (until `credits migrate` replaces it), whose
/// digest is taken here.
pub(super) async fn stored_digests(
    conn: &mut AnyConnection,
    ws: &str,
    ids: &[&str],
) -> StoreResult<HashMap<String, Vec<u8>>> {
    let mut found = HashMap::new();
    // PostgreSQL: by the ids' table, which holds the digest of every
    // retained event, packed or not (one probe an id, where the events
    // would take one a month).
    let rows = if conn.backend_name() == "PostgreSQL" {
        rows_with_ids(conn, "event_ids", "id, digest, NULL AS request", ws, ids).await?
    } else {
        rows_with_ids(conn, "usage_events", "id, digest, request", ws, ids).await?
    };
    for row in rows {
        let stored: Option<Vec<u8>> = row.try_get("digest")?;
        let stored = match stored {
            Some(d) => d,
            None => digest(
                &row.try_get::<Option<String>, _>("request")?
                    .unwrap_or_default(),
            ),
        };
        found.insert(row.try_get("id")?, stored);
    }
    Ok(found)
}

pub(super) async fn record_events_tx(
    conn: &mut AnyConnection,
    ws_id: &str,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> StoreResult<BatchOutcome> {
    plan_once(conn).await?;
    let ws = load_workspace(conn, ws_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let stored = stored_digests(conn, ws_id, &ids).await?;
    let mut fresh: Vec<&NewEvent> = Vec::with_capacity(events.len());
    let mut duplicates = 0;
    for e in events {
        match stored.get(&e.id) {
            Some(stored) if *stored == digest(&e.request) => duplicates += 1,
            Some(_) => {
                return Err(StoreError::Conflict(format!(
                    "event {} exists with other content",
                    e.id
                )))
            }
            None => fresh.push(e),
        }
    }
    // Insert in id order: concurrent batches lock index entries alike.
    fresh.sort_by(|a, b| a.id.cmp(&b.id));
    let deltas = insert_events(conn, &ws, &fresh).await?;
    let mut touched = deltas.touched();
    let cycles: Vec<NaiveDate> = deltas.cycle_used.keys().copied().collect();
    deltas.apply(conn, &ws).await?;
    // Usage of the days the run-out forecast's pace covers arrived after
    // that pace may have been computed today: computed afresh.
    let window = pace_window(ws.calendar().local_day(now));
    let backdated = fresh.iter().any(|e| {
        let day = ws.calendar().local_day(e.occurred_at);
        e.credits.is_some() && window.from <= day && day < window.to
    });
    // Each cycle the batch spent from is locked by now: decide its alerts.
    for start in cycles {
        let scopes = touched.remove(&start).unwrap_or_default();
        limits::alerts_after_usage(conn, &ws, start, &scopes, now, backdated).await?;
    }
    Ok(BatchOutcome {
        inserted: fresh.len(),
        duplicates,
    })
}

impl Store {
    // ---- grants ---------------------------------------------------------

    /// Grants add-on or rollover credits to the current cycle. Returns
    /// whether it was created and the response body as `render` made it
    /// (the first one on a replay); the same id with another body is a
    /// conflict.
    pub async fn create_grant(
        &self,
        ws: &str,
        grant: &GrantInput,
        now: DateTime<Utc>,
        render: RenderGrant,
    ) -> StoreResult<(bool, serde_json::Value)> {
        self.write(|mut tx| async move {
            let r = create_grant_tx(&mut tx, ws, grant, now, render).await;
            (tx, r)
        })
        .await
    }

    // ---- usage ------------------------------------------------------------

    /// Records a batch of events, all or nothing. Events already stored with
    /// the same content are skipped; the same id with other content is a
    /// conflict for the whole batch.
    pub async fn record_events(
        &self,
        ws: &str,
        events: &[NewEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<BatchOutcome> {
        for e in events {
            self.retained_since(e.occurred_at, now, "occurred_at", "an event")?;
        }
        let instants: Vec<DateTime<Utc>> = events.iter().map(|e| e.occurred_at).collect();
        self.ensure_months(&instants, now).await?;
        let outcome = self
            .write(|mut tx| async move {
                let r = record_events_tx(&mut tx, ws, events, now).await;
                (tx, r)
            })
            .await?;
        self.note_growth(outcome.inserted);
        Ok(outcome)
    }
}

/// Events digested per transaction by [`Store::digest_stored_requests`].
const DIGEST_CHUNK: i64 = 5_000;

impl Store {
    /// Replaces the request text of events stored before digests with its
    /// digest (SQLite, whose migration cannot take a SHA-256), in key order
    /// and chunks of [`DIGEST_CHUNK`], each in its own transaction with the
    /// cursor (`digest_backfill`), so that an interrupted run resumes where
    /// it stopped. Returns how many events it digested; a no-op once done.
    pub async fn digest_stored_requests(&self) -> StoreResult<u64> {
        if self.engine != Engine::Sqlite {
            return Ok(0);
        }
        let pending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'digest_backfill'",
        )
        .fetch_one(&self.pool)
        .await?;
        if pending == 0 {
            return Ok(0);
        }
        let mut done = 0u64;
        loop {
            let mut conn = self.pool.acquire().await?;
            sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
            let step = digest_chunk(&mut conn).await;
            match step {
                Ok(Some(n)) => {
                    sqlx::query("COMMIT").execute(&mut *conn).await?;
                    done += n;
                }
                Ok(None) => {
                    sqlx::query("COMMIT").execute(&mut *conn).await?;
                    break;
                }
                Err(e) => {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                    return Err(e);
                }
            }
        }
        if done > 0 {
            // The rewrite and the digests passed through the WAL: give its
            // room back now rather than at the server's first checkpoint.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await?;
        }
        tracing::info!(
            events = done,
            "digested the requests of events stored before digests; `VACUUM` returns the freed pages to the disk"
        );
        Ok(done)
    }
}

/// One chunk of [`Store::digest_stored_requests`]: how many it digested,
/// or `None` when none is left (and the cursor's table is dropped).
async fn digest_chunk(conn: &mut AnyConnection) -> StoreResult<Option<u64>> {
    let cursor = sqlx::query("SELECT workspace_id, id FROM digest_backfill")
        .fetch_optional(&mut *conn)
        .await?;
    let Some(cursor) = cursor else {
        sqlx::query("DROP TABLE digest_backfill")
            .execute(&mut *conn)
            .await?;
        return Ok(None);
    };
    let (ws, id): (String, String) = (cursor.try_get(0)?, cursor.try_get(1)?);
    let rows = sqlx::query(
        "SELECT workspace_id, id, request FROM usage_events WHERE (workspace_id, id) > ($1, $2) \
         ORDER BY workspace_id, id LIMIT $3",
    )
    .bind(ws)
    .bind(id)
    .bind(DIGEST_CHUNK)
    .fetch_all(&mut *conn)
    .await?;
    let Some(last) = rows.last() else {
        sqlx::query("DROP TABLE digest_backfill")
            .execute(&mut *conn)
            .await?;
        return Ok(None);
    };
    let (last_ws, last_id): (String, String) = (last.try_get(0)?, last.try_get(1)?);
    let mut n = 0;
    for row in &rows {
        let Some(request) = row.try_get::<Option<String>, _>(2)? else {
            continue;
        };
        sqlx::query(
            "UPDATE usage_events SET digest = $3, request = NULL WHERE workspace_id = $1 AND id = $2",
        )
        .bind(row.try_get::<String, _>(0)?)
        .bind(row.try_get::<String, _>(1)?)
        .bind(digest(&request))
        .execute(&mut *conn)
        .await?;
        n += 1;
    }
    sqlx::query("UPDATE digest_backfill SET workspace_id = $1, id = $2")
        .bind(last_ws)
        .bind(last_id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite looks ids of events up by their index, not along the
    /// workspace's events in time order (see [`by_id`]).
    #[tokio::test]
    async fn a_lookup_of_event_ids_reads_their_index() {
        let path = std::env::temp_dir().join(format!("ids-plan-{}.db", std::process::id()));
        let store = Store::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("opens");
        store.migrate().await.expect("migrates");
        let sql = ids_sql("usage_events", "id, digest", true, 3).replace("$1", "'w'");
        let sql = ["'a'", "'b'", "'c'"]
            .iter()
            .enumerate()
            .fold(sql, |s, (i, v)| s.replace(&format!("${}", i + 2), v));
        let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .fetch_all(store.pool())
            .await
            .expect("a plan")
            .iter()
            .map(|r| r.try_get::<String, _>(3).unwrap_or_default())
            .collect();
        store.pool().close().await;
        for end in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{end}", path.display()));
        }
        assert!(
            plan.iter().any(|p| p.contains("usage_events_by_id")),
            "{plan:?}"
        );
    }
}
