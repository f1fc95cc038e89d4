//! Helpers of the statements: placeholders and bound values of statements
//! built at run time, the text forms of days, instants and empty keys, ids
//! that sort by creation, and the SQLite file's URL.

use std::str::FromStr;

use app::domain::alerts::AlertSettings;
use app::domain::calendar::WeekStart;
use app::domain::limits::{Limit, LimitMode, LimitSettings};
use app::model::{AccountManager, Plan, Price};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::error::{StoreError, StoreResult};
use super::types::Workspace;

pub(super) fn day_str(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(super) fn from_ms(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("bad instant {ms}")))
}

pub(super) fn none_if_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

/// A value bound to a statement built at run time.
pub(super) enum Val {
    I(i64),
    S(String),
    N(Option<String>),
    /// Bytes (a digest).
    B(Vec<u8>),
}

/// The placeholder of a statement's `n`th parameter (from 1): every
/// `$n` the store writes at run time is written here, through
/// [`values_list`], [`values_sql`] or [`Binds`].
pub(super) fn placeholder(n: usize) -> String {
    format!("${n}")
}

/// `$first, $first+1, ...`: `n` parameters for an `IN (...)` list.
pub(super) fn values_list(n: usize, first: usize) -> String {
    (first..first + n)
        .map(placeholder)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2, ...), (...)` for `rows` rows of `cols` columns.
pub(super) fn values_sql(rows: usize, cols: usize, first: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", values_list(cols, first + r * cols)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A statement's parameters, numbered as they are added: each
/// [`Binds::add`] returns the new value's placeholder.
#[derive(Default)]
pub(super) struct Binds(pub(super) Vec<Val>);

impl Binds {
    pub(super) fn add(&mut self, v: Val) -> String {
        self.0.push(v);
        placeholder(self.0.len())
    }
}

/// For SQLite, `$1, $2, ...` (each once, in order) as anonymous `?`:
/// sqlx looks each numbered parameter up by name, which SQLite answers by
/// a linear scan, so a statement of n numbered parameters costs n² (80 %
/// of a 5,000-event batch's time, measured with perf). PostgreSQL keeps
/// its numbers.
/// `table` as a lookup of ids names it: on SQLite the events' by their
/// index of ids. Their table's key is in time order (migration 0014), and
/// without statistics SQLite reads `workspace_id = ? AND id IN (…)` along
/// that key's range of the workspace, every event of it, rather than the
/// ids' index (a batch of 1,000 ids into a workspace of a million events
/// went from milliseconds to a second).
pub(super) fn by_id(table: &str, sqlite: bool) -> &str {
    if sqlite && table == "usage_events" {
        "usage_events INDEXED BY usage_events_by_id"
    } else {
        table
    }
}

pub(super) fn placeholders_for(conn: &AnyConnection, sql: &str) -> String {
    if conn.backend_name() != "SQLite" {
        return sql.to_string();
    }
    anonymous_placeholders(sql).unwrap_or_else(|| sql.to_string())
}

/// `$1 … $n` in order as `?`; `None` when they are not each once in order.
pub(super) fn anonymous_placeholders(sql: &str) -> Option<String> {
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

/// PostgreSQL: the rest of this transaction runs each statement on the
/// plan its connection made the first time (a generic plan), instead of
/// planning it afresh as every other statement does
/// (`plan_cache_mode = force_custom_plan`, see `Store::connect`).
///
/// For event batches and charge groups, whose statements are multi-row
/// inserts and upserts and lookups by primary key, one right plan whatever
/// the statistics. Planning them was most of their cost: a 500-row insert
/// has 5,500 parameters (at `--scale 0.01`, batches went from
/// 24,112–29,222 to 41,508–50,704 events/s). A generic plan made while a
/// table was small is replanned when its statistics change, and this
/// process refreshes them as its tables change (`note_growth`).
///
/// Charge groups once measured slower with it (about 1,500 charges/s
/// against 3,500; why was not found then). Since the duplicate check's
/// plan was fixed (`rows_with_ids`), they are faster with it: at
/// `--scale 0.1` on one database, runs alternated, 2,385 and 2,898
/// charges/s with it, 1,956 and 2,043 without.
pub(super) async fn plan_once(conn: &mut AnyConnection) -> StoreResult<()> {
    if conn.backend_name() == "PostgreSQL" {
        sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Binds `vals` in order.
pub(super) fn bind_vals<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    vals: Vec<Val>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for v in vals {
        q = match v {
            Val::I(i) => q.bind(i),
            Val::S(s) => q.bind(s),
            Val::N(s) => q.bind(s),
            Val::B(b) => q.bind(b),
        };
    }
    q
}

pub(super) async fn exec_values(
    conn: &mut AnyConnection,
    sql: &str,
    vals: Vec<Val>,
) -> StoreResult<()> {
    let sql = placeholders_for(conn, sql);
    bind_vals(sqlx::query(&sql), vals)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Rows per multi-row statement: within SQLite's and PostgreSQL's bind limits.
pub(super) const CHUNK: usize = 500;

pub(super) fn workspace_from_row(row: &AnyRow) -> StoreResult<Workspace> {
    let tz_name: String = row.try_get("timezone")?;
    let tz = Tz::from_str(&tz_name).map_err(|_| StoreError::Corrupt(format!("zone {tz_name}")))?;
    let week_start: String = row.try_get("week_start")?;
    let am_name: Option<String> = row.try_get("am_name")?;
    let am_email: Option<String> = row.try_get("am_email")?;
    let thresholds: String = row.try_get("alert_thresholds")?;
    let runout: i64 = row.try_get("alert_runout")?;
    let default_credits: Option<i64> = row.try_get("limit_default_credits")?;
    let default_mode: Option<String> = row.try_get("limit_default_mode")?;
    let user_default = match (
        default_credits,
        default_mode.as_deref().and_then(LimitMode::parse),
    ) {
        (Some(credits), Some(mode)) => Some(Limit { credits, mode }),
        _ => None,
    };
    Ok(Workspace {
        limits: LimitSettings {
            user_default,
            overage: row.try_get("overage")?,
        },
        alerts: AlertSettings {
            thresholds: app::domain::alerts::parse_set(&thresholds)
                .into_iter()
                .collect(),
            runout_forecast: runout != 0,
        },
        keyed_rollups: row.try_get::<i64, _>("keyed")? != 0,
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

/// Request ids sort by creation: real milliseconds (even under a pinned
/// clock), then a per-process sequence, then a random tail.
pub(super) fn new_request_id() -> String {
    new_id("req")
}

/// A new id that sorts by creation (real milliseconds, then a per-process
/// sequence) with a random tail, such as `al_019a…`.
pub(super) fn new_id(prefix: &str) -> String {
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

pub(super) fn prepare_sqlite_url(url: &str) -> StoreResult<String> {
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

pub(super) async fn load_workspace(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<Workspace>> {
    // The columns by name, never `*`: a statement SQLite re-prepares after
    // a schema change must keep the columns sqlx cached for it.
    let row = sqlx::query(
        "SELECT id, name, timezone, week_start, plan_name, monthly_credits, identities_included, \
         price_cents, currency, am_name, am_email, alert_thresholds, alert_runout, \
         limit_default_credits, limit_default_mode, overage, \
         COALESCE((SELECT keyed FROM keyed_rollups k WHERE k.workspace_id = workspaces.id), 0) AS keyed \
         FROM workspaces WHERE id = $1",
    )
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
