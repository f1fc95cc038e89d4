//! The platform's webhook receiver, on loopback: one for every test that
//! delivers (requests, alerts, two processes' outboxes).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use credits_server::outbox::signature;
use serde_json::Value;

/// How the receiver answers.
#[derive(Clone, Copy, Default)]
pub struct Hook {
    /// Its first calls answered `503`.
    pub fail_first: usize,
    /// The key whose `X-Credits-Signature` every call must carry (checked
    /// as `docs/api-notes.md` tells a receiver to); none: not checked.
    pub secret: Option<&'static str>,
    /// How long it takes to answer (a slow receiver, that leases must cover).
    pub delay: Duration,
}

/// A running receiver: its URL and what it acknowledged.
pub struct Receiver {
    pub url: String,
    /// The deliveries acknowledged, in order: (Idempotency-Key, body).
    pub seen: Arc<Mutex<Vec<(String, Value)>>>,
    /// Calls refused for a bad or stale signature.
    pub bad_signatures: Arc<Mutex<usize>>,
}

impl Receiver {
    /// The deliveries acknowledged so far.
    pub fn seen(&self) -> Vec<(String, Value)> {
        self.seen.lock().expect("lock").clone()
    }

    /// How many times each Idempotency-Key was acknowledged.
    pub fn counts(&self) -> std::collections::HashMap<String, usize> {
        let mut out = std::collections::HashMap::new();
        for (key, _) in self.seen() {
            *out.entry(key).or_default() += 1;
        }
        out
    }
}

/// Starts a receiver that fails its first `fail_first` calls, without
/// checking signatures.
pub async fn receiver(fail_first: usize) -> Receiver {
    start(Hook {
        fail_first,
        ..Hook::default()
    })
    .await
}

/// Starts a receiver that answers as `hook` says.
pub async fn start(hook: Hook) -> Receiver {
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let bad = Arc::new(Mutex::new(0usize));
    let calls = Arc::new(Mutex::new(0usize));
    let (s2, b2, c2) = (seen.clone(), bad.clone(), calls.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (seen, bad, calls) = (s2.clone(), b2.clone(), c2.clone());
            async move {
                if let Some(secret) = hook.secret {
                    let header = headers
                        .get("x-credits-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    let t: i64 = header
                        .split(',')
                        .find_map(|p| p.strip_prefix("t="))
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0);
                    let fresh = (chrono::Utc::now().timestamp() - t).abs() < 300;
                    if !fresh || signature(secret, t, &body) != header {
                        *bad.lock().expect("lock") += 1;
                        return StatusCode::UNAUTHORIZED;
                    }
                }
                let n = {
                    let mut c = calls.lock().expect("lock");
                    *c += 1;
                    *c
                };
                if n <= hook.fail_first {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                if !hook.delay.is_zero() {
                    tokio::time::sleep(hook.delay).await;
                }
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                seen.lock()
                    .expect("lock")
                    .push((key, serde_json::from_str(&body).unwrap_or(Value::Null)));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url: format!("http://{addr}/hook"),
        seen,
        bad_signatures: bad,
    }
}
