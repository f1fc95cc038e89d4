//! Requests for more (API.md, "Requests for more"): a member, or the
//! platform on their behalf, asks for more credits than their limit; an
//! admin, or the platform, approves or denies. An approval adds to that
//! user's effective limit for the request's cycle only.
//!
//! A request still pending when its cycle ends is expired: its stored
//! status is read as `expired` from then on (nothing runs at midnight),
//! and the next request of that user marks it so.

use std::collections::BTreeSet;

use super::audit::{self, next_seq, seq_of, AuditAction, Change};
use super::limits::{lock_current_cycle, rearm, LimitBook};
use super::prelude::*;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Approved,
    Denied,
    Expired,
}

impl RequestStatus {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
        }
    }

    /// From the API's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// A decision on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub by: Actor,
    /// The credits approved; `None` for a denial.
    pub credits: Option<i64>,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRequest {
    pub id: String,
    pub user_id: String,
    pub credits: i64,
    pub reason: String,
    pub cycle: BillingCycle,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
    pub decision: Option<Decision>,
}

impl LimitRequest {
    /// As the API writes it (and the audit log and the webhook keep it).
    pub fn json(&self) -> serde_json::Value {
        let at = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        serde_json::json!({
            "id": self.id,
            "user_id": self.user_id,
            "credits": self.credits,
            "reason": self.reason,
            "cycle": {"start": day_str(self.cycle.start), "end": day_str(self.cycle.end)},
            "status": self.status.as_str(),
            "created_at": at(&self.created_at),
            "decision": self.decision.as_ref().map(|d| serde_json::json!({
                "by": d.by.json(),
                "credits": d.credits,
                "note": d.note,
                "at": at(&d.at),
            })),
        })
    }
}

/// A request to record.
#[derive(Debug, Clone)]
pub struct NewLimitRequest {
    /// The platform's id; `None` for a request made in the dashboard.
    pub id: Option<String>,
    pub user_id: String,
    pub credits: i64,
    pub reason: String,
    /// The body as canonical JSON, to tell a replay from a conflict.
    pub request: String,
}

const COLUMNS: &str = "id, user_id, credits, reason, cycle_start, status, created_at, \
     decided_by, decided_credits, note, decided_at";

fn request_from_row(r: &AnyRow, current: NaiveDate) -> StoreResult<LimitRequest> {
    let start: String = r.try_get("cycle_start")?;
    let start = NaiveDate::parse_from_str(&start, "%Y-%m-%d")
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let status: String = r.try_get("status")?;
    let mut status = RequestStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("request status {status}")))?;
    if status == RequestStatus::Pending && start < current {
        status = RequestStatus::Expired;
    }
    let by: Option<String> = r.try_get("decided_by")?;
    let decided_at: Option<i64> = r.try_get("decided_at")?;
    let decision = match (by, decided_at) {
        (Some(by), Some(at)) => Some(Decision {
            by: Actor::from_stored(&by),
            credits: r.try_get("decided_credits")?,
            note: r.try_get::<Option<String>, _>("note")?.unwrap_or_default(),
            at: from_ms(at)?,
        }),
        _ => None,
    };
    Ok(LimitRequest {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        credits: r.try_get("credits")?,
        reason: r.try_get("reason")?,
        cycle: BillingCycle::containing(start),
        status,
        created_at: from_ms(r.try_get("created_at")?)?,
        decision,
    })
}

async fn read_request(
    conn: &mut AnyConnection,
    ws: &str,
    id: &str,
    current: NaiveDate,
) -> StoreResult<Option<(LimitRequest, String)>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, request FROM limit_requests WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(ws.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok((request_from_row(&r, current)?, r.try_get("request")?)))
        .transpose()
}

/// Queues a webhook delivery announcing a request (`created` or `decided`).
async fn announce(
    conn: &mut AnyConnection,
    ws: &Workspace,
    event: &str,
    request: &LimitRequest,
) -> StoreResult<()> {
    let mut body = serde_json::Map::new();
    body.insert("type".into(), event.into());
    body.insert("workspace_id".into(), ws.id.clone().into());
    body.insert("workspace_name".into(), ws.name.clone().into());
    if let serde_json::Value::Object(fields) = request.json() {
        body.extend(fields);
    }
    sqlx::query(
        "INSERT INTO webhook_outbox (request_id, payload, next_attempt_at) VALUES ($1, $2, $3)",
    )
    .bind(new_id("lrw"))
    .bind(serde_json::Value::Object(body).to_string())
    .bind(Utc::now().timestamp_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn create_tx(
    conn: &mut AnyConnection,
    ws_id: &str,
    new: &NewLimitRequest,
    now: DateTime<Utc>,
) -> StoreResult<(bool, LimitRequest)> {
    // The workspace row's lock first: one request of a user at a time.
    let seq = next_seq(conn, ws_id).await?;
    let ws = load_workspace(conn, ws_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let cycle = ws.calendar().cycle_at(now);
    if let Some(id) = &new.id {
        if let Some((stored, request)) = read_request(conn, ws_id, id, cycle.start).await? {
            return if request == new.request {
                Ok((false, stored))
            } else {
                Err(StoreError::Conflict(format!(
                    "limit request {id} exists with another body"
                )))
            };
        }
    }
    let users: Option<String> =
        sqlx::query_scalar("SELECT id FROM users WHERE workspace_id = $1 AND id = $2")
            .bind(ws_id.to_string())
            .bind(new.user_id.clone())
            .fetch_optional(&mut *conn)
            .await?;
    if users.is_none() {
        return Err(StoreError::UnknownReferences(vec!["user_id"]));
    }
    let key = (Scope::User, new.user_id.clone());
    let limits = LimitBook::read(conn, &ws, &BTreeSet::from([key.clone()])).await?;
    if limits.limit_of(&key).is_none() {
        return Err(StoreError::Invalid {
            field: "user_id",
            message: "no limit applies to this user".into(),
        });
    }
    sqlx::query(
        "UPDATE limit_requests SET status = 'expired' WHERE workspace_id = $1 AND status = 'pending' \
         AND cycle_start < $2",
    )
    .bind(ws_id.to_string())
    .bind(day_str(cycle.start))
    .execute(&mut *conn)
    .await?;
    let pending: Option<String> = sqlx::query_scalar(
        "SELECT id FROM limit_requests WHERE workspace_id = $1 AND user_id = $2 AND status = 'pending'",
    )
    .bind(ws_id.to_string())
    .bind(new.user_id.clone())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(pending) = pending {
        return Err(StoreError::Conflict(format!(
            "{} already has a pending request ({pending})",
            new.user_id
        )));
    }
    let stored = LimitRequest {
        id: new.id.clone().unwrap_or_else(|| new_id("lr")),
        user_id: new.user_id.clone(),
        credits: new.credits,
        reason: new.reason.clone(),
        cycle,
        status: RequestStatus::Pending,
        created_at: now,
        decision: None,
    };
    sqlx::query(
        "INSERT INTO limit_requests (workspace_id, id, seq, user_id, credits, reason, cycle_start, status, \
         request, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)",
    )
    .bind(ws_id.to_string())
    .bind(stored.id.clone())
    .bind(seq)
    .bind(stored.user_id.clone())
    .bind(stored.credits)
    .bind(stored.reason.clone())
    .bind(day_str(cycle.start))
    .bind(new.request.clone())
    .bind(now.timestamp_millis())
    .execute(&mut *conn)
    .await?;
    announce(conn, &ws, "credits.limit_request.created", &stored).await?;
    Ok((true, stored))
}

/// What a decision says, as the API or the dashboard sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Approve, with the credits (`None`: the requested amount).
    Approve(Option<i64>),
    Deny,
}

async fn decide_tx(
    conn: &mut AnyConnection,
    ws_id: &str,
    id: &str,
    verdict: &Verdict,
    note: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> StoreResult<LimitRequest> {
    next_seq(conn, ws_id).await?;
    let ws = load_workspace(conn, ws_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let current = ws.calendar().cycle_at(now).start;
    let (before, _) = read_request(conn, ws_id, id, current)
        .await?
        .ok_or(StoreError::NotFound)?;
    if before.status != RequestStatus::Pending {
        return Err(StoreError::Conflict(format!(
            "limit request {id} is {} already",
            before.status.as_str()
        )));
    }
    let start = lock_current_cycle(conn, &ws, now).await?;
    let (status, credits) = match verdict {
        Verdict::Approve(c) => (RequestStatus::Approved, Some(c.unwrap_or(before.credits))),
        Verdict::Deny => (RequestStatus::Denied, None),
    };
    let after = LimitRequest {
        status,
        decision: Some(Decision {
            by: actor.clone(),
            credits,
            note: note.to_string(),
            at: now,
        }),
        ..before.clone()
    };
    sqlx::query(
        "UPDATE limit_requests SET status = $3, decided_by = $4, decided_credits = $5, note = $6, \
         decided_at = $7 WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws_id.to_string())
    .bind(id.to_string())
    .bind(status.as_str().to_string())
    .bind(actor.stored())
    .bind(credits)
    .bind(note.to_string())
    .bind(now.timestamp_millis())
    .execute(&mut *conn)
    .await?;
    if let Some(extra) = credits {
        sqlx::query(
            "INSERT INTO scope_usage (workspace_id, start_day, scope, scope_id, approved_extra) \
             VALUES ($1, $2, 'user', $3, $4) ON CONFLICT (workspace_id, start_day, scope, scope_id) \
             DO UPDATE SET approved_extra = scope_usage.approved_extra + excluded.approved_extra",
        )
        .bind(ws_id.to_string())
        .bind(day_str(start))
        .bind(before.user_id.clone())
        .bind(extra)
        .execute(&mut *conn)
        .await?;
        rearm(conn, &ws, start, &(Scope::User, before.user_id.clone())).await?;
    }
    let change = Change {
        action: AuditAction::LimitRequestDecided,
        target_scope: "limit_request",
        target_id: id,
        before: Some(before.json()),
        after: Some(after.json()),
    };
    audit::record(conn, ws_id, actor, now, change).await?;
    announce(conn, &ws, "credits.limit_request.decided", &after).await?;
    Ok(after)
}

impl Store {
    /// Records a request for more. Returns whether it was created (a
    /// replay of the same id and body answers the request as stored now).
    pub async fn create_limit_request(
        &self,
        ws: &str,
        new: &NewLimitRequest,
        now: DateTime<Utc>,
    ) -> StoreResult<(bool, LimitRequest)> {
        self.write(|mut tx| async move {
            let r = create_tx(&mut tx, ws, new, now).await;
            (tx, r)
        })
        .await
    }

    /// Approves or denies a pending request; `Conflict` when it is decided
    /// or expired already.
    pub async fn decide_limit_request(
        &self,
        ws: &str,
        id: &str,
        verdict: &Verdict,
        note: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<LimitRequest> {
        self.write(|mut tx| async move {
            let r = decide_tx(&mut tx, ws, id, verdict, note, actor, now).await;
            (tx, r)
        })
        .await
    }

    /// A workspace's requests, newest first, `limit` after the request
    /// `after` (an id a previous page ended with), of one status or all;
    /// a user's only with `user`. `Ok(None)` when `after` names no request.
    pub async fn limit_requests(
        &self,
        ws: &Workspace,
        status: Option<RequestStatus>,
        user: Option<&str>,
        limit: i64,
        after: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<LimitRequest>>> {
        let before = match after {
            None => i64::MAX,
            Some(id) => match seq_of(&self.pool, "limit_requests", &ws.id, id).await? {
                Some(seq) => seq,
                None => return Ok(None),
            },
        };
        let current = ws.calendar().cycle_at(now).start;
        let filter = match status {
            None => "",
            Some(RequestStatus::Pending) => " AND status = 'pending' AND cycle_start >= $3",
            Some(RequestStatus::Expired) => {
                " AND (status = 'expired' OR (status = 'pending' AND cycle_start < $3))"
            }
            Some(RequestStatus::Approved) => " AND status = 'approved'",
            Some(RequestStatus::Denied) => " AND status = 'denied'",
        };
        let mut sql = format!(
            "SELECT {COLUMNS} FROM limit_requests WHERE workspace_id = $1 AND seq < $2{filter}"
        );
        let mut q_user = None;
        if let Some(u) = user {
            sql.push_str(if filter.contains("$3") {
                " AND user_id = $4"
            } else {
                " AND user_id = $3"
            });
            q_user = Some(u.to_string());
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", limit.clamp(1, 101)));
        let mut q = sqlx::query(&sql).bind(ws.id.clone()).bind(before);
        if filter.contains("$3") {
            q = q.bind(day_str(current));
        }
        if let Some(u) = q_user {
            q = q.bind(u);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| request_from_row(r, current))
            .collect::<StoreResult<_>>()
            .map(Some)
    }
}
