//! The platform API of API.md through the real router, on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use crate::common::{now, post_on, workspace_body, TestApp, TOKEN};
use app::domain::calendar::{Calendar, Period, WeekStart};
use app::domain::ledger::Action;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, Utc};
use credits_server::store::KEYED_FROM;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const WS: &str = "/api/v1/workspaces/acme";

fn paths(body: &Value) -> Vec<String> {
    body["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|e| e["path"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn credit(id: &str, at: &str, action: &str, credits: i64, user: &str) -> Value {
    json!({"id": id, "type": "credits", "occurred_at": at, "action": action, "credits": credits, "user_id": user})
}

async fn summary(app: &TestApp) -> Value {
    let (s, b) = app.get(&format!("{WS}/summary")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn auth_and_order_of_checks(app: &TestApp) {
    app.seed_basic().await;
    for token in [None, Some("wrong"), Some("")] {
        let (s, b) = app
            .call_raw(Method::GET, &format!("{WS}/summary"), None, token)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(b["error"]["code"], "unauthorized");
    }
    // 401 before 404 before validation.
    let (s, _) = app
        .call_raw(
            Method::POST,
            "/api/v1/workspaces/nope/usage-events",
            Some("{".into()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, b) = app
        .call_raw(
            Method::POST,
            "/api/v1/workspaces/nope/usage-events",
            Some("{".into()),
            Some(TOKEN),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "not_found");
    let (s, b) = app
        .call_raw(
            Method::POST,
            &format!("{WS}/usage-events"),
            Some("{".into()),
            Some(TOKEN),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "validation_failed");
    // Every workspace path of an unknown workspace is a 404.
    for (m, p) in [
        (Method::GET, "summary"),
        (Method::GET, "credit-usage"),
        (Method::GET, "credit-usage.csv"),
        (Method::GET, "conversations"),
        (Method::POST, "usage-events"),
        (Method::POST, "charges"),
        (Method::POST, "credit-grants"),
        (Method::PUT, "users/u1"),
        (Method::PUT, "identities/i1"),
        (Method::PUT, "campaigns/c1"),
    ] {
        let (s, b) = app
            .call(
                m.clone(),
                &format!("/api/v1/workspaces/ghost/{p}"),
                Some(json!({})),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{m} {p}: {b}");
    }
    let (s, _) = app.get("/api/v1/nothing-here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn workspace_create_update_and_validation(app: &TestApp) {
    let (s, b) = app.put(WS, workspace_body(10_000)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["timezone"], "Europe/Madrid");
    assert_eq!(b["plan"]["monthly_credits"], 10_000);
    let (s, _) = app.put(WS, workspace_body(10_000)).await;
    assert_eq!(s, StatusCode::OK);
    let bad = json!({"name": "", "timezone": "Mars/Olympus", "week_start": "friday",
        "plan": {"name": "G", "monthly_credits": -5, "identities_included": 1, "price": {"amount_cents": 1, "currency": "EURO"}}});
    let (s, b) = app.put(WS, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        paths(&b),
        vec![
            "name",
            "timezone",
            "week_start",
            "plan.monthly_credits",
            "plan.price.currency"
        ]
    );
    let (s, _) = app
        .put("/api/v1/workspaces/bad%20id", workspace_body(1))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, b) = app
        .call_raw(Method::PUT, WS, Some("not json".into()), Some(TOKEN))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("malformed JSON"));
    // Nothing of the bad update was stored.
    let b = summary(app).await;
    assert_eq!(b["plan"]["monthly_credits"], 10_000);
}

async fn members_and_their_references(app: &TestApp) {
    app.seed_basic().await;
    let (s, b) = app
        .put(
            &format!("{WS}/users/u_mikaela"),
            json!({"name": "Mikaela O.", "email": "m@acme.test", "role": "admin"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["name"], "Mikaela O.");
    let (s, b) = app
        .put(
            &format!("{WS}/identities/i_x"),
            json!({"name": "X", "channel": "fax", "user_id": "u_ghost"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(paths(&b), vec!["channel", "user_id"]);
    let (s, b) = app
        .put(
            &format!("{WS}/campaigns/c_q4"),
            json!({"name": "Q4 renamed", "status": "paused"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .put(
            &format!("{WS}/campaigns/c_q4"),
            json!({"name": "Q4", "status": "deleted"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    // Renames show in labels; history keeps its ids.
    let ev = json!({"events": [{"id": "e1", "type": "credits", "occurred_at": "2026-11-03T09:15:00Z", "action": "enrich_email",
        "credits": 3, "user_id": "u_mikaela", "campaign_id": "c_q4"}]});
    let (s, _) = app.post(&format!("{WS}/usage-events"), ev).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = app
        .get(&format!("{WS}/credit-usage?group_by=campaign"))
        .await;
    assert_eq!(b["rows"][0]["label"], "Q4 renamed");
    let (_, b) = app.get(&format!("{WS}/credit-usage?group_by=user")).await;
    assert_eq!(b["rows"][0]["label"], "Mikaela O.");
}

async fn grants_are_idempotent(app: &TestApp) {
    app.seed_basic().await;
    let grant = json!({"id": "g-123", "kind": "add_on", "credits": 500, "note": "Bought via chat", "price": {"amount_cents": 4900, "currency": "EUR"}});
    let (s, first) = app
        .post(&format!("{WS}/credit-grants"), grant.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["expires_on"], "2026-12-01");
    let (s, again) = app.post(&format!("{WS}/credit-grants"), grant).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again, first);
    let (s, b) = app
        .post(
            &format!("{WS}/credit-grants"),
            json!({"id": "g-123", "kind": "add_on", "credits": 600}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], "conflict");
    let (s, _) = app
        .post(
            &format!("{WS}/credit-grants"),
            json!({"id": "g-r", "kind": "rollover", "credits": 250}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = app
        .post(
            &format!("{WS}/credit-grants"),
            json!({"id": "g-bad", "kind": "gift", "credits": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(paths(&b), vec!["kind", "credits"]);
    let b = summary(app).await;
    assert_eq!(
        b["credits"],
        json!({"plan": 10000, "add_on": 500, "rollover": 250, "granted": 10750, "used": 0, "left": 10750, "overage": 0})
    );
}

async fn batches_are_all_or_nothing(app: &TestApp) {
    app.seed_basic().await;
    let batch = json!({"events": [
        credit("ev-1", "2026-11-03T09:15:00Z", "enrich_email", 3, "u_mikaela"),
        {"id": "ev-2", "type": "conversation", "occurred_at": "2026-11-03T09:20:00Z", "campaign_id": "c_q4", "identity_id": "i_mikaela_li"},
    ]});
    let (s, b) = app.post(&format!("{WS}/usage-events"), batch.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b, json!({"inserted": 2, "duplicates": 0}));
    let before = summary(app).await;
    // The same batch again changes nothing.
    let (s, b) = app.post(&format!("{WS}/usage-events"), batch).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, json!({"inserted": 0, "duplicates": 2}));
    assert_eq!(summary(app).await, before);
    // One invalid event: 422 listing every bad one, nothing written.
    let bad = json!({"events": [
        credit("ev-3", "2026-11-04T09:15:00Z", "enrich_email", 3, "u_mikaela"),
        credit("ev-4", "2026-11-04T09:15:00Z", "teleport", 3, "u_mikaela"),
        credit("ev-5", "2026-11-04T09:15:00Z", "enrich_email", -1, "u_ghost"),
        {"id": "ev-6", "type": "conversation", "occurred_at": "2026-11-24T10:06:00Z", "campaign_id": "c_q4"},
        credit("ev-3", "2026-11-04T09:15:00Z", "enrich_email", 3, "u_mikaela"),
    ]});
    let (s, b) = app.post(&format!("{WS}/usage-events"), bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let p = paths(&b);
    for expected in [
        "events[1].action",
        "events[2].credits",
        "events[2].user_id",
        "events[3].occurred_at",
        "events[3].identity_id",
        "events[4].id",
    ] {
        assert!(
            p.contains(&expected.to_string()),
            "{expected} missing from {p:?}"
        );
    }
    assert!(
        b["error"]["details"].to_string().contains("scrape_company"),
        "valid actions listed"
    );
    assert_eq!(summary(app).await, before);
    // The same id with other content: 409, nothing of the batch written.
    let conflict = json!({"events": [
        credit("ev-7", "2026-11-05T09:15:00Z", "ai_completion", 1, "u_samara"),
        credit("ev-1", "2026-11-03T09:15:00Z", "enrich_email", 4, "u_mikaela"),
    ]});
    let (s, b) = app.post(&format!("{WS}/usage-events"), conflict).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(summary(app).await, before);
    assert_eq!(app.store.count_events("acme").await.unwrap_or(-1), 2);
    // Sizes: empty, over 10,000 events, over 2 MiB.
    let (s, _) = app
        .post(&format!("{WS}/usage-events"), json!({"events": []}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let many: Vec<Value> = (0..10_001)
        .map(|i| json!({"id": format!("x{i}")}))
        .collect();
    let (s, b) = app
        .post(&format!("{WS}/usage-events"), json!({"events": many}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(paths(&b), vec!["events"]);
    let huge = format!(
        "{{\"events\": [{{\"id\": \"{}\"}}]}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let (s, b) = app
        .call_raw(
            Method::POST,
            &format!("{WS}/usage-events"),
            Some(huge),
            Some(TOKEN),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(b["error"]["code"], "payload_too_large");
}

async fn a_full_batch_of_ten_thousand(app: &TestApp) {
    app.seed_basic().await;
    let events: Vec<Value> = (0..10_000)
        .map(|i| {
            credit(
                &format!("b{i:05}"),
                &format!(
                    "2026-11-{:02}T{:02}:{:02}:00Z",
                    1 + i % 23,
                    8 + i % 10,
                    i % 60
                ),
                "scrape_contact",
                1,
                "u_samara",
            )
        })
        .collect();
    let (s, b) = app
        .post(&format!("{WS}/usage-events"), json!({"events": events}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["inserted"], 10_000);
    assert_eq!(summary(app).await["credits"]["used"], 10_000);
}

async fn charges_check_and_spend(app: &TestApp) {
    app.seed_basic().await;
    let charge = json!({"id": "ch-9", "action": "ai_completion", "credits": 2, "user_id": "u_samara", "campaign_id": "c_q4", "identity_id": "i_samara_mail"});
    let (s, first) = app.post(&format!("{WS}/charges"), charge.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["credits_left"], 9_998);
    assert_eq!(first["charge"]["id"], "ch-9");
    let (s, again) = app.post(&format!("{WS}/charges"), charge).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again, first);
    let (s, _) = app
        .post(
            &format!("{WS}/charges"),
            json!({"id": "ch-9", "action": "ai_completion", "credits": 3, "user_id": "u_samara"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Too much: 402 with credits_left beside error, nothing recorded.
    let big = json!({"id": "ch-big", "action": "enrich_phone", "credits": 10_000, "user_id": "u_mikaela"});
    let (s, b) = app.post(&format!("{WS}/charges"), big.clone()).await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{b}");
    assert_eq!(b["error"]["code"], "insufficient_credits");
    assert_eq!(b["credits_left"], 9_998);
    assert_eq!(summary(app).await["credits"]["used"], 2);
    // A later retry with the same id is evaluated afresh.
    let (s, _) = app
        .post(
            &format!("{WS}/credit-grants"),
            json!({"id": "g1", "kind": "add_on", "credits": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = app.post(&format!("{WS}/charges"), big).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["credits_left"], 3);
    // The charge is a usage event like any other.
    let (_, b) = app
        .get(&format!("{WS}/credit-usage?group_by=action&period=today"))
        .await;
    assert_eq!(b["total"], 10_002);
    let (s, b) = app
        .post(
            &format!("{WS}/charges"),
            json!({"id": "ch-x", "action": "nap", "credits": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(paths(&b), vec!["action", "credits", "user_id"]);
}

async fn concurrent_charges_never_overspend(app: &TestApp) {
    app.seed_basic().await;
    // Leave exactly 500 credits.
    let (s, _) = app.post(&format!("{WS}/usage-events"), json!({"events": [credit("pre", "2026-11-02T10:00:00Z", "enrich_phone", 9_500, "u_mikaela")]})).await;
    assert_eq!(s, StatusCode::OK);
    let mut tasks = Vec::new();
    for i in 0..1_000 {
        let router = app.router.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"id": format!("c{i}"), "action": "scrape_company", "credits": 1, "user_id": "u_samara"});
            let (status, v) = post_on(router, &format!("{WS}/charges"), &body).await;
            (status, v["credits_left"].as_i64())
        }));
    }
    let mut created = 0;
    let mut refused = 0;
    let mut lefts = std::collections::HashSet::new();
    for t in tasks {
        let (status, left) = t.await.expect("task");
        match status {
            StatusCode::CREATED => {
                created += 1;
                assert!(lefts.insert(left), "credits_left {left:?} seen twice");
            }
            StatusCode::PAYMENT_REQUIRED => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, refused), (500, 500));
    let b = summary(app).await;
    assert_eq!(b["credits"]["used"], b["credits"]["granted"]);
    assert_eq!(b["credits"]["left"], 0);
}

/// Charges that arrive together are committed in groups: a replay, a
/// conflicting body, an unknown workspace and unknown references in the
/// same burst are each answered as if they had come alone.
async fn grouped_charges_answer_each_alone(app: &TestApp) {
    app.seed_basic().await;
    let mut tasks = Vec::new();
    for i in 0..300 {
        let router = app.router.clone();
        tasks.push(tokio::spawn(async move {
            // 100 ids, each sent three times: twice with its body, once
            // (every tenth id) with another.
            let id = i % 100;
            let credits = if i >= 200 && id % 10 == 0 { 2 } else { 1 };
            let ws = if i == 299 { "/api/v1/workspaces/nowhere" } else { WS };
            let mut body = json!({"id": format!("g{id}"), "action": "scrape_company", "credits": credits, "user_id": "u_samara"});
            if i == 298 {
                body["user_id"] = json!("u_nobody");
            }
            if i == 297 {
                body["campaign_id"] = json!("c_nowhere");
            }
            let (status, v) = post_on(router, &format!("{ws}/charges"), &body).await;
            (id, status, v)
        }));
    }
    let mut first: std::collections::HashMap<u64, Value> = Default::default();
    let mut counts: std::collections::BTreeMap<u16, usize> = Default::default();
    let mut answers = Vec::new();
    for t in tasks {
        let (id, status, v) = t.await.expect("task");
        *counts.entry(status.as_u16()).or_default() += 1;
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            let text = v.to_string();
            let (field, what) = if id == 98 {
                ("user_id", "no such user in this workspace")
            } else {
                ("campaign_id", "no such campaign in this workspace")
            };
            assert!(text.contains(field) && text.contains(what), "{text}");
        }
        if status == StatusCode::CREATED {
            assert!(
                first.insert(id, v["charge"].clone()).is_none(),
                "g{id} created twice"
            );
        }
        answers.push((id, status, v));
    }
    for (id, status, v) in answers {
        if status == StatusCode::OK {
            assert_eq!(
                Some(&v["charge"]),
                first.get(&id),
                "a replay of g{id} answers the first body"
            );
        }
    }
    // 100 created, one per id, whichever body came first; every other
    // send is a replay or (another body) a conflict: 10 to 20 of those.
    assert_eq!(counts.get(&201), Some(&100), "{counts:?}");
    assert_eq!(counts.get(&404), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&422), Some(&2), "{counts:?}");
    let conflicts = counts.get(&409).copied().unwrap_or(0);
    assert_eq!(
        counts.get(&200).copied().unwrap_or(0) + conflicts,
        197,
        "{counts:?}"
    );
    assert!((10..=20).contains(&conflicts), "{counts:?}");
    let spent: i64 = first
        .values()
        .map(|c| c["credits"].as_i64().unwrap_or(0))
        .sum();
    let b = summary(app).await;
    assert_eq!(b["credits"]["used"], spent);
}

/// Two servers, each with its own pool on the same database (as two
/// processes would be), charge concurrently: still never past the grant.
async fn two_servers_never_overspend(app: &TestApp) {
    app.seed_basic().await;
    let (s, _) = app
        .post(&format!("{WS}/usage-events"), json!({"events": [credit("pre", "2026-11-02T10:00:00Z", "enrich_phone", 9_700, "u_mikaela")]}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (second, second_store) = app.second_server().await;
    let mut tasks = Vec::new();
    for i in 0..600 {
        let router = if i % 2 == 0 {
            app.router.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let body = json!({"id": format!("x{i}"), "action": "ai_completion", "credits": 1, "user_id": "u_samara"});
            post_on(router, &format!("{WS}/charges"), &body).await.0
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::CREATED => created += 1,
            StatusCode::PAYMENT_REQUIRED => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 300);
    let b = summary(app).await;
    assert_eq!(
        (b["credits"]["used"].as_i64(), b["credits"]["left"].as_i64()),
        (Some(10_000), Some(0))
    );
    second_store.close().await;
}

async fn summary_shape(app: &TestApp) {
    app.seed_basic().await;
    let b = summary(app).await;
    assert_eq!(
        b,
        json!({"workspace_id": "acme", "timezone": "Europe/Madrid", "today": "2026-11-24",
            "cycle": {"start": "2026-11-01", "end": "2026-12-01", "renews_on": "2026-12-01", "days_until_renewal": 7},
            "plan": {"name": "Growth", "monthly_credits": 10000, "identities_included": 5, "price": {"amount_cents": 29900, "currency": "EUR"}},
            "credits": {"plan": 10000, "add_on": 0, "rollover": 0, "granted": 10000, "used": 0, "left": 10000, "overage": 0}})
    );
    // Overage shows when events take the cycle past its credits.
    let (s, _) = app.post(&format!("{WS}/usage-events"), json!({"events": [credit("big", "2026-11-02T10:00:00Z", "enrich_phone", 10_250, "u_mikaela")]})).await;
    assert_eq!(s, StatusCode::OK);
    let b = summary(app).await;
    assert_eq!(
        (
            b["credits"]["left"].as_i64(),
            b["credits"]["overage"].as_i64()
        ),
        (Some(0), Some(250))
    );
}

async fn plan_changes_raise_now_and_cut_later(app: &TestApp) {
    app.seed_basic().await;
    let (s, _) = app.put(WS, workspace_body(15_000)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.put(WS, workspace_body(16_000)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(summary(app).await["credits"]["plan"], 16_000);
    let (s, _) = app.put(WS, workspace_body(4_000)).await;
    assert_eq!(s, StatusCode::OK);
    let b = summary(app).await;
    assert_eq!(
        b["credits"]["plan"], 16_000,
        "a cut waits for the next cycle"
    );
    assert_eq!(b["plan"]["monthly_credits"], 4_000);
    // Next cycle: the new plan, nothing carried over.
    let next = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let s = app.store.summary("acme", next).await.expect("summary");
    assert_eq!(
        (s.credits.plan, s.credits.add_on, s.credits.used),
        (4_000, 0, 0)
    );
    assert_eq!(s.cycle.start.to_string(), "2026-12-01");
}

/// A deterministic history; returns the events as (instant, action, credits, user, campaign, identity).
type Ev = (
    DateTime<Utc>,
    Option<(Action, i64)>,
    String,
    Option<String>,
    Option<String>,
);

async fn random_history(app: &TestApp) -> Vec<Ev> {
    app.seed_basic().await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let start = DateTime::parse_from_rfc3339("2026-08-25T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let span = (now() - start).num_seconds();
    let mut out = Vec::new();
    let mut events = Vec::new();
    for i in 0..3_000 {
        let at = start + Duration::seconds(rng.gen_range(0..span));
        let at_s = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let users = ["u_mikaela", "u_samara"];
        if rng.gen_bool(0.75) {
            let action = Action::ALL[rng.gen_range(0..5)];
            let credits = rng.gen_range(1..6);
            let user = users[rng.gen_range(0..2)].to_string();
            let campaign = if rng.gen_bool(0.6) {
                Some(["c_q4", "c_old"][rng.gen_range(0..2)].to_string())
            } else {
                None
            };
            let identity = if rng.gen_bool(0.5) {
                Some(
                    if user == "u_mikaela" {
                        "i_mikaela_li"
                    } else {
                        "i_samara_mail"
                    }
                    .to_string(),
                )
            } else {
                None
            };
            events.push(json!({"id": format!("r{i}"), "type": "credits", "occurred_at": at_s, "action": action.key(), "credits": credits,
                "user_id": user, "campaign_id": campaign, "identity_id": identity}));
            out.push((at, Some((action, credits)), user, campaign, identity));
        } else {
            let (identity, user) =
                [("i_mikaela_li", "u_mikaela"), ("i_samara_mail", "u_samara")][rng.gen_range(0..2)];
            let campaign = ["c_q4", "c_old"][rng.gen_range(0..2)];
            events.push(json!({"id": format!("r{i}"), "type": "conversation", "occurred_at": at_s, "campaign_id": campaign, "identity_id": identity}));
            out.push((
                at,
                None,
                user.to_string(),
                Some(campaign.to_string()),
                Some(identity.to_string()),
            ));
        }
    }
    let (s, b) = app
        .post(&format!("{WS}/usage-events"), json!({"events": events}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    out
}

fn key_of(e: &Ev, dim: &str, cal: &Calendar) -> Value {
    match dim {
        "day" => json!(cal.local_day(e.0).to_string()),
        "action" => json!(e.1.map(|(a, _)| a.key())),
        "category" => json!(e.1.map(|(a, _)| a.category().key())),
        "user" => json!(e.2),
        "campaign" => json!(e.3),
        "identity" => json!(e.4),
        _ => Value::Null,
    }
}

fn field(dim: &str) -> &str {
    match dim {
        "user" => "user_id",
        "campaign" => "campaign_id",
        "identity" => "identity_id",
        d => d,
    }
}

async fn reports_equal_a_recomputation(app: &TestApp) {
    let history = random_history(app).await;
    let cal = Calendar::new(chrono_tz::Europe::Madrid, WeekStart::Monday);
    let today = cal.today(now());
    let periods = [
        "period=today",
        "period=yesterday",
        "period=day&date=2026-10-25",
        "period=this_week",
        "period=last_week",
        "period=this_month",
        "period=last_month",
        "period=last_28_days",
        "period=custom&from=2026-09-01&to=2026-10-31",
        "",
    ];
    let groupings = [
        "day",
        "action",
        "category",
        "user",
        "campaign",
        "identity",
        "day,action",
        "user,day",
        "user,campaign",
    ];
    for p in periods {
        let params: Vec<(String, String)> = p
            .split('&')
            .filter(|s| !s.is_empty())
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let get = |k: &str| params.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        let period =
            Period::parse(get("period"), get("date"), get("from"), get("to")).expect("period");
        let range = period.range(today, WeekStart::Monday);
        for metric in ["credit-usage", "conversations"] {
            let is_credits = metric == "credit-usage";
            let in_scope: Vec<&Ev> = history
                .iter()
                .filter(|e| range.contains(cal.local_day(e.0)) && e.1.is_some() == is_credits)
                .collect();
            let value = |e: &Ev| e.1.map_or(1, |(_, c)| c);
            let total: i64 = in_scope.iter().map(|e| value(e)).sum();
            for g in groupings {
                if !is_credits && (g.contains("action") || g.contains("category")) {
                    continue;
                }
                let (s, b) = app.get(&format!("{WS}/{metric}?{p}&group_by={g}")).await;
                assert_eq!(s, StatusCode::OK, "{p} {g}: {b}");
                assert_eq!(b["total"], total, "{metric} {p} {g}");
                assert_eq!(b["period"]["from"], range.from.to_string());
                assert_eq!(b["period"]["to"], range.to.to_string());
                let dims: Vec<&str> = g.split(',').collect();
                let mut expected: BTreeMap<String, i64> = BTreeMap::new();
                for e in &in_scope {
                    let key: Vec<Value> = dims.iter().map(|d| key_of(e, d, &cal)).collect();
                    *expected
                        .entry(serde_json::to_string(&key).unwrap_or_default())
                        .or_default() += value(e);
                }
                let rows = b["rows"].as_array().cloned().unwrap_or_default();
                let vfield = if is_credits {
                    "credits"
                } else {
                    "conversations"
                };
                let sum: i64 = rows.iter().map(|r| r[vfield].as_i64().unwrap_or(0)).sum();
                assert_eq!(sum, total, "rows add up to the total: {metric} {p} {g}");
                let mut got: BTreeMap<String, i64> = BTreeMap::new();
                for r in &rows {
                    let key: Vec<Value> = dims.iter().map(|d| r[field(d)].clone()).collect();
                    let v = r[vfield].as_i64().unwrap_or(0);
                    if v != 0 {
                        got.insert(serde_json::to_string(&key).unwrap_or_default(), v);
                    }
                }
                assert_eq!(got, expected, "{metric} {p} {g}");
                if g == "day" {
                    assert_eq!(rows.len() as i64, range.days(), "every day, zero-filled");
                    let days: Vec<&str> = rows
                        .iter()
                        .map(|r| r["day"].as_str().unwrap_or(""))
                        .collect();
                    let mut sorted = days.clone();
                    sorted.sort();
                    assert_eq!(days, sorted);
                } else if dims.contains(&"day") {
                    // A time series: date order, then value descending, then key.
                    let order: Vec<(String, i64, String)> = rows
                        .iter()
                        .map(|r| {
                            let other = dims.iter().find(|d| **d != "day").copied().unwrap_or("");
                            (
                                r["day"].as_str().unwrap_or("").to_string(),
                                -r[vfield].as_i64().unwrap_or(0),
                                r[field(other)].as_str().unwrap_or("\u{10ffff}").to_string(),
                            )
                        })
                        .collect();
                    let mut sorted = order.clone();
                    sorted.sort();
                    assert_eq!(order, sorted, "time series order: {metric} {p} {g}");
                } else {
                    let values: Vec<i64> = rows
                        .iter()
                        .map(|r| r[vfield].as_i64().unwrap_or(0))
                        .collect();
                    assert!(
                        values.windows(2).all(|w| w[0] >= w[1]),
                        "sorted by value: {values:?}"
                    );
                }
                if dims.len() == 1 && g != "day" {
                    assert!(
                        rows.iter().all(|r| r["label"].is_string()),
                        "labels for {g}"
                    );
                }
            }
        }
    }
    // Filters narrow to the same recomputation.
    let (_, b) = app
        .get(&format!(
            "{WS}/credit-usage?period=last_month&group_by=action&user_id=u_samara&campaign_id=c_q4"
        ))
        .await;
    let range = Period::LastMonth.range(today, WeekStart::Monday);
    let expected: i64 = history
        .iter()
        .filter(|e| {
            range.contains(cal.local_day(e.0))
                && e.2 == "u_samara"
                && e.3.as_deref() == Some("c_q4")
        })
        .filter_map(|e| e.1.map(|(_, c)| c))
        .sum();
    assert_eq!(b["total"], expected);
    // A null campaign groups as one row labelled "None".
    let (_, b) = app
        .get(&format!(
            "{WS}/credit-usage?period=last_month&group_by=campaign"
        ))
        .await;
    let none = b["rows"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["campaign_id"].is_null()).cloned())
        .unwrap_or_default();
    assert_eq!(none["label"], "None");
    // CSV: one line per event, and a grouped variant.
    let (s, csv) = app
        .call_text(
            Method::GET,
            &format!("{WS}/credit-usage.csv?period=last_month"),
            None,
            Some(TOKEN),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    let events_last_month = history
        .iter()
        .filter(|e| range.contains(cal.local_day(e.0)) && e.1.is_some())
        .count();
    assert_eq!(lines.len(), events_last_month + 1);
    assert!(lines[0].starts_with("occurred_at,date,event_id,action"));
    assert!(
        lines[1].contains("+02:00") || lines[1].contains("+01:00"),
        "local times: {}",
        lines[1]
    );
    let (_, csv) = app
        .call_text(
            Method::GET,
            &format!("{WS}/credit-usage.csv?period=last_month&group_by=user"),
            None,
            Some(TOKEN),
        )
        .await;
    assert!(csv.starts_with("user_id,label,credits\r\n"), "{csv}");
}

async fn report_parameters_are_validated(app: &TestApp) {
    app.seed_basic().await;
    for (q, param) in [
        ("period=fortnight", "period"),
        ("period=day", "date"),
        ("period=day&date=2026-02-30", "date"),
        ("period=custom&from=2026-01-01", "to"),
        ("period=custom&from=2025-01-01&to=2026-06-01", "to"),
        ("group_by=weather", "group_by"),
        ("group_by=day,action,user", "group_by"),
        ("action=teleport", "action"),
        ("user_id=u_ghost", "user_id"),
    ] {
        let (s, b) = app.get(&format!("{WS}/credit-usage?{q}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {b}");
        assert!(paths(&b).contains(&param.to_string()), "{q}: {b}");
    }
    let (s, _) = app
        .get(&format!("{WS}/conversations?group_by=action"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, b) = app.get(&format!("{WS}/credit-usage")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["period"]["name"], "this_month");
}

async fn dst_days_bucket_locally(app: &TestApp) {
    app.seed_basic().await;
    // 25 Oct 2026 is 25 hours long in Madrid: 22:30Z on the 24th is 00:30 on
    // the 25th (CEST), 23:30Z on the 25th is 00:30 on the 26th (CET).
    let events = json!({"events": [
        credit("d1", "2026-10-24T21:59:59Z", "scrape_company", 1, "u_mikaela"),
        credit("d2", "2026-10-24T22:00:00Z", "scrape_company", 2, "u_mikaela"),
        credit("d3", "2026-10-25T22:59:59Z", "scrape_company", 4, "u_mikaela"),
        credit("d4", "2026-10-25T23:00:00Z", "scrape_company", 8, "u_mikaela"),
    ]});
    let (s, _) = app.post(&format!("{WS}/usage-events"), events).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = app
        .get(&format!(
            "{WS}/credit-usage?period=custom&from=2026-10-24&to=2026-10-26&group_by=day"
        ))
        .await;
    let days: Vec<i64> = b["rows"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| r["credits"].as_i64().unwrap_or(-1))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(days, vec![1, 6, 8]);
}

async fn openapi_matches_the_contract(app: &TestApp) {
    let (s, b) = app
        .call_raw(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    for p in [
        "/api/v1/workspaces/{workspace_id}",
        "/api/v1/workspaces/{workspace_id}/users/{user_id}",
        "/api/v1/workspaces/{workspace_id}/identities/{identity_id}",
        "/api/v1/workspaces/{workspace_id}/campaigns/{campaign_id}",
        "/api/v1/workspaces/{workspace_id}/credit-grants",
        "/api/v1/workspaces/{workspace_id}/usage-events",
        "/api/v1/workspaces/{workspace_id}/charges",
        "/api/v1/workspaces/{workspace_id}/summary",
        "/api/v1/workspaces/{workspace_id}/credit-usage",
        "/api/v1/workspaces/{workspace_id}/credit-usage.csv",
        "/api/v1/workspaces/{workspace_id}/conversations",
    ] {
        assert!(b["paths"].get(p).is_some(), "{p} missing");
    }
    assert!(
        b["paths"]["/api/v1/workspaces/{workspace_id}/charges"]["post"]["responses"]
            .get("402")
            .is_some()
    );
    assert!(b["components"]["securitySchemes"].get("bearer").is_some());
    // The contract's examples read as the documented schemas.
    let _: credits_server::api::schema::WorkspaceBody =
        serde_json::from_value(workspace_body(1)).expect("workspace example");
    let _: credits_server::api::schema::EventsBody = serde_json::from_value(json!({"events": [
        credit("ev-1", "2026-11-03T09:15:00Z", "enrich_email", 3, "u_mikaela"),
        {"id": "ev-2", "type": "conversation", "occurred_at": "2026-11-03T09:20:00Z", "campaign_id": "c_q4", "identity_id": "i_mikaela_li"}]}))
    .expect("events example");
}

/// A name that a spreadsheet would run as a formula leaves the export defused.
async fn csv_cells_never_run_as_formulas(app: &TestApp) {
    app.seed_basic().await;
    let evil = "=HYPERLINK(\"https://evil.example\",\"click\")";
    let (s, b) = app
        .put(
            &format!("{WS}/campaigns/c_q4"),
            json!({"name": evil, "status": "active"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .put(
            &format!("{WS}/users/u_samara"),
            json!({"name": "@Samara", "email": "s@acme.test", "role": "member"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut ev = credit("f1", "2026-11-20T10:00:00Z", "enrich_email", 3, "u_samara");
    ev["campaign_id"] = json!("c_q4");
    let (s, _) = app
        .post(&format!("{WS}/usage-events"), json!({"events": [ev]}))
        .await;
    assert_eq!(s, StatusCode::OK);
    for q in ["group_by=campaign", "group_by=user", ""] {
        let (s, csv) = app
            .call_text(
                Method::GET,
                &format!("{WS}/credit-usage.csv?period=this_month&{q}"),
                None,
                Some(TOKEN),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        for cell in csv.split(['\r', '\n', ',']) {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '@', '+']),
                "{q}: a live formula in {csv}"
            );
        }
        assert!(
            csv.contains("'=HYPERLINK") || csv.contains("'@Samara"),
            "{q}: {csv}"
        );
    }
}

/// The tabs' comparison with the period before and the run-out
/// forecast's pace, over the real store, at the edges of the workspace's
/// local days (Europe/Madrid, UTC+1 in November; now is Tuesday 24
/// November 11:00 local, weeks start on Monday): the previous period is
/// the one of the same length that ends where the shown one starts, and
/// the pace window the 7 full local days before today (17 to 23
/// November), today excluded.
async fn previous_total_and_forecast_window(app: &TestApp) {
    app.seed_basic().await;
    let events = json!({"events": [
        // today: this week, not in the pace window
        credit("a", "2026-11-24T08:00:00Z", "enrich_email", 2, "u_mikaela"),
        // Monday 00:30 local: this week, in the window
        credit("b", "2026-11-22T23:30:00Z", "enrich_email", 3, "u_mikaela"),
        // Sunday 23:30 local: the week before, in the window
        credit("c", "2026-11-22T22:30:00Z", "enrich_email", 5, "u_mikaela"),
        // 17 November 00:30 local: the week before, the window's first day
        credit("d", "2026-11-16T23:30:00Z", "enrich_email", 7, "u_mikaela"),
        // 16 November 23:30 local: the week before, a day before the window
        credit("e", "2026-11-16T22:30:00Z", "enrich_email", 11, "u_mikaela"),
        // 15 November 23:30 local: neither
        credit("f", "2026-11-15T22:30:00Z", "enrich_email", 13, "u_mikaela"),
        {"id": "g", "type": "conversation", "occurred_at": "2026-11-22T23:30:00Z",
         "campaign_id": "c_q4", "identity_id": "i_mikaela_li"},
        {"id": "h", "type": "conversation", "occurred_at": "2026-11-22T22:30:00Z",
         "campaign_id": "c_q4", "identity_id": "i_mikaela_li"},
        {"id": "i", "type": "conversation", "occurred_at": "2026-11-15T22:30:00Z",
         "campaign_id": "c_q4", "identity_id": "i_mikaela_li"},
    ]});
    let (s, b) = app.post(&format!("{WS}/usage-events"), events).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let ws = app
        .store
        .workspace("acme")
        .await
        .expect("reads")
        .expect("exists");
    let view = |period: &str| {
        let params = app::query::Query::of(&[("period", period)]);
        let (store, ws) = (app.store.clone(), ws.clone());
        async move {
            let credits =
                credits_server::dashboard::tabs::credits_view(&store, &ws, &params, now())
                    .await
                    .expect("the credits view");
            let talks =
                credits_server::dashboard::tabs::conversations_view(&store, &ws, &params, now())
                    .await
                    .expect("the conversations view");
            (credits, talks)
        }
    };
    // This week so far is Monday and today; the period of the same
    // length before it, Saturday and Sunday.
    let (credits, talks) = view("this_week").await;
    assert_eq!((credits.total, credits.previous_total), (2 + 3, 5));
    assert_eq!((talks.total, talks.previous_total), (1, 1));
    // Last week (16 to 22 November) and the week before it.
    let (last, last_talks) = view("last_week").await;
    assert_eq!((last.total, last.previous_total), (5 + 7 + 11, 13));
    assert_eq!((last_talks.total, last_talks.previous_total), (1, 1));
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).expect("a date");
    assert_eq!(
        (
            credits.forecast.pace_window.from,
            credits.forecast.pace_window.to
        ),
        (day(17), day(24))
    );
    let expected = (3 + 5 + 7) as f64 / 7.0;
    assert!(
        (credits.forecast.pace_per_day - expected).abs() < 1e-9,
        "pace {} != {expected}",
        credits.forecast.pace_per_day
    );
    // The forecast does not depend on the period shown.
    assert_eq!(last.forecast, credits.forecast);
}

on_both_engines!(
    previous_total_and_forecast_window,
    csv_cells_never_run_as_formulas,
    auth_and_order_of_checks,
    workspace_create_update_and_validation,
    members_and_their_references,
    grants_are_idempotent,
    batches_are_all_or_nothing,
    a_full_batch_of_ten_thousand,
    charges_check_and_spend,
    concurrent_charges_never_overspend,
    grouped_charges_answer_each_alone,
    two_servers_never_overspend,
    summary_shape,
    plan_changes_raise_now_and_cut_later,
    reports_equal_a_recomputation,
    report_parameters_are_validated,
    dst_days_bucket_locally,
    openapi_matches_the_contract,
);

/// The contract check is not a formality: a field too many, a field
/// missing, a wrong type or an undocumented status each fail it.
#[tokio::test]
async fn the_contract_check_catches_drift() {
    let app = TestApp::sqlite_at(now()).await;
    app.seed_basic().await;
    let (s, summary) = app.get(&format!("{WS}/summary")).await;
    assert_eq!(s, StatusCode::OK);
    let path = format!("{WS}/summary");
    let json_headers = {
        let mut h = axum::http::HeaderMap::new();
        h.insert("content-type", "application/json".parse().expect("header"));
        h
    };
    let fails = |status: StatusCode, body: Value| {
        let (path, headers) = (path.clone(), json_headers.clone());
        std::panic::catch_unwind(move || {
            crate::common::contract::check(&Method::GET, &path, status, &headers, &body.to_string())
        })
        .is_err()
    };
    assert!(
        !fails(StatusCode::OK, summary.clone()),
        "the real answer passes"
    );
    let mut extra = summary.clone();
    extra["credits"]["bonus"] = json!(1);
    assert!(fails(StatusCode::OK, extra), "an undocumented field");
    let mut missing = summary.clone();
    missing["cycle"]
        .as_object_mut()
        .map(|m| m.remove("renews_on"));
    assert!(fails(StatusCode::OK, missing), "a missing field");
    let mut wrong = summary.clone();
    wrong["credits"]["left"] = json!("many");
    assert!(fails(StatusCode::OK, wrong), "a wrong type");
    assert!(
        fails(StatusCode::CONFLICT, summary),
        "an undocumented status"
    );
    app.cleanup().await;
}

/// The path to Citus stays open (docs/citus.md): every table is placed
/// (distributed by its workspace, or a reference table), and every primary
/// key and unique index of a distributed table leads with its
/// distribution column, so that Citus can enforce it on one shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citus_keys_lead_with_the_workspace() {
    let Some(postgres) = TestApp::postgres_or_skip().await else {
        return;
    };
    // docs/citus.md, "How each table is placed".
    let reference = ["webhook_outbox", "sessions", "used_handoffs"];
    let pg = sqlx::PgPool::connect(&postgres.url)
        .await
        .expect("postgres");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&pg)
    .await
    .expect("tables");
    let keys: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.relname::text, i.relname::text, a.attname::text \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class c ON c.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ix.indkey[0] \
         WHERE n.nspname = 'public' AND ix.indisunique AND c.relname <> '_sqlx_migrations'",
    )
    .fetch_all(&pg)
    .await
    .expect("keys");
    let mut wrong = Vec::new();
    for table in &tables {
        if reference.contains(&table.as_str()) {
            continue;
        }
        let column = if table == "workspaces" {
            "id"
        } else {
            "workspace_id"
        };
        for (_, index, first) in keys.iter().filter(|(t, _, _)| t == table) {
            if first != column {
                wrong.push(format!("{table}: {index} leads with {first}, not {column}"));
            }
        }
        if !keys.iter().any(|(t, _, _)| t == table) {
            wrong.push(format!("{table}: no primary key"));
        }
    }
    assert!(
        wrong.is_empty(),
        "keys Citus could not enforce on one shard (place new tables in docs/citus.md): {wrong:#?}"
    );
    pg.close().await;
    postgres.cleanup().await;
}

/// The two engines' migrations stay equivalent: after every migration,
/// the same tables with the same columns, and the same secondary indexes
/// by name (primary keys aside: each engine names its own), apart from
/// `event_ids` and `event_packs`, PostgreSQL's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engines_migrations_stay_equivalent() {
    use std::collections::BTreeSet;
    let sqlite = TestApp::sqlite_at(crate::common::now()).await;
    let Some(postgres) = TestApp::postgres_or_skip().await else {
        sqlite.cleanup().await;
        return;
    };
    let lite = sqlx::SqlitePool::connect(&sqlite.url)
        .await
        .expect("sqlite");
    let mut lite_columns = BTreeSet::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&lite)
    .await
    .expect("tables");
    for t in &tables {
        let columns: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{t}')"))
                .fetch_all(&lite)
                .await
                .expect("columns");
        lite_columns.extend(columns.into_iter().map(|c| (t.clone(), c)));
    }
    let lite_indexes: BTreeSet<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'",
    )
    .fetch_all(&lite)
    .await
    .expect("indexes")
    .into_iter()
    .collect();
    let pg = sqlx::PgPool::connect(&postgres.url)
        .await
        .expect("postgres");
    let pg_columns: BTreeSet<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(&pg)
    .await
    .expect("columns")
    .into_iter()
    // PostgreSQL's alone: the events' ids, unique apart from their months
    // (SQLite's events are not partitioned; their key is unique itself),
    // its partitions of the events, and the packs of its past months (the
    // view of every event, `stored_events`, is both engines').
    .filter(|(table, _): &(String, String)| {
        table != "event_ids" && table != "event_packs" && !table.starts_with("usage_events_")
    })
    .collect();
    // SQLite's events are in the order of time (their table's key, since
    // migration 0014), their ids unique by an index; PostgreSQL's heap has
    // no order, and its index by time stays (its ids are unique in
    // `event_ids`).
    let lite_indexes: BTreeSet<String> = lite_indexes
        .into_iter()
        .filter(|i| i != "usage_events_by_id")
        .collect();
    let pg_indexes: BTreeSet<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' \
         AND tablename NOT LIKE 'usage\\_events\\_%'",
    )
    .fetch_all(&pg)
    .await
    .expect("indexes")
    .into_iter()
    .filter(|i: &String| i != "usage_events_by_time")
    .collect();
    assert_eq!(
        lite_columns
            .symmetric_difference(&pg_columns)
            .collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "columns only one engine has"
    );
    assert_eq!(
        lite_indexes
            .symmetric_difference(&pg_indexes)
            .collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "indexes only one engine has"
    );
    lite.close().await;
    pg.close().await;
    sqlite.cleanup().await;
    postgres.cleanup().await;
}

/// Migration 0012 (density) on a ledger written before it, on each
/// engine: the events' request texts become digests (in SQL on
/// PostgreSQL, by `credits migrate` on SQLite), the rollups' words become
/// codes, and afterwards every rollup and cycle still equals its
/// recomputation from the events, a replay of an old event is still a
/// duplicate and other content still a `409`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_density_migration_keeps_a_ledger_written_before_it() {
    let mut dbs = vec![crate::common::EmptyDb::sqlite()];
    dbs.extend(crate::common::EmptyDb::postgres().await);
    for db in dbs {
        ledger_before_density_then_migrate(&db).await;
        db.cleanup().await;
    }
}

async fn ledger_before_density_then_migrate(db: &crate::common::EmptyDb) {
    use credits_server::canonical::canonical;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("opens");
    let mut before = if db.is_sqlite() {
        sqlx::migrate!("../migrations/sqlite")
    } else {
        sqlx::migrate!("../migrations/postgres")
    };
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version <= 11)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(&pool).await.expect("migrations 1 to 11");
    let credit = json!({"id": "ev-1", "type": "credits", "occurred_at": "2026-11-23T09:15:00Z",
        "action": "enrich_email", "credits": 3, "user_id": "u_mikaela",
        "campaign_id": "c_q4", "identity_id": "i_mikaela_li"});
    let talk = json!({"id": "ev-2", "type": "conversation", "occurred_at": "2026-11-23T09:20:00Z",
        "campaign_id": "c_q4", "identity_id": "i_mikaela_li"});
    let at = |v: &Value| {
        DateTime::parse_from_rfc3339(v["occurred_at"].as_str().unwrap_or_default())
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    };
    let statements: Vec<(String, Vec<Value>)> = vec![
        ("INSERT INTO workspaces (id, name, timezone, week_start, plan_name, monthly_credits, \
          identities_included, price_cents, currency, created_at, updated_at) \
          VALUES ('acme', 'Acme', 'Europe/Madrid', 'monday', 'Growth', 10000, 5, 9900, 'EUR', 0, 0)".into(), vec![]),
        ("INSERT INTO users (workspace_id, id, name, email, role) \
          VALUES ('acme', 'u_mikaela', 'Mikaela', 'm@acme.test', 'member')".into(), vec![]),
        ("INSERT INTO identities (workspace_id, id, name, channel, user_id) \
          VALUES ('acme', 'i_mikaela_li', 'Mikaela LI', 'linkedin', 'u_mikaela')".into(), vec![]),
        ("INSERT INTO campaigns (workspace_id, id, name, status) VALUES ('acme', 'c_q4', 'Q4', 'active')".into(), vec![]),
        ("INSERT INTO cycles (workspace_id, start_day, plan_credits, used) VALUES ('acme', '2026-11-01', 10000, 3)".into(), vec![]),
        ("INSERT INTO usage_events (workspace_id, id, kind, occurred_at, day, action, credits, user_id, \
          campaign_id, identity_id, request) VALUES ('acme', 'ev-1', 'credits', $1, '2026-11-23', \
          'enrich_email', 3, 'u_mikaela', 'c_q4', 'i_mikaela_li', $2)".into(),
         vec![json!(at(&credit)), json!(canonical(&credit))]),
        ("INSERT INTO usage_events (workspace_id, id, kind, occurred_at, day, action, credits, user_id, \
          campaign_id, identity_id, request) VALUES ('acme', 'ev-2', 'conversation', $1, '2026-11-23', \
          NULL, 0, 'u_mikaela', 'c_q4', 'i_mikaela_li', $2)".into(),
         vec![json!(at(&talk)), json!(canonical(&talk))]),
    ];
    for (sql, binds) in statements {
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = match b {
                Value::Number(n) => q.bind(n.as_i64().unwrap_or_default()),
                other => q.bind(other.as_str().unwrap_or_default().to_string()),
            };
        }
        q.execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    // The rollups as the code before 0012 wrote them, in words.
    for (metric, action, value) in [("credits", "enrich_email", 3), ("conversations", "", 1)] {
        for (dim, key, key2) in [
            ("", "", ""),
            ("user", "u_mikaela", ""),
            ("campaign", "c_q4", ""),
            ("identity", "i_mikaela_li", ""),
            ("campaign_identity", "c_q4", "i_mikaela_li"),
            ("user_campaign", "u_mikaela", "c_q4"),
        ] {
            sqlx::query(
                "INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value) \
                 VALUES ('acme', $1, $2, '2026-11-23', $3, $4, $5, $6)",
            )
            .bind(metric)
            .bind(dim)
            .bind(action)
            .bind(key)
            .bind(key2)
            .bind(value)
            .execute(&pool)
            .await
            .expect("old rollup");
        }
    }
    pool.close().await;

    let store = credits_server::store::Store::connect(&db.url)
        .await
        .expect("opens");
    store.migrate().await.expect("migrates to the end");
    let check = store.check_ledger().await.expect("checks");
    assert_eq!(check.integrity, ["ok"]);
    assert!(
        check.aggregate_differences.is_empty(),
        "{:?}",
        check.aggregate_differences
    );
    assert!(
        check.cycle_differences.is_empty(),
        "{:?}",
        check.cycle_differences
    );
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("opens");
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM usage_events WHERE digest IS NULL OR request IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!(left, 0, "every event keeps a digest and no request");
    pool.close().await;

    let router = credits_server::app(TestApp::state(store.clone(), now()));
    let path = "/api/v1/workspaces/acme/usage-events";
    let (s, b) = post_on(router.clone(), path, &json!({"events": [credit, talk]})).await;
    assert_eq!(
        (s, b["duplicates"].clone()),
        (StatusCode::OK, json!(2)),
        "{b}"
    );
    let mut other = credit.clone();
    other["credits"] = json!(4);
    let (s, b) = post_on(router.clone(), path, &json!({"events": [other]})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let mut later = credit.clone();
    later["id"] = json!("ev-3");
    let (s, b) = post_on(router.clone(), path, &json!({"events": [later]})).await;
    assert_eq!(
        (s, b["inserted"].clone()),
        (StatusCode::OK, json!(1)),
        "{b}"
    );
    let check = store.check_ledger().await.expect("checks");
    assert!(
        check.aggregate_differences.is_empty(),
        "{:?}",
        check.aggregate_differences
    );
    assert!(
        check.cycle_differences.is_empty(),
        "{:?}",
        check.cycle_differences
    );
    store.close().await;
}

/// `n` events of the basic workspace's users, identities and campaigns,
/// at random instants of 1 August to 22 November 2026: a third of them
/// conversations, the others credits of every action.
fn mixed_events(seed: u64, n: usize) -> Vec<Value> {
    let owners = [("u_mikaela", "i_mikaela_li"), ("u_samara", "i_samara_mail")];
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let start = DateTime::parse_from_rfc3339("2026-08-01T00:00:00Z")
        .expect("an instant")
        .with_timezone(&Utc);
    let mut events = Vec::new();
    for n in 0..n {
        let at = start + Duration::minutes(rng.gen_range(0..(114 * 24 * 60)));
        let (user, identity) = owners[rng.gen_range(0..2)];
        let campaign = ["c_q4", "c_old"][rng.gen_range(0..2)];
        let at = at.to_rfc3339();
        let mut e = if n % 3 == 0 {
            json!({"id": format!("v{n}"), "type": "conversation", "occurred_at": at, "identity_id": identity})
        } else {
            let action = Action::ALL[rng.gen_range(0..Action::ALL.len())];
            credit(
                &format!("e{n}"),
                &at,
                action.key(),
                rng.gen_range(1..50),
                user,
            )
        };
        if n % 3 == 0 || rng.gen_bool(0.7) {
            e["campaign_id"] = json!(campaign);
        }
        if n % 3 != 0 && rng.gen_bool(0.6) {
            e["identity_id"] = json!(identity);
        }
        events.push(e);
    }
    events
}

/// Every report shape of both tabs over ranges around the retention test's
/// horizon, with each kind of filter, and the summary.
fn report_paths() -> Vec<String> {
    let ranges = [
        ("2022-03-01", "2022-03-31"),
        ("2026-08-01", "2026-11-23"),
        ("2026-09-01", "2026-09-30"),
        ("2026-10-01", "2026-10-01"),
        ("2026-09-20", "2026-10-10"),
        ("2026-10-02", "2026-11-23"),
    ];
    let credit_groups = [
        "",
        "day",
        "action",
        "category",
        "user",
        "campaign",
        "identity",
        "user,identity",
        "identity,user",
        "campaign,identity",
        "user,campaign",
        "day,user",
        "identity,day",
    ];
    let talk_groups = [
        "",
        "day",
        "user",
        "campaign",
        "identity",
        "user,identity",
        "campaign,user",
    ];
    let filters = [
        "",
        "&user_id=u_mikaela",
        "&identity_id=i_mikaela_li",
        "&user_id=u_mikaela&identity_id=i_mikaela_li",
        "&user_id=u_samara&campaign_id=c_q4&identity_id=i_samara_mail",
    ];
    let mut paths = Vec::new();
    for (from, to) in ranges {
        for filter in filters {
            for (tab, groups) in [
                ("credit-usage", &credit_groups[..]),
                ("conversations", &talk_groups[..]),
            ] {
                for g in groups {
                    let group = if g.is_empty() {
                        String::new()
                    } else {
                        format!("&group_by={g}")
                    };
                    paths.push(format!(
                        "{WS}/{tab}?period=custom&from={from}&to={to}{group}{filter}"
                    ));
                }
            }
        }
    }
    paths.push(format!("{WS}/summary"));
    paths
}

/// Brings workspace `ws` to `left` events short of the mark past which
/// its keyed rollups are kept (`store::density`): the write that takes it
/// past fills them from its events, its own included.
async fn near_the_mark(app: &TestApp, ws: &str, left: i64) {
    let pool = sqlx::AnyPool::connect(&app.url).await.expect("pool");
    sqlx::query(
        "INSERT INTO keyed_rollups (workspace_id, taken, keyed) VALUES ($1, $2, 0) \
         ON CONFLICT (workspace_id) DO UPDATE SET taken = excluded.taken",
    )
    .bind(ws.to_string())
    .bind(KEYED_FROM - left)
    .execute(&pool)
    .await
    .expect("near the mark");
    pool.close().await;
}

/// Whether workspace `ws` is keyed, how many events it has taken, and its
/// keyed rollup rows.
async fn keyed_state(app: &TestApp, ws: &str) -> (bool, i64, i64) {
    let pool = sqlx::AnyPool::connect(&app.url).await.expect("pool");
    let (keyed, taken): (i64, i64) =
        sqlx::query_as("SELECT keyed, taken FROM keyed_rollups WHERE workspace_id = $1")
            .bind(ws.to_string())
            .fetch_one(&pool)
            .await
            .expect("its row");
    let rows: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM daily_rollup WHERE workspace_id = $1 AND dim <> ''",
    )
    .bind(ws.to_string())
    .fetch_one(&pool)
    .await
    .expect("rows");
    pool.close().await;
    (keyed != 0, taken, rows)
}

async fn answers(app: &TestApp, paths: &[String]) -> Vec<Value> {
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        let (s, b) = app.get(p).await;
        assert_eq!(s, StatusCode::OK, "{p}: {b}");
        out.push(b);
    }
    out
}

/// A workspace below the mark keeps its day's totals alone and its
/// events answer the rest; the write that takes it past fills its keyed
/// rollups, which then answer every question exactly as the events did,
/// and the writes after it (batches, charges, a zone move) keep them.
async fn keyed_rollups_answer_as_the_events_did(app: &TestApp) {
    app.seed_basic().await;
    let (s, b) = app
        .post(
            &format!("{WS}/usage-events"),
            json!({ "events": mixed_events(34, 300) }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(keyed_state(app, "acme").await, (false, 300, 0));
    let paths = report_paths();
    let before = answers(app, &paths).await;

    // One event past the mark, on a day no path reads.
    near_the_mark(app, "acme", 1).await;
    let crossing = credit(
        "crossing",
        "2025-01-15T10:00:00Z",
        "enrich_email",
        3,
        "u_mikaela",
    );
    let (s, b) = app
        .post(
            &format!("{WS}/usage-events"),
            json!({ "events": [crossing] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (keyed, taken, rows) = keyed_state(app, "acme").await;
    assert!(
        keyed && taken == KEYED_FROM && rows > 300,
        "{keyed} {taken} {rows}"
    );
    for ((p, want), got) in paths.iter().zip(&before).zip(answers(app, &paths).await) {
        assert_eq!(&got, want, "{p} changed when the keyed rollups took over");
    }
    let check = app.store.check_ledger().await.expect("checks");
    assert!(check.consistent(), "{check:?}");

    // The writes after it write keyed rows.
    let mut later = mixed_events(35, 120);
    for e in &mut later {
        e["id"] = json!(format!("later-{}", e["id"].as_str().unwrap_or_default()));
    }
    let (s, b) = app
        .post(&format!("{WS}/usage-events"), json!({ "events": later }))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let charge = json!({"id": "ch-k", "action": "ai_completion", "credits": 2, "user_id": "u_samara", "campaign_id": "c_q4", "identity_id": "i_samara_mail"});
    let (s, b) = app.post(&format!("{WS}/charges"), charge).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let mut moved = workspace_body(10_000);
    moved["timezone"] = json!("Asia/Tokyo");
    let (s, b) = app.put("/api/v1/workspaces/acme", moved).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.store.rebucket("acme").await.expect("moves");
    let check = app.store.check_ledger().await.expect("checks");
    assert!(check.consistent(), "{check:?}");
    // A keyed workspace's writes count nothing more: none of them takes
    // a statement it did not take before.
    let (_, taken, _) = keyed_state(app, "acme").await;
    assert_eq!(taken, KEYED_FROM);
}

on_both_engines!(keyed_rollups_answer_as_the_events_did);

/// Writers that take a workspace past the mark at once: one fills, and
/// every other's events count once in the rollups, before the fill (it
/// reads them) or after it (they write their keyed rows).
async fn writers_at_the_mark_count_each_event_once(app: &TestApp) {
    app.seed_basic().await;
    near_the_mark(app, "acme", 12).await;
    let events = mixed_events(36, 40);
    let tasks: Vec<_> = events
        .chunks(5)
        .map(|chunk| {
            let (router, body) = (app.router.clone(), json!({ "events": chunk.to_vec() }));
            tokio::spawn(async move { post_on(router, &format!("{WS}/usage-events"), &body).await })
        })
        .collect();
    for t in tasks {
        let (s, b) = t.await.expect("the task ends");
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    // Counted by each write that found it below the mark when it began
    // (on PostgreSQL, those that waited on the crossing write count too).
    let (keyed, taken, rows) = keyed_state(app, "acme").await;
    assert!(keyed && rows > 0, "{keyed} {rows}");
    assert!((KEYED_FROM..=KEYED_FROM + 28).contains(&taken), "{taken}");
    let check = app.store.check_ledger().await.expect("checks");
    assert!(check.consistent(), "{check:?}");
}

on_both_engines!(writers_at_the_mark_count_each_event_once);

/// Retention (`--retain-events-months`, docs/API.md "Retention"): every
/// report shape, both metrics, over ranges before, across and after the
/// horizon, answers the same after the events past it are dropped (the
/// shapes that read the events read their sums); the ledger check still
/// recomputes every rollup; what needs the raw events is a `422` naming
/// the horizon; a zone change says which days it could not move.
async fn retention_keeps_every_report_exact(app: &TestApp) {
    retention_case(app, false, false).await;
}

/// The same with keyed rollups: the drop leaves them whole.
async fn retention_keeps_every_report_exact_when_keyed(app: &TestApp) {
    retention_case(app, true, false).await;
}

/// The same with the past months packed first (PostgreSQL,
/// `store::packs`): a month's packs are folded and dropped with it.
async fn retention_keeps_every_report_exact_when_packed(app: &TestApp) {
    retention_case(app, false, true).await;
}

async fn retention_case(app: &TestApp, keyed: bool, packed: bool) {
    app.seed_basic().await;
    if keyed {
        near_the_mark(app, "acme", 1).await;
    }
    let mut events = mixed_events(33, 400);
    // 30 September 22:30 UTC is 1 October 00:30 in Madrid: a local day
    // whose first event is dropped and whose others are kept.
    events.push(
        json!({"id": "edge-1", "type": "credits", "occurred_at": "2026-09-30T22:30:00Z",
                       "action": "enrich_email", "credits": 5, "user_id": "u_mikaela",
                       "campaign_id": "c_q4", "identity_id": "i_mikaela_li"}),
    );
    events.push(
        json!({"id": "edge-2", "type": "credits", "occurred_at": "2026-10-01T08:00:00Z",
                       "action": "enrich_email", "credits": 7, "user_id": "u_mikaela",
                       "campaign_id": "c_q4", "identity_id": "i_mikaela_li"}),
    );
    // Older than the months PostgreSQL makes: its default partition.
    events.push(
        json!({"id": "ancient", "type": "credits", "occurred_at": "2022-03-15T10:00:00Z",
                       "action": "ai_completion", "credits": 3, "user_id": "u_samara",
                       "identity_id": "i_samara_mail"}),
    );
    // The events at or after the horizon (1 October), which alone stay.
    let horizon = DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z").expect("an instant");
    let stay = events
        .iter()
        .filter(|e| {
            DateTime::parse_from_rfc3339(e["occurred_at"].as_str().unwrap_or_default())
                .is_ok_and(|t| t >= horizon)
        })
        .count() as i64;
    let (s, b) = app
        .post(&format!("{WS}/usage-events"), json!({ "events": events }))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    if packed {
        let n = app.store.pack_past_months(now()).await.expect("packs");
        assert_eq!(n > 0, app.url.starts_with("postgres"));
    }

    let paths = report_paths();
    let before = answers(app, &paths).await;
    let kept_before = app.store.count_events("acme").await.expect("counts");

    // Keep one month before the current one: the horizon is 1 October.
    app.store.set_retention(Some(1)).await.expect("set");
    let dropped = app.store.drop_expired(now()).await.expect("drops");
    assert!(dropped > 100, "dropped {dropped}");
    let kept = app.store.count_events("acme").await.expect("counts");
    assert_eq!(kept + dropped as i64, kept_before);
    assert_eq!(
        kept, stay,
        "every event before the horizon went, and only those"
    );
    assert_eq!(app.store.drop_expired(now()).await.expect("again"), 0);
    for (p, want) in paths.iter().zip(&before) {
        let (s, got) = app.get(p).await;
        assert_eq!(s, StatusCode::OK, "{p}: {got}");
        assert_eq!(&got, want, "{p} changed when its events were dropped");
    }
    let check = app.store.check_ledger().await.expect("checks");
    assert!(check.consistent(), "{check:?}");

    // What needs the raw events says so, naming the horizon.
    let old =
        json!({"events": [credit("late", "2026-09-15T10:00:00Z", "enrich_email", 1, "u_mikaela")]});
    let (s, b) = app.post(&format!("{WS}/usage-events"), old).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.to_string().contains("2026-10-01T00:00:00Z"), "{b}");
    let fresh =
        json!({"events": [credit("late", "2026-10-02T10:00:00Z", "enrich_email", 1, "u_mikaela")]});
    let (s, b) = app.post(&format!("{WS}/usage-events"), fresh).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let csv = |q: &str| {
        let path = format!("{WS}/credit-usage.csv?{q}");
        async move { app.call_text(Method::GET, &path, None, Some(TOKEN)).await }
    };
    let (s, body) = csv("period=custom&from=2026-09-30&to=2026-10-05").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("2026-10-01T00:00:00Z"), "{body}");
    // 1 October in Madrid starts at 30 September 22:00 UTC: before it too.
    let (s, _) = csv("period=custom&from=2026-10-01&to=2026-10-05").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, body) = csv("period=custom&from=2026-10-02&to=2026-10-05").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = csv("period=custom&from=2026-08-01&to=2026-10-05&group_by=user").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // The dashboard's export says so in words.
    let cookie = app.session_cookie("acme", "u_mikaela").await;
    let (s, _, body) = app
        .request(
            Method::GET,
            "/usage/credits.csv?period=custom&from=2026-09-01&to=2026-10-05",
            &[("cookie", &cookie)],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("2026-10-01 00:00 UTC"), "{body}");

    // A new zone moves what is kept and names the days it could not move.
    let mut moved = workspace_body(10_000);
    moved["timezone"] = json!("America/New_York");
    let (s, headers, body) = app
        .request(
            Method::PUT,
            "/api/v1/workspaces/acme",
            &[
                ("authorization", &format!("Bearer {TOKEN}")),
                ("content-type", "application/json"),
            ],
            Some(moved.to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let warning = headers
        .get("warning")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(warning.contains("2026-10-01"), "{warning:?}");
    app.store.rebucket("acme").await.expect("moves");
    let check = app.store.check_ledger().await.expect("checks");
    assert!(check.consistent(), "{check:?}");

    if app.url.starts_with("postgres") {
        // PostgreSQL dropped August and September whole.
        let months: Vec<String> = app
            .store
            .partitions()
            .await
            .expect("months")
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert!(
            !months.iter().any(|m| m.ends_with("202203")),
            "an old month made a table: {months:?}"
        );
        assert!(
            months.iter().any(|m| m == "usage_events_older"),
            "{months:?}"
        );
        assert!(
            !months
                .iter()
                .any(|m| m.ends_with("202608") || m.ends_with("202609")),
            "{months:?}"
        );
        assert!(months.iter().any(|m| m.ends_with("202610")), "{months:?}");
    }
}

on_both_engines!(
    retention_keeps_every_report_exact,
    retention_keeps_every_report_exact_when_keyed,
    retention_keeps_every_report_exact_when_packed
);

/// The per-event export's pages of workspace `acme` from 1 August to 23
/// November, `limit` events a page, with an optional user filter: every
/// field of every event, in order.
async fn export_pages(app: &TestApp, limit: i64, user: Option<&str>) -> Vec<String> {
    let ws = app
        .store
        .workspace("acme")
        .await
        .expect("reads")
        .expect("acme");
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a day");
    let range = app::domain::calendar::DateRange {
        from: day("2026-08-01"),
        to: day("2026-11-24"),
    };
    let query = app::model::UsageQuery {
        period: Period::Custom {
            from: range.from,
            to: day("2026-11-23"),
        },
        group_by: Vec::new(),
        filters: app::model::Filters {
            user_id: user.map(str::to_string),
            ..Default::default()
        },
    };
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = app
            .store
            .credit_events_page(&ws, range, &query, after.clone(), limit)
            .await
            .expect("a page");
        assert!(page.len() as i64 <= limit);
        let Some(last) = page.last() else {
            break;
        };
        after = Some((last.occurred_at.timestamp_millis(), last.id.clone()));
        rows.extend(page.iter().map(|e| format!("{e:?}")));
        if (page.len() as i64) < limit {
            break;
        }
    }
    rows
}

/// Packed months (PostgreSQL, `store::packs`): the events of the months
/// before the current one are packed, and every report shape, the CSV
/// export (more than one page of it), the summary and the ledger check
/// answer as the rows did; a retry of a packed event is still a duplicate
/// and other content a `409`; a late event of a packed month is a row
/// until the next pass; a new zone unpacks and moves them, and a pass
/// after it packs them again. On SQLite nothing is packed and the same
/// holds.
async fn packed_months_answer_as_their_rows_did(app: &TestApp) {
    app.seed_basic().await;
    let events = mixed_events(35, 2_400);
    let path = format!("{WS}/usage-events");
    for batch in events.chunks(800) {
        let (s, b) = app.post(&path, json!({ "events": batch })).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let november = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").expect("an instant");
    let past = events
        .iter()
        .filter(|e| {
            DateTime::parse_from_rfc3339(e["occurred_at"].as_str().unwrap_or_default())
                .is_ok_and(|t| t < november)
        })
        .count() as u64;
    let csv = |q: String| async move {
        let (s, body) = app
            .call_text(
                Method::GET,
                &format!("{WS}/credit-usage.csv?{q}"),
                None,
                Some(TOKEN),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{q}: {body}");
        body
    };
    let exports = [
        "period=custom&from=2026-08-01&to=2026-11-23",
        "period=custom&from=2026-09-28&to=2026-10-03",
        "period=custom&from=2026-08-01&to=2026-11-23&user_id=u_samara",
        "period=custom&from=2026-10-31&to=2026-11-01&action=enrich_email",
    ];
    let paths = report_paths();
    let before = answers(app, &paths).await;
    let mut csv_before = Vec::new();
    for q in exports {
        csv_before.push(csv(q.to_string()).await);
    }
    let walks = [(37, None), (500, Some("u_samara")), (2_000, None)];
    let mut pages_before = Vec::new();
    for (limit, user) in walks {
        pages_before.push(export_pages(app, limit, user).await);
    }
    assert!(pages_before[0].len() > 1_500, "{}", pages_before[0].len());
    let count = app.store.count_events("acme").await.expect("counts");

    let packed = app.store.pack_past_months(now()).await.expect("packs");
    let postgres = app.url.starts_with("postgres");
    assert_eq!(packed, if postgres { past } else { 0 });
    assert_eq!(
        app.store.packed_events("acme").await.expect("packed"),
        packed as i64
    );
    assert_eq!(app.store.pack_past_months(now()).await.expect("again"), 0);
    assert_eq!(app.store.count_events("acme").await.expect("counts"), count);
    for (p, want) in paths.iter().zip(&before) {
        let (s, got) = app.get(p).await;
        assert_eq!(s, StatusCode::OK, "{p}: {got}");
        assert_eq!(&got, want, "{p} changed when its events were packed");
    }
    for (q, want) in exports.iter().zip(&csv_before) {
        assert_eq!(&csv(q.to_string()).await, want, "{q}");
    }
    for ((limit, user), want) in walks.into_iter().zip(&pages_before) {
        assert!(
            &export_pages(app, limit, user).await == want,
            "the export's pages of {limit} ({user:?}) changed when its events were packed"
        );
    }
    let check = app.store.check_ledger().await.expect("checks");
    assert!(check.consistent(), "{check:?}");

    // A retry of packed events is a duplicate; other content a conflict.
    let (s, b) = app.post(&path, json!({ "events": &events[..50] })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b, json!({"inserted": 0, "duplicates": 50}));
    let packed_one = events
        .iter()
        .find(|e| e["type"] == "credits" && e["occurred_at"].as_str() < Some("2026-10"))
        .expect("a credit event of a past month");
    let mut changed = packed_one.clone();
    changed["credits"] = json!(changed["credits"].as_i64().unwrap_or(1) + 1);
    let (s, b) = app.post(&path, json!({ "events": [changed] })).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");

    // A late event of a packed month: a row, then a pack of its own.
    let late = credit(
        "late-oct",
        "2026-10-15T12:00:00Z",
        "enrich_phone",
        9,
        "u_samara",
    );
    let (s, b) = app.post(&path, json!({ "events": [&late] })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        app.store
            .pack_past_months(now())
            .await
            .expect("the late one"),
        u64::from(postgres)
    );
    let (s, b) = app
        .get(&format!(
            "{WS}/credit-usage?period=custom&from=2026-10-15&to=2026-10-15&user_id=u_samara&action=enrich_phone"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let late_csv = csv("period=custom&from=2026-10-15&to=2026-10-15".into()).await;
    assert!(late_csv.contains("late-oct"), "{late_csv}");
    let check = app.store.check_ledger().await.expect("checks");
    assert!(check.consistent(), "{check:?}");

    // A new zone (west of UTC, where a local day starts after its UTC
    // date's): the packs become rows and move; a pass packs them again,
    // and the export's pages stay as they were.
    let mut moved = workspace_body(10_000);
    moved["timezone"] = json!("America/Los_Angeles");
    let (s, body) = app.put("/api/v1/workspaces/acme", moved).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    app.store.rebucket("acme").await.expect("moves");
    assert_eq!(app.store.packed_events("acme").await.expect("packed"), 0);
    assert_eq!(
        app.store.count_events("acme").await.expect("counts"),
        count + 1
    );
    let check = app.store.check_ledger().await.expect("checks");
    assert!(check.consistent(), "{check:?}");
    let (s, after_move) = app.get(&format!("{WS}/summary")).await;
    assert_eq!(s, StatusCode::OK, "{after_move}");
    // Every credit event of the walks' range in Los Angeles (1 August
    // 00:00 PDT to 24 November 00:00 PST), the late one included.
    let (first, end) = ("2026-08-01T07:00:00Z", "2026-11-24T08:00:00Z");
    let in_range = |user: Option<&str>| {
        events
            .iter()
            .chain(std::iter::once(&late))
            .filter(|e| e["type"] == "credits")
            .filter(|e| user.is_none_or(|u| e["user_id"] == u))
            .filter(|e| {
                let at =
                    DateTime::parse_from_rfc3339(e["occurred_at"].as_str().unwrap_or_default())
                        .expect("an instant");
                at >= DateTime::parse_from_rfc3339(first).expect("an instant")
                    && at < DateTime::parse_from_rfc3339(end).expect("an instant")
            })
            .count()
    };
    let mut pages_moved = Vec::new();
    for (limit, user) in walks {
        let pages = export_pages(app, limit, user).await;
        assert_eq!(pages.len(), in_range(user), "{limit} a page ({user:?})");
        pages_moved.push(pages);
    }
    let repacked = app.store.pack_past_months(now()).await.expect("packs");
    assert_eq!(repacked > 0, postgres);
    let (s, again) = app.get(&format!("{WS}/summary")).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again, after_move);
    for ((limit, user), want) in walks.into_iter().zip(&pages_moved) {
        let pages = export_pages(app, limit, user).await;
        assert_eq!(pages.len(), in_range(user), "{limit} a page ({user:?})");
        assert!(
            &pages == want,
            "the export's pages of {limit} ({user:?}) changed when its moved events were packed"
        );
    }
    let check = app.store.check_ledger().await.expect("checks");
    assert!(check.consistent(), "{check:?}");
}

on_both_engines!(packed_months_answer_as_their_rows_did);

/// One id at two instants from two writers at once: PostgreSQL keeps
/// events by month, so their key alone would let both in (each in its
/// month); the ids' table (`event_ids`) keeps them apart. One is stored,
/// the other is a conflict, every time, on both engines.
async fn one_id_at_two_instants_at_once(app: &TestApp) {
    app.seed_basic().await;
    let path = format!("{WS}/usage-events");
    for n in 0..24 {
        let id = format!("twice-{n}");
        let a = json!({"events": [credit(&id, "2026-10-05T10:00:00Z", "enrich_email", 1, "u_mikaela")]});
        let b = json!({"events": [credit(&id, "2026-11-05T10:00:00Z", "enrich_email", 2, "u_mikaela")]});
        let ((sa, ba), (sb, bb)) = tokio::join!(app.post(&path, a), app.post(&path, b));
        let mut got = [sa.as_u16(), sb.as_u16()];
        got.sort_unstable();
        assert_eq!(got, [200, 409], "{id}: {ba} {bb}");
    }
    assert_eq!(app.store.count_events("acme").await.expect("counts"), 24);
    let check = app.store.check_ledger().await.expect("checks");
    assert!(check.consistent(), "{check:?}");
}

on_both_engines!(one_id_at_two_instants_at_once);
