//! What the API's resource files share: their imports, the body and
//! query readers, the workspace lookup and the paging of lists.

pub(super) use axum::body::Bytes;
pub(super) use axum::extract::{FromRequest, Path, Query, Request, State};
pub(super) use axum::http::StatusCode;
pub(super) use axum::Json;
pub(super) use chrono::{DateTime, Duration, NaiveDate, Utc};
pub(super) use serde::{Deserialize, Serialize};
pub(super) use serde_json::{Map, Value};
pub(super) use utoipa::ToSchema;

pub(super) use app::domain::calendar::{parse_timezone, WeekStart};
pub(super) use app::domain::ledger::Action;
pub(super) use app::model::{AccountManager, Metric, Plan, UsageQuery};
pub(super) use app::query::{is_valid_id, parse_usage_query, API_FILTERS};

pub(super) use super::error::{ApiError, ApiResult, ErrorBody, FieldError};
pub(super) use super::schema;
pub(super) use super::validate::{AtLeast, Checker, Field, MaxChars};
pub(super) use crate::canonical::canonical;
pub(super) use crate::state::AppState;
pub(super) use crate::store::{
    ChargeOutcome, Charged, Delivery, GrantInput, Granted, Member, Names, NewEvent, Role,
    Workspace, WorkspaceInput,
};

/// A billing cycle: `end` is exclusive (the renewal date). Grants and
/// alerts name the cycle they belong to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CycleDates {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// Largest request body.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Most events in one batch.
pub const MAX_BATCH: usize = 10_000;
/// How far in the future an event may be stamped (clock skew).
pub(super) const FUTURE_TOLERANCE_MINUTES: i64 = 5;

/// The raw body, within the size limit; parsed only after the path's
/// objects were found (API.md's order of checks: 401, 404, then body).
pub(super) struct RawBody(Bytes);

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
    pub(super) fn json(&self) -> ApiResult<Value> {
        serde_json::from_slice(&self.0)
            .map_err(|e| ApiError::invalid("$", format!("malformed JSON: {e}")))
    }
}

pub(super) async fn workspace_or_404(state: &AppState, id: &str) -> ApiResult<Workspace> {
    if !is_valid_id(id) {
        return Err(ApiError::NotFound);
    }
    state.store.workspace(id).await?.ok_or(ApiError::NotFound)
}

pub(super) fn checked<T>(c: Checker, value: Option<T>) -> ApiResult<T> {
    c.finish().map_err(ApiError::Validation)?;
    value.ok_or_else(|| ApiError::Internal("validation passed without a value".into()))
}

pub(super) fn status_of(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Query parameters as pairs; a malformed query string is a `422`.
pub(super) type Params =
    Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// The query string, or a `422` (axum reads it strictly: a malformed
/// query string is refused, where the dashboard's address forgives it).
pub(super) fn params_of(q: Params) -> ApiResult<app::query::Query> {
    let params: app::query::Query = q
        .map(|Query(p)| p.into())
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
pub(super) fn page_of<T>(
    mut rows: Vec<(T, Delivery)>,
    limit: i64,
    id: impl Fn(&T) -> &str,
) -> (Vec<(T, Delivery)>, Option<String>) {
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
pub(super) fn paging(q: Params) -> ApiResult<(i64, Option<(i64, String)>)> {
    let params = params_of(q)?;
    let get = |k: &str| params.get(k);
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
