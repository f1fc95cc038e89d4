//! Requests to the account manager: stored through the dashboard's server
//! function, listed by the API, and delivered to a webhook on loopback with
//! retries, across a restart, once per id.

use std::collections::HashMap;
use std::time::Duration;

use crate::common::webhook::receiver;
use crate::common::TestApp;
use axum::http::{Method, StatusCode};
use credits_server::outbox::{deliver_due, deliver_due_at, OutboxConfig};
use serde_json::Value;

/// Sends a request through the server function, as the Plan tab's form does.
async fn send(app: &TestApp, intent: &str, message: &str) -> (StatusCode, Value) {
    let body = format!("intent={intent}&message={}", message.replace(' ', "+"));
    let cookie = app.session_cookie("acme", "u_samara").await;
    let headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("accept", "application/json"),
        ("cookie", cookie.as_str()),
    ];
    let (status, _, text) = app
        .request(Method::POST, "/rpc/support-request", &headers, Some(body))
        .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn requests_are_stored_and_listed(app: &TestApp) {
    app.seed_basic().await;
    let (s, first) = send(app, "change_plan", "Hi Laura, we want Scale").await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["intent"], "change_plan");
    let (s, second) = send(app, "buy_more", "Hi Laura, 500 more please").await;
    assert_eq!(s, StatusCode::OK, "{second}");
    let (s, bad) = send(app, "refund", "money back").await;
    assert_ne!(s, StatusCode::OK, "{bad}");
    let (s, empty) = send(app, "buy_more", "   ").await;
    assert_ne!(s, StatusCode::OK, "{empty}");

    let (s, page) = app
        .get("/api/v1/workspaces/acme/support-requests?limit=1")
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["requests"][0]["id"], second["id"], "newest first");
    assert_eq!(page["requests"][0]["message"], "Hi Laura, 500 more please");
    assert_eq!(
        page["requests"][0]["user_id"], "u_samara",
        "the signed-in user"
    );
    assert_eq!(page["requests"][0]["delivery"]["status"], "pending");
    let cursor = page["next_cursor"].as_str().unwrap_or_default().to_string();
    let (_, page2) = app
        .get(&format!(
            "/api/v1/workspaces/acme/support-requests?limit=1&cursor={cursor}"
        ))
        .await;
    assert_eq!(page2["requests"][0]["id"], first["id"]);
    assert!(page2["next_cursor"].is_null());
    let (s, _) = app
        .get("/api/v1/workspaces/acme/support-requests?limit=0")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app.get("/api/v1/workspaces/ghost/support-requests").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The Plan tab shows the newest request after a reload.
    let cookie = app.session_cookie("acme", "u_mikaela").await;
    let (s, _, html) = app
        .request(Method::GET, "/usage/plan", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Request sent to <!>Laura Vidal"), "{html}");
    assert!(html.contains(second["id"].as_str().unwrap_or("?")));
}

/// One pass of the outbox `ms` milliseconds after `t0` (its clock, moved
/// by the test instead of sleeping): how many deliveries it attempted.
async fn pass_at(
    store: &credits_server::store::Store,
    client: &reqwest::Client,
    config: &OutboxConfig,
    t0: chrono::DateTime<chrono::Utc>,
    ms: i64,
) -> usize {
    deliver_due_at(
        store,
        client,
        config,
        t0 + chrono::Duration::milliseconds(ms),
    )
    .await
    .expect("pass")
}

fn fast(url: &str) -> OutboxConfig {
    let mut c = OutboxConfig::new(url.to_string());
    c.base_backoff = Duration::from_millis(100);
    c.lease = Duration::from_millis(300);
    c
}

async fn webhook_retries_until_acknowledged(app: &TestApp) {
    app.seed_basic().await;
    let hook = receiver(2).await;
    let config = fast(&hook.url);
    let client = reqwest::Client::new();
    let (_, sent) = send(app, "buy_more", "Top up please").await;
    let id = sent["id"].as_str().unwrap_or_default().to_string();
    // The outbox's clock, moved by the test (milliseconds after t0).
    let t0 = chrono::Utc::now();
    let pass = |ms: i64| pass_at(&app.store, &client, &config, t0, ms);
    // Attempt 1 and 2 get a 500; each schedules a later retry (100 ms,
    // then 200 ms later).
    assert_eq!(pass(0).await, 1);
    assert_eq!(pass(99).await, 0, "not due yet");
    assert_eq!(pass(100).await, 1);
    assert_eq!(pass(299).await, 0, "not due yet");
    assert_eq!(pass(300).await, 1);
    assert_eq!(pass(10_000).await, 0, "delivered: nothing left");
    let seen = hook.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, id);
    assert_eq!(seen[0].1["id"], id.as_str());
    assert_eq!(seen[0].1["intent"], "buy_more");
    assert_eq!(seen[0].1["account_manager"]["name"], "Laura Vidal");
    let (_, page) = app.get("/api/v1/workspaces/acme/support-requests").await;
    assert_eq!(page["requests"][0]["delivery"]["status"], "delivered");
    assert_eq!(page["requests"][0]["delivery"]["attempts"], 3);
}

async fn webhook_survives_a_restart(app: &TestApp) {
    app.seed_basic().await;
    let hook = receiver(0).await;
    let config = fast(&hook.url);
    for i in 0..3 {
        let (s, _) = send(app, "change_plan", &format!("request {i}")).await;
        assert_eq!(s, StatusCode::OK);
    }
    // A process leases the deliveries and dies before sending them.
    let t0 = chrono::Utc::now();
    let leased = app
        .store
        .claim_deliveries(
            t0,
            chrono::Duration::milliseconds(300),
            20,
            "a-crashed-process",
        )
        .await
        .expect("claim");
    assert_eq!(leased.len(), 3);
    let client = reqwest::Client::new();
    let pass = |ms: i64| pass_at(&app.store, &client, &config, t0, ms);
    assert_eq!(pass(299).await, 0, "leased elsewhere");
    // After the lease, the restarted process delivers each request once.
    assert_eq!(pass(300).await, 3);
    assert_eq!(pass(301).await, 0);
    let seen = hook.seen.lock().expect("lock").clone();
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for (key, body) in &seen {
        assert_eq!(
            body["id"].as_str(),
            Some(key.as_str()),
            "the id travels as Idempotency-Key"
        );
        *per_id.entry(key.clone()).or_default() += 1;
    }
    assert_eq!(per_id.len(), 3);
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
}

/// A process whose lease passed to another cannot record an outcome over
/// the new holder's; URLs never reach the log or `last_error`; redirects
/// are not followed.
async fn leases_have_owners_and_urls_stay_secret(app: &TestApp) {
    app.seed_basic().await;
    let (s, _) = send(app, "buy_more", "one").await;
    assert_eq!(s, StatusCode::OK);
    let now = chrono::Utc::now();
    let short = chrono::Duration::milliseconds(100);
    let a = app
        .store
        .claim_deliveries(now, short, 20, "process-a")
        .await
        .expect("claim");
    assert_eq!(a.len(), 1);
    let later = now + chrono::Duration::milliseconds(150);
    let b = app
        .store
        .claim_deliveries(later, short, 20, "process-b")
        .await
        .expect("claim");
    assert_eq!(b.len(), 1, "the expired lease passes on");
    let ok = Ok(chrono::Utc::now());
    assert!(!app
        .store
        .finish_delivery(&a[0].request_id, "process-a", &ok)
        .await
        .expect("finish"));
    assert!(app
        .store
        .finish_delivery(&b[0].request_id, "process-b", &ok)
        .await
        .expect("finish"));
    let (_, page) = app.get("/api/v1/workspaces/acme/support-requests").await;
    assert_eq!(
        page["requests"][0]["delivery"]["attempts"], 1,
        "recorded once"
    );

    // A receiver that cannot be reached, at a URL carrying a secret.
    let (s, _) = send(app, "buy_more", "two").await;
    assert_eq!(s, StatusCode::OK);
    let mut config = fast("http://127.0.0.1:9/hook?key=SECRET-IN-URL");
    config.attempt_timeout = Duration::from_secs(2);
    let client = credits_server::outbox::client(&config).expect("client");
    deliver_due(&app.store, &client, &config)
        .await
        .expect("pass");
    let (_, page) = app.get("/api/v1/workspaces/acme/support-requests").await;
    let error = page["requests"][0]["delivery"]["last_error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(!error.is_empty(), "{page}");
    assert!(
        !error.contains("SECRET-IN-URL") && !error.contains("127.0.0.1:9"),
        "{error}"
    );

    // A redirect is a failed delivery; the payload never goes to its target.
    let target = receiver(0).await;
    let redirect_to = target.url.clone();
    let app_router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let to = redirect_to.clone();
            async move { axum::response::Redirect::temporary(&to) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Bound already: the connections wait for it.
    tokio::spawn(async move {
        let _ = axum::serve(listener, app_router).await;
    });
    let config = fast(&format!("http://{addr}/hook"));
    let client = credits_server::outbox::client(&config).expect("client");
    // Past the failed attempt's backoff.
    let later = chrono::Utc::now() + chrono::Duration::seconds(10);
    deliver_due_at(&app.store, &client, &config, later)
        .await
        .expect("pass");
    assert!(
        target.seen.lock().expect("lock").is_empty(),
        "followed a redirect"
    );
    let (_, page) = app.get("/api/v1/workspaces/acme/support-requests").await;
    assert!(
        page["requests"][0]["delivery"]["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("307"),
        "{page}"
    );
}

/// Ten requests a minute per person, with a plain message past them.
async fn requests_are_rate_limited(app: &TestApp) {
    app.seed_basic().await;
    for i in 0..10 {
        let (s, b) = send(app, "buy_more", &format!("request {i}")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = send(app, "buy_more", "one too many").await;
    assert_ne!(s, StatusCode::OK);
    assert!(
        b.to_string().contains("You have sent 10 requests already"),
        "{b}"
    );
    let (_, page) = app
        .get("/api/v1/workspaces/acme/support-requests?limit=100")
        .await;
    assert_eq!(
        page["requests"].as_array().map(Vec::len),
        Some(10),
        "nothing stored"
    );
}

/// The limit holds for a burst: 30 requests sent at once by one person
/// store exactly 10 (the count and the insert share the workspace row's
/// lock), and the rest get the plain message.
async fn a_burst_of_requests_passes_no_more_than_the_limit(app: &TestApp) {
    use tower::ServiceExt;
    app.seed_basic().await;
    let cookie = app.session_cookie("acme", "u_samara").await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (router, cookie) = (app.router.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let req = axum::http::Request::post("/rpc/support-request")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .header("sec-fetch-site", "same-origin")
                .header("cookie", cookie)
                .body(axum::body::Body::from(format!(
                    "intent=buy_more&message=burst+{i}"
                )))
                .expect("request");
            let res = router.oneshot(req).await.expect("answer");
            let status = res.status();
            let body = http_body_util::BodyExt::collect(res.into_body())
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).to_string())
                .unwrap_or_default();
            (status, body)
        }));
    }
    let mut sent = 0;
    for task in tasks {
        let (status, body) = task.await.expect("task");
        if status == StatusCode::OK {
            sent += 1;
        } else {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
            assert!(body.contains("You have sent 10 requests already"), "{body}");
        }
    }
    assert_eq!(sent, 10);
    let (_, page) = app
        .get("/api/v1/workspaces/acme/support-requests?limit=100")
        .await;
    assert_eq!(page["requests"].as_array().map(Vec::len), Some(10));
}

on_both_engines!(
    a_burst_of_requests_passes_no_more_than_the_limit,
    requests_are_rate_limited,
    leases_have_owners_and_urls_stay_secret,
    requests_are_stored_and_listed,
    webhook_retries_until_acknowledged,
    webhook_survives_a_restart
);
