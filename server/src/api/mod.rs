//! The platform API of API.md: `/api/v1`, one file per resource.
//!
//! Each handler's `#[utoipa::path]` names its route and its typed answers;
//! [`router`] registers the handlers with `utoipa-axum`, so the routes and
//! the served OpenAPI document come from one list.

mod alerts;
mod common;
mod csv;
pub mod error;
mod limits;
mod reports;
pub mod schema;
mod support;
mod usage;
pub mod validate;
mod workspaces;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use subtle::ConstantTimeEq;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use common::{MAX_BATCH, MAX_BODY_BYTES};
pub use limits::read_decision;
pub use usage::grant_body;

use crate::state::AppState;
use error::ApiError;

/// The `/api/v1` routes, each registered once with its documentation.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            workspaces::put_workspace,
            workspaces::get_workspace
        ))
        .routes(routes!(workspaces::put_user, workspaces::delete_user))
        .routes(routes!(workspaces::delete_user_sessions))
        .routes(routes!(workspaces::put_identity))
        .routes(routes!(workspaces::put_campaign))
        .routes(routes!(usage::post_grant))
        .routes(routes!(usage::post_events))
        .routes(routes!(usage::post_charge))
        .routes(routes!(reports::get_summary))
        .routes(routes!(reports::get_credit_usage))
        .routes(routes!(csv::get_credit_usage_csv))
        .routes(routes!(reports::get_conversations))
        .routes(routes!(support::get_support_requests))
        .routes(routes!(alerts::get_alerts))
        .routes(routes!(limits::get_limits))
        .routes(routes!(limits::put_user_limit, limits::delete_user_limit))
        .routes(routes!(
            limits::put_campaign_limit,
            limits::delete_campaign_limit
        ))
        .routes(routes!(
            limits::post_limit_request,
            limits::get_limit_requests
        ))
        .routes(routes!(limits::post_decision))
        .routes(routes!(limits::get_audit_log))
}

/// The document of `routes` under `/api/v1`, with what every route may answer.
fn document_of(paths: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut doc = schema::ApiDoc::openapi().nest("/api/v1", paths);
    utoipa::Modify::modify(&schema::EveryRoute, &mut doc);
    doc
}

/// The `/api/v1` router, token-checked, and its document at `/openapi.json`.
pub fn router(state: AppState) -> Router<AppState> {
    let (protected, paths) = routes().split_for_parts();
    let doc = document_of(paths);
    let doc = Bytes::from(doc.to_json().unwrap_or_else(|_| "{}".into()));
    let protected = protected
        .fallback(|| async { ApiError::NotFound })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state, require_token));
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { ([(CONTENT_TYPE, "application/json")], doc) }
            }),
        )
        .merge(protected)
}

/// `401` unless the bearer token matches, compared in constant time.
async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        // The scheme is case-insensitive (RFC 9110).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .unwrap_or("");
    // Digests of equal length, compared in constant time: neither the
    // token's content nor its length leaks through timing.
    use sha2::Digest;
    let expected = sha2::Sha256::digest(state.api_token.as_bytes());
    let offered = sha2::Sha256::digest(given.as_bytes());
    let ok = !state.api_token.is_empty() && bool::from(offered.ct_eq(&expected));
    if ok {
        next.run(req).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}
