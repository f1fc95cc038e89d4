//! Limits (API.md, "Limits (v1.2)"): per-user and per-campaign limits,
//! what each scope used in each cycle, and their `limit_reached` alerts.
//!
//! Atomic: every writer of a cycle's figures (a charge group, an event
//! batch, a limit change, a decision on a request) first takes the cycle
//! row's lock (`cycles`), so a scope's `used` and `alerted` are read and
//! written by one transaction at a time, on every process. A scope's used
//! is kept in `scope_usage` by [`super::deltas::Deltas`], in the
//! transaction of the usage: a check reads one row per scope, never the
//! events.

use std::collections::BTreeSet;

use app::domain::limits::{reached, rearms, user_limit, LimitSource, ScopeFigures};

use super::alerts::AlertBook;
use super::cycles::ensure_cycle;
use super::prelude::*;

/// A scope's row of `scope_usage` in one cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Usage {
    pub used: i64,
    pub approved_extra: i64,
    pub alerted: bool,
}

/// A scope and its id.
pub(super) type ScopeKey = (Scope, String);

/// The own limits among `keys` of workspace `ws`, in one statement.
pub(super) async fn own_limits(
    conn: &mut AnyConnection,
    ws: &str,
    keys: &BTreeSet<ScopeKey>,
) -> StoreResult<HashMap<ScopeKey, Limit>> {
    let mut found = HashMap::new();
    if keys.is_empty() {
        return Ok(found);
    }
    let keys: Vec<&ScopeKey> = keys.iter().collect();
    for chunk in keys.chunks(CHUNK) {
        let sql = format!(
            "SELECT scope, scope_id, credits, mode FROM credit_limits WHERE workspace_id = $1 \
             AND (scope, scope_id) IN ({})",
            values_sql(chunk.len(), 2, 2)
        );
        let mut vals = vec![Val::S(ws.to_string())];
        for (scope, id) in chunk {
            vals.extend([Val::S(scope.as_str().to_string()), Val::S(id.clone())]);
        }
        let sql = placeholders_for(conn, &sql);
        for row in bind_vals(sqlx::query(&sql), vals)
            .fetch_all(&mut *conn)
            .await?
        {
            if let Some((key, limit)) = limit_from_row(&row)? {
                found.insert(key, limit);
            }
        }
    }
    Ok(found)
}

pub(super) fn limit_from_row(row: &AnyRow) -> StoreResult<Option<(ScopeKey, Limit)>> {
    let scope: String = row.try_get("scope")?;
    let mode: String = row.try_get("mode")?;
    Ok(match (Scope::parse(&scope), LimitMode::parse(&mode)) {
        (Some(scope), Some(mode)) => Some((
            (scope, row.try_get("scope_id")?),
            Limit {
                credits: row.try_get("credits")?,
                mode,
            },
        )),
        _ => None,
    })
}

/// The `scope_usage` rows of `keys` in the cycle starting `start`; a scope
/// without a row has used nothing.
pub(super) async fn usage_rows(
    conn: &mut AnyConnection,
    ws: &str,
    start: NaiveDate,
    keys: &BTreeSet<ScopeKey>,
) -> StoreResult<HashMap<ScopeKey, Usage>> {
    let mut found = HashMap::new();
    let keys: Vec<&ScopeKey> = keys.iter().collect();
    for chunk in keys.chunks(CHUNK) {
        let sql = format!(
            "SELECT scope, scope_id, used, approved_extra, alerted FROM scope_usage \
             WHERE workspace_id = $1 AND start_day = $2 AND (scope, scope_id) IN ({})",
            values_sql(chunk.len(), 2, 3)
        );
        let mut vals = vec![Val::S(ws.to_string()), Val::S(day_str(start))];
        for (scope, id) in chunk {
            vals.extend([Val::S(scope.as_str().to_string()), Val::S(id.clone())]);
        }
        let sql = placeholders_for(conn, &sql);
        for row in bind_vals(sqlx::query(&sql), vals)
            .fetch_all(&mut *conn)
            .await?
        {
            let scope: String = row.try_get("scope")?;
            let Some(scope) = Scope::parse(&scope) else {
                continue;
            };
            found.insert((scope, row.try_get("scope_id")?), usage_from_row(&row)?);
        }
    }
    Ok(found)
}

fn usage_from_row(row: &AnyRow) -> StoreResult<Usage> {
    Ok(Usage {
        used: row.try_get("used")?,
        approved_extra: row.try_get("approved_extra")?,
        alerted: row.try_get::<i64, _>("alerted")? != 0,
    })
}

/// Sets the `alerted` flag of `keys` in the cycle starting `start`.
async fn set_alerted(
    conn: &mut AnyConnection,
    ws: &str,
    start: NaiveDate,
    keys: &[ScopeKey],
    alerted: bool,
) -> StoreResult<()> {
    for chunk in keys.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO scope_usage (workspace_id, start_day, scope, scope_id, alerted) VALUES {} \
             ON CONFLICT (workspace_id, start_day, scope, scope_id) DO UPDATE SET alerted = excluded.alerted",
            values_sql(chunk.len(), 5, 1)
        );
        let mut vals = Vec::with_capacity(chunk.len() * 5);
        for (scope, id) in chunk {
            vals.extend([
                Val::S(ws.to_string()),
                Val::S(day_str(start)),
                Val::S(scope.as_str().to_string()),
                Val::S(id.clone()),
                Val::I(i64::from(alerted)),
            ]);
        }
        exec_values(conn, &sql, vals).await?;
    }
    Ok(())
}

/// The scopes a credit event counts toward.
pub(super) fn scopes_of(event: &NewEvent) -> impl Iterator<Item = ScopeKey> + '_ {
    std::iter::once((Scope::User, event.user_id.clone())).chain(
        event
            .campaign_id
            .iter()
            .map(|c| (Scope::Campaign, c.clone())),
    )
}

/// The limits that apply to some scopes of one workspace, and their
/// figures in the cycles a transaction holds locked: read once, changed in
/// memory as charges are decided, written at once.
#[derive(Default)]
pub(super) struct LimitBook {
    default: Option<Limit>,
    own: HashMap<ScopeKey, Limit>,
    usage: HashMap<(NaiveDate, ScopeKey), Usage>,
    /// Scopes whose alert fired in this transaction, per cycle.
    fired: BTreeMap<NaiveDate, Vec<ScopeKey>>,
}

impl LimitBook {
    /// A book of the given limits, with no figures read yet.
    pub(super) fn with(default: Option<Limit>, own: HashMap<ScopeKey, Limit>) -> Self {
        Self {
            default,
            own,
            ..Self::default()
        }
    }

    /// Reads the own limits of `keys`; the workspace's default applies to
    /// every user without one.
    pub(super) async fn read(
        conn: &mut AnyConnection,
        ws: &Workspace,
        keys: &BTreeSet<ScopeKey>,
    ) -> StoreResult<Self> {
        Ok(Self {
            default: ws.limits.user_default,
            own: own_limits(conn, &ws.id, keys).await?,
            ..Self::default()
        })
    }

    /// The limit that applies to a scope, with its source.
    pub(super) fn limit_of(&self, key: &ScopeKey) -> Option<(Limit, LimitSource)> {
        let own = self.own.get(key).copied();
        match key.0 {
            Scope::User => user_limit(own, self.default),
            Scope::Campaign => own.map(|l| (l, LimitSource::User)),
        }
    }

    /// Reads the figures, in the cycle starting `start` (whose row the
    /// transaction holds locked), of those of `keys` that a limit applies to.
    pub(super) async fn load(
        &mut self,
        conn: &mut AnyConnection,
        ws: &str,
        start: NaiveDate,
        keys: &BTreeSet<ScopeKey>,
    ) -> StoreResult<()> {
        let limited: BTreeSet<ScopeKey> = keys
            .iter()
            .filter(|k| self.limit_of(k).is_some())
            .cloned()
            .collect();
        if limited.is_empty() {
            return Ok(());
        }
        let rows = usage_rows(conn, ws, start, &limited).await?;
        for key in limited {
            let usage = rows.get(&key).copied().unwrap_or_default();
            self.usage.insert((start, key), usage);
        }
        Ok(())
    }

    /// A limited scope's figures in the cycle starting `start`.
    pub(super) fn figures(&self, start: NaiveDate, key: &ScopeKey) -> Option<ScopeFigures> {
        let (limit, _) = self.limit_of(key)?;
        let usage = self.usage.get(&(start, key.clone()))?;
        Some(ScopeFigures {
            limit,
            approved_extra: usage.approved_extra,
            used: usage.used,
        })
    }

    /// Adds `credits` to the used of every limited scope of `event`.
    pub(super) fn spend(&mut self, start: NaiveDate, event: &NewEvent, credits: i64) {
        for key in scopes_of(event) {
            if let Some(u) = self.usage.get_mut(&(start, key)) {
                u.used += credits;
            }
        }
    }

    /// Fires the scope's `limit_reached` alert unless it fired already in
    /// this cycle: `refused` says a charge was refused by it, else it
    /// fires only when its used has reached its effective limit.
    pub(super) fn check(
        &mut self,
        book: &mut AlertBook,
        ws: &Workspace,
        now: DateTime<Utc>,
        start: NaiveDate,
        key: &ScopeKey,
        refused: bool,
    ) {
        let Some(f) = self.figures(start, key) else {
            return;
        };
        let Some(usage) = self.usage.get_mut(&(start, key.clone())) else {
            return;
        };
        if usage.alerted || !(refused || reached(&f)) {
            return;
        }
        usage.alerted = true;
        book.limit_reached(ws, now, key.0, &key.1, f.used, f.effective());
        self.fired.entry(start).or_default().push(key.clone());
    }

    /// Writes the alert flags set in this transaction.
    pub(super) async fn write(self, conn: &mut AnyConnection, ws: &str) -> StoreResult<()> {
        for (start, keys) in self.fired {
            set_alerted(conn, ws, start, &keys, true).await?;
        }
        Ok(())
    }
}

/// After usage was recorded in the cycle starting `start` (its row locked,
/// its scope totals written): the cycle's workspace alerts, and the
/// `limit_reached` alerts of the scopes in `touched` that reached their
/// limits.
pub(super) async fn alerts_after_usage(
    conn: &mut AnyConnection,
    ws: &Workspace,
    start: NaiveDate,
    touched: &BTreeSet<ScopeKey>,
    now: DateTime<Utc>,
    backdated: bool,
) -> StoreResult<()> {
    let Some(mut book) = AlertBook::read(conn, &ws.id, start).await? else {
        return Ok(());
    };
    if backdated {
        book.forget_pace();
    }
    book.decide(conn, ws, now, true).await?;
    let mut limits = LimitBook::read(conn, ws, touched).await?;
    limits.load(conn, &ws.id, start, touched).await?;
    for key in touched {
        limits.check(&mut book, ws, now, start, key, false);
    }
    limits.write(conn, &ws.id).await?;
    book.close(conn, ws).await?;
    Ok(())
}

/// Takes the current cycle's row lock (making the row where missing) and
/// returns its start: every change of a scope's figures runs under it.
pub(super) async fn lock_current_cycle(
    conn: &mut AnyConnection,
    ws: &Workspace,
    now: DateTime<Utc>,
) -> StoreResult<NaiveDate> {
    let start = ws.calendar().cycle_at(now).start;
    ensure_cycle(conn, ws, start).await?;
    sqlx::query("UPDATE cycles SET used = used WHERE workspace_id = $1 AND start_day = $2")
        .bind(ws.id.clone())
        .bind(day_str(start))
        .execute(&mut *conn)
        .await?;
    Ok(start)
}

/// Re-arms the alerts of the users who follow the workspace's default
/// (no limit of their own) in the cycle starting `start`, after the
/// default changed: those with room under the new default, or all of them
/// when it was removed. The caller holds the cycle row's lock.
pub(super) async fn rearm_default_users(
    conn: &mut AnyConnection,
    ws: &Workspace,
    start: NaiveDate,
) -> StoreResult<()> {
    let follows_default = "workspace_id = $1 AND start_day = $2 AND scope = 'user' AND alerted = 1 \
         AND NOT EXISTS (SELECT 1 FROM credit_limits l WHERE l.workspace_id = scope_usage.workspace_id \
         AND l.scope = 'user' AND l.scope_id = scope_usage.scope_id)";
    match ws.limits.user_default {
        Some(limit) => {
            let sql = format!(
                "UPDATE scope_usage SET alerted = 0 WHERE {follows_default} AND approved_extra + $3 > used"
            );
            sqlx::query(&sql)
                .bind(ws.id.clone())
                .bind(day_str(start))
                .bind(limit.credits)
                .execute(&mut *conn)
                .await?;
        }
        None => {
            let sql = format!("UPDATE scope_usage SET alerted = 0 WHERE {follows_default}");
            sqlx::query(&sql)
                .bind(ws.id.clone())
                .bind(day_str(start))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Re-arms one scope's alert in the cycle starting `start` when its new
/// figures allow it ([`rearms`]). The caller holds the cycle row's lock.
pub(super) async fn rearm(
    conn: &mut AnyConnection,
    ws: &Workspace,
    start: NaiveDate,
    key: &ScopeKey,
) -> StoreResult<()> {
    let keys = BTreeSet::from([key.clone()]);
    let book = LimitBook::read(conn, ws, &keys).await?;
    // One read of the scope's row: its alert flag, whatever limit applies.
    let usage = usage_rows(conn, &ws.id, start, &keys)
        .await?
        .get(key)
        .copied()
        .unwrap_or_default();
    let figures = book.limit_of(key).map(|(limit, _)| ScopeFigures {
        limit,
        approved_extra: usage.approved_extra,
        used: usage.used,
    });
    if usage.alerted && rearms(figures.as_ref()) {
        set_alerted(conn, &ws.id, start, std::slice::from_ref(key), false).await?;
    }
    Ok(())
}

impl Store {
    /// What a user or campaign used in the cycle starting `start`.
    pub async fn scope_used(
        &self,
        ws: &str,
        start: NaiveDate,
        scope: Scope,
        id: &str,
    ) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await?;
        let key = (scope, id.to_string());
        Ok(
            usage_rows(&mut conn, ws, start, &BTreeSet::from([key.clone()]))
                .await?
                .get(&key)
                .map_or(0, |u| u.used),
        )
    }
}
