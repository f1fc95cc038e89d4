//! The store: every SQL statement of the app, for SQLite and PostgreSQL.
//!
//! One `AnyPool` speaks to either engine; statements use `$n` placeholders,
//! which both accept. Writing transactions open with `BEGIN IMMEDIATE` on
//! SQLite (so a read-then-write never hits SQLITE_BUSY) and run in READ
//! COMMITTED on PostgreSQL, where check-and-spend is one conditional UPDATE.
//! Transient failures (lock timeouts, deadlocks, a unique race between two
//! writers of the same id) are retried, never surfaced.
//!
//! One file per concern: this one holds the connection, transactions and
//! shared helpers; `types` the rows; `workspaces` workspaces, members and
//! time-zone moves; `ledger` cycles, grants, events and charges; `reports`
//! reports, summary and overview; `requests` support requests and the
//! outbox; `sessions` sessions and hand-offs; `alerts`; `check` consistency
//! checks and backups.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use app::domain::alerts::AlertSettings;
use app::domain::calendar::{BillingCycle, Calendar, DateRange, WeekStart};
use app::domain::ledger::{plan_change_grant, Action, CycleCredits};
use app::model::{
    AccountManager, ContactLinks, CreditsInfo, CycleInfo, Dimension, Intent, Metric, Overview,
    PeriodInfo, Plan, Price, Report, Summary, SupportRequest, UsageQuery,
};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Row};

mod alerts;
mod check;
mod types;
pub use alerts::{Alert, AlertKind};
pub use check::LedgerCheck;
pub use types::*;

/// Which engine a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The fields (`user_id`, `campaign_id`, `identity_id`) whose ids the
    /// workspace does not hold.
    #[error("unknown references: {0:?}")]
    UnknownReferences(Vec<&'static str>),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
    #[error("unsupported database URL: {0}")]
    BadUrl(String),
    #[error("cannot create the database folder: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Failures that a retry of the whole transaction resolves.
    fn is_transient(&self) -> bool {
        let StoreError::Db(sqlx::Error::Database(e)) = self else {
            return false;
        };
        matches!(
            e.code().as_deref(),
            // PostgreSQL: unique race, serialization failure, deadlock, lock timeout.
            Some("23505") | Some("40001") | Some("40P01") | Some("55P03")
            // SQLite: busy, locked (a busy_timeout ran out).
            | Some("5") | Some("6") | Some("517") | Some("262")
        ) || e.message().contains("database is locked")
    }
}

/// The result type of the store.
pub type StoreResult<T> = Result<T, StoreError>;

const MAX_ATTEMPTS: usize = 8;

/// The most credits a cycle may grant or use: 1,000 times the largest
/// single figure the API takes (10^12), far inside 64 bits.
pub const MAX_CYCLE_CREDITS: i64 = 1_000_000_000_000_000;

/// The database handle.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    growth: std::sync::Arc<Growth>,
    /// SQLite has one writer at a time: this process's write transactions
    /// take turns here (a fair queue) before `BEGIN IMMEDIATE`.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Charges waiting for their group (see [`Store::charge`]).
    charges: std::sync::Arc<std::sync::Mutex<ChargeQueue>>,
}

fn day_str(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn from_ms(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("bad instant {ms}")))
}

/// `''` stands for "none" in aggregate keys.
fn key_of(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn none_if_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

/// A value bound to a statement built at run time.
enum Val {
    I(i64),
    S(String),
    N(Option<String>),
}

/// `($1, $2, ...), (...)` for `rows` rows of `cols` columns.
fn values_sql(rows: usize, cols: usize, first: usize) -> String {
    let mut out = String::new();
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("${}", first + r * cols + c));
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, ...`: `n` parameters for an `IN (...)` list.
fn values_list(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// For SQLite, `$1, $2, ...` (each once, in order) as anonymous `?`:
/// sqlx looks each numbered parameter up by name, which SQLite answers by
/// a linear scan, so a statement of n numbered parameters costs n² (80 %
/// of a 5,000-event batch's time, measured with perf). PostgreSQL keeps
/// its numbers.
fn placeholders_for(conn: &AnyConnection, sql: &str) -> String {
    if conn.backend_name() != "SQLite" {
        return sql.to_string();
    }
    anonymous_placeholders(sql).unwrap_or_else(|| sql.to_string())
}

/// `$1 … $n` in order as `?`; `None` when they are not each once in order.
fn anonymous_placeholders(sql: &str) -> Option<String> {
    let mut out = String::with_capacity(sql.len());
    let mut expected = 1usize;
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits: String = rest[at + 1..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if digits.parse::<usize>().ok()? != expected {
            return None;
        }
        expected += 1;
        out.push('?');
        rest = &rest[at + 1 + digits.len()..];
    }
    out.push_str(rest);
    Some(out)
}

/// Binds `vals` in order.
fn bind_vals<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    vals: Vec<Val>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for v in vals {
        q = match v {
            Val::I(i) => q.bind(i),
            Val::S(s) => q.bind(s),
            Val::N(s) => q.bind(s),
        };
    }
    q
}

async fn exec_values(conn: &mut AnyConnection, sql: &str, vals: Vec<Val>) -> StoreResult<()> {
    let sql = placeholders_for(conn, sql);
    bind_vals(sqlx::query(&sql), vals)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Rows per multi-row statement: within SQLite's and PostgreSQL's bind limits.
const CHUNK: usize = 500;

fn workspace_from_row(row: &AnyRow) -> StoreResult<Workspace> {
    let tz_name: String = row.try_get("timezone")?;
    let tz = Tz::from_str(&tz_name).map_err(|_| StoreError::Corrupt(format!("zone {tz_name}")))?;
    let week_start: String = row.try_get("week_start")?;
    let am_name: Option<String> = row.try_get("am_name")?;
    let am_email: Option<String> = row.try_get("am_email")?;
    let thresholds: String = row.try_get("alert_thresholds")?;
    let runout: i64 = row.try_get("alert_runout")?;
    Ok(Workspace {
        alerts: AlertSettings {
            thresholds: app::domain::alerts::parse_set(&thresholds)
                .into_iter()
                .collect(),
            runout_forecast: runout != 0,
        },
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        tz,
        week_start: WeekStart::parse(&week_start).unwrap_or_default(),
        plan: Plan {
            name: row.try_get("plan_name")?,
            monthly_credits: row.try_get("monthly_credits")?,
            identities_included: row.try_get("identities_included")?,
            price: Price {
                amount_cents: row.try_get("price_cents")?,
                currency: row.try_get("currency")?,
            },
        },
        account_manager: match (am_name, am_email) {
            (Some(name), Some(email)) => Some(AccountManager { name, email }),
            _ => None,
        },
    })
}

mod charges;
mod ledger;
mod naive;
mod writes;
use writes::{ChargeQueue, Growth, FIRST_ANALYZE_AFTER};
mod reports;
mod requests;
mod sessions;
mod workspaces;
use charges::{charge_group_tx, ChargeRequest};
use ledger::*;
pub use naive::Groups;
use workspaces::*;

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
        let pool = AnyPoolOptions::new()
            .max_connections(if engine == Engine::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(120))
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
                        sqlx::query("PRAGMA busy_timeout = 60000")
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
            .connect_with(options)
            .await?;
        if engine == Engine::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let growth = Growth::default();
        growth
            .next
            .store(FIRST_ANALYZE_AFTER, std::sync::atomic::Ordering::Relaxed);
        let store = Store {
            pool,
            engine,
            growth: std::sync::Arc::new(growth),
            writer: Default::default(),
            charges: Default::default(),
        };
        if engine == Engine::Sqlite {
            writes::checkpoint_in_background(&store);
        }
        Ok(store)
    }

    /// The engine behind the pool.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Runs the migrations of the engine.
    pub async fn migrate(&self) -> StoreResult<()> {
        match self.engine {
            Engine::Sqlite => {
                sqlx::migrate!("../migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Engine::Postgres => {
                sqlx::migrate!("../migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- workspaces and what they own ------------------------------------

    /// A workspace by id.
    pub async fn workspace(&self, id: &str) -> StoreResult<Option<Workspace>> {
        let mut conn = self.pool.acquire().await?;
        load_workspace(&mut conn, id).await
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

    /// Creates or updates a workspace. A raise of monthly credits grants the
    /// difference to the current cycle; a cut applies from the next cycle.
    /// Returns whether it was created, and the stored workspace.
    pub async fn put_workspace(
        &self,
        id: &str,
        input: &WorkspaceInput,
        now: DateTime<Utc>,
    ) -> StoreResult<(bool, Workspace)> {
        let (created, stored) = self
            .write(|mut tx| async move {
                let r = put_workspace_tx(&mut tx, id, input, now).await;
                (tx, r)
            })
            .await?;
        // A new zone: move the events in short transactions, never holding
        // SQLite's write lock for the whole move.
        self.rebucket(id).await?;
        Ok((created, stored))
    }

    /// Creates or updates a user, identity or campaign of a workspace.
    /// Returns whether it was created.
    pub async fn put_member(&self, ws: &str, id: &str, member: &Member) -> StoreResult<bool> {
        self.write(|mut tx| async move {
            let r = put_member_tx(&mut tx, ws, id, member).await;
            (tx, r)
        })
        .await
    }

    /// Current names of a workspace's users, identities and campaigns.
    pub async fn names(&self, ws: &str) -> StoreResult<Names> {
        let mut conn = self.pool.acquire().await?;
        load_names(&mut conn, ws).await
    }

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

/// Request ids sort by creation: real milliseconds (even under a pinned
/// clock), then a per-process sequence, then a random tail.
fn new_request_id() -> String {
    new_id("req")
}

/// A new id that sorts by creation (real milliseconds, then a per-process
/// sequence) with a random tail, such as `al_019a…`.
fn new_id(prefix: &str) -> String {
    use rand::Rng;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) % 0x1_0000;
    // 64 random bits: ids made by several processes in the same
    // millisecond with the same sequence number still differ.
    format!(
        "{prefix}_{:012x}{seq:04x}{:016x}",
        Utc::now().timestamp_millis(),
        rand::thread_rng().gen::<u64>()
    )
}

fn prepare_sqlite_url(url: &str) -> StoreResult<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or_default();
    if !path.is_empty() && path != ":memory:" {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
    }
    Ok(if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

async fn load_workspace(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Workspace>> {
    let row = sqlx::query("SELECT * FROM workspaces WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(workspace_from_row).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_numbered_in_order() {
        assert_eq!(values_sql(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(
            anonymous_placeholders("SELECT $1, x FROM t WHERE a IN ($2, $3)").as_deref(),
            Some("SELECT ?, x FROM t WHERE a IN (?, ?)")
        );
        assert_eq!(anonymous_placeholders("SELECT $2, $1"), None);
        assert_eq!(anonymous_placeholders("SELECT $1, $1"), None);
    }

    #[test]
    fn sqlite_urls_create_the_file() {
        let url = prepare_sqlite_url("sqlite://target/test-url/x.db").unwrap_or_default();
        assert_eq!(url, "sqlite://target/test-url/x.db?mode=rwc");
        assert_eq!(
            prepare_sqlite_url("sqlite::memory:").unwrap_or_default(),
            "sqlite::memory:?mode=rwc"
        );
    }
}
