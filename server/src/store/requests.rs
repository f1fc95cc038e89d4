//! Requests to the account manager and the webhook outbox that delivers
//! them (and alerts).

use super::prelude::*;
use crate::outbox::payload::SupportRequestCreated;

impl Store {
    // ---- requests to the account manager ----------------------------------

    /// Stores a request and queues its webhook delivery, in one
    /// transaction, unless its sender reached one of `limits`: that limit
    /// is returned and nothing is stored. The count and the insert run
    /// under the workspace row's lock, so a burst sent at once passes no
    /// more than the limit.
    pub async fn create_support_request(
        &self,
        ws: &Workspace,
        user_id: Option<&str>,
        intent: Intent,
        message: &str,
        now: DateTime<Utc>,
        limits: &[SendLimit],
    ) -> StoreResult<Result<SupportRequest, SendLimit>> {
        let id = new_request_id();
        let request = SupportRequest {
            id,
            workspace_id: ws.id.clone(),
            user_id: user_id.map(str::to_string),
            intent,
            message: message.to_string(),
            created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            created_local: String::new(),
        };
        let payload = SupportRequestCreated {
            id: &request.id,
            workspace_id: &request.workspace_id,
            workspace_name: &ws.name,
            user_id: request.user_id.as_deref(),
            intent: request.intent,
            message: &request.message,
            created_at: &request.created_at,
            account_manager: ws.account_manager.as_ref(),
        }
        .to_json();
        // The body borrows; each attempt clones what it binds.
        let (request_ref, payload) = (&request, &payload);
        let sent = self.write(|mut tx| async move {
            let result = async {
            // The workspace row's lock (as every other writer takes it first).
            sqlx::query("UPDATE workspaces SET record_seq = record_seq WHERE id = $1")
                .bind(ws.id.clone())
                .execute(&mut *tx)
                .await?;
            let real_now = Utc::now();
            for limit in limits {
                let sent: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM support_requests WHERE workspace_id = $1 AND user_id = $2 AND sent_at >= $3",
                )
                .bind(ws.id.clone())
                .bind(user_id.unwrap_or("").to_string())
                .bind((real_now - limit.window).timestamp_millis())
                .fetch_one(&mut *tx)
                .await?;
                if sent >= limit.most {
                    return Ok(Err(*limit));
                }
            }
            sqlx::query(
                "INSERT INTO support_requests (id, workspace_id, user_id, intent, message, created_at, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(request_ref.id.clone())
            .bind(ws.id.clone())
            .bind(request_ref.user_id.clone())
            .bind(intent.key().to_string())
            .bind(message.to_string())
            .bind(now.timestamp_millis())
            .bind(real_now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO webhook_outbox (request_id, payload, next_attempt_at) VALUES ($1, $2, $3)")
                .bind(request_ref.id.clone())
                .bind(payload.clone())
                .bind(Utc::now().timestamp_millis())
                .execute(&mut *tx)
                .await?;
            Ok::<_, StoreError>(Ok(()))
        }
        .await;
        (tx, result)
        })
        .await?;
        Ok(sent.map(|()| request))
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
                        created_local: String::new(),
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
        self.write(|mut tx| async move {
            let result = async {
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
        .await;
        (tx, result)
        })
        .await
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
        self.write(|mut tx| async move {
            let result = async {
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
            metrics::counter!("credits_outbox_deliveries_total",
                "outcome" => if outcome.is_ok() { "delivered" } else { "failed" })
            .increment(1);
            Ok::<_, StoreError>(done.rows_affected() == 1)
        }
        .await;
        (tx, result)
        })
        .await
    }
}

/// A cap on the requests one person sends: at most `most` in `window`
/// (real time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimit {
    pub window: chrono::Duration,
    pub most: i64,
}
