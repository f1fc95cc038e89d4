//! The store: every SQL statement of the app, for SQLite and PostgreSQL.
//!
//! One `AnyPool` speaks to either engine; statements use `$n` placeholders,
//! which both accept. Writing transactions open with `BEGIN IMMEDIATE` on
//! SQLite (so a read-then-write never hits SQLITE_BUSY) and run in READ
//! COMMITTED on PostgreSQL, where check-and-spend is one conditional UPDATE.
//! Transient failures (lock timeouts, deadlocks, a unique race between two
//! writers of the same id) are retried, never surfaced.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use app::domain::alerts::AlertSettings;
use app::domain::calendar::{BillingCycle, Calendar, DateRange, WeekStart};
use app::domain::ledger::{plan_change_grant, Action, CycleCredits};
use app::model::{
    AccountManager, ContactLinks, CreditsInfo, CycleInfo, Dimension, GroupRow, Intent, Metric,
    Overview, PeriodInfo, Plan, Price, Report, Summary, SupportRequest, UsageQuery,
};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Row};

mod alerts;
mod check;
pub use alerts::{Alert, AlertKind};
pub use check::LedgerCheck;

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

/// A workspace as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub tz: Tz,
    pub week_start: WeekStart,
    pub plan: Plan,
    pub account_manager: Option<AccountManager>,
    pub alerts: AlertSettings,
}

impl Workspace {
    /// The workspace's calendar.
    pub fn calendar(&self) -> Calendar {
        Calendar::new(self.tz, self.week_start)
    }

    /// The workspace as the API returns it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "timezone": self.tz.name(),
            "week_start": self.week_start.as_str(),
            "plan": self.plan,
            "account_manager": self.account_manager,
            "alerts": {
                "thresholds": self.alerts.thresholds,
                "runout_forecast": self.alerts.runout_forecast,
            },
        })
    }
}

/// A workspace's fields as the platform sends them.
#[derive(Debug, Clone)]
pub struct WorkspaceInput {
    pub name: String,
    pub tz: Tz,
    pub week_start: WeekStart,
    pub plan: Plan,
    pub account_manager: Option<AccountManager>,
    /// Fields left out keep the stored settings (the default for a new workspace).
    pub alerts: Option<AlertsPatch>,
}

/// A change of alert settings: a field left out keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertsPatch {
    pub thresholds: Option<Vec<u8>>,
    pub runout_forecast: Option<bool>,
}

impl AlertsPatch {
    /// The settings after this change.
    pub fn apply(&self, to: &AlertSettings) -> AlertSettings {
        AlertSettings {
            thresholds: self
                .thresholds
                .clone()
                .unwrap_or_else(|| to.thresholds.clone()),
            runout_forecast: self.runout_forecast.unwrap_or(to.runout_forecast),
        }
    }
}

/// A user, identity or campaign, as the platform sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    User {
        name: String,
        email: String,
        role: String,
    },
    Identity {
        name: String,
        channel: String,
        user_id: String,
    },
    Campaign {
        name: String,
        status: String,
    },
}

/// Ids known in a workspace, to check references before writing.
#[derive(Debug, Default, Clone)]
pub struct KnownIds {
    pub users: HashSet<String>,
    /// identity id → its user id
    pub identities: HashMap<String, String>,
    pub campaigns: HashSet<String>,
}

/// A credit grant to the current cycle.
#[derive(Debug, Clone)]
pub struct GrantInput {
    pub id: String,
    pub kind: String,
    pub credits: i64,
    pub note: Option<String>,
    pub price: Option<Price>,
    /// The request as canonical JSON, to recognise a replay.
    pub request: String,
}

/// A validated usage event.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    /// `Some` for credit events, `None` for conversations.
    pub credits: Option<(Action, i64)>,
    pub user_id: String,
    pub campaign_id: Option<String>,
    pub identity_id: Option<String>,
    /// The event as canonical JSON, to recognise a duplicate.
    pub request: String,
}

/// Outcome of a batch of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    pub inserted: usize,
    pub duplicates: usize,
}

/// Outcome of a charge.
#[derive(Debug, Clone, PartialEq)]
pub enum ChargeOutcome {
    /// Spent; the response body.
    Created(serde_json::Value),
    /// The same request again; the first response's body.
    Replayed(serde_json::Value),
    /// Not enough credits left; nothing recorded.
    Insufficient { credits_left: i64 },
}

/// One event row of the CSV export.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub action: String,
    pub credits: i64,
    pub user_id: String,
    pub campaign_id: Option<String>,
    pub identity_id: Option<String>,
}

/// A signed-in user of one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub workspace_id: String,
    pub user_id: String,
    /// Opened inside the platform's iframe.
    pub embedded: bool,
    pub theme: Option<String>,
    pub locale: Option<String>,
}

/// Where a request's webhook delivery stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub created_ms: i64,
    pub attempts: i64,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// A delivery leased to this process.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub request_id: String,
    pub payload: String,
    pub attempts: i64,
}

/// Names of a workspace's users, identities and campaigns, for labels.
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub users: HashMap<String, String>,
    pub identities: HashMap<String, String>,
    pub campaigns: HashMap<String, (String, String)>,
}

/// The database handle.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
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

async fn exec_values(conn: &mut AnyConnection, sql: &str, vals: Vec<Val>) -> StoreResult<()> {
    let mut q = sqlx::query(sql);
    for v in vals {
        q = match v {
            Val::I(i) => q.bind(i),
            Val::S(s) => q.bind(s),
            Val::N(s) => q.bind(s),
        };
    }
    q.execute(&mut *conn).await?;
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

/// Retries a transaction body on transient failures.
macro_rules! in_write_tx {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut $tx = $store.begin_write().await?;
            let result = $body;
            match result {
                Ok(v) => match $tx.commit().await {
                    Ok(()) => break Ok(v),
                    Err(e) => {
                        let e = StoreError::from(e);
                        if attempt < MAX_ATTEMPTS && e.is_transient() {
                            continue;
                        }
                        break Err(e);
                    }
                },
                Err(e) => {
                    let _ = $tx.rollback().await;
                    if attempt < MAX_ATTEMPTS && e.is_transient() {
                        tokio::time::sleep(Duration::from_millis(5 * attempt as u64)).await;
                        continue;
                    }
                    break Err(e);
                }
            }
        }
    }};
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
        Ok(Store { pool, engine })
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

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        })
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
        let (created, stored) =
            in_write_tx!(self, |tx| put_workspace_tx(&mut tx, id, input, now).await)?;
        // A new zone: move the events in short transactions, never holding
        // SQLite's write lock for the whole move.
        self.rebucket(id).await?;
        Ok((created, stored))
    }

    /// Creates or updates a user, identity or campaign of a workspace.
    /// Returns whether it was created.
    pub async fn put_member(&self, ws: &str, id: &str, member: &Member) -> StoreResult<bool> {
        in_write_tx!(self, |tx| put_member_tx(&mut tx, ws, id, member).await)
    }

    /// The ids of a workspace's users, identities and campaigns.
    pub async fn known_ids(&self, ws: &str) -> StoreResult<KnownIds> {
        let mut conn = self.pool.acquire().await?;
        let mut known = KnownIds::default();
        for row in sqlx::query("SELECT id FROM users WHERE workspace_id = $1")
            .bind(ws)
            .fetch_all(&mut *conn)
            .await?
        {
            known.users.insert(row.try_get("id")?);
        }
        for row in sqlx::query("SELECT id, user_id FROM identities WHERE workspace_id = $1")
            .bind(ws)
            .fetch_all(&mut *conn)
            .await?
        {
            known
                .identities
                .insert(row.try_get("id")?, row.try_get("user_id")?);
        }
        for row in sqlx::query("SELECT id FROM campaigns WHERE workspace_id = $1")
            .bind(ws)
            .fetch_all(&mut *conn)
            .await?
        {
            known.campaigns.insert(row.try_get("id")?);
        }
        Ok(known)
    }

    /// Current names of a workspace's users, identities and campaigns.
    pub async fn names(&self, ws: &str) -> StoreResult<Names> {
        let mut conn = self.pool.acquire().await?;
        load_names(&mut conn, ws).await
    }

    // ---- grants ---------------------------------------------------------

    /// Grants add-on or rollover credits to the current cycle. Returns
    /// whether it was created and the response body (the first one on a
    /// replay); the same id with another body is a conflict.
    pub async fn create_grant(
        &self,
        ws: &str,
        grant: &GrantInput,
        now: DateTime<Utc>,
    ) -> StoreResult<(bool, serde_json::Value)> {
        in_write_tx!(self, |tx| create_grant_tx(&mut tx, ws, grant, now).await)
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
        in_write_tx!(self, |tx| record_events_tx(&mut tx, ws, events, now).await)
    }

    /// Atomic check-and-spend at `now`.
    pub async fn charge(
        &self,
        ws: &str,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<ChargeOutcome> {
        in_write_tx!(self, |tx| charge_tx(&mut tx, ws, event, now).await)
    }

    // ---- reads ----------------------------------------------------------

    /// The credits of the cycle holding `date`.
    pub async fn cycle_credits(
        &self,
        ws: &Workspace,
        cycle: BillingCycle,
    ) -> StoreResult<CycleCredits> {
        let mut conn = self.pool.acquire().await?;
        cycle_credits(&mut conn, ws, cycle.start).await
    }

    /// `GET /summary`.
    pub async fn summary(&self, ws_id: &str, now: DateTime<Utc>) -> StoreResult<Summary> {
        let ws = self.workspace(ws_id).await?.ok_or(StoreError::NotFound)?;
        self.summary_of(&ws, now).await
    }

    async fn summary_of(&self, ws: &Workspace, now: DateTime<Utc>) -> StoreResult<Summary> {
        let today = ws.calendar().today(now);
        let cycle = BillingCycle::containing(today);
        let credits = self.cycle_credits(ws, cycle).await?;
        Ok(Summary {
            workspace_id: ws.id.clone(),
            timezone: ws.tz.name().to_string(),
            today,
            cycle: CycleInfo {
                start: cycle.start,
                end: cycle.end,
                renews_on: cycle.end,
                days_until_renewal: cycle.days_until_renewal(today),
            },
            plan: ws.plan.clone(),
            credits: CreditsInfo::from(credits),
        })
    }

    /// The dashboard's header and Plan tab.
    pub async fn overview(
        &self,
        ws_id: &str,
        now: DateTime<Utc>,
        contact: ContactLinks,
    ) -> StoreResult<Overview> {
        let ws = self.workspace(ws_id).await?.ok_or(StoreError::NotFound)?;
        let summary = self.summary_of(&ws, now).await?;
        let identities: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM identities WHERE workspace_id = $1")
                .bind(ws_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(Overview {
            summary,
            workspace_name: ws.name.clone(),
            week_start: ws.week_start.as_str().to_string(),
            account_manager: ws.account_manager.clone(),
            identities_registered: identities,
            as_of: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            last_request: self
                .support_requests(ws_id, 1, None)
                .await?
                .into_iter()
                .next()
                .map(|(r, _)| r),
            contact,
            locale: None,
            // Filled in by the page layer, which knows the viewer.
            alerts: Default::default(),
        })
    }

    /// The role (`admin` or `member`) of a user of a workspace.
    pub async fn user_role(&self, ws: &str, user: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT role FROM users WHERE workspace_id = $1 AND id = $2")
                .bind(ws.to_string())
                .bind(user.to_string())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    // ---- requests to the account manager ----------------------------------

    /// Stores a request and queues its webhook delivery, in one transaction.
    pub async fn create_support_request(
        &self,
        ws: &Workspace,
        user_id: Option<&str>,
        intent: Intent,
        message: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<SupportRequest> {
        let id = new_request_id();
        let request = SupportRequest {
            id,
            workspace_id: ws.id.clone(),
            user_id: user_id.map(str::to_string),
            intent,
            message: message.to_string(),
            created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let payload = serde_json::json!({
            "type": "support_request.created",
            "id": request.id,
            "workspace_id": request.workspace_id,
            "workspace_name": ws.name,
            "user_id": request.user_id,
            "intent": request.intent,
            "message": request.message,
            "created_at": request.created_at,
            "account_manager": ws.account_manager,
        })
        .to_string();
        in_write_tx!(self, |tx| {
            async {
            sqlx::query(
                "INSERT INTO support_requests (id, workspace_id, user_id, intent, message, created_at, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(request.id.clone())
            .bind(ws.id.clone())
            .bind(request.user_id.clone())
            .bind(intent.key().to_string())
            .bind(message.to_string())
            .bind(now.timestamp_millis())
            .bind(Utc::now().timestamp_millis())
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO webhook_outbox (request_id, payload, next_attempt_at) VALUES ($1, $2, $3)")
                .bind(request.id.clone())
                .bind(payload.clone())
                .bind(Utc::now().timestamp_millis())
                .execute(&mut *tx)
                .await?;
            Ok::<_, StoreError>(())
        }
        .await
        })?;
        Ok(request)
    }

    /// How many requests a user of a workspace sent since `since` (real time).
    pub async fn requests_since(
        &self,
        ws: &str,
        user_id: Option<&str>,
        since: DateTime<Utc>,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM support_requests WHERE workspace_id = $1 AND user_id = $2 AND sent_at >= $3",
        )
        .bind(ws.to_string())
        .bind(user_id.unwrap_or("").to_string())
        .bind(since.timestamp_millis())
        .fetch_one(&self.pool)
        .await?)
    }

    /// A workspace's requests, newest first, after the cursor `(created_at_ms, id)`.
    pub async fn support_requests(
        &self,
        ws: &str,
        limit: i64,
        before: Option<(i64, String)>,
    ) -> StoreResult<Vec<(SupportRequest, Delivery)>> {
        let base = "SELECT r.id, r.workspace_id, r.user_id, r.intent, r.message, r.created_at, \
                    o.attempts, o.delivered_at, o.last_error \
                    FROM support_requests r LEFT JOIN webhook_outbox o ON o.request_id = r.id WHERE r.workspace_id = $1";
        let order = format!(
            " ORDER BY r.created_at DESC, r.id DESC LIMIT {}",
            // One past the largest page: the API asks for it to know whether there is more.
            limit.clamp(1, 101)
        );
        let rows = match before {
            Some((ms, id)) => {
                sqlx::query(&format!(
                    "{base} AND (r.created_at < $2 OR (r.created_at = $2 AND r.id < $3)){order}"
                ))
                .bind(ws.to_string())
                .bind(ms)
                .bind(id)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!("{base}{order}"))
                    .bind(ws.to_string())
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter()
            .map(|r| {
                let intent: String = r.try_get("intent")?;
                let created: i64 = r.try_get("created_at")?;
                let delivered: Option<i64> = r.try_get("delivered_at")?;
                Ok((
                    SupportRequest {
                        id: r.try_get("id")?,
                        workspace_id: r.try_get("workspace_id")?,
                        user_id: r.try_get("user_id")?,
                        intent: Intent::parse(&intent)
                            .ok_or_else(|| StoreError::Corrupt(format!("intent {intent}")))?,
                        message: r.try_get("message")?,
                        created_at: from_ms(created)?
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    },
                    Delivery {
                        created_ms: created,
                        attempts: r.try_get::<Option<i64>, _>("attempts")?.unwrap_or(0),
                        delivered_at: delivered.map(from_ms).transpose()?,
                        last_error: r.try_get("last_error")?,
                    },
                ))
            })
            .collect()
    }

    // ---- sessions ---------------------------------------------------------

    /// Opens a session for a user of a workspace; returns the session token
    /// (only its hash is stored).
    pub async fn create_session(
        &self,
        session: &Session,
        ttl: chrono::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<String> {
        let token = crate::auth::new_session_token();
        let hash = crate::auth::token_hash(&token);
        in_write_tx!(self, |tx| {
            async {
            sqlx::query(
                "INSERT INTO sessions (token_hash, workspace_id, user_id, embedded, theme, locale, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(hash.clone())
            .bind(session.workspace_id.clone())
            .bind(session.user_id.clone())
            .bind(i64::from(session.embedded))
            .bind(session.theme.clone())
            .bind(session.locale.clone())
            .bind(now.timestamp_millis())
            .bind((now + ttl).timestamp_millis())
            .execute(&mut *tx)
            .await?;
            // Sweep long-expired sessions now and then.
            sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                .bind((now - chrono::Duration::days(7)).timestamp_millis())
                .execute(&mut *tx)
                .await?;
            Ok::<_, StoreError>(())
        }
        .await
        })?;
        Ok(token)
    }

    /// The live session of a token, if any.
    pub async fn session(&self, token: &str, now: DateTime<Utc>) -> StoreResult<Option<Session>> {
        let row = sqlx::query(
            "SELECT workspace_id, user_id, embedded, theme, locale FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(crate::auth::token_hash(token))
        .bind(now.timestamp_millis())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Session {
                workspace_id: r.try_get("workspace_id")?,
                user_id: r.try_get("user_id")?,
                embedded: r.try_get::<i64, _>("embedded")? != 0,
                theme: r.try_get("theme")?,
                locale: r.try_get("locale")?,
            })
        })
        .transpose()
    }

    /// Ends a session.
    pub async fn end_session(&self, token: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(crate::auth::token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the first use of a hand-off token's id; false when it was
    /// used already (a replay). Ids of expired tokens are forgotten.
    pub async fn claim_handoff(
        &self,
        jti: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        sqlx::query("DELETE FROM used_handoffs WHERE expires_at < $1")
            .bind(now.timestamp_millis())
            .execute(&self.pool)
            .await?;
        let done = sqlx::query(
            "INSERT INTO used_handoffs (jti_hash, expires_at) VALUES ($1, $2) ON CONFLICT (jti_hash) DO NOTHING",
        )
        .bind(crate::auth::token_hash(jti))
        .bind(expires_at.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Leases up to `limit` due deliveries to `owner` for `lease`; another
    /// process cannot take them until the lease ends.
    pub async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
        owner: &str,
    ) -> StoreResult<Vec<Claimed>> {
        let now_ms = now.timestamp_millis();
        let until = (now + lease).timestamp_millis();
        in_write_tx!(self, |tx| {
            async {
            let rows = sqlx::query(&format!(
                "UPDATE webhook_outbox SET locked_until = $2, lease_owner = $3 WHERE delivered_at IS NULL AND locked_until <= $1 \
                 AND request_id IN (SELECT request_id FROM webhook_outbox WHERE delivered_at IS NULL \
                 AND next_attempt_at <= $1 AND locked_until <= $1 ORDER BY next_attempt_at LIMIT {}) \
                 RETURNING request_id, payload, attempts",
                limit.clamp(1, 100)
            ))
            .bind(now_ms)
            .bind(until)
            .bind(owner.to_string())
            .fetch_all(&mut *tx)
            .await?;
            rows.iter()
                .map(|r| Ok(Claimed { request_id: r.try_get("request_id")?, payload: r.try_get("payload")?, attempts: r.try_get("attempts")? }))
                .collect::<StoreResult<Vec<_>>>()
        }
        .await
        })
    }

    /// Records a delivery's outcome (delivered at an instant, or an error and
    /// the next attempt's time) if `owner` still holds its lease; false when
    /// the lease had passed to another process, which then owns the row.
    pub async fn finish_delivery(
        &self,
        request_id: &str,
        owner: &str,
        outcome: &Result<DateTime<Utc>, (String, DateTime<Utc>)>,
    ) -> StoreResult<bool> {
        in_write_tx!(self, |tx| {
            async {
            let q = match outcome {
                Ok(at) => sqlx::query(
                    "UPDATE webhook_outbox SET delivered_at = $2, attempts = attempts + 1, locked_until = 0, \
                     last_error = NULL, lease_owner = NULL WHERE request_id = $1 AND lease_owner = $3 AND delivered_at IS NULL",
                )
                .bind(request_id.to_string())
                .bind(at.timestamp_millis())
                .bind(owner.to_string()),
                Err((error, next)) => sqlx::query(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $2, locked_until = 0, \
                     last_error = $3, lease_owner = NULL WHERE request_id = $1 AND lease_owner = $4 AND delivered_at IS NULL",
                )
                .bind(request_id.to_string())
                .bind(next.timestamp_millis())
                .bind(error.chars().take(500).collect::<String>())
                .bind(owner.to_string()),
            };
            let done = q.execute(&mut *tx).await?;
            Ok::<_, StoreError>(done.rows_affected() == 1)
        }
        .await
        })
    }

    /// A usage report over the per-day aggregates.
    pub async fn report(
        &self,
        ws: &Workspace,
        metric: Metric,
        query: &UsageQuery,
        now: DateTime<Utc>,
    ) -> StoreResult<Report> {
        let names = self.names(&ws.id).await?;
        self.report_named(ws, metric, query, now, &names).await
    }

    /// A usage report labelled with names the caller loaded once (a view
    /// makes several reports: one statement each).
    pub async fn report_named(
        &self,
        ws: &Workspace,
        metric: Metric,
        query: &UsageQuery,
        now: DateTime<Utc>,
        names: &Names,
    ) -> StoreResult<Report> {
        let cal = ws.calendar();
        let range = query.period.range(cal.today(now), cal.week_start);
        let mut conn = self.pool.acquire().await?;
        let (table, value) = match metric {
            Metric::Credits => ("credit_daily", "credits"),
            Metric::Conversations => ("conversation_daily", "conversations"),
        };
        // Category is folded from action in Rust.
        let columns: Vec<&str> = query
            .group_by
            .iter()
            .map(|d| match d {
                Dimension::Day => "day",
                Dimension::Action | Dimension::Category => "action",
                Dimension::User => "user_id",
                Dimension::Campaign => "campaign_id",
                Dimension::Identity => "identity_id",
            })
            .collect();
        let mut sql = String::from("SELECT ");
        for (i, c) in columns.iter().enumerate() {
            sql.push_str(&format!("{c} AS k{i}, "));
        }
        sql.push_str(&format!(
            "CAST(COALESCE(SUM({value}), 0) AS BIGINT) AS v FROM {table} WHERE workspace_id = $1 AND day >= $2 AND day < $3"
        ));
        let mut binds = vec![ws.id.clone(), day_str(range.from), day_str(range.to)];
        let f = &query.filters;
        let mut filter = |col: &str, v: &Option<String>| {
            if let Some(v) = v {
                binds.push(v.clone());
                sql.push_str(&format!(" AND {col} = ${}", binds.len()));
            }
        };
        filter("user_id", &f.user_id);
        if metric == Metric::Credits {
            filter("action", &f.action);
        }
        filter("campaign_id", &f.campaign_id);
        filter("identity_id", &f.identity_id);
        if !columns.is_empty() {
            sql.push_str(&format!(" GROUP BY {}", columns.join(", ")));
        }
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&mut *conn).await?;
        let mut groups: BTreeMap<Vec<Option<String>>, i64> = BTreeMap::new();
        let mut total = 0i64;
        for row in &rows {
            let v: i64 = row.try_get("v")?;
            total += v;
            if columns.is_empty() {
                continue;
            }
            let mut keys = Vec::with_capacity(columns.len());
            for (i, d) in query.group_by.iter().enumerate() {
                let raw: String = row.try_get(format!("k{i}").as_str())?;
                keys.push(match d {
                    Dimension::Category => {
                        Action::parse(&raw).map(|a| a.category().key().to_string())
                    }
                    _ => none_if_empty(raw),
                });
            }
            *groups.entry(keys).or_default() += v;
        }
        let rows = arrange_rows(&query.group_by, groups, range, names);
        Ok(Report {
            metric,
            period: PeriodInfo {
                name: query.period.name().to_string(),
                from: range.from,
                to: range.to,
                timezone: ws.tz.name().to_string(),
            },
            group_by: query.group_by.clone(),
            total,
            rows,
        })
    }

    /// Credit events of a period with the query's filters, in time order,
    /// a page at a time after `(after_ms, after_id)`.
    pub async fn credit_events_page(
        &self,
        ws: &Workspace,
        range: DateRange,
        query: &UsageQuery,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> StoreResult<Vec<EventRow>> {
        let (from, to) = ws.calendar().instants(range);
        let mut sql = String::from(
            "SELECT id, occurred_at, action, credits, user_id, campaign_id, identity_id FROM usage_events \
             WHERE workspace_id = $1 AND kind = 'credits' AND occurred_at >= $2 AND occurred_at < $3",
        );
        let mut ints = vec![from.timestamp_millis(), to.timestamp_millis()];
        let mut texts: Vec<String> = Vec::new();
        let mut n = 3;
        if let Some((ms, _)) = &after {
            ints.push(*ms);
            n += 1;
            let ms_pos = n;
            n += 1;
            sql.push_str(&format!(
                " AND (occurred_at > ${ms_pos} OR (occurred_at = ${ms_pos} AND id > ${n}))"
            ));
        }
        let f = &query.filters;
        let mut filters: Vec<(&str, String)> = Vec::new();
        for (col, v) in [
            ("user_id", &f.user_id),
            ("action", &f.action),
            ("campaign_id", &f.campaign_id),
            ("identity_id", &f.identity_id),
        ] {
            if let Some(v) = v {
                filters.push((col, v.clone()));
            }
        }
        let first_filter = n + 1;
        for (i, (col, _)) in filters.iter().enumerate() {
            sql.push_str(&format!(" AND {col} = ${}", first_filter + i));
        }
        sql.push_str(&format!(
            " ORDER BY occurred_at, id LIMIT {}",
            limit.clamp(1, 10_000)
        ));
        let mut q = sqlx::query(&sql).bind(ws.id.clone());
        for i in ints {
            q = q.bind(i);
        }
        if let Some((_, id)) = after {
            texts.push(id);
        }
        for t in texts {
            q = q.bind(t);
        }
        for (_, v) in filters {
            q = q.bind(v);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    id: r.try_get("id")?,
                    occurred_at: from_ms(r.try_get("occurred_at")?)?,
                    action: r
                        .try_get::<Option<String>, _>("action")?
                        .unwrap_or_default(),
                    credits: r.try_get::<Option<i64>, _>("credits")?.unwrap_or_default(),
                    user_id: r.try_get("user_id")?,
                    campaign_id: r.try_get("campaign_id")?,
                    identity_id: r.try_get("identity_id")?,
                })
            })
            .collect()
    }

    /// How many usage events a workspace holds.
    pub async fn count_events(&self, ws: &str) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM usage_events WHERE workspace_id = $1")
                .bind(ws)
                .fetch_one(&self.pool)
                .await?,
        )
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

/// Sorts groups as API.md says and labels them. `group_by=day` alone lists
/// every day of the period, zero-filled, in date order; `day` with another
/// dimension is a time series (date order, then value descending, then
/// key); anything else is by value descending, then key (none last).
fn arrange_rows(
    dims: &[Dimension],
    groups: BTreeMap<Vec<Option<String>>, i64>,
    range: DateRange,
    names: &Names,
) -> Vec<GroupRow> {
    if dims.is_empty() {
        return Vec::new();
    }
    if dims == [Dimension::Day] {
        return range
            .dates()
            .map(|d| {
                let key = Some(day_str(d));
                let value = groups.get(&vec![key.clone()]).copied().unwrap_or(0);
                GroupRow {
                    keys: vec![key],
                    label: None,
                    value,
                }
            })
            .collect();
    }
    let single = dims.len() == 1 && dims[0] != Dimension::Day;
    let mut rows: Vec<GroupRow> = groups
        .into_iter()
        .map(|(keys, value)| {
            let label = single.then(|| label_of(dims[0], keys[0].as_deref(), names));
            GroupRow { keys, label, value }
        })
        .collect();
    let key = |r: &GroupRow| {
        r.keys
            .iter()
            .map(|k| (k.is_none(), k.clone()))
            .collect::<Vec<_>>()
    };
    match dims.iter().position(|d| *d == Dimension::Day) {
        // A time series (`day,action`, `user,day`...): date order, then
        // value descending, then key.
        Some(day) => rows.sort_by(|a, b| {
            a.keys[day]
                .cmp(&b.keys[day])
                .then_with(|| b.value.cmp(&a.value))
                .then_with(|| key(a).cmp(&key(b)))
        }),
        None => rows.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| key(a).cmp(&key(b)))),
    }
    rows
}

/// The current label of a key; "None" for events that name none.
pub fn label_of(dim: Dimension, key: Option<&str>, names: &Names) -> String {
    let Some(key) = key else {
        return "None".to_string();
    };
    let found = match dim {
        Dimension::Day => None,
        Dimension::Action => Action::parse(key).map(|a| a.label().to_string()),
        Dimension::Category => {
            app::domain::ledger::Category::parse(key).map(|c| c.label().to_string())
        }
        Dimension::User => names.users.get(key).cloned(),
        Dimension::Campaign => names.campaigns.get(key).map(|(n, _)| n.clone()),
        Dimension::Identity => names.identities.get(key).cloned(),
    };
    found.unwrap_or_else(|| key.to_string())
}

async fn load_workspace(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Workspace>> {
    let row = sqlx::query("SELECT * FROM workspaces WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(workspace_from_row).transpose()
}

async fn load_names(conn: &mut AnyConnection, ws: &str) -> StoreResult<Names> {
    let mut names = Names::default();
    for row in sqlx::query("SELECT id, name FROM users WHERE workspace_id = $1")
        .bind(ws)
        .fetch_all(&mut *conn)
        .await?
    {
        names.users.insert(row.try_get("id")?, row.try_get("name")?);
    }
    for row in sqlx::query("SELECT id, name FROM identities WHERE workspace_id = $1")
        .bind(ws)
        .fetch_all(&mut *conn)
        .await?
    {
        names
            .identities
            .insert(row.try_get("id")?, row.try_get("name")?);
    }
    for row in sqlx::query("SELECT id, name, status FROM campaigns WHERE workspace_id = $1")
        .bind(ws)
        .fetch_all(&mut *conn)
        .await?
    {
        names.campaigns.insert(
            row.try_get("id")?,
            (row.try_get("name")?, row.try_get("status")?),
        );
    }
    Ok(names)
}

/// Makes sure the cycle starting on `start` has its row, granting the
/// plan's monthly credits when the cycle is first used.
async fn ensure_cycle(
    conn: &mut AnyConnection,
    ws: &Workspace,
    start: NaiveDate,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO cycles (workspace_id, start_day, plan_credits) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace_id, start_day) DO NOTHING",
    )
    .bind(ws.id.clone())
    .bind(day_str(start))
    .bind(ws.plan.monthly_credits)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A cycle's credits; a cycle never used yet holds the plan's credits.
async fn cycle_credits(
    conn: &mut AnyConnection,
    ws: &Workspace,
    start: NaiveDate,
) -> StoreResult<CycleCredits> {
    let row = sqlx::query(
        "SELECT plan_credits, add_on, rollover, used FROM cycles WHERE workspace_id = $1 AND start_day = $2",
    )
    .bind(ws.id.clone())
    .bind(day_str(start))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(r) => CycleCredits {
            plan: r.try_get("plan_credits")?,
            add_on: r.try_get("add_on")?,
            rollover: r.try_get("rollover")?,
            used: r.try_get("used")?,
        },
        None => CycleCredits {
            plan: ws.plan.monthly_credits,
            ..CycleCredits::default()
        },
    })
}

async fn put_workspace_tx(
    conn: &mut AnyConnection,
    id: &str,
    input: &WorkspaceInput,
    now: DateTime<Utc>,
) -> StoreResult<(bool, Workspace)> {
    let existing = load_workspace(conn, id).await?;
    let stored_alerts = existing
        .as_ref()
        .map_or_else(AlertSettings::default, |w| w.alerts.clone());
    let alerts = match &input.alerts {
        Some(patch) => patch.apply(&stored_alerts),
        None => stored_alerts,
    };
    let stored = Workspace {
        alerts: alerts.clone(),
        id: id.to_string(),
        name: input.name.clone(),
        tz: input.tz,
        week_start: input.week_start,
        plan: input.plan.clone(),
        account_manager: input.account_manager.clone(),
    };
    let (am_name, am_email) = match &input.account_manager {
        Some(am) => (Some(am.name.clone()), Some(am.email.clone())),
        None => (None, None),
    };
    let binds = |q: sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments<'static>>| {
        q.bind(id.to_string())
            .bind(input.name.clone())
            .bind(input.tz.name().to_string())
            .bind(input.week_start.as_str().to_string())
            .bind(input.plan.name.clone())
            .bind(input.plan.monthly_credits)
            .bind(input.plan.identities_included)
            .bind(input.plan.price.amount_cents)
            .bind(input.plan.price.currency.clone())
            .bind(am_name.clone())
            .bind(am_email.clone())
            .bind(now.timestamp_millis())
            .bind(alerts.thresholds_text())
            .bind(i64::from(alerts.runout_forecast))
    };
    match existing {
        None => {
            binds(sqlx::query(
                "INSERT INTO workspaces (id, name, timezone, week_start, plan_name, monthly_credits, \
                 identities_included, price_cents, currency, am_name, am_email, created_at, updated_at, \
                 alert_thresholds, alert_runout) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14)",
            ))
            .execute(&mut *conn)
            .await?;
            // Created mid-cycle: the full monthly credits.
            let cycle = stored.calendar().cycle_at(now);
            ensure_cycle(conn, &stored, cycle.start).await?;
            Ok((true, stored))
        }
        Some(old) => {
            // Pin the current cycle's grant at the old plan before changing it,
            // so that a cut waits for the next cycle.
            let old_cycle = old.calendar().cycle_at(now);
            ensure_cycle(conn, &old, old_cycle.start).await?;
            binds(sqlx::query(
                "UPDATE workspaces SET name = $2, timezone = $3, week_start = $4, plan_name = $5, \
                 monthly_credits = $6, identities_included = $7, price_cents = $8, currency = $9, \
                 am_name = $10, am_email = $11, updated_at = $12, alert_thresholds = $13, \
                 alert_runout = $14 WHERE id = $1",
            ))
            .execute(&mut *conn)
            .await?;
            if old.tz != stored.tz {
                // The events move to their new local days in chunks after
                // this transaction (Store::put_workspace), from the start.
                sqlx::query("UPDATE workspaces SET rebucket_from = '' WHERE id = $1")
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await?;
            }
            let raise = plan_change_grant(old.plan.monthly_credits, stored.plan.monthly_credits);
            let cycle = stored.calendar().cycle_at(now);
            ensure_cycle(conn, &stored, cycle.start).await?;
            if raise > 0 {
                sqlx::query("UPDATE cycles SET plan_credits = plan_credits + $3 WHERE workspace_id = $1 AND start_day = $2")
                    .bind(id.to_string())
                    .bind(day_str(cycle.start))
                    .bind(raise)
                    .execute(&mut *conn)
                    .await?;
                // More credits may recover reached thresholds.
                alerts::record_alerts(conn, &stored, cycle.start, now, false).await?;
            }
            Ok((false, stored))
        }
    }
}

/// Events moved per transaction when a workspace changes its time zone.
const REBUCKET_CHUNK: i64 = 2_000;

/// Moves the next chunk of a workspace's events (after `after`, in id
/// order) to their local days in its current zone. Aggregates and cycle
/// balances stay exact at every commit: each moved event is taken off its
/// old day's keys and added to its new day's, in the same transaction, and
/// its stored day says where it is counted. Returns the last id looked at,
/// or `None` when no event is left.
async fn rebucket_chunk(
    conn: &mut AnyConnection,
    ws: &Workspace,
    after: &str,
) -> StoreResult<Option<String>> {
    let cal = ws.calendar();
    let rows = sqlx::query(&format!(
        "SELECT id, occurred_at, day, action, credits, user_id, campaign_id, identity_id FROM usage_events \
         WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT {REBUCKET_CHUNK}"
    ))
    .bind(ws.id.clone())
    .bind(after.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let Some(last) = rows.last() else {
        return Ok(None);
    };
    let last: String = last.try_get("id")?;
    let mut minus = Deltas::default();
    let mut plus = Deltas::default();
    let mut moved: Vec<(String, String)> = Vec::new();
    for r in &rows {
        let at = from_ms(r.try_get("occurred_at")?)?;
        let stored: String = r.try_get("day")?;
        let new_day = cal.local_day(at);
        if day_str(new_day) == stored {
            continue;
        }
        let old_day = NaiveDate::parse_from_str(&stored, "%Y-%m-%d")
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let action: Option<String> = r.try_get("action")?;
        let credits = match (
            action.as_deref().and_then(Action::parse),
            r.try_get::<Option<i64>, _>("credits")?,
        ) {
            (Some(a), Some(c)) => Some((a, c)),
            _ => None,
        };
        let event = NewEvent {
            id: r.try_get("id")?,
            occurred_at: at,
            credits,
            user_id: r.try_get("user_id")?,
            campaign_id: r.try_get("campaign_id")?,
            identity_id: r.try_get("identity_id")?,
            request: String::new(),
        };
        minus.add(&event, old_day);
        plus.add(&event, new_day);
        moved.push((event.id, day_str(new_day)));
    }
    minus.negate();
    minus.apply(conn, ws).await?;
    plus.apply(conn, ws).await?;
    for (id, day) in moved {
        sqlx::query("UPDATE usage_events SET day = $3 WHERE workspace_id = $1 AND id = $2")
            .bind(ws.id.clone())
            .bind(id)
            .bind(day)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Some(last))
}

impl Store {
    /// Moves a workspace's events to its current zone's local days, one
    /// short transaction per chunk, from where a previous move stopped.
    pub async fn rebucket(&self, ws_id: &str) -> StoreResult<()> {
        loop {
            let done = in_write_tx!(self, |tx| {
                async {
                    let from: Option<String> =
                        sqlx::query_scalar("SELECT rebucket_from FROM workspaces WHERE id = $1")
                            .bind(ws_id.to_string())
                            .fetch_optional(&mut *tx)
                            .await?
                            .flatten();
                    let Some(from) = from else {
                        return Ok::<_, StoreError>(true);
                    };
                    let ws = load_workspace(&mut tx, ws_id)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    let next = rebucket_chunk(&mut tx, &ws, &from).await?;
                    sqlx::query("UPDATE workspaces SET rebucket_from = $2 WHERE id = $1")
                        .bind(ws_id.to_string())
                        .bind(next.clone())
                        .execute(&mut *tx)
                        .await?;
                    Ok(next.is_none())
                }
                .await
            })?;
            if done {
                return Ok(());
            }
        }
    }

    /// Finishes every move a crash interrupted (called at start).
    pub async fn resume_rebucketing(&self) -> StoreResult<usize> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM workspaces WHERE rebucket_from IS NOT NULL")
                .fetch_all(&self.pool)
                .await?;
        for id in &ids {
            self.rebucket(id).await?;
        }
        Ok(ids.len())
    }
}

async fn put_member_tx(
    conn: &mut AnyConnection,
    ws: &str,
    id: &str,
    member: &Member,
) -> StoreResult<bool> {
    let (table, cols, vals): (&str, [&str; 3], [String; 3]) = match member {
        Member::User { name, email, role } => (
            "users",
            ["name", "email", "role"],
            [name.clone(), email.clone(), role.clone()],
        ),
        Member::Identity {
            name,
            channel,
            user_id,
        } => (
            "identities",
            ["name", "channel", "user_id"],
            [name.clone(), channel.clone(), user_id.clone()],
        ),
        Member::Campaign { name, status } => (
            "campaigns",
            ["name", "status", "status"],
            [name.clone(), status.clone(), status.clone()],
        ),
    };
    if load_workspace(conn, ws).await?.is_none() {
        return Err(StoreError::NotFound);
    }
    let exists: Option<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM {table} WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(ws.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let distinct: Vec<usize> = if matches!(member, Member::Campaign { .. }) {
        vec![0, 1]
    } else {
        vec![0, 1, 2]
    };
    if exists.is_some() {
        let sets: Vec<String> = distinct
            .iter()
            .map(|&i| format!("{} = ${}", cols[i], i + 3))
            .collect();
        let sql = format!(
            "UPDATE {table} SET {} WHERE workspace_id = $1 AND id = $2",
            sets.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(ws.to_string()).bind(id.to_string());
        for &i in &distinct {
            q = q.bind(vals[i].clone());
        }
        q.execute(&mut *conn).await?;
        Ok(false)
    } else {
        let names: Vec<&str> = distinct.iter().map(|&i| cols[i]).collect();
        let places: Vec<String> = distinct.iter().map(|&i| format!("${}", i + 3)).collect();
        let sql = format!(
            "INSERT INTO {table} (workspace_id, id, {}) VALUES ($1, $2, {})",
            names.join(", "),
            places.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(ws.to_string()).bind(id.to_string());
        for &i in &distinct {
            q = q.bind(vals[i].clone());
        }
        q.execute(&mut *conn).await?;
        Ok(true)
    }
}

async fn create_grant_tx(
    conn: &mut AnyConnection,
    ws_id: &str,
    grant: &GrantInput,
    now: DateTime<Utc>,
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
    let body = serde_json::json!({
        "id": grant.id,
        "kind": grant.kind,
        "credits": grant.credits,
        "note": grant.note,
        "price": grant.price,
        "cycle": {"start": cycle.start, "end": cycle.end},
        "expires_on": cycle.end,
        "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
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

/// Changes to the pre-aggregates and cycle counters that a set of events
/// makes; applied in key order so that concurrent writers lock rows in the
/// same order and cannot deadlock.
#[derive(Default)]
struct Deltas {
    credit_daily: BTreeMap<(String, String, String, String, String), i64>,
    conversation_daily: BTreeMap<(String, String, String, String), i64>,
    cycle_used: BTreeMap<NaiveDate, i64>,
}

impl Deltas {
    /// The opposite changes (an event leaving its keys).
    fn negate(&mut self) {
        self.credit_daily.values_mut().for_each(|v| *v = -*v);
        self.conversation_daily.values_mut().for_each(|v| *v = -*v);
        self.cycle_used.values_mut().for_each(|v| *v = -*v);
    }

    fn add(&mut self, e: &NewEvent, day: NaiveDate) {
        let d = day_str(day);
        match e.credits {
            Some((action, credits)) => {
                let key = (
                    d,
                    action.key().to_string(),
                    e.user_id.clone(),
                    key_of(&e.campaign_id),
                    key_of(&e.identity_id),
                );
                *self.credit_daily.entry(key).or_default() += credits;
                *self
                    .cycle_used
                    .entry(BillingCycle::containing(day).start)
                    .or_default() += credits;
            }
            None => {
                let key = (
                    d,
                    key_of(&e.campaign_id),
                    key_of(&e.identity_id),
                    e.user_id.clone(),
                );
                *self.conversation_daily.entry(key).or_default() += 1;
            }
        }
    }

    async fn apply(self, conn: &mut AnyConnection, ws: &Workspace) -> StoreResult<()> {
        let credit: Vec<_> = self.credit_daily.into_iter().collect();
        for chunk in credit.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO credit_daily (workspace_id, day, action, user_id, campaign_id, identity_id, credits) VALUES {} \
                 ON CONFLICT (workspace_id, day, action, user_id, campaign_id, identity_id) \
                 DO UPDATE SET credits = credit_daily.credits + excluded.credits",
                values_sql(chunk.len(), 7, 1)
            );
            let mut vals = Vec::with_capacity(chunk.len() * 7);
            for ((day, action, user, campaign, identity), credits) in chunk {
                vals.extend([
                    Val::S(ws.id.clone()),
                    Val::S(day.clone()),
                    Val::S(action.clone()),
                    Val::S(user.clone()),
                    Val::S(campaign.clone()),
                    Val::S(identity.clone()),
                    Val::I(*credits),
                ]);
            }
            exec_values(conn, &sql, vals).await?;
        }
        let convs: Vec<_> = self.conversation_daily.into_iter().collect();
        for chunk in convs.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO conversation_daily (workspace_id, day, campaign_id, identity_id, user_id, conversations) VALUES {} \
                 ON CONFLICT (workspace_id, day, campaign_id, identity_id, user_id) \
                 DO UPDATE SET conversations = conversation_daily.conversations + excluded.conversations",
                values_sql(chunk.len(), 6, 1)
            );
            let mut vals = Vec::with_capacity(chunk.len() * 6);
            for ((day, campaign, identity, user), n) in chunk {
                vals.extend([
                    Val::S(ws.id.clone()),
                    Val::S(day.clone()),
                    Val::S(campaign.clone()),
                    Val::S(identity.clone()),
                    Val::S(user.clone()),
                    Val::I(*n),
                ]);
            }
            exec_values(conn, &sql, vals).await?;
        }
        for (start, used) in self.cycle_used {
            ensure_cycle(conn, ws, start).await?;
            // Checked in the statement: a cycle's figures stay far inside
            // 64 bits (SQLite would silently turn an overflow into a float).
            let done = sqlx::query(
                "UPDATE cycles SET used = used + $3 WHERE workspace_id = $1 AND start_day = $2 AND used <= $4 - $3",
            )
            .bind(ws.id.clone())
            .bind(day_str(start))
            .bind(used)
            .bind(MAX_CYCLE_CREDITS)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "the cycle starting {start} would pass {MAX_CYCLE_CREDITS} credits used"
                )));
            }
        }
        Ok(())
    }
}

async fn insert_events(
    conn: &mut AnyConnection,
    ws: &Workspace,
    events: &[&NewEvent],
) -> StoreResult<Deltas> {
    let cal = ws.calendar();
    let mut deltas = Deltas::default();
    for chunk in events.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO usage_events (workspace_id, id, kind, occurred_at, day, action, credits, user_id, \
             campaign_id, identity_id, request) VALUES {}",
            values_sql(chunk.len(), 11, 1)
        );
        let mut vals = Vec::with_capacity(chunk.len() * 11);
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
                Val::S(e.request.clone()),
            ]);
        }
        exec_values(conn, &sql, vals).await?;
    }
    Ok(deltas)
}

async fn stored_requests(
    conn: &mut AnyConnection,
    ws: &str,
    ids: &[&str],
) -> StoreResult<HashMap<String, String>> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let places: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT id, request FROM usage_events WHERE workspace_id = $1 AND id IN ({})",
            places.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(ws.to_string());
        for id in chunk {
            q = q.bind(id.to_string());
        }
        for row in q.fetch_all(&mut *conn).await? {
            found.insert(row.try_get("id")?, row.try_get("request")?);
        }
    }
    Ok(found)
}

async fn record_events_tx(
    conn: &mut AnyConnection,
    ws_id: &str,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> StoreResult<BatchOutcome> {
    let ws = load_workspace(conn, ws_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let stored = stored_requests(conn, ws_id, &ids).await?;
    let mut fresh: Vec<&NewEvent> = Vec::with_capacity(events.len());
    let mut duplicates = 0;
    for e in events {
        match stored.get(&e.id) {
            Some(request) if *request == e.request => duplicates += 1,
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
    let cycles: Vec<NaiveDate> = deltas.cycle_used.keys().copied().collect();
    deltas.apply(conn, &ws).await?;
    // Each cycle the batch spent from is locked by now: decide its alerts.
    for start in cycles {
        alerts::record_alerts(conn, &ws, start, now, true).await?;
    }
    Ok(BatchOutcome {
        inserted: fresh.len(),
        duplicates,
    })
}

async fn charge_tx(
    conn: &mut AnyConnection,
    ws_id: &str,
    event: &NewEvent,
    now: DateTime<Utc>,
) -> StoreResult<ChargeOutcome> {
    let ws = load_workspace(conn, ws_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let existing =
        sqlx::query("SELECT request, response FROM charges WHERE workspace_id = $1 AND id = $2")
            .bind(ws_id.to_string())
            .bind(event.id.clone())
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(row) = existing {
        let request: String = row.try_get("request")?;
        if request != event.request {
            return Err(StoreError::Conflict(format!(
                "charge {} exists with another body",
                event.id
            )));
        }
        let response: String = row.try_get("response")?;
        let body =
            serde_json::from_str(&response).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        return Ok(ChargeOutcome::Replayed(body));
    }
    if !stored_requests(conn, ws_id, &[event.id.as_str()])
        .await?
        .is_empty()
    {
        return Err(StoreError::Conflict(format!(
            "an event {} exists already",
            event.id
        )));
    }
    let Some((action, credits)) = event.credits else {
        return Err(StoreError::Corrupt("a charge without credits".into()));
    };
    let cal = ws.calendar();
    let day = cal.local_day(now);
    let cycle = BillingCycle::containing(day);
    ensure_cycle(conn, &ws, cycle.start).await?;
    // Check-and-spend in one statement: the row lock (PostgreSQL) or the
    // write lock (SQLite) makes it atomic.
    let left: Option<i64> = sqlx::query_scalar(
        "UPDATE cycles SET used = used + $3 WHERE workspace_id = $1 AND start_day = $2 \
         AND plan_credits + add_on + rollover - used >= $3 \
         RETURNING plan_credits + add_on + rollover - used",
    )
    .bind(ws_id.to_string())
    .bind(day_str(cycle.start))
    .bind(credits)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(left) = left else {
        let c = cycle_credits(conn, &ws, cycle.start).await?;
        return Ok(ChargeOutcome::Insufficient {
            credits_left: c.left(),
        });
    };
    let at = NewEvent {
        occurred_at: now,
        ..event.clone()
    };
    let mut deltas = insert_events(conn, &ws, &[&at]).await?;
    // The spend is already on the cycle row.
    deltas.cycle_used.clear();
    deltas.apply(conn, &ws).await?;
    alerts::record_alerts(conn, &ws, cycle.start, now, true).await?;
    let body = serde_json::json!({
        "charge": {
            "id": event.id,
            "action": action.key(),
            "credits": credits,
            "user_id": event.user_id,
            "campaign_id": event.campaign_id,
            "identity_id": event.identity_id,
            "occurred_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
        "credits_left": left,
    });
    sqlx::query("INSERT INTO charges (workspace_id, id, request, response, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(ws_id.to_string())
        .bind(event.id.clone())
        .bind(event.request.clone())
        .bind(body.to_string())
        .bind(now.timestamp_millis())
        .execute(&mut *conn)
        .await?;
    Ok(ChargeOutcome::Created(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_numbered_in_order() {
        assert_eq!(values_sql(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
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
