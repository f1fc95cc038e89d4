//! Limits (API.md, "Limits (v1.2)"): per-user and per-campaign limits,
//! what each scope used in each cycle, and their `limit_reached` alerts.
//!
//! Atomic: every writer of a cycle's figures (a charge group, an event
//! batch, a limit change, a decision on a request) first takes the cycle
//! row's lock (`cycles`), so a scope's `used` and `alerted` are read and
//! written by one transaction at a time, on every process. A scope's used
//! is kept in `scope_usage` by [`super::ledger::Deltas`], in the
//! transaction of the usage: a check reads one row per scope, never the
//! events.

use std::collections::BTreeSet;

use app::domain::limits::{reached, rearms, user_limit, LimitSource, ScopeFigures};

use super::alerts::AlertBook;
use super::audit::{self, limit_json, AuditAction, Change};
use super::ledger::ensure_cycle;
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
            pairs_list(chunk.len(), 2)
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

/// `($first, $first+1), …`: `n` pairs for a `(a, b) IN (...)` list.
fn pairs_list(n: usize, first: usize) -> String {
    (0..n)
        .map(|i| format!("(${}, ${})", first + 2 * i, first + 2 * i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

fn limit_from_row(row: &AnyRow) -> StoreResult<Option<(ScopeKey, Limit)>> {
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
            pairs_list(chunk.len(), 3)
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
    let mut book = LimitBook::read(conn, ws, &keys).await?;
    book.load(conn, &ws.id, start, &keys).await?;
    let figures = book.figures(start, key);
    let alerted = usage_rows(conn, &ws.id, start, &keys)
        .await?
        .get(key)
        .is_some_and(|u| u.alerted);
    if alerted && rearms(figures.as_ref()) {
        set_alerted(conn, &ws.id, start, std::slice::from_ref(key), false).await?;
    }
    Ok(())
}

/// One row of `GET …/limits`: a user or campaign with a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeLimit {
    pub scope: Scope,
    pub id: String,
    pub limit: Limit,
    pub source: LimitSource,
    pub approved_extra: i64,
    pub effective: i64,
    pub used: i64,
    pub left: i64,
}

/// `GET …/limits`: the cycle, the workspace's figures, and every user and
/// campaign a limit applies to, each with its figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsOverview {
    pub cycle: BillingCycle,
    pub granted: i64,
    pub overage: i64,
    pub used: i64,
    pub user_default: Option<Limit>,
    /// Ordered by user id.
    pub users: Vec<ScopeLimit>,
    /// Ordered by campaign id.
    pub campaigns: Vec<ScopeLimit>,
}

impl LimitsOverview {
    /// The workspace's `left`: `max(0, granted + overage - used)`.
    pub fn left(&self) -> i64 {
        (self.granted + self.overage - self.used).max(0)
    }

    /// One scope's row, when a limit applies to it.
    pub fn row(&self, scope: Scope, id: &str) -> Option<&ScopeLimit> {
        let list = match scope {
            Scope::User => &self.users,
            Scope::Campaign => &self.campaigns,
        };
        list.iter().find(|r| r.id == id)
    }
}

async fn limits_overview_tx(
    conn: &mut AnyConnection,
    ws: &Workspace,
    now: DateTime<Utc>,
) -> StoreResult<LimitsOverview> {
    let cycle = ws.calendar().cycle_at(now);
    let credits = super::ledger::cycle_credits(conn, ws, cycle.start).await?;
    let mut own = HashMap::new();
    for row in sqlx::query(
        "SELECT scope, scope_id, credits, mode FROM credit_limits WHERE workspace_id = $1",
    )
    .bind(ws.id.clone())
    .fetch_all(&mut *conn)
    .await?
    {
        if let Some((key, limit)) = limit_from_row(&row)? {
            own.insert(key, limit);
        }
    }
    let mut keys: BTreeSet<ScopeKey> = own.keys().cloned().collect();
    if ws.limits.user_default.is_some() {
        let users: Vec<String> = sqlx::query_scalar("SELECT id FROM users WHERE workspace_id = $1")
            .bind(ws.id.clone())
            .fetch_all(&mut *conn)
            .await?;
        keys.extend(users.into_iter().map(|u| (Scope::User, u)));
    }
    let usage = usage_rows(conn, &ws.id, cycle.start, &keys).await?;
    let book = LimitBook {
        default: ws.limits.user_default,
        own,
        ..LimitBook::default()
    };
    let (mut users, mut campaigns) = (Vec::new(), Vec::new());
    for key in keys {
        let Some((limit, source)) = book.limit_of(&key) else {
            continue;
        };
        let u = usage.get(&key).copied().unwrap_or_default();
        let f = ScopeFigures {
            limit,
            approved_extra: u.approved_extra,
            used: u.used,
        };
        let row = ScopeLimit {
            scope: key.0,
            id: key.1,
            limit,
            source,
            approved_extra: u.approved_extra,
            effective: f.effective(),
            used: u.used,
            left: f.left(),
        };
        match row.scope {
            Scope::User => users.push(row),
            Scope::Campaign => campaigns.push(row),
        }
    }
    Ok(LimitsOverview {
        cycle,
        granted: credits.plan + credits.add_on + credits.rollover,
        overage: ws.limits.overage,
        used: credits.used,
        user_default: ws.limits.user_default,
        users,
        campaigns,
    })
}

/// Whether a user or campaign of that id exists in the workspace.
async fn scope_exists(conn: &mut AnyConnection, ws: &str, key: &ScopeKey) -> StoreResult<bool> {
    let table = match key.0 {
        Scope::User => "users",
        Scope::Campaign => "campaigns",
    };
    let found: Option<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM {table} WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(ws.to_string())
    .bind(key.1.clone())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

async fn set_limit_tx(
    conn: &mut AnyConnection,
    ws_id: &str,
    key: &ScopeKey,
    limit: Option<Limit>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    // The workspace row first, then the cycle row: the order every
    // transaction that takes both follows.
    audit::next_seq(conn, ws_id).await?;
    let ws = load_workspace(conn, ws_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    if !scope_exists(conn, ws_id, key).await? {
        return Err(StoreError::NotFound);
    }
    let before = own_limits(conn, ws_id, &BTreeSet::from([key.clone()]))
        .await?
        .remove(key);
    if limit.is_none() && before.is_none() {
        return Err(StoreError::NotFound);
    }
    let start = lock_current_cycle(conn, &ws, now).await?;
    match limit {
        Some(l) => {
            sqlx::query(
                "INSERT INTO credit_limits (workspace_id, scope, scope_id, credits, mode) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (workspace_id, scope, scope_id) DO UPDATE SET credits = excluded.credits, mode = excluded.mode",
            )
            .bind(ws_id.to_string())
            .bind(key.0.as_str().to_string())
            .bind(key.1.clone())
            .bind(l.credits)
            .bind(l.mode.as_str().to_string())
            .execute(&mut *conn)
            .await?;
        }
        None => {
            sqlx::query(
                "DELETE FROM credit_limits WHERE workspace_id = $1 AND scope = $2 AND scope_id = $3",
            )
            .bind(ws_id.to_string())
            .bind(key.0.as_str().to_string())
            .bind(key.1.clone())
            .execute(&mut *conn)
            .await?;
        }
    }
    // Its own effective limit changed: re-armed when it has room (or no
    // limit at all: a user without one falls back to the default, which
    // counts as a new limit of theirs).
    if before != limit {
        rearm(conn, &ws, start, key).await?;
    }
    let change = Change {
        action: if limit.is_some() {
            AuditAction::LimitSet
        } else {
            AuditAction::LimitRemoved
        },
        target_scope: key.0.as_str(),
        target_id: &key.1,
        before: limit_json(before),
        after: limit_json(limit),
    };
    audit::record(conn, ws_id, actor, now, change).await?;
    Ok(before.is_none())
}

impl Store {
    /// The limits of workspace `ws` this cycle, with what each scope used.
    pub async fn limits_overview(
        &self,
        ws: &Workspace,
        now: DateTime<Utc>,
    ) -> StoreResult<LimitsOverview> {
        let mut conn = self.pool.acquire().await?;
        limits_overview_tx(&mut conn, ws, now).await
    }

    /// Sets (`Some`) or removes (`None`) the limit of a user or campaign.
    /// Returns whether it was created. `NotFound` for an unknown workspace,
    /// user or campaign, and for removing a limit that is not there.
    pub async fn set_limit(
        &self,
        ws: &str,
        scope: Scope,
        id: &str,
        limit: Option<Limit>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let key = (scope, id.to_string());
        let key = &key;
        self.write(|mut tx| async move {
            let r = set_limit_tx(&mut tx, ws, key, limit, actor, now).await;
            (tx, r)
        })
        .await
    }
}
