//! Delivers requests to the account manager to the platform's webhook.
//!
//! Each request is queued in `webhook_outbox` in the transaction that stores
//! it. This worker leases due rows (so several server processes can run it),
//! POSTs each payload with its id as `Idempotency-Key`, and marks it
//! delivered on a 2xx; anything else is retried with exponential backoff.
//! A crash between the POST and the mark redelivers the same id, which the
//! receiver recognises. Scheduling uses the real clock, even under
//! `CREDITS_NOW`, so that backoff elapses. What each delivery carries is
//! in `payload`.

pub mod payload;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::{Claimed, Store};

/// How deliveries are paced.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    pub url: String,
    /// First retry delay; doubles per attempt up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// How often to look for due deliveries.
    pub poll: Duration,
    /// How long a leased delivery stays with this process before another
    /// may take it: longer than a whole pass (every attempt of a batch
    /// timing out), so that no row is sent by two processes at once.
    pub lease: Duration,
    /// Most deliveries leased in one pass.
    pub batch: i64,
    /// Longest wait for the receiver's answer.
    pub attempt_timeout: Duration,
    /// This process's name on the leases it holds.
    pub owner: String,
    /// Key of the `X-Credits-Signature` header, when set.
    pub secret: Option<String>,
}

impl OutboxConfig {
    /// Defaults for `url`: 2 s doubling to 1 h, polled every second.
    pub fn new(url: String) -> Self {
        Self {
            url,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(3600),
            poll: Duration::from_secs(1),
            // 20 attempts of at most 10 s each, and a margin.
            lease: Duration::from_secs(20 * 10 + 30),
            batch: 20,
            attempt_timeout: Duration::from_secs(10),
            owner: crate::auth::new_session_token(),
            secret: None,
        }
    }

    /// The delay before attempt `attempts + 1`.
    pub fn backoff(&self, attempts: i64) -> Duration {
        let factor = 2u32.saturating_pow(attempts.clamp(0, 30) as u32);
        self.base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Runs deliveries until `shutdown` resolves.
pub async fn run(store: Store, config: OutboxConfig, shutdown: tokio::sync::watch::Receiver<bool>) {
    let client = match client(&config) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(cause = %e, "webhook client could not start");
            return;
        }
    };
    let mut shutdown = shutdown;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if let Err(e) = deliver_due(&store, &client, &config).await {
            tracing::warn!(cause = %e, "webhook outbox pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(config.poll) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The webhook's HTTP client: a bounded wait, and no redirects (a
/// redirect is a failed delivery, retried; the payload never goes
/// anywhere but the configured URL).
pub fn client(config: &OutboxConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(config.attempt_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// One pass: lease the due deliveries and attempt each once.
pub async fn deliver_due(
    store: &Store,
    client: &reqwest::Client,
    config: &OutboxConfig,
) -> Result<usize, crate::store::StoreError> {
    deliver_due_at(store, client, config, Utc::now()).await
}

/// [`deliver_due`] at `now`: what is due, when leases end and when the
/// next attempt is due are reckoned from it (tests move it instead of
/// sleeping); the signature's time stays the real one, which receivers
/// check.
pub async fn deliver_due_at(
    store: &Store,
    client: &reqwest::Client,
    config: &OutboxConfig,
    now: DateTime<Utc>,
) -> Result<usize, crate::store::StoreError> {
    let lease = chrono::Duration::from_std(config.lease).unwrap_or(chrono::Duration::seconds(60));
    let due = store
        .claim_deliveries(now, lease, config.batch, &config.owner)
        .await?;
    let n = due.len();
    for item in due {
        let outcome = attempt(client, config, &item).await;
        let outcome = match outcome {
            Ok(()) => {
                tracing::info!(request = %item.request_id, "webhook delivered");
                Ok(now)
            }
            Err(error) => {
                let delay = config.backoff(item.attempts);
                tracing::warn!(request = %item.request_id, attempt = item.attempts + 1, %error, retry_in_ms = delay.as_millis() as u64, "webhook delivery failed");
                let next = now
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(60));
                Err((error, next))
            }
        };
        if !store
            .finish_delivery(&item.request_id, &config.owner, &outcome)
            .await?
        {
            tracing::warn!(request = %item.request_id, "lease lost before the outcome was recorded");
        }
    }
    Ok(n)
}

/// `X-Credits-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn signature(secret: &str, unix_seconds: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this cannot happen.
        Err(_) => return String::new(),
    };
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix_seconds},v1={hex}")
}

async fn attempt(
    client: &reqwest::Client,
    config: &OutboxConfig,
    item: &Claimed,
) -> Result<(), String> {
    let mut req = client.post(&config.url);
    if let Some(secret) = &config.secret {
        req = req.header(
            "x-credits-signature",
            signature(secret, Utc::now().timestamp(), &item.payload),
        );
    }
    let res = req
        .header("content-type", "application/json")
        .header("idempotency-key", &item.request_id)
        .header(
            "x-credits-delivery-attempt",
            (item.attempts + 1).to_string(),
        )
        .body(item.payload.clone())
        .send()
        .await
        // reqwest's message names the URL, which may carry a secret: never logged or stored.
        .map_err(|e| format!("request failed: {}", e.without_url()))?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("receiver answered {}", res.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_contract() {
        // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature("secret", 1_700_000_000, r#"{"a":1}"#),
            "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }

    #[test]
    fn backoff_doubles_to_a_ceiling() {
        let c = OutboxConfig::new("http://x".into());
        assert_eq!(c.backoff(0), Duration::from_secs(2));
        assert_eq!(c.backoff(3), Duration::from_secs(16));
        assert_eq!(c.backoff(40), Duration::from_secs(3600));
    }
}
