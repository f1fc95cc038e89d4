//! Retention (`--retain-events-months`, docs/decisions/0005-retention.md):
//! raw events older than a horizon are folded into per-day sums by every
//! key a report can name (`event_archive`) and deleted, in one transaction,
//! so that every report, summary, alert and limit stays exact. The
//! rollups, cycles and per-scope totals are never dropped.
//!
//! On PostgreSQL `usage_events` is partitioned by month (UTC): a month is
//! made before its first event is written ([`Store::ensure_months`]) and
//! dropped whole. On SQLite old events are deleted in chunks of
//! [`DROP_CHUNK`], each in the writers' turn.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use chrono::{Datelike, Duration, TimeZone};

use super::packs::packed_events_sql;
use super::prelude::*;
use super::rollup::event_kind;

/// Events folded and deleted per transaction on SQLite.
const DROP_CHUNK: i64 = 5_000;

/// How far the drops run behind the refusals: an event accepted just
/// before the horizon moved (the 1st of a month, 00:00 UTC) is written
/// long before its month is dropped.
const DROP_LAG: Duration = Duration::days(1);

/// The months the store makes a partition for: the current one, the next,
/// and this many before them. Older events go to the default partition
/// (`usage_events_older`), so that a batch of events over many old months
/// makes no tables (10,000 events could name 10,000 months); the bound
/// only moves forward, so no month is ever made whose events are there.
const MADE_MONTHS: u32 = 36;

/// How often the background task looks for months to make and to drop.
const EVERY: std::time::Duration = std::time::Duration::from_secs(3_600);

/// The PostgreSQL advisory lock under which one process at a time makes
/// months of `usage_events`.
const MONTHS_LOCK: i64 = 0x0063_7265_6d6f_6e74; // "cremont"

/// The retention horizon at `now` keeping `months` whole months before the
/// current one (UTC): the first instant of the month `months` before it.
/// Events before it are dropped; at 12 on 2026-12-05 it is 2025-12-01.
pub fn horizon_of(now: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    let index = now.year() * 12 + now.month0() as i32 - months.min(100_000) as i32;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The month (UTC) holding instant `ms`: its first instant and the next
/// month's (ms), and the name of its partition (`usage_events_mYYYYMM`,
/// as migration 0013 names them).
pub(super) fn month_of(ms: i64) -> Option<(i64, i64, String)> {
    let at = DateTime::from_timestamp_millis(ms)?;
    let first = horizon_of(at, 0);
    let next = horizon_of(first + Duration::days(40), 0);
    let name = format!("usage_events_m{:04}{:02}", first.year(), first.month());
    Some((first.timestamp_millis(), next.timestamp_millis(), name))
}

impl Store {
    /// Keeps raw events for `months` whole months before the current one
    /// (`None`: everything), and notes whether events were dropped before
    /// (their sums are then read beside the events).
    pub async fn set_retention(&self, months: Option<u32>) -> StoreResult<()> {
        let r = &self.retention;
        r.months.store(months.unwrap_or(0), Ordering::Relaxed);
        // Across workspaces on purpose: whether any was ever dropped.
        let archived: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM event_archive LIMIT 1) AS a")
                .fetch_one(&self.pool)
                .await?;
        r.archived.fetch_or(archived > 0, Ordering::Relaxed);
        Ok(())
    }

    /// The retention horizon at `now`, when events are dropped at all.
    pub fn horizon(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.retention.months.load(Ordering::Relaxed) {
            0 => None,
            months => Some(horizon_of(now, months)),
        }
    }

    /// Refuses an instant before the horizon: what needs the raw events
    /// from there cannot be answered (`422`, naming the horizon).
    pub fn retained_since(
        &self,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        field: &'static str,
        what: &str,
    ) -> StoreResult<()> {
        match self.horizon(now) {
            Some(h) if at < h => Err(StoreError::Invalid {
                field,
                message: format!(
                    "{what} before the retention horizon {}: raw events are kept from then on",
                    h.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Whether the reports that read the events also read the sums of
    /// dropped ones.
    pub(super) fn reads_archive(&self) -> bool {
        self.retention.months.load(Ordering::Relaxed) > 0
            || self.retention.archived.load(Ordering::Relaxed)
    }

    /// PostgreSQL: makes the months of `usage_events` that hold these
    /// instants, unless known to exist. A month is made as a table of its
    /// own, then attached, which locks out no reader or writer of the
    /// others; one process at a time makes them.
    pub(super) async fn ensure_months(
        &self,
        at: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if self.engine != Engine::Postgres {
            return Ok(());
        }
        let oldest = horizon_of(now, MADE_MONTHS).timestamp_millis();
        let wanted: BTreeSet<(i64, i64, String)> = {
            let made = self
                .retention
                .made
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            at.iter()
                .filter_map(|t| month_of(t.timestamp_millis()))
                .filter(|(first, ..)| *first >= oldest && !made.contains(first))
                .collect()
        };
        for (first, next, name) in wanted {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(MONTHS_LOCK)
                .execute(&mut *tx)
                .await?;
            let exists: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = 'usage_events'::regclass AND c.relname = $1",
            )
            .bind(name.clone())
            .fetch_one(&mut *tx)
            .await?;
            if exists == 0 {
                sqlx::query(&format!(
                    "CREATE TABLE {name} (LIKE usage_events INCLUDING DEFAULTS)"
                ))
                .execute(&mut *tx)
                .await?;
                let attached = sqlx::query(&format!(
                    "ALTER TABLE usage_events ATTACH PARTITION {name} FOR VALUES FROM ({first}) TO ({next})"
                ))
                .execute(&mut *tx)
                .await;
                match attached {
                    Ok(_) => {}
                    // Another partition covers it already (one made under
                    // another name): nothing to make.
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P17") => {
                        let _ = tx.rollback().await;
                        self.note_made(first);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            tx.commit().await?;
            self.note_made(first);
        }
        Ok(())
    }

    fn note_made(&self, first: i64) {
        self.retention
            .made
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(first);
    }

    /// Drops the raw events past the horizon at `now` (a day behind it),
    /// folding them into `event_archive` in the same transaction; returns
    /// how many. Nothing without a retention setting.
    pub async fn drop_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let months = self.retention.months.load(Ordering::Relaxed);
        if months == 0 {
            return Ok(0);
        }
        let horizon = horizon_of(now - DROP_LAG, months).timestamp_millis();
        let dropped = match self.engine {
            // Whole months, then what the default partition holds.
            Engine::Postgres => {
                let months = self.drop_months(horizon).await?;
                let older: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM usage_events_older WHERE occurred_at < $1 LIMIT 1) AS o",
                )
                .bind(horizon)
                .fetch_one(&self.pool)
                .await?;
                months
                    + if older > 0 {
                        self.drop_chunks(horizon).await?
                    } else {
                        0
                    }
            }
            Engine::Sqlite => self.drop_chunks(horizon).await?,
        };
        if dropped > 0 {
            self.retention.archived.store(true, Ordering::Relaxed);
            tracing::info!(
                events = dropped,
                "dropped raw events past the retention horizon"
            );
        }
        Ok(dropped)
    }

    /// PostgreSQL: the months of `usage_events` and their bounds (as
    /// `FOR VALUES FROM (…) TO (…)`); none on SQLite.
    pub async fn partitions(&self) -> StoreResult<Vec<(String, String)>> {
        if self.engine != Engine::Postgres {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(
            "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_events'::regclass \
             ORDER BY c.relname",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// PostgreSQL: each month wholly before `horizon` (ms), folded and
    /// dropped in one transaction. The month is locked against writers
    /// first (none is expected: its events are refused a day before), and
    /// the drop waits at most a few seconds for the readers of the table.
    async fn drop_months(&self, horizon: i64) -> StoreResult<u64> {
        let months = self.partitions().await?;
        let mut dropped = 0;
        for (name, bound) in months {
            // `FOR VALUES FROM ('…') TO ('…')`: the upper bound.
            let to = bound
                .rsplit('(')
                .next()
                .map(|s| s.trim_matches(|c: char| !c.is_ascii_digit() && c != '-'))
                .and_then(|s| s.parse::<i64>().ok());
            if to.is_none_or(|to| to > horizon) {
                continue;
            }
            let name = &name;
            let first = to.and_then(|t| month_of(t - 1)).map(|(first, ..)| first);
            dropped += self
                .write(|mut tx| async move {
                    let r = drop_month(&mut tx, name, first).await;
                    (tx, r)
                })
                .await?;
            if let Some((first, ..)) = to.and_then(|t| month_of(t - 1)) {
                self.retention
                    .made
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&first);
            }
        }
        Ok(dropped)
    }

    /// Each workspace's events before `horizon` (ms), a chunk per
    /// transaction in the writers' turn: SQLite's, and PostgreSQL's
    /// default partition (events older than the months it makes).
    async fn drop_chunks(&self, horizon: i64) -> StoreResult<u64> {
        // Across workspaces on purpose: each is then dropped on its own.
        let workspaces: Vec<String> = sqlx::query_scalar("SELECT id FROM workspaces ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut dropped = 0;
        for ws in &workspaces {
            for metric in [Metric::Credits, Metric::Conversations] {
                // Most hours most workspaces have nothing past the
                // horizon: an index probe says so without a writer's turn.
                let any: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT occurred_at FROM usage_events WHERE {OLD_EVENTS} LIMIT 1"
                ))
                .bind(ws.to_string())
                .bind(event_kind(metric).to_string())
                .bind(horizon)
                .fetch_optional(&self.pool)
                .await?;
                if any.is_none() {
                    continue;
                }
                loop {
                    let n = self
                        .write(|mut tx| async move {
                            let r = drop_chunk(&mut tx, ws, event_kind(metric), horizon).await;
                            (tx, r)
                        })
                        .await?;
                    dropped += n;
                    if n == 0 {
                        break;
                    }
                }
            }
        }
        Ok(dropped)
    }

    /// Every hour (and at once): makes this month's and the next month's
    /// partitions (PostgreSQL) and drops what passed the horizon at `now`.
    pub fn retain_in_background(
        &self,
        now: impl Fn() -> DateTime<Utc> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                let at = now();
                let ahead = [at, horizon_of(at, 0) + Duration::days(40)];
                if let Err(e) = store.ensure_months(&ahead, at).await {
                    tracing::warn!(error = %e, "could not make the next months of usage_events");
                }
                if let Err(e) = store.drop_expired(at).await {
                    tracing::warn!(error = %e, "could not drop raw events past the retention horizon");
                }
                if let Err(e) = store.pack_past_months(at).await {
                    tracing::warn!(error = %e, "could not pack the events of past months");
                }
                tokio::time::sleep(EVERY).await;
            }
        })
    }

    /// The last local day of workspace `ws` some of whose events were
    /// dropped: a change of its time zone cannot move the days up to it,
    /// whose sums stay on the old zone's days.
    pub async fn dropped_through(&self, ws: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT MAX(day) FROM event_archive WHERE workspace_id = $1")
                .bind(ws.to_string())
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

/// The statement that folds the events `filter` selects into
/// `event_archive` (`from` names their table).
fn fold_sql(from: &str, filter: &str) -> String {
    format!(
        "INSERT INTO event_archive (workspace_id, kind, day, action, user_id, campaign_id, identity_id, value) \
         SELECT workspace_id, kind, day, COALESCE(action, ''), user_id, COALESCE(campaign_id, ''), \
         COALESCE(identity_id, ''), SUM(CASE WHEN kind = 'credits' THEN credits ELSE 1 END) \
         FROM {from} WHERE {filter} \
         GROUP BY workspace_id, kind, day, COALESCE(action, ''), user_id, COALESCE(campaign_id, ''), \
         COALESCE(identity_id, '') \
         ON CONFLICT (workspace_id, kind, day, action, user_id, campaign_id, identity_id) \
         DO UPDATE SET value = event_archive.value + excluded.value"
    )
}

/// The statement that deletes from `event_ids` the ids of the events
/// `filter` selects (as `e`) in `from`: what goes with a fold.
fn forget_ids_sql(from: &str, filter: &str) -> String {
    format!(
        "DELETE FROM event_ids i USING {from} e WHERE {filter} \
         AND i.workspace_id = e.workspace_id AND i.id = e.id AND i.occurred_at = e.occurred_at"
    )
}

/// One month of PostgreSQL's events (table `name`, first instant `first`),
/// its packed events too (`packs`), folded and dropped with their ids; how
/// many it held.
async fn drop_month(conn: &mut AnyConnection, name: &str, first: Option<i64>) -> StoreResult<u64> {
    sqlx::query("SET LOCAL lock_timeout = '5s'")
        .execute(&mut *conn)
        .await?;
    let locked = sqlx::query(&format!("LOCK TABLE {name} IN SHARE MODE"))
        .execute(&mut *conn)
        .await;
    match locked {
        Ok(_) => {}
        // Another process dropped it meanwhile.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => return Ok(0),
        Err(e) => return Err(e.into()),
    }
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {name}"))
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(&fold_sql(name, "true"))
        .execute(&mut *conn)
        .await?;
    // Their ids go with them.
    sqlx::query(&forget_ids_sql(name, "true"))
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!("DROP TABLE {name}"))
        .execute(&mut *conn)
        .await?;
    let Some(first) = first else {
        return Ok(n as u64);
    };
    let packed = packed_events_sql(&format!("p.month = {first}"));
    let in_packs: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(events), 0) FROM event_packs WHERE month = $1")
            .bind(first)
            .fetch_one(&mut *conn)
            .await?;
    if in_packs > 0 {
        sqlx::query(&fold_sql(&format!("{packed} AS packed"), "true"))
            .execute(&mut *conn)
            .await?;
        sqlx::query(&forget_ids_sql(&packed, "true"))
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM event_packs WHERE month = $1")
            .bind(first)
            .execute(&mut *conn)
            .await?;
    }
    Ok((n + in_packs) as u64)
}

/// Up to about [`DROP_CHUNK`] of a workspace's events of `kind` before
/// `horizon` (ms), the oldest first, folded and deleted; how many.
/// A workspace's (`$1`) events of one kind (`$2`) before an instant (`$3`, ms).
const OLD_EVENTS: &str = "workspace_id = $1 AND kind = $2 AND occurred_at < $3";

async fn drop_chunk(
    conn: &mut AnyConnection,
    ws: &str,
    kind: &str,
    horizon: i64,
) -> StoreResult<u64> {
    // The chunk's end: past its last event (ties go with it).
    let last: Option<i64> = sqlx::query_scalar(
        &format!("SELECT occurred_at FROM usage_events WHERE {OLD_EVENTS} ORDER BY occurred_at LIMIT 1 OFFSET $4"),
    )
    .bind(ws.to_string())
    .bind(kind.to_string())
    .bind(horizon)
    .bind(DROP_CHUNK - 1)
    .fetch_optional(&mut *conn)
    .await?;
    let end = last.map_or(horizon, |t| t + 1);
    sqlx::query(&fold_sql("usage_events", OLD_EVENTS))
        .bind(ws.to_string())
        .bind(kind.to_string())
        .bind(end)
        .execute(&mut *conn)
        .await?;
    if conn.backend_name() == "PostgreSQL" {
        // Their ids go with them.
        sqlx::query(&forget_ids_sql(
            "usage_events",
            "e.workspace_id = $1 AND e.kind = $2 AND e.occurred_at < $3",
        ))
        .bind(ws.to_string())
        .bind(kind.to_string())
        .bind(end)
        .execute(&mut *conn)
        .await?;
    }
    let gone = sqlx::query(&format!("DELETE FROM usage_events WHERE {OLD_EVENTS}"))
        .bind(ws.to_string())
        .bind(kind.to_string())
        .bind(end)
        .execute(&mut *conn)
        .await?;
    Ok(gone.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("an instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_horizon_is_the_first_of_a_month_before() {
        assert_eq!(
            horizon_of(at("2026-12-05T10:00:00Z"), 12),
            at("2025-12-01T00:00:00Z")
        );
        assert_eq!(
            horizon_of(at("2026-03-31T23:59:59Z"), 3),
            at("2025-12-01T00:00:00Z")
        );
        assert_eq!(
            horizon_of(at("2026-01-01T00:00:00Z"), 1),
            at("2025-12-01T00:00:00Z")
        );
        assert_eq!(
            horizon_of(at("2026-12-05T10:00:00Z"), 0),
            at("2026-12-01T00:00:00Z")
        );
    }

    #[test]
    fn months_are_named_as_the_migration_names_them() {
        let (first, next, name) =
            month_of(at("2026-02-14T12:00:00Z").timestamp_millis()).expect("a month");
        assert_eq!(first, at("2026-02-01T00:00:00Z").timestamp_millis());
        assert_eq!(next, at("2026-03-01T00:00:00Z").timestamp_millis());
        assert_eq!(name, "usage_events_m202602");
        let (_, next, name) =
            month_of(at("2025-12-31T23:59:59.999Z").timestamp_millis()).expect("a month");
        assert_eq!(next, at("2026-01-01T00:00:00Z").timestamp_millis());
        assert_eq!(name, "usage_events_m202512");
    }

    proptest! {
        /// Every instant lies in its month, months tile time, and the
        /// horizon never passes now and keeps at least `months` months.
        #[test]
        fn months_tile_and_the_horizon_keeps_enough(ms in -30_000_000_000_000i64..30_000_000_000_000, months in 0u32..400) {
            let (first, next, _) = month_of(ms).expect("a month");
            prop_assert!(first <= ms && ms < next);
            prop_assert_eq!(month_of(next).expect("a month").0, next);
            prop_assert_eq!(month_of(first - 1).expect("a month").1, first);
            let now = DateTime::from_timestamp_millis(ms).expect("an instant");
            let h = horizon_of(now, months);
            prop_assert!(h <= now);
            prop_assert!(now - h >= Duration::days(28 * i64::from(months)));
            prop_assert!(now - h < Duration::days(31 * (i64::from(months) + 1)));
        }
    }
}
