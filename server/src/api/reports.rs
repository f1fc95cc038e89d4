//! The summary and the usage reports (credit usage, conversations).

use super::common::*;
use app::model::{Dimension, PeriodInfo, Report, Summary};

/// `GET /workspaces/{ws}/summary`.
#[utoipa::path(get, path = "/workspaces/{workspace_id}/summary", tag = "reports",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = Summary), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_summary(
    State(state): State<AppState>,
    Path(ws): Path<String>,
) -> ApiResult<Json<Summary>> {
    let ws = workspace_or_404(&state, &ws).await?;
    Ok(Json(state.store.summary(&ws.id, state.now()).await?))
}

/// Reads and checks a report query: parameters, then that filters name
/// objects of the workspace.
pub async fn read_query(
    state: &AppState,
    ws: &Workspace,
    metric: Metric,
    params: &app::query::Query,
) -> ApiResult<UsageQuery> {
    let query = parse_usage_query(metric, params.pairs(), API_FILTERS).map_err(|errors| {
        ApiError::Validation(
            errors
                .into_iter()
                .map(|e| FieldError::new(e.param, e.message))
                .collect(),
        )
    })?;
    let known = state.store.names(&ws.id).await?;
    let f = &query.filters;
    let mut errors = Vec::new();
    if f.user_id.as_ref().is_some_and(|u| !known.has_user(u)) {
        errors.push(FieldError::new("user_id", "no such user in this workspace"));
    }
    if f.campaign_id
        .as_ref()
        .is_some_and(|u| !known.has_campaign(u))
    {
        errors.push(FieldError::new(
            "campaign_id",
            "no such campaign in this workspace",
        ));
    }
    if f.identity_id
        .as_ref()
        .is_some_and(|u| !known.has_identity(u))
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

async fn report(state: AppState, ws: String, metric: Metric, q: Params) -> ApiResult<Report> {
    let ws = workspace_or_404(&state, &ws).await?;
    let params = params_of(q)?;
    let query = read_query(&state, &ws, metric, &params).await?;
    Ok(state.store.report(&ws, metric, &query, state.now()).await?)
}

/// A field of a report row: left out when its dimension is not grouped
/// (`None`), `null` for events that name no such object (`Some(None)`).
type Key = Option<Option<String>>;

/// `GET /credit-usage`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreditUsageOut {
    pub period: PeriodInfo,
    pub total: i64,
    pub rows: Vec<CreditRow>,
}

/// A row: one field per grouped dimension (`null` for none), `label` for a
/// single non-day dimension, and `credits`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct CreditRow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub action: Key,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub category: Key,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub user_id: Key,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub campaign_id: Key,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub identity_id: Key,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub credits: i64,
}

/// `GET /conversations`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConversationsOut {
    pub period: PeriodInfo,
    pub total: i64,
    pub rows: Vec<ConversationRow>,
}

/// A conversations row: one field per grouped dimension, `label` for a
/// single non-day dimension, and `conversations`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ConversationRow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub user_id: Key,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub campaign_id: Key,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub identity_id: Key,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub conversations: i64,
}

/// The keys of a row by dimension: `(day, action, category, user, campaign, identity)`.
#[derive(Default)]
struct Keys {
    day: Option<NaiveDate>,
    action: Key,
    category: Key,
    user_id: Key,
    campaign_id: Key,
    identity_id: Key,
}

fn keys_of(group_by: &[Dimension], keys: &[Option<String>]) -> Keys {
    let mut k = Keys::default();
    for (dim, key) in group_by.iter().zip(keys) {
        let key = key.clone();
        match dim {
            Dimension::Day => k.day = key.and_then(|d| d.parse().ok()),
            Dimension::Action => k.action = Some(key),
            Dimension::Category => k.category = Some(key),
            Dimension::User => k.user_id = Some(key),
            Dimension::Campaign => k.campaign_id = Some(key),
            Dimension::Identity => k.identity_id = Some(key),
        }
    }
    k
}

/// A report's rows as answer rows: `row` makes one from its keys, label
/// and value.
fn rows_of<R>(r: &mut Report, row: impl Fn(Keys, Option<String>, i64) -> R) -> Vec<R> {
    std::mem::take(&mut r.rows)
        .into_iter()
        .map(|x| row(keys_of(&r.group_by, &x.keys), x.label, x.value))
        .collect()
}

impl From<Report> for CreditUsageOut {
    fn from(mut r: Report) -> Self {
        let rows = rows_of(&mut r, |k, label, credits| CreditRow {
            day: k.day,
            action: k.action,
            category: k.category,
            user_id: k.user_id,
            campaign_id: k.campaign_id,
            identity_id: k.identity_id,
            label,
            credits,
        });
        Self {
            period: r.period,
            total: r.total,
            rows,
        }
    }
}

impl From<Report> for ConversationsOut {
    fn from(mut r: Report) -> Self {
        let rows = rows_of(&mut r, |k, label, conversations| ConversationRow {
            day: k.day,
            user_id: k.user_id,
            campaign_id: k.campaign_id,
            identity_id: k.identity_id,
            label,
            conversations,
        });
        Self {
            period: r.period,
            total: r.total,
            rows,
        }
    }
}

/// `GET /workspaces/{ws}/credit-usage`.
#[utoipa::path(get, path = "/workspaces/{workspace_id}/credit-usage", tag = "reports",
    params(("workspace_id" = String, Path), schema::ReportParams),
    responses((status = 200, body = CreditUsageOut), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_credit_usage(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Json<CreditUsageOut>> {
    Ok(Json(report(state, ws, Metric::Credits, q).await?.into()))
}

/// `GET /workspaces/{ws}/conversations`.
#[utoipa::path(get, path = "/workspaces/{workspace_id}/conversations", tag = "reports",
    params(("workspace_id" = String, Path), schema::ReportParams),
    responses((status = 200, body = ConversationsOut), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_conversations(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Json<ConversationsOut>> {
    Ok(Json(
        report(state, ws, Metric::Conversations, q).await?.into(),
    ))
}
