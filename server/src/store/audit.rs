//! The audit log (API.md, "Audit log"): every change of plan, alert
//! settings and limits, and every decision on a request for more, written
//! in the transaction of the change. Entries (and limit requests) are
//! numbered under the workspace row's lock, so that their order is the
//! order in which they were recorded, on every process.

use super::prelude::*;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    PlanChanged,
    AlertsChanged,
    LimitsChanged,
    LimitSet,
    LimitRemoved,
    LimitRequestDecided,
}

impl AuditAction {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlanChanged => "plan.changed",
            Self::AlertsChanged => "alerts.changed",
            Self::LimitsChanged => "limits.changed",
            Self::LimitSet => "limit.set",
            Self::LimitRemoved => "limit.removed",
            Self::LimitRequestDecided => "limit_request.decided",
        }
    }
}

/// An audit entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: String,
    /// `workspace`, `user`, `campaign` or `limit_request`.
    pub target_scope: String,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// The next number of the workspace's records (requests and audit
/// entries). Takes the workspace row's lock until commit: call it first in
/// a transaction, before the cycle row's lock, so that locks are always
/// taken in the order workspace, then cycle.
pub(super) async fn next_seq(conn: &mut AnyConnection, ws: &str) -> StoreResult<i64> {
    sqlx::query_scalar(
        "UPDATE workspaces SET record_seq = record_seq + 1 WHERE id = $1 RETURNING record_seq",
    )
    .bind(ws.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// One change to record.
pub(super) struct Change<'a> {
    pub action: AuditAction,
    pub target_scope: &'a str,
    pub target_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Records `change` unless it changes nothing.
pub(super) async fn record(
    conn: &mut AnyConnection,
    ws: &str,
    actor: &Actor,
    now: DateTime<Utc>,
    change: Change<'_>,
) -> StoreResult<()> {
    if change.before == change.after {
        return Ok(());
    }
    let seq = next_seq(conn, ws).await?;
    let text = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
    sqlx::query(
        "INSERT INTO audit_log (workspace_id, id, seq, at, actor, action, target_scope, target_id, \
         before_value, after_value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(ws.to_string())
    .bind(new_id("au"))
    .bind(seq)
    .bind(now.timestamp_millis())
    .bind(actor.stored())
    .bind(change.action.as_str().to_string())
    .bind(change.target_scope.to_string())
    .bind(change.target_id.to_string())
    .bind(text(&change.before))
    .bind(text(&change.after))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A limit as the API writes it.
pub(super) fn limit_json(limit: Option<Limit>) -> Option<serde_json::Value> {
    limit.map(|l| serde_json::json!({"credits": l.credits, "mode": l.mode.as_str()}))
}

/// The workspace's `limits` field as the API writes it.
pub(super) fn limits_json(s: &LimitSettings) -> serde_json::Value {
    serde_json::json!({"user_default": limit_json(s.user_default), "overage": s.overage})
}

/// The workspace's `alerts` field as the API writes it.
pub(super) fn alerts_json(s: &AlertSettings) -> serde_json::Value {
    serde_json::json!({"thresholds": s.thresholds, "runout_forecast": s.runout_forecast})
}

/// The seq of the record `id` of `table` (`limit_requests` or
/// `audit_log`), to page after it; `None` when there is no such record.
pub(super) async fn seq_of(
    pool: &sqlx::AnyPool,
    table: &str,
    ws: &str,
    id: &str,
) -> StoreResult<Option<i64>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT seq FROM {table} WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(ws.to_string())
    .bind(id.to_string())
    .fetch_optional(pool)
    .await?)
}

fn entry_from_row(r: &AnyRow) -> StoreResult<AuditEntry> {
    let parse = |col: &str| -> StoreResult<Option<serde_json::Value>> {
        let text: Option<String> = r.try_get(col)?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    };
    let actor: String = r.try_get("actor")?;
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at: from_ms(r.try_get("at")?)?,
        actor: Actor::from_stored(&actor),
        action: r.try_get("action")?,
        target_scope: r.try_get("target_scope")?,
        target_id: r.try_get("target_id")?,
        before: parse("before_value")?,
        after: parse("after_value")?,
    })
}

impl Store {
    /// A workspace's audit log, newest first, `limit` entries after the
    /// entry `after` (an id a previous page ended with). `Ok(None)` when
    /// `after` names no entry of the workspace.
    pub async fn audit_log(
        &self,
        ws: &str,
        limit: i64,
        after: Option<&str>,
    ) -> StoreResult<Option<Vec<AuditEntry>>> {
        let before = match after {
            None => i64::MAX,
            Some(id) => match seq_of(&self.pool, "audit_log", ws, id).await? {
                Some(seq) => seq,
                None => return Ok(None),
            },
        };
        let rows = sqlx::query(&format!(
            "SELECT id, at, actor, action, target_scope, target_id, before_value, after_value \
             FROM audit_log WHERE workspace_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT {}",
            limit.clamp(1, 101)
        ))
        .bind(ws.to_string())
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(entry_from_row)
            .collect::<StoreResult<_>>()
            .map(Some)
    }
}
