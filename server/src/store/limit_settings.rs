//! The limits of a workspace as the API and the dashboard show and change
//! them: `GET …/limits` with what each scope used this cycle, and setting
//! or removing a user's or campaign's limit (audited, re-arming its alert).

use std::collections::BTreeSet;

use app::domain::limits::{LimitSource, ScopeFigures};

use super::audit::{self, limit_json, AuditAction, Change};
use super::cycles::cycle_credits;
use super::limits::{
    limit_from_row, lock_current_cycle, own_limits, rearm, usage_rows, LimitBook, ScopeKey,
};
use super::prelude::*;

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
    let credits = cycle_credits(conn, ws, cycle.start).await?;
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
    let book = LimitBook::with(ws.limits.user_default, own);
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

async fn set_limit_settings_tx(
    conn: &mut AnyConnection,
    ws_id: &str,
    settings: LimitSettings,
    actor: &Actor,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    audit::next_seq(conn, ws_id).await?;
    let old = load_workspace(conn, ws_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    if old.limits == settings {
        return Ok(());
    }
    let start = lock_current_cycle(conn, &old, now).await?;
    sqlx::query(
        "UPDATE workspaces SET limit_default_credits = $2, limit_default_mode = $3, overage = $4, \
         updated_at = $5 WHERE id = $1",
    )
    .bind(ws_id.to_string())
    .bind(settings.user_default.map(|l| l.credits))
    .bind(settings.user_default.map(|l| l.mode.as_str().to_string()))
    .bind(settings.overage)
    .bind(now.timestamp_millis())
    .execute(&mut *conn)
    .await?;
    let new = Workspace {
        limits: settings,
        ..old.clone()
    };
    if old.limits.user_default != settings.user_default {
        super::limits::rearm_default_users(conn, &new, start).await?;
    }
    let change = Change {
        action: AuditAction::LimitsChanged,
        target_scope: "workspace",
        target_id: ws_id,
        before: Some(audit::limits_json(&old.limits)),
        after: Some(audit::limits_json(&settings)),
    };
    audit::record(conn, ws_id, actor, now, change).await
}

impl Store {
    /// Changes the workspace's limit settings (an admin, from the
    /// dashboard): audited, re-arming the users who follow the default.
    pub async fn set_limit_settings(
        &self,
        ws: &str,
        settings: LimitSettings,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(|mut tx| async move {
            let r = set_limit_settings_tx(&mut tx, ws, settings, actor, now).await;
            (tx, r)
        })
        .await
    }
}
