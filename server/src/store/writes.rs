//! Writes: the transaction every write runs in ([`Store::write`]), the
//! SQLite writers' turns, the group commit of charges, and the refresh of
//! PostgreSQL's statistics as the tables change.

use std::time::Duration;

use super::charges::{charge_group_tx, ChargeRequest};
use super::db::{ms, PendingCharge, CHECK_STATISTICS_EVERY};
use super::prelude::*;

/// Charges per group transaction at most.
const CHARGE_GROUP: usize = 64;

/// The tables this process grows, whose statistics it keeps fresh (the
/// lookups by id plan by them: `event_ids` never analyzed made each
/// batch's lookup of 1,000 ids read every id of the workspace, 3 s at
/// 65,000).
const LEDGER_TABLES: [&str; 6] = [
    "usage_events",
    "event_ids",
    "event_packs",
    "daily_rollup",
    "charges",
    "event_archive",
];

/// The ledger's tables whose rows changed since their last `ANALYZE` by
/// more than autovacuum's default threshold (50 rows plus a tenth of the
/// table; here 1,000 plus a tenth). The counts are the server's own, so
/// they include every process's writes; a table never analyzed counts as
/// empty.
fn stale_tables_sql() -> String {
    let tables: Vec<String> = LEDGER_TABLES
        .iter()
        .map(|t| format!("'{t}'::regclass"))
        .collect();
    // `usage_events` is partitioned by month: its months are what change
    // (and what the planner reads once a query's months are known).
    format!(
        "SELECT c.relname::text FROM pg_class c \
         JOIN pg_stat_user_tables s ON s.relid = c.oid \
         WHERE (c.oid IN ({}) \
                OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'usage_events'::regclass)) \
         AND s.n_mod_since_analyze > 1000 + 0.1 * GREATEST(c.reltuples, 0) \
         ORDER BY c.relname",
        tables.join(", ")
    )
}

/// The PostgreSQL advisory lock (`pg_advisory_xact_lock`) under which one
/// process at a time refreshes the ledger's statistics. A maintenance job
/// that takes it holds the app's refreshes back until it ends.
pub const STATISTICS_LOCK: i64 = 0x0063_7265_6469_7473; // "credits"

impl Store {
    /// Notes `n` new events; past the next mark, checks PostgreSQL's
    /// statistics of the ledger's tables in the background.
    pub(super) fn note_growth(&self, n: usize) {
        use std::sync::atomic::Ordering;
        if self.engine != Engine::Postgres || n == 0 {
            return;
        }
        let g = &self.growth;
        let rows = g.rows.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if rows < g.next.load(Ordering::Relaxed) || g.running.swap(true, Ordering::AcqRel) {
            return;
        }
        g.next
            .store(rows + CHECK_STATISTICS_EVERY, Ordering::Relaxed);
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(e) = store.refresh_stale_statistics().await {
                tracing::warn!(error = %e, "ANALYZE failed");
            }
            store.growth.running.store(false, Ordering::Release);
        });
    }

    /// Refreshes the planner's statistics of every table of the ledger
    /// (PostgreSQL; SQLite plans these statements by their indexes alone).
    pub async fn refresh_statistics(&self) -> StoreResult<()> {
        if self.engine == Engine::Postgres {
            sqlx::query(&format!("ANALYZE {}", LEDGER_TABLES.join(", ")))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Refreshes the statistics of the ledger's tables that changed by a
    /// tenth since their last `ANALYZE`, and returns their names
    /// (PostgreSQL; none on SQLite). One process at a time does it: the
    /// others find the advisory lock taken and leave it.
    ///
    /// Not a refresh at fixed counts of this process's writes (every
    /// doubling, as before): `ANALYZE` of a table of millions of events
    /// samples it for seconds, beside the writes it follows, and each new
    /// process started the count again from zero. No write's plan relies
    /// on these refreshes (see `rows_with_ids` and `plan_once`); the
    /// reports' plans do, which is what they are for.
    pub async fn refresh_stale_statistics(&self) -> StoreResult<Vec<String>> {
        if self.engine != Engine::Postgres {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await?;
        let ours: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(STATISTICS_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        let mut analyzed = Vec::new();
        if ours {
            let stale: Vec<String> = sqlx::query_scalar(&stale_tables_sql())
                .fetch_all(&mut *tx)
                .await?;
            for table in stale {
                // A name from the catalogue, quoted all the same.
                sqlx::query(&format!("ANALYZE \"{}\"", table.replace('"', "\"\"")))
                    .execute(&mut *tx)
                    .await?;
                analyzed.push(table);
            }
        }
        tx.commit().await?;
        Ok(analyzed)
    }

    /// The turn of a write transaction (SQLite); none is needed on
    /// PostgreSQL, whose row locks queue writers themselves.
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.engine {
            Engine::Sqlite => Some(self.writer.lock().await),
            Engine::Postgres => None,
        }
    }

    /// Runs `body` in a write transaction and commits, retrying the whole
    /// transaction on transient failures (a unique race, a serialization
    /// failure, a deadlock, SQLite's busy). The body gets the transaction
    /// and hands it back with its result, so that it can borrow what the
    /// caller holds: `self.write(|mut tx| async move { let r = f(&mut tx).await; (tx, r) })`.
    pub(super) async fn write<T, F, Fut>(&self, mut body: F) -> StoreResult<T>
    where
        F: FnMut(sqlx::Transaction<'static, sqlx::Any>) -> Fut,
        Fut: std::future::Future<Output = (sqlx::Transaction<'static, sqlx::Any>, StoreResult<T>)>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            // SQLite: this process's writers queue here, in order, instead
            // of polling SQLite's lock (which lets one writer starve).
            let started = std::time::Instant::now();
            let turn = self.write_turn().await;
            let turned = started.elapsed();
            let tx = self.begin_write().await?;
            let begun = started.elapsed();
            metrics::histogram!("credits_db_write_wait_seconds", "phase" => "turn")
                .record(turned.as_secs_f64());
            metrics::histogram!("credits_db_write_wait_seconds", "phase" => "begin")
                .record((begun - turned).as_secs_f64());
            let (tx, result) = body(tx).await;
            let ran = started.elapsed();
            let error = match result {
                Ok(v) => match tx.commit().await {
                    Ok(()) => {
                        // The phases of every write, for a profile of the
                        // tail (docs/performance.md, "Where the charges' tail came from").
                        tracing::debug!(
                            target: "credits::writes",
                            turn_ms = ms(turned),
                            begin_ms = ms(begun - turned),
                            body_ms = ms(ran - begun),
                            commit_ms = ms(started.elapsed() - ran),
                            attempt,
                            "write"
                        );
                        return Ok(v);
                    }
                    Err(e) => StoreError::from(e),
                },
                Err(e) => {
                    let _ = tx.rollback().await;
                    e
                }
            };
            drop(turn);
            if attempt >= MAX_ATTEMPTS || !error.is_transient() {
                return Err(error);
            }
            tokio::time::sleep(Duration::from_millis(5 * attempt as u64)).await;
        }
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        })
    }

    /// Atomic check-and-spend at `now`.
    ///
    /// Group commit: concurrent charges of this process queue up, and one
    /// task at a time runs the queue's charges (up to [`CHARGE_GROUP`]) in
    /// one transaction, one after another as if each had its own: the
    /// cycle row's lock and the commit are paid once per group, not once
    /// per charge. A charge refused for its content (conflict, unknown
    /// workspace) writes nothing and leaves the others in; any database
    /// error rolls the group back and its charges run one by one.
    pub async fn charge(
        &self,
        ws: &str,
        event: &NewEvent,
        now: DateTime<Utc>,
        render: RenderCharge,
    ) -> StoreResult<ChargeOutcome> {
        self.ensure_months(&[now], now).await?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let lead = {
            let mut q = self.charges.lock().unwrap_or_else(|e| e.into_inner());
            q.pending.push(PendingCharge {
                ws: ws.to_string(),
                event: event.clone(),
                now,
                render,
                reply,
                queued: std::time::Instant::now(),
            });
            !std::mem::replace(&mut q.leading, true)
        };
        if lead {
            // Its own task: a caller that goes away (a closed connection)
            // must not take the queue's leader with it.
            let store = self.clone();
            tokio::spawn(async move { store.lead_charges().await });
        }
        answer
            .await
            .map_err(|_| StoreError::Corrupt("the charge's group ended without an answer".into()))?
    }

    async fn charge_group(
        &self,
        requests: &[ChargeRequest<'_>],
    ) -> StoreResult<Vec<StoreResult<ChargeOutcome>>> {
        self.write(|mut tx| async move {
            let r = charge_group_tx(&mut tx, requests).await;
            (tx, r)
        })
        .await
    }

    /// One charge in a transaction of its own: a group of one.
    async fn charge_alone(&self, request: ChargeRequest<'_>) -> StoreResult<ChargeOutcome> {
        self.charge_group(&[request])
            .await?
            .pop()
            .unwrap_or_else(|| Err(StoreError::Corrupt("a charge without an answer".into())))
    }

    /// Runs queued charges in groups until the queue is empty.
    async fn lead_charges(&self) {
        loop {
            let group: Vec<PendingCharge> = {
                let mut q = self.charges.lock().unwrap_or_else(|e| e.into_inner());
                if q.pending.is_empty() {
                    q.leading = false;
                    return;
                }
                let n = q.pending.len().min(CHARGE_GROUP);
                q.pending.drain(..n).collect()
            };
            let started = std::time::Instant::now();
            let waited = group.first().map(|p| started - p.queued);
            let requests: Vec<ChargeRequest<'_>> = group
                .iter()
                .map(|p| (p.ws.as_str(), &p.event, p.now, p.render))
                .collect();
            let grouped = self.charge_group(&requests).await;
            let outcomes: Vec<StoreResult<ChargeOutcome>> = match grouped {
                Ok(outcomes) => outcomes,
                // The database is down or full: so it is for each of them,
                // and they are answered at once, not after a wait each.
                Err(e) if e.is_unavailable() => {
                    tracing::warn!(cause = %e, charges = requests.len(), "charge group: database unavailable");
                    requests
                        .iter()
                        .map(|_| Err(StoreError::Busy("the database is unavailable")))
                        .collect()
                }
                Err(_) => {
                    // One by one, each in its own transaction.
                    let mut out = Vec::with_capacity(requests.len());
                    for request in &requests {
                        out.push(self.charge_alone(*request).await);
                    }
                    out
                }
            };
            let created = outcomes
                .iter()
                .filter(|o| matches!(o, Ok(ChargeOutcome::Created(_))))
                .count();
            self.note_growth(created);
            tracing::debug!(
                target: "credits::charges",
                charges = group.len(),
                created,
                queued_ms = waited.map_or(0.0, ms),
                group_ms = ms(started.elapsed()),
                "charge group"
            );
            let down = outcomes
                .iter()
                .any(|o| matches!(o, Err(e) if e.is_unavailable()));
            for (p, outcome) in group.into_iter().zip(outcomes) {
                let _ = p.reply.send(outcome);
            }
            if down {
                // Those that queued meanwhile would each wait for the
                // database in turn: answered at once as well.
                let waiting: Vec<PendingCharge> = {
                    let mut q = self.charges.lock().unwrap_or_else(|e| e.into_inner());
                    q.pending.drain(..).collect()
                };
                for p in waiting {
                    let _ = p
                        .reply
                        .send(Err(StoreError::Busy("the database is unavailable")));
                }
            }
        }
    }
}
