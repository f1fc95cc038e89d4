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
}
