//! Limits (API.md, "Limits (v1.2)") through the real router, on SQLite and
//! PostgreSQL: settings, per-user and per-campaign limits, enforcement at
//! charge time under concurrency and across two servers, soft limits,
//! requests for more and their decisions, `limit_reached` alerts, the
//! audit log, and `GET` of a workspace. Every answer is checked against
//! the served OpenAPI document.

use crate::common::{post_on, workspace_body, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

const WS: &str = "/api/v1/workspaces/acme";

fn charge(id: &str, credits: i64, user: &str, campaign: Option<&str>) -> Value {
    let mut body =
        json!({"id": id, "action": "scrape_company", "credits": credits, "user_id": user});
    if let Some(c) = campaign {
        body["campaign_id"] = json!(c);
    }
    body
}

async fn put_limit(app: &TestApp, scope: &str, id: &str, credits: i64, mode: &str) -> StatusCode {
    let (s, b) = app
        .put(
            &format!("{WS}/limits/{scope}/{id}"),
            json!({"credits": credits, "mode": mode}),
        )
        .await;
    assert!(s.is_success(), "{b}");
    assert_eq!(b, json!({"credits": credits, "mode": mode}));
    s
}

async fn limits(app: &TestApp) -> Value {
    let (s, b) = app.get(&format!("{WS}/limits")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn set_limits(app: &TestApp, limits: Value) -> (StatusCode, Value) {
    let mut body = workspace_body(10_000);
    body["limits"] = limits;
    app.put(WS, body).await
}

async fn alerts_of(app: &TestApp, kind: &str) -> Vec<Value> {
    let (s, b) = app.get(&format!("{WS}/alerts?limit=100")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["kind"] == kind)
        .collect()
}

async fn audit(app: &TestApp) -> Vec<Value> {
    let (s, b) = app.get(&format!("{WS}/audit-log?limit=100")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["entries"].as_array().cloned().unwrap_or_default()
}

async fn settings_are_stored_validated_kept_and_audited(app: &TestApp) {
    app.seed_basic().await;
    let (s, b) = app.get(WS).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["limits"], json!({"user_default": null, "overage": 0}));
    assert_eq!(b["alerts"]["thresholds"], json!([80, 100]));
    let (s, _) = app.get("/api/v1/workspaces/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Creating records nothing; a PUT that changes nothing records nothing.
    let (s, _) = app.put(WS, workspace_body(10_000)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(audit(app).await.is_empty());
    let (s, b) = set_limits(
        app,
        json!({"user_default": {"credits": 2000, "mode": "hard"}, "overage": 500}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["limits"],
        json!({"user_default": {"credits": 2000, "mode": "hard"}, "overage": 500})
    );
    // A key left out keeps its value; a PUT without `limits` keeps them all.
    let (_, b) = set_limits(app, json!({"overage": 0})).await;
    assert_eq!(
        b["limits"],
        json!({"user_default": {"credits": 2000, "mode": "hard"}, "overage": 0})
    );
    let (_, b) = app.put(WS, workspace_body(10_000)).await;
    assert_eq!(b["limits"]["user_default"]["credits"], 2000);
    let (_, got) = app.get(WS).await;
    assert_eq!(got, b, "GET answers what PUT stored");
    for bad in [
        json!({"user_default": {"credits": -1, "mode": "hard"}}),
        json!({"user_default": {"credits": 1_000_000_001_i64, "mode": "hard"}}),
        json!({"user_default": {"credits": 10}}),
        json!({"user_default": {"credits": 10, "mode": "strict"}}),
        json!({"overage": -5}),
        json!({"overage": null}),
        json!({"overage": 2.5}),
        json!({"cap": 10}),
        json!("none"),
    ] {
        let (s, b) = set_limits(app, bad.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
    }
    // Removing the default; the audit log has the two changes, newest first.
    let (_, b) = set_limits(app, json!({"user_default": null})).await;
    assert_eq!(b["limits"], json!({"user_default": null, "overage": 0}));
    let entries = audit(app).await;
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(entries.iter().all(|e| e["action"] == "limits.changed"));
    assert_eq!(entries[0]["actor"], json!({"kind": "platform"}));
    assert_eq!(
        entries[0]["target"],
        json!({"scope": "workspace", "id": "acme"})
    );
    assert_eq!(
        entries[0]["before"],
        json!({"user_default": {"credits": 2000, "mode": "hard"}, "overage": 0})
    );
    assert_eq!(
        entries[0]["after"],
        json!({"user_default": null, "overage": 0})
    );
    assert_eq!(
        entries[2]["before"],
        json!({"user_default": null, "overage": 0})
    );
    // A plan change and an alerts change are audited too.
    let mut body = workspace_body(12_000);
    body["alerts"] = json!({"thresholds": [50]});
    let (s, _) = app.put(WS, body).await;
    assert_eq!(s, StatusCode::OK);
    let entries = audit(app).await;
    let actions: Vec<&str> = entries[..2]
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, vec!["alerts.changed", "plan.changed"]);
    assert_eq!(entries[1]["before"]["monthly_credits"], 10_000);
    assert_eq!(entries[1]["after"]["monthly_credits"], 12_000);
}

async fn limits_are_set_listed_and_removed(app: &TestApp) {
    app.seed_basic().await;
    assert_eq!(
        put_limit(app, "users", "u_samara", 2000, "hard").await,
        StatusCode::CREATED
    );
    assert_eq!(
        put_limit(app, "users", "u_samara", 2500, "soft").await,
        StatusCode::OK
    );
    assert_eq!(
        put_limit(app, "campaigns", "c_q4", 3000, "soft").await,
        StatusCode::CREATED
    );
    // Unknown user, campaign or workspace: 404; bad bodies: 422.
    for path in [
        format!("{WS}/limits/users/u_nobody"),
        format!("{WS}/limits/campaigns/c_nobody"),
        "/api/v1/workspaces/nope/limits/users/u_samara".to_string(),
    ] {
        let (s, b) = app.put(&path, json!({"credits": 1, "mode": "hard"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {b}");
    }
    for bad in [
        json!({"credits": 1}),
        json!({"mode": "hard"}),
        json!({"credits": -1, "mode": "hard"}),
        json!({"credits": "5", "mode": "hard"}),
        json!({"credits": 5, "mode": "hard", "extra": 1}),
        json!([1]),
    ] {
        let (s, b) = app
            .put(&format!("{WS}/limits/users/u_samara"), bad.clone())
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
    }
    let (s, b) = app
        .post(
            &format!("{WS}/charges"),
            charge("k1", 40, "u_samara", Some("c_q4")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let l = limits(app).await;
    assert_eq!(
        l["cycle"],
        json!({"start": "2026-11-01", "end": "2026-12-01"})
    );
    assert_eq!(
        l["workspace"],
        json!({"granted": 10000, "overage": 0, "used": 40, "left": 9960})
    );
    assert_eq!(l["user_default"], Value::Null);
    assert_eq!(
        l["users"],
        json!([{"user_id": "u_samara", "credits": 2500, "mode": "soft", "source": "user",
                "approved_extra": 0, "effective": 2500, "used": 40, "left": 2460}])
    );
    assert_eq!(
        l["campaigns"],
        json!([{"campaign_id": "c_q4", "credits": 3000, "mode": "soft", "used": 40, "left": 2960}])
    );
    // With a default, every user is listed, by id.
    let (s, _) = set_limits(
        app,
        json!({"user_default": {"credits": 100, "mode": "hard"}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let l = limits(app).await;
    let users: Vec<(&str, &str)> = l["users"]
        .as_array()
        .map(|u| {
            u.iter()
                .filter_map(|r| Some((r["user_id"].as_str()?, r["source"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(users, vec![("u_mikaela", "default"), ("u_samara", "user")]);
    // Removed: the user falls back to the default; again: 404.
    let (s, b) = app
        .call(Method::DELETE, &format!("{WS}/limits/users/u_samara"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, _) = app
        .call(Method::DELETE, &format!("{WS}/limits/users/u_samara"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(Method::DELETE, &format!("{WS}/limits/campaigns/c_q4"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let l = limits(app).await;
    assert_eq!(l["users"][1]["source"], "default");
    assert_eq!(l["users"][1]["credits"], 100);
    assert_eq!(l["campaigns"], json!([]));
    let actions: Vec<String> = audit(app)
        .await
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap_or(""),
                e["target"]["id"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            "limit.removed c_q4",
            "limit.removed u_samara",
            "limits.changed acme",
            "limit.set c_q4",
            "limit.set u_samara",
            "limit.set u_samara",
        ]
    );
    let entries = audit(app).await;
    assert_eq!(entries[1]["after"], Value::Null);
    assert_eq!(
        entries[1]["before"],
        json!({"credits": 2500, "mode": "soft"})
    );
    assert_eq!(entries[5]["before"], Value::Null);
    // The same limit again records nothing.
    put_limit(app, "users", "u_mikaela", 7, "hard").await;
    put_limit(app, "users", "u_mikaela", 7, "hard").await;
    assert_eq!(audit(app).await.len(), 7);
}

async fn hard_limits_refuse_in_precedence_order(app: &TestApp) {
    app.seed_basic().await;
    put_limit(app, "users", "u_samara", 50, "hard").await;
    put_limit(app, "campaigns", "c_q4", 80, "hard").await;
    let (s, b) = app
        .post(
            &format!("{WS}/charges"),
            charge("a", 50, "u_samara", Some("c_q4")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["warnings"], json!([]));
    assert_eq!(b["credits_left"], 9950);
    // The user is at their limit.
    let (s, b) = app
        .post(&format!("{WS}/charges"), charge("b", 1, "u_samara", None))
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{b}");
    assert_eq!(b["error"]["code"], "limit_reached");
    assert_eq!(b["credits_left"], 9950);
    assert_eq!(
        b["limit"],
        json!({"scope": "user", "id": "u_samara", "credits": 50, "mode": "hard",
               "effective": 50, "used": 50, "left": 0})
    );
    // Both refuse: the campaign is reported.
    let (_, b) = app
        .post(
            &format!("{WS}/charges"),
            charge("c", 40, "u_samara", Some("c_q4")),
        )
        .await;
    assert_eq!(b["limit"]["scope"], "campaign", "{b}");
    assert_eq!(b["limit"]["left"], 30);
    // The workspace refuses first, with no limit.
    let (_, b) = app
        .post(
            &format!("{WS}/charges"),
            charge("d", 20_000, "u_samara", Some("c_q4")),
        )
        .await;
    assert_eq!(b["error"]["code"], "insufficient_credits", "{b}");
    assert!(b.get("limit").is_none());
    // Nothing was recorded: a retry of a refused id is evaluated afresh.
    put_limit(app, "users", "u_samara", 60, "hard").await;
    let (s, b) = app
        .post(&format!("{WS}/charges"), charge("b", 1, "u_samara", None))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b2) = app
        .post(&format!("{WS}/charges"), charge("b", 1, "u_samara", None))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b2, b, "a replay answers the first body");
    assert_eq!(limits(app).await["users"][0]["used"], 51);
    // Usage events are never refused but count toward every scope.
    let (s, b) = app
        .post(
            &format!("{WS}/usage-events"),
            json!({"events": [{"id": "e1", "type": "credits", "occurred_at": "2026-11-24T09:00:00Z",
                               "action": "ai_completion", "credits": 100, "user_id": "u_samara",
                               "campaign_id": "c_q4"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let l = limits(app).await;
    assert_eq!(l["users"][0]["used"], 151);
    assert_eq!(l["users"][0]["left"], 0);
    assert_eq!(l["campaigns"][0]["used"], 150);
    // A lowered limit refuses further charges and undoes nothing.
    let (s, _) = app
        .post(
            &format!("{WS}/charges"),
            charge("f", 1, "u_mikaela", Some("c_q4")),
        )
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED);
    let (s, _) = app
        .post(&format!("{WS}/charges"), charge("g", 1, "u_mikaela", None))
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

async fn soft_limits_warn_and_overage_extends_the_workspace(app: &TestApp) {
    app.seed_basic().await;
    put_limit(app, "campaigns", "c_q4", 10, "soft").await;
    put_limit(app, "users", "u_samara", 12, "soft").await;
    let (_, b) = app
        .post(
            &format!("{WS}/charges"),
            charge("a", 10, "u_samara", Some("c_q4")),
        )
        .await;
    assert_eq!(b["warnings"], json!([]), "at the limit is not past it");
    let (s, b) = app
        .post(
            &format!("{WS}/charges"),
            charge("b", 3, "u_samara", Some("c_q4")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(
        b["warnings"],
        json!([{"scope": "campaign", "id": "c_q4", "credits": 10, "effective": 10, "used": 13},
               {"scope": "user", "id": "u_samara", "credits": 12, "effective": 12, "used": 13}])
    );
    // One limit_reached alert per scope and cycle, with the scope's figures.
    let fired = alerts_of(app, "limit_reached").await;
    assert_eq!(fired.len(), 2, "{fired:?}");
    let campaign = fired
        .iter()
        .find(|a| a["scope"] == "campaign")
        .cloned()
        .unwrap_or_default();
    assert_eq!(campaign["scope_id"], "c_q4");
    assert_eq!(campaign["used"], 10);
    assert_eq!(campaign["granted"], 10);
    assert!(campaign["percent"].is_null());
    let (_, _) = app
        .post(
            &format!("{WS}/charges"),
            charge("c", 3, "u_samara", Some("c_q4")),
        )
        .await;
    assert_eq!(alerts_of(app, "limit_reached").await.len(), 2);
    // Other alerts name the workspace.
    let (_, all) = app.get(&format!("{WS}/alerts")).await;
    assert!(all["alerts"]
        .as_array()
        .is_some_and(|a| a.iter().all(|a| a["kind"] == "limit_reached"
            || (a["scope"] == "workspace" && a["scope_id"].is_null()))));
    // Overage: charges may pass granted by that much, and credits_left says so.
    let (_, _) = set_limits(app, json!({"overage": 100})).await;
    let (s, b) = app
        .post(
            &format!("{WS}/charges"),
            charge("big", 10_000 - 16 + 50, "u_mikaela", None),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["credits_left"], 50);
    let (s, b) = app
        .post(
            &format!("{WS}/charges"),
            charge("over", 51, "u_mikaela", None),
        )
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(b["error"]["code"], "insufficient_credits");
    assert_eq!(b["credits_left"], 50);
    let (_, summary) = app.get(&format!("{WS}/summary")).await;
    assert_eq!(
        summary["credits"]["left"], 0,
        "the summary's left stays within granted"
    );
}

/// 600 concurrent one-credit charges by a user limited to 300 (half of
/// them through a second server): exactly 300 pass, one alert.
async fn concurrent_charges_never_pass_a_hard_limit(app: &TestApp) {
    app.seed_basic().await;
    put_limit(app, "users", "u_samara", 300, "hard").await;
    put_limit(app, "campaigns", "c_q4", 200, "hard").await;
    let (second, second_store) = app.second_server().await;
    let mut tasks = Vec::new();
    for i in 0..600 {
        let router = if i % 2 == 0 {
            app.router.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let body = charge(&format!("u{i}"), 1, "u_samara", None);
            post_on(router, &format!("{WS}/charges"), &body).await.0
        }));
    }
    // The campaign raced by both users at once.
    for i in 0..300 {
        let router = if i % 2 == 0 {
            app.router.clone()
        } else {
            second.clone()
        };
        let user = if i % 3 == 0 { "u_samara" } else { "u_mikaela" };
        tasks.push(tokio::spawn(async move {
            let body = charge(&format!("c{i}"), 1, user, Some("c_q4"));
            post_on(router, &format!("{WS}/charges"), &body).await.0
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            StatusCode::CREATED => created += 1,
            StatusCode::PAYMENT_REQUIRED => {}
            other => panic!("unexpected {other}"),
        }
    }
    let l = limits(app).await;
    assert_eq!(l["users"][0]["used"], 300, "{l}");
    assert_eq!(l["campaigns"][0]["used"], 200, "{l}");
    assert_eq!(l["workspace"]["used"], created);
    let fired = alerts_of(app, "limit_reached").await;
    assert_eq!(fired.len(), 2, "once per scope: {fired:?}");
    second_store.close().await;
}

async fn requests_for_more_are_made_decided_and_expire(app: &TestApp) {
    app.seed_basic().await;
    put_limit(app, "users", "u_samara", 20, "hard").await;
    let (_, _) = app
        .post(&format!("{WS}/charges"), charge("a", 20, "u_samara", None))
        .await;
    let body = json!({"id": "lr-1", "user_id": "u_samara", "credits": 500, "reason": "Q4 push"});
    let (s, made) = app
        .post(&format!("{WS}/limit-requests"), body.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(made["status"], "pending");
    assert_eq!(made["decision"], Value::Null);
    assert_eq!(
        made["cycle"],
        json!({"start": "2026-11-01", "end": "2026-12-01"})
    );
    let (s, again) = app
        .post(&format!("{WS}/limit-requests"), body.clone())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again, made);
    let mut other = body.clone();
    other["credits"] = json!(501);
    let (s, _) = app.post(&format!("{WS}/limit-requests"), other).await;
    assert_eq!(s, StatusCode::CONFLICT, "same id, other body");
    let (s, b) = app
        .post(
            &format!("{WS}/limit-requests"),
            json!({"id": "lr-2", "user_id": "u_samara", "credits": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "one pending request a user: {b}");
    for (bad, why) in [
        (
            json!({"id": "lr-3", "user_id": "u_mikaela", "credits": 5}),
            "no limit applies",
        ),
        (
            json!({"id": "lr-3", "user_id": "u_nobody", "credits": 5}),
            "unknown user",
        ),
        (
            json!({"id": "lr-3", "user_id": "u_samara", "credits": 0}),
            "zero",
        ),
        (
            json!({"id": "lr-3", "user_id": "u_samara", "credits": 1_000_000_001_i64}),
            "huge",
        ),
        (
            json!({"id": "lr-3", "user_id": "u_samara", "credits": 5, "reason": "x".repeat(1001)}),
            "long reason",
        ),
        (json!({"user_id": "u_samara", "credits": 5}), "no id"),
    ] {
        let (s, b) = app.post(&format!("{WS}/limit-requests"), bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {b}");
    }
    let (s, b) = app
        .get(&format!("{WS}/limit-requests?status=pending"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["limit_requests"].as_array().map(Vec::len), Some(1));
    for bad in ["status=open", "limit=0", "limit=101", "cursor=lr-404"] {
        let (s, _) = app.get(&format!("{WS}/limit-requests?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    // Approved with fewer credits: the user's effective limit grows.
    let (s, b) = app
        .post(
            &format!("{WS}/limit-requests/lr-1/decision"),
            json!({"decision": "approve", "credits": 300, "note": "ok for Q4"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "approved");
    assert_eq!(b["decision"]["by"], json!({"kind": "platform"}));
    assert_eq!(b["decision"]["credits"], 300);
    assert_eq!(b["decision"]["note"], "ok for Q4");
    let (s, _) = app
        .post(
            &format!("{WS}/limit-requests/lr-1/decision"),
            json!({"decision": "deny"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "decided already");
    let (s, _) = app
        .post(
            &format!("{WS}/limit-requests/lr-404/decision"),
            json!({"decision": "deny"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let l = limits(app).await;
    assert_eq!(l["users"][0]["approved_extra"], 300);
    assert_eq!(l["users"][0]["effective"], 320);
    let (s, b) = app
        .post(&format!("{WS}/charges"), charge("b", 300, "u_samara", None))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // A second request, denied; the log lists both, newest first, paged.
    let (s, _) = app
        .post(
            &format!("{WS}/limit-requests"),
            json!({"id": "lr-2", "user_id": "u_samara", "credits": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = app
        .post(
            &format!("{WS}/limit-requests/lr-2/decision"),
            json!({"decision": "deny", "note": "no"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["decision"]["credits"], Value::Null);
    let (_, page) = app.get(&format!("{WS}/limit-requests?limit=1")).await;
    assert_eq!(page["limit_requests"][0]["id"], "lr-2");
    let cursor = page["next_cursor"].as_str().unwrap_or_default().to_string();
    let (_, page) = app
        .get(&format!("{WS}/limit-requests?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(page["limit_requests"][0]["id"], "lr-1");
    assert_eq!(page["next_cursor"], Value::Null);
    let decided: Vec<Value> = audit(app)
        .await
        .into_iter()
        .filter(|e| e["action"] == "limit_request.decided")
        .collect();
    assert_eq!(decided.len(), 2);
    assert_eq!(
        decided[0]["target"],
        json!({"scope": "limit_request", "id": "lr-2"})
    );
    assert_eq!(decided[0]["before"]["status"], "pending");
    assert_eq!(decided[0]["after"]["status"], "denied");
}

/// A request still pending at its cycle's end is expired: deciding it is
/// a 409, and it no longer blocks a new one.
async fn pending_requests_expire_with_their_cycle(app: &TestApp) {
    app.seed_basic().await;
    put_limit(app, "users", "u_samara", 20, "hard").await;
    let (s, _) = app
        .post(
            &format!("{WS}/limit-requests"),
            json!({"id": "old", "user_id": "u_samara", "credits": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // The next cycle, through a server whose clock is in December.
    let december = chrono::DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    let later = TestApp::state(app.store.clone(), december);
    let router = credits_server::app(later);
    let (s, b) = post_on(
        router.clone(),
        &format!("{WS}/limit-requests/old/decision"),
        &json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, b) = post_on(
        router.clone(),
        &format!("{WS}/limit-requests"),
        &json!({"id": "new", "user_id": "u_samara", "credits": 5}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["cycle"]["start"], "2026-12-01");
}

on_both_engines!(
    settings_are_stored_validated_kept_and_audited,
    limits_are_set_listed_and_removed,
    hard_limits_refuse_in_precedence_order,
    soft_limits_warn_and_overage_extends_the_workspace,
    concurrent_charges_never_pass_a_hard_limit,
    requests_for_more_are_made_decided_and_expire,
    pending_requests_expire_with_their_cycle,
);
