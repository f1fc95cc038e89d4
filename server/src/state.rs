//! What every request handler shares: the store, the clock and the settings.

use std::sync::Arc;

use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use leptos::config::LeptosOptions;

use crate::store::Store;

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
    /// The reverse proxies whose `X-Forwarded-Proto` is believed.
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// Embedding origins and the chat URL.
    pub contact: app::model::ContactLinks,
    /// Whether a webhook is configured (else deliveries are `none`).
    pub webhook: bool,
    /// The chart library's address under `/pkg` (content-hashed by the build).
    pub echarts_src: Arc<str>,
}

impl AppState {
    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Whether this request reached us over HTTPS: always with `--https`;
    /// else where a trusted proxy (`--trusted-proxies`, the connection's
    /// peer) says so in `X-Forwarded-Proto`. Anyone else's header is
    /// ignored, as is any on a request that came through no socket.
    pub fn is_https(
        &self,
        headers: &axum::http::HeaderMap,
        extensions: &axum::http::Extensions,
    ) -> bool {
        if self.https {
            return true;
        }
        let peer = extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        peer.is_some_and(|ip| self.trusted_proxies.contains(&ip))
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos.clone()
    }
}
