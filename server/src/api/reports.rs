//! The summary and the usage reports (credit usage, conversations).

use super::*;

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
