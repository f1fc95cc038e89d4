//! Server functions: every call the page makes to the server, here and
//! nowhere else. Thin: they take the workspace from the request's context
//! (never from the client), read what the client sent, call the server
//! through [`ssr::DashboardBackend`], and for the chart tabs render the
//! answer to HTML (`ui/server/`).

use leptos::prelude::*;

pub use crate::error::DashboardError;
use crate::model::{Overview, SupportRequest};

#[cfg(feature = "ssr")]
pub mod ssr {
    //! What the server provides to server functions.
    use std::sync::Arc;

    use crate::error::DashboardError;
    use crate::model::{Intent, Overview, SupportRequest};
    use crate::query::Query;
    use crate::ui::server::conversations::ConversationsView;
    use crate::ui::server::credits::CreditsView;

    /// The dashboard's read queries, implemented by the server's store.
    #[async_trait::async_trait]
    pub trait DashboardBackend: Send + Sync + 'static {
        /// Header and Plan tab figures of a workspace, as `user_id` sees them.
        async fn overview(
            &self,
            workspace_id: &str,
            user_id: Option<&str>,
        ) -> Result<Overview, DashboardError>;
        /// Changes the alert settings; refused unless `user_id` is an admin
        /// of the workspace.
        async fn set_alert_settings(
            &self,
            workspace_id: &str,
            user_id: Option<&str>,
            settings: crate::domain::alerts::AlertSettings,
        ) -> Result<(), DashboardError>;
        /// Makes a change of limits as `user_id`: a request for more for
        /// themselves, or (admins only, checked here) any other change.
        async fn change_limits(
            &self,
            workspace_id: &str,
            user_id: Option<&str>,
            change: crate::domain::limits::LimitChange,
        ) -> Result<(), DashboardError>;
        /// The audit log's entries older than `after` (admins only).
        async fn audit_page(
            &self,
            workspace_id: &str,
            user_id: Option<&str>,
            after: &str,
        ) -> Result<String, DashboardError>;
        /// The Credits tab for a query; bad parameters are dropped with a note.
        async fn credits_view(
            &self,
            workspace_id: &str,
            query: &Query,
        ) -> Result<CreditsView, DashboardError>;
        /// The Conversations tab for a query; bad parameters are dropped with a note.
        async fn conversations_view(
            &self,
            workspace_id: &str,
            query: &Query,
        ) -> Result<ConversationsView, DashboardError>;
        /// Exchanges a fresh hand-off token from the platform for a new session token.
        /// Ends `previous` (the page's current session) once the new one is open.
        async fn refresh_session(
            &self,
            token: &str,
            previous: Option<&str>,
        ) -> Result<String, DashboardError>;
        /// Stores a request to the account manager (and queues its delivery).
        async fn send_request(
            &self,
            workspace_id: &str,
            user_id: Option<&str>,
            intent: Intent,
            message: &str,
        ) -> Result<SupportRequest, DashboardError>;
    }

    /// The store, as the server functions see it.
    #[derive(Clone)]
    pub struct Source(pub Arc<dyn DashboardBackend>);

    /// The workspace of the current request.
    #[derive(Clone, Debug)]
    pub struct CurrentWorkspace(pub String);

    /// The signed-in user of the current request.
    #[derive(Clone, Debug)]
    pub struct CurrentUser(pub String);

    /// What the page needs to know of its session.
    #[derive(Clone, Debug, Default)]
    pub struct PageSession {
        /// Opened inside the platform's iframe.
        pub embedded: bool,
        /// `light` or `dark`, from the hand-off.
        pub theme: Option<String>,
        /// The session token, carried by embedded pages (third-party cookies may be blocked).
        pub token: Option<String>,
        /// The path the address bar must show after an `/embed?token=…` entry.
        pub bootstrap_path: Option<String>,
        /// The viewer's locale from the hand-off.
        pub locale: Option<String>,
    }

    /// The viewer's locale: the hand-off's, else the first of Accept-Language.
    pub fn viewer_locale() -> Option<String> {
        if let Some(l) = leptos::prelude::use_context::<PageSession>().and_then(|s| s.locale) {
            return Some(l);
        }
        let parts = leptos::prelude::use_context::<http::request::Parts>()?;
        let header = parts
            .headers
            .get(http::header::ACCEPT_LANGUAGE)?
            .to_str()
            .ok()?;
        let first = header.split(',').next()?.split(';').next()?.trim();
        (!first.is_empty() && first != "*" && first.len() <= 35).then(|| first.to_string())
    }

    /// The alert level whose banner the viewer dismissed this session
    /// (the `credits_banner_dismissed` cookie), 0 when none.
    pub fn dismissed_banner() -> u8 {
        let Some(parts) = leptos::prelude::use_context::<http::request::Parts>() else {
            return 0;
        };
        parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix("credits_banner_dismissed="))
            .find_map(|v| v.parse::<u8>().ok())
            .unwrap_or(0)
    }

    /// Answers `e` with its HTTP status (a refused call is a 4xx, a
    /// missing workspace a 404, not the 500 server functions answer by
    /// default).
    pub fn fail(e: DashboardError) -> DashboardError {
        if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(e.status()) {
                res.set_status(status);
            }
        }
        e
    }

    /// Refuses the call with `status` and the sentence the person reads.
    pub fn refuse(status: http::StatusCode, message: impl Into<String>) -> DashboardError {
        fail(DashboardError::refused(status.as_u16(), message))
    }

    /// A page's query string (`a=1&b=2`). One past 4 KB or 64 parameters
    /// is refused before it is read, so that no request can make parsing
    /// expensive.
    pub fn bounded_query(query: &str) -> Result<Query, DashboardError> {
        use crate::query::{MAX_PARAMS, MAX_QUERY_BYTES};
        let too_big = || {
            refuse(
                http::StatusCode::UNPROCESSABLE_ENTITY,
                "This address carries too many filters. Open the tab again from its link.",
            )
        };
        if query.len() > MAX_QUERY_BYTES || query.split('&').count() > MAX_PARAMS {
            return Err(too_big());
        }
        Ok(Query::parse(query))
    }

    /// A chart tab's body for the page's `query`, as HTML under the page's
    /// base: `view` reads the tab's view for the request's workspace,
    /// `render` writes it.
    pub async fn tab_body<V, Fut>(
        query: &str,
        embedded: Option<bool>,
        view: impl FnOnce(Source, String, Query) -> Fut,
        render: fn(V, Query, crate::ui::nav::Base) -> String,
    ) -> Result<String, DashboardError>
    where
        Fut: std::future::Future<Output = Result<V, DashboardError>>,
    {
        let (source, ws) = context()?;
        let query = bounded_query(query)?;
        let v = view(source, ws, query.clone()).await.map_err(fail)?;
        Ok(render(
            v,
            query,
            crate::ui::nav::Base::of(embedded == Some(true)),
        ))
    }

    /// The source and workspace of this request.
    pub fn context() -> Result<(Source, String), DashboardError> {
        let source = leptos::prelude::use_context::<Source>()
            .ok_or_else(|| fail(DashboardError::Unavailable))?;
        let ws = leptos::prelude::use_context::<CurrentWorkspace>()
            .ok_or_else(|| fail(DashboardError::SessionEnded))?;
        Ok((source, ws.0))
    }
}

/// The Credits tab's body, as HTML, for the page's query string; its
/// links lead under `/embed` when `embedded` (the page's [`Base`]).
///
/// [`Base`]: crate::ui::nav::Base
#[server(prefix = "/rpc", endpoint = "credits-view", client = crate::session_client::SessionClient)]
pub async fn get_credits_view(
    query: String,
    embedded: Option<bool>,
) -> Result<String, DashboardError> {
    use crate::query::Query;
    let view =
        |s: ssr::Source, ws: String, q: Query| async move { s.0.credits_view(&ws, &q).await };
    ssr::tab_body(
        &query,
        embedded,
        view,
        crate::ui::server::credits::body_html,
    )
    .await
}

/// The Conversations tab's body, as HTML (see [`get_credits_view`]).
#[server(prefix = "/rpc", endpoint = "conversations-view", client = crate::session_client::SessionClient)]
pub async fn get_conversations_view(
    query: String,
    embedded: Option<bool>,
) -> Result<String, DashboardError> {
    use crate::query::Query;
    let view =
        |s: ssr::Source, ws: String, q: Query| async move { s.0.conversations_view(&ws, &q).await };
    ssr::tab_body(
        &query,
        embedded,
        view,
        crate::ui::server::conversations::body_html,
    )
    .await
}

/// The header's and Plan tab's figures.
#[server(prefix = "/rpc", endpoint = "overview", client = crate::session_client::SessionClient)]
pub async fn get_overview() -> Result<Overview, DashboardError> {
    let (source, ws) = ssr::context()?;
    let user = leptos::prelude::use_context::<ssr::CurrentUser>().map(|u| u.0);
    let mut overview = source
        .0
        .overview(&ws, user.as_deref())
        .await
        .map_err(ssr::fail)?;
    overview.locale = ssr::viewer_locale();
    overview.alerts.dismissed = ssr::dismissed_banner();
    Ok(overview)
}

/// Changes the workspace's alert settings (admins only; the server checks
/// the signed-in user's role whatever the client sends). Each checked box
/// (`t50`, `t80`, `t90`, `t100`) and `custom` (a number, or empty) is a
/// threshold; `runout` checked turns the run-out forecast on.
#[server(prefix = "/rpc", endpoint = "alert-settings", client = crate::session_client::SessionClient)]
pub async fn save_alert_settings(
    t50: Option<String>,
    t80: Option<String>,
    t90: Option<String>,
    t100: Option<String>,
    custom: Option<String>,
    runout: Option<String>,
) -> Result<(), DashboardError> {
    use crate::domain::alerts::AlertSettings;
    let (source, ws) = ssr::context()?;
    let mut thresholds: Vec<i64> = [(t50, 50), (t80, 80), (t90, 90), (t100, 100)]
        .into_iter()
        .filter_map(|(v, t)| v.is_some().then_some(t))
        .collect();
    let custom = custom.unwrap_or_default();
    let custom = custom.trim().trim_end_matches('%').trim();
    if !custom.is_empty() {
        match custom.parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => {
                if !thresholds.contains(&n) {
                    thresholds.push(n);
                }
            }
            _ => {
                return Err(ssr::refuse(
                    http::StatusCode::UNPROCESSABLE_ENTITY,
                    "Type a whole percentage from 1 to 100.",
                ))
            }
        }
    }
    let settings = AlertSettings::new(&thresholds, runout.is_some()).map_err(|e| {
        ssr::refuse(
            http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("Choose {e}."),
        )
    })?;
    let user = leptos::prelude::use_context::<ssr::CurrentUser>().map(|u| u.0);
    source
        .0
        .set_alert_settings(&ws, user.as_deref(), settings)
        .await
        .map_err(ssr::fail)
}

/// A change of limits from the dashboard, as a form posts it (`op`:
/// `request`, `set`, `remove`, `approve`, `deny` or `settings`). The server
/// checks the signed-in user's role whatever the client sends: only a
/// request for more is open to members, and only for themselves.
#[server(prefix = "/rpc", endpoint = "limits", client = crate::session_client::SessionClient)]
pub async fn change_limits(
    op: String,
    scope: Option<String>,
    id: Option<String>,
    credits: Option<String>,
    mode: Option<String>,
    note: Option<String>,
    overage: Option<String>,
) -> Result<(), DashboardError> {
    let (source, ws) = ssr::context()?;
    let change = crate::domain::limits::read_change(
        &op,
        scope.as_deref(),
        id.as_deref(),
        credits.as_deref(),
        mode.as_deref(),
        note.as_deref(),
        overage.as_deref(),
    )
    .map_err(|e| ssr::refuse(http::StatusCode::UNPROCESSABLE_ENTITY, e))?;
    let user = leptos::prelude::use_context::<ssr::CurrentUser>().map(|u| u.0);
    source
        .0
        .change_limits(&ws, user.as_deref(), change)
        .await
        .map_err(ssr::fail)
}

/// The audit log's entries older than the entry `after` (admins only), as
/// HTML to put after those shown.
#[server(prefix = "/rpc", endpoint = "audit-log", client = crate::session_client::SessionClient)]
pub async fn get_audit_page(after: String) -> Result<String, DashboardError> {
    let (source, ws) = ssr::context()?;
    let user = leptos::prelude::use_context::<ssr::CurrentUser>().map(|u| u.0);
    source
        .0
        .audit_page(&ws, user.as_deref(), &after)
        .await
        .map_err(ssr::fail)
}

/// Sends a request to the account manager: `intent` is `change_plan` or
/// `buy_more`. Works as a plain form post too (without JavaScript).
#[server(prefix = "/rpc", endpoint = "support-request", client = crate::session_client::SessionClient)]
pub async fn send_support_request(
    intent: String,
    message: String,
) -> Result<SupportRequest, DashboardError> {
    use crate::model::{Intent, MAX_REQUEST_MESSAGE};
    let (source, ws) = ssr::context()?;
    let unprocessable = http::StatusCode::UNPROCESSABLE_ENTITY;
    let intent = Intent::parse(&intent)
        .ok_or_else(|| ssr::refuse(unprocessable, "Choose Change Plan or Buy More."))?;
    let message = message.trim();
    if message.is_empty() {
        return Err(ssr::refuse(
            unprocessable,
            "Write a few words for your account manager.",
        ));
    }
    if message.chars().count() > MAX_REQUEST_MESSAGE {
        return Err(ssr::refuse(
            unprocessable,
            format!("Keep the message under {MAX_REQUEST_MESSAGE} characters."),
        ));
    }
    let user = leptos::prelude::use_context::<ssr::CurrentUser>().map(|u| u.0);
    source
        .0
        .send_request(&ws, user.as_deref(), intent, message)
        .await
        .map_err(ssr::fail)
}

/// Exchanges a fresh hand-off token (`credits:token` from the platform) for a
/// new session; returns the session token the page sends from then on.
#[server(prefix = "/rpc", endpoint = "refresh-session", client = crate::session_client::SessionClient)]
pub async fn refresh_session(token: String) -> Result<String, DashboardError> {
    let source = leptos::prelude::use_context::<ssr::Source>()
        .ok_or_else(|| ssr::fail(DashboardError::Unavailable))?;
    // The session the page had until now: revoked once the new one is open.
    let previous = leptos::prelude::use_context::<http::request::Parts>().and_then(|p| {
        p.headers
            .get(crate::session_client::SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    source
        .0
        .refresh_session(&token, previous.as_deref())
        .await
        .map_err(ssr::fail)
}
