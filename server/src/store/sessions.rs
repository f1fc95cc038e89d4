//! Dashboard sessions and used hand-off tokens, shared by every process.

use super::prelude::*;

impl Store {
    // ---- sessions ---------------------------------------------------------

    /// Stores a session for a user of a workspace under the hash of its
    /// token (the token itself is minted, and kept, by the caller: the
    /// sign-in).
    pub async fn create_session(
        &self,
        token_hash: &str,
        session: &Session,
        ttl: chrono::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let hash = token_hash;
        self.write(|mut tx| async move {
            let result = async {
            sqlx::query(
                "INSERT INTO sessions (token_hash, workspace_id, user_id, embedded, theme, locale, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(hash.to_string())
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
        .await;
        (tx, result)
        })
        .await
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
        let Some(r) = row else {
            return Ok(None);
        };
        let session = Session {
            workspace_id: r.try_get("workspace_id")?,
            user_id: r.try_get("user_id")?,
            embedded: r.try_get::<i64, _>("embedded")? != 0,
            theme: r.try_get("theme")?,
            locale: r.try_get("locale")?,
        };
        // A session of a removed user is refused even if it was opened a
        // moment before the removal ended the others. A second statement,
        // not a join: the sessions are looked up by token before any
        // workspace is known, and each statement on a workspace's table
        // names it (docs/citus.md).
        Ok(self
            .user_active(&session.workspace_id, &session.user_id)
            .await?
            .then_some(session))
    }

    /// Ends every session of `user` in `ws`, standalone and embedded, on
    /// every process; how many there were. `None` when the workspace has
    /// no such user.
    pub async fn end_user_sessions(&self, ws: &str, user: &str) -> StoreResult<Option<u64>> {
        self.write(|mut tx| async move {
            let r = end_sessions_tx(&mut tx, ws, user, None).await;
            (tx, r)
        })
        .await
    }

    /// Removes `user` from `ws` at `now`: their sessions end and hand-offs
    /// for them are refused, while everything they did stays (events,
    /// reports, limits, their name); a later `PUT` of the user brings
    /// them back. Removing a removed user changes nothing. `None` when the
    /// workspace has no such user; else the sessions ended.
    pub async fn remove_user(
        &self,
        ws: &str,
        user: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<u64>> {
        self.write(|mut tx| async move {
            let r = end_sessions_tx(&mut tx, ws, user, Some(now)).await;
            (tx, r)
        })
        .await
    }

    /// Whether `user` belongs to `ws` and was not removed: who a hand-off
    /// may sign in.
    pub async fn user_active(&self, ws: &str, user: &str) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM users WHERE workspace_id = $1 AND id = $2 AND removed_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
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
}

/// Ends the sessions of `user` in `ws` and, with `removed_at`, marks the
/// user removed (kept if already); `None` when there is no such user.
async fn end_sessions_tx(
    conn: &mut AnyConnection,
    ws: &str,
    user: &str,
    removed_at: Option<DateTime<Utc>>,
) -> StoreResult<Option<u64>> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM users WHERE workspace_id = $1 AND id = $2")
            .bind(ws.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    if found.is_none() {
        return Ok(None);
    }
    if let Some(at) = removed_at {
        sqlx::query(
            "UPDATE users SET removed_at = $3 WHERE workspace_id = $1 AND id = $2 AND removed_at IS NULL",
        )
        .bind(ws.to_string())
        .bind(user.to_string())
        .bind(at.timestamp_millis())
        .execute(&mut *conn)
        .await?;
    }
    let ended = sqlx::query("DELETE FROM sessions WHERE workspace_id = $1 AND user_id = $2")
        .bind(ws.to_string())
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(Some(ended.rows_affected()))
}
