#![recursion_limit = "512"]
//! The `credits` server: configuration, the axum app (pages, server
//! functions, the platform API), the store and the demo data.

pub mod api;
pub mod auth;
pub mod bench;
pub mod config;
pub mod demo;
pub mod outbox;
pub mod pages;
pub mod security;
pub mod signin;
pub mod store;
pub mod views;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::Router;
use chrono::{DateTime, Utc};
use leptos::config::LeptosOptions;

use store::Store;

/// "Now": the real clock, or a pinned instant (`CREDITS_NOW`, tests only).
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }
}

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Clock,
    pub api_token: Arc<str>,
    pub leptos: LeptosOptions,
    /// Whether the WASM bundle was built (else pages render server-side only).
    pub hydrate: bool,
    /// `--demo`: the demo sign-in page is open.
    pub demo: bool,
    /// Key of the platform's hand-off tokens (HS256).
    pub embed_secret: Option<Arc<str>>,
    /// Served over HTTPS (Secure cookies, HSTS).
    pub https: bool,
    /// Embedding origins and the chat URL.
    pub contact: app::model::ContactLinks,
    /// Whether a webhook is configured (else deliveries are `none`).
    pub webhook: bool,
}

impl AppState {
    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos.clone()
    }
}

/// The whole HTTP app.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", api::router(state.clone()))
        .merge(pages::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::headers))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_response(
                    |res: &axum::http::Response<_>, latency: std::time::Duration, _span: &tracing::Span| {
                        tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "response");
                    },
                ),
        )
        .with_state(state)
}
