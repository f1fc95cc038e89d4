//! Alerts (API.md, "Alerts (v1.1)") through the real router, on SQLite and
//! PostgreSQL: settings, exactly-once recording under concurrency and
//! across two servers, recovery, paging, the dashboard's admin-only
//! change, and signed delivery with retries.

use std::time::Duration;

use crate::common::{now, post_on, webhook, workspace_body, TestApp};
use axum::http::{Method, StatusCode};
use credits_server::outbox::{deliver_due_at, OutboxConfig};
use serde_json::{json, Value};

const WS: &str = "/api/v1/workspaces/acme";

fn credit(id: &str, at: &str, credits: i64) -> Value {
    json!({"id": id, "type": "credits", "occurred_at": at, "action": "enrich_phone", "credits": credits, "user_id": "u_mikaela"})
}

async fn alerts(app: &TestApp) -> Vec<Value> {
    let (s, b) = app.get(&format!("{WS}/alerts?limit=100")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["alerts"].as_array().cloned().unwrap_or_default()
}

/// (kind, percent) of each alert, oldest first.
async fn kinds(app: &TestApp) -> Vec<(String, Option<i64>)> {
    let mut v: Vec<(String, Option<i64>)> = alerts(app)
        .await
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap_or("").to_string(),
                a["percent"].as_i64(),
            )
        })
        .collect();
    v.reverse();
    v
}

fn t(kind: &str, p: i64) -> (String, Option<i64>) {
    (kind.to_string(), Some(p))
}

async fn use_credits(app: &TestApp, id: &str, credits: i64) {
    let (s, b) = app
        .post(
            &format!("{WS}/usage-events"),
            json!({"events": [credit(id, "2026-11-24T09:00:00Z", credits)]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn set_thresholds(app: &TestApp, thresholds: Value) -> (StatusCode, Value) {
    let mut body = workspace_body(10_000);
    body["alerts"] = json!({"thresholds": thresholds});
    app.put(WS, body).await
}

async fn settings_are_stored_validated_and_kept(app: &TestApp) {
    app.seed_basic().await;
    // The default, carried by the stored workspace.
    let (s, b) = app.put(WS, workspace_body(10_000)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["alerts"],
        json!({"thresholds": [80, 100], "runout_forecast": true})
    );
    let (s, b) = set_thresholds(app, json!([100, 50, 80])).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["alerts"]["thresholds"], json!([50, 80, 100]));
    // A PUT that leaves `alerts` out keeps them; a field left out is kept too.
    let (_, b) = app.put(WS, workspace_body(10_000)).await;
    assert_eq!(b["alerts"]["thresholds"], json!([50, 80, 100]));
    let mut body = workspace_body(10_000);
    body["alerts"] = json!({"runout_forecast": false});
    let (_, b) = app.put(WS, body).await;
    assert_eq!(
        b["alerts"],
        json!({"thresholds": [50, 80, 100], "runout_forecast": false})
    );
    let (_, b) = set_thresholds(app, json!([])).await;
    assert_eq!(b["alerts"]["thresholds"], json!([]));
    for bad in [
        json!([0]),
        json!([101]),
        json!([50, 50]),
        json!([10, 20, 30, 40, 50, 60]),
        json!("80"),
        json!([80.5]),
        json!([-1]),
    ] {
        let (s, b) = set_thresholds(app, bad.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
        assert_eq!(b["error"]["code"], "validation_failed", "{b}");
    }
    let mut body = workspace_body(10_000);
    body["alerts"] = json!({"runout_forecast": "yes", "sms": true});
    let (s, b) = app.put(WS, body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    // Nothing was written by the refused requests.
    let (_, b) = app.put(WS, workspace_body(10_000)).await;
    assert_eq!(
        b["alerts"],
        json!({"thresholds": [], "runout_forecast": false})
    );
}

/// 200 concurrent charges cross 80 % and then 100 %: one alert each.
async fn concurrent_charges_fire_each_threshold_once(app: &TestApp) {
    app.seed_basic().await;
    use_credits(app, "pre", 7_800).await;
    assert!(alerts(app).await.is_empty());
    let (second, second_store) = app.second_server().await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        // Half the charges through a second server with its own pool.
        let router = if i % 2 == 0 {
            app.router.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let body = json!({"id": format!("c{i}"), "action": "scrape_company", "credits": 11, "user_id": "u_samara"});
            post_on(router, &format!("{WS}/charges"), &body).await.0
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), StatusCode::CREATED);
    }
    assert_eq!(
        kinds(app).await,
        vec![t("threshold", 80), t("threshold", 100)]
    );
    let all = alerts(app).await;
    let eighty = &all[1];
    assert!(eighty["used"].as_i64().unwrap_or(0) >= 8_000);
    assert!(eighty["used"].as_i64().unwrap_or(0) < 8_011);
    assert_eq!(eighty["granted"], 10_000);
    assert_eq!(
        eighty["cycle"],
        json!({"start": "2026-11-01", "end": "2026-12-01"})
    );
    assert_eq!(all[0]["used"], 10_000);
    assert!(all[0]["runs_out_on"].is_null());
    assert!(all[0]["id"].as_str().unwrap_or("").starts_with("al_"));
    assert_eq!(
        all[0]["delivery"],
        json!({"status": "pending", "attempts": 0})
    );
    second_store.close().await;
}

/// One batch crossing 50 % and 80 % records both, once; later usage none.
async fn a_batch_crossing_two_thresholds_records_both(app: &TestApp) {
    app.seed_basic().await;
    let (s, _) = set_thresholds(app, json!([50, 80])).await;
    assert_eq!(s, StatusCode::OK);
    let events: Vec<Value> = (0..85)
        .map(|i| credit(&format!("e{i}"), "2026-11-24T08:00:00Z", 100))
        .collect();
    let (s, b) = app
        .post(&format!("{WS}/usage-events"), json!({"events": events}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        kinds(app).await,
        vec![t("threshold", 50), t("threshold", 80)]
    );
    assert!(alerts(app).await.iter().all(|a| a["used"] == 8_500));
    // A replay of the same batch stores nothing and fires nothing.
    let (s, b) = app
        .post(&format!("{WS}/usage-events"), json!({"events": (0..85).map(|i| credit(&format!("e{i}"), "2026-11-24T08:00:00Z", 100)).collect::<Vec<_>>()}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["duplicates"], 85);
    use_credits(app, "more", 100).await;
    assert_eq!(alerts(app).await.len(), 2);
}

/// An add-on grant recovers a reached threshold, and the next crossing fires again.
async fn a_grant_recovers_and_rearms(app: &TestApp) {
    app.seed_basic().await;
    use_credits(app, "a", 8_200).await;
    assert_eq!(kinds(app).await, vec![t("threshold", 80)]);
    let (s, b) = app
        .post(
            &format!("{WS}/credit-grants"),
            json!({"id": "g1", "kind": "add_on", "credits": 2_000}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // 8,200 of 12,000 is under 80 %.
    assert_eq!(
        kinds(app).await,
        vec![t("threshold", 80), t("recovered", 80)]
    );
    let recovered = &alerts(app).await[0];
    assert_eq!(
        (recovered["used"].as_i64(), recovered["granted"].as_i64()),
        (Some(8_200), Some(12_000))
    );
    // A replayed grant changes nothing.
    let (s, _) = app
        .post(
            &format!("{WS}/credit-grants"),
            json!({"id": "g1", "kind": "add_on", "credits": 2_000}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    use_credits(app, "b", 1_500).await;
    assert_eq!(
        kinds(app).await,
        vec![t("threshold", 80), t("recovered", 80), t("threshold", 80)]
    );
}

/// Changing the thresholds fires nothing by itself; the next usage that
/// reaches a new threshold fires it.
async fn settings_changes_never_fire_past_alerts(app: &TestApp) {
    app.seed_basic().await;
    use_credits(app, "a", 8_500).await;
    assert_eq!(kinds(app).await, vec![t("threshold", 80)]);
    let (s, _) = set_thresholds(app, json!([50, 80, 90])).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(kinds(app).await, vec![t("threshold", 80)]);
    use_credits(app, "b", 1).await;
    assert_eq!(
        kinds(app).await,
        vec![t("threshold", 80), t("threshold", 50)]
    );
    use_credits(app, "c", 600).await;
    assert_eq!(
        kinds(app).await,
        vec![t("threshold", 80), t("threshold", 50), t("threshold", 90)]
    );
}

/// A steep pace over the last 7 full days records one run-out forecast.
async fn a_steep_pace_records_one_runout_forecast(app: &TestApp) {
    app.seed_basic().await;
    let (s, _) = set_thresholds(app, json!([])).await;
    assert_eq!(s, StatusCode::OK);
    // 1,000 a day over the pace window (the 7 full days 17–23 Nov).
    let events: Vec<Value> = (17..=23)
        .map(|d| credit(&format!("d{d}"), &format!("2026-11-{d}T10:00:00Z"), 1_000))
        .collect();
    let (s, b) = app
        .post(&format!("{WS}/usage-events"), json!({"events": events}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Recorded "now" (24 Nov): 3,000 left at 1,000 a day lasts 3 whole days.
    let all = alerts(app).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["kind"], "runout_forecast");
    assert!(all[0]["percent"].is_null());
    assert_eq!(all[0]["runs_out_on"], "2026-11-27");
    use_credits(app, "more", 10).await;
    assert_eq!(alerts(app).await.len(), 1, "at most once a cycle");
}

/// The run-out forecast does not depend on the order usage arrives: usage
/// early in the month first, then the pace window's days in one batch,
/// records the same forecast as the other order (the pace cached for the
/// day before the window's usage arrived was once kept, and no forecast
/// was ever recorded).
async fn the_runout_forecast_does_not_depend_on_arrival_order(app: &TestApp) {
    app.seed_basic().await;
    let (s, _) = set_thresholds(app, json!([])).await;
    assert_eq!(s, StatusCode::OK);
    let early = json!({"events": [credit("early", "2026-11-02T10:00:00Z", 5_010)]});
    let window: Vec<Value> = (17..=23)
        .map(|d| credit(&format!("d{d}"), &format!("2026-11-{d}T10:00:00Z"), 500))
        .collect();
    for batch in [early, json!({"events": window})] {
        let (s, b) = app.post(&format!("{WS}/usage-events"), batch).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    // 1,490 left at 500 a day: 2.98 days, so the credits run out on the 26th.
    let all = alerts(app).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["kind"], "runout_forecast");
    assert_eq!(all[0]["runs_out_on"], "2026-11-26");
}

/// The other order records the same forecast.
async fn the_runout_forecast_in_the_other_order(app: &TestApp) {
    app.seed_basic().await;
    let (s, _) = set_thresholds(app, json!([])).await;
    assert_eq!(s, StatusCode::OK);
    let window: Vec<Value> = (17..=23)
        .map(|d| credit(&format!("d{d}"), &format!("2026-11-{d}T10:00:00Z"), 500))
        .collect();
    let early = json!({"events": [credit("early", "2026-11-02T10:00:00Z", 5_010)]});
    for batch in [json!({"events": window}), early] {
        let (s, b) = app.post(&format!("{WS}/usage-events"), batch).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let all = alerts(app).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["runs_out_on"], "2026-11-26");
}

async fn alerts_are_paged_newest_first(app: &TestApp) {
    app.seed_basic().await;
    let (s, _) = set_thresholds(app, json!([10, 20, 30, 40, 50])).await;
    assert_eq!(s, StatusCode::OK);
    for (i, n) in [1_000, 1_000, 1_000, 1_000, 1_000].iter().enumerate() {
        use_credits(app, &format!("u{i}"), *n).await;
    }
    let (s, first) = app.get(&format!("{WS}/alerts?limit=2")).await;
    assert_eq!(s, StatusCode::OK);
    let percents = |b: &Value| -> Vec<i64> {
        b["alerts"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["percent"].as_i64()).collect())
            .unwrap_or_default()
    };
    assert_eq!(percents(&first), vec![50, 40]);
    let cursor = first["next_cursor"].as_str().unwrap_or("").to_string();
    assert!(!cursor.is_empty());
    let (_, second) = app
        .get(&format!("{WS}/alerts?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(percents(&second), vec![30, 20]);
    let (_, third) = app
        .get(&format!(
            "{WS}/alerts?limit=2&cursor={}",
            second["next_cursor"].as_str().unwrap_or("")
        ))
        .await;
    assert_eq!(percents(&third), vec![10]);
    assert!(third["next_cursor"].is_null());
    // A full page of 100 with more behind it still gives a cursor.
    let (_, b) = app.get(&format!("{WS}/alerts?limit=100")).await;
    assert!(b["next_cursor"].is_null());
    for bad in ["limit=0", "limit=101", "limit=x", "cursor=nope"] {
        let (s, b) = app.get(&format!("{WS}/alerts?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
    }
    let (s, _) = app.get("/api/v1/workspaces/nobody/alerts").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call_raw(Method::GET, &format!("{WS}/alerts"), None, Some("wrong"))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// The dashboard's settings form: admins may change them, members may not,
/// whatever the client sends.
async fn only_admins_change_settings_from_the_dashboard(app: &TestApp) {
    app.seed_basic().await;
    let (s, b) = app
        .put(
            &format!("{WS}/users/u_admin"),
            json!({"name": "Ada", "email": "ada@acme.test", "role": "admin"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let post = |cookie: String, body: &'static str| async move {
        app.request(
            Method::POST,
            "/rpc/alert-settings",
            &[
                ("cookie", cookie.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
                ("host", "dash.test"),
                ("origin", "http://dash.test"),
            ],
            Some(body.to_string()),
        )
        .await
    };
    let member = app.session_cookie("acme", "u_mikaela").await;
    let (s, _, text) = post(member, "t50=on&t90=on&runout=on").await;
    assert!(s.is_server_error() || s.is_client_error(), "{s}: {text}");
    assert!(text.contains("Only admins"), "{text}");
    let (_, b) = app.put(WS, workspace_body(10_000)).await;
    assert_eq!(b["alerts"]["thresholds"], json!([80, 100]), "unchanged");
    let admin = app.session_cookie("acme", "u_admin").await;
    let (s, _, text) = post(admin.clone(), "t50=on&t90=on&custom=65").await;
    assert!(s.is_success(), "{s}: {text}");
    let (_, b) = app.put(WS, workspace_body(10_000)).await;
    assert_eq!(
        b["alerts"],
        json!({"thresholds": [50, 65, 90], "runout_forecast": false})
    );
    let (s, _, text) = post(admin, "custom=150").await;
    assert!(!s.is_success());
    assert!(text.contains("1 to 100"), "{text}");
}

const SECRET: &str = "whsec-test-0123456789abcdef0123456789";

async fn alerts_are_delivered_signed_once_with_retries(app: &TestApp) {
    app.seed_basic().await;
    use_credits(app, "a", 10_000).await;
    let ids: Vec<String> = alerts(app)
        .await
        .iter()
        .map(|a| a["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let hook = webhook::start(webhook::Hook {
        fail_first: 2,
        secret: Some(SECRET),
        ..webhook::Hook::default()
    })
    .await;
    let mut config = OutboxConfig::new(hook.url.clone());
    config.base_backoff = Duration::from_millis(50);
    config.lease = Duration::from_millis(300);
    config.secret = Some(SECRET.into());
    let client = reqwest::Client::new();
    // The outbox's clock, moved 60 ms a pass instead of sleeping.
    let t0 = chrono::Utc::now();
    let at = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
    let mut ms = 0;
    for _ in 0..40 {
        deliver_due_at(&app.store, &client, &config, at(ms))
            .await
            .expect("pass");
        if hook.seen.lock().expect("lock").len() == 2 {
            break;
        }
        ms += 60;
    }
    // Once more, past every lease and backoff: nothing is sent twice.
    deliver_due_at(&app.store, &client, &config, at(ms + 10_000))
        .await
        .expect("pass");
    let seen = hook.seen.lock().expect("lock").clone();
    let mut keys: Vec<String> = seen.iter().map(|(k, _)| k.clone()).collect();
    keys.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(keys, expected, "each alert once, keyed by its id");
    assert_eq!(*hook.bad_signatures.lock().expect("lock"), 0);
    let body = &seen.iter().find(|(_, b)| b["percent"] == 80).expect("80").1;
    assert_eq!(body["type"], "credits.threshold_reached");
    assert_eq!(body["workspace_id"], "acme");
    assert_eq!(body["workspace_name"], "Acme");
    assert_eq!(body["kind"], "threshold");
    assert_eq!(
        body["cycle"],
        json!({"start": "2026-11-01", "end": "2026-12-01"})
    );
    assert_eq!(body["granted"], 10_000);
    assert!(body["runs_out_on"].is_null());
    let statuses: Vec<Value> = alerts(app)
        .await
        .iter()
        .map(|a| a["delivery"]["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("delivered"), json!("delivered")]);
    assert!(alerts(app)
        .await
        .iter()
        .any(|a| a["delivery"]["attempts"].as_i64() > Some(1)));
    let _ = now();
}

on_both_engines!(
    settings_are_stored_validated_and_kept,
    concurrent_charges_fire_each_threshold_once,
    a_batch_crossing_two_thresholds_records_both,
    a_grant_recovers_and_rearms,
    settings_changes_never_fire_past_alerts,
    a_steep_pace_records_one_runout_forecast,
    the_runout_forecast_does_not_depend_on_arrival_order,
    the_runout_forecast_in_the_other_order,
    alerts_are_paged_newest_first,
    only_admins_change_settings_from_the_dashboard,
    alerts_are_delivered_signed_once_with_retries,
);
