//! Two real `credits serve` processes on one PostgreSQL, no balancer:
//! 1,000 concurrent charges split between them against 500 credits left
//! (exactly 500 succeed), a session opened by one is accepted by the
//! other, and every webhook row (requests and alerts, delivered by both
//! processes' outbox workers) reaches the receiver once; and no hard
//! limit (v1.2) is passed by charges racing over both processes.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::process::{free_port, Proc};
use crate::common::{tokens, webhook};

use serde_json::{json, Value};

const TOKEN: &str = "processes-api-token-0123456789abcdef";
const SECRET: &str = "processes-embed-secret-0123456789abcdef";

async fn start(url: &str, webhook: &str) -> (Proc, String) {
    let port = free_port();
    // Owned by `Proc` at once, which kills and waits for it when dropped.
    let child = Proc(
        Command::new(env!("CARGO_BIN_EXE_credits"))
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                url,
            ])
            .args([
                "--api-token",
                TOKEN,
                "--embed-secret",
                SECRET,
                "--webhook-url",
                webhook,
                // Loopback, but unsigned: allowed explicitly.
                "--allow-insecure-webhook",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server at {base} never became ready");
}

fn jwt(user: &str) -> String {
    tokens::jwt(tokens::claims(user, "acme", 300), SECRET)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_share_one_postgres() {
    let Some(base) = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!("TEST_POSTGRES_URL not set: skipped");
        return;
    };
    let name = format!("credits_procs_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&base).await.expect("postgres");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create");
    let (head, query) = base
        .split_once('?')
        .map_or((base.as_str(), None), |(h, q)| (h, Some(q)));
    let root = &head[..head
        .rfind('/')
        .filter(|i| *i > "postgres://".len())
        .unwrap_or(head.len())];
    let url = format!(
        "{root}/{name}{}",
        query.map(|q| format!("?{q}")).unwrap_or_default()
    );

    // The platform's webhook receiver, slow: leases must cover it.
    let hook = webhook::start(webhook::Hook {
        delay: Duration::from_millis(30),
        ..webhook::Hook::default()
    })
    .await;
    let hook_url = hook.url.clone();
    let (_a, a) = start(&url, &hook_url).await;
    let (_b, b) = start(&url, &hook_url).await;
    let client = reqwest::Client::new();
    let api = |base: &str, path: &str| format!("{base}/api/v1/workspaces/acme{path}");
    let put = |u: String, body: Value| client.put(u).bearer_auth(TOKEN).json(&body).send();
    assert!(put(api(&a, ""), json!({"name": "Acme", "timezone": "Europe/Madrid",
        "plan": {"name": "G", "monthly_credits": 1000, "identities_included": 1, "price": {"amount_cents": 0, "currency": "EUR"}}}))
        .await.expect("put").status().is_success());
    assert!(put(
        api(&b, "/users/u1"),
        json!({"name": "U", "email": "u@x.test", "role": "admin"})
    )
    .await
    .expect("put")
    .status()
    .is_success());
    let pre = json!({"events": [{"id": "pre", "type": "credits", "occurred_at": chrono::Utc::now().to_rfc3339(),
                                 "action": "enrich_email", "credits": 500, "user_id": "u1"}]});
    assert!(client
        .post(api(&a, "/usage-events"))
        .bearer_auth(TOKEN)
        .json(&pre)
        .send()
        .await
        .expect("post")
        .status()
        .is_success());

    // 1,000 charges of 1 credit against 500 left, half on each process.
    let mut tasks = Vec::new();
    for i in 0..1_000 {
        let url = api(if i % 2 == 0 { &a } else { &b }, "/charges");
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"id": format!("ch{i}"), "action": "ai_completion", "credits": 1, "user_id": "u1"});
            // Past the in-flight cap a process answers 503 at once; the
            // platform retries the same id, as here.
            loop {
                let status = client.post(&url).bearer_auth(TOKEN).json(&body).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                if status != 503 {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    for t in tasks {
        *by_status.entry(t.await.unwrap_or(0)).or_default() += 1;
    }
    assert_eq!(by_status.get(&201), Some(&500), "{by_status:?}");
    assert_eq!(by_status.get(&402), Some(&500), "{by_status:?}");
    let summary: Value = client
        .get(api(&b, "/summary"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(summary["credits"]["left"], 0);

    // A session opened by A is accepted by B.
    let page = client
        .get(format!("{a}/embed?token={}&next=/usage/plan", jwt("u1")))
        .send()
        .await
        .expect("embed");
    let html = page.text().await.unwrap_or_default();
    let session = html
        .split(r#"<meta name="credits-session" content=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string();
    assert!(!session.is_empty());
    let overview = client
        .post(format!("{b}/rpc/overview"))
        .header("x-credits-session", &session)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .expect("rpc");
    assert_eq!(overview.status(), 200);
    // Requests to the account manager through both processes.
    for (i, base) in [&a, &b, &a, &b].iter().enumerate() {
        let r = client
            .post(format!("{base}/rpc/support-request"))
            .header("x-credits-session", &session)
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("intent=buy_more&message=request+{i}"))
            .send()
            .await
            .expect("rpc");
        assert_eq!(r.status(), 200);
    }

    // Alerts 80 and 100 fired once each; with the 4 requests, 6 rows, each delivered once.
    let alerts: Value = client
        .get(api(&a, "/alerts"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let percents: Vec<i64> = alerts["alerts"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["percent"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(percents, vec![100, 80]);
    for _ in 0..200 {
        if hook.counts().len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen = hook.counts();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(
        seen.values().all(|n| *n == 1),
        "delivered more than once: {seen:?}"
    );

    // Limits (v1.2) across the two processes: 600 one-credit charges by a
    // user limited to 300, then 400 by two other users in a campaign
    // limited to 200, half on each process: exactly 300 and 200 pass.
    let grant = json!({"id": "g-limits", "kind": "add_on", "credits": 100_000});
    assert!(client
        .post(api(&a, "/credit-grants"))
        .bearer_auth(TOKEN)
        .json(&grant)
        .send()
        .await
        .expect("grant")
        .status()
        .is_success());
    for user in ["u2", "u3", "u4"] {
        assert!(put(
            api(&a, &format!("/users/{user}")),
            json!({"name": user, "email": format!("{user}@x.test"), "role": "member"})
        )
        .await
        .expect("put")
        .status()
        .is_success());
    }
    assert!(put(
        api(&b, "/campaigns/c1"),
        json!({"name": "C", "status": "active"})
    )
    .await
    .expect("put")
    .status()
    .is_success());
    assert!(put(
        api(&a, "/limits/users/u2"),
        json!({"credits": 300, "mode": "hard"})
    )
    .await
    .expect("put")
    .status()
    .is_success());
    assert!(put(
        api(&b, "/limits/campaigns/c1"),
        json!({"credits": 200, "mode": "hard"})
    )
    .await
    .expect("put")
    .status()
    .is_success());
    let race = |n: usize, body: fn(usize) -> Value| {
        let mut tasks = Vec::new();
        for i in 0..n {
            let url = api(if i % 2 == 0 { &a } else { &b }, "/charges");
            let client = client.clone();
            let body = body(i);
            tasks.push(tokio::spawn(async move {
                loop {
                    let status = client
                        .post(&url)
                        .bearer_auth(TOKEN)
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    if status != 503 {
                        return status;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
        tasks
    };
    for (tasks, want) in [
        (
            race(
                600,
                |i| json!({"id": format!("lu{i}"), "action": "ai_completion", "credits": 1, "user_id": "u2"}),
            ),
            300,
        ),
        (
            race(400, |i| {
                json!({"id": format!("lc{i}"), "action": "ai_completion", "credits": 1,
                               "user_id": if i % 3 == 0 { "u3" } else { "u4" }, "campaign_id": "c1"})
            }),
            200,
        ),
    ] {
        let mut by_status: HashMap<u16, usize> = HashMap::new();
        for t in tasks {
            *by_status.entry(t.await.unwrap_or(0)).or_default() += 1;
        }
        assert_eq!(by_status.get(&201), Some(&want), "{by_status:?}");
    }
    let limits: Value = client
        .get(api(&b, "/limits"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(limits["users"][0]["used"], 300, "{limits}");
    assert_eq!(limits["campaigns"][0]["used"], 200, "{limits}");
    let alerts: Value = client
        .get(api(&a, "/alerts?limit=100"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let reached = alerts["alerts"].as_array().map_or(0, |a| {
        a.iter().filter(|x| x["kind"] == "limit_reached").count()
    });
    assert_eq!(reached, 2, "one limit_reached per scope: {alerts}");

    drop(_a);
    drop(_b);
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await;
}

/// Runs `credits migrate` on `url` in two processes started at the same
/// moment; both must succeed (one waits for the other's migrations).
fn paired_migrations(url: &str) {
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_credits"))
            .args(["migrate", "--database-url", url])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts")
    };
    let (a, b) = (run(), run());
    for child in [a, b] {
        let out = child.wait_with_output().expect("exits");
        assert!(
            out.status.success(),
            "migrations failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Two processes starting at once on a fresh database both migrate it:
/// five pairs on fresh SQLite files, and on fresh PostgreSQL databases
/// when configured.
#[test]
fn paired_starts_on_fresh_databases_both_migrate() {
    for round in 0..5 {
        let dir =
            std::env::temp_dir().join(format!("credits-paired-{}-{round}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        paired_migrations(&format!("sqlite://{}/credits.db", dir.display()));
        let _ = std::fs::remove_dir_all(&dir);
    }
    let Some(base) = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!("TEST_POSTGRES_URL not set: PostgreSQL pairs skipped");
        return;
    };
    let root = base
        .rsplit_once('/')
        .map_or(base.as_str(), |(r, _)| r)
        .to_string();
    for round in 0..3 {
        let name = format!("credits_paired_{}_{round}", std::process::id());
        let psql = |sql: String| {
            Command::new("psql")
                .args([base.as_str(), "-qc", &sql])
                .status()
                .is_ok_and(|s| s.success())
        };
        assert!(psql(format!("CREATE DATABASE {name}")), "create {name}");
        paired_migrations(&format!("{root}/{name}"));
        psql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}
