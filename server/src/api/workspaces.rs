//! `PUT` of workspaces, users, identities and campaigns.

use super::common::*;
use axum::http::{header, HeaderMap, HeaderValue};

fn read_workspace(body: &Value) -> ApiResult<WorkspaceInput> {
    let mut c = Checker::default();
    let Some(m) = c.object(body, "") else {
        return checked(c, None);
    };
    let name = c.text(Field::required(m, "name"), MaxChars::NAME);
    let tz = c
        .text(Field::required(m, "timezone"), MaxChars::TIMEZONE)
        .and_then(|t| {
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
            .choice(Field::optional(m, "week_start"), &["monday", "sunday"])
            .and_then(|w| WeekStart::parse(&w)),
    };
    let plan = c.nested(Field::required(m, "plan")).and_then(|p| {
        let name = c.text(Field::required(p, "name").under("plan"), MaxChars::NAME);
        let monthly = c.integer(
            Field::required(p, "monthly_credits").under("plan"),
            AtLeast::ZERO,
        );
        let identities = c.integer(
            Field::required(p, "identities_included").under("plan"),
            AtLeast::ZERO,
        );
        let price = c.price(Field::required(p, "price").under("plan"));
        Some(Plan {
            name: name?,
            monthly_credits: monthly?,
            identities_included: identities?,
            price: price?,
        })
    });
    let account_manager = match m.get("account_manager") {
        None | Some(Value::Null) => Some(None),
        Some(_) => c
            .nested(Field::optional(m, "account_manager"))
            .and_then(|am| {
                let name = c.text(
                    Field::required(am, "name").under("account_manager"),
                    MaxChars::NAME,
                );
                let email = c.email(Field::required(am, "email").under("account_manager"));
                Some(Some(AccountManager {
                    name: name?,
                    email: email?,
                }))
            }),
    };
    let alerts = c.alerts(Field::optional(m, "alerts"));
    let limits = c.limits(Field::optional(m, "limits"));
    let input = (|| {
        Some(WorkspaceInput {
            name: name?,
            tz: tz?,
            week_start: week_start?,
            plan: plan?,
            account_manager: account_manager?,
            alerts,
            limits,
        })
    })();
    checked(c, input)
}

/// `GET /workspaces/{workspace_id}`: the workspace as stored.
#[utoipa::path(get, path = "/workspaces/{workspace_id}", tag = "workspaces",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = WorkspaceOut), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_workspace(
    State(state): State<AppState>,
    Path(ws): Path<String>,
) -> ApiResult<Json<WorkspaceOut>> {
    let ws = workspace_or_404(&state, &ws).await?;
    Ok(Json(WorkspaceOut::from(&ws)))
}

/// `PUT /workspaces/{workspace_id}`: create or update.
#[utoipa::path(put, path = "/workspaces/{workspace_id}", tag = "workspaces",
    params(("workspace_id" = String, Path, description = "1-64 of [A-Za-z0-9_.:-]")),
    request_body = schema::WorkspaceBody,
    responses((status = 201, description = "Created", body = WorkspaceOut),
              (status = 200, description = "Updated. After a change of `timezone`, a `Warning` header names the last day whose raw events were dropped past the retention horizon: those days keep the old zone's totals", body = WorkspaceOut),
              (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_workspace(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    body: RawBody,
) -> ApiResult<(StatusCode, HeaderMap, Json<WorkspaceOut>)> {
    if !is_valid_id(&ws) {
        return Err(ApiError::invalid(
            "workspace_id",
            "must be 1-64 characters of A-Z a-z 0-9 _ . : -",
        ));
    }
    let input = read_workspace(&body.json()?)?;
    let before = state.store.workspace(&ws).await?.map(|w| w.tz);
    let (created, stored) = state.store.put_workspace(&ws, &input, state.now()).await?;
    // A new zone moves every event still kept; the sums of those dropped
    // past the retention horizon stay on the old zone's days: said here.
    let mut headers = HeaderMap::new();
    if before.is_some_and(|tz| tz != stored.tz) {
        if let Some(day) = state.store.dropped_through(&ws).await? {
            tracing::warn!(workspace = %ws, through = %day, "a zone change left the days of dropped events on the old zone");
            let warning = format!(
                "299 credits \"the days through {day} keep the old time zone: their raw events are past the retention horizon\""
            );
            if let Ok(v) = HeaderValue::from_str(&warning) {
                headers.insert(header::WARNING, v);
            }
        }
    }
    Ok((
        status_of(created),
        headers,
        Json(WorkspaceOut::from(&stored)),
    ))
}

async fn put_member(
    state: &AppState,
    ws: &str,
    id: &str,
    id_field: &str,
    body: &RawBody,
    read: impl FnOnce(&mut Checker, &Map<String, Value>, &Names) -> Option<Member>,
) -> ApiResult<(StatusCode, Json<MemberOut>)> {
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
            let known = state.store.names(ws).await?;
            read(&mut c, m, &known)
        }
        None => None,
    };
    let member = checked(c, member)?;
    let created = state.store.put_member(ws, id, &member).await?;
    Ok((status_of(created), Json(MemberOut::of(id, member))))
}

/// `PUT /workspaces/{ws}/users/{user_id}`.
#[utoipa::path(put, path = "/workspaces/{workspace_id}/users/{user_id}", tag = "workspaces",
    params(("workspace_id" = String, Path), ("user_id" = String, Path)),
    request_body = schema::UserBody,
    responses((status = 201, body = UserOut), (status = 200, body = UserOut),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_user(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<MemberOut>)> {
    put_member(&state, &ws, &id, "user_id", &body, |c, m, _| {
        let name = c.text(Field::required(m, "name"), MaxChars::NAME);
        let email = c.email(Field::required(m, "email"));
        let role = c
            .choice(Field::required(m, "role"), &Role::KEYS)
            .and_then(|r| Role::parse(&r));
        Some(Member::User {
            name: name?,
            email: email?,
            role: role?,
        })
    })
    .await
}

/// `DELETE /workspaces/{ws}/users/{user_id}`: the user is removed (an
/// extension of v1.2, docs/api-notes.md): their sessions end at once and
/// hand-offs for them are refused, while their history stays in every
/// report under their name; a later `PUT` brings them back. Removing a
/// removed user again is a `204` too.
#[utoipa::path(delete, path = "/workspaces/{workspace_id}/users/{user_id}", tag = "workspaces",
    params(("workspace_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "Removed; their sessions ended"),
              (status = 401, body = ErrorBody),
              (status = 404, description = "No such workspace or user", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_user(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if !is_valid_id(&ws) || !is_valid_id(&id) {
        return Err(ApiError::NotFound);
    }
    match state.store.remove_user(&ws, &id, state.now()).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::NotFound),
    }
}

/// `DELETE /workspaces/{ws}/users/{user_id}/sessions`: signs the user out
/// everywhere (an extension of v1.2): every dashboard session of theirs,
/// standalone or embedded, on every process, ends at once; a new
/// hand-off signs them in again.
#[utoipa::path(delete, path = "/workspaces/{workspace_id}/users/{user_id}/sessions", tag = "workspaces",
    params(("workspace_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "Their sessions ended"),
              (status = 401, body = ErrorBody),
              (status = 404, description = "No such workspace or user", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_user_sessions(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if !is_valid_id(&ws) || !is_valid_id(&id) {
        return Err(ApiError::NotFound);
    }
    match state.store.end_user_sessions(&ws, &id).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::NotFound),
    }
}

/// `PUT /workspaces/{ws}/identities/{identity_id}`.
#[utoipa::path(put, path = "/workspaces/{workspace_id}/identities/{identity_id}", tag = "workspaces",
    params(("workspace_id" = String, Path), ("identity_id" = String, Path)),
    request_body = schema::IdentityBody,
    responses((status = 201, body = IdentityOut), (status = 200, body = IdentityOut),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_identity(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<MemberOut>)> {
    put_member(&state, &ws, &id, "identity_id", &body, |c, m, known| {
        let name = c.text(Field::required(m, "name"), MaxChars::NAME);
        let channel = c.choice(Field::required(m, "channel"), &["linkedin", "email"]);
        let user_id = c.id(Field::required(m, "user_id")).and_then(|u| {
            if known.has_user(&u) {
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
#[utoipa::path(put, path = "/workspaces/{workspace_id}/campaigns/{campaign_id}", tag = "workspaces",
    params(("workspace_id" = String, Path), ("campaign_id" = String, Path)),
    request_body = schema::CampaignBody,
    responses((status = 201, body = CampaignOut), (status = 200, body = CampaignOut),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_campaign(
    State(state): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<MemberOut>)> {
    put_member(&state, &ws, &id, "campaign_id", &body, |c, m, _| {
        let name = c.text(Field::required(m, "name"), MaxChars::NAME);
        let status = c.choice(
            Field::required(m, "status"),
            &["active", "paused", "archived"],
        );
        Some(Member::Campaign {
            name: name?,
            status: status?,
        })
    })
    .await
}

/// The workspace as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceOut {
    pub id: String,
    pub name: String,
    #[schema(example = "Europe/Madrid")]
    pub timezone: String,
    /// `monday` or `sunday`.
    pub week_start: String,
    pub plan: Plan,
    pub account_manager: Option<AccountManager>,
    pub alerts: AlertSettingsOut,
    pub limits: LimitSettingsOut,
}

/// Limit settings as stored (v1.2).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LimitSettingsOut {
    /// The limit of every user without one of their own; null for none.
    pub user_default: Option<super::limits::LimitOut>,
    /// Credits charges may take past the cycle's granted credits.
    pub overage: i64,
}

/// Alert settings as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertSettingsOut {
    /// Percentages of the cycle's granted credits used, ascending.
    pub thresholds: Vec<u8>,
    pub runout_forecast: bool,
}

impl From<&Workspace> for WorkspaceOut {
    fn from(ws: &Workspace) -> Self {
        Self {
            id: ws.id.clone(),
            name: ws.name.clone(),
            timezone: ws.tz.name().to_string(),
            week_start: ws.week_start.as_str().to_string(),
            plan: ws.plan.clone(),
            account_manager: ws.account_manager.clone(),
            alerts: AlertSettingsOut {
                thresholds: ws.alerts.thresholds.clone(),
                runout_forecast: ws.alerts.runout_forecast,
            },
            limits: LimitSettingsOut {
                user_default: ws.limits.user_default.map(Into::into),
                overage: ws.limits.overage,
            },
        }
    }
}

/// A user as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `admin` or `member`.
    pub role: String,
}

/// An identity as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IdentityOut {
    pub id: String,
    pub name: String,
    /// `linkedin` or `email`.
    pub channel: String,
    pub user_id: String,
}

/// A campaign as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CampaignOut {
    pub id: String,
    pub name: String,
    /// `active`, `paused` or `archived`.
    pub status: String,
}

/// A member as stored: each route documents its own kind.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum MemberOut {
    User(UserOut),
    Identity(IdentityOut),
    Campaign(CampaignOut),
}

impl MemberOut {
    fn of(id: &str, member: Member) -> Self {
        let id = id.to_string();
        match member {
            Member::User { name, email, role } => Self::User(UserOut {
                id,
                name,
                email,
                role: role.key().to_string(),
            }),
            Member::Identity {
                name,
                channel,
                user_id,
            } => Self::Identity(IdentityOut {
                id,
                name,
                channel,
                user_id,
            }),
            Member::Campaign { name, status } => Self::Campaign(CampaignOut { id, name, status }),
        }
    }
}
