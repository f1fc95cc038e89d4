//! Workspaces and their members, and the move of events to new local
//! days after a change of time zone.

use super::alerts;
use super::audit::{self, AuditAction, Change};
use super::cycles::ensure_cycle;
use super::deltas::Deltas;
use super::limits;
use super::prelude::*;

pub(super) async fn put_workspace_tx(
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
    let stored_limits = existing.as_ref().map(|w| w.limits).unwrap_or_default();
    let limits = input
        .limits
        .as_ref()
        .map_or(stored_limits, |patch| patch.apply(&stored_limits));
    let stored = Workspace {
        alerts: alerts.clone(),
        limits,
        id: id.to_string(),
        name: input.name.clone(),
        tz: input.tz,
        week_start: input.week_start,
        plan: input.plan.clone(),
        account_manager: input.account_manager.clone(),
        keyed_rollups: existing.as_ref().is_some_and(|w| w.keyed_rollups),
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
            .bind(limits.user_default.map(|l| l.credits))
            .bind(limits.user_default.map(|l| l.mode.as_str().to_string()))
            .bind(limits.overage)
    };
    match existing {
        None => {
            binds(sqlx::query(
                "INSERT INTO workspaces (id, name, timezone, week_start, plan_name, monthly_credits, \
                 identities_included, price_cents, currency, am_name, am_email, created_at, updated_at, \
                 alert_thresholds, alert_runout, limit_default_credits, limit_default_mode, overage) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17)",
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
                 alert_runout = $14, limit_default_credits = $15, limit_default_mode = $16, \
                 overage = $17 WHERE id = $1",
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
            if old.limits.user_default != stored.limits.user_default {
                // Under the cycle row's lock, as every writer of its
                // scopes' alert state.
                let start = limits::lock_current_cycle(conn, &stored, now).await?;
                limits::rearm_default_users(conn, &stored, start).await?;
            }
            record_changes(conn, &old, &stored, &Actor::Platform, now).await?;
            Ok((false, stored))
        }
    }
}

/// Records in the audit log what a change of the workspace changed: its
/// plan, its alert settings, its limit settings (nothing when equal).
async fn record_changes(
    conn: &mut AnyConnection,
    old: &Workspace,
    new: &Workspace,
    actor: &Actor,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let plan = |w: &Workspace| serde_json::to_value(&w.plan).ok();
    let changes = [
        (AuditAction::PlanChanged, plan(old), plan(new)),
        (
            AuditAction::AlertsChanged,
            Some(audit::alerts_json(&old.alerts)),
            Some(audit::alerts_json(&new.alerts)),
        ),
        (
            AuditAction::LimitsChanged,
            Some(audit::limits_json(&old.limits)),
            Some(audit::limits_json(&new.limits)),
        ),
    ];
    for (action, before, after) in changes {
        let change = Change {
            action,
            target_scope: "workspace",
            target_id: &new.id,
            before,
            after,
        };
        audit::record(conn, &new.id, actor, now, change).await?;
    }
    Ok(())
}

/// Events moved per transaction when a workspace changes its time zone.
const REBUCKET_CHUNK: i64 = 2_000;

/// Moves the next chunk of a workspace's events (after `after`, in id
/// order) to their local days in its current zone. Aggregates and cycle
/// balances stay exact at every commit: each moved event is taken off its
/// old day's keys and added to its new day's, in the same transaction, and
/// its stored day says where it is counted. Returns the last id looked at,
/// or `None` when no event is left.
pub(super) async fn rebucket_chunk(
    conn: &mut AnyConnection,
    ws: &Workspace,
    after: &str,
) -> StoreResult<Option<String>> {
    // PostgreSQL: its packed events become rows first (`packs`), a chunk
    // at a time, before the walk by id starts.
    if conn.backend_name() == "PostgreSQL" && super::packs::unpack_chunk(conn, &ws.id).await? > 0 {
        return Ok(Some(after.to_string()));
    }
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
    let mut moved: Vec<(String, i64, String)> = Vec::new();
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
        moved.push((event.id, at.timestamp_millis(), day_str(new_day)));
    }
    minus.negate();
    minus.apply(conn, ws).await?;
    plus.apply(conn, ws).await?;
    for (id, at, day) in moved {
        // The instant picks the event's month on PostgreSQL.
        sqlx::query(
            "UPDATE usage_events SET day = $3 WHERE workspace_id = $1 AND id = $2 AND occurred_at = $4",
        )
        .bind(ws.id.clone())
        .bind(id)
        .bind(day)
        .bind(at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Some(last))
}

impl Store {
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
        // A new zone: the events move in short transactions, never holding
        // SQLite's write lock for the whole move; in the background where
        // this process runs the mover, else before the answer.
        if self.mover.0.load(std::sync::atomic::Ordering::Relaxed) {
            self.mover.1.notify_one();
        } else {
            self.rebucket(id).await?;
        }
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

    /// Whether workspace `ws` exists and which of the named user,
    /// campaign and identity it holds, in one statement: what a charge
    /// needs to check its references (`None` when the workspace does not
    /// exist).
    pub async fn known_among(
        &self,
        ws: &str,
        user: Option<&str>,
        campaign: Option<&str>,
        identity: Option<&str>,
    ) -> StoreResult<Option<Names>> {
        let rows = sqlx::query(
            "SELECT 'workspace' AS kind, id, name, '' AS extra FROM workspaces WHERE id = $1 \
             UNION ALL SELECT 'user', id, name, '' FROM users WHERE workspace_id = $1 AND id = $2 \
             UNION ALL SELECT 'campaign', id, name, status FROM campaigns WHERE workspace_id = $1 AND id = $3 \
             UNION ALL SELECT 'identity', id, name, user_id FROM identities WHERE workspace_id = $1 AND id = $4",
        )
        .bind(ws.to_string())
        .bind(user.unwrap_or_default().to_string())
        .bind(campaign.unwrap_or_default().to_string())
        .bind(identity.unwrap_or_default().to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut known = Names::default();
        let mut exists = false;
        for row in rows {
            let kind: String = row.try_get("kind")?;
            if kind == "workspace" {
                exists = true;
            } else {
                known.add(&kind, &row)?;
            }
        }
        Ok(exists.then_some(known))
    }

    /// Moves a workspace's events to its current zone's local days, one
    /// short transaction per chunk, from where a previous move stopped.
    pub async fn rebucket(&self, ws_id: &str) -> StoreResult<()> {
        loop {
            let done = self
                .write(|mut tx| async move {
                    let result = async {
                        // PostgreSQL: the row locked first, so that two
                        // processes never move the same chunk twice.
                        let lock = if self.engine == Engine::Postgres {
                            " FOR UPDATE"
                        } else {
                            ""
                        };
                        let from: Option<String> = sqlx::query_scalar(&format!(
                            "SELECT rebucket_from FROM workspaces WHERE id = $1{lock}"
                        ))
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
                    .await;
                    (tx, result)
                })
                .await?;
            if done {
                return Ok(());
            }
        }
    }

    /// Runs the time-zone moves of this database on a task of its own,
    /// for as long as the store is open: a new zone wakes it at once, and
    /// every 5 s it looks for moves left unfinished (a crash, another
    /// process's, a database that was down), so a move always ends by
    /// itself. Until it does, reports stay exact in total; the days of
    /// events not yet moved are their old zone's.
    pub fn rebucket_in_background(&self) -> tokio::task::JoinHandle<()> {
        self.mover
            .0
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                match store.resume_rebucketing().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(workspaces = n, "time-zone moves finished"),
                    Err(e) => {
                        tracing::warn!(cause = %e, "time-zone move stopped; trying again in 5 s")
                    }
                }
                if store.pool.is_closed() {
                    return;
                }
                tokio::select! {
                    () = store.mover.1.notified() => {}
                    () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
                }
            }
        })
    }

    /// Whether workspace `ws` has a time-zone move under way.
    pub async fn rebucket_pending(&self, ws: &str) -> StoreResult<bool> {
        let from: Option<Option<String>> =
            sqlx::query_scalar("SELECT rebucket_from FROM workspaces WHERE id = $1")
                .bind(ws.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(from.flatten().is_some())
    }

    /// Finishes every move under way (what the background mover does each
    /// time it wakes); how many workspaces it moved.
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

pub(super) async fn put_member_tx(
    conn: &mut AnyConnection,
    ws: &str,
    id: &str,
    member: &Member,
) -> StoreResult<bool> {
    let (table, cols, vals): (&str, [&str; 3], [String; 3]) = match member {
        Member::User { name, email, role } => (
            "users",
            ["name", "email", "role"],
            [name.clone(), email.clone(), role.key().to_string()],
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
            .map(|&i| format!("{} = {}", cols[i], placeholder(i + 3)))
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
        if table == "users" {
            // A removed user put again is back.
            sqlx::query("UPDATE users SET removed_at = NULL WHERE workspace_id = $1 AND id = $2")
                .bind(ws.to_string())
                .bind(id.to_string())
                .execute(&mut *conn)
                .await?;
        }
        Ok(false)
    } else {
        let names: Vec<&str> = distinct.iter().map(|&i| cols[i]).collect();
        let places: Vec<String> = distinct.iter().map(|&i| placeholder(i + 3)).collect();
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

/// A workspace's directory, in one statement.
pub(super) async fn load_names(conn: &mut AnyConnection, ws: &str) -> StoreResult<Names> {
    let mut names = Names::default();
    let rows = sqlx::query(
        "SELECT 'user' AS kind, id, name, '' AS extra FROM users WHERE workspace_id = $1 \
         UNION ALL SELECT 'identity', id, name, user_id FROM identities WHERE workspace_id = $2 \
         UNION ALL SELECT 'campaign', id, name, status FROM campaigns WHERE workspace_id = $3",
    )
    .bind(ws)
    .bind(ws)
    .bind(ws)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let kind: String = row.try_get("kind")?;
        names.add(&kind, &row)?;
    }
    Ok(names)
}

impl Names {
    /// Adds a row of `kind` (`user`, `identity`, `campaign`) with columns
    /// `id`, `name` and `extra` (an identity's user, a campaign's status).
    pub(super) fn add(&mut self, kind: &str, row: &AnyRow) -> StoreResult<()> {
        let id: String = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        let extra: String = row.try_get("extra")?;
        match kind {
            "user" => {
                self.users.insert(id, name);
            }
            "identity" => {
                self.owners.insert(id.clone(), extra);
                self.identities.insert(id, name);
            }
            _ => {
                self.campaigns.insert(id, (name, extra));
            }
        }
        Ok(())
    }
}
