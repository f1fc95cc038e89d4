//! Hostile input through the real router: generated requests (malformed
//! JSON, huge numbers, deep nesting, odd Unicode, bad zones and dates,
//! wrong content types, hostile query strings for the API, the pages and
//! the server functions). Every answer: no panic, no 500, the contract's
//! error shape on every API refusal, and nothing written by a refused
//! request. `CREDITS_FUZZ_CASES` sets the number of cases (default 1,500
//! per engine; the dedicated run uses 100,000).

use crate::common::{TestApp, TOKEN};
use axum::http::{Method, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

fn cases() -> u32 {
    std::env::var("CREDITS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_500)
}

/// Text that a hostile client would send: empty, huge, control characters,
/// odd Unicode, SQL and HTML fragments, numbers as text.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\u{0}".to_string()),
        Just("'; DROP TABLE usage_events; --".to_string()),
        Just("</script><script>alert(1)</script>".to_string()),
        Just("\u{202e}\u{2028}\u{feff}ℌ𝔢𝔩𝔩𝔬🙂".to_string()),
        Just("9".repeat(40)),
        Just("Europe/Nowhere".to_string()),
        Just("2026-02-30".to_string()),
        Just("2026-11-03T25:61:00Z".to_string()),
        Just("x".repeat(5_000)),
        "[a-z_]{1,12}",
        "\\PC{0,40}",
        any::<String>(),
    ]
}

/// A JSON value, sometimes deep, sometimes with huge or odd numbers.
fn hostile_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        Just(json!(1e308)),
        Just(json!(-0.0)),
        Just(json!(u64::MAX)),
        hostile_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_string()),
                    Just("name".to_string()),
                    Just("timezone".to_string()),
                    Just("plan".to_string()),
                    Just("events".to_string()),
                    Just("credits".to_string()),
                    Just("action".to_string()),
                    Just("user_id".to_string()),
                    Just("occurred_at".to_string()),
                    Just("alerts".to_string()),
                    Just("thresholds".to_string()),
                    "[a-z_]{1,10}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: JSON that is almost right, JSON of any shape, or not JSON.
fn hostile_body() -> impl Strategy<Value = String> {
    prop_oneof![
        hostile_json().prop_map(|v| v.to_string()),
        // Almost right: a real shape with one field replaced.
        (hostile_json(), prop_oneof![Just("credits"), Just("occurred_at"), Just("action"), Just("user_id"), Just("id")])
            .prop_map(|(v, field)| {
                let mut e = json!({"id": "f1", "type": "credits", "occurred_at": "2026-11-20T10:00:00Z",
                                   "action": "enrich_email", "credits": 3, "user_id": "u_mikaela"});
                e[field] = v;
                json!({"events": [e]}).to_string()
            }),
        hostile_json().prop_map(|v| json!({"name": "Acme", "timezone": "Europe/Madrid",
            "plan": {"name": "Growth", "monthly_credits": 10000, "identities_included": 5,
                     "price": {"amount_cents": 29900, "currency": "EUR"}}, "alerts": v}).to_string()),
        Just("{".repeat(10_000)),
        Just("[".repeat(3_000) + &"]".repeat(3_000)),
        Just("{\"events\": [".to_string()),
        hostile_text(),
    ]
}

fn hostile_query() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec((hostile_text(), hostile_text()), 0..6).prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
                .collect::<Vec<_>>()
                .join("&")
        }),
        Just("period=custom&from=2026-01-01&to=2030-01-01".to_string()),
        Just("period=day&date=0000-00-00".to_string()),
        Just("group_by=day,day".to_string()),
        Just("group_by=day,action,user".to_string()),
        Just("limit=-1&cursor=9999999999999999999999_x".to_string()),
        Just("a=1&".repeat(2_000)),
        Just("period=".to_string() + &"x".repeat(10_000)),
        Just("%ZZ%%".to_string()),
    ]
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One hostile request.
#[derive(Debug, Clone)]
struct Attack {
    method: Method,
    path: String,
    body: Option<String>,
    content_type: &'static str,
}

fn attack() -> impl Strategy<Value = Attack> {
    let api_paths = prop_oneof![
        Just(("PUT", "/api/v1/workspaces/acme")),
        Just(("PUT", "/api/v1/workspaces/acme/users/u_new")),
        Just(("PUT", "/api/v1/workspaces/acme/identities/i_new")),
        Just(("PUT", "/api/v1/workspaces/acme/campaigns/c_new")),
        Just(("POST", "/api/v1/workspaces/acme/credit-grants")),
        Just(("POST", "/api/v1/workspaces/acme/usage-events")),
        Just(("POST", "/api/v1/workspaces/acme/charges")),
        Just(("GET", "/api/v1/workspaces/acme/summary")),
        Just(("GET", "/api/v1/workspaces/acme/credit-usage")),
        Just(("GET", "/api/v1/workspaces/acme/conversations")),
        Just(("GET", "/api/v1/workspaces/acme/credit-usage.csv")),
        Just(("GET", "/api/v1/workspaces/acme/support-requests")),
        Just(("GET", "/api/v1/workspaces/acme/alerts")),
        Just(("GET", "/usage/credits")),
        Just(("GET", "/usage/conversations")),
        Just(("GET", "/usage/credits.csv")),
        Just(("POST", "/rpc/credits-view")),
        Just(("POST", "/rpc/conversations-view")),
        Just(("POST", "/rpc/alert-settings")),
        Just(("GET", "/embed")),
    ];
    (
        api_paths,
        hostile_query(),
        hostile_body(),
        prop_oneof![
            Just("application/json"),
            Just("text/plain"),
            Just("application/x-www-form-urlencoded"),
            Just(""),
        ],
    )
        .prop_map(|((m, p), q, body, ct)| {
            let method = Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET);
            let (body, ct) = if p.starts_with("/rpc/") && body.len() % 3 == 0 {
                // A body a server function cannot read at all.
                (body, ct)
            } else if p.starts_with("/rpc/") {
                // Server functions take form bodies: hostile values inside.
                (
                    format!("query={}&t50={}", urlencode(&q), urlencode(&body)),
                    "application/x-www-form-urlencoded",
                )
            } else {
                (body, ct)
            };
            let path = if q.is_empty() {
                p.to_string()
            } else {
                format!("{p}?{q}")
            };
            Attack {
                body: (method != Method::GET).then_some(body),
                method,
                path,
                content_type: ct,
            }
        })
}

/// A cheap fingerprint of everything a request could write.
async fn written(app: &TestApp) -> Vec<i64> {
    let pool = app.store.pool();
    let mut out = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM usage_events",
        "SELECT COUNT(*) FROM charges",
        "SELECT COUNT(*) FROM credit_grants",
        "SELECT COUNT(*) FROM users",
        "SELECT COUNT(*) FROM identities",
        "SELECT COUNT(*) FROM campaigns",
        "SELECT COUNT(*) FROM alerts",
        "SELECT COUNT(*) FROM support_requests",
        "SELECT CAST(COALESCE(SUM(used + add_on + rollover + plan_credits), 0) AS BIGINT) FROM cycles",
        "SELECT CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) FROM workspaces",
    ] {
        out.push(sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap_or(-1));
    }
    out
}

async fn hostile_requests_are_refused_cleanly(app: &TestApp) {
    app.seed_basic().await;
    let cookie = app.session_cookie("acme", "u_mikaela").await;
    let auth = format!("Bearer {TOKEN}");
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let result = tokio::task::block_in_place(|| {
        runner.run(&attack(), |a| {
            handle.block_on(async {
                let before = written(app).await;
                let mut headers: Vec<(&str, &str)> = vec![
                    ("authorization", auth.as_str()),
                    ("cookie", cookie.as_str()),
                ];
                if !a.content_type.is_empty() {
                    headers.push(("content-type", a.content_type));
                }
                let (status, h, body) = app
                    .request(a.method.clone(), &a.path, &headers, a.body.clone())
                    .await;
                if status.is_server_error() {
                    return Err(TestCaseError::fail(format!(
                        "{status} for {a:?}: {}",
                        body.chars().take(300).collect::<String>()
                    )));
                }
                let api = a.path.starts_with("/api/");
                if api && status.is_client_error() {
                    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    if !v["error"]["code"].is_string() || !v["error"]["message"].is_string() {
                        return Err(TestCaseError::fail(format!(
                            "no error shape for {a:?}: {body}"
                        )));
                    }
                }
                if !status.is_success() && written(app).await != before {
                    return Err(TestCaseError::fail(format!(
                        "a refused request ({status}) wrote: {a:?}"
                    )));
                }
                let _ = h;
                Ok(())
            })
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("fuzz: {} hostile requests, no 500, no stray write", cases());
}

on_both_engines!(hostile_requests_are_refused_cleanly);

#[test]
fn status_is_not_a_500() {
    assert!(!StatusCode::UNPROCESSABLE_ENTITY.is_server_error());
}
