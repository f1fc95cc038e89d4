//! The standalone hand-off: `GET /auth/handoff?token=…&next=…` opens a
//! session from the platform's signed token and goes to `next`. When the
//! browser is already signed in as someone else (another user, or another
//! workspace), it asks first instead of replacing that session: the
//! question names both, and only its button (`POST /auth/handoff`, same
//! origin) uses the token; the token is not spent by asking.

use std::collections::HashMap;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use chrono::Utc;

use crate::auth::{session_token, verify_handoff};
use crate::signin::{
    escape, expired_page, safe_next, session_from_handoff, signed_in, signin_document,
};
use crate::state::AppState;
use crate::store::{Session, Store};

/// `GET /auth/handoff?token=…&next=/usage/…`: opens a standalone session
/// (an HttpOnly, SameSite=Lax cookie) and goes to `next`, or asks first
/// when it would replace another person's session.
pub async fn handoff(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let token = q.get("token").map(String::as_str).unwrap_or("");
    let next = safe_next(q.get("next").map(String::as_str));
    let https = state.is_https(req.headers(), req.extensions());
    if let Some(current) = current_session(&state, req.headers(), https).await {
        if let Ok(claims) = verify_handoff(state.embed_secret.as_deref(), token, Utc::now()) {
            if (claims.ws.as_str(), claims.sub.as_str())
                != (current.workspace_id.as_str(), current.user_id.as_str())
            {
                return ask(&state, &current, (&claims.ws, &claims.sub), token, &next).await;
            }
        }
    }
    open(&state, token, &next, https).await
}

/// `POST /auth/handoff` (the question's button; same origin only): opens
/// the token's session in place of the current one.
pub async fn confirmed(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let token = form.get("token").map(String::as_str).unwrap_or("");
    let next = safe_next(form.get("next").map(String::as_str));
    let https = state.is_https(&headers, &extensions);
    let session =
        match session_from_handoff(&state.store, state.embed_secret.as_deref(), token, false).await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(reason = %e, "hand-off refused");
                return expired_page(&state, false, &next, StatusCode::UNAUTHORIZED);
            }
        };
    // The token was good: the session it replaces ends everywhere (a
    // refused token leaves it as it was).
    if let Some(old) = session_token(&headers, https) {
        if let Err(e) = state.store.end_session(&old).await {
            tracing::error!(cause = %e, "the replaced session could not be ended");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    signed_in(&state, &session, &next, https).await
}

async fn open(state: &AppState, token: &str, next: &str, https: bool) -> Response {
    match session_from_handoff(&state.store, state.embed_secret.as_deref(), token, false).await {
        Ok(session) => signed_in(state, &session, next, https).await,
        Err(e) => {
            tracing::info!(reason = %e, "hand-off refused");
            expired_page(state, false, next, StatusCode::UNAUTHORIZED)
        }
    }
}

/// The standalone session the request carries, if it is live.
async fn current_session(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    https: bool,
) -> Option<Session> {
    let token = session_token(headers, https)?;
    state
        .store
        .session(&token, Utc::now())
        .await
        .ok()
        .flatten()
        .filter(|s| !s.embedded)
}

/// "Name (Workspace)" of a user, or their ids when unknown.
async fn who(store: &Store, ws: &str, user: &str) -> String {
    let person = store
        .known_among(ws, Some(user), None, None)
        .await
        .ok()
        .flatten()
        .and_then(|n| n.users.get(user).cloned())
        .unwrap_or_else(|| user.to_string());
    let workspace = store
        .workspace(ws)
        .await
        .ok()
        .flatten()
        .map_or_else(|| ws.to_string(), |w| w.name);
    format!("{person} ({workspace})")
}

/// The question: stay as the current person, or continue as the token's.
async fn ask(
    state: &AppState,
    current: &Session,
    (ws, user): (&str, &str),
    token: &str,
    next: &str,
) -> Response {
    let now_as = escape(&who(&state.store, &current.workspace_id, &current.user_id).await);
    let new_as = escape(&who(&state.store, ws, user).await);
    let (token, next) = (escape(token), escape(next));
    let body = signin_document(
        "Switch who is signed in?",
        &format!(
            r#"<section class="card signin" data-testid="switch-session">
<h1>Switch who is signed in?</h1>
<p>This browser is signed in as <strong>{now_as}</strong>. The link you followed signs in <strong>{new_as}</strong>.</p>
<form method="post" action="/auth/handoff"><input type="hidden" name="token" value="{token}"><input type="hidden" name="next" value="{next}"><button type="submit">Continue as {new_as}</button></form>
<p><a href="{next}">Stay signed in as {now_as}</a></p>
</section>"#
        ),
        "",
    );
    let mut res = (StatusCode::OK, Html(body)).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    res
}
