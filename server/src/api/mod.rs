//! The platform API of API.md: `/api/v1`.

pub mod alerts;
pub mod csv;
pub mod error;
mod reports;
pub mod schema;
mod support;
mod usage;
pub use usage::grant_body;
pub mod validate;
mod workspaces;

pub use reports::*;
pub use support::*;
pub use usage::*;
pub use workspaces::*;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;

use app::domain::calendar::{parse_timezone, WeekStart};
use app::domain::ledger::Action;
use app::model::{AccountManager, Metric, Plan, UsageQuery};
use app::query::{is_valid_id, parse_usage_query, API_FILTERS};

use crate::canonical::canonical;
use crate::store::{
    ChargeOutcome, Charged, GrantInput, Granted, Member, Names, NewEvent, Workspace, WorkspaceInput,
};
use crate::AppState;
use error::{ApiError, ApiResult, FieldError};
use validate::{AtLeast, Checker, Field, MaxChars};

/// Largest request body.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Most events in one batch.
pub const MAX_BATCH: usize = 10_000;
/// How far in the future an event may be stamped (clock skew).
const FUTURE_TOLERANCE_MINUTES: i64 = 5;

/// The `/api/v1` router, token-checked.
pub fn router(state: AppState) -> Router<AppState> {
    let protected = Router::new()
        .route("/workspaces/{workspace_id}", put(put_workspace))
        .route("/workspaces/{workspace_id}/users/{user_id}", put(put_user))
        .route(
            "/workspaces/{workspace_id}/identities/{identity_id}",
            put(put_identity),
        )
        .route(
            "/workspaces/{workspace_id}/campaigns/{campaign_id}",
            put(put_campaign),
        )
        .route("/workspaces/{workspace_id}/credit-grants", post(post_grant))
        .route("/workspaces/{workspace_id}/usage-events", post(post_events))
        .route("/workspaces/{workspace_id}/charges", post(post_charge))
        .route("/workspaces/{workspace_id}/summary", get(get_summary))
        .route(
            "/workspaces/{workspace_id}/credit-usage",
            get(get_credit_usage),
        )
        .route(
            "/workspaces/{workspace_id}/credit-usage.csv",
            get(csv::get_credit_usage_csv),
        )
        .route(
            "/workspaces/{workspace_id}/support-requests",
            get(get_support_requests),
        )
        .route(
            "/workspaces/{workspace_id}/conversations",
            get(get_conversations),
        )
        .route("/workspaces/{workspace_id}/alerts", get(alerts::get_alerts))
        .fallback(|| async { ApiError::NotFound })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state, require_token));
    Router::new()
        .route("/openapi.json", get(schema::openapi_json))
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

/// The raw body, within the size limit; parsed only after the path's
/// objects were found (API.md's order of checks: 401, 404, then body).
pub struct RawBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::PayloadTooLarge),
            Err(e) => Err(ApiError::invalid("$", e.body_text())),
        }
    }
}

impl RawBody {
    fn json(&self) -> ApiResult<Value> {
        serde_json::from_slice(&self.0)
            .map_err(|e| ApiError::invalid("$", format!("malformed JSON: {e}")))
    }
}

async fn workspace_or_404(state: &AppState, id: &str) -> ApiResult<Workspace> {
    if !is_valid_id(id) {
        return Err(ApiError::NotFound);
    }
    state.store.workspace(id).await?.ok_or(ApiError::NotFound)
}

fn checked<T>(c: Checker, value: Option<T>) -> ApiResult<T> {
    c.finish().map_err(ApiError::Validation)?;
    value.ok_or_else(|| ApiError::Internal("validation passed without a value".into()))
}

fn status_of(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Query parameters as pairs; a malformed query string is a `422`.
pub type Params = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// The pairs of a query string, or a `422`.
pub fn params_of(q: Params) -> ApiResult<Vec<(String, String)>> {
    let params = q
        .map(|Query(p)| p)
        .map_err(|e| ApiError::invalid("$query", e.body_text()))?;
    if params.len() > app::query::MAX_PARAMS {
        return Err(ApiError::invalid(
            "$query",
            format!("has more than {} parameters", app::query::MAX_PARAMS),
        ));
    }
    Ok(params)
}

/// A page of a newest-first list read with one row past `limit`: the
/// page, and the cursor of the next one when there is more.
pub(crate) fn page_of<T>(
    mut rows: Vec<(T, crate::store::Delivery)>,
    limit: i64,
    id: impl Fn(&T) -> &str,
) -> (Vec<(T, crate::store::Delivery)>, Option<String>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next = if more {
        rows.last()
            .map(|(item, d)| format!("{}_{}", d.created_ms, id(item)))
    } else {
        None
    };
    (rows, next)
}

/// `limit` (1-100, default 20) and `cursor` (`<created ms>_<id>`, as a
/// previous page's `next_cursor` gave it) of a newest-first list.
pub(crate) fn paging(q: Params) -> ApiResult<(i64, Option<(i64, String)>)> {
    let params = params_of(q)?;
    let get = |k: &str| params.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
    let mut errors = Vec::new();
    let limit = match get("limit").map(str::parse::<i64>) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new("limit", "must be an integer from 1 to 100"));
            20
        }
    };
    let cursor = match get("cursor") {
        None => None,
        Some(c) => match c
            .split_once('_')
            .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_string())))
        {
            Some(c) if is_valid_id(&c.1) => Some(c),
            _ => {
                errors.push(FieldError::new("cursor", "is not a cursor this API gave"));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok((limit, cursor))
}
