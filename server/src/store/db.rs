//! The database handle: the pool of either engine, its connection
//! settings and migrations, and SQLite's background checkpoints.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;

use super::error::{Engine, StoreError, StoreResult};
use super::sql::{load_workspace, prepare_sqlite_url};
use super::types::{ChargeOutcome, NewEvent, RenderCharge, Workspace};

/// How long a pooled connection may sit idle before it is pinged when handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// How long a SQLite statement waits for the database's lock.
const BUSY_TIMEOUT_MS: u32 = 60_000;

/// Exports streaming at once, per process (API and pages together); past
/// it an export is refused with `503` and `Retry-After` before it reads
/// anything.
pub const MAX_EXPORTS: usize = 8;

/// Connections of the platform API's pool.
fn api_connections(engine: Engine) -> u32 {
    match engine {
        Engine::Sqlite => 8,
        Engine::Postgres => 16,
    }
}

/// How long the platform API waits for a connection (busy, or being
/// opened) before it answers `503`: while the database is down or
/// restarting, requests fail within this, not after the 30 s request
/// deadline, and the pool opens new connections as soon as it is back.
pub const API_WAIT: Duration = Duration::from_secs(3);

/// The same for the pages, whose pool a flood of views keeps busy for
/// seconds at a time (their requests wait their turn in
/// [`crate::priority`] first): within the 30 s request deadline. With
/// 10 s, a flood of 256 year-long Credits pages on PostgreSQL, `--scale
/// 0.1`, had hundreds of pages fail with the database up.
pub const PAGES_WAIT: Duration = Duration::from_secs(25);

/// Connections of the dashboard pages' pool, apart from the API's (see
/// [`Store::for_pages`]), on either engine: 2. One on PostgreSQL was
/// measured too (docs/performance.md, "The API under a flood of pages"):
/// no better for the charges within the noise, and pages 40 % slower.
pub fn page_connections(_engine: Engine) -> u32 {
    2
}

/// The pages' pool size: [`page_connections`], or
/// `CREDITS_PAGE_CONNECTIONS` (1 to 16) where set, for a database with
/// cores to spare.
fn pages_pool_size(engine: Engine) -> u32 {
    std::env::var("CREDITS_PAGE_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| (1..=16).contains(n))
        .unwrap_or_else(|| page_connections(engine))
}

/// A duration in milliseconds, for the timings writes, charge groups and
/// checkpoints log at `debug`.
pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Raw events' retention ([`super::retention`]): the setting, and what
/// this process knows of the months and of the sums of dropped events.
#[derive(Default)]
pub(super) struct Retention {
    /// Months kept before the current one; 0: everything is kept.
    pub(super) months: std::sync::atomic::AtomicU32,
    /// PostgreSQL: the months of `usage_events` known to exist, by their
    /// first instant (ms).
    pub(super) made: std::sync::Mutex<std::collections::HashSet<i64>>,
    /// Whether `event_archive` held rows when this process started, or
    /// this process folded some.
    pub(super) archived: std::sync::atomic::AtomicBool,
}

/// The database handle.
#[derive(Clone)]
pub struct Store {
    /// The pool this handle's statements run on: the API's, or the
    /// pages' for a handle from [`Store::for_pages`].
    pub(super) pool: AnyPool,
    /// The platform API's pool.
    api: AnyPool,
    /// The dashboard pages' pool: however many pages load at once, they
    /// hold at most [`page_connections`] connections, and the platform's
    /// charges and batches never wait behind them for one.
    pages: AnyPool,
    pub(super) engine: Engine,
    pub(super) growth: std::sync::Arc<Growth>,
    /// SQLite has one writer at a time: this process's write transactions
    /// take turns here (a fair queue) before `BEGIN IMMEDIATE`.
    pub(super) writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Charges waiting for their group (see [`Store::charge`]).
    pub(super) charges: std::sync::Arc<std::sync::Mutex<ChargeQueue>>,
    /// SQLite: the WAL's length in frames past which it is truncated.
    pub(super) wal_limit: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// SQLite: the database file (none in memory), whose lock file
    /// serialises the migrations of every process that opens it.
    pub(super) sqlite_file: Option<std::path::PathBuf>,
    /// Places for exports streaming at once (see [`Store::export_permit`]).
    exports: std::sync::Arc<tokio::sync::Semaphore>,
    /// Time-zone moves: whether this process runs them in the background
    /// ([`Store::rebucket_in_background`]), and its wake-up.
    pub(super) mover: std::sync::Arc<(std::sync::atomic::AtomicBool, tokio::sync::Notify)>,
    /// Raw events' retention ([`super::retention`]).
    pub(super) retention: std::sync::Arc<Retention>,
}

impl Store {
    /// Connects to `url` (`sqlite:` or `postgres:`), creating the SQLite
    /// file and its folder when missing.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let (engine, url) = if url.starts_with("sqlite:") {
            (Engine::Sqlite, prepare_sqlite_url(url)?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            (Engine::Postgres, url.to_string())
        } else {
            return Err(StoreError::BadUrl("expected sqlite:… or postgres:…".into()));
        };
        let options = AnyConnectOptions::from_str(&url)?;
        // PostgreSQL: one connection first, on its own: a server that
        // cannot be reached says why (refused, unknown host,
        // authentication), where the pool would only say that its wait ran
        // out. Not SQLite: a file being migrated by another process would
        // answer "locked" to a connection without the pool's busy timeout.
        if engine == Engine::Postgres {
            use sqlx::Connection;
            sqlx::AnyConnection::connect_with(&options)
                .await?
                .close()
                .await?;
        }
        let pool = pool_options(engine, api_connections(engine), API_WAIT, false)
            .connect_with(options.clone())
            .await?;
        let sqlite_file = (engine == Engine::Sqlite)
            .then(|| sqlite_path(&url))
            .flatten();
        // A database in memory is its pool's alone: the pages share it.
        let pages = if engine == Engine::Sqlite && sqlite_file.is_none() {
            pool.clone()
        } else {
            // Its connections are opened where pages first need them: on
            // the pages' threads, whose priority their SQLite threads take.
            pool_options(engine, pages_pool_size(engine), PAGES_WAIT, true)
                .connect_lazy_with(options.clone())
        };
        if engine == Engine::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let growth = Growth::default();
        growth
            .next
            .store(CHECK_STATISTICS_EVERY, std::sync::atomic::Ordering::Relaxed);
        let store = Store {
            pool: pool.clone(),
            api: pool,
            engine,
            growth: std::sync::Arc::new(growth),
            writer: Default::default(),
            charges: Default::default(),
            wal_limit: std::sync::Arc::new(WAL_RESTART_FRAMES.into()),
            pages,
            sqlite_file,
            exports: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_EXPORTS)),
            mover: Default::default(),
            retention: Default::default(),
        };
        if engine == Engine::Sqlite {
            checkpoint_in_background(&store);
        }
        Ok(store)
    }

    /// Sets the WAL's length (in frames) past which SQLite's background
    /// checkpoint makes it start over (default [`WAL_RESTART_FRAMES`]); for tests,
    /// which write less than the default.
    pub fn set_wal_restart_frames(&self, frames: i64) {
        self.wal_limit
            .store(frames, std::sync::atomic::Ordering::Relaxed);
    }

    /// The engine behind the pool.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Runs the migrations of the engine.
    pub async fn migrate(&self) -> StoreResult<()> {
        let started = std::time::Instant::now();
        match self.engine {
            Engine::Sqlite => {
                // sqlx takes an advisory lock for PostgreSQL's migrations and
                // none for SQLite's: two processes starting at once on a
                // fresh file would both run migration 1. An exclusive lock
                // on a file beside the database serialises them; the second
                // finds every migration applied.
                let _lock = match &self.sqlite_file {
                    Some(file) => Some(lock_file(file).await?),
                    None => None,
                };
                sqlx::migrate!("../migrations/sqlite")
                    .run(&self.pool)
                    .await?;
                self.digest_stored_requests().await?;
            }
            Engine::Postgres => {
                sqlx::migrate!("../migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        metrics::gauge!("credits_migrations_seconds").set(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// The same store on the dashboard pages' pool: what pages and their
    /// server functions read and write through, so that a flood of them
    /// queues for its own connections and leaves the API's alone.
    pub fn for_pages(&self) -> Store {
        Store {
            pool: self.pages.clone(),
            ..self.clone()
        }
    }

    /// Each pool's (name, connections open, of which idle), for the metrics.
    pub fn pool_use(&self) -> [(&'static str, u32, usize); 2] {
        [
            ("api", self.api.size(), self.api.num_idle()),
            ("pages", self.pages.size(), self.pages.num_idle()),
        ]
    }

    /// Webhook deliveries not yet delivered, for the metrics.
    pub async fn outbox_backlog(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_outbox WHERE delivered_at IS NULL")
                .fetch_one(&self.api)
                .await?,
        )
    }

    /// Closes both pools.
    pub async fn close(&self) {
        self.api.close().await;
        self.pages.close().await;
    }

    // ---- workspaces and what they own ------------------------------------

    /// A workspace by id.
    pub async fn workspace(&self, id: &str) -> StoreResult<Option<Workspace>> {
        let mut conn = self.pool.acquire().await?;
        load_workspace(&mut conn, id).await
    }

    /// A place for one export to stream, held until it is dropped; `Busy`
    /// when [`MAX_EXPORTS`] are streaming already (per process).
    pub fn export_permit(&self) -> StoreResult<tokio::sync::OwnedSemaphorePermit> {
        self.exports
            .clone()
            .try_acquire_owned()
            .map_err(|_| StoreError::Busy("too many exports at once"))
    }

    /// Ready to serve: the database answers and every migration is applied.
    pub async fn ready(&self) -> StoreResult<()> {
        let expected = match self.engine {
            Engine::Sqlite => sqlx::migrate!("../migrations/sqlite").migrations.len(),
            Engine::Postgres => sqlx::migrate!("../migrations/postgres").migrations.len(),
        };
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await?;
        if applied < expected as i64 {
            return Err(StoreError::Corrupt(format!(
                "{applied} of {expected} migrations applied"
            )));
        }
        Ok(())
    }

    /// Marks a workspace as the demo (`/demo` signs in to it alone).
    pub async fn mark_demo(&self, ws: &str) -> StoreResult<()> {
        sqlx::query("UPDATE workspaces SET is_demo = 1 WHERE id = $1")
            .bind(ws.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether `ws` was seeded as the demo.
    pub async fn is_demo(&self, ws: &str) -> StoreResult<bool> {
        let flag: Option<i64> = sqlx::query_scalar("SELECT is_demo FROM workspaces WHERE id = $1")
            .bind(ws.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(flag == Some(1))
    }

    /// Whether every workspace in the database is the demo (or there is none).
    pub async fn only_demo(&self) -> StoreResult<bool> {
        let real: Option<String> =
            sqlx::query_scalar("SELECT id FROM workspaces WHERE is_demo = 0 LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(real.is_none())
    }

    /// The connection pool (for tests that read the database directly).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database holds no workspace yet.
    pub async fn is_empty(&self) -> StoreResult<bool> {
        let any: Option<String> = sqlx::query_scalar("SELECT id FROM workspaces LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(any.is_none())
    }
}

/// How often SQLite's WAL is checkpointed in the background.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// The WAL's length, in frames, past which the background checkpoint
/// makes sure the WAL starts over (64 MB of 4 KB pages), and the size its
/// file is cut back to when it does (`journal_size_limit`). A PASSIVE
/// checkpoint copies frames into the database but never restarts the WAL:
/// only a writer that finds every frame copied does, which a steady stream
/// of writes never lets happen. The file then grew without bound: 19.9 GB
/// beside an 11.3 GB database after seeding `credits bench --scale 1`.
pub const WAL_RESTART_FRAMES: i64 = 16_384;

/// Runs SQLite's WAL checkpoints on a connection of their own while the
/// store lives: with `wal_autocheckpoint = 0` no writer pays for one in
/// its commit (a PASSIVE checkpoint, as SQLite's automatic one, copies
/// what no reader still needs and never blocks writers). Past
/// [`WAL_RESTART_FRAMES`], a second PASSIVE pass copies what came in
/// during the first, and a third runs in this process's writers' turn, so
/// that no frame is written meanwhile: it copies the last few, every frame
/// is then in the database, and the next writer starts the WAL over from
/// its beginning (where no reader still reads an older frame; else a later
/// round does). Nothing here truncates the file: cutting a 100 MB WAL
/// took 25-50 ms, in the writers' turn.
///
/// Until v1.2 the pass in the writers' turn was a TRUNCATE that waited up
/// to 50 ms for readers, copied everything since the first pass, and cut
/// the file: 22 such passes in a minute of charges at `--scale 0.1`, each
/// holding the turn for 54 ms at the median, made the charges' p99
/// (docs/performance.md, "Where the charges' tail came from").
pub(super) fn checkpoint_in_background(store: &Store) {
    let alive = std::sync::Arc::downgrade(&store.growth);
    let pool = store.pool.clone();
    let writer = store.writer.clone();
    let limit = store.wal_limit.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
            if alive.upgrade().is_none() || pool.is_closed() {
                return;
            }
            let limit = limit.load(std::sync::atomic::Ordering::Relaxed);
            let started = std::time::Instant::now();
            if let Err(e) = checkpoint(&pool, &writer, limit).await {
                tracing::warn!("WAL checkpoint: {e}");
            }
            metrics::histogram!("credits_sqlite_checkpoint_seconds")
                .record(started.elapsed().as_secs_f64());
        }
    });
}

/// (busy, frames in the WAL, frames copied into the database) of a
/// PASSIVE checkpoint.
async fn passive<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    on: E,
) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(on)
        .await
}

/// One background checkpoint: PASSIVE, and past `limit` frames two more,
/// the last in the writers' turn (see [`checkpoint_in_background`]).
async fn checkpoint(
    pool: &sqlx::AnyPool,
    writer: &tokio::sync::Mutex<()>,
    limit: i64,
) -> Result<(), sqlx::Error> {
    let started = std::time::Instant::now();
    let (_, frames, copied) = passive(pool).await?;
    if frames < limit {
        tracing::debug!(target: "credits::checkpoint", frames, copied,
            passive_ms = ms(started.elapsed()), "passive checkpoint");
        return Ok(());
    }
    passive(pool).await?;
    let outside = started.elapsed();
    // Writers take their turn before their connection, and so does this.
    let turn = writer.lock().await;
    let turned = std::time::Instant::now();
    let mut conn = pool.acquire().await?;
    let (_, last, copied_last) = passive(&mut *conn).await?;
    drop(turn);
    tracing::debug!(target: "credits::checkpoint", frames, last, copied_last,
        outside_ms = ms(outside),
        turn_wait_ms = ms(turned - started - outside),
        held_ms = ms(turned.elapsed()), "checkpoint to restart the WAL");
    Ok(())
}

#[derive(Default)]
pub(super) struct ChargeQueue {
    pub(super) pending: Vec<PendingCharge>,
    /// Whether a task is running the queue.
    pub(super) leading: bool,
}

pub(super) struct PendingCharge {
    pub(super) ws: String,
    pub(super) event: NewEvent,
    pub(super) now: DateTime<Utc>,
    pub(super) render: RenderCharge,
    pub(super) reply: tokio::sync::oneshot::Sender<StoreResult<ChargeOutcome>>,
    /// When it joined the queue (for the group's timings).
    pub(super) queued: std::time::Instant,
}

/// PostgreSQL's planner statistics, refreshed where the app controls it:
/// autovacuum may be off (or behind), and plans chosen on the statistics of
/// a small table walk a large one. Every 10,000 new events, this process
/// looks at how much each of the ledger's tables changed since its last
/// `ANALYZE` and refreshes those past autovacuum's own threshold (see
/// `Store::refresh_stale_statistics`), in the background, one check at a
/// time.
#[derive(Default)]
pub(super) struct Growth {
    pub(super) rows: std::sync::atomic::AtomicU64,
    pub(super) next: std::sync::atomic::AtomicU64,
    pub(super) running: std::sync::atomic::AtomicBool,
}

/// New events between two checks of the statistics.
pub(super) const CHECK_STATISTICS_EVERY: u64 = 10_000;

/// The settings of a pool of `connections` to the engine.
fn pool_options(engine: Engine, connections: u32, wait: Duration, pages: bool) -> AnyPoolOptions {
    // The pages' statements on PostgreSQL yield to the API's requests.
    let pace = pages && engine == Engine::Postgres;
    // SQLite: a file, never "down" the way a server is; its pool keeps the
    // long wait (two processes starting at once on a fresh file wait for
    // each other's migrations there).
    let wait = if engine == Engine::Sqlite {
        Duration::from_secs(120)
    } else {
        wait
    };
    AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(wait)
        // sqlx pings every connection it hands out by default: a round
        // trip (PostgreSQL) or a hand-off to the connection's thread
        // (SQLite) before each statement. Measured on PostgreSQL at
        // `--scale 0.1`, two runs each, same database: conversations by
        // identity over a month 1.8 ms p95 with it, 1.0 ms without; the
        // 38 reports' p50s summed 28-31 ms with it, 26-27 ms without.
        // A connection used in the last second is alive; one idle for
        // longer (the server may have restarted meanwhile) is still
        // pinged, and closed if it does not answer.
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if pace {
                    crate::priority::yield_to_api().await;
                }
                if meta.idle_for > IDLE_BEFORE_PING {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        // A transaction whose COMMIT failed (SQLite on a full disk, say)
        // may have been rolled back by the engine already: sqlx's ROLLBACK
        // on drop then fails and the connection believes it is still in a
        // transaction, refusing every later BEGIN. Such a connection is
        // closed, not pooled (the ping first lets a queued ROLLBACK run).
        .after_release(|conn, _meta| {
            Box::pin(async move {
                use sqlx::Connection;
                if conn.is_in_transaction() {
                    conn.ping().await?;
                    if conn.is_in_transaction() {
                        tracing::warn!("a connection left in a transaction is closed");
                        return Ok(false);
                    }
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if engine == Engine::Postgres {
                    // Plans cached while a table was small (seq scans) must
                    // not outlive its growth: plan each statement afresh.
                    sqlx::query("SET plan_cache_mode = force_custom_plan")
                        .execute(&mut *conn)
                        .await?;
                }
                if engine == Engine::Sqlite {
                    sqlx::query(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"))
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    // Checkpoints run in the background (below), not
                    // in the commit of whichever writer fills the WAL.
                    sqlx::query("PRAGMA wal_autocheckpoint = 0")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
}

/// The SQLite file a `sqlite:` URL names; `None` in memory.
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// Takes an exclusive lock on `<file>.migrate-lock` (waiting for another
/// process that holds it); released when the returned file is dropped.
async fn lock_file(file: &std::path::Path) -> StoreResult<std::fs::File> {
    let mut name = file.as_os_str().to_owned();
    name.push(".migrate-lock");
    let path = std::path::PathBuf::from(name);
    let locked = tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        f.lock()?;
        Ok::<_, std::io::Error>(f)
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("migration lock: {e}")))??;
    Ok(locked)
}
