//! A test app over the real router and a real database: SQLite in a fresh
//! file, or PostgreSQL (`TEST_POSTGRES_URL`) in a fresh database that the
//! test drops at the end.

#![allow(dead_code)]

pub mod contract;
pub mod process;
pub mod tokens;
pub mod webhook;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Utc};
use credits_server::store::Store;
use credits_server::{app, AppState, Clock};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const TOKEN: &str = "test-token";
pub const EMBED_SECRET: &str = "test-embed-secret";

/// POSTs `body` as JSON with the token through `router` (a clone, so
/// that concurrent tasks can each own one); returns status and JSON
/// (`null` when the body is not JSON).
pub async fn post_on(router: Router, path: &str, body: &Value) -> (StatusCode, Value) {
    let req = Request::post(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request builds");
    let (status, _, text) = send(router, req).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sends `req` through `router`; returns status, headers and body text,
/// after checking the answer against the served OpenAPI document.
async fn send(router: Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    fetch_document(&router).await;
    let (method, path) = (req.method().clone(), req.uri().to_string());
    let res = router.oneshot(req).await.expect("router answers");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res
        .into_body()
        .collect()
        .await
        .expect("body reads")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    contract::check(&method, &path, status, &headers, &text);
    (status, headers, text)
}

/// Fetches the served OpenAPI document once, for [`contract::check`].
async fn fetch_document(router: &Router) {
    if contract::document().is_some() {
        return;
    }
    let req = Request::get("/api/v1/openapi.json")
        .body(Body::empty())
        .expect("request builds");
    let res = router.clone().oneshot(req).await.expect("router answers");
    assert_eq!(res.status(), StatusCode::OK, "the document is served");
    let bytes = res
        .into_body()
        .collect()
        .await
        .expect("body reads")
        .to_bytes();
    contract::remember(serde_json::from_slice(&bytes).expect("the document is JSON"));
}

/// "Now" of the tests: Tuesday 24 Nov 2026, 10:00 UTC (11:00 in Madrid).
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

pub struct TestApp {
    pub router: Router,
    pub store: Store,
    /// The database URL, for a second server on the same database.
    pub url: String,
    db: EmptyDb,
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        Utc::now().timestamp_nanos_opt().unwrap_or_default() % 1_000_000_000
    )
}

impl TestApp {
    fn with_store(store: Store, now: DateTime<Utc>) -> Router {
        app(Self::state(store, now))
    }

    /// The state the test router is built from.
    pub fn state(store: Store, now: DateTime<Utc>) -> AppState {
        let leptos = leptos::config::LeptosOptions::builder()
            .output_name("credits")
            .site_root("target/site")
            .build();
        AppState {
            store,
            clock: Clock::Fixed(now),
            api_token: Arc::from(TOKEN),
            leptos,
            hydrate: false,
            demo: false,
            embed_secret: Some(Arc::from(EMBED_SECRET)),
            https: false,
            trusted_proxies: Vec::new().into(),
            webhook: true,
            echarts_src: Arc::from("/pkg/echarts.min.js"),
            contact: app::model::ContactLinks {
                platform_origins: vec![
                    "http://platform.test".into(),
                    "https://app.example.com".into(),
                ],
                chat_url: None,
            },
        }
    }

    /// A fresh SQLite database in a temporary folder.
    pub async fn sqlite_at(now: DateTime<Utc>) -> TestApp {
        Self::migrated(EmptyDb::sqlite(), now).await
    }

    /// The app on `db`, once every migration has run on it.
    async fn migrated(db: EmptyDb, now: DateTime<Utc>) -> TestApp {
        let store = Store::connect(&db.url).await.expect("the database opens");
        store.migrate().await.expect("the database migrates");
        TestApp {
            router: Self::with_store(store.clone(), now),
            store,
            url: db.url.clone(),
            db,
        }
    }

    /// A fresh PostgreSQL database at the tests' now, or `None` (saying
    /// that the PostgreSQL run is skipped) where `TEST_POSTGRES_URL` is not set.
    pub async fn postgres_or_skip() -> Option<TestApp> {
        let app = Self::postgres_at(now()).await;
        if app.is_none() {
            eprintln!("TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        }
        app
    }

    /// A fresh PostgreSQL database, when `TEST_POSTGRES_URL` is set.
    async fn postgres_at(now: DateTime<Utc>) -> Option<TestApp> {
        Some(Self::migrated(EmptyDb::postgres().await?, now).await)
    }

    /// Another server on the same database: its own pool, as a second process would have.
    pub async fn second_server(&self) -> (Router, Store) {
        let store = Store::connect(&self.url).await.expect("second pool opens");
        (Self::with_store(store.clone(), now()), store)
    }

    /// Drops the test's database.
    pub async fn cleanup(self) {
        self.store.close().await;
        self.db.cleanup().await;
    }

    /// Sends a request with the token; returns status and JSON (or text as a JSON string).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_raw(method, path, body.map(|b| b.to_string()), Some(TOKEN))
            .await
    }

    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let (status, text) = self.call_text(method, path, body, token).await;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn call_text(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        token: Option<&str>,
    ) -> (StatusCode, String) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let (status, _, text) = self.request(method, path, &headers, body).await;
        (status, text)
    }

    /// A signed-in session of `user` in `ws`: the Cookie header to send.
    pub async fn session_cookie(&self, ws: &str, user: &str) -> String {
        let session = credits_server::store::Session {
            workspace_id: ws.into(),
            user_id: user.into(),
            embedded: false,
            theme: None,
            locale: None,
        };
        let token = credits_server::signin::open_session_for(
            &self.store,
            &session,
            chrono::Duration::hours(1),
        )
        .await
        .expect("session");
        format!("credits_session={token}")
    }

    /// A request with arbitrary headers; returns status, headers and body text.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut req = Request::builder().method(method.clone()).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        // The dashboard's pages call the server functions from their own
        // origin, and the browser says so: tests do as the page does,
        // unless they set the headers themselves.
        let named = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        if method == Method::POST
            && path.starts_with("/rpc/")
            && !named("origin")
            && !named("sec-fetch-site")
        {
            req = req.header("sec-fetch-site", "same-origin");
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .expect("request builds");
        send(self.router.clone(), req).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Workspace `acme` (Madrid, 10,000 credits), two users, two identities, two campaigns.
    pub async fn seed_basic(&self) {
        let (s, _) = self
            .put("/api/v1/workspaces/acme", workspace_body(10_000))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        for (id, name) in [
            ("u_mikaela", "Mikaela Ortiz"),
            ("u_samara", "Samara Haddad"),
        ] {
            let (s, b) = self
                .put(
                    &format!("/api/v1/workspaces/acme/users/{id}"),
                    json!({"name": name, "email": format!("{id}@acme.test"), "role": "member"}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }
        for (id, user, channel) in [
            ("i_mikaela_li", "u_mikaela", "linkedin"),
            ("i_samara_mail", "u_samara", "email"),
        ] {
            let (s, b) = self
                .put(
                    &format!("/api/v1/workspaces/acme/identities/{id}"),
                    json!({"name": id, "channel": channel, "user_id": user}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }
        for (id, status) in [("c_q4", "active"), ("c_old", "archived")] {
            let (s, b) = self
                .put(
                    &format!("/api/v1/workspaces/acme/campaigns/{id}"),
                    json!({"name": id, "status": status}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }
    }
}

/// An empty database no migration has touched (under every `TestApp`, and
/// alone for tests of migrations): a SQLite file in a temporary folder, or
/// a fresh PostgreSQL database.
pub struct EmptyDb {
    pub url: String,
    pg: Option<(String, String)>,
    dir: Option<std::path::PathBuf>,
}

impl EmptyDb {
    pub fn sqlite() -> EmptyDb {
        let dir = std::env::temp_dir().join(format!("credits-test-{}", unique()));
        std::fs::create_dir_all(&dir).expect("temporary folder");
        // An empty file is an empty database: any pool may open it.
        let file = dir.join("credits.db");
        std::fs::File::create(&file).expect("the database file");
        EmptyDb {
            url: format!("sqlite://{}", file.display()),
            pg: None,
            dir: Some(dir),
        }
    }

    /// `None` where `TEST_POSTGRES_URL` is not set.
    pub async fn postgres() -> Option<EmptyDb> {
        let base = std::env::var("TEST_POSTGRES_URL")
            .ok()
            .filter(|s| !s.is_empty())?;
        let name = format!("credits_test_{}", unique());
        let admin = sqlx::PgPool::connect(&base)
            .await
            .expect("postgres reachable");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        Some(EmptyDb {
            url: with_database(&base, &name),
            pg: Some((base, name)),
            dir: None,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.dir.is_some()
    }

    pub async fn cleanup(self) {
        if let Some((base, name)) = self.pg {
            if let Ok(admin) = sqlx::PgPool::connect(&base).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await;
                admin.close().await;
            }
        }
        if let Some(dir) = self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// `postgres://host/db?x` with the database replaced.
fn with_database(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

pub fn workspace_body(monthly: i64) -> Value {
    json!({"name": "Acme", "timezone": "Europe/Madrid", "week_start": "monday",
           "plan": {"name": "Growth", "monthly_credits": monthly, "identities_included": 5,
                    "price": {"amount_cents": 29900, "currency": "EUR"}},
           "account_manager": {"name": "Laura Vidal", "email": "laura@example.com"}})
}

/// Runs an `async fn(&TestApp)` on SQLite and, when configured, PostgreSQL.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::common::TestApp::sqlite_at($crate::common::now()).await;
                    super::$name(&app).await;
                    app.cleanup().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(app) = $crate::common::TestApp::postgres_or_skip().await else {
                        return;
                    };
                    super::$name(&app).await;
                    app.cleanup().await;
                }
            }
        )*
    };
}
