//! Consistency checks and backups: what the crash test and an operator use
//! to prove that nothing acknowledged was lost or counted twice.

use std::collections::{BTreeMap, HashSet};

use sqlx::Row;

use app::model::Metric;

use super::db::Store;
use super::density::KEYED_FILTER;
use super::error::{Engine, StoreError, StoreResult};
use super::ledger::ids_sql;
use super::rollup::{metric_code, recompute_sql, RollupDim};

/// What `verify` found; every list empty means consistent.
#[derive(Debug, Default, serde::Serialize)]
pub struct LedgerCheck {
    /// `ok`, or SQLite's integrity-check messages.
    pub integrity: Vec<String>,
    /// Aggregate rows that differ from a recomputation from the raw events.
    pub aggregate_differences: Vec<String>,
    /// Cycles whose `used` differs from the credits of their events.
    pub cycle_differences: Vec<String>,
}

impl LedgerCheck {
    /// Whether nothing differs.
    pub fn consistent(&self) -> bool {
        self.integrity == ["ok"]
            && self.aggregate_differences.is_empty()
            && self.cycle_differences.is_empty()
    }
}

type Sums = BTreeMap<(String, String, String, String, String, String, String), i64>;

async fn sums(store: &Store, sql: &str) -> StoreResult<Sums> {
    let mut out = Sums::new();
    for r in sqlx::query(sql).fetch_all(&store.pool).await? {
        let key = (
            r.try_get::<String, _>(0)?,
            r.try_get::<String, _>(1)?,
            r.try_get::<String, _>(2)?,
            r.try_get::<String, _>(3)?,
            r.try_get::<String, _>(4)?,
            r.try_get::<String, _>(5)?,
            r.try_get::<String, _>(6)?,
        );
        out.insert(key, r.try_get::<i64, _>(7)?);
    }
    Ok(out)
}

fn differences(name: &str, stored: &Sums, recomputed: &Sums) -> Vec<String> {
    let keys: HashSet<_> = stored.keys().chain(recomputed.keys()).collect();
    let mut out: Vec<String> = keys
        .into_iter()
        .filter_map(|k| {
            let (a, b) = (
                stored.get(k).copied().unwrap_or(0),
                recomputed.get(k).copied().unwrap_or(0),
            );
            (a != b).then(|| format!("{name} {k:?}: stored {a}, events say {b}"))
        })
        .collect();
    out.sort();
    out.truncate(50);
    out
}

impl Store {
    /// Recomputes every pre-aggregate and cycle balance from the raw events
    /// and the sums of those dropped past the retention horizon.
    pub async fn check_ledger(&self) -> StoreResult<LedgerCheck> {
        let integrity = match self.engine {
            Engine::Sqlite => {
                sqlx::query_scalar::<_, String>("PRAGMA integrity_check")
                    .fetch_all(&self.pool)
                    .await?
            }
            // The ids' table holds each event's id, packed or not, and no
            // other.
            Engine::Postgres => {
                let (ids, events, matched): (i64, i64, i64) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM event_ids), (SELECT COUNT(*) FROM stored_events), \
                     (SELECT COUNT(*) FROM event_ids i JOIN stored_events e ON e.workspace_id = i.workspace_id \
                     AND e.id = i.id AND e.occurred_at = i.occurred_at)",
                )
                .fetch_one(&self.pool)
                .await?;
                if ids == events && ids == matched {
                    vec!["ok".to_string()]
                } else {
                    vec![format!(
                        "event_ids holds {ids} ids for {events} events, {matched} of them matching"
                    )]
                }
            }
        };
        let stored = sums(
            self,
            "SELECT workspace_id, metric, dim, day, action, key, key2, value FROM daily_rollup WHERE value <> 0",
        )
        .await?;
        let mut recomputed = Sums::new();
        for dim in RollupDim::ALL {
            // A workspace's keyed rollups exist once it is keyed
            // (`density`); the day's totals always.
            let filter = if dim.keyed() { KEYED_FILTER } else { "" };
            for metric in [Metric::Credits, Metric::Conversations] {
                recomputed.extend(sums(self, &recompute_sql(dim, metric, filter)).await?);
            }
        }
        // Conversation events carry no action: '' in the rollups.
        recomputed.retain(|_, v| *v != 0);
        let aggregate_differences = differences("daily_rollup", &stored, &recomputed);
        // A cycle runs from the 1st to the 1st: its events are those whose
        // local day falls in that month.
        let cycles = sums(
            self,
            "SELECT workspace_id, start_day, '', '', '', '', '', used FROM cycles WHERE used <> 0",
        )
        .await?;
        let mut per_cycle = Sums::new();
        for ((ws, metric, dim, day, ..), credits) in &recomputed {
            if metric != metric_code(Metric::Credits) || dim != RollupDim::Total.code() {
                continue;
            }
            let start = format!("{}-01", day.get(..7).unwrap_or(""));
            *per_cycle
                .entry((
                    ws.clone(),
                    start,
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ))
                .or_default() += credits;
        }
        let cycle_differences = differences("cycle", &cycles, &per_cycle);
        Ok(LedgerCheck {
            integrity,
            aggregate_differences,
            cycle_differences,
        })
    }

    /// Which of `ids` are stored as events of `ws`.
    pub async fn stored_event_ids(&self, ws: &str, ids: &[String]) -> StoreResult<HashSet<String>> {
        // PostgreSQL's ids' table holds every retained event's id, packed
        // or not (`verify` checks that it matches the events).
        let table = match self.engine {
            Engine::Postgres => "event_ids",
            Engine::Sqlite => "usage_events",
        };
        self.stored_ids(table, ws, ids).await
    }

    /// Which of `ids` are stored as charges of `ws`.
    pub async fn stored_charge_ids(
        &self,
        ws: &str,
        ids: &[String],
    ) -> StoreResult<HashSet<String>> {
        self.stored_ids("charges", ws, ids).await
    }

    /// Which of `ids` are rows of `table` (keyed by workspace and id) in `ws`.
    async fn stored_ids(
        &self,
        table: &str,
        ws: &str,
        ids: &[String],
    ) -> StoreResult<HashSet<String>> {
        let mut found = HashSet::new();
        for chunk in ids.chunks(super::sql::CHUNK) {
            let sql = ids_sql(table, "id", self.engine == Engine::Sqlite, chunk.len());
            let mut q = sqlx::query_scalar::<_, String>(&sql).bind(ws.to_string());
            for id in chunk {
                q = q.bind(id.clone());
            }
            found.extend(q.fetch_all(&self.pool).await?);
        }
        Ok(found)
    }

    /// Copies a SQLite database to `to` with `VACUUM INTO`: a consistent
    /// snapshot, safe while the server writes (readers never block WAL
    /// writers). PostgreSQL has its own tools (`pg_dump`).
    pub async fn backup_to(&self, to: &str) -> StoreResult<()> {
        if self.engine != Engine::Sqlite {
            return Err(StoreError::BadUrl(
                "backup copies SQLite databases; use pg_dump for PostgreSQL".into(),
            ));
        }
        if std::path::Path::new(to).exists() {
            return Err(StoreError::BadUrl(format!("{to} exists already")));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(to.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
