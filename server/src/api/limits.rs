//! Limits (API.md, "Limits (v1.2)"): per-user and per-campaign limits,
//! the limits overview, requests for more and their decisions, and the
//! audit log.

use app::domain::limits::{Limit, Scope, MAX_LIMIT_CREDITS};

use super::common::*;
use crate::store::{
    Actor, AuditEntry, LimitRequest, LimitsOverview, NewLimitRequest, RequestStatus, ScopeLimit,
    Verdict,
};

/// A limit as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LimitOut {
    pub credits: i64,
    /// `hard` or `soft`.
    pub mode: String,
}

impl From<Limit> for LimitOut {
    fn from(l: Limit) -> Self {
        Self {
            credits: l.credits,
            mode: l.mode.as_str().to_string(),
        }
    }
}

/// The workspace's figures this cycle, for charges.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceLimitOut {
    pub granted: i64,
    pub overage: i64,
    pub used: i64,
    /// `max(0, granted + overage - used)`.
    pub left: i64,
}

/// A user a limit applies to, with what they used this cycle.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserLimitOut {
    pub user_id: String,
    pub credits: i64,
    /// `hard` or `soft`.
    pub mode: String,
    /// `user` (their own limit) or `default` (the workspace's `user_default`).
    pub source: String,
    /// Credits approved requests made in this cycle add.
    pub approved_extra: i64,
    /// `credits + approved_extra`.
    pub effective: i64,
    pub used: i64,
    /// `max(0, effective - used)`.
    pub left: i64,
}

/// A campaign with a limit, with what it used this cycle.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CampaignLimitOut {
    pub campaign_id: String,
    pub credits: i64,
    /// `hard` or `soft`.
    pub mode: String,
    pub used: i64,
    /// `max(0, credits - used)`.
    pub left: i64,
}

/// `GET …/limits`: the cycle, the workspace, and every user and campaign a
/// limit applies to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LimitsOut {
    pub cycle: CycleDates,
    pub workspace: WorkspaceLimitOut,
    pub user_default: Option<LimitOut>,
    /// Ordered by `user_id`.
    pub users: Vec<UserLimitOut>,
    /// Ordered by `campaign_id`.
    pub campaigns: Vec<CampaignLimitOut>,
}

impl From<&LimitsOverview> for LimitsOut {
    fn from(o: &LimitsOverview) -> Self {
        let user = |r: &ScopeLimit| UserLimitOut {
            user_id: r.id.clone(),
            credits: r.limit.credits,
            mode: r.limit.mode.as_str().to_string(),
            source: r.source.as_str().to_string(),
            approved_extra: r.approved_extra,
            effective: r.effective,
            used: r.used,
            left: r.left,
        };
        let campaign = |r: &ScopeLimit| CampaignLimitOut {
            campaign_id: r.id.clone(),
            credits: r.limit.credits,
            mode: r.limit.mode.as_str().to_string(),
            used: r.used,
            left: r.left,
        };
        Self {
            cycle: CycleDates {
                start: o.cycle.start,
                end: o.cycle.end,
            },
            workspace: WorkspaceLimitOut {
                granted: o.granted,
                overage: o.overage,
                used: o.used,
                left: o.left(),
            },
            user_default: o.user_default.map(LimitOut::from),
            users: o.users.iter().map(user).collect(),
            campaigns: o.campaigns.iter().map(campaign).collect(),
        }
    }
}

/// `GET /workspaces/{ws}/limits`.
#[utoipa::path(get, path = "/workspaces/{workspace_id}/limits", tag = "limits",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = LimitsOut), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_limits(
    State(state): State<AppState>,
    Path(ws): Path<String>,
) -> ApiResult<Json<LimitsOut>> {
    let ws = workspace_or_404(&state, &ws).await?;
    let overview = state.store.limits_overview(&ws, state.now()).await?;
    Ok(Json(LimitsOut::from(&overview)))
}

async fn put_limit(
    state: &AppState,
    ws: &str,
    scope: Scope,
    id: &str,
    body: &RawBody,
) -> ApiResult<(StatusCode, Json<LimitOut>)> {
    workspace_or_404(state, ws).await?;
    if !is_valid_id(id) {
        return Err(ApiError::NotFound);
    }
    let value = body.json()?;
    let mut c = Checker::default();
    let limit = c.limit(&value, "");
    let limit = checked(c, limit)?;
    let created = state
        .store
        .set_limit(ws, scope, id, Some(limit), &Actor::Platform, state.now())
        .await?;
    Ok((status_of(created), Json(LimitOut::from(limit))))
}

async fn delete_limit(state: &AppState, ws: &str, scope: Scope, id: &str) -> ApiResult<StatusCode> {
    workspace_or_404(state, ws).await?;
    if !is_valid_id(id) {
        return Err(ApiError::NotFound);
    }
    state
        .store
        .set_limit(ws, scope, id, None, &Actor::Platform, state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /workspaces/{ws}/limits/users/{user_id}`: `201` created, `200` updated.
#[utoipa::path(put, path = "/workspaces/{workspace_id}/limits/users/{user_id}", tag = "limits",
    params(("workspace_id" = String, Path), ("user_id" = String, Path)),
    request_body = schema::LimitBody,
    responses((status = 201, body = LimitOut), (status = 200, body = LimitOut),
              (status = 401, body = ErrorBody), (status = 404, description = "No such workspace or user", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_user_limit(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<LimitOut>)> {
    put_limit(&state, &ws, Scope::User, &id, &body).await
}

/// `DELETE /workspaces/{ws}/limits/users/{user_id}`: the user falls back to `user_default`.
#[utoipa::path(delete, path = "/workspaces/{workspace_id}/limits/users/{user_id}", tag = "limits",
    params(("workspace_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 401, body = ErrorBody),
              (status = 404, description = "No such workspace, user or limit", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_user_limit(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    delete_limit(&state, &ws, Scope::User, &id).await
}

/// `PUT /workspaces/{ws}/limits/campaigns/{campaign_id}`: `201` created, `200` updated.
#[utoipa::path(put, path = "/workspaces/{workspace_id}/limits/campaigns/{campaign_id}", tag = "limits",
    params(("workspace_id" = String, Path), ("campaign_id" = String, Path)),
    request_body = schema::LimitBody,
    responses((status = 201, body = LimitOut), (status = 200, body = LimitOut),
              (status = 401, body = ErrorBody), (status = 404, description = "No such workspace or campaign", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_campaign_limit(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<LimitOut>)> {
    put_limit(&state, &ws, Scope::Campaign, &id, &body).await
}

/// `DELETE /workspaces/{ws}/limits/campaigns/{campaign_id}`: the campaign has no limit.
#[utoipa::path(delete, path = "/workspaces/{workspace_id}/limits/campaigns/{campaign_id}", tag = "limits",
    params(("workspace_id" = String, Path), ("campaign_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 401, body = ErrorBody),
              (status = 404, description = "No such workspace, campaign or limit", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_campaign_limit(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    delete_limit(&state, &ws, Scope::Campaign, &id).await
}

/// Who made a change or a decision.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActorOut {
    /// `platform` or `user`.
    pub kind: String,
    /// With `kind` `user`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

impl From<&Actor> for ActorOut {
    fn from(a: &Actor) -> Self {
        match a {
            Actor::Platform => Self {
                kind: "platform".into(),
                user_id: None,
            },
            Actor::User(id) => Self {
                kind: "user".into(),
                user_id: Some(id.clone()),
            },
        }
    }
}

/// A decision on a request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DecisionOut {
    pub by: ActorOut,
    /// The credits approved; null for a denial.
    pub credits: Option<i64>,
    pub note: String,
    pub at: String,
}

/// A request for more, as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LimitRequestOut {
    pub id: String,
    pub user_id: String,
    pub credits: i64,
    pub reason: String,
    /// The cycle it was made in: an approval adds to that cycle only.
    pub cycle: CycleDates,
    /// `pending`, `approved`, `denied` or `expired` (its cycle ended undecided).
    pub status: String,
    pub created_at: String,
    pub decision: Option<DecisionOut>,
}

fn instant(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl From<&LimitRequest> for LimitRequestOut {
    fn from(r: &LimitRequest) -> Self {
        Self {
            id: r.id.clone(),
            user_id: r.user_id.clone(),
            credits: r.credits,
            reason: r.reason.clone(),
            cycle: CycleDates {
                start: r.cycle.start,
                end: r.cycle.end,
            },
            status: r.status.as_str().to_string(),
            created_at: instant(&r.created_at),
            decision: r.decision.as_ref().map(|d| DecisionOut {
                by: ActorOut::from(&d.by),
                credits: d.credits,
                note: d.note.clone(),
                at: instant(&d.at),
            }),
        }
    }
}

/// A page of requests, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LimitRequestsOut {
    pub limit_requests: Vec<LimitRequestOut>,
    pub next_cursor: Option<String>,
}

/// Most characters of a request's reason or a decision's note.
const MAX_TEXT: usize = 1_000;

/// An optional free text of at most [`MAX_TEXT`] characters (may be empty).
fn free_text(c: &mut Checker, m: &Map<String, Value>, key: &'static str) -> Option<String> {
    match m.get(key) {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) if s.chars().count() <= MAX_TEXT => Some(s.clone()),
        Some(Value::String(_)) => {
            c.fail(key, format!("must be at most {MAX_TEXT} characters"));
            None
        }
        Some(_) => {
            c.fail(key, "must be a string");
            None
        }
    }
}

/// `POST /workspaces/{ws}/limit-requests`: `201` created; the same `id`
/// and body again: `200` and the request as stored now.
#[utoipa::path(post, path = "/workspaces/{workspace_id}/limit-requests", tag = "limits",
    params(("workspace_id" = String, Path)),
    request_body = schema::LimitRequestBody,
    responses((status = 201, body = LimitRequestOut), (status = 200, description = "The same request again", body = LimitRequestOut),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "The id with another body, or the user has a pending request", body = ErrorBody),
              (status = 422, description = "Bad fields, an unknown user, or one no limit applies to", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_limit_request(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<LimitRequestOut>)> {
    workspace_or_404(&state, &ws).await?;
    let value = body.json()?;
    let mut c = Checker::default();
    let new = c.object(&value, "").and_then(|m| {
        let id = c.id(Field::required(m, "id"));
        let user = c.id(Field::required(m, "user_id"));
        let credits = c.bounded(Field::required(m, "credits"), 1, MAX_LIMIT_CREDITS);
        let reason = free_text(&mut c, m, "reason");
        for k in m.keys() {
            if !["id", "user_id", "credits", "reason"].contains(&k.as_str()) {
                c.fail(k.clone(), "is not a field of a limit request");
            }
        }
        Some(NewLimitRequest {
            id: Some(id?),
            user_id: user?,
            credits: credits?,
            reason: reason?,
            request: canonical(&value),
        })
    });
    let new = checked(c, new)?;
    let (created, stored) = state
        .store
        .create_limit_request(&ws, &new, state.now())
        .await?;
    Ok((status_of(created), Json(LimitRequestOut::from(&stored))))
}

/// `GET /workspaces/{ws}/limit-requests`: newest first, `limit` (1-100,
/// default 20) at a time, of one `status` or all.
#[utoipa::path(get, path = "/workspaces/{workspace_id}/limit-requests", tag = "limits",
    params(("workspace_id" = String, Path), schema::LimitRequestParams),
    responses((status = 200, body = LimitRequestsOut), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_limit_requests(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Json<LimitRequestsOut>> {
    let ws = workspace_or_404(&state, &ws).await?;
    let params = params_of(q)?;
    let status = match params.get("status") {
        None => None,
        Some(s) => Some(RequestStatus::parse(s).ok_or_else(|| {
            ApiError::invalid("status", "must be pending, approved, denied or expired")
        })?),
    };
    let (limit, cursor) = id_paging(&params)?;
    let page = state
        .store
        .limit_requests(&ws, status, None, limit + 1, cursor, state.now())
        .await?
        .ok_or_else(unknown_cursor)?;
    let (items, next_cursor) = page_by_id(page, limit, |r| r.id.clone());
    Ok(Json(LimitRequestsOut {
        limit_requests: items.iter().map(LimitRequestOut::from).collect(),
        next_cursor,
    }))
}

/// `POST /workspaces/{ws}/limit-requests/{id}/decision`: `409` when the
/// request is decided or expired already.
#[utoipa::path(post, path = "/workspaces/{workspace_id}/limit-requests/{request_id}/decision", tag = "limits",
    params(("workspace_id" = String, Path), ("request_id" = String, Path)),
    request_body = schema::DecisionBody,
    responses((status = 200, body = LimitRequestOut), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "Decided or expired already", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_decision(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    body: RawBody,
) -> ApiResult<Json<LimitRequestOut>> {
    workspace_or_404(&state, &ws).await?;
    if !is_valid_id(&id) {
        return Err(ApiError::NotFound);
    }
    let (verdict, note) = read_decision(&body.json()?)?;
    let stored = state
        .store
        .decide_limit_request(&ws, &id, &verdict, &note, &Actor::Platform, state.now())
        .await?;
    Ok(Json(LimitRequestOut::from(&stored)))
}

/// A decision's body: the verdict and the note.
pub fn read_decision(value: &Value) -> ApiResult<(Verdict, String)> {
    let mut c = Checker::default();
    let read = c.object(value, "").and_then(|m| {
        let decision = c.choice(Field::required(m, "decision"), &["approve", "deny"]);
        let credits = match m.get("credits") {
            None | Some(Value::Null) => Some(None),
            Some(_) => c
                .bounded(Field::required(m, "credits"), 1, MAX_LIMIT_CREDITS)
                .map(Some),
        };
        let note = free_text(&mut c, m, "note");
        for k in m.keys() {
            if !["decision", "credits", "note"].contains(&k.as_str()) {
                c.fail(k.clone(), "is not a field of a decision");
            }
        }
        let verdict = match (decision?.as_str(), credits?) {
            ("approve", credits) => Verdict::Approve(credits),
            (_, None) => Verdict::Deny,
            (_, Some(_)) => {
                c.fail("credits", "only an approval carries credits");
                return None;
            }
        };
        Some((verdict, note?))
    });
    checked(c, read)
}

/// An audit entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryOut {
    pub id: String,
    pub at: String,
    pub actor: ActorOut,
    /// `plan.changed`, `alerts.changed`, `limits.changed`, `limit.set`,
    /// `limit.removed` or `limit_request.decided`.
    pub action: String,
    pub target: AuditTargetOut,
    /// The changed object before the change; null when it did not exist.
    pub before: Option<Value>,
    /// The changed object after the change; null when it was removed.
    pub after: Option<Value>,
}

/// What an audit entry changed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditTargetOut {
    /// `workspace`, `user`, `campaign` or `limit_request`.
    pub scope: String,
    pub id: String,
}

impl From<&AuditEntry> for AuditEntryOut {
    fn from(e: &AuditEntry) -> Self {
        Self {
            id: e.id.clone(),
            at: instant(&e.at),
            actor: ActorOut::from(&e.actor),
            action: e.action.clone(),
            target: AuditTargetOut {
                scope: e.target_scope.clone(),
                id: e.target_id.clone(),
            },
            before: e.before.clone(),
            after: e.after.clone(),
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditLogOut {
    pub entries: Vec<AuditEntryOut>,
    pub next_cursor: Option<String>,
}

/// `GET /workspaces/{ws}/audit-log`: newest first, `limit` (1-100,
/// default 20) at a time.
#[utoipa::path(get, path = "/workspaces/{workspace_id}/audit-log", tag = "limits",
    params(("workspace_id" = String, Path), schema::PageParams),
    responses((status = 200, body = AuditLogOut), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_audit_log(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Json<AuditLogOut>> {
    let ws = workspace_or_404(&state, &ws).await?;
    let params = params_of(q)?;
    let (limit, cursor) = id_paging(&params)?;
    let page = state
        .store
        .audit_log(&ws.id, limit + 1, cursor)
        .await?
        .ok_or_else(unknown_cursor)?;
    let (items, next_cursor) = page_by_id(page, limit, |e| e.id.clone());
    Ok(Json(AuditLogOut {
        entries: items.iter().map(AuditEntryOut::from).collect(),
        next_cursor,
    }))
}

/// `limit` (1-100, default 20) and `cursor` (the id of the last item of
/// the previous page) of a list paged by id.
fn id_paging(params: &app::query::Query) -> ApiResult<(i64, Option<&str>)> {
    let limit = match params.get("limit").map(str::parse::<i64>) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::invalid(
                "limit",
                "must be an integer from 1 to 100",
            ))
        }
    };
    let cursor = params.get("cursor");
    if cursor.is_some_and(|c| !is_valid_id(c)) {
        return Err(unknown_cursor());
    }
    Ok((limit, cursor))
}

fn unknown_cursor() -> ApiError {
    ApiError::invalid("cursor", "is not a cursor this API gave")
}

/// A page read with one item past `limit`, and the next page's cursor.
fn page_by_id<T>(
    mut rows: Vec<T>,
    limit: i64,
    id: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next = if more { rows.last().map(id) } else { None };
    (rows, next)
}
