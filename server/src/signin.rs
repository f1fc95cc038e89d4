//! Ways in: the platform's signed hand-off (standalone and embedded), the
//! demo sign-in (`--demo` only), and the session every page and server
//! function requires.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use axum::body::Body;
use axum::extract::{Form, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;

use crate::auth::{session_token, session_token_for, verify_handoff, TokenError};
use crate::state::AppState;
use crate::store::{Session, Store, StoreError};
use crate::stylesheet;

/// How long a session lasts.
pub const SESSION_HOURS: i64 = 8;
/// The demo workspace's sign-in page lists its users.
const DEMO_WORKSPACE: &str = crate::demo::DEMO_WORKSPACE;

/// The raw session token of a request (for embedded pages to carry).
#[derive(Debug, Clone)]
pub struct SessionToken(pub String);

/// Set on the first render of an embedded page: the path the browser's
/// address must show once the page is up (it was requested as `/embed?…`).
#[derive(Debug, Clone)]
pub struct Bootstrap(pub String);

/// Why a sign-in failed: always `401`, never data.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("the user or workspace is unknown")]
    Unknown,
    #[error("the token was used already")]
    Replayed,
    #[error("the database is unavailable")]
    Store(#[from] StoreError),
}

/// Checks a hand-off token and that its user belongs to its workspace.
pub async fn session_from_handoff(
    store: &Store,
    secret: Option<&str>,
    token: &str,
    embedded: bool,
) -> Result<Session, SignInError> {
    let claims = verify_handoff(secret, token, Utc::now())?;
    // A user of the workspace, not removed.
    if !store.user_active(&claims.ws, &claims.sub).await? {
        return Err(SignInError::Unknown);
    }
    // One use per token, on every process: the first use records its id
    // until the token expires; any later use is refused.
    let expires = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now)
        + chrono::Duration::seconds(60);
    if !store
        .claim_handoff(&claims.jti, expires, Utc::now())
        .await?
    {
        return Err(SignInError::Replayed);
    }
    let theme = claims.theme.filter(|t| t == "light" || t == "dark");
    let locale = claims
        .locale
        .filter(|l| l.len() <= 35 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    Ok(Session {
        workspace_id: claims.ws,
        user_id: claims.sub,
        embedded,
        theme,
        locale,
    })
}

/// Opens a session; returns its token (the store keeps only its hash).
pub async fn open_session(store: &Store, session: &Session) -> Result<String, StoreError> {
    open_session_for(store, session, chrono::Duration::hours(SESSION_HOURS)).await
}

/// Opens a session that lasts `ttl`; returns its token.
pub async fn open_session_for(
    store: &Store,
    session: &Session,
    ttl: chrono::Duration,
) -> Result<String, StoreError> {
    let token = crate::auth::new_session_token();
    store
        .create_session(&crate::auth::token_hash(&token), session, ttl, Utc::now())
        .await?;
    Ok(token)
}

/// Where a sign-in may send the browser: a dashboard path, nothing else.
pub fn safe_next(next: Option<&str>) -> String {
    app::security::safe_next(next)
}

/// The session's cookie (`Max-Age=0` ends it): over HTTPS under a
/// `__Host-` name (see [`crate::auth::cookie_names`]).
fn session_cookie(token: &str, max_age: i64, embedded: bool, https: bool) -> HeaderValue {
    let (standalone, embed) = crate::auth::cookie_names(https);
    let value = match (embedded, https) {
        // A partitioned (CHIPS) cookie where the browser allows one; the page
        // also carries the token for browsers that block it.
        (true, true) => format!("{embed}={token}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=None; Partitioned"),
        (true, false) => format!("{embed}={token}; Path=/embed/; Max-Age={max_age}; HttpOnly; Secure; SameSite=None; Partitioned"),
        (false, true) => format!("{standalone}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax; Secure"),
        (false, false) => format!("{standalone}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"),
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

fn cookie(token: &str, embedded: bool, https: bool) -> HeaderValue {
    session_cookie(token, SESSION_HOURS * 3600, embedded, https)
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn nonce() -> String {
    crate::auth::new_session_token()
}

/// The page of a refused or expired sign-in. Inside the platform's frame it
/// tells the parent (`credits:session-expired`) and takes a fresh token
/// (`credits:token`) to come back to the same view.
pub fn expired_page(state: &AppState, embedded: bool, path: &str, status: StatusCode) -> Response {
    let nonce = nonce();
    // JSON inside a script: escaped so that no value can end the script.
    let origins = app::security::script_json(&state.contact.platform_origins);
    let next = app::security::script_json(path.strip_prefix("/embed").unwrap_or(path));
    let script = if embedded {
        format!(
            r#"<script nonce="{nonce}">(function () {{
  var origins = {origins}, next = {next};
  if (window.parent === window) return;
  origins.forEach(function (o) {{ window.parent.postMessage({{ type: "credits:session-expired" }}, o); }});
  window.addEventListener("message", function (e) {{
    if (origins.indexOf(e.origin) < 0 || !e.data || e.data.type !== "credits:token" || typeof e.data.token !== "string") return;
    location.replace("/embed?token=" + encodeURIComponent(e.data.token) + "&next=" + encodeURIComponent(next));
  }});
}})();</script>"#
        )
    } else {
        String::new()
    };
    let demo = if state.demo && !embedded {
        format!(
            r#"<p><a href="/demo?next={}">Sign in to the demo</a></p>"#,
            escape(&app::query::encode(path))
        )
    } else {
        String::new()
    };
    let body = signin_document(
        "Session expired",
        &format!(
            r#"<section class="card signin" data-testid="session-expired">
<h1>Your session expired — reopen it from the platform</h1>
<p class="muted">For your security, the usage dashboard opens only from a link the platform signs, and only for a while.</p>{demo}
</section>"#
        ),
        &script,
    );
    let mut res = (status, Html(body)).into_response();
    let csp = format!(
        "default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; {}",
        crate::security::frame_ancestors(&state.contact.platform_origins, embedded)
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// A sign-in page's document: the pages' head (the hashed stylesheet),
/// `section` in the main column, then `after` (a script, or nothing).
pub(crate) fn signin_document(title: &str, section: &str, after: &str) -> String {
    let css = stylesheet::HREF.as_str();
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><link rel="icon" href="data:,"><link rel="stylesheet" href="{css}">
<title>{title} — Credits</title></head><body><main class="app">{section}</main>{after}</body></html>"#
    )
}

/// The origin this request was sent to, as a browser would name it.
fn own_origin(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let https = state.is_https(headers, extensions);
    Some(format!("{}://{host}", if https { "https" } else { "http" }))
}

/// Whether a state-changing request comes from our own pages (or the
/// platform's): its `Origin` is ours or an embedding origin; without one,
/// `Sec-Fetch-Site` says same-origin. With neither it is not a browser's:
/// refused where `strict` (the server functions, which only the pages call),
/// let through elsewhere (the sign-in forms, which scripts may post).
fn same_origin(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
    strict: bool,
) -> bool {
    match headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("null"))
    {
        Some(origin) => {
            own_origin(state, headers, extensions).as_deref() == Some(origin)
                || state.contact.platform_origins.iter().any(|o| o == origin)
        }
        None => match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            None => !strict,
            Some(v) => v == "same-origin" || (!strict && v == "none"),
        },
    }
}

/// Refuses cross-site POSTs to the server functions and the sign-in forms
/// (CSRF): SameSite cookies alone do not cover the embedded session.
pub async fn same_origin_posts(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let rpc = path.starts_with("/rpc/");
    let guarded = rpc || path == "/demo" || path == "/auth/logout" || path == "/auth/handoff";
    if req.method() == axum::http::Method::POST
        && guarded
        && !same_origin(&state, req.headers(), req.extensions(), rpc)
    {
        tracing::warn!(path, "cross-site POST refused");
        return (StatusCode::FORBIDDEN, "Cross-site requests are refused.").into_response();
    }
    let res = next.run(req).await;
    if rpc && res.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return client_fault_as_400(res).await;
    }
    res
}

/// Leptos answers a server function's unreadable arguments (a malformed or
/// oversized body, a missing field) with a 500, before the function runs;
/// they are the client's fault. The body is the dashboard's error, which
/// names its own status (400; 413 for the size): the response takes it.
async fn client_fault_as_400(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    };
    if let Ok(e) = serde_json::from_slice::<app::error::DashboardError>(&bytes) {
        parts.status =
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// `POST /auth/logout`: ends the session (in the database, for every
/// process) and expires the cookie; then the sign-in page.
pub async fn logout(State(state): State<AppState>, req: Request) -> Response {
    let https = state.is_https(req.headers(), req.extensions());
    if let Some(token) = session_token(req.headers(), https) {
        if let Err(e) = state.store.end_session(&token).await {
            tracing::error!(cause = %e, "session could not be ended");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "The dashboard is unavailable; try again shortly.",
            )
                .into_response();
        }
    }
    let mut res = Redirect::to("/usage/plan").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, session_cookie("", 0, false, https));
    res
}

/// Whether a query string names a workspace (`workspace=` or `ws=`) other than the session's.
fn names_other_workspace(query: Option<&str>, ws: &str) -> bool {
    let Some(q) = query else { return false };
    app::query::Query::parse(q)
        .pairs()
        .iter()
        .any(|(k, v)| (k == "workspace" || k == "ws" || k == "workspace_id") && v != ws)
}

/// Pages and server functions that need a session.
fn needs_session(path: &str) -> bool {
    path == "/usage"
        || path.starts_with("/usage/")
        || path == "/embed/usage"
        || path.starts_with("/embed/usage/")
        || (path.starts_with("/rpc/") && path != "/rpc/refresh-session")
}

/// Resolves the session of every request; refuses pages and server
/// functions without one.
pub async fn session_layer(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let https = state.is_https(req.headers(), req.extensions());
    let token = session_token_for(req.headers(), &path, https);
    let session = match &token {
        Some(t) => match state.store.session(t, Utc::now()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(cause = %e, "session lookup failed");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The dashboard is unavailable; try again shortly.",
                )
                    .into_response();
            }
        },
        None => None,
    };
    match (session, token) {
        (Some(s), Some(t)) => {
            // The workspace comes from the session only; naming another one is a 404.
            if names_other_workspace(req.uri().query(), &s.workspace_id) {
                return StatusCode::NOT_FOUND.into_response();
            }
            req.extensions_mut().insert(s);
            req.extensions_mut().insert(SessionToken(t));
            next.run(req).await
        }
        _ if !needs_session(&path) => next.run(req).await,
        _ if path.starts_with("/rpc/") => (
            StatusCode::UNAUTHORIZED,
            "session expired: reopen the dashboard from the platform",
        )
            .into_response(),
        _ => {
            let embedded = path.starts_with("/embed");
            let full = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or(path.clone());
            if state.demo && !embedded {
                return Redirect::to(&format!("/demo?next={}", app::query::encode(&full)))
                    .into_response();
            }
            expired_page(&state, embedded, &full, StatusCode::UNAUTHORIZED)
        }
    }
}

/// `GET /embed?token=…&next=/usage/…`: opens an embedded session and renders
/// the dashboard at `/embed/usage/…` in the same response.
pub async fn embed_entry<R>(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
    render: R,
) -> Response
where
    R: Fn(Request<Body>) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>>,
{
    let https = state.is_https(req.headers(), req.extensions());
    let token = q.get("token").map(String::as_str).unwrap_or("");
    let next = safe_next(q.get("next").map(String::as_str));
    let session = match session_from_handoff(
        &state.store,
        state.embed_secret.as_deref(),
        token,
        true,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(reason = %e, "embed sign-in refused");
            return expired_page(&state, true, &next, StatusCode::UNAUTHORIZED);
        }
    };
    let session_token = match open_session(&state.store, &session).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(cause = %e, "session could not be opened");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "The dashboard is unavailable; try again shortly.",
            )
                .into_response();
        }
    };
    let path = format!("/embed{next}");
    let (mut parts, body) = req.into_parts();
    match path.parse() {
        Ok(uri) => parts.uri = uri,
        Err(_) => return expired_page(&state, true, "/usage/plan", StatusCode::UNAUTHORIZED),
    }
    parts.extensions.insert(session);
    parts.extensions.insert(SessionToken(session_token.clone()));
    parts.extensions.insert(Bootstrap(path));
    let mut res = render(Request::from_parts(parts, body)).await;
    res.headers_mut()
        .append(header::SET_COOKIE, cookie(&session_token, true, https));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub(crate) async fn signed_in(
    state: &AppState,
    session: &Session,
    next: &str,
    https: bool,
) -> Response {
    match open_session(&state.store, session).await {
        Ok(token) => {
            let mut res = Redirect::to(next).into_response();
            res.headers_mut()
                .append(header::SET_COOKIE, cookie(&token, false, https));
            res
        }
        Err(e) => {
            tracing::error!(cause = %e, "session could not be opened");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The dashboard is unavailable; try again shortly.",
            )
                .into_response()
        }
    }
}

/// `GET /demo` (only with `--demo`): pick a demo user.
pub async fn demo_page(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !state.demo {
        return StatusCode::NOT_FOUND.into_response();
    }
    let next = safe_next(q.get("next").map(String::as_str));
    if !matches!(state.store.is_demo(DEMO_WORKSPACE).await, Ok(true)) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let names = match state.store.names(DEMO_WORKSPACE).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(cause = %e, "demo users unavailable");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let mut users: Vec<(String, String)> = names.users.into_iter().collect();
    users.sort_by(|a, b| a.1.cmp(&b.1));
    let buttons: String = users
        .iter()
        .map(|(id, name)| {
            format!(
                r#"<form method="post" action="/demo"><input type="hidden" name="user_id" value="{}"><input type="hidden" name="next" value="{}"><button type="submit" data-user="{}">{}</button></form>"#,
                escape(id),
                escape(&next),
                escape(id),
                escape(name)
            )
        })
        .collect();
    Html(signin_document(
        "Demo sign-in",
        &format!(
            r#"<section class="card signin">
<h1>Sign in to the demo</h1><p class="muted">Acme Outbound is a demo workspace. Pick who you are:</p>
<div class="buttons">{buttons}</div></section>"#
        ),
        "",
    ))
    .into_response()
}

/// `POST /demo` (only with `--demo`): sign in as a demo user.
pub async fn demo_sign_in(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !state.demo {
        return StatusCode::NOT_FOUND.into_response();
    }
    let user = form.get("user_id").cloned().unwrap_or_default();
    let next = safe_next(form.get("next").map(String::as_str));
    // Only a workspace seeded as the demo: never a real one named like it.
    match state.store.is_demo(DEMO_WORKSPACE).await {
        Ok(true) => {}
        Ok(false) => return expired_page(&state, false, &next, StatusCode::UNAUTHORIZED),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    let known = match state.store.names(DEMO_WORKSPACE).await {
        Ok(k) => k,
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    if !known.has_user(&user) {
        return expired_page(&state, false, &next, StatusCode::UNAUTHORIZED);
    }
    let session = Session {
        workspace_id: DEMO_WORKSPACE.into(),
        user_id: user,
        embedded: false,
        theme: None,
        locale: None,
    };
    let https = state.is_https(&headers, &extensions);
    signed_in(&state, &session, &next, https).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_dashboard() {
        assert_eq!(
            safe_next(Some("/usage/credits?period=last_week")),
            "/usage/credits?period=last_week"
        );
        assert_eq!(safe_next(Some("https://evil.test/usage")), "/usage/plan");
        assert_eq!(safe_next(Some("//evil.test/usage")), "/usage/plan");
        assert_eq!(safe_next(Some("/usage//evil")), "/usage/plan");
        assert_eq!(safe_next(Some("/api/v1/workspaces")), "/usage/plan");
        assert_eq!(safe_next(None), "/usage/plan");
    }
}
