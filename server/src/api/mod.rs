//! The platform API of API.md: `/api/v1`.

pub mod alerts;
pub mod csv;
pub mod error;
pub mod schema;
pub mod validate;

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

use crate::store::{
    ChargeOutcome, GrantInput, KnownIds, Member, NewEvent, Workspace, WorkspaceInput,
};
use crate::AppState;
use error::{ApiError, ApiResult, FieldError};
use validate::{canonical, Checker};

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

fn read_workspace(body: &Value) -> ApiResult<WorkspaceInput> {
    let mut c = Checker::default();
    let Some(m) = c.object(body, "") else {
        return checked(c, None);
    };
    let name = c.text(m, "", "name", true, 200);
    let tz = c.text(m, "", "timezone", true, 64).and_then(|t| {
        let tz = parse_timezone(&t);
        if tz.is_none() {
            c.fail(
                "timezone",
                "must be an IANA time zone, such as Europe/Madrid",
            );
        }
        tz
    });
    let week_start = match m.get("week_start") {
        None | Some(Value::Null) => Some(WeekStart::Monday),
        Some(_) => c
            .choice(m, "", "week_start", false, &["monday", "sunday"])
            .and_then(|w| WeekStart::parse(&w)),
    };
    let plan = c.nested(m, "", "plan", true).and_then(|p| {
        let name = c.text(p, "plan", "name", true, 200);
        let monthly = c.integer(p, "plan", "monthly_credits", true, 0);
        let identities = c.integer(p, "plan", "identities_included", true, 0);
        let price = c.price(p, "plan", "price", true);
        Some(Plan {
            name: name?,
            monthly_credits: monthly?,
            identities_included: identities?,
            price: price?,
        })
    });
    let account_manager = match m.get("account_manager") {
        None | Some(Value::Null) => Some(None),
        Some(_) => c.nested(m, "", "account_manager", false).and_then(|am| {
            let name = c.text(am, "account_manager", "name", true, 200);
            let email = c.email(am, "account_manager", "email", true);
            Some(Some(AccountManager {
                name: name?,
                email: email?,
            }))
        }),
    };
    let alerts = c.alerts(m, "", "alerts");
    let input = (|| {
        Some(WorkspaceInput {
            name: name?,
            tz: tz?,
            week_start: week_start?,
            plan: plan?,
            account_manager: account_manager?,
            alerts,
        })
    })();
    checked(c, input)
}

/// `PUT /workspaces/{workspace_id}`: create or update.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}", tag = "workspaces",
    params(("workspace_id" = String, Path, description = "1-64 of [A-Za-z0-9_.:-]")),
    request_body = schema::WorkspaceBody,
    responses((status = 201, description = "Created", body = schema::WorkspaceOut),
              (status = 200, description = "Updated", body = schema::WorkspaceOut),
              (status = 401, body = error::ErrorBody), (status = 413, body = error::ErrorBody),
              (status = 422, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_workspace(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    body: RawBody,
) -> ApiResult<Response> {
    if !is_valid_id(&ws) {
        return Err(ApiError::invalid(
            "workspace_id",
            "must be 1-64 characters of A-Z a-z 0-9 _ . : -",
        ));
    }
    let input = read_workspace(&body.json()?)?;
    let (created, stored) = state.store.put_workspace(&ws, &input, state.now()).await?;
    Ok((status_of(created), Json(stored.to_json())).into_response())
}

fn member_json(id: &str, member: &Member) -> Value {
    match member {
        Member::User { name, email, role } => {
            json!({"id": id, "name": name, "email": email, "role": role})
        }
        Member::Identity {
            name,
            channel,
            user_id,
        } => json!({"id": id, "name": name, "channel": channel, "user_id": user_id}),
        Member::Campaign { name, status } => json!({"id": id, "name": name, "status": status}),
    }
}

async fn put_member(
    state: &AppState,
    ws: &str,
    id: &str,
    id_field: &str,
    body: &RawBody,
    read: impl FnOnce(&mut Checker, &Map<String, Value>, &KnownIds) -> Option<Member>,
) -> ApiResult<Response> {
    workspace_or_404(state, ws).await?;
    if !is_valid_id(id) {
        return Err(ApiError::invalid(
            id_field,
            "must be 1-64 characters of A-Z a-z 0-9 _ . : -",
        ));
    }
    let value = body.json()?;
    let mut c = Checker::default();
    let member = match c.object(&value, "") {
        Some(m) => {
            let known = state.store.known_ids(ws).await?;
            read(&mut c, m, &known)
        }
        None => None,
    };
    let member = checked(c, member)?;
    let created = state.store.put_member(ws, id, &member).await?;
    Ok((status_of(created), Json(member_json(id, &member))).into_response())
}

/// `PUT /workspaces/{ws}/users/{user_id}`.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/users/{user_id}", tag = "workspaces",
    params(("workspace_id" = String, Path), ("user_id" = String, Path)),
    request_body = schema::UserBody,
    responses((status = 201, body = schema::UserOut), (status = 200, body = schema::UserOut),
              (status = 401, body = error::ErrorBody), (status = 404, body = error::ErrorBody),
              (status = 422, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_user(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    body: RawBody,
) -> ApiResult<Response> {
    put_member(&state, &ws, &id, "user_id", &body, |c, m, _| {
        let name = c.text(m, "", "name", true, 200);
        let email = c.email(m, "", "email", true);
        let role = c.choice(m, "", "role", true, &["admin", "member"]);
        Some(Member::User {
            name: name?,
            email: email?,
            role: role?,
        })
    })
    .await
}

/// `PUT /workspaces/{ws}/identities/{identity_id}`.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/identities/{identity_id}", tag = "workspaces",
    params(("workspace_id" = String, Path), ("identity_id" = String, Path)),
    request_body = schema::IdentityBody,
    responses((status = 201, body = schema::IdentityOut), (status = 200, body = schema::IdentityOut),
              (status = 401, body = error::ErrorBody), (status = 404, body = error::ErrorBody),
              (status = 422, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_identity(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    body: RawBody,
) -> ApiResult<Response> {
    put_member(&state, &ws, &id, "identity_id", &body, |c, m, known| {
        let name = c.text(m, "", "name", true, 200);
        let channel = c.choice(m, "", "channel", true, &["linkedin", "email"]);
        let user_id = c.id(m, "", "user_id", true).and_then(|u| {
            if known.users.contains(&u) {
                Some(u)
            } else {
                c.fail("user_id", "no such user in this workspace");
                None
            }
        });
        Some(Member::Identity {
            name: name?,
            channel: channel?,
            user_id: user_id?,
        })
    })
    .await
}

/// `PUT /workspaces/{ws}/campaigns/{campaign_id}`.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/campaigns/{campaign_id}", tag = "workspaces",
    params(("workspace_id" = String, Path), ("campaign_id" = String, Path)),
    request_body = schema::CampaignBody,
    responses((status = 201, body = schema::CampaignOut), (status = 200, body = schema::CampaignOut),
              (status = 401, body = error::ErrorBody), (status = 404, body = error::ErrorBody),
              (status = 422, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_campaign(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    body: RawBody,
) -> ApiResult<Response> {
    put_member(&state, &ws, &id, "campaign_id", &body, |c, m, _| {
        let name = c.text(m, "", "name", true, 200);
        let status = c.choice(m, "", "status", true, &["active", "paused", "archived"]);
        Some(Member::Campaign {
            name: name?,
            status: status?,
        })
    })
    .await
}

/// `POST /workspaces/{ws}/credit-grants`: add-on or rollover credits for the current cycle.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/credit-grants", tag = "credits",
    params(("workspace_id" = String, Path)),
    request_body = schema::GrantBody,
    responses((status = 201, description = "Granted", body = schema::GrantOut),
              (status = 200, description = "The same grant again: the first body", body = schema::GrantOut),
              (status = 401, body = error::ErrorBody), (status = 404, body = error::ErrorBody),
              (status = 409, description = "Same id, other body", body = error::ErrorBody),
              (status = 422, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_grant(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    body: RawBody,
) -> ApiResult<Response> {
    workspace_or_404(&state, &ws).await?;
    let value = body.json()?;
    let mut c = Checker::default();
    let grant = c.object(&value, "").and_then(|m| {
        let id = c.id(m, "", "id", true);
        let kind = c.choice(m, "", "kind", true, &["add_on", "rollover"]);
        let credits = c.integer(m, "", "credits", true, 1);
        let note = c.text(m, "", "note", false, 1000);
        let price = if m.get("price").is_some_and(|p| !p.is_null()) {
            c.price(m, "", "price", false)
        } else {
            None
        };
        Some(GrantInput {
            id: id?,
            kind: kind?,
            credits: credits?,
            note,
            price,
            request: canonical(&value),
        })
    });
    let grant = checked(c, grant)?;
    let (created, body) = state.store.create_grant(&ws, &grant, state.now()).await?;
    Ok((status_of(created), Json(body)).into_response())
}

/// Reads one credits event or charge: action, credits, user and optional
/// campaign and identity, all known in the workspace.
fn read_spend(
    c: &mut Checker,
    m: &Map<String, Value>,
    prefix: &str,
    known: &KnownIds,
) -> Option<(Action, i64, String)> {
    let path = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    let action = match m.get("action") {
        None | Some(Value::Null) => {
            c.fail(path("action"), "is required");
            None
        }
        Some(v) => match v.as_str().and_then(Action::parse) {
            Some(a) => Some(a),
            None => {
                c.fail(
                    path("action"),
                    format!("must be one of: {}", Action::valid_keys()),
                );
                None
            }
        },
    };
    let credits = c.integer(m, prefix, "credits", true, 1);
    let user = c.id(m, prefix, "user_id", true).and_then(|u| {
        if known.users.contains(&u) {
            Some(u)
        } else {
            c.fail(path("user_id"), "no such user in this workspace");
            None
        }
    });
    Some((action?, credits?, user?))
}

fn known_campaign(
    c: &mut Checker,
    m: &Map<String, Value>,
    prefix: &str,
    required: bool,
    known: &KnownIds,
) -> Option<Option<String>> {
    let present = m.get("campaign_id").is_some_and(|v| !v.is_null());
    if !present && !required {
        return Some(None);
    }
    let id = c.id(m, prefix, "campaign_id", required)?;
    if known.campaigns.contains(&id) {
        Some(Some(id))
    } else {
        c.fail(
            format!(
                "{prefix}{}campaign_id",
                if prefix.is_empty() { "" } else { "." }
            ),
            "no such campaign in this workspace",
        );
        None
    }
}

fn known_identity(
    c: &mut Checker,
    m: &Map<String, Value>,
    prefix: &str,
    required: bool,
    known: &KnownIds,
) -> Option<Option<String>> {
    let present = m.get("identity_id").is_some_and(|v| !v.is_null());
    if !present && !required {
        return Some(None);
    }
    let id = c.id(m, prefix, "identity_id", required)?;
    if known.identities.contains_key(&id) {
        Some(Some(id))
    } else {
        c.fail(
            format!(
                "{prefix}{}identity_id",
                if prefix.is_empty() { "" } else { "." }
            ),
            "no such identity in this workspace",
        );
        None
    }
}

fn read_event(
    c: &mut Checker,
    v: &Value,
    prefix: &str,
    known: &KnownIds,
    now: DateTime<Utc>,
) -> Option<NewEvent> {
    let m = c.object(v, prefix)?;
    let id = c.id(m, prefix, "id", true);
    let kind = c.choice(m, prefix, "type", true, &["credits", "conversation"]);
    let occurred_at =
        c.text(m, prefix, "occurred_at", true, 64).and_then(
            |s| match DateTime::parse_from_rfc3339(&s) {
                Ok(t)
                    if t.with_timezone(&Utc)
                        > now + Duration::minutes(FUTURE_TOLERANCE_MINUTES) =>
                {
                    c.fail(
                        format!("{prefix}.occurred_at"),
                        "must not be more than 5 minutes in the future",
                    );
                    None
                }
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    c.fail(
                        format!("{prefix}.occurred_at"),
                        "must be an RFC 3339 timestamp with an offset",
                    );
                    None
                }
            },
        );
    let event = match kind.as_deref() {
        Some("credits") => {
            let spend = read_spend(c, m, prefix, known);
            let campaign = known_campaign(c, m, prefix, false, known);
            let identity = known_identity(c, m, prefix, false, known);
            let (action, credits, user) = spend?;
            Some(NewEvent {
                id: id?,
                occurred_at: occurred_at?,
                credits: Some((action, credits)),
                user_id: user,
                campaign_id: campaign?,
                identity_id: identity?,
                request: canonical(v),
            })
        }
        Some(_) => {
            let campaign = known_campaign(c, m, prefix, true, known);
            let identity = known_identity(c, m, prefix, true, known)?;
            let user = identity
                .as_ref()
                .and_then(|i| known.identities.get(i))
                .cloned();
            if let (Some(given), Some(user)) = (m.get("user_id").and_then(Value::as_str), &user) {
                if given != user {
                    c.fail(
                        format!("{prefix}.user_id"),
                        "must be the identity's user (or be left out)",
                    );
                    return None;
                }
            }
            Some(NewEvent {
                id: id?,
                occurred_at: occurred_at?,
                credits: None,
                user_id: user?,
                campaign_id: campaign?,
                identity_id: identity,
                request: canonical(v),
            })
        }
        None => None,
    };
    event
}

/// `POST /workspaces/{ws}/usage-events`: a batch, all or nothing.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/usage-events", tag = "usage",
    params(("workspace_id" = String, Path)),
    request_body = schema::EventsBody,
    responses((status = 200, body = schema::BatchOut),
              (status = 401, body = error::ErrorBody), (status = 404, body = error::ErrorBody),
              (status = 409, description = "An id already stored with other content; nothing written", body = error::ErrorBody),
              (status = 413, body = error::ErrorBody),
              (status = 422, description = "Every bad event listed by path; nothing written", body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_events(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    body: RawBody,
) -> ApiResult<Json<Value>> {
    workspace_or_404(&state, &ws).await?;
    let value = body.json()?;
    let mut c = Checker::default();
    let list = c.object(&value, "").and_then(|m| match m.get("events") {
        Some(Value::Array(a)) if a.is_empty() => {
            c.fail("events", "must hold at least one event");
            None
        }
        Some(Value::Array(a)) if a.len() > MAX_BATCH => {
            c.fail("events", format!("must hold at most {MAX_BATCH} events"));
            None
        }
        Some(Value::Array(a)) => Some(a),
        _ => {
            c.fail("events", "must be an array of events");
            None
        }
    });
    let Some(list) = list else {
        return Err(ApiError::Validation(c.errors));
    };
    let known = state.store.known_ids(&ws).await?;
    let now = state.now();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut events = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let prefix = format!("events[{i}]");
        if let Some(id) = v.get("id").and_then(Value::as_str) {
            if let Some(first) = seen.insert(id.to_string(), i) {
                c.fail(
                    format!("{prefix}.id"),
                    format!("repeats events[{first}].id"),
                );
            }
        }
        if let Some(e) = read_event(&mut c, v, &prefix, &known, now) {
            events.push(e);
        }
    }
    c.finish().map_err(ApiError::Validation)?;
    let outcome = state.store.record_events(&ws, &events, now).await?;
    Ok(Json(
        json!({"inserted": outcome.inserted, "duplicates": outcome.duplicates}),
    ))
}

/// `POST /workspaces/{ws}/charges`: atomic check-and-spend.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/charges", tag = "credits",
    params(("workspace_id" = String, Path)),
    request_body = schema::ChargeBody,
    responses((status = 201, description = "Spent", body = schema::ChargeOut),
              (status = 200, description = "The same charge again: the first body", body = schema::ChargeOut),
              (status = 401, body = error::ErrorBody), (status = 402, description = "Not enough credits; `credits_left` beside `error`", body = error::ErrorBody),
              (status = 404, body = error::ErrorBody), (status = 409, body = error::ErrorBody),
              (status = 422, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_charge(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    body: RawBody,
) -> ApiResult<Response> {
    workspace_or_404(&state, &ws).await?;
    let value = body.json()?;
    let known = state.store.known_ids(&ws).await?;
    let now = state.now();
    let mut c = Checker::default();
    let event = c.object(&value, "").and_then(|m| {
        let id = c.id(m, "", "id", true);
        let spend = read_spend(&mut c, m, "", &known);
        let campaign = known_campaign(&mut c, m, "", false, &known);
        let identity = known_identity(&mut c, m, "", false, &known);
        let (action, credits, user) = spend?;
        Some(NewEvent {
            id: id?,
            occurred_at: now,
            credits: Some((action, credits)),
            user_id: user,
            campaign_id: campaign?,
            identity_id: identity?,
            request: canonical(&value),
        })
    });
    let event = checked(c, event)?;
    match state.store.charge(&ws, &event, now).await? {
        ChargeOutcome::Created(body) => Ok((StatusCode::CREATED, Json(body)).into_response()),
        ChargeOutcome::Replayed(body) => Ok((StatusCode::OK, Json(body)).into_response()),
        ChargeOutcome::Insufficient { credits_left } => {
            Err(ApiError::InsufficientCredits { credits_left })
        }
    }
}

/// `GET /workspaces/{ws}/summary`.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/summary", tag = "reports",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = schema::SummaryOut), (status = 401, body = error::ErrorBody),
              (status = 404, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_summary(
    State(state): State<AppState>,
    Path(ws): Path<String>,
) -> ApiResult<Json<Value>> {
    let ws = workspace_or_404(&state, &ws).await?;
    let summary = state.store.summary(&ws.id, state.now()).await?;
    serde_json::to_value(summary)
        .map(Json)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Reads and checks a report query: parameters, then that filters name
/// objects of the workspace.
pub async fn read_query(
    state: &AppState,
    ws: &Workspace,
    metric: Metric,
    params: &[(String, String)],
) -> ApiResult<UsageQuery> {
    let query = parse_usage_query(metric, params, API_FILTERS).map_err(|errors| {
        ApiError::Validation(
            errors
                .into_iter()
                .map(|e| FieldError::new(e.param, e.message))
                .collect(),
        )
    })?;
    let known = state.store.known_ids(&ws.id).await?;
    let f = &query.filters;
    let mut errors = Vec::new();
    if f.user_id.as_ref().is_some_and(|u| !known.users.contains(u)) {
        errors.push(FieldError::new("user_id", "no such user in this workspace"));
    }
    if f.campaign_id
        .as_ref()
        .is_some_and(|u| !known.campaigns.contains(u))
    {
        errors.push(FieldError::new(
            "campaign_id",
            "no such campaign in this workspace",
        ));
    }
    if f.identity_id
        .as_ref()
        .is_some_and(|u| !known.identities.contains_key(u))
    {
        errors.push(FieldError::new(
            "identity_id",
            "no such identity in this workspace",
        ));
    }
    if errors.is_empty() {
        Ok(query)
    } else {
        Err(ApiError::Validation(errors))
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

async fn report(state: AppState, ws: String, metric: Metric, q: Params) -> ApiResult<Json<Value>> {
    let ws = workspace_or_404(&state, &ws).await?;
    let params = params_of(q)?;
    let query = read_query(&state, &ws, metric, &params).await?;
    let report = state.store.report(&ws, metric, &query, state.now()).await?;
    Ok(Json(report.to_api_json()))
}

/// `GET /workspaces/{ws}/credit-usage`.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/credit-usage", tag = "reports",
    params(("workspace_id" = String, Path), schema::ReportParams),
    responses((status = 200, body = schema::CreditUsageOut), (status = 401, body = error::ErrorBody),
              (status = 404, body = error::ErrorBody), (status = 422, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_credit_usage(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Json<Value>> {
    report(state, ws, Metric::Credits, q).await
}

/// `GET /workspaces/{ws}/conversations`.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/conversations", tag = "reports",
    params(("workspace_id" = String, Path), schema::ReportParams),
    responses((status = 200, body = schema::ConversationsOut), (status = 401, body = error::ErrorBody),
              (status = 404, body = error::ErrorBody), (status = 422, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_conversations(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Json<Value>> {
    report(state, ws, Metric::Conversations, q).await
}

/// `GET /workspaces/{ws}/support-requests`: requests to the account
/// manager, newest first, `limit` (1-100, default 20) at a time; pass
/// `next_cursor` back as `cursor` for the next page.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/support-requests", tag = "support",
    params(("workspace_id" = String, Path), schema::SupportRequestParams),
    responses((status = 200, body = schema::SupportRequestsOut), (status = 401, body = error::ErrorBody),
              (status = 404, body = error::ErrorBody), (status = 422, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_support_requests(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Json<Value>> {
    let ws = workspace_or_404(&state, &ws).await?;
    let (limit, cursor) = paging(q)?;
    let page = state
        .store
        .support_requests(&ws.id, limit + 1, cursor)
        .await?;
    let more = page.len() as i64 > limit;
    let items: Vec<_> = page.into_iter().take(limit as usize).collect();
    let next_cursor = if more {
        items
            .last()
            .map(|(r, d)| format!("{}_{}", d.created_ms, r.id))
    } else {
        None
    };
    let requests: Vec<Value> = items
        .iter()
        .map(|(r, d)| {
            json!({
                "id": r.id, "workspace_id": r.workspace_id, "user_id": r.user_id, "intent": r.intent,
                "message": r.message, "created_at": r.created_at,
                "delivery": {
                    "status": if d.delivered_at.is_some() { "delivered" } else { "pending" },
                    "attempts": d.attempts,
                    "delivered_at": d.delivered_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    "last_error": d.last_error,
                },
            })
        })
        .collect();
    Ok(Json(
        json!({"requests": requests, "next_cursor": next_cursor}),
    ))
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
